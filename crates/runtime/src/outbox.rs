//! The transactional outbox's relay (for services that write events in the same database
//! transaction as the state change they announce): [`OutboxStore`] is the port a service's
//! store implements over its outbox table, and [`Relay`] moves pending records to an
//! [`EventPublisher`], oldest first, marking each sent only after it was published: at
//! least once, in order, surviving restarts (a record published but not yet marked goes
//! out again).
//!
//! Order per aggregate holds because a relay publishes one record at a time in sequence
//! order and stops at the first failure; a store serving several replicas must hand its
//! pending records to one relay at a time (for example under a PostgreSQL advisory lock
//! held for the batch).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use tracing::Instrument as _;

use crate::events::{EventPublisher, age, continue_trace, publish_envelope};
use crate::metrics;

/// The longest wait between relay passes while publishing keeps failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// An event waiting in an outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRecord {
    /// Position in the outbox: records are published in this order.
    pub sequence: i64,
    /// The event.
    pub envelope: EventEnvelope,
    /// W3C trace context (`traceparent`, `tracestate`) of the request that wrote it, so
    /// the published event joins that trace.
    pub trace_headers: Vec<(String, String)>,
}

/// Why the outbox could not be read or updated.
#[derive(Debug, thiserror::Error)]
#[error("outbox storage failed: {0}")]
pub struct OutboxError(pub String);

/// The outbox table of one service.
pub trait OutboxStore: Send + Sync + 'static {
    /// Up to `limit` unsent records, lowest sequence first.
    fn pending(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>, OutboxError>> + Send;

    /// Marks the record at `sequence` sent.
    fn mark_sent(&self, sequence: i64) -> impl Future<Output = Result<(), OutboxError>> + Send;
}

impl<S: OutboxStore> OutboxStore for Arc<S> {
    fn pending(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxRecord>, OutboxError>> + Send {
        (**self).pending(limit)
    }

    fn mark_sent(&self, sequence: i64) -> impl Future<Output = Result<(), OutboxError>> + Send {
        (**self).mark_sent(sequence)
    }
}

/// What one pass of the relay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Records published and marked sent.
    pub published: usize,
    /// Whether the pass stopped at a record it could not publish (it is tried again on the
    /// next pass, before anything after it).
    pub stalled: bool,
}

/// Moves outbox records to a publisher.
pub struct Relay<S, P> {
    store: S,
    publisher: P,
    batch: usize,
    /// The producer of the records seen last, to report an emptied outbox under.
    producer: Mutex<Option<String>>,
}

impl<S: OutboxStore, P: EventPublisher> Relay<S, P> {
    /// A relay from `store` to `publisher`, reading up to `batch` records a pass.
    pub fn new(store: S, publisher: P, batch: usize) -> Self {
        Self {
            store,
            publisher,
            batch: batch.max(1),
            producer: Mutex::new(None),
        }
    }

    /// Publishes pending records in order until the outbox is empty or one fails.
    pub async fn drain(&self) -> Result<RelayPass, OutboxError> {
        let mut pass = RelayPass::default();
        loop {
            let records = self.store.pending(self.batch).await?;
            self.report_lag(&records);
            if records.is_empty() {
                return Ok(pass);
            }
            let mut left = records.len();
            for record in records {
                let producer = record.envelope.producer.as_str();
                if let Err(error) = self.publish(&record).await {
                    tracing::warn!(%error, sequence = record.sequence, "outbox record not published; retrying later");
                    metrics::outbox_failed(producer);
                    metrics::outbox_pass(producer, left, age(&record.envelope));
                    pass.stalled = true;
                    return Ok(pass);
                }
                self.store.mark_sent(record.sequence).await?;
                metrics::outbox_published(producer, age(&record.envelope));
                left -= 1;
                pass.published += 1;
            }
        }
    }

    /// Sets the outbox lag gauges from the records a pass found; an empty outbox reports
    /// zeros under the producer seen last (none before the first record).
    fn report_lag(&self, records: &[OutboxRecord]) {
        let mut producer = self
            .producer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match records.first() {
            Some(oldest) => {
                if producer.as_deref() != Some(oldest.envelope.producer.as_str()) {
                    *producer = Some(oldest.envelope.producer.clone());
                }
                metrics::outbox_pass(
                    &oldest.envelope.producer,
                    records.len(),
                    age(&oldest.envelope),
                );
            }
            None => {
                if let Some(producer) = producer.as_deref() {
                    metrics::outbox_pass(producer, 0, Duration::ZERO);
                }
            }
        }
    }

