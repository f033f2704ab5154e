//! Redis adapter of the cache: JSON values with a TTL, shared by every replica.
//!
//! Every call is bounded by a short timeout, and a failed call opens a breaker that skips
//! Redis for a moment: a cache that is down costs one timeout, then reads go straight to
//! the store until it is back.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::CatalogCache;
use crate::domain::{Category, Product};

/// How long a Redis call may take before the cache counts as down for that call.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is skipped after a failed call.
const COOLDOWN: Duration = Duration::from_secs(2);

/// Compare-and-set of a product: only a newer state (higher version, or the same version
/// with more reviews) replaces the cached one, in one step on the server, so no
/// interleaving of readers and writers puts an older state over a newer one.
const PUT_IF_NEWER: &str = "local cur = redis.call('GET', KEYS[1]) \
     if cur then \
       local ok, doc = pcall(cjson.decode, cur) \
       if ok and type(doc) == 'table' and doc.version then \
         local v, n = tonumber(ARGV[2]), tonumber(ARGV[3]) \
         if doc.version > v or (doc.version == v and doc.rating.count >= n) then \
           return 0 \
         end \
       end \
     end \
     redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[4]) \
     return 1";

/// The catalog cache in Redis under `prefix`.
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
    ttl: Duration,
    skip_until: Arc<Mutex<Option<Instant>>>,
}

impl RedisCache {
    /// A cache at `url` that connects on first use: Redis being down at start, like later,
    /// only makes reads miss. Only a malformed URL is an error.
    pub fn connect(url: &str, prefix: &str, ttl: Duration) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            ttl,
            skip_until: Arc::default(),
        })
    }

    fn product_key(&self, id: Uuid) -> String {
        format!("{}product:{id}", self.prefix)
    }

    fn categories_key(&self) -> String {
        format!("{}categories", self.prefix)
    }

    /// Runs one Redis call unless the breaker is open; `None` when skipped or failed.
    async fn guarded<T>(
        &self,
        key: &str,
        what: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Option<T> {
        if self.breaker_open() {
            return None;
        }
        let error = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(error)) => error.to_string(),
            Err(_) => "timed out".to_owned(),
        };
        // A stale entry left by a failed invalidation lives at most one TTL.
        tracing::warn!(%key, %error, "cache {what} failed; skipping Redis for {COOLDOWN:?}");
        *self.skip_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + COOLDOWN);
        None
    }

    /// Whether Redis is being skipped after a recent failure.
    fn breaker_open(&self) -> bool {
        let skip_until = self.skip_until.lock().unwrap_or_else(|p| p.into_inner());
        skip_until.is_some_and(|until| Instant::now() < until)
    }

    async fn read<T: DeserializeOwned>(&self, key: String) -> Option<T> {
        let mut connection = self.connection.clone();
        let bytes = self
            .guarded(&key, "read", connection.get::<_, Option<Vec<u8>>>(&key))
            .await??;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(%key, %error, "dropping unreadable cache entry");
                self.delete(key).await;
                None
            }
        }
    }

    async fn write<T: Serialize>(&self, key: String, value: &T) {
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        let mut connection = self.connection.clone();
        let ttl = self.ttl.as_secs().max(1);
        self.guarded(
            &key,
            "write",
            connection.set_ex::<_, _, ()>(&key, bytes, ttl),
        )
        .await;
    }

    async fn delete(&self, key: String) {
        let mut connection = self.connection.clone();
        self.guarded(&key, "invalidation", connection.del::<_, ()>(&key))
            .await;
    }
}

impl CatalogCache for RedisCache {
    async fn product(&self, id: Uuid) -> Option<Product> {
        self.read(self.product_key(id)).await
    }

    async fn put_product(&self, product: &Product) {
        let Ok(json) = serde_json::to_vec(product) else {
            return;
        };
        let key = self.product_key(product.id);
        let script = redis::Script::new(PUT_IF_NEWER);
        let mut invocation = script.key(&key);
        invocation
            .arg(json)
            .arg(product.version)
            .arg(product.rating.count)
            .arg(self.ttl.as_secs().max(1));
        let mut connection = self.connection.clone();
        self.guarded(
            &key,
            "write",
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await;
    }

    async fn forget_product(&self, id: Uuid) {
        self.delete(self.product_key(id)).await;
    }

    async fn categories(&self) -> Option<Vec<Category>> {
        self.read(self.categories_key()).await
    }

    async fn put_categories(&self, categories: &[Category]) {
        self.write(self.categories_key(), &categories).await;
    }

    async fn forget_categories(&self) {
        self.delete(self.categories_key()).await;
    }
}
