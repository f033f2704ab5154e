//! mandi-identity: users, credentials, access and refresh tokens, signing keys and service
//! identities. `module` builds the service for the server binary from configuration.
#![forbid(unsafe_code)]

pub mod domain;
pub mod grpc;
pub mod keys;
pub mod passwords;
pub mod service;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use mandi_kafka::EventsConfig;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::identity::v1::identity_service_server::IdentityServiceServer;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::grpc::IdentityGrpc;
use crate::passwords::PasswordHasherPool;
use crate::service::{Identity, IdentitySettings};
use crate::store::memory::{MemoryAttempts, MemoryStore};
use crate::store::postgres::PgStore;
use crate::store::redis::RedisAttempts;
use crate::store::{AttemptCounter, IdentityStore};

/// Where identity keeps its data. URLs may hold passwords: they stay secret (no Debug).
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// PostgreSQL for users and tokens, Redis for login throttling.
    Real {
        /// `MANDI_IDENTITY__DATABASE_URL`.
        database_url: SecretString,
        /// `MANDI_IDENTITY__REDIS_URL`.
        redis_url: SecretString,
        /// `MANDI_IDENTITY__REDIS_PREFIX`: namespace of identity's keys.
        redis_prefix: String,
    },
}

/// Everything identity reads from configuration.
#[derive(Clone)]
pub struct IdentityConfig {
    /// Storage backends.
    pub backends: Backends,
    /// Lifetimes, limits and service clients.
    pub settings: IdentitySettings,
    /// `MANDI_IDENTITY__ARGON2_MEMORY_KIB` (default 19456) and `__ARGON2_ITERATIONS` (2).
    pub argon2: (u32, u32),
    /// `MANDI_IDENTITY__TRUST_FORWARDED_FOR`: key throttling on x-forwarded-for.
    pub trust_forwarded_for: bool,
    /// Where UserRegistered goes: Kafka with `MANDI_KAFKA__BROKERS`, else in process.
    pub events: EventsConfig,
}

impl IdentityConfig {
    /// Reads identity's settings; `embedded` selects the in-memory backends.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                database_url: env
                    .require::<String>(
                        "MANDI_IDENTITY__DATABASE_URL",
                        "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/identity",
                    )?
                    .into(),
                redis_url: env
                    .get_or(
                        "MANDI_IDENTITY__REDIS_URL",
                        "redis://127.0.0.1:6379".to_owned(),
                    )?
                    .into(),
                redis_prefix: env
                    .get_or("MANDI_IDENTITY__REDIS_PREFIX", "mandi:identity:".to_owned())?,
            }
        };
        let settings = IdentitySettings {
            access_ttl: ttl(env, "MANDI_IDENTITY__ACCESS_TTL", 900, 86_400)?,
            refresh_ttl: ttl(
                env,
                "MANDI_IDENTITY__REFRESH_TTL",
                30 * 86_400,
                365 * 86_400,
            )?,
            service_token_ttl: ttl(env, "MANDI_IDENTITY__SERVICE_TOKEN_TTL", 300, 86_400)?,
            max_failures_per_account: env.get_or("MANDI_IDENTITY__MAX_FAILURES_PER_ACCOUNT", 5)?,
            max_failures_per_source: env.get_or("MANDI_IDENTITY__MAX_FAILURES_PER_SOURCE", 50)?,
            throttle_window: env
                .duration_or("MANDI_IDENTITY__THROTTLE_WINDOW", Duration::from_secs(900))?,
            admin_emails: env.list("MANDI_IDENTITY__ADMIN_EMAILS"),
            service_clients: service_clients(env)?,
        };
        Ok(Self {
            backends,
            settings,
            argon2: (
                env.get_or("MANDI_IDENTITY__ARGON2_MEMORY_KIB", 19_456)?,
                env.get_or("MANDI_IDENTITY__ARGON2_ITERATIONS", 2)?,
            ),
            trust_forwarded_for: env.get_or("MANDI_IDENTITY__TRUST_FORWARDED_FOR", false)?,
            events: EventsConfig::from_env(env)?,
        })
    }
}

