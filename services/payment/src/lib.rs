//! mandi-payment: payments for orders (cards through a gateway, cash on delivery),
//! refunds and a double-entry ledger, with Stripe-style idempotency keys so a retried or
//! duplicated request never charges twice. `domain` holds the rules, `gateway` the card
//! gateway port and its sandbox, `store` the storage port with its in-memory and
//! PostgreSQL adapters, `payments` the use cases, `order_events` what order's status
//! changes set off, `events` what goes to the outbox, and `grpc` the service; `module`
//! builds it for the server binary from configuration.
#![forbid(unsafe_code)]

pub mod domain;
pub mod events;
pub mod gateway;
pub mod grpc;
pub mod order_events;
pub mod payments;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mandi_kafka::EventsConfig;
use mandi_kafka::consumer::ConsumerSettings;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::outbox::Relay;
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::payment::v1::payment_service_server::PaymentServiceServer;
use secrecy::{ExposeSecret, SecretString};

use crate::gateway::SandboxGateway;
use crate::grpc::PaymentGrpc;
use crate::order_events::OrderEventHandler;
use crate::payments::{Payments, Settings};
use crate::store::PaymentStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgStore;

/// Outbox records the relay reads per pass.
const RELAY_BATCH: usize = 100;

/// Where payment keeps its data. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// PostgreSQL.
    Real {
        /// `MANDI_PAYMENT__DATABASE_URL`.
        database_url: SecretString,
    },
}

/// Everything payment reads from configuration.
#[derive(Clone)]
pub struct PaymentConfig {
    /// Storage backend.
    pub backends: Backends,
    /// `MANDI_PAYMENT__FEE_BPS`: platform fee on captures in basis points (default 200 =
    /// 2 %, 0..=10000).
    pub fee_bps: u32,
    /// `MANDI_PAYMENT__GATEWAY_TIMEOUT`: longest wait for one gateway call (default 10s,
    /// 100ms..=2m); an authorization that outlasts it is FAILED with GATEWAY_TIMEOUT.
    pub gateway_timeout: Duration,
    /// `MANDI_PAYMENT__CURRENCY`: the marketplace currency (default INR).
    pub currency: String,
    /// `MANDI_PAYMENT__OUTBOX_INTERVAL`: how often the outbox relay looks for events
    /// (default 1s).
    pub outbox_interval: Duration,
    /// Where the relay publishes: Kafka with `MANDI_KAFKA__BROKERS`, else in process.
    pub events: EventsConfig,
}

impl PaymentConfig {
    /// Reads payment's settings; `embedded` selects the in-memory backend.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                database_url: env
                    .require::<String>(
                        "MANDI_PAYMENT__DATABASE_URL",
                        "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/payment",
                    )?
                    .into(),
            }
        };
        let fee_bps: u32 = env.get_or("MANDI_PAYMENT__FEE_BPS", 200)?;
        if fee_bps > 10_000 {
            return Err(env.invalid(
                "MANDI_PAYMENT__FEE_BPS",
                "must be between 0 and 10000 basis points",
            ));
        }
        let gateway_timeout =
            env.duration_or("MANDI_PAYMENT__GATEWAY_TIMEOUT", Duration::from_secs(10))?;
        if !(Duration::from_millis(100)..=Duration::from_secs(120)).contains(&gateway_timeout) {
            return Err(env.invalid(
                "MANDI_PAYMENT__GATEWAY_TIMEOUT",
                "must be between 100ms and 2m",
            ));
        }
        let currency: String = env.get_or("MANDI_PAYMENT__CURRENCY", "INR".to_owned())?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(env.invalid(
                "MANDI_PAYMENT__CURRENCY",
                "expected an ISO 4217 code like INR",
            ));
        }
        let outbox_interval =
            env.duration_or("MANDI_PAYMENT__OUTBOX_INTERVAL", Duration::from_secs(1))?;
        if outbox_interval < Duration::from_millis(10) {
            return Err(env.invalid("MANDI_PAYMENT__OUTBOX_INTERVAL", "must be at least 10ms"));
        }
        Ok(Self {
            backends,
            fee_bps,
            gateway_timeout,
            currency,
            outbox_interval,
            events: EventsConfig::from_env(env)?,
        })
    }

    /// The use cases' share of the configuration.
    pub fn settings(&self) -> Settings {
        Settings {
            fee_bps: self.fee_bps,
            gateway_timeout: self.gateway_timeout,
            currency: self.currency.clone(),
        }
    }
}

/// Builds payment with its configured backend and starts its outbox relay.
pub async fn module(config: PaymentConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => build(MemoryStore::default(), &config),
        Backends::Real { database_url } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open payment's PostgreSQL database")?;
            build(store, &config)
        }
    }
}

fn build<S: PaymentStore>(store: S, config: &PaymentConfig) -> anyhow::Result<Module> {
    let store = Arc::new(store);
    let publisher = config
        .events
        .publisher("payment")
        .context("cannot create payment's event publisher")?;
    Relay::new(store.clone(), publisher, RELAY_BATCH).spawn(config.outbox_interval);
    // The sandbox's time-out card outlasts the configured timeout, so the timeout decides.
    let gateway = SandboxGateway::new(config.gateway_timeout * 2);
    let gateway = Arc::new(gateway);
    let on_orders = OrderEventHandler(Payments::new(
        store.clone(),
        gateway.clone(),
        config.settings(),
    ));
    let events = config.events.clone();
    tokio::spawn(async move {
        let settings = ConsumerSettings {
            group_id: "payment".into(),
            topics: vec![mandi_runtime::events::topic("order")],
            max_attempts: 5,
            first_backoff: Duration::from_millis(200),
        };
        if let Err(error) = events.consume(settings, on_orders).await {
            tracing::error!(%error, "payment cannot consume order events");
        }
    });
    let payments = Payments::new(store, gateway, config.settings());
    Ok(Module::new(
        PaymentServiceServer::new(PaymentGrpc::new(payments)),
        grpc::POLICIES,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_mode_names_the_missing_database_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = PaymentConfig::from_env(&env, false).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_PAYMENT__DATABASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn defaults_charge_two_percent_and_wait_ten_seconds_for_the_gateway() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = PaymentConfig::from_env(&env, true).unwrap();
        assert_eq!(config.fee_bps, 200);
        assert_eq!(config.gateway_timeout, Duration::from_secs(10));
        assert_eq!(config.currency, "INR");
    }

    #[test]
    fn a_fee_above_one_hundred_percent_is_refused() {
        let env = Env::from_pairs([("MANDI_PAYMENT__FEE_BPS", "10001")]);
        let err = PaymentConfig::from_env(&env, true).err().unwrap();
        assert!(err.to_string().contains("MANDI_PAYMENT__FEE_BPS"), "{err}");
    }

    #[test]
    fn a_gateway_timeout_outside_100ms_to_2m_is_refused() {
        let env = Env::from_pairs([("MANDI_PAYMENT__GATEWAY_TIMEOUT", "10ms")]);
        let err = PaymentConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_PAYMENT__GATEWAY_TIMEOUT"),
            "{err}"
        );
    }
}