    async fn publish(&self, record: &OutboxRecord) -> Result<(), crate::events::PublishError> {
        let span = tracing::info_span!(
            "outbox.publish",
            event_type = %record.envelope.r#type,
            aggregate_id = %record.envelope.aggregate_id
        );
        continue_trace(&span, &record.trace_headers);
        publish_envelope(&self.publisher, record.envelope.clone())
            .instrument(span)
            .await
    }
}

impl<S: OutboxStore, P: EventPublisher> Relay<S, P> {
    /// Drains the outbox every `interval` for as long as the returned task runs (abort it
    /// to stop). While the publisher or the storage fails, the wait doubles after each
    /// failed pass, up to [`MAX_BACKOFF`] (or `interval` when that is longer), so a broker
    /// that is down is not hammered; the first pass that goes through resets it.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut wait = interval;
            loop {
                tokio::time::sleep(wait).await;
                let failed = match self.drain().await {
                    // A pass that published something made progress: a broker failing
                    // now and then must not push the wait up to the maximum while
                    // records still flow.
                    Ok(pass) => pass.stalled && pass.published == 0,
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the outbox");
                        true
                    }
                };
                wait = if failed {
                    wait.saturating_mul(2).min(MAX_BACKOFF.max(interval))
                } else {
                    interval
                };
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use mandi_sdk::proto::mandi::events::v1::OrderStatusChanged;
    use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;

    use super::*;
    use crate::events::{InProcessPublisher, PublishError, envelope};

    /// An outbox in memory.
    #[derive(Default)]
    struct Table(Mutex<Vec<(OutboxRecord, bool)>>);

    impl Table {
        fn push(&self, order: &str) {
            self.push_by("order", order);
        }

        fn push_by(&self, producer: &str, order: &str) {
            let mut rows = self.0.lock().unwrap();
            let sequence = rows.len() as i64 + 1;
            let envelope = envelope(producer, "order", order, |meta| {
                Payload::OrderStatusChanged(OrderStatusChanged {
                    event_id: meta.event_id,
                    occur_time: Some(meta.occur_time),
                    order_id: order.to_owned(),
                    ..Default::default()
                })
            });
            rows.push((
                OutboxRecord {
                    sequence,
                    envelope,
                    trace_headers: Vec::new(),
                },
                false,
            ));
        }

