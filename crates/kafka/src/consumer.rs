//! A consumer group over an [`EventHandler`]: each record is decoded, handled with bounded
//! retries, and only then is its offset stored for the next commit, so a crash or a
//! rebalance redelivers what was not finished (handlers skip event ids they processed).
//! A record that cannot be decoded, that the handler rejects, or that still fails after
//! the last attempt goes to the topic's dead-letter topic with the error, and the
//! partition moves on.

use std::future::Future;
use std::time::Duration;

use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use prost::Message as _;
use rdkafka::Message as _;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::types::RDKafkaErrorCode;

use mandi_runtime::events::{age, continue_trace};
use mandi_runtime::metrics;
use tracing::Instrument as _;

use crate::headers;
use crate::{KafkaConfig, KafkaError, KafkaPublisher, dead_letter_topic};

/// Header of a dead letter: why it was given up on.
pub const DLQ_ERROR: &str = "mandi-dlq-error";
/// Header of a dead letter: where it came from (`topic/partition/offset`).
pub const DLQ_SOURCE: &str = "mandi-dlq-source";

/// One event as consumed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumedEvent {
    /// The topic it came from.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// The record key (the aggregate id).
    pub key: String,
    /// The event.
    pub envelope: EventEnvelope,
    /// The record headers (event id, type, time, trace context).
    pub headers: Vec<(String, String)>,
}

/// Why a handler did not process an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlingError {
    /// It may work later (a dependency is down): tried again, up to the attempt limit.
    #[error("{0}")]
    Retry(String),
    /// It never will (the event is invalid for this handler): dead-lettered at once.
    #[error("{0}")]
    Reject(String),
}

/// What a service does with the events it consumes.
pub trait EventHandler: Send + Sync + 'static {
    /// Processes one event. Must be idempotent by `event.envelope.event_id`: the same
    /// event can arrive again after a crash or a rebalance.
    fn handle(
        &self,
        event: &ConsumedEvent,
    ) -> impl Future<Output = Result<(), HandlingError>> + Send;
}

/// How a consumer group reads.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// The consumer group (one per service).
    pub group_id: String,
    /// Topics to read.
    pub topics: Vec<String>,
    /// Attempts at a failing event before it is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt; doubled for each one after.
    pub first_backoff: Duration,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Events the handler processed.
    pub handled: u64,
    /// Records sent to a dead-letter topic.
    pub dead_lettered: u64,
}

/// A consumer group member running one handler.
pub struct Runner<H> {
    consumer: StreamConsumer,
    dead_letters: KafkaPublisher,
    handler: H,
    settings: ConsumerSettings,
}

