//! Topics: created on first use with the configured partitions, once per client.

use std::collections::HashSet;
use std::sync::RwLock;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use tokio::sync::Mutex;

use crate::{KafkaConfig, KafkaError};

/// The dead-letter topic of `topic`: where events its consumers gave up on go.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// Creates topics that do not exist yet, remembering those it has seen.
pub(crate) struct Topics {
    admin: AdminClient<DefaultClientContext>,
    partitions: i32,
    replication: i32,
    /// Topics known to exist: read on every send, so behind a lock readers share.
    known: RwLock<HashSet<String>>,
    /// Held while a topic is created, so concurrent first sends create it once.
    creating: Mutex<()>,
}

impl Topics {
    pub(crate) fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let admin = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", &config.client_id)
            .create()
            .map_err(|source| KafkaError::Client {
                what: "admin client",
                source,
            })?;
        Ok(Self {
            admin,
            partitions: config.partitions,
            replication: config.replication,
            known: RwLock::new(HashSet::new()),
            creating: Mutex::new(()),
        })
    }

    /// Forgets that `topic` exists, so the next use makes sure again.
    pub(crate) fn forget(&self, topic: &str) {
        if let Ok(mut known) = self.known.write() {
            known.remove(topic);
        }
    }

    fn is_known(&self, topic: &str) -> bool {
        self.known.read().is_ok_and(|known| known.contains(topic))
    }

    /// Makes sure `topic` exists; an existing topic is fine.
    pub(crate) async fn ensure(&self, topic: &str) -> Result<(), KafkaError> {
        if self.is_known(topic) {
            return Ok(());
        }
        let _creating = self.creating.lock().await;
        if self.is_known(topic) {
            return Ok(());
        }
        let new = NewTopic::new(
            topic,
            self.partitions,
            TopicReplication::Fixed(self.replication),
        );
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = self
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(|e| KafkaError::Topic {
                topic: topic.to_owned(),
                reason: e.to_string(),
            })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(KafkaError::Topic {
                        topic: topic.to_owned(),
                        reason: code.to_string(),
                    });
                }
            }
        }
        if let Ok(mut known) = self.known.write() {
            known.insert(topic.to_owned());
        }
        Ok(())
    }
}
