//! Which publisher and consumer a service gets: Kafka when brokers are configured
//! (`MANDI_KAFKA__BROKERS`), else the process's in-process bus (the embedded default, and
//! real mode without a broker).

use std::sync::Arc;

use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::events::{EventPublisher, InProcessPublisher, PublishError};

use crate::bus::{consumers_stopped, process_bus, run_in_process};
use crate::consumer::{ConsumerSettings, EventHandler, Runner};
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;

use crate::{KafkaConfig, KafkaError, KafkaPublisher};

/// The event settings every service reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// `MANDI_KAFKA__BROKERS`: `host:port,…`; unset publishes in process.
    pub brokers: Option<String>,
    /// `MANDI_KAFKA__PARTITIONS`: partitions of topics a service creates (default 3).
    pub partitions: i32,
    /// `MANDI_KAFKA__GROUP_PREFIX`: put before every consumer group name (default empty),
    /// so deployments or test runs sharing a broker do not share groups.
    pub group_prefix: String,
}

impl EventsConfig {
    /// Reads the event settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let brokers: Option<String> = env
            .get::<String>("MANDI_KAFKA__BROKERS")?
            .filter(|b| !b.trim().is_empty());
        let partitions: i32 = env.get_or("MANDI_KAFKA__PARTITIONS", 3)?;
        if !(1..=1024).contains(&partitions) {
            return Err(ConfigError::Invalid {
                var: "MANDI_KAFKA__PARTITIONS".into(),
                value: partitions.to_string(),
                reason: "must be between 1 and 1024".into(),
            });
        }
        Ok(Self {
            brokers,
            partitions,
            group_prefix: env.get_or("MANDI_KAFKA__GROUP_PREFIX", String::new())?,
        })
    }

    /// The publisher these settings select, for the service `client_id`.
    pub fn publisher(&self, client_id: &str) -> Result<Publisher, KafkaError> {
        match &self.brokers {
            None => Ok(Publisher::InProcess(process_bus())),
            Some(brokers) => {
                let config = KafkaConfig {
                    partitions: self.partitions,
                    ..KafkaConfig::new(brokers.clone(), client_id)
                };
                Ok(Publisher::Kafka(Arc::new(KafkaPublisher::new(config)?)))
            }
        }
    }
}

impl EventsConfig {
    /// Starts `handler` as a member of `settings.group_id`: on Kafka when brokers are
    /// configured, else on this process's bus. The task runs until [`crate::stop_consumers`],
    /// then commits what it handled and ends.
    pub async fn consume<H: EventHandler>(
        &self,
        mut settings: ConsumerSettings,
        handler: H,
    ) -> Result<tokio::task::JoinHandle<()>, KafkaError> {
        settings.group_id = format!("{}{}", self.group_prefix, settings.group_id);
        let group = settings.group_id.clone();
        match &self.brokers {
            None => {
                let bus = process_bus();
                Ok(tokio::spawn(async move {
                    run_in_process(&bus, &settings, &handler, consumers_stopped()).await;
                }))
            }
            Some(brokers) => {
                let config = KafkaConfig {
                    partitions: self.partitions,
                    ..KafkaConfig::new(brokers.clone(), group.clone())
                };
                let runner = Runner::new(&config, settings, handler).await?;
                Ok(tokio::spawn(async move {
                    if let Err(error) = runner.run(consumers_stopped()).await {
                        tracing::error!(%error, %group, "event consumer stopped");
                    }
                }))
            }
        }
    }
}

/// Kafka or the in-process twin, chosen from configuration.
#[derive(Clone)]
pub enum Publisher {
    /// In process: subscribers in this process only.
    InProcess(InProcessPublisher),
    /// Kafka.
    Kafka(Arc<KafkaPublisher>),
}

impl EventPublisher for Publisher {
    async fn publish(
        &self,
        topic: &str,
        key: &str,
        envelope: EventEnvelope,
    ) -> Result<(), PublishError> {
        // An injected failure (`publish_failure_rate`) looks like a broker that is down:
        // an outbox keeps the row and its relay tries again.
        if mandi_runtime::faults::global().fail_publish() {
            return Err(PublishError::Failed {
                topic: topic.to_owned(),
                event_id: envelope.event_id,
                source: "injected fault: publish failed".into(),
            });
        }
        match self {
            Publisher::InProcess(publisher) => publisher.publish(topic, key, envelope).await,
            Publisher::Kafka(publisher) => publisher.publish(topic, key, envelope).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn without_brokers_events_stay_in_process() {
        let env = Env::from_pairs([("MANDI_KAFKA__BROKERS", " ")]);
        let config = EventsConfig::from_env(&env).unwrap();
        assert_eq!(config.brokers, None);
        assert!(matches!(
            config.publisher("test").unwrap(),
            Publisher::InProcess(_)
        ));
    }

    #[test]
    fn brokers_select_kafka() {
        let env = Env::from_pairs([("MANDI_KAFKA__BROKERS", "127.0.0.1:9092")]);
        let config = EventsConfig::from_env(&env).unwrap();
        assert!(matches!(
            config.publisher("test").unwrap(),
            Publisher::Kafka(_)
        ));
    }

    #[test]
    fn a_bad_partition_count_names_the_variable() {
        let env = Env::from_pairs([("MANDI_KAFKA__PARTITIONS", "0")]);
        let err = EventsConfig::from_env(&env).unwrap_err();
        assert!(err.to_string().contains("MANDI_KAFKA__PARTITIONS"), "{err}");
    }
}
