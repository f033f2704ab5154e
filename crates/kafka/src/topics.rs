//! Topics: created on first use with the configured partitions, once per client.

use std::collections::HashSet;
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
    known: Mutex<HashSet<String>>,
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
            known: Mutex::new(HashSet::new()),
        })
    }

    /// Forgets that `topic` exists, so the next use makes sure again.
    pub(crate) async fn forget(&self, topic: &str) {
        self.known.lock().await.remove(topic);
    }

    /// Makes sure `topic` exists; an existing topic is fine.
    pub(crate) async fn ensure(&self, topic: &str) -> Result<(), KafkaError> {
        let mut known = self.known.lock().await;
        if known.contains(topic) {
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
        known.insert(topic.to_owned());
        Ok(())
    }
}
