//! A throwaway certificate authority for mTLS tests, made with the `openssl` command.

use std::path::{Path, PathBuf};
use std::process::Command;

/// PEM files of a test CA, a server certificate (localhost, 127.0.0.1) and a client one.
pub struct TestPki {
    /// The folder holding the files; removed on drop.
    pub dir: PathBuf,
}

impl TestPki {
    /// Makes a CA and signs a server and a client certificate with it.
    pub fn generate() -> Self {
        let dir = std::env::temp_dir().join(format!("mandi-pki-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).expect("create pki folder");
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap_or_else(|e| panic!("openssl is needed for mTLS tests: {e}"));
            assert!(
                output.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca.key",
        ]);
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-sha256",
            "-days",
            "2",
            "-subj",
            "/CN=mandi test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        ]);
        for (name, san, usage) in [
            (
                "server",
                "DNS:localhost,IP:127.0.0.1",
                "serverAuth,clientAuth",
            ),
            ("client", "DNS:checkout", "clientAuth"),
        ] {
            openssl(&[
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                &format!("{name}.key"),
            ]);
            openssl(&[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                &format!("/CN={name}"),
                "-out",
                &format!("{name}.csr"),
            ]);
            std::fs::write(
                dir.join(format!("{name}.ext")),
                format!(
                    "subjectAltName={san}\nextendedKeyUsage={usage}\nbasicConstraints=CA:FALSE\n"
                ),
            )
            .expect("write extensions");
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-sha256",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
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
