//! What the services do, beside the RED metrics of their calls: checkout saga steps and
//! outcomes, outbox lag, event consumption and consumer lag, stock reservations, and the
//! catalog cache. One set per process (a process serves one admin port), registered in the
//! server's registry by [`GrpcMetrics::new`](super::GrpcMetrics::new); services record
//! through the free functions below, which cost one map lookup and an atomic add.
//!
//! Every label takes values from a small fixed set (step names, outcome and failure
//! reasons, producer and consumer group names, event type names), so series stay bounded.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProducerLabels {
    producer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumedLabels {
    group: String,
    event_type: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: String,
    result: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn delay_histogram() -> Histogram {
    // 1 ms .. ~65 s: an event waits from milliseconds (in process) to a broker outage.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The process's domain metrics.
pub(super) struct DomainMetrics {
    saga_steps: Family<StepLabels, Counter>,
    saga_outcomes: Family<OutcomeLabels, Counter>,
    outbox_pending: Family<ProducerLabels, Gauge>,
    outbox_oldest_age: Family<ProducerLabels, Gauge<f64, AtomicU64>>,
    outbox_published: Family<ProducerLabels, Counter>,
    outbox_failures: Family<ProducerLabels, Counter>,
    outbox_delay: Histograms<ProducerLabels>,
    events_consumed: Family<ConsumedLabels, Counter>,
    consume_delay: Histograms<GroupLabels>,
    consumer_lag: Family<GroupLabels, Gauge>,
    reservations: Family<ResultLabels, Counter>,
    cache: Family<CacheLabels, Counter>,
}

fn domain() -> &'static DomainMetrics {
    static METRICS: OnceLock<DomainMetrics> = OnceLock::new();
    METRICS.get_or_init(|| DomainMetrics {
        saga_steps: Family::default(),
        saga_outcomes: Family::default(),
        outbox_pending: Family::default(),
        outbox_oldest_age: Family::default(),
        outbox_published: Family::default(),
        outbox_failures: Family::default(),
        outbox_delay: Family::new_with_constructor(delay_histogram),
        events_consumed: Family::default(),
        consume_delay: Family::new_with_constructor(delay_histogram),
        consumer_lag: Family::default(),
        reservations: Family::default(),
        cache: Family::default(),
    })
}

/// Registers the process's domain metrics in `registry` (they are shared, not copied).
pub(super) fn register(registry: &mut Registry) {
    let m = domain();
    registry.register(
        "checkout_saga_steps",
        "Checkout saga steps finished, by step and result (done or failed): the checkout funnel",
        m.saga_steps.clone(),
    );
    registry.register(
        "checkout_saga_outcomes",
        "Checkout sagas ended, by outcome (completed or failed) and failure reason",
        m.saga_outcomes.clone(),
    );
    registry.register(
        "outbox_pending_records",
        "Outbox records not yet published at the last relay pass (up to one batch), by producer",
        m.outbox_pending.clone(),
    );
    registry.register(
        "outbox_oldest_pending_age_seconds",
        "Age of the oldest unpublished outbox record at the last relay pass (0 when drained), by producer",
        m.outbox_oldest_age.clone(),
    );
    registry.register(
        "outbox_published",
        "Outbox records published, by producer",
        m.outbox_published.clone(),
    );
    registry.register(
        "outbox_publish_failures",
        "Outbox publish attempts that failed (retried on a later pass), by producer",
        m.outbox_failures.clone(),
    );
    registry.register(
        "outbox_relay_delay_seconds",
        "Time from an event happening to its outbox record being published, by producer",
        m.outbox_delay.clone(),
    );
    registry.register(
        "events_consumed",
        "Events a consumer group finished, by group, event type and result (handled or dead_lettered)",
        m.events_consumed.clone(),
    );
    registry.register(
        "event_consume_delay_seconds",
        "Time from an event happening to a consumer group finishing it, by group",
        m.consume_delay.clone(),
    );
    registry.register(
        "consumer_lag_events",
        "Events waiting for a consumer group after the one it last finished, by group",
        m.consumer_lag.clone(),
    );
    registry.register(
        "inventory_reservations",
        "Stock reservation attempts, by result (reserved, or why it failed)",
        m.reservations.clone(),
    );
    registry.register(
        "catalog_cache_lookups",
        "Catalog cache lookups, by cache (product, categories) and result (hit or miss)",
        m.cache.clone(),
    );
}

// === checkout ===

/// A checkout saga step finished: `result` is `done` or `failed`.
pub fn checkout_step(step: &str, result: &'static str) {
    domain()
        .saga_steps
        .get_or_create(&StepLabels {
            step: step.to_owned(),
            result: result.to_owned(),
        })
        .inc();
}

/// A checkout saga ended: `outcome` is `completed` or `failed`; `reason` names why it failed
/// (empty when it completed).
pub fn checkout_outcome(outcome: &'static str, reason: &str) {
    domain()
        .saga_outcomes
        .get_or_create(&OutcomeLabels {
            outcome: outcome.to_owned(),
            reason: reason.to_owned(),
        })
        .inc();
}

// === outbox ===

/// A relay pass of `producer`'s outbox found `pending` records, the oldest `oldest` old.
pub(crate) fn outbox_pass(producer: &str, pending: usize, oldest: Duration) {
    let labels = ProducerLabels {
        producer: producer.to_owned(),
    };
    let m = domain();
    m.outbox_pending
        .get_or_create(&labels)
        .set(i64::try_from(pending).unwrap_or(i64::MAX));
    m.outbox_oldest_age
        .get_or_create(&labels)
        .set(oldest.as_secs_f64());
}

/// One record of `producer`'s outbox went out, `delay` after its event happened.
pub(crate) fn outbox_published(producer: &str, delay: Duration) {
    let labels = ProducerLabels {
        producer: producer.to_owned(),
    };
    let m = domain();
    m.outbox_published.get_or_create(&labels).inc();
    // The failure count exists (at zero) beside the first success: a series that appears
    // only when something fails cannot be graphed as a rate, nor alerted on from zero.
    drop(m.outbox_failures.get_or_create(&labels));
    m.outbox_delay
        .get_or_create(&labels)
        .observe(delay.as_secs_f64());
}

/// Publishing a record of `producer`'s outbox failed.
pub(crate) fn outbox_failed(producer: &str) {
    domain()
        .outbox_failures
        .get_or_create(&ProducerLabels {
            producer: producer.to_owned(),
        })
        .inc();
}

// === consumers ===

/// Consumer group `group` finished an event of `event_type` (`result`: `handled` or
/// `dead_lettered`), `delay` after it happened.
pub fn event_consumed(group: &str, event_type: &str, result: &'static str, delay: Duration) {
    let m = domain();
    m.events_consumed
        .get_or_create(&ConsumedLabels {
            group: group.to_owned(),
            event_type: event_type.to_owned(),
            result: result.to_owned(),
        })
        .inc();
    m.consume_delay
        .get_or_create(&GroupLabels {
            group: group.to_owned(),
        })
        .observe(delay.as_secs_f64());
}

/// Consumer group `group` has `behind` events waiting after the one it just finished.
pub fn consumer_lag(group: &str, behind: u64) {
    domain()
        .consumer_lag
        .get_or_create(&GroupLabels {
            group: group.to_owned(),
        })
        .set(i64::try_from(behind).unwrap_or(i64::MAX));
}

// === inventory ===

/// A stock reservation was tried: `result` is `reserved` or why it failed
/// (`insufficient_stock`, `invalid`, ...).
pub fn reservation(result: &'static str) {
    domain()
        .reservations
        .get_or_create(&ResultLabels {
            result: result.to_owned(),
        })
        .inc();
}

// === catalog ===

/// The catalog looked `cache` (`product` or `categories`) up and found it (`hit`) or not.
pub fn cache_lookup(cache: &'static str, hit: bool) {
    domain()
        .cache
        .get_or_create(&CacheLabels {
            cache: cache.to_owned(),
            result: if hit { "hit" } else { "miss" }.to_owned(),
        })
        .inc();
}
