//! mandi-cart: one cart per signed-in user and per guest, kept in Redis with a TTL. Lines
//! snapshot the catalog's price when added; every cart returned is priced, taxed per
//! category and checked against the catalog and inventory (or marked unverified when they
//! do not answer). `domain` holds the rules, `store` the storage port with its Redis and
//! in-memory adapters, `peers` the catalog and inventory ports, `service` the use cases,
//! `grpc` the tonic service; `module` builds it for the server binary.
#![forbid(unsafe_code)]

pub mod domain;
pub mod grpc;
pub mod peers;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::cart::v1::cart_service_server::CartServiceServer;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::{LineCaps, TaxRates};
use crate::grpc::CartGrpc;
use crate::peers::catalog::SdkCatalog;
use crate::peers::inventory::SdkInventory;
use crate::service::{CartService, Settings};
use crate::store::CartStore;
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;

/// Tax rates when `MANDI_CART__TAX_RATES` is not set, in basis points by category slug of
/// the demo catalog: fresh produce, eggs, milk, staples are zero-rated; processed dry
/// fruits and nuts, dairy fats and spices pay 5%.
pub const DEFAULT_TAX_RATES: &str =
    "default=0,dry-fruits-nuts=500,paneer-butter-ghee=500,spices-sweeteners=500";

/// Where carts live. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// Redis.
    Redis {
        /// `MANDI_CART__REDIS_URL`.
        url: SecretString,
        /// `MANDI_CART__REDIS_PREFIX`: start of every key (default `mandi:cart:`).
        prefix: String,
    },
}

/// Everything the cart reads from configuration.
#[derive(Clone)]
pub struct CartConfig {
    /// Storage backend.
    pub backends: Backends,
    /// `MANDI_CART__TTL`: how long a cart lives after its last change (default 30d,
    /// 1m..=365d).
    pub ttl: Duration,
    /// `MANDI_CART__CURRENCY`: the marketplace currency (default INR).
    pub currency: String,
    /// `MANDI_CART__TAX_RATES`: `slug=basis-points,…` with `default=` for the rest
    /// (default [`DEFAULT_TAX_RATES`]).
    pub tax_rates: TaxRates,
    /// `MANDI_CART__MAX_LINE_GRAMS` (default 25000) and `MANDI_CART__MAX_LINE_UNITS`
    /// (default 50): the largest quantity of one line.
    pub caps: LineCaps,
    /// `MANDI_CART__PEER_TIMEOUT`: how long a catalog or inventory call may take before the
    /// cart answers without it (default 800ms).
    pub peer_timeout: Duration,
    /// `MANDI_CART__CATALOG_ENDPOINT`; the server fills in its own URL when it runs catalog.
    pub catalog_endpoint: Option<String>,
    /// `MANDI_CART__INVENTORY_ENDPOINT`; the server fills in its own URL when it runs
    /// inventory.
    pub inventory_endpoint: Option<String>,
    /// Client TLS for `https://` peer endpoints; set by the server.
    pub peer_tls: Option<tonic::transport::ClientTlsConfig>,
}

impl CartConfig {
    /// Reads the cart's settings; `embedded` selects the in-memory backend.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Redis {
                url: env
                    .require::<String>(
                        "MANDI_CART__REDIS_URL",
                        "a Redis URL such as redis://127.0.0.1:6379",
                    )?
                    .into(),
                prefix: env.get_or("MANDI_CART__REDIS_PREFIX", "mandi:cart:".to_owned())?,
            }
        };
        let ttl = env.duration_or("MANDI_CART__TTL", Duration::from_secs(30 * 86_400))?;
        if !(Duration::from_secs(60)..=Duration::from_secs(365 * 86_400)).contains(&ttl) {
            return Err(env.invalid("MANDI_CART__TTL", "must be between 1m and 365d"));
        }
        let currency: String = env.get_or("MANDI_CART__CURRENCY", "INR".to_owned())?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(env.invalid("MANDI_CART__CURRENCY", "expected an ISO 4217 code like INR"));
        }
        let tax_rates = TaxRates::parse(
            env.raw("MANDI_CART__TAX_RATES")
                .unwrap_or(DEFAULT_TAX_RATES),
        )
        .map_err(|reason| env.invalid("MANDI_CART__TAX_RATES", &reason))?;
        let defaults = LineCaps::default();
        let caps = LineCaps {
            max_grams: env.get_or("MANDI_CART__MAX_LINE_GRAMS", defaults.max_grams)?,
            max_units: env.get_or("MANDI_CART__MAX_LINE_UNITS", defaults.max_units)?,
        };
        if caps.max_grams < 1 {
            return Err(env.invalid("MANDI_CART__MAX_LINE_GRAMS", "must be at least 1"));
        }
        if caps.max_units < 1 {
            return Err(env.invalid("MANDI_CART__MAX_LINE_UNITS", "must be at least 1"));
        }
        let peer_timeout =
            env.duration_or("MANDI_CART__PEER_TIMEOUT", Duration::from_millis(800))?;
        if peer_timeout < Duration::from_millis(10) {
            return Err(env.invalid("MANDI_CART__PEER_TIMEOUT", "must be at least 10ms"));
        }
        Ok(Self {
            backends,
            ttl,
            currency,
            tax_rates,
            caps,
            peer_timeout,
            catalog_endpoint: env.get("MANDI_CART__CATALOG_ENDPOINT")?,
            inventory_endpoint: env.get("MANDI_CART__INVENTORY_ENDPOINT")?,
            peer_tls: None,
        })
    }

    fn settings(&self) -> Settings {
        Settings {
            ttl: self.ttl,
            currency: self.currency.clone(),
            tax_rates: self.tax_rates.clone(),
            caps: self.caps,
        }
    }
}

