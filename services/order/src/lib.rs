//! mandi-order: orders from checkout to delivery. `domain` holds the rules (the state
//! machine among them), `store` the storage port with its in-memory and PostgreSQL
//! adapters (each change stored with its event in a transactional outbox), `orders` the
//! use cases, `events` the events announced, `grpc` the service; `module` builds it for
//! the server binary from configuration and starts the outbox relay.
#![forbid(unsafe_code)]

pub mod domain;
pub mod events;
pub mod grpc;
pub mod orders;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mandi_kafka::EventsConfig;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::outbox::Relay;
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::order::v1::order_service_server::OrderServiceServer;
use secrecy::{ExposeSecret, SecretString};

use crate::grpc::OrderGrpc;
use crate::orders::Orders;
use crate::store::OrderStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgStore;

/// Where orders are kept. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// PostgreSQL.
    Real {
        /// `MANDI_ORDER__DATABASE_URL`.
        database_url: SecretString,
    },
}

/// Everything order reads from configuration.
#[derive(Clone)]
pub struct OrderConfig {
    /// Storage backend.
    pub backends: Backends,
    /// `MANDI_ORDER__OUTBOX_INTERVAL`: how often the relay publishes pending events
    /// (default 1s, 10ms..=1m).
    pub outbox_interval: Duration,
    /// `MANDI_ORDER__OUTBOX_BATCH`: events the relay reads per query (default 100,
    /// 1..=10000).
    pub outbox_batch: usize,
    /// Where the relay publishes: Kafka with `MANDI_KAFKA__BROKERS`, else in process.
    pub events: EventsConfig,
}

impl OrderConfig {
    /// Reads order's settings; `embedded` selects the in-memory backend.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                database_url: env
                    .require::<String>(
                        "MANDI_ORDER__DATABASE_URL",
                        "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/order",
                    )?
                    .into(),
            }
        };
        let outbox_interval =
            env.duration_or("MANDI_ORDER__OUTBOX_INTERVAL", Duration::from_secs(1))?;
        if !(Duration::from_millis(10)..=Duration::from_secs(60)).contains(&outbox_interval) {
            return Err(env.invalid(
                "MANDI_ORDER__OUTBOX_INTERVAL",
                "must be between 10ms and 1m",
            ));
        }
        let outbox_batch: usize = env.get_or("MANDI_ORDER__OUTBOX_BATCH", 100)?;
        if !(1..=10_000).contains(&outbox_batch) {
            return Err(env.invalid("MANDI_ORDER__OUTBOX_BATCH", "must be between 1 and 10000"));
        }
        Ok(Self {
            backends,
            outbox_interval,
            outbox_batch,
            events: EventsConfig::from_env(env)?,
        })
    }
}

/// Builds order with its configured backend and starts its outbox relay.
pub async fn module(config: OrderConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => build(MemoryStore::default(), &config),
        Backends::Real { database_url } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open order's PostgreSQL database")?;
            build(store, &config)
        }
    }
}

fn build<S: OrderStore>(store: S, config: &OrderConfig) -> anyhow::Result<Module> {
    let store = Arc::new(store);
    let publisher = config
        .events
        .publisher("order")
        .context("cannot create order's event publisher")?;
    // The relay lives as long as the process: its task is never aborted.
    let _relay =
        Relay::new(store.clone(), publisher, config.outbox_batch).spawn(config.outbox_interval);
    let service = OrderServiceServer::new(OrderGrpc::new(Orders::new(store)));
    Ok(Module::new(service, grpc::POLICIES))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_mode_names_the_missing_database_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = OrderConfig::from_env(&env, false).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_ORDER__DATABASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn the_relay_runs_every_second_in_batches_of_a_hundred_by_default() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = OrderConfig::from_env(&env, true).unwrap();
        assert_eq!(config.outbox_interval, Duration::from_secs(1));
        assert_eq!(config.outbox_batch, 100);
    }

    #[test]
    fn an_outbox_interval_out_of_range_is_refused() {
        let env = Env::from_pairs([("MANDI_ORDER__OUTBOX_INTERVAL", "2m")]);
        let err = OrderConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_ORDER__OUTBOX_INTERVAL"),
            "{err}"
        );
    }
}