impl<H: EventHandler> Runner<H> {
    /// Joins `settings.group_id` on `config.brokers` and subscribes to its topics (created
    /// if missing, so a consumer can start before any producer).
    pub async fn new(
        config: &KafkaConfig,
        settings: ConsumerSettings,
        handler: H,
    ) -> Result<Self, KafkaError> {
        let dead_letters = KafkaPublisher::new(config.clone())?;
        for topic in &settings.topics {
            dead_letters.ensure_topic(topic).await?;
        }
        let consumer: StreamConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", &config.client_id)
            .set("group.id", &settings.group_id)
            // Offsets are stored by hand once an event is done, and committed in the
            // background: a crash loses at most the last second of commits, which
            // redelivers events the handler will recognise.
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "500")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            .create()
            .map_err(|source| KafkaError::Client {
                what: "consumer",
                source,
            })?;
        let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&topics).map_err(KafkaError::Consume)?;
        Ok(Self {
            consumer,
            dead_letters,
            handler,
            settings,
        })
    }

    /// Consumes until `shutdown` resolves, then commits what was done and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<RunReport, KafkaError> {
        let mut report = RunReport::default();
        tokio::pin!(shutdown);
        loop {
            let message = tokio::select! {
                () = &mut shutdown => break,
                message = self.consumer.recv() => message,
            };
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    // Broker hiccups surface here; the client reconnects by itself.
                    tracing::warn!(%error, "kafka receive failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            match self.process(&message).await? {
                Processed::Handled => report.handled += 1,
                Processed::DeadLettered => report.dead_lettered += 1,
            }
            self.consumer
                .store_offset_from_message(&message)
                .map_err(KafkaError::Consume)?;
        }
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            // The background commit already took every stored offset: nothing is left.
            Ok(())
            | Err(rdkafka::error::KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {
                Ok(report)
            }
            Err(error) => Err(KafkaError::Consume(error)),
        }
    }

    async fn process(&self, message: &BorrowedMessage<'_>) -> Result<Processed, KafkaError> {
        let payload = message.payload().unwrap_or_default();
        let envelope = match EventEnvelope::decode(payload) {
            Ok(envelope) if envelope.payload.is_some() => envelope,
            Ok(_) => {
                return self
                    .dead_letter(message, "the envelope has no payload")
                    .await;
            }
            Err(error) => {
                return self
                    .dead_letter(message, &format!("not a mandi event envelope: {error}"))
                    .await;
            }
        };
        let event = ConsumedEvent {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default(),
            envelope,
            headers: headers::pairs(message.headers()),
        };
        match attempt(&self.handler, &event, &self.settings).await {
            Verdict::Handled => Ok(Processed::Handled),
            Verdict::GiveUp(reason) => self.dead_letter(message, &reason).await,
        }
    }

    /// Sends the record as it came, with why and where from, to the dead-letter topic.
    async fn dead_letter(
        &self,
        message: &BorrowedMessage<'_>,
        error: &str,
    ) -> Result<Processed, KafkaError> {
        let topic = dead_letter_topic(message.topic());
        let source = format!(
            "{}/{}/{}",
            message.topic(),
            message.partition(),
            message.offset()
        );
        tracing::warn!(%error, %source, "event dead-lettered");
        let original = headers::pairs(message.headers());
        let mut pairs: Vec<(&str, &str)> = original
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push((DLQ_ERROR, error));
        pairs.push((DLQ_SOURCE, &source));
        let key = message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        self.dead_letters
            .send(&topic, &key, message.payload().unwrap_or_default(), &pairs)
            .await
            .map_err(|reason| KafkaError::Topic { topic, reason })?;
        Ok(Processed::DeadLettered)
    }
}

enum Processed {
    Handled,
    DeadLettered,
}

/// What became of an event after its attempts.
pub(crate) enum Verdict {
    /// The handler processed it.
    Handled,
    /// It goes to the dead-letter topic, for this reason.
    GiveUp(String),
}

/// Runs `handler` on `event` up to `settings.max_attempts` times, doubling the wait
/// between attempts; a rejection gives up at once.
pub(crate) async fn attempt<H: EventHandler>(
    handler: &H,
    event: &ConsumedEvent,
    settings: &ConsumerSettings,
) -> Verdict {
    let attempts = settings.max_attempts.max(1);
    let mut backoff = settings.first_backoff;
    let mut attempt = 1;
    let event_type = event.envelope.r#type.as_str();
    // Named `process <Event>` (the OpenTelemetry messaging convention) with the group, so a
    // trace shows which service consumed what.
    let span = tracing::info_span!(
        "event.handle",
        otel.name = format!(
            "process {}",
            event_type.rsplit('.').next().unwrap_or(event_type)
        ),
        otel.kind = "consumer",
        messaging.consumer.group.name = %settings.group_id,
        messaging.destination.name = %event.topic,
        event_type = %event_type,
        event_id = %event.envelope.event_id
    );
    continue_trace(&span, &event.headers);
    let finished = |result| {
        metrics::event_consumed(&settings.group_id, event_type, result, age(&event.envelope));
    };
    loop {
        match handler.handle(event).instrument(span.clone()).await {
            Ok(()) => {
                finished("handled");
                return Verdict::Handled;
            }
            Err(HandlingError::Reject(reason)) => {
                finished("dead_lettered");
                return Verdict::GiveUp(format!("rejected: {reason}"));
            }
            Err(HandlingError::Retry(reason)) if attempt >= attempts => {
                finished("dead_lettered");
                return Verdict::GiveUp(format!("failed after {attempts} attempts: {reason}"));
            }
            Err(HandlingError::Retry(reason)) => {
                tracing::info!(%reason, attempt, event_id = %event.envelope.event_id, "event handling failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
                attempt += 1;
            }
        }
    }
}