/// Builds the cart with its configured backend.
pub async fn module(config: CartConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => build(MemoryStore::default(), &config),
        Backends::Redis { url, prefix } => {
            let store = RedisStore::connect(url.expose_secret(), prefix)
                .await
                .context("cannot connect to the cart's Redis")?;
            build(store, &config)
        }
    }
}

fn build<S: CartStore>(store: S, config: &CartConfig) -> anyhow::Result<Module> {
    let catalog = SdkCatalog::new(
        peer(config, "catalog", config.catalog_endpoint.as_deref())?,
        config.peer_timeout,
    );
    let inventory = SdkInventory::new(
        peer(config, "inventory", config.inventory_endpoint.as_deref())?,
        config.peer_timeout,
    );
    let service = CartService::new(Arc::new(store), catalog, inventory, config.settings());
    let grpc = CartGrpc::new(Arc::new(service), config.currency.clone());
    Ok(Module::new(CartServiceServer::new(grpc), grpc::POLICIES))
}

/// An SDK client for one peer. The cart sends no token of its own: the calls it makes
/// are public.
fn peer(
    config: &CartConfig,
    service: &str,
    endpoint: Option<&str>,
) -> Result<mandi_sdk::Mandi, ConfigError> {
    let var = format!("MANDI_CART__{}_ENDPOINT", service.to_ascii_uppercase());
    let endpoint = endpoint.ok_or_else(|| ConfigError::Missing {
        var: var.clone(),
        hint: format!("the {service} service's URL, to price and check cart lines"),
    })?;
    let mut builder = mandi_sdk::Mandi::builder().endpoint(endpoint);
    if let Some(tls) = &config.peer_tls {
        builder = builder.tls(tls.clone());
    }
    builder
        .connect_lazy()
        .map_err(|error| ConfigError::Invalid {
            var,
            value: endpoint.to_owned(),
            reason: error.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_mode_names_the_missing_redis_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = CartConfig::from_env(&env, false).err().unwrap();
        assert!(err.to_string().contains("MANDI_CART__REDIS_URL"), "{err}");
    }

    #[test]
    fn defaults_keep_carts_thirty_days_and_zero_rate_fresh_produce() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = CartConfig::from_env(&env, true).unwrap();
        assert_eq!(config.ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(
            config
                .tax_rates
                .rate_for(&["mangoes".into(), "fruits".into()]),
            0
        );
        assert_eq!(
            config
                .tax_rates
                .rate_for(&["nuts".into(), "dry-fruits-nuts".into()]),
            500
        );
    }

    #[test]
    fn bad_tax_rates_name_the_variable_and_the_entry() {
        let env = Env::from_pairs([("MANDI_CART__TAX_RATES", "fruits=five")]);
        let err = CartConfig::from_env(&env, true).err().unwrap().to_string();
        assert!(err.contains("MANDI_CART__TAX_RATES"), "{err}");
        assert!(err.contains("fruits=five"), "{err}");
    }

    #[test]
    fn a_ttl_under_a_minute_is_refused() {
        let env = Env::from_pairs([("MANDI_CART__TTL", "5s")]);
        let err = CartConfig::from_env(&env, true).err().unwrap();
        assert!(err.to_string().contains("MANDI_CART__TTL"), "{err}");
    }
}
