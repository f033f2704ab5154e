//! Domain events: the [`EventPublisher`] port every service publishes through, helpers that
//! build an [`EventEnvelope`] the way `mandi.events.v1` asks (UUIDv7 id, UTC time, payload
//! type name, aggregate), and an [`InProcessPublisher`] that hands events to subscribers in
//! the same process until the Kafka adapter lands.
//!
//! Records are keyed by aggregate id (so one aggregate's events stay in order) and go to
//! one topic per producing service (`mandi.<service>.events.v1`); the W3C trace context of the publishing span travels
//! beside the envelope as headers (`traceparent`, `tracestate`), as Kafka record headers
//! will carry it.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use tokio::sync::broadcast;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Why an event could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker refused the record or could not be reached.
    #[error("cannot publish event {event_id} to {topic}")]
    Failed {
        /// The topic written to.
        topic: String,
        /// The envelope's event id.
        event_id: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Where services publish their events. Implemented in process by [`InProcessPublisher`]
/// and, later, by the Kafka adapter.
///
/// Implementations take the trace context from the span current when `publish` is called
/// (see [`current_trace_headers`]), not from where the returned future is polled.
pub trait EventPublisher: Send + Sync + 'static {
    /// Publishes `envelope` to `topic` under record key `key` (the aggregate id).
    fn publish(
        &self,
        topic: &str,
        key: &str,
        envelope: EventEnvelope,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;
}

impl<P: EventPublisher> EventPublisher for Arc<P> {
    fn publish(
        &self,
        topic: &str,
        key: &str,
        envelope: EventEnvelope,
    ) -> impl Future<Output = Result<(), PublishError>> + Send {
        (**self).publish(topic, key, envelope)
    }
}

/// The topic a service publishes to: `mandi.<service>.events.v1`.
pub fn topic(service: &str) -> String {
    format!("mandi.{service}.events.v1")
}

/// Publishes `envelope` to its producer's topic, keyed by its aggregate id.
pub async fn publish_envelope<P: EventPublisher + ?Sized>(
    publisher: &P,
    envelope: EventEnvelope,
) -> Result<(), PublishError> {
    let topic = topic(&envelope.producer);
    let key = envelope.aggregate_id.clone();
    publisher.publish(&topic, &key, envelope).await
}

// === impl EventMeta ===

/// The id and time an event and its envelope share.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMeta {
    /// A fresh UUIDv7, as text.
    pub event_id: String,
    /// When the fact happened (UTC).
    pub occur_time: prost_types::Timestamp,
}

impl EventMeta {
    /// A new event id, happening now.
    pub fn now() -> Self {
        Self {
            event_id: uuid::Uuid::now_v7().to_string(),
            occur_time: prost_types::Timestamp::from(SystemTime::now()),
        }
    }
}

/// Builds an envelope with a new event id and the current time; `payload` receives both so
/// the payload's `event_id` and `occur_time` equal the envelope's, as the contract asks.
pub fn envelope(
    producer: &str,
    aggregate_type: &str,
    aggregate_id: impl Into<String>,
    payload: impl FnOnce(EventMeta) -> Payload,
) -> EventEnvelope {
    let meta = EventMeta::now();
    let payload = payload(meta.clone());
    EventEnvelope {
        event_id: meta.event_id,
        r#type: payload_type(&payload).to_owned(),
        occur_time: Some(meta.occur_time),
        aggregate_type: aggregate_type.to_owned(),
        aggregate_id: aggregate_id.into(),
        producer: producer.to_owned(),
        payload: Some(payload),
    }
}

