//! mandi-notification: messages to users from the events they care about. `events` maps
//! each consumed event to a notice, `domain` holds the channels, the delivery and the
//! channel choice (with `templates`), `directory` looks users up in identity and profile
//! through the SDK, `store` keeps the delivery log (PostgreSQL, in-memory twin) with the
//! processed event ids, `notifier` records deliveries and sends them over `channels`
//! (local log/file sinks, SMTP email), `grpc` serves the contract; `module` builds it for
//! the server binary and starts the consumer and the sender.
#![forbid(unsafe_code)]

pub mod channels;
pub mod directory;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod notifier;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mandi_kafka::EventsConfig;
use mandi_kafka::consumer::ConsumerSettings;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::notification::v1::notification_service_server::NotificationServiceServer;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

use crate::channels::smtp::SmtpChannel;
use crate::channels::{Channels, LogChannel};
use crate::directory::{Endpoints, SdkDirectory};
use crate::domain::ChannelKind;
use crate::grpc::NotificationGrpc;
use crate::notifier::{Dispatcher, Notifier, Settings};
use crate::store::NotificationStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgStore;

/// The consumer group notification reads in.
pub const GROUP: &str = "notification";

/// Where deliveries are kept. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// PostgreSQL.
    Real {
        /// `MANDI_NOTIFICATION__DATABASE_URL`.
        database_url: SecretString,
    },
}

/// An SMTP relay for email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    /// `MANDI_NOTIFICATION__SMTP_HOST`.
    pub host: String,
    /// `MANDI_NOTIFICATION__SMTP_PORT` (default 25).
    pub port: u16,
    /// `MANDI_NOTIFICATION__EMAIL_FROM` (default `mandi <no-reply@mandi.local>`).
    pub from: String,
}

/// Everything notification reads from configuration.
#[derive(Clone)]
pub struct NotificationConfig {
    /// Storage backend.
    pub backends: Backends,
    /// `MANDI_NOTIFICATION__CLIENT_SECRET`: the secret identity knows notification by
    /// (`MANDI_IDENTITY__SERVICE_CLIENTS=notification=<secret>`); made up and registered
    /// by the server under `--target=all`.
    pub client_secret: Option<SecretString>,
    /// `MANDI_NOTIFICATION__IDENTITY_ENDPOINT` (else `MANDI_AUTH__IDENTITY_ENDPOINT`);
    /// the server fills in its own URL when it runs identity.
    pub identity_endpoint: Option<String>,
    /// `MANDI_NOTIFICATION__PROFILE_ENDPOINT`; filled in like identity's.
    pub profile_endpoint: Option<String>,
    /// `MANDI_NOTIFICATION__CATALOG_ENDPOINT`, for the vendor of a product; filled in like
    /// identity's.
    pub catalog_endpoint: Option<String>,
    /// Client TLS for `https://` peers; set by the server.
    pub peer_tls: Option<tonic::transport::ClientTlsConfig>,
    /// `MANDI_NOTIFICATION__PEER_TIMEOUT`: deadline of each lookup (default 3s).
    pub peer_timeout: Duration,
    /// Email over SMTP when `MANDI_NOTIFICATION__SMTP_HOST` is set; else email goes to
    /// the local sink like the other channels.
    pub smtp: Option<Smtp>,
    /// `MANDI_NOTIFICATION__OUTBOX_DIR`: the local sink also appends every message to
    /// `<dir>/<channel>.jsonl`.
    pub outbox_dir: Option<PathBuf>,
    /// Attempts, backoff and the operations address.
    pub settings: Settings,
    /// `MANDI_NOTIFICATION__DISPATCH_INTERVAL`: how often due retries are looked for
    /// (default 1s).
    pub dispatch_interval: Duration,
    /// Where events come from: Kafka with `MANDI_KAFKA__BROKERS`, else in process.
    pub events: EventsConfig,
}

