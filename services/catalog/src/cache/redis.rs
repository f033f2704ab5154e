//! Redis adapter of the cache: JSON values with a TTL, shared by every replica.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::CatalogCache;
use crate::domain::{Category, Product};

/// How long a Redis call may take before the cache counts as down for that read.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);

/// The catalog cache in Redis under `prefix`.
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
    ttl: Duration,
}

impl RedisCache {
    /// Connects to `url`. Failing to connect at start is an error; failing later is a miss.
    pub async fn connect(
        url: &str,
        prefix: &str,
        ttl: Duration,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let connection = ConnectionManager::new(client).await?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            ttl,
        })
    }

    fn product_key(&self, id: Uuid) -> String {
        format!("{}product:{id}", self.prefix)
    }

    fn categories_key(&self) -> String {
        format!("{}categories", self.prefix)
    }

    async fn read<T: DeserializeOwned>(&self, key: String) -> Option<T> {
        let mut connection = self.connection.clone();
        let call = connection.get::<_, Option<Vec<u8>>>(&key);
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(Some(bytes))) => match serde_json::from_slice(&bytes) {
                Ok(value) => Some(value),
                Err(error) => {
                    tracing::warn!(%key, %error, "dropping unreadable cache entry");
                    self.delete(key).await;
                    None
                }
            },
            Ok(Ok(None)) => None,
            Ok(Err(error)) => {
                tracing::warn!(%key, %error, "cache read failed; reading the store");
                None
            }
            Err(_) => {
                tracing::warn!(%key, "cache read timed out; reading the store");
                None
            }
        }
    }

    async fn write<T: Serialize>(&self, key: String, value: &T) {
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        let mut connection = self.connection.clone();
        let call = connection.set_ex::<_, _, ()>(&key, bytes, self.ttl.as_secs().max(1));
        if let Err(error) = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| "timed out".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            tracing::warn!(%key, %error, "cache write failed");
        }
    }

    async fn delete(&self, key: String) {
        let mut connection = self.connection.clone();
        let call = connection.del::<_, ()>(&key);
        if let Err(error) = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| "timed out".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            // The TTL bounds how long the stale entry can live.
            tracing::error!(%key, %error, "cache invalidation failed");
        }
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
        // Compare and set in one step on the server, so no interleaving of readers and
        // writers can put an older state over a newer one.
        let script = redis::Script::new(
            "local cur = redis.call('GET', KEYS[1]) \
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
             return 1",
        );
        let key = self.product_key(product.id);
        let mut connection = self.connection.clone();
        let mut invocation = script.key(&key);
        invocation
            .arg(json)
            .arg(product.version)
            .arg(product.rating.count)
            .arg(self.ttl.as_secs().max(1));
        let call = invocation.invoke_async::<i64>(&mut connection);
        if let Err(error) = tokio::time::timeout(CALL_TIMEOUT, call)
            .await
            .map_err(|_| "timed out".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()))
        {
            tracing::warn!(%key, %error, "cache write failed");
        }
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
