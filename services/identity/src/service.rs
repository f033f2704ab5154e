//! Identity's use cases: register, sign in, rotate and revoke refresh tokens, roles,
//! signing keys and service identities. Storage comes in through the ports.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use mandi_runtime::auth::{AUDIENCE, Claims, ISSUER, roles};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::domain::{Email, IdentityError, RefreshRecord, Registration, Role, Rotation, User};
use crate::keys::{self, KeyRing, PublicKey};
use crate::passwords::PasswordHasherPool;
use crate::store::{AttemptCounter, IdentityStore, StoreError};

/// Lifetimes, limits and the service clients of identity.
#[derive(Clone)]
pub struct IdentitySettings {
    /// Lifetime of user access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Lifetime of service access tokens.
    pub service_token_ttl: Duration,
    /// Failed sign-ins per account before it is throttled.
    pub max_failures_per_account: u32,
    /// Failed sign-ins per source address before it is throttled.
    pub max_failures_per_source: u32,
    /// Length of the throttling window.
    pub throttle_window: Duration,
    /// Emails that get the admin role when they register (bootstrapping the first admin).
    pub admin_emails: Vec<String>,
    /// Service name → SHA-256 of its client secret.
    pub service_clients: HashMap<String, [u8; 32]>,
}

/// Tokens handed out at sign-in and refresh.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// Signed access JWT.
    pub access_token: String,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

/// The identity service's logic over a store `S` and an attempt counter `A`.
pub struct Identity<S, A> {
    store: S,
    attempts: A,
    hasher: PasswordHasherPool,
    settings: IdentitySettings,
    ring: RwLock<Option<LoadedRing>>,
}

/// Replicas reload the signing keys at least this often, so a rotation made by another
/// replica is picked up before its old key stops being published.
const RING_MAX_AGE: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct LoadedRing {
    ring: Arc<KeyRing>,
    loaded_at: std::time::Instant,
}

impl<S: IdentityStore, A: AttemptCounter> Identity<S, A> {
    /// Builds the service and makes sure a signing key exists.
    pub async fn new(
        store: S,
        attempts: A,
        hasher: PasswordHasherPool,
        settings: IdentitySettings,
    ) -> Result<Self, IdentityError> {
        let identity = Self {
            store,
            attempts,
            hasher,
            settings,
            ring: RwLock::new(None),
        };
        if identity.load_ring().await?.is_none() {
            identity.rotate_signing_key().await?;
        }
        Ok(identity)
    }

    /// Creates an account. With a `request_id`, a retried call returns the account the
    /// first call created instead of failing on the taken email.
    pub async fn register(
        &self,
        registration: Registration,
        request_id: Option<&str>,
    ) -> Result<User, IdentityError> {
        if let Some(request_id) = request_id
            && let Some(user) = self.store.user_by_request_id(request_id).await?
        {
            return Ok(user);
        }
        let now = Utc::now();
        let role = if self.is_bootstrap_admin(&registration.email).await? {
            Role::Admin
        } else {
            registration.role
        };
        let user = User {
            id: Uuid::now_v7(),
            name: registration.name,
            email: registration.email,
            role,
            created_at: now,
            updated_at: now,
        };
        let hash = self.hasher.hash(&registration.password).await?;
        match self.store.create_user(&user, &hash, request_id).await {
            Ok(()) => {}
            // Two calls with one request_id raced: the other one created the account.
            Err(StoreError::Conflict(what)) if what == "request_id" => {
                let request_id = request_id.unwrap_or_default();
                return self
                    .store
                    .user_by_request_id(request_id)
                    .await?
                    .ok_or(IdentityError::EmailTaken);
            }
            Err(StoreError::Conflict(_)) => return Err(IdentityError::EmailTaken),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(user_id = %user.id, role = user.role.as_str(), "user registered");
        Ok(user)
    }

    /// A configured admin email becomes admin only while no admin exists: the setting
    /// bootstraps the first admin and cannot mint more later (emails are not verified).
    async fn is_bootstrap_admin(&self, email: &Email) -> Result<bool, IdentityError> {
        let listed = self
            .settings
            .admin_emails
            .iter()
            .any(|admin| admin.eq_ignore_ascii_case(email.as_str()));
        Ok(listed && !self.store.admin_exists().await?)
    }

    /// Signs a user in. `source` is the caller's address, when known, for throttling.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<(TokenPair, User), IdentityError> {
        // An unparseable email is a wrong credential, not a validation error: telling them
        // apart would reveal nothing useful and costs the same check either way.
        let email = Email::parse(email).ok();
        let account_key = email.as_ref().map(|e| format!("account:{}", e.as_str()));
        let source_key = source.map(|s| format!("source:{s}"));
        let limits = [
            (
                account_key.as_deref(),
                self.settings.max_failures_per_account,
            ),
            (source_key.as_deref(), self.settings.max_failures_per_source),
        ];
        self.count_attempt(&limits).await?;

        let found = match &email {
            Some(email) => self.store.user_by_email(email).await?,
            None => None,
        };
        let hash = found.as_ref().map(|(_, hash)| hash.as_str());
        let matches = self.hasher.verify(password, hash).await?;
        let user = match (found, matches) {
            (Some((user, _)), true) => user,
            // The attempt is already counted as a failure.
            _ => return Err(IdentityError::BadCredentials),
        };
        if let Some(key) = &source_key {
            self.attempts.forgive(key).await?;
        }
        if let Some(key) = &account_key {
            self.attempts.reset(key).await?;
        }
        let now = Utc::now();
        let refresh_token = new_refresh_token();
        self.store
            .insert_refresh(&RefreshRecord {
                token_hash: sha256_hex(&refresh_token),
                family_id: Uuid::now_v7(),
                user_id: user.id,
                issued_at: now,
                expires_at: now + self.settings.refresh_ttl,
            })
            .await?;
        let pair = TokenPair {
            access_token: self.user_access_token(&user, now).await?,
            refresh_token,
            expires_in: self.settings.access_ttl.as_secs() as i64,
        };
        Ok((pair, user))
    }