/// A token lifetime between one second and `max_secs`.
fn ttl(env: &Env, var: &str, default_secs: u64, max_secs: u64) -> Result<Duration, ConfigError> {
    let value = env.duration_or(var, Duration::from_secs(default_secs))?;
    if value < Duration::from_secs(1) || value > Duration::from_secs(max_secs) {
        return Err(ConfigError::Invalid {
            var: var.to_owned(),
            value: env.raw(var).unwrap_or_default().to_owned(),
            reason: format!("must be between 1s and {max_secs}s"),
        });
    }
    Ok(value)
}

/// `MANDI_IDENTITY__SERVICE_CLIENTS=checkout=<secret>,order=<secret>`: only hashes are kept.
fn service_clients(env: &Env) -> Result<HashMap<String, [u8; 32]>, ConfigError> {
    env.list("MANDI_IDENTITY__SERVICE_CLIENTS")
        .into_iter()
        .map(|entry| match entry.split_once('=') {
            Some((name, secret)) if !name.is_empty() && secret.len() >= 16 => {
                Ok((name.to_owned(), Sha256::digest(secret.as_bytes()).into()))
            }
            _ => Err(ConfigError::Invalid {
                var: "MANDI_IDENTITY__SERVICE_CLIENTS".into(),
                value: "(secrets hidden)".into(),
                reason: format!(
                    "entry for {:?} must be name=secret with a secret of at least 16 characters",
                    entry.split('=').next().unwrap_or_default()
                ),
            }),
        })
        .collect()
}

/// Builds identity with its configured backends.
pub async fn module(config: IdentityConfig) -> anyhow::Result<Module> {
    let hasher = PasswordHasherPool::new(config.argon2.0, config.argon2.1)?;
    match &config.backends {
        Backends::Memory => {
            build(
                MemoryStore::default(),
                MemoryAttempts::default(),
                hasher,
                &config,
            )
            .await
        }
        Backends::Real {
            database_url,
            redis_url,
            redis_prefix,
        } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open identity's PostgreSQL database")?;
            let attempts = RedisAttempts::connect(
                redis_url.expose_secret(),
                &format!("{redis_prefix}attempts:"),
            )
            .await
            .context("cannot connect identity to Redis")?;
            build(store, attempts, hasher, &config).await
        }
    }
}

async fn build<S: IdentityStore, A: AttemptCounter>(
    store: S,
    attempts: A,
    hasher: PasswordHasherPool,
    config: &IdentityConfig,
) -> anyhow::Result<Module> {
    let identity = Arc::new(Identity::new(store, attempts, hasher, config.settings.clone()).await?);
    spawn_refresh_token_sweeper(&identity);
    let jwks_identity = identity.clone();
    // Istio's RequestAuthentication reads the same keys as plain JSON over HTTP.
    let jwks_route = axum::Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            let identity = jwks_identity.clone();
            async move {
                identity
                    .jwks()
                    .await
                    .map(|keys| axum::Json(serde_json::json!({ "keys": keys })))
                    .map_err(|error| {
                        tracing::error!(%error, "cannot read signing keys");
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    })
            }
        }),
    );
    let service = IdentityServiceServer::new(IdentityGrpc::new(
        identity,
        config.trust_forwarded_for,
        config
            .events
            .publisher("identity")
            .context("cannot create identity's event publisher")?,
    ));
    Ok(Module::new(service, grpc::POLICIES).with_admin_routes(jwks_route))
}

/// How often expired refresh tokens are deleted.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// Deletes expired refresh tokens every hour, for as long as the service lives.
fn spawn_refresh_token_sweeper<S: IdentityStore, A: AttemptCounter>(
    identity: &Arc<Identity<S, A>>,
) {
    let identity = Arc::downgrade(identity);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            ticks.tick().await;
            let Some(identity) = identity.upgrade() else {
                return;
            };
            match identity.purge_expired_refresh_tokens().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired refresh tokens deleted"),
                Err(error) => tracing::warn!(%error, "cannot delete expired refresh tokens"),
            }
        }
    });
}
