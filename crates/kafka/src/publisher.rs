//! [`KafkaPublisher`]: the runtime's `EventPublisher` on Kafka.

use std::sync::RwLock;

use mandi_runtime::events::{EventPublisher, PublishError, current_trace_headers};
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use prost::Message as _;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use crate::headers::{self, EVENT_ID, EVENT_TYPE, OCCUR_TIME};
use crate::topics::Topics;
use crate::{KafkaConfig, KafkaError};

/// Publishes envelopes as protobuf records: idempotent producer with acks=all (no
/// duplicates from the producer's own retries, nothing acknowledged before every in-sync
/// replica has it), keyed by aggregate id so one aggregate's events stay in order on one
/// partition.
pub struct KafkaPublisher {
    producer: RwLock<FutureProducer>,
    topics: Topics,
    config: KafkaConfig,
}

impl KafkaPublisher {
    /// A publisher to `config.brokers`. Connects lazily: a broker that is down makes
    /// `publish` fail (and an outbox keep its rows), not this call.
    pub fn new(config: KafkaConfig) -> Result<Self, KafkaError> {
        Ok(Self {
            producer: RwLock::new(producer(&config)?),
            topics: Topics::new(&config)?,
            config,
        })
    }

    /// Creates `topic` if it does not exist.
    pub async fn ensure_topic(&self, topic: &str) -> Result<(), KafkaError> {
        self.topics.ensure(topic).await
    }

    /// Sends bytes that are not an event (tests use it to play a poison record).
    pub async fn send_raw(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), String> {
        self.send(topic, key, payload, &[]).await
    }

    /// Sends `payload` to `topic` under `key` with `headers`, waiting for the acknowledgement.
    pub(crate) async fn send(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<(), String> {
        self.topics.ensure(topic).await.map_err(|e| e.to_string())?;
        let record = FutureRecord::to(topic)
            .key(key)
            .payload(payload)
            .headers(headers::owned(headers));
        let producer = self.current();
        let sent = producer
            .send(record, Timeout::After(self.config.send_timeout))
            .await;
        let Err((error, _)) = sent else {
            return Ok(());
        };
        // A broker that came back empty has lost the topic, and one that lost the
        // idempotent producer's state leaves the producer timing out for good (seen with
        // tansu restarts): make the topic again next time and start a new producer. Its
        // new producer id may duplicate a record whose acknowledgement was lost, which the
        // at-least-once contract allows (consumers skip event ids they processed).
        self.topics.forget(topic);
        tracing::warn!(%error, topic, "kafka send failed; starting a new producer");
        match self::producer(&self.config) {
            Ok(fresh) => {
                if let Ok(mut slot) = self.producer.write() {
                    *slot = fresh;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot start a new kafka producer"),
        }
        Err(error.to_string())
    }

    fn current(&self) -> FutureProducer {
        match self.producer.read() {
            Ok(producer) => producer.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// An idempotent, acks=all producer for `config`.
fn producer(config: &KafkaConfig) -> Result<FutureProducer, KafkaError> {
    rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", &config.client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .set(
            "message.timeout.ms",
            config.send_timeout.as_millis().to_string(),
        )
        .create()
        .map_err(|source| KafkaError::Client {
            what: "producer",
            source,
        })
}

impl EventPublisher for KafkaPublisher {
    async fn publish(
        &self,
        topic: &str,
        key: &str,
        envelope: EventEnvelope,
    ) -> Result<(), PublishError> {
        let trace = current_trace_headers();
        let occur_time = envelope
            .occur_time
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut pairs: Vec<(&str, &str)> = vec![
            (EVENT_ID, &envelope.event_id),
            (EVENT_TYPE, &envelope.r#type),
            (OCCUR_TIME, &occur_time),
        ];
        pairs.extend(trace.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let payload = envelope.encode_to_vec();
        self.send(topic, key, &payload, &pairs)
            .await
            .map_err(|reason| PublishError::Failed {
                topic: topic.to_owned(),
                event_id: envelope.event_id.clone(),
                source: reason.into(),
            })
    }
}
