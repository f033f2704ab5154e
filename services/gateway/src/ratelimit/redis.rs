//! Rate limits in Redis, shared by every gateway replica. One Lua script reads, decides
//! and writes all of a call's quotas, on Redis's own clock, so concurrent calls through
//! different replicas can never both take the last token.

use futures::future::BoxFuture;
use redis::aio::ConnectionManager;

use super::{Decision, LimitError, Quota, RateLimiter};

/// GCRA over every key in KEYS with ARGV = interval, period (µs) per key; returns
/// {1, 0} and stores the new arrival times when all allow, else {0, µs to wait} and
/// changes nothing. Keys expire once their arrival time has passed.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local period = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - period
  if allow_at > now and allow_at - now > wait then wait = allow_at - now end
  tats[i] = new_tat
end
if wait > 0 then return {0, wait} end
for i, key in ipairs(KEYS) do
  local ttl_ms = math.floor((tats[i] - now) / 1000) + 1
  redis.call('SET', key, string.format('%d', tats[i]), 'PX', ttl_ms)
end
return {1, 0}
";

/// Rate limits in Redis under a key prefix.
#[derive(Clone)]
pub struct RedisLimiter {
    connection: ConnectionManager,
    prefix: String,
    script: redis::Script,
}

impl RedisLimiter {
    /// Connects to `url`; keys start with `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, LimitError> {
        let client = redis::Client::open(url).map_err(|e| LimitError(e.to_string()))?;
        let connection = ConnectionManager::new(client)
            .await
            .map_err(|e| LimitError(e.to_string()))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            script: redis::Script::new(SCRIPT),
        })
    }
}

impl RateLimiter for RedisLimiter {
    fn check<'a>(&'a self, quotas: &'a [Quota]) -> BoxFuture<'a, Result<Decision, LimitError>> {
        Box::pin(async move {
            let mut invocation = self.script.prepare_invoke();
            for quota in quotas {
                invocation
                    .key(format!("{}{}", self.prefix, quota.key))
                    .arg(quota.limit.interval_micros())
                    .arg(quota.limit.period_micros());
            }
            let mut connection = self.connection.clone();
            let (allowed, wait): (i64, i64) = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(|e| LimitError(e.to_string()))?;
            Ok(if allowed == 1 {
                Decision::Allowed
            } else {
                Decision::Limited {
                    retry_after: std::time::Duration::from_micros(wait.max(1).unsigned_abs()),
                }
            })
        })
    }
}
