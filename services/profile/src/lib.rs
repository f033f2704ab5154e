//! mandi-profile: each user's profile (contact details), address book with exactly one
//! default address, and shopping and notification preferences. `domain` holds the rules
//! (formats of phones and postal codes per country among them), `store` the storage port
//! with its in-memory and PostgreSQL adapters, `grpc` the service; `module` builds it for
//! the server binary from configuration.
#![forbid(unsafe_code)]

pub mod domain;
pub mod grpc;
pub mod new_users;
pub mod store;

use std::sync::Arc;

use anyhow::Context as _;
use mandi_kafka::EventsConfig;
use mandi_kafka::consumer::ConsumerSettings;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::profile::v1::profile_service_server::ProfileServiceServer;
use secrecy::{ExposeSecret, SecretString};

use crate::grpc::ProfileGrpc;
use crate::new_users::NewUsers;
use crate::store::ProfileStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgStore;

/// The variable naming profile's database.
const DATABASE_URL: &str = "MANDI_PROFILE__DATABASE_URL";

/// Where profile keeps its data. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// PostgreSQL.
    Real {
        /// `MANDI_PROFILE__DATABASE_URL`.
        database_url: SecretString,
    },
}

/// Everything profile reads from configuration.
#[derive(Clone)]
pub struct ProfileConfig {
    /// Storage backend.
    pub backends: Backends,
    /// Where identity's UserRegistered comes from: Kafka with `MANDI_KAFKA__BROKERS`, else
    /// this process's bus.
    pub events: EventsConfig,
}

impl ProfileConfig {
    /// Reads profile's settings; `embedded` selects the in-memory backend, otherwise
    /// `MANDI_PROFILE__DATABASE_URL` must name a PostgreSQL database.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let events = EventsConfig::from_env(env)?;
        if embedded {
            return Ok(Self {
                backends: Backends::Memory,
                events,
            });
        }
        let url: String = env.require(
            DATABASE_URL,
            "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/profile",
        )?;
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::Invalid {
                var: DATABASE_URL.to_owned(),
                // The value may carry a password: only its scheme is echoed.
                value: url
                    .split_once("://")
                    .map_or("", |(scheme, _)| scheme)
                    .to_owned(),
                reason: "expected a postgres:// or postgresql:// URL".to_owned(),
            });
        }
        Ok(Self {
            backends: Backends::Real {
                database_url: url.into(),
            },
            events,
        })
    }
}

/// Builds profile with its configured backend.
pub async fn module(config: ProfileConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => Ok(build(MemoryStore::default(), &config.events)),
        Backends::Real { database_url } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open profile's PostgreSQL database")?;
            Ok(build(store, &config.events))
        }
    }
}

fn build<S: ProfileStore>(store: S, events: &EventsConfig) -> Module {
    let store = Arc::new(store);
    let (events, new_users) = (events.clone(), NewUsers(store.clone()));
    tokio::spawn(async move {
        let settings = ConsumerSettings {
            group_id: "profile".into(),
            topics: vec![mandi_runtime::events::topic("identity")],
            max_attempts: 5,
            first_backoff: std::time::Duration::from_millis(200),
        };
        if let Err(error) = events.consume(settings, new_users).await {
            tracing::error!(%error, "profile cannot consume identity's events");
        }
    });
    let service = ProfileServiceServer::new(ProfileGrpc::new(store));
    Module::new(service, grpc::POLICIES)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_mode_names_the_missing_database_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = ProfileConfig::from_env(&env, false).err().unwrap();
        assert!(err.to_string().contains(DATABASE_URL), "{err}");
    }

    #[test]
    fn a_database_url_that_is_not_postgres_is_refused_without_echoing_it() {
        let env = Env::from_pairs([(DATABASE_URL, "mysql://root:hunter2@db/profile")]);
        let err = ProfileConfig::from_env(&env, false).err().unwrap();
        assert!(err.to_string().contains(DATABASE_URL), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn embedded_mode_needs_no_database() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = ProfileConfig::from_env(&env, true).unwrap();
        assert!(matches!(config.backends, Backends::Memory));
    }

    #[test]
    fn real_mode_keeps_the_url_secret() {
        let env = Env::from_pairs([(DATABASE_URL, "postgres://u:pw@127.0.0.1/profile")]);
        let config = ProfileConfig::from_env(&env, false).unwrap();
        let Backends::Real { database_url } = config.backends else {
            panic!("expected PostgreSQL");
        };
        assert_eq!(
            database_url.expose_secret(),
            "postgres://u:pw@127.0.0.1/profile"
        );
    }
}