impl NotificationConfig {
    /// Reads notification's settings; `embedded` selects the in-memory backend.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                database_url: env
                    .require::<String>(
                        "MANDI_NOTIFICATION__DATABASE_URL",
                        "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/notification",
                    )?
                    .into(),
            }
        };
        // Required before anything starts in real mode; under `--target=all` the server
        // makes one up (`embed_client_secret`).
        let client_secret: Option<String> = if embedded {
            env.get("MANDI_NOTIFICATION__CLIENT_SECRET")?
        } else {
            Some(env.require(
                "MANDI_NOTIFICATION__CLIENT_SECRET",
                "notification's secret, as registered with identity in \
                 MANDI_IDENTITY__SERVICE_CLIENTS=notification=<secret>",
            )?)
        };
        if client_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err(env.invalid(
                "MANDI_NOTIFICATION__CLIENT_SECRET",
                "must be at least 16 characters",
            ));
        }
        let identity_endpoint = match env.get("MANDI_NOTIFICATION__IDENTITY_ENDPOINT")? {
            Some(url) => Some(url),
            None => env.get("MANDI_AUTH__IDENTITY_ENDPOINT")?,
        };
        let smtp = match env.get::<String>("MANDI_NOTIFICATION__SMTP_HOST")? {
            Some(host) if !host.trim().is_empty() => Some(Smtp {
                host,
                port: env.get_or("MANDI_NOTIFICATION__SMTP_PORT", 25)?,
                from: env.get_or(
                    "MANDI_NOTIFICATION__EMAIL_FROM",
                    "mandi <no-reply@mandi.local>".to_owned(),
                )?,
            }),
            _ => None,
        };
        if let Some(smtp) = &smtp
            && smtp.from.parse::<lettre::message::Mailbox>().is_err()
        {
            return Err(env.invalid(
                "MANDI_NOTIFICATION__EMAIL_FROM",
                "must be a mailbox such as mandi <no-reply@mandi.local>",
            ));
        }
        let max_attempts: i32 = env.get_or("MANDI_NOTIFICATION__MAX_ATTEMPTS", 5)?;
        if !(1..=50).contains(&max_attempts) {
            return Err(env.invalid(
                "MANDI_NOTIFICATION__MAX_ATTEMPTS",
                "must be between 1 and 50",
            ));
        }
        let operations_email: Option<String> = env
            .get::<String>("MANDI_NOTIFICATION__OPS_EMAIL")?
            .filter(|e| !e.trim().is_empty());
        if operations_email.as_ref().is_some_and(|e| !e.contains('@')) {
            return Err(env.invalid("MANDI_NOTIFICATION__OPS_EMAIL", "must be an email address"));
        }
        Ok(Self {
            backends,
            client_secret: client_secret.map(SecretString::from),
            identity_endpoint,
            profile_endpoint: env.get("MANDI_NOTIFICATION__PROFILE_ENDPOINT")?,
            catalog_endpoint: env.get("MANDI_NOTIFICATION__CATALOG_ENDPOINT")?,
            peer_tls: None,
            peer_timeout: env.duration_within(
                "MANDI_NOTIFICATION__PEER_TIMEOUT",
                Duration::from_secs(3),
                Duration::from_millis(50),
                Duration::from_secs(60),
            )?,
            smtp,
            outbox_dir: env
                .get::<String>("MANDI_NOTIFICATION__OUTBOX_DIR")?
                .filter(|d| !d.trim().is_empty())
                .map(PathBuf::from),
            settings: Settings {
                max_attempts,
                backoff: env.duration_within(
                    "MANDI_NOTIFICATION__RETRY_BACKOFF",
                    Duration::from_secs(1),
                    Duration::from_millis(1),
                    Duration::from_secs(600),
                )?,
                operations_email,
            },
            dispatch_interval: env.duration_within(
                "MANDI_NOTIFICATION__DISPATCH_INTERVAL",
                Duration::from_secs(1),
                Duration::from_millis(10),
                Duration::from_secs(60),
            )?,
            events: EventsConfig::from_env(env)?,
        })
    }
}

/// For `--target=all`: when `MANDI_NOTIFICATION__CLIENT_SECRET` is unset, sets it to a
/// random secret and registers it with identity (`MANDI_IDENTITY__SERVICE_CLIENTS`), so
/// the embedded notification signs in as `notification` out of the box.
pub fn embed_client_secret(env: &mut Env) -> Result<(), ConfigError> {
    env.embed_service_secret("notification", "MANDI_NOTIFICATION__CLIENT_SECRET")
}

/// The consumer group's settings: every topic notification reads; an event whose user
/// cannot be looked up is tried 8 times from 250ms (about 30s of identity or profile
/// being away) before it is dead-lettered.
pub fn consumer_settings() -> ConsumerSettings {
    ConsumerSettings {
        group_id: GROUP.into(),
        topics: events::TOPICS.iter().map(|t| (*t).to_owned()).collect(),
        max_attempts: 8,
        first_backoff: Duration::from_millis(250),
    }
}

/// The transports configuration selects: the local sink for every channel, SMTP for
/// email when a relay is configured.
pub fn channels(config: &NotificationConfig) -> anyhow::Result<Channels> {
    let local = Arc::new(LogChannel::new(config.outbox_dir.clone()));
    let channels = Channels::all(local);
    Ok(match &config.smtp {
        None => channels,
        Some(smtp) => channels.with(
            ChannelKind::Email,
            Arc::new(
                SmtpChannel::new(&smtp.host, smtp.port, &smtp.from, Duration::from_secs(10))
                    .map_err(anyhow::Error::msg)
                    .context("MANDI_NOTIFICATION__EMAIL_FROM")?,
            ),
        ),
    })
}

