//! A throwaway certificate authority for mTLS tests, made in-process with rcgen.
//!
//! Each [`TestPki::generate`] makes a new CA, so two of them stand for "our CA" and
//! "someone else's CA" in tests that a foreign certificate is refused.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// PEM files of a test CA (`ca.pem`), a server certificate for localhost and 127.0.0.1
/// (`server.pem`, `server.key`) and a client one named `checkout` (`client.pem`,
/// `client.key`).
pub struct TestPki {
    /// The folder holding the files; removed on drop.
    pub dir: PathBuf,
}

impl TestPki {
    /// Makes a CA and signs a server and a client certificate with it.
    pub fn generate() -> Self {
        let dir = std::env::temp_dir().join(format!("mandi-pki-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create pki folder");
        let write = |file: &str, pem: String| {
            std::fs::write(dir.join(file), pem).unwrap_or_else(|e| panic!("write {file}: {e}"));
        };

        let ca_key = KeyPair::generate().expect("generate CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mandi test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("self-sign the CA");
        write("ca.pem", ca.pem());

        // The server also calls identity (itself) with its certificate, so it is a client too.
        let leaves: [(&str, &[&str], &[ExtendedKeyUsagePurpose]); 2] = [
            (
                "server",
                &["localhost", "127.0.0.1"],
                &[
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ],
            ),
            (
                "client",
                &["checkout"],
                &[ExtendedKeyUsagePurpose::ClientAuth],
            ),
        ];
        for (name, sans, usages) in leaves {
            let key = KeyPair::generate().expect("generate leaf key");
            // Strings that parse as IP addresses become IP SANs, the rest DNS names.
            let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
            let mut params = CertificateParams::new(sans).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = usages.to_vec();
            let cert = params.signed_by(&key, &ca).expect("sign leaf certificate");
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Self { dir }
    }

    /// Path of a file in the PKI folder (`ca.pem`, `server.pem`, `server.key`, ...).
    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// Contents of a file in the PKI folder.
    pub fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(Path::new(&self.dir).join(file)).expect("read pki file")
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
