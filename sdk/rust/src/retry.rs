//! When and how soon a retry-safe call is sent again: only after UNAVAILABLE, with
//! exponential backoff and jitter so clients restarting together do not retry together.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use rand::Rng as _;
use tonic::Code;

/// How a call that failed with UNAVAILABLE is retried. Only calls that are safe to repeat
/// are retried at all (see [`is_retry_safe`](crate::is_retry_safe)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// Backoff before the first retry; it doubles for each retry after that.
    pub initial_backoff: Duration,
    /// Upper bound of the backoff.
    pub max_backoff: Duration,
}

/// What to do with the outcome of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand the outcome to the caller.
    Final,
    /// Send again, after the server's pushback when it gave one.
    Retry { pushback: Option<Duration> },
}

// === impl RetryPolicy ===

impl RetryPolicy {
    /// A policy that sends every call once.
    pub const fn none() -> Self {
        Self {
            max_attempts: 1,
            initial_backoff: Duration::ZERO,
            max_backoff: Duration::ZERO,
        }
    }

    /// The wait before retry number `retry` (1 for the first retry): a random duration
    /// between half and all of `initial_backoff * 2^(retry-1)`, capped at `max_backoff`.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        // Half fixed, half random: spreads clients out without ever retrying at once.
        let floor = ceiling / 2;
        if ceiling <= floor {
            return ceiling;
        }
        rand::thread_rng().gen_range(floor..=ceiling)
    }
}

impl Default for RetryPolicy {
    /// Three attempts, 50 ms initial backoff, at most 1 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        }
    }
}

/// Judges a response's headers: UNAVAILABLE in a trailers-only response, or an HTTP 502,
/// 503 or 504 without any gRPC status (a proxy answering for a server that is gone, which
/// gRPC maps to UNAVAILABLE), is retried; everything else is final, and so is a response
/// whose `grpc-retry-pushback-ms` is not a non-negative number (the server's "do not retry").
pub(crate) fn judge_response(status: StatusCode, headers: &HeaderMap) -> Verdict {
    let unavailable = match headers.get("grpc-status") {
        Some(code) => {
            code.to_str().ok().and_then(|c| c.parse::<i32>().ok()) == Some(Code::Unavailable as i32)
        }
        None => matches!(
            status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        ),
    };
    if !unavailable {
        return Verdict::Final;
    }
    match headers.get("grpc-retry-pushback-ms") {
        None => Verdict::Retry { pushback: None },
        Some(value) => match value.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
            Some(ms) => Verdict::Retry {
                pushback: Some(Duration::from_millis(ms)),
            },
            None => Verdict::Final,
        },
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn backoff_doubles_within_its_jitter_band() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
        };
        for _ in 0..100 {
            let first = policy.backoff(1);
            let third = policy.backoff(3);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
        }
    }

    #[test]
    fn backoff_never_passes_the_maximum() {
        let policy = RetryPolicy::default();
        for retry in [1, 5, 10, 40, u32::MAX] {
            assert!(policy.backoff(retry) <= policy.max_backoff, "retry {retry}");
        }
    }

    #[test]
    fn the_default_policy_makes_three_attempts() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.max_attempts, 3);
        assert_eq!(policy.initial_backoff, Duration::from_millis(50));
        assert_eq!(policy.max_backoff, Duration::from_secs(1));
    }

    #[test]
    fn trailers_only_unavailable_is_retried() {
        let verdict = judge_response(StatusCode::OK, &headers(&[("grpc-status", "14")]));
        assert_eq!(verdict, Verdict::Retry { pushback: None });
    }

    #[test]
    fn other_codes_are_final() {
        for code in ["0", "3", "4", "13", "16"] {
            let mut map = HeaderMap::new();
            map.insert("grpc-status", HeaderValue::from_static(code));
            assert_eq!(
                judge_response(StatusCode::OK, &map),
                Verdict::Final,
                "{code}"
            );
        }
    }

    #[test]
    fn a_normal_response_whose_status_comes_in_trailers_is_final() {
        assert_eq!(
            judge_response(StatusCode::OK, &HeaderMap::new()),
            Verdict::Final
        );
    }

    #[test]
    fn a_proxy_503_without_grpc_status_is_retried() {
        let verdict = judge_response(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new());
        assert_eq!(verdict, Verdict::Retry { pushback: None });
    }

    #[test]
    fn server_pushback_sets_the_wait_or_stops_retries() {
        let wait = headers(&[("grpc-status", "14"), ("grpc-retry-pushback-ms", "250")]);
        let stop = headers(&[("grpc-status", "14"), ("grpc-retry-pushback-ms", "-1")]);

        assert_eq!(
            judge_response(StatusCode::OK, &wait),
            Verdict::Retry {
                pushback: Some(Duration::from_millis(250))
            }
        );
        assert_eq!(judge_response(StatusCode::OK, &stop), Verdict::Final);
    }
}
