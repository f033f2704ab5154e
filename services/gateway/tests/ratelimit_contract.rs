//! One contract for every rate limit store: the in-memory twin and Redis (real, from
//! `MANDI_TEST_REDIS_URL`; the test fails when Redis is missing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use mandi_gateway::ratelimit::memory::MemoryLimiter;
use mandi_gateway::ratelimit::redis::RedisLimiter;
use mandi_gateway::ratelimit::{Decision, Limit, Quota, RateLimiter};

fn quota(key: &str, limit: &str) -> Quota {
    Quota {
        key: key.to_owned(),
        limit: Limit::parse(limit).unwrap(),
    }
}

fn unique(name: &str) -> String {
    format!("{name}:{}", uuid::Uuid::now_v7().simple())
}

async fn contract<L: RateLimiter>(limiter: L) {
    a_burst_is_allowed_then_refused_with_a_retry_time(&limiter).await;
    after_the_retry_time_a_call_goes_through(&limiter).await;
    keys_are_counted_apart(&limiter).await;
    a_call_refused_by_one_quota_is_not_charged_to_the_others(&limiter).await;
    concurrent_calls_never_take_more_than_the_burst(&limiter).await;
}

async fn a_burst_is_allowed_then_refused_with_a_retry_time<L: RateLimiter>(limiter: &L) {
    let quotas = [quota(&unique("ip"), "3/3s")];
    for _ in 0..3 {
        assert_eq!(limiter.check(&quotas).await.unwrap(), Decision::Allowed);
    }
    match limiter.check(&quotas).await.unwrap() {
        Decision::Limited { retry_after } => {
            // One call's worth of the period (1s), less the time the calls took.
            assert!(retry_after <= Duration::from_secs(1), "{retry_after:?}");
            assert!(retry_after > Duration::from_millis(500), "{retry_after:?}");
        }
        Decision::Allowed => panic!("a fourth call within the burst of 3 went through"),
    }
}

async fn after_the_retry_time_a_call_goes_through<L: RateLimiter>(limiter: &L) {
    let quotas = [quota(&unique("ip"), "2/400ms")];
    limiter.check(&quotas).await.unwrap();
    limiter.check(&quotas).await.unwrap();
    let Decision::Limited { retry_after } = limiter.check(&quotas).await.unwrap() else {
        panic!("the third call of a burst of 2 went through");
    };
    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert_eq!(limiter.check(&quotas).await.unwrap(), Decision::Allowed);
}

async fn keys_are_counted_apart<L: RateLimiter>(limiter: &L) {
    let first = [quota(&unique("user"), "1/10s")];
    let second = [quota(&unique("user"), "1/10s")];
    assert_eq!(limiter.check(&first).await.unwrap(), Decision::Allowed);
    assert_eq!(limiter.check(&second).await.unwrap(), Decision::Allowed);
    assert!(matches!(
        limiter.check(&first).await.unwrap(),
        Decision::Limited { .. }
    ));
}

async fn a_call_refused_by_one_quota_is_not_charged_to_the_others<L: RateLimiter>(limiter: &L) {
    let ip = quota(&unique("ip"), "2/10s");
    let user = quota(&unique("user"), "1/10s");
    let both = [ip.clone(), user];
    assert_eq!(limiter.check(&both).await.unwrap(), Decision::Allowed);
    // The user's quota is spent: refused, and the IP's second call is not used up.
    assert!(matches!(
        limiter.check(&both).await.unwrap(),
        Decision::Limited { .. }
    ));
    assert_eq!(
        limiter.check(std::slice::from_ref(&ip)).await.unwrap(),
        Decision::Allowed
    );
    assert!(matches!(
        limiter.check(&[ip]).await.unwrap(),
        Decision::Limited { .. }
    ));
}

async fn concurrent_calls_never_take_more_than_the_burst<L: RateLimiter>(limiter: &L) {
    let quotas = [quota(&unique("ip"), "20/60s")];
    let calls = (0..50).map(|_| limiter.check(&quotas));
    let outcomes = futures::future::join_all(calls).await;
    let allowed = outcomes
        .into_iter()
        .filter(|o| matches!(o, Ok(Decision::Allowed)))
        .count();
    assert_eq!(allowed, 20);
}

#[tokio::test]
async fn the_memory_limiter_keeps_the_contract() {
    contract(MemoryLimiter::default()).await;
}

#[tokio::test]
async fn the_redis_limiter_keeps_the_contract() {
    let (url, prefix) = mandi_testkit::redis_with_prefix().await;
    let limiter = RedisLimiter::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url}: {e}"));
    contract(limiter).await;
}
