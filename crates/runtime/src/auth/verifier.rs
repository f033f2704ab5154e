//! Verifies access tokens with the public keys identity publishes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mandi_sdk::proto::mandi::identity::v1::{
    GetJwksRequest, Jwk, identity_service_client::IdentityServiceClient,
};

use super::{AUDIENCE, Claims, ISSUER};

/// Fetches the current JSON Web Key Set.
pub type KeySource = Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<Jwk>, String>> + Send + Sync>;

/// Refetching keys is bounded to once per this interval, so tokens naming made-up key ids
/// cannot turn into a flood of JWKS calls.
const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// Clock skew tolerated on `exp` and `iat` between services.
const LEEWAY_SECONDS: u64 = 5;

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The token is not a JWT with a `kid` header.
    #[error("access token is malformed: {0}")]
    Malformed(String),
    /// No published key has the token's `kid`.
    #[error("access token is signed with an unknown key {0:?}")]
    UnknownKey(String),
    /// The signature, expiry, issuer or audience is wrong.
    #[error("access token is not valid: {0}")]
    Invalid(#[source] jsonwebtoken::errors::Error),
    /// The key set could not be fetched from identity.
    #[error("signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

/// Verifies EdDSA access tokens, caching identity's public keys by `kid`.
pub struct TokenVerifier {
    keys: RwLock<HashMap<String, DecodingKey>>,
    source: KeySource,
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    validation: Validation,
}

impl TokenVerifier {
    /// A verifier that fetches keys from `source` whenever a token names an unknown key.
    pub fn new(source: KeySource) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = LEEWAY_SECONDS;
        Self {
            keys: RwLock::new(HashMap::new()),
            source,
            last_refresh: tokio::sync::Mutex::new(None),
            validation,
        }
    }

    /// A verifier that fetches keys from identity's `GetJwks` over gRPC.
    pub fn from_identity(endpoint: tonic::transport::Endpoint) -> Self {
        let channel = endpoint.connect_lazy();
        Self::new(Arc::new(move || {
            let mut client = IdentityServiceClient::new(channel.clone());
            Box::pin(async move {
                client
                    .get_jwks(GetJwksRequest {})
                    .await
                    .map(|response| response.into_inner().keys)
                    .map_err(|status| format!("GetJwks failed: {}", status.message()))
            })
        }))
    }

    /// Checks the signature and claims of `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| VerifyError::Malformed("no kid header".into()))?;
        let key = match self.key(&kid) {
            Some(key) => key,
            None => {
                self.refresh(&kid).await?;
                self.key(&kid).ok_or(VerifyError::UnknownKey(kid))?
            }
        };
        jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(VerifyError::Invalid)
    }

    fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(kid)
            .cloned()
    }

    /// Refetches the key set unless another caller already brought `kid` in.
    async fn refresh(&self, kid: &str) -> Result<(), VerifyError> {
        let mut last = self.last_refresh.lock().await;
        if self.key(kid).is_some() {
            return Ok(());
        }
        if let Some(at) = *last {
            tokio::time::sleep(MIN_REFRESH_INTERVAL.saturating_sub(at.elapsed())).await;
        }
        let jwks = (self.source)()
            .await
            .map_err(VerifyError::KeysUnavailable)?;
        *last = Some(Instant::now());
        let keys = jwks
            .iter()
            .filter(|jwk| jwk.kty == "OKP" && jwk.crv == "Ed25519")
            .filter_map(|jwk| {
                DecodingKey::from_ed_components(&jwk.x)
                    .ok()
                    .map(|key| (jwk.kid.clone(), key))
            })
            .collect();
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = keys;
        Ok(())
    }
}