        fn unsent(&self) -> usize {
            self.0
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, sent)| !sent)
                .count()
        }
    }

    impl OutboxStore for Table {
        async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
            let rows = self.0.lock().unwrap();
            Ok(rows
                .iter()
                .filter(|(_, sent)| !sent)
                .take(limit)
                .map(|(r, _)| r.clone())
                .collect())
        }

        async fn mark_sent(&self, sequence: i64) -> Result<(), OutboxError> {
            let mut rows = self.0.lock().unwrap();
            for (record, sent) in rows.iter_mut() {
                if record.sequence == sequence {
                    *sent = true;
                }
            }
            Ok(())
        }
    }

    /// Fails every publish after the first `ok` ones.
    struct Flaky {
        inner: InProcessPublisher,
        ok: usize,
        calls: AtomicUsize,
    }

    impl EventPublisher for Flaky {
        async fn publish(
            &self,
            topic: &str,
            key: &str,
            envelope: EventEnvelope,
        ) -> Result<(), PublishError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) >= self.ok {
                return Err(PublishError::Failed {
                    topic: topic.to_owned(),
                    event_id: envelope.event_id,
                    source: "broker down".into(),
                });
            }
            self.inner.publish(topic, key, envelope).await
        }
    }

    /// Fails every second publish.
    struct EveryOther {
        inner: InProcessPublisher,
        calls: AtomicUsize,
    }

    impl EventPublisher for EveryOther {
        async fn publish(
            &self,
            topic: &str,
            key: &str,
            envelope: EventEnvelope,
        ) -> Result<(), PublishError> {
            if self.calls.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
                return Err(PublishError::Failed {
                    topic: topic.to_owned(),
                    event_id: envelope.event_id,
                    source: "broker hiccup".into(),
                });
            }
            self.inner.publish(topic, key, envelope).await
        }
    }

    #[tokio::test]
    async fn a_broker_failing_now_and_then_does_not_slow_the_relay_to_its_longest_wait() {
        let table = Arc::new(Table::default());
        for i in 0..20 {
            table.push(&format!("o-{i}"));
        }
        let relay = Relay::new(
            table.clone(),
            EveryOther {
                inner: InProcessPublisher::default(),
                calls: AtomicUsize::new(0),
            },
            100,
        );

        // Every pass publishes one record and stalls on the next: twenty passes. Backing
        // off after each (10ms, 20ms, … up to 30s) would take minutes.
        let task = relay.spawn(Duration::from_millis(10));
        let started = std::time::Instant::now();
        while table.unsent() > 0 && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
        assert_eq!(table.unsent(), 0, "drained in {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn the_relay_publishes_in_order_and_marks_each_record_sent() {
        let table = Arc::new(Table::default());
        for order in ["o-1", "o-2", "o-1", "o-3", "o-1"] {
            table.push(order);
        }
        let publisher = InProcessPublisher::default();
        let mut events = publisher.subscribe();
        let relay = Relay::new(table.clone(), publisher, 2);

        let pass = relay.drain().await.unwrap();

        assert_eq!(
            pass,
            RelayPass {
                published: 5,
                stalled: false
            }
        );
        assert_eq!(table.unsent(), 0);
        let keys: Vec<String> = (0..5).map(|_| events.try_recv().unwrap().key).collect();
        assert_eq!(keys, ["o-1", "o-2", "o-1", "o-3", "o-1"]);
        assert_eq!(relay.drain().await.unwrap().published, 0);
    }

    #[tokio::test]
    async fn a_failed_publish_stops_the_pass_and_is_retried_first_next_time() {
        let table = Arc::new(Table::default());
        for order in ["o-1", "o-2", "o-3"] {
            table.push(order);
        }
        let inner = InProcessPublisher::default();
        let mut events = inner.subscribe();
        let flaky = Relay::new(
            table.clone(),
            Flaky {
                inner: inner.clone(),
                ok: 1,
                calls: AtomicUsize::new(0),
            },
            10,
        );

        let pass = flaky.drain().await.unwrap();
        assert_eq!(
            pass,
            RelayPass {
                published: 1,
                stalled: true
            }
        );
        assert_eq!(table.unsent(), 2);

        // The broker is back (a restarted relay): the rest goes out, still in order.
        let relay = Relay::new(table.clone(), inner, 10);
        assert_eq!(relay.drain().await.unwrap().published, 2);
        let keys: Vec<String> = (0..3).map(|_| events.try_recv().unwrap().key).collect();
        assert_eq!(keys, ["o-1", "o-2", "o-3"]);
    }

    /// The value of the sample `name{producer="<producer>"}` in the metrics text.
    fn sample(text: &str, name: &str, producer: &str) -> Option<f64> {
        let series = format!("{name}{{producer=\"{producer}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series))
            .map(|value| value.parse().unwrap())
    }

    #[tokio::test]
    async fn a_stalled_relay_reports_what_waits_and_a_drained_one_reports_zero() {
        // A producer of its own: the metrics are shared by every test in this process.
        let producer = format!("lag-{}", uuid::Uuid::now_v7().simple());
        let table = Arc::new(Table::default());
        for order in ["o-1", "o-2", "o-3"] {
            table.push_by(&producer, order);
        }
        let inner = InProcessPublisher::default();
        let metrics = crate::metrics::GrpcMetrics::new([]);
        let flaky = Relay::new(
            table.clone(),
            Flaky {
                inner: inner.clone(),
                ok: 1,
                calls: AtomicUsize::new(0),
            },
            10,
        );

        flaky.drain().await.unwrap();

        let text = metrics.render();
        let at = |name| sample(&text, name, &producer);
        assert_eq!(at("mandi_outbox_published_total"), Some(1.0), "{text}");
        assert_eq!(at("mandi_outbox_publish_failures_total"), Some(1.0));
        assert_eq!(at("mandi_outbox_pending_records"), Some(2.0));
        assert!(at("mandi_outbox_oldest_pending_age_seconds").is_some_and(|age| age >= 0.0));

        Relay::new(table.clone(), inner, 10).drain().await.unwrap();

        let text = metrics.render();
        let at = |name| sample(&text, name, &producer);
        assert_eq!(at("mandi_outbox_published_total"), Some(3.0), "{text}");
        assert_eq!(at("mandi_outbox_pending_records"), Some(0.0));
        assert_eq!(at("mandi_outbox_oldest_pending_age_seconds"), Some(0.0));
        assert_eq!(at("mandi_outbox_relay_delay_seconds_count"), Some(3.0));
    }
}
