//! mandi-kafka: the Kafka side of the event backbone. [`KafkaPublisher`] implements the
//! runtime's `EventPublisher` (idempotent producer, acks=all, record key = aggregate id,
//! event id, type, time and W3C trace context in headers, topics created on first use);
//! [`consumer`] runs a consumer group over a handler: offsets stored only after the
//! handler succeeded, bounded retries with backoff, then a dead-letter topic, so a poison
//! event never blocks its partition.
//!
//! Handlers make processing once-in-effect: redelivery after a crash or a rebalance is
//! normal, so a handler records the event ids it processed in its own store, in the same
//! transaction as its effect, and skips ids it has seen.
#![forbid(unsafe_code)]

mod backbone;
mod bus;
pub mod consumer;
mod headers;
mod publisher;
mod topics;

pub use backbone::{EventsConfig, Publisher};
pub use bus::{process_bus, run_in_process, stop_consumers};
pub use publisher::KafkaPublisher;
pub use topics::dead_letter_topic;

use std::time::Duration;

/// Where the brokers are and how topics are made.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port,…` of the bootstrap brokers.
    pub brokers: String,
    /// Partitions of topics this client creates.
    pub partitions: i32,
    /// Replication factor of topics this client creates.
    pub replication: i32,
    /// How long a publish may wait for the broker's acknowledgement.
    pub send_timeout: Duration,
    /// Client id shown in broker logs.
    pub client_id: String,
}

impl KafkaConfig {
    /// Brokers at `brokers` with 3 partitions, replication 1 and a 5 s send timeout.
    pub fn new(brokers: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            partitions: 3,
            replication: 1,
            send_timeout: Duration::from_secs(5),
            client_id: client_id.into(),
        }
    }
}

/// A Kafka failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// A client could not be created from the configuration.
    #[error("cannot create a Kafka {what}: {source}")]
    Client {
        /// producer, consumer or admin client.
        what: &'static str,
        /// rdkafka's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A topic could not be created.
    #[error("cannot create topic {topic}: {reason}")]
    Topic {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
    /// Subscribing or reading failed.
    #[error("kafka consumer failed: {0}")]
    Consume(#[source] rdkafka::error::KafkaError),
}
