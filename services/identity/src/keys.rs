//! Ed25519 signing keys: making them, signing access tokens with the newest one, and
//! publishing every key that may still verify a live token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mandi_runtime::auth::Claims;
use rand::RngCore;

use crate::domain::{IdentityError, SigningKeyRecord};

/// A public key as published in the JWKS (RFC 7517, RFC 8037), serialized as-is for the
/// JSON document and mapped field by field to the proto `Jwk`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublicKey {
    /// Key id.
    pub kid: String,
    /// Key type: always "OKP".
    pub kty: &'static str,
    /// Curve: always "Ed25519".
    pub crv: &'static str,
    /// Base64url Ed25519 public key.
    pub x: String,
    /// Algorithm: always "EdDSA".
    pub alg: &'static str,
    /// Use: always "sig".
    #[serde(rename = "use")]
    pub use_: &'static str,
}

/// The key that signs now, and the keys that still verify.
pub struct KeyRing {
    signing_kid: String,
    signing: EncodingKey,
    published: Vec<PublicKey>,
}

impl KeyRing {
    /// Builds the ring from stored keys (newest first). Keys retired longer ago than
    /// `verify_window` (the longest token lifetime) are no longer published. `None` when no
    /// key is active.
    pub fn from_records(
        records: &[SigningKeyRecord],
        now: DateTime<Utc>,
        verify_window: chrono::Duration,
    ) -> Result<Option<Self>, IdentityError> {
        let Some(active) = records.iter().find(|k| k.retired_at.is_none()) else {
            return Ok(None);
        };
        let signing_key = ed25519_dalek::SigningKey::from_bytes(&active.seed);
        let der = signing_key
            .to_pkcs8_der()
            .map_err(|e| IdentityError::Crypto(format!("cannot encode signing key: {e}")))?;
        let published = records
            .iter()
            .filter(|k| k.retired_at.is_none_or(|at| at + verify_window > now))
            .map(|k| PublicKey {
                kid: k.kid.clone(),
                kty: "OKP",
                crv: "Ed25519",
                x: URL_SAFE_NO_PAD.encode(
                    ed25519_dalek::SigningKey::from_bytes(&k.seed)
                        .verifying_key()
                        .as_bytes(),
                ),
                alg: "EdDSA",
                use_: "sig",
            })
            .collect();
        Ok(Some(Self {
            signing_kid: active.kid.clone(),
            signing: EncodingKey::from_ed_der(der.as_bytes()),
            published,
        }))
    }

    /// The id of the key that signs now.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// Every key that may still verify a live token, newest first.
    pub fn published(&self) -> &[PublicKey] {
        &self.published
    }

    /// Signs `claims` as an EdDSA JWT with the `kid` header.
    pub fn sign(&self, claims: &Claims) -> Result<String, IdentityError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &self.signing)
            .map_err(|e| IdentityError::Crypto(format!("cannot sign token: {e}")))
    }
}

/// A fresh random key, created `now`.
pub fn generate(now: DateTime<Utc>) -> SigningKeyRecord {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    SigningKeyRecord {
        kid: uuid::Uuid::now_v7().simple().to_string(),
        seed,
        created_at: now,
        retired_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retired_keys_are_published_until_their_tokens_expire() {
        let now = Utc::now();
        let window = chrono::Duration::minutes(15);
        let mut old = generate(now - chrono::Duration::hours(1));
        old.retired_at = Some(now - chrono::Duration::minutes(5));
        let mut ancient = generate(now - chrono::Duration::hours(2));
        ancient.retired_at = Some(now - chrono::Duration::hours(1));
        let new = generate(now);
        let ring = KeyRing::from_records(&[new.clone(), old.clone(), ancient], now, window)
            .unwrap()
            .unwrap();
        assert_eq!(ring.signing_kid(), new.kid);
        let kids: Vec<_> = ring.published().iter().map(|k| k.kid.clone()).collect();
        assert_eq!(kids, [new.kid, old.kid]);
    }

    #[test]
    fn no_active_key_means_no_ring() {
        let mut retired = generate(Utc::now());
        retired.retired_at = Some(Utc::now());
        assert!(
            KeyRing::from_records(&[retired], Utc::now(), chrono::Duration::minutes(1))
                .unwrap()
                .is_none()
        );
    }
}
