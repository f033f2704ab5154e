//! mandi-catalog: products, the category tree and reviews, with full-text search over an
//! embedded index and a read-through cache. `module` builds the service for the server.
#![forbid(unsafe_code)]

pub mod cache;
pub mod domain;
pub mod grpc;
pub mod import;
pub mod search;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::catalog::v1::catalog_service_server::CatalogServiceServer;
use secrecy::{ExposeSecret, SecretString};

use crate::cache::CatalogCache;
use crate::cache::memory::MemoryCache;
use crate::cache::redis::RedisCache;
use crate::grpc::{CatalogGrpc, Currency};
use crate::service::Catalog;
use crate::store::CatalogStore;
use crate::store::memory::MemoryStore;
use crate::store::mongo::MongoStore;

/// The demo catalog `--target=all` starts with.
const DEMO_CATALOG: &str = include_str!("../data/demo-catalog.json");

/// Where the catalog keeps its data. URLs may hold passwords: no Debug.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// MongoDB for data, Redis for the read-through cache.
    Real {
        /// `MANDI_CATALOG__MONGO_URL`.
        mongo_url: SecretString,
        /// `MANDI_CATALOG__MONGO_DATABASE` (default `catalog`).
        mongo_database: String,
        /// `MANDI_CATALOG__REDIS_URL`.
        redis_url: SecretString,
        /// `MANDI_CATALOG__REDIS_PREFIX` (default `mandi:catalog:`).
        redis_prefix: String,
    },
}

/// Everything the catalog reads from configuration.
#[derive(Clone)]
pub struct CatalogConfig {
    /// Storage backends.
    pub backends: Backends,
    /// `MANDI_CATALOG__CURRENCY`: the marketplace currency (default INR).
    pub currency: String,
    /// `MANDI_CATALOG__CACHE_TTL`: how long cached reads live (default 5m).
    pub cache_ttl: Duration,
    /// `MANDI_CATALOG__SEED_FILE`: a catalog file imported when the catalog is empty; the
    /// embedded default uses the bundled demo catalog when unset.
    pub seed_file: Option<String>,
}

impl CatalogConfig {
    /// Reads the catalog's settings; `embedded` selects the in-memory backends.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                mongo_url: env
                    .require::<String>(
                        "MANDI_CATALOG__MONGO_URL",
                        "a MongoDB URL such as mongodb://127.0.0.1:27017",
                    )?
                    .into(),
                mongo_database: env
                    .get_or("MANDI_CATALOG__MONGO_DATABASE", "catalog".to_owned())?,
                redis_url: env
                    .get_or(
                        "MANDI_CATALOG__REDIS_URL",
                        "redis://127.0.0.1:6379".to_owned(),
                    )?
                    .into(),
                redis_prefix: env
                    .get_or("MANDI_CATALOG__REDIS_PREFIX", "mandi:catalog:".to_owned())?,
            }
        };
        let currency: String = env.get_or("MANDI_CATALOG__CURRENCY", "INR".to_owned())?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::Invalid {
                var: "MANDI_CATALOG__CURRENCY".into(),
                value: currency,
                reason: "expected an ISO 4217 code like INR".into(),
            });
        }
        Ok(Self {
            backends,
            currency,
            cache_ttl: env.duration_or("MANDI_CATALOG__CACHE_TTL", Duration::from_secs(300))?,
            seed_file: env.get("MANDI_CATALOG__SEED_FILE")?,
        })
    }
}

/// Builds the catalog with its configured backends.
pub async fn module(config: CatalogConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => {
            build(
                MemoryStore::default(),
                MemoryCache::new(config.cache_ttl),
                &config,
            )
            .await
        }
        Backends::Real {
            mongo_url,
            mongo_database,
            redis_url,
            redis_prefix,
        } => {
            let store = MongoStore::connect(mongo_url.expose_secret(), mongo_database)
                .await
                .context("cannot open the catalog's MongoDB database")?;
            let cache =
                RedisCache::connect(redis_url.expose_secret(), redis_prefix, config.cache_ttl)
                    .context("MANDI_CATALOG__REDIS_URL is not a Redis URL")?;
            build(store, cache, &config).await
        }
    }
}

async fn build<S: CatalogStore, C: CatalogCache>(
    store: S,
    cache: C,
    config: &CatalogConfig,
) -> anyhow::Result<Module> {
    let catalog = Arc::new(Catalog::new(store, cache).await?);
    let currency = Currency(config.currency.clone());
    let seed = match (&config.seed_file, &config.backends) {
        (Some(path), _) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read MANDI_CATALOG__SEED_FILE {path}"))?,
        ),
        (None, Backends::Memory) => Some(DEMO_CATALOG.to_owned()),
        (None, Backends::Real { .. }) => None,
    };
    if let Some(json) = seed {
        let imported = import::import_if_empty(&catalog, &currency, &json).await?;
        if imported > 0 {
            tracing::info!(products = imported, "catalog seeded");
        }
    }
    let service = CatalogServiceServer::new(CatalogGrpc::new(catalog, currency));
    Ok(Module::new(service, grpc::POLICIES))
}
