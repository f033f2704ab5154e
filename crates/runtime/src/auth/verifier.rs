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

/// Keys older than this are refetched before use, so a key identity stopped publishing
/// (retired long ago, or withdrawn after a leak) stops verifying within this time.
const MAX_KEY_AGE: Duration = Duration::from_secs(300);

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
    keys: RwLock<KeyCache>,
    source: KeySource,
    /// Held while fetching: one fetch at a time, the others wait for its result.
    fetching: tokio::sync::Mutex<()>,
    validation: Validation,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
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
            keys: RwLock::new(KeyCache::default()),
            source,
            fetching: tokio::sync::Mutex::new(()),
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

    /// Checks the signature and claims of `token` and returns its claims, fetching keys
    /// from identity when the token names an unknown key or the cached keys are old.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_with(token, true).await
    }

    /// Like [`verify`](Self::verify), but only with keys already cached: for callers that
    /// must not make an anonymous request wait on identity (public methods).
    pub async fn verify_cached(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_with(token, false).await
    }

    async fn verify_with(&self, token: &str, may_fetch: bool) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| VerifyError::Malformed("no kid header".into()))?;
        let (key, fresh) = self.cached(&kid);
        let key = match key {
            Some(key) if fresh || !may_fetch => key,
            _ if !may_fetch => return Err(VerifyError::UnknownKey(kid)),
            _ => {
                self.refresh(Instant::now()).await?;
                self.cached(&kid).0.ok_or(VerifyError::UnknownKey(kid))?
            }
        };
        jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map(|data| data.claims)
            .map_err(VerifyError::Invalid)
    }

    /// The key for `kid`, and whether the cache is young enough to trust without a fetch.
    fn cached(&self, kid: &str) -> (Option<DecodingKey>, bool) {
        let cache = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let fresh = cache
            .fetched_at
            .is_some_and(|at| at.elapsed() < MAX_KEY_AGE);
        (cache.keys.get(kid).cloned(), fresh)
    }

    /// Fetches the key set, unless a fetch finished after `asked_at` (someone else did it
    /// for us) — so a crowd of unknown-key tokens causes one fetch, not one each.
    async fn refresh(&self, asked_at: Instant) -> Result<(), VerifyError> {
        let _fetching = self.fetching.lock().await;
        let last = self
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .fetched_at;
        if let Some(at) = last {
            if at >= asked_at {
                return Ok(());
            }
            tokio::time::sleep(MIN_REFRESH_INTERVAL.saturating_sub(at.elapsed())).await;
        }
        let jwks = (self.source)()
            .await
            .map_err(VerifyError::KeysUnavailable)?;
        let keys = jwks
            .iter()
            .filter(|jwk| jwk.kty == "OKP" && jwk.crv == "Ed25519")
            .filter_map(|jwk| {
                DecodingKey::from_ed_components(&jwk.x)
                    .ok()
                    .map(|key| (jwk.kid.clone(), key))
            })
            .collect();
        // Replaced whole: keys identity no longer publishes stop verifying.
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = KeyCache {
            keys,
            fetched_at: Some(Instant::now()),
        };
        Ok(())
    }
}