/// Builds notification with its configured backend, and starts its sender and its
/// consumer.
pub async fn module(config: NotificationConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => build(MemoryStore::default(), &config).await,
        Backends::Real { database_url } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open notification's PostgreSQL database")?;
            build(store, &config).await
        }
    }
}

async fn build<S: NotificationStore>(
    store: S,
    config: &NotificationConfig,
) -> anyhow::Result<Module> {
    let store = Arc::new(store);
    let missing = |var: &str, hint: &str| ConfigError::Missing {
        var: var.into(),
        hint: hint.into(),
    };
    let endpoint = |value: &Option<String>, var: &str, hint: &str| {
        value.clone().ok_or_else(|| missing(var, hint))
    };
    let endpoints = Endpoints {
        identity: endpoint(
            &config.identity_endpoint,
            "MANDI_NOTIFICATION__IDENTITY_ENDPOINT",
            "the identity service's URL, for users' email addresses",
        )?,
        profile: endpoint(
            &config.profile_endpoint,
            "MANDI_NOTIFICATION__PROFILE_ENDPOINT",
            "the profile service's URL, for phones and channel preferences",
        )?,
        catalog: endpoint(
            &config.catalog_endpoint,
            "MANDI_NOTIFICATION__CATALOG_ENDPOINT",
            "the catalog service's URL, for the vendor of a product",
        )?,
    };
    let secret = config.client_secret.clone().ok_or_else(|| {
        missing(
            "MANDI_NOTIFICATION__CLIENT_SECRET",
            "notification's secret, as registered with identity in \
             MANDI_IDENTITY__SERVICE_CLIENTS=notification=<secret>",
        )
    })?;
    let directory = Arc::new(
        SdkDirectory::new(
            &endpoints,
            secret,
            config.peer_timeout,
            config.peer_tls.clone(),
        )
        .context("cannot build notification's identity, profile and catalog clients")?,
    );
    let wake = Arc::new(Notify::new());
    let notifier = Notifier::new(
        store.clone(),
        directory,
        config.settings.clone(),
        wake.clone(),
    );
    // The sender and the consumer live as long as the process: never aborted.
    let _sender = Dispatcher::new(store, channels(config)?, config.settings.backoff)
        .spawn(wake, config.dispatch_interval);
    let _consumer = config
        .events
        .consume(consumer_settings(), notifier.clone())
        .await
        .context("cannot start notification's event consumer")?;
    let service = NotificationServiceServer::new(NotificationGrpc::new(notifier));
    Ok(Module::new(service, grpc::POLICIES))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_mode_names_the_missing_database_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = NotificationConfig::from_env(&env, false).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_NOTIFICATION__DATABASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn real_mode_names_the_missing_client_secret() {
        let env = Env::from_pairs([(
            "MANDI_NOTIFICATION__DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/notification",
        )]);
        let err = NotificationConfig::from_env(&env, false).err().unwrap();
        assert!(
            err.to_string()
                .contains("MANDI_NOTIFICATION__CLIENT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn a_short_client_secret_is_refused() {
        let env = Env::from_pairs([("MANDI_NOTIFICATION__CLIENT_SECRET", "short")]);
        let err = NotificationConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string()
                .contains("MANDI_NOTIFICATION__CLIENT_SECRET"),
            "{err}"
        );
    }

    #[test]
    fn smtp_is_used_for_email_only_when_a_host_is_set() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        assert_eq!(NotificationConfig::from_env(&env, true).unwrap().smtp, None);
        let env = Env::from_pairs([
            ("MANDI_NOTIFICATION__SMTP_HOST", "127.0.0.1"),
            ("MANDI_NOTIFICATION__SMTP_PORT", "2525"),
        ]);
        let smtp = NotificationConfig::from_env(&env, true)
            .unwrap()
            .smtp
            .unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("127.0.0.1", 2525));
    }

    #[test]
    fn the_embedded_secret_is_registered_with_identity() {
        let mut env = Env::from_pairs([(
            "MANDI_IDENTITY__SERVICE_CLIENTS",
            "checkout=0123456789abcdef",
        )]);
        embed_client_secret(&mut env).unwrap();
        let secret = env
            .raw("MANDI_NOTIFICATION__CLIENT_SECRET")
            .unwrap()
            .to_owned();
        let clients = env.list("MANDI_IDENTITY__SERVICE_CLIENTS");
        assert!(
            clients.contains(&format!("notification={secret}")),
            "{clients:?}"
        );
        assert!(clients.iter().any(|c| c.starts_with("checkout=")));
    }
}
