//! TLS material, read once while configuration is loaded so a bad path stops the server
//! with the variable named (exit 64) before any port is bound.

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use crate::config::{ConfigError, Env};

/// The server's certificate and key, the CA its clients must chain to (mTLS), and the CA
/// and name it expects from servers it calls.
pub struct TlsMaterial {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
    peer_ca: Option<Vec<u8>>,
    server_name: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("mtls", &self.client_ca.is_some())
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Reads `MANDI_TLS__CERT_FILE`, `__KEY_FILE`, `__CLIENT_CA_FILE` (clients must present
    /// a certificate it signed), `__CA_FILE` (trusted for outgoing calls; defaults to the
    /// client CA) and `__SERVER_NAME` (expected in peers' certificates, default localhost).
    /// `None` when no certificate is configured.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(cert) = read(env, "MANDI_TLS__CERT_FILE")? else {
            return Ok(None);
        };
        let key = read(env, "MANDI_TLS__KEY_FILE")?.ok_or_else(|| ConfigError::Missing {
            var: "MANDI_TLS__KEY_FILE".into(),
            hint: "the PEM private key of MANDI_TLS__CERT_FILE".into(),
        })?;
        let client_ca = read(env, "MANDI_TLS__CLIENT_CA_FILE")?;
        let peer_ca = read(env, "MANDI_TLS__CA_FILE")?.or_else(|| client_ca.clone());
        Ok(Some(Self {
            cert,
            key,
            client_ca,
            peer_ca,
            server_name: env.get_or("MANDI_TLS__SERVER_NAME", "localhost".to_owned())?,
        }))
    }

    /// The listener's TLS; with a client CA, clients without a certificate it signed are
    /// refused during the handshake.
    pub fn server_config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new().identity(Identity::from_pem(&self.cert, &self.key));
        match &self.client_ca {
            Some(ca) => config.client_ca_root(Certificate::from_pem(ca)),
            None => config,
        }
    }

    /// TLS for calls this process makes to other mandi servers (identity, for keys): its
    /// own certificate as client identity, the peer CA as the only trusted root.
    pub fn client_config(&self) -> Result<ClientTlsConfig, ConfigError> {
        let ca = self.peer_ca.as_ref().ok_or_else(|| ConfigError::Missing {
            var: "MANDI_TLS__CA_FILE".into(),
            hint: "the CA that signs mandi servers' certificates, to call identity over TLS".into(),
        })?;
        Ok(ClientTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .ca_certificate(Certificate::from_pem(ca))
            .domain_name(self.server_name.clone()))
    }
}

fn read(env: &Env, var: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    env.raw(var)
        .map(|path| {
            std::fs::read(path).map_err(|e| ConfigError::Invalid {
                var: var.to_owned(),
                value: path.to_owned(),
                reason: format!("cannot read the file: {e}"),
            })
        })
        .transpose()
}