    /// Counts an attempt against every key before any secret is checked; refuses when a
    /// key is over its limit.
    async fn count_attempt(&self, limits: &[(Option<&str>, u32)]) -> Result<(), IdentityError> {
        let mut throttled = None;
        for (key, limit) in limits {
            let Some(key) = key else { continue };
            let window = self
                .attempts
                .record_attempt(key, self.settings.throttle_window)
                .await?;
            if window.failures > *limit {
                throttled = Some(window.resets_in.as_secs().max(1));
            }
        }
        match throttled {
            Some(retry_after_secs) => Err(IdentityError::Throttled { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Spends a refresh token for a new pair; reuse of a spent token revokes its family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, IdentityError> {
        if refresh_token.is_empty() {
            return Err(IdentityError::invalid("refresh_token", "must not be empty"));
        }
        let now = Utc::now();
        let successor = new_refresh_token();
        let record = RefreshRecord {
            token_hash: sha256_hex(&successor),
            family_id: Uuid::nil(),
            user_id: Uuid::nil(),
            issued_at: now,
            expires_at: now + self.settings.refresh_ttl,
        };
        let rotation = self
            .store
            .rotate_refresh(&sha256_hex(refresh_token), record, now)
            .await?;
        let user_id = match rotation {
            Rotation::Rotated { user_id } => user_id,
            Rotation::Reused => {
                tracing::warn!("refresh token reuse detected; family revoked");
                return Err(IdentityError::RefreshTokenReused);
            }
            Rotation::Revoked | Rotation::Expired | Rotation::Unknown => {
                return Err(IdentityError::BadRefreshToken);
            }
        };
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(IdentityError::BadRefreshToken)?;
        Ok(TokenPair {
            access_token: self.user_access_token(&user, now).await?,
            refresh_token: successor,
            expires_in: self.settings.access_ttl.as_secs() as i64,
        })
    }

    /// Revokes the refresh token's family. Unknown tokens are ignored (idempotent).
    pub async fn logout(&self, refresh_token: &str) -> Result<(), IdentityError> {
        if refresh_token.is_empty() {
            return Err(IdentityError::invalid("refresh_token", "must not be empty"));
        }
        Ok(self
            .store
            .revoke_family(&sha256_hex(refresh_token), Utc::now())
            .await?)
    }

    /// The user with `id`.
    pub async fn user(&self, id: &str) -> Result<User, IdentityError> {
        let uuid = parse_user_id(id)?;
        self.store
            .user_by_id(uuid)
            .await?
            .ok_or_else(|| IdentityError::UserNotFound(id.to_owned()))
    }

    /// Gives a user another role.
    pub async fn set_role(&self, id: &str, role: Role) -> Result<User, IdentityError> {
        let uuid = parse_user_id(id)?;
        let user = self
            .store
            .set_role(uuid, role, Utc::now())
            .await?
            .ok_or_else(|| IdentityError::UserNotFound(id.to_owned()))?;
        tracing::info!(user_id = %user.id, role = role.as_str(), "role changed");
        Ok(user)
    }

    /// Issues a service access token when the client secret matches.
    pub async fn issue_service_token(
        &self,
        service: &str,
        secret: &str,
        source: Option<&str>,
    ) -> Result<(String, i64), IdentityError> {
        // Secrets are guessable online like passwords: the same throttling applies.
        let client_key = format!("client:{service}");
        let source_key = source.map(|s| format!("source:{s}"));
        self.count_attempt(&[
            (Some(&client_key), self.settings.max_failures_per_account),
            (source_key.as_deref(), self.settings.max_failures_per_source),
        ])
        .await?;
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let known = self
            .settings
            .service_clients
            .get(service)
            .is_some_and(|expected| bool::from(expected.ct_eq(&presented)));
        if !known {
            return Err(IdentityError::BadServiceCredentials);
        }
        self.attempts.reset(&client_key).await?;
        if let Some(key) = &source_key {
            self.attempts.forgive(key).await?;
        }
        let now = Utc::now();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: format!("service:{service}"),
            iat: timestamp(now),
            exp: timestamp(now + self.settings.service_token_ttl),
            roles: vec![roles::SERVICE.into()],
            svc: Some(service.to_owned()),
        };
        let token = self.ring().await?.sign(&claims)?;
        Ok((token, self.settings.service_token_ttl.as_secs() as i64))
    }

    /// The keys that verify live tokens, read fresh from the store so every replica
    /// publishes a rotation made by any of them.
    pub async fn jwks(&self) -> Result<Vec<PublicKey>, IdentityError> {
        Ok(self
            .load_ring()
            .await?
            .map(|ring| ring.published().to_vec())
            .unwrap_or_default())
    }

    /// Starts signing with a new key; returns its id.
    pub async fn rotate_signing_key(&self) -> Result<String, IdentityError> {
        let key = keys::generate(Utc::now());
        self.store.rotate_signing_key(&key).await?;
        self.load_ring().await?;
        tracing::info!(kid = %key.kid, "signing key rotated");
        Ok(key.kid)
    }

    async fn user_access_token(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user.id.to_string(),
            iat: timestamp(now),
            exp: timestamp(now + self.settings.access_ttl),
            roles: vec![user.role.as_str().into()],
            svc: None,
        };
        self.ring().await?.sign(&claims)
    }

    /// Deletes expired refresh tokens; run periodically.
    pub async fn purge_expired_refresh_tokens(&self) -> Result<u64, IdentityError> {
        Ok(self.store.purge_expired_refresh(Utc::now()).await?)
    }

    /// The signing keys, reloaded from the store when the cached copy is old.
    async fn ring(&self) -> Result<Arc<KeyRing>, IdentityError> {
        let cached = self.ring.read().unwrap_or_else(|p| p.into_inner()).clone();
        match cached {
            Some(loaded) if loaded.loaded_at.elapsed() < RING_MAX_AGE => Ok(loaded.ring),
            _ => self
                .load_ring()
                .await?
                .ok_or_else(|| IdentityError::Crypto("no active signing key".into())),
        }
    }

    async fn load_ring(&self) -> Result<Option<Arc<KeyRing>>, IdentityError> {
        let records = self.store.signing_keys().await?;
        let window = self
            .settings
            .access_ttl
            .max(self.settings.service_token_ttl);
        let ring = KeyRing::from_records(&records, Utc::now(), window_of(window))?.map(Arc::new);
        if let Some(ring) = &ring {
            *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Some(LoadedRing {
                ring: ring.clone(),
                loaded_at: std::time::Instant::now(),
            });
        }
        Ok(ring)
    }
}

fn window_of(ttl: Duration) -> chrono::Duration {
    // A retired key stays published for one token lifetime plus a minute of clock skew.
    // TTLs are bounded at configuration, so the conversion cannot fail in practice.
    chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1))
        + chrono::Duration::minutes(1)
}

fn parse_user_id(id: &str) -> Result<Uuid, IdentityError> {
    Uuid::parse_str(id).map_err(|_| IdentityError::invalid("user_id", "must be a UUID"))
}

fn timestamp(at: DateTime<Utc>) -> u64 {
    at.timestamp().max(0).unsigned_abs()
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Hex SHA-256; refresh tokens and service secrets are only kept as this.
pub fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
