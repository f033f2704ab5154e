//! Redis adapter of [`AttemptCounter`]: counts survive restarts and are shared by replicas.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::{AttemptCounter, StoreError, Window};

/// Failed-attempt windows as Redis keys with a TTL.
#[derive(Clone)]
pub struct RedisAttempts {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisAttempts {
    /// Connects to `url`; every key is put under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let connection = ConnectionManager::new(client).await.map_err(backend)?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

/// Connection trouble is UNAVAILABLE (worth a retry); anything else Redis refused is a
/// plain failure.
fn backend(error: redis::RedisError) -> StoreError {
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
    {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Failed(error.to_string())
    }
}

fn window(failures: u32, ttl_ms: i64) -> Window {
    Window {
        failures,
        resets_in: Duration::from_millis(ttl_ms.max(0).unsigned_abs()),
    }
}

impl AttemptCounter for RedisAttempts {
    async fn window(&self, key: &str) -> Result<Option<Window>, StoreError> {
        let mut connection = self.connection.clone();
        let (failures, ttl_ms): (Option<u32>, i64) = redis::pipe()
            .get(self.key(key))
            .pttl(self.key(key))
            .query_async(&mut connection)
            .await
            .map_err(backend)?;
        Ok(failures.map(|failures| window(failures, ttl_ms)))
    }

    async fn record_attempt(&self, key: &str, length: Duration) -> Result<Window, StoreError> {
        // INCR and the first PEXPIRE in one script, so a crash between them cannot leave
        // a counter that never expires.
        let script = redis::Script::new(
            "local n = redis.call('INCR', KEYS[1]) \
             if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
             return {n, redis.call('PTTL', KEYS[1])}",
        );
        let mut connection = self.connection.clone();
        let (failures, ttl_ms): (u32, i64) = script
            .key(self.key(key))
            .arg(u64::try_from(length.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut connection)
            .await
            .map_err(backend)?;
        Ok(window(failures, ttl_ms))
    }

    async fn forgive(&self, key: &str) -> Result<(), StoreError> {
        // Never below zero, and never turning a missing key into a negative counter.
        let script = redis::Script::new(
            "if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 \
             then redis.call('DECR', KEYS[1]) end return 1",
        );
        let mut connection = self.connection.clone();
        script
            .key(self.key(key))
            .invoke_async::<i64>(&mut connection)
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut connection)
            .await
            .map_err(backend)
    }
}
