//! Rate limits per client IP and per signed-in user, by GCRA (the generic cell rate
//! algorithm: a token bucket kept as one timestamp per key). Real deployments keep the
//! timestamps in Redis so every gateway replica shares them, updated in one Lua script;
//! the embedded default keeps them in memory. One contract suite runs against both
//! (`tests/ratelimit_contract.rs`).

pub mod memory;
pub mod redis;

use std::time::Duration;

use futures::future::BoxFuture;

/// `count` calls per `period`, all of which may come at once (the burst).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Calls allowed per period; at least 1.
    pub count: u32,
    /// The period; at least 1ms.
    pub period: Duration,
}

impl Limit {
    /// Parses `count/period`, like `600/1m` or `20/1s`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (count, period) = text
            .split_once('/')
            .ok_or_else(|| "expected calls/period, like 600/1m".to_owned())?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("{count:?} is not a whole number of calls"))?;
        let period = mandi_runtime::config::parse_duration(period.trim())
            .ok_or_else(|| format!("{period:?} is not a duration like 1m"))?;
        if count == 0 {
            return Err("must allow at least 1 call".into());
        }
        if period < Duration::from_millis(1) {
            return Err("the period must be at least 1ms".into());
        }
        Ok(Self { count, period })
    }

    /// Microseconds between calls at the steady rate (at least 1).
    fn interval_micros(&self) -> u64 {
        (self.period_micros() / u64::from(self.count)).max(1)
    }

    fn period_micros(&self) -> u64 {
        u64::try_from(self.period.as_micros()).unwrap_or(u64::MAX / 4)
    }
}

/// One limit applied to one key (`ip:203.0.113.7`, `user:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// What is counted.
    pub key: String,
    /// How much of it is allowed.
    pub limit: Limit,
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; every quota was charged one call.
    Allowed,
    /// Over a quota; nothing was charged. Retry after this long.
    Limited {
        /// When the first call would be allowed again.
        retry_after: Duration,
    },
}

/// Why a check could not be made.
#[derive(Debug, thiserror::Error)]
#[error("rate limit store failed: {0}")]
pub struct LimitError(pub String);

/// Checks and charges quotas; all of a call's quotas at once, so a call refused by one
/// limit is not charged to the others.
pub trait RateLimiter: Send + Sync + 'static {
    /// Charges one call to every quota if all allow it.
    fn check<'a>(&'a self, quotas: &'a [Quota]) -> BoxFuture<'a, Result<Decision, LimitError>>;
}

/// The GCRA step of one key, in microseconds: given the stored theoretical arrival time
/// (`tat`, 0 when none) and `now`, the new `tat` when allowed, or how long to wait. The
/// in-memory limiter runs this; the Lua script in `redis` is the same arithmetic.
pub fn gcra(tat: u64, now: u64, limit: Limit) -> Result<u64, u64> {
    let new_tat = tat.max(now) + limit.interval_micros();
    let allow_at = new_tat.saturating_sub(limit.period_micros());
    if allow_at > now {
        Err(allow_at - now)
    } else {
        Ok(new_tat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_calls_per_period() {
        let limit = Limit::parse("600/1m").unwrap();
        assert_eq!(limit.count, 600);
        assert_eq!(limit.period, Duration::from_secs(60));
        assert!(Limit::parse("0/1s").is_err());
        assert!(Limit::parse("ten/1s").is_err());
        assert!(Limit::parse("10").is_err());
    }

    #[test]
    fn gcra_allows_the_burst_then_one_call_per_interval() {
        let limit = Limit::parse("4/1s").unwrap();
        let mut tat = 0;
        let now = 1_000_000_000;
        for _ in 0..4 {
            tat = gcra(tat, now, limit).unwrap();
        }
        let wait = gcra(tat, now, limit).unwrap_err();
        assert_eq!(wait, 250_000);
        assert!(gcra(tat, now + wait, limit).is_ok());
    }
}
