//! Redis adapter of [`CartStore`]: a cart is one string key holding its JSON (so GetCart
//! is one GET), with the cart's TTL; a user's cart is found through an index key with the
//! same TTL. Every write is one Lua script that checks what the writer read (the cart's
//! exact stored value, the merged guest cart's, the user's index entry and the
//! idempotency key) and writes only if nothing changed: compare-and-set without WATCH, so
//! one multiplexed connection serves every request.

use redis::aio::ConnectionManager;

use super::{CartStore, Expect, Loaded, Outcome, REQUEST_TTL, StoreError, Write, encoding};
use crate::domain::{CartId, RequestRecord};

/// KEYS: cart, user index, guest cart to delete, request record (unused ones are dummies).
/// ARGV: 1 expected cart value ('' = absent), 2 new value, 3 TTL in ms, 4 index check
/// ('' = none, '-' = absent, else the id it must hold), 5 index value ('' = guest cart),
/// 6 expected guest value ('' = nothing to delete), 7 request record ('' = none),
/// 8 request TTL in ms. Returns {1} saved, {0} conflict, {2, record} replayed.
const WRITE_SCRIPT: &str = r"
if ARGV[7] ~= '' then
  local done = redis.call('GET', KEYS[4])
  if done then return {2, done} end
end
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current then return {0} end
elseif current ~= ARGV[1] then
  return {0}
end
if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[6] then return {0} end
if ARGV[4] ~= '' then
  local owner = redis.call('GET', KEYS[2])
  if ARGV[4] == '-' then
    if owner then return {0} end
  elseif owner ~= ARGV[4] then
    return {0}
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[5] ~= '' then redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[3]) end
if ARGV[6] ~= '' then redis.call('DEL', KEYS[3]) end
if ARGV[7] ~= '' then redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8]) end
return {1}
";

/// Carts in Redis under a key prefix.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    write: redis::Script,
}

impl RedisStore {
    /// Connects to `url`; every key starts with `prefix` (so deployments and test runs
    /// can share a server).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let connection = ConnectionManager::new(client).await.map_err(backend)?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            write: redis::Script::new(WRITE_SCRIPT),
        })
    }

    /// The key holding cart `id` (benchmarks read it raw).
    pub fn cart_key(&self, id: &CartId) -> String {
        format!("{}cart:{id}", self.prefix)
    }

    fn owner_key(&self, user: &str) -> String {
        format!("{}user:{user}", self.prefix)
    }

    fn request_key(&self, key: &str) -> String {
        format!("{}request:{key}", self.prefix)
    }

    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(backend)
    }
}

/// Connection trouble is worth a retry; anything else Redis refused is a failure.
fn backend(error: redis::RedisError) -> StoreError {
    if error.is_io_error() || error.is_connection_dropped() || error.is_timeout() {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Failed(error.to_string())
    }
}

fn millis(ttl: std::time::Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl CartStore for RedisStore {
    async fn load(&self, id: &CartId) -> Result<Option<Loaded>, StoreError> {
        self.get(&self.cart_key(id))
            .await?
            .map(encoding::loaded)
            .transpose()
    }

    async fn cart_of(&self, user: &str) -> Result<Option<CartId>, StoreError> {
        Ok(self
            .get(&self.owner_key(user))
            .await?
            .map(CartId::from_stored))
    }

    async fn write(&self, write: Write<'_>) -> Result<Outcome, StoreError> {
        let cart = write.cart;
        let user = cart.user_id.as_deref().unwrap_or("-");
        let guest = write.delete.as_ref().map(|(id, _)| self.cart_key(id));
        let request = write.request.map(encoding::request).transpose()?;
        let request_key = write.request.map(|r| self.request_key(&r.key));
        let owner_check = match &write.owner_expect {
            None => String::new(),
            Some(None) => "-".to_owned(),
            Some(Some(id)) => id.as_str().to_owned(),
        };
        let mut invocation = self.write.prepare_invoke();
        invocation
            .key(self.cart_key(&cart.id))
            .key(self.owner_key(user))
            .key(guest.unwrap_or_else(|| format!("{}none", self.prefix)))
            .key(request_key.unwrap_or_else(|| format!("{}none", self.prefix)))
            .arg(match &write.expect {
                Expect::Absent => "",
                Expect::At(revision) => revision.0.as_str(),
            })
            .arg(encoding::cart(cart)?)
            .arg(millis(write.ttl))
            .arg(owner_check)
            .arg(cart.user_id.as_ref().map_or("", |_| cart.id.as_str()))
            .arg(
                write
                    .delete
                    .as_ref()
                    .map_or("", |(_, revision)| revision.0.as_str()),
            )
            .arg(request.unwrap_or_default())
            .arg(millis(REQUEST_TTL));
        let reply: Vec<redis::Value> = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(backend)?;
        match reply.as_slice() {
            [redis::Value::Int(1)] => Ok(Outcome::Saved),
            [redis::Value::Int(0)] => Ok(Outcome::Conflict),
            [redis::Value::Int(2), redis::Value::BulkString(record)] => {
                let text = String::from_utf8_lossy(record);
                Ok(Outcome::Replayed(encoding::record(&text)?))
            }
            other => Err(StoreError::Corrupt(format!(
                "unexpected reply from the cart write script: {other:?}"
            ))),
        }
    }

    async fn recall(&self, key: &str) -> Result<Option<RequestRecord>, StoreError> {
        self.get(&self.request_key(key))
            .await?
            .map(|text| encoding::record(&text))
            .transpose()
    }
}
