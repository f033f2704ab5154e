//! The in-memory twin of the Redis limiter, for the embedded default and unit tests: the
//! same GCRA step, with the timestamps in a map behind one lock (the check of all a call's
//! quotas is atomic, as in the Lua script).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use futures::future::BoxFuture;

use super::{Decision, LimitError, Quota, RateLimiter, gcra};

/// Entries are swept once the map grows past this, so one client per IP cannot grow it
/// without bound.
const SWEEP_AT: usize = 100_000;

/// Rate limits held in this process.
pub struct MemoryLimiter {
    started: Instant,
    /// Theoretical arrival time per key, in microseconds since `started`.
    tats: Mutex<HashMap<String, u64>>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            tats: Mutex::new(HashMap::new()),
        }
    }
}

impl MemoryLimiter {
    fn now_micros(&self) -> u64 {
        // Offset by a day so "no entry" (0) is always in the past.
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX / 4) + 86_400_000_000
    }

    fn decide(&self, quotas: &[Quota]) -> Decision {
        let now = self.now_micros();
        let mut tats = self
            .tats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut wait = 0;
        let mut next = Vec::with_capacity(quotas.len());
        for quota in quotas {
            let tat = tats.get(&quota.key).copied().unwrap_or(0);
            match gcra(tat, now, quota.limit) {
                Ok(new_tat) => next.push(new_tat),
                Err(more) => wait = wait.max(more),
            }
        }
        if wait > 0 {
            return Decision::Limited {
                retry_after: std::time::Duration::from_micros(wait),
            };
        }
        if tats.len() >= SWEEP_AT {
            // A key whose arrival time has passed is the same as no key.
            tats.retain(|_, tat| *tat > now);
        }
        for (quota, tat) in quotas.iter().zip(next) {
            tats.insert(quota.key.clone(), tat);
        }
        Decision::Allowed
    }
}

impl RateLimiter for MemoryLimiter {
    fn check<'a>(&'a self, quotas: &'a [Quota]) -> BoxFuture<'a, Result<Decision, LimitError>> {
        Box::pin(async move { Ok(self.decide(quotas)) })
    }
}
