//! mandi-inventory: perishable stock by warehouse and batch, and reservations for orders
//! that never oversell. `domain` holds the rules (FEFO allocation among them), `store` the
//! storage port with its in-memory and PostgreSQL adapters, `grpc` the service; `module`
//! builds it for the server binary from configuration.
#![forbid(unsafe_code)]

pub mod demo;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod owners;
pub mod stock_watch;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::inventory::v1::inventory_service_server::InventoryServiceServer;
use secrecy::{ExposeSecret, SecretString};

use mandi_kafka::EventsConfig;
use mandi_runtime::events::EventPublisher;

use crate::domain::{MAX_EXPIRY_WARNING_DAYS, MAX_TTL, MIN_TTL};
use crate::events::InventoryEvents;
use crate::grpc::{Currency, GrpcSettings, InventoryGrpc};
use crate::owners::CatalogOwners;
use crate::stock_watch::StockWatch;
use crate::store::InventoryStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgStore;

/// Where inventory keeps its data. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// PostgreSQL.
    Real {
        /// `MANDI_INVENTORY__DATABASE_URL`.
        database_url: SecretString,
    },
}

/// Everything inventory reads from configuration.
#[derive(Clone)]
pub struct InventoryConfig {
    /// Storage backend.
    pub backends: Backends,
    /// `MANDI_INVENTORY__RESERVATION_TTL`: hold when Reserve gives none (default 15m,
    /// 1m..=24h).
    pub reservation_ttl: Duration,
    /// `MANDI_INVENTORY__SWEEP_INTERVAL`: how often lapsed reservations are expired
    /// (default 30s).
    pub sweep_interval: Duration,
    /// `MANDI_INVENTORY__LOW_STOCK_THRESHOLD`: availability at or below this is low
    /// (default 10; 0 disables).
    pub low_stock_threshold: i64,
    /// `MANDI_INVENTORY__EXPIRY_WARNING_DAYS`: how many days before expiry a batch counts
    /// as expiring soon, for products without their own policy (default 3, 0..=365; 0
    /// disables).
    pub expiry_warning_days: i32,
    /// `MANDI_INVENTORY__CURRENCY`: currency of batch unit costs (default INR).
    pub currency: String,
    /// `MANDI_INVENTORY__CATALOG_ENDPOINT`: catalog's URL, asked who owns a product. The
    /// server fills in its own loopback URL when it runs catalog in the same process.
    pub catalog_endpoint: Option<String>,
    /// Client TLS for an `https://` catalog endpoint; set by the server.
    pub catalog_tls: Option<tonic::transport::ClientTlsConfig>,
    /// Where events go: Kafka with `MANDI_KAFKA__BROKERS`, else in process.
    pub events: EventsConfig,
    /// `MANDI_INVENTORY__DEMO_STOCK`: in the embedded default, stock every demo catalog
    /// product (default true; never on real backends).
    pub demo_stock: bool,
}

impl InventoryConfig {
    /// Reads inventory's settings; `embedded` selects the in-memory backend.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                database_url: env
                    .require::<String>(
                        "MANDI_INVENTORY__DATABASE_URL",
                        "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/inventory",
                    )?
                    .into(),
            }
        };
        let reservation_ttl =
            env.duration_or("MANDI_INVENTORY__RESERVATION_TTL", Duration::from_secs(900))?;
        let (min, max) = (MIN_TTL.to_std(), MAX_TTL.to_std());
        if min.is_ok_and(|min| reservation_ttl < min) || max.is_ok_and(|max| reservation_ttl > max)
        {
            return Err(env.invalid(
                "MANDI_INVENTORY__RESERVATION_TTL",
                "must be between 1m and 24h",
            ));
        }
        let sweep_interval =
            env.duration_or("MANDI_INVENTORY__SWEEP_INTERVAL", Duration::from_secs(30))?;
        if sweep_interval < Duration::from_secs(1) {
            return Err(env.invalid("MANDI_INVENTORY__SWEEP_INTERVAL", "must be at least 1s"));
        }
        let low_stock_threshold: i64 = env.get_or("MANDI_INVENTORY__LOW_STOCK_THRESHOLD", 10)?;
        if low_stock_threshold < 0 {
            return Err(env.invalid(
                "MANDI_INVENTORY__LOW_STOCK_THRESHOLD",
                "must not be negative",
            ));
        }
        let expiry_warning_days: i32 = env.get_or("MANDI_INVENTORY__EXPIRY_WARNING_DAYS", 3)?;
        if !(0..=MAX_EXPIRY_WARNING_DAYS).contains(&expiry_warning_days) {
            return Err(env.invalid(
                "MANDI_INVENTORY__EXPIRY_WARNING_DAYS",
                "must be between 0 and 365",
            ));
        }
        let currency: String = env.get_or("MANDI_INVENTORY__CURRENCY", "INR".to_owned())?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(env.invalid(
                "MANDI_INVENTORY__CURRENCY",
                "expected an ISO 4217 code like INR",
            ));
        }
        let catalog_endpoint: Option<String> = env.get("MANDI_INVENTORY__CATALOG_ENDPOINT")?;
        let demo_stock = embedded && env.get_or("MANDI_INVENTORY__DEMO_STOCK", true)?;
        Ok(Self {
            demo_stock,
            events: EventsConfig::from_env(env)?,
            catalog_endpoint,
            catalog_tls: None,
            backends,
            reservation_ttl,
            sweep_interval,
            low_stock_threshold,
            expiry_warning_days,
            currency,
        })
    }
}