/// How long ago the event in `envelope` happened (zero when its time is missing or ahead of
/// this clock): the lag of whoever handles it now.
pub fn age(envelope: &EventEnvelope) -> std::time::Duration {
    envelope
        .occur_time
        .and_then(|t| SystemTime::try_from(t).ok())
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

/// The fully qualified protobuf name of a payload (`mandi.events.v1.StockLow`).
pub fn payload_type(payload: &Payload) -> &'static str {
    match payload {
        Payload::OrderCreated(_) => "mandi.events.v1.OrderCreated",
        Payload::OrderStatusChanged(_) => "mandi.events.v1.OrderStatusChanged",
        Payload::InventoryReserved(_) => "mandi.events.v1.InventoryReserved",
        Payload::InventoryReleased(_) => "mandi.events.v1.InventoryReleased",
        Payload::InventoryCommitted(_) => "mandi.events.v1.InventoryCommitted",
        Payload::StockLow(_) => "mandi.events.v1.StockLow",
        Payload::StockAvailabilityChanged(_) => "mandi.events.v1.StockAvailabilityChanged",
        Payload::BatchExpiring(_) => "mandi.events.v1.BatchExpiring",
        Payload::PaymentConfirmed(_) => "mandi.events.v1.PaymentConfirmed",
        Payload::PaymentFailed(_) => "mandi.events.v1.PaymentFailed",
        Payload::PaymentRefunded(_) => "mandi.events.v1.PaymentRefunded",
        Payload::DeliveryAssigned(_) => "mandi.events.v1.DeliveryAssigned",
        Payload::ShipmentStatusChanged(_) => "mandi.events.v1.ShipmentStatusChanged",
        Payload::UserRegistered(_) => "mandi.events.v1.UserRegistered",
    }
}

/// The W3C trace context (`traceparent`, `tracestate`) of the current tracing span, through
/// the global propagator; empty when no trace is being recorded.
pub fn current_trace_headers() -> Vec<(String, String)> {
    let context = tracing::Span::current().context();
    let mut headers = HeaderInjector(Vec::new());
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut headers);
    });
    headers.0
}

/// Makes `span` a child of the W3C trace context in `headers` (an outbox row's, or a
/// consumed record's), so work done for an event joins the trace that caused it.
pub fn continue_trace(span: &tracing::Span, headers: &[(String, String)]) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a [(String, String)]);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

struct HeaderInjector(Vec<(String, String)>);

impl opentelemetry::propagation::Injector for HeaderInjector {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), value));
    }
}

// === impl InProcessPublisher ===

/// An event as published: where it went, its key, the envelope and the trace headers.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedEvent {
    /// The topic (`mandi.<aggregate_type>.events`).
    pub topic: String,
    /// The record key: the aggregate id.
    pub key: String,
    /// The event.
    pub envelope: EventEnvelope,
    /// W3C trace context of the publishing span; empty when none was recorded.
    pub headers: Vec<(String, String)>,
}

/// Hands events to subscribers in this process over a broadcast channel.
///
/// Publishing never waits and never fails: with nobody subscribed the event is dropped,
/// and a subscriber that falls more than `capacity` events behind misses the oldest ones
/// (its next `recv` reports how many it lagged), as an in-process stand-in for a broker.
#[derive(Debug, Clone)]
pub struct InProcessPublisher {
    sender: broadcast::Sender<PublishedEvent>,
}

impl InProcessPublisher {
    /// Events a subscriber may fall behind by before it misses some.
    pub const DEFAULT_CAPACITY: usize = 1024;

    /// A publisher whose subscribers may fall `capacity` events behind (at least 1).
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Receives every event published from now on, in publishing order.
    pub fn subscribe(&self) -> broadcast::Receiver<PublishedEvent> {
        self.sender.subscribe()
    }
}

impl Default for InProcessPublisher {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl EventPublisher for InProcessPublisher {
    fn publish(
        &self,
        topic: &str,
        key: &str,
        envelope: EventEnvelope,
    ) -> impl Future<Output = Result<(), PublishError>> + Send {
        let event = PublishedEvent {
            topic: topic.to_owned(),
            key: key.to_owned(),
            envelope,
            headers: current_trace_headers(),
        };
        // Err only means nobody is subscribed: the event has no one to go to.
        let _ = self.sender.send(event);
        std::future::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use mandi_sdk::proto::mandi::events::v1::StockLow;
    use opentelemetry::trace::TracerProvider as _;
    use tracing::Instrument as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    fn stock_low(product_id: &str, available: i64) -> EventEnvelope {
        envelope("inventory", "product", product_id, |meta| {
            Payload::StockLow(StockLow {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                product_id: product_id.to_owned(),
                available_quantity: available,
                low_stock_threshold: 10,
            })
        })
    }

    #[tokio::test]
    async fn a_subscriber_receives_published_events_in_order_with_topic_and_key() {
        let publisher = InProcessPublisher::default();
        let mut events = publisher.subscribe();

        for available in [9, 8, 7] {
            publish_envelope(&publisher, stock_low("p-1", available))
                .await
                .unwrap();
        }
        publisher
            .publish("mandi.other.events.v1", "b-1", stock_low("p-2", 1))
            .await
            .unwrap();

        for expected in [9, 8, 7] {
            let event = events.recv().await.unwrap();
            assert_eq!(event.topic, "mandi.inventory.events.v1");
            assert_eq!(event.key, "p-1");
            let Some(Payload::StockLow(low)) = event.envelope.payload else {
                panic!("expected StockLow, got {:?}", event.envelope.payload);
            };
            assert_eq!(low.available_quantity, expected);
        }
        let last = events.recv().await.unwrap();
        assert_eq!(
            (last.topic.as_str(), last.key.as_str()),
            ("mandi.other.events.v1", "b-1")
        );
    }

    #[tokio::test]
    async fn publishing_with_no_subscribers_is_ok() {
        let publisher = InProcessPublisher::new(1);

        for available in 0..3 {
            publish_envelope(&publisher, stock_low("p-1", available))
                .await
                .unwrap();
        }
    }

    #[test]
    fn the_envelope_carries_an_id_a_time_and_the_payload_type_shared_with_the_payload() {
        let before = prost_types::Timestamp::from(SystemTime::now());

        let envelope = stock_low("p-1", 3);

        let id = uuid::Uuid::parse_str(&envelope.event_id).unwrap();
        assert_eq!(id.get_version_num(), 7);
        let time = envelope.occur_time.unwrap();
        assert!(time.seconds >= before.seconds);
        assert_eq!(envelope.r#type, "mandi.events.v1.StockLow");
        assert_eq!(envelope.aggregate_type, "product");
        assert_eq!(envelope.aggregate_id, "p-1");
        assert_eq!(envelope.producer, "inventory");
        let Some(Payload::StockLow(low)) = envelope.payload else {
            panic!("expected StockLow");
        };
        assert_eq!(low.event_id, envelope.event_id);
        assert_eq!(low.occur_time, Some(time));
    }

    #[tokio::test]
    async fn events_carry_the_trace_context_of_the_publishing_span() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let publisher = InProcessPublisher::default();
        let mut events = publisher.subscribe();

        async {
            publisher
                .publish("mandi.inventory.events.v1", "p-1", stock_low("p-1", 1))
                .await
        }
        .instrument(tracing::info_span!("reserve"))
        .await
        .unwrap();

        let event = events.try_recv().unwrap();
        let traceparent = event
            .headers
            .iter()
            .find(|(key, _)| key == "traceparent")
            .map(|(_, value)| value.as_str())
            .expect("a traceparent header");
        assert!(traceparent.starts_with("00-"), "{traceparent}");
    }

    #[test]
    fn work_on_an_event_continues_the_trace_in_its_headers() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let headers = vec![(
            "traceparent".to_owned(),
            format!("00-{trace_id}-00f067aa0ba902b7-01"),
        )];

        let span = tracing::info_span!("handle");
        continue_trace(&span, &headers);
        let inside = span.in_scope(current_trace_headers);

        let traceparent = &inside
            .iter()
            .find(|(key, _)| key == "traceparent")
            .expect("a traceparent inside the span")
            .1;
        assert!(traceparent.contains(trace_id), "{traceparent}");
    }

    #[test]
    fn events_outside_a_trace_carry_no_headers() {
        assert!(current_trace_headers().is_empty());
    }
}