/// Builds inventory with its configured backend.
pub async fn module(config: InventoryConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => build(MemoryStore::default(), &config),
        Backends::Real { database_url } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open inventory's PostgreSQL database")?;
            build(store, &config)
        }
    }
}

fn build<S: InventoryStore>(store: S, config: &InventoryConfig) -> anyhow::Result<Module> {
    let store = Arc::new(store);
    let events = InventoryEvents::new(
        config
            .events
            .publisher("inventory")
            .context("cannot create inventory's event publisher")?,
    );
    spawn_reservation_sweeper(
        &store,
        StockWatch::new(store.clone(), events.clone(), config.low_stock_threshold),
        config.sweep_interval,
        config.expiry_warning_days,
    );
    let settings = GrpcSettings {
        default_ttl: chrono::Duration::from_std(config.reservation_ttl)
            .context("MANDI_INVENTORY__RESERVATION_TTL is out of range")?,
        low_stock_threshold: config.low_stock_threshold,
        expiry_warning_days: config.expiry_warning_days,
        currency: Currency(config.currency.clone()),
    };
    let watch = StockWatch::new(store.clone(), events, config.low_stock_threshold);
    let catalog = catalog_client(config)?;
    if config.demo_stock {
        demo::spawn(store.clone(), catalog.clone());
    }
    let service = InventoryServiceServer::new(InventoryGrpc::new(
        store,
        settings,
        watch,
        CatalogOwners::new(catalog),
    ));
    Ok(Module::new(service, grpc::POLICIES))
}

/// The catalog client: asked who owns a product (and which products to stock in the demo).
fn catalog_client(config: &InventoryConfig) -> anyhow::Result<mandi_sdk::Mandi> {
    let endpoint = config
        .catalog_endpoint
        .clone()
        .ok_or_else(|| ConfigError::Missing {
            var: "MANDI_INVENTORY__CATALOG_ENDPOINT".into(),
            hint: "catalog's URL, to check which vendor owns a product".into(),
        })?;
    // Only catalog is called, so one endpoint serves every client.
    let mut builder = mandi_sdk::Mandi::builder().endpoint(endpoint.clone());
    if let Some(tls) = &config.catalog_tls {
        builder = builder.tls(tls.clone());
    }
    let mandi = builder
        .connect_lazy()
        .map_err(|error| ConfigError::Invalid {
            var: "MANDI_INVENTORY__CATALOG_ENDPOINT".into(),
            value: endpoint,
            reason: error.to_string(),
        })?;
    Ok(mandi)
}

/// Expires reservations whose TTL ran out every `interval`, for as long as the service
/// lives, then announces batches that entered their expiry warning window
/// (`expiry_warning_days` for products without a policy). The store expires each
/// reservation and claims each expiring batch once even when several replicas sweep.
fn spawn_reservation_sweeper<S: InventoryStore, P: EventPublisher>(
    store: &Arc<S>,
    watch: StockWatch<S, P>,
    interval: Duration,
    expiry_warning_days: i32,
) {
    let store = Arc::downgrade(store);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(store) = store.upgrade() else {
                return;
            };
            match store.expire_due(Utc::now()).await {
                Ok(expired) if expired.is_empty() => {}
                Ok(expired) => {
                    tracing::info!(
                        expired = expired.len(),
                        "lapsed reservations expired and their stock released"
                    );
                    announce_expired(store.as_ref(), &watch, &expired).await;
                }
                Err(error) => tracing::warn!(%error, "cannot expire lapsed reservations"),
            }
            match store
                .claim_expiring_batches(Utc::now(), expiry_warning_days)
                .await
            {
                Ok(expiring) => {
                    for batch in &expiring {
                        watch.events().batch_expiring(batch).await;
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot claim batches expiring soon"),
            }
        }
    });
}

/// Publishes InventoryReleased (cause EXPIRED) for each expired order.
async fn announce_expired<S: InventoryStore, P: EventPublisher>(
    store: &S,
    watch: &StockWatch<S, P>,
    orders: &[uuid::Uuid],
) {
    for order in orders {
        match store.reservation(*order).await {
            Ok(Some(reservation)) => watch.events().released(&reservation).await,
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, order_id = %order, "cannot read an expired reservation")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_mode_names_the_missing_database_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = InventoryConfig::from_env(&env, false).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_INVENTORY__DATABASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn defaults_hold_stock_for_fifteen_minutes_and_sweep_every_thirty_seconds() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = InventoryConfig::from_env(&env, true).unwrap();
        assert_eq!(config.reservation_ttl, Duration::from_secs(900));
        assert_eq!(config.sweep_interval, Duration::from_secs(30));
        assert_eq!(config.low_stock_threshold, 10);
        assert_eq!(config.expiry_warning_days, 3);
    }

    #[test]
    fn an_expiry_warning_beyond_a_year_is_refused() {
        let env = Env::from_pairs([("MANDI_INVENTORY__EXPIRY_WARNING_DAYS", "400")]);
        let err = InventoryConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string()
                .contains("MANDI_INVENTORY__EXPIRY_WARNING_DAYS"),
            "{err}"
        );
    }

    #[test]
    fn a_reservation_ttl_outside_one_minute_to_a_day_is_refused() {
        let env = Env::from_pairs([("MANDI_INVENTORY__RESERVATION_TTL", "10s")]);
        let err = InventoryConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_INVENTORY__RESERVATION_TTL"),
            "{err}"
        );
    }
}
