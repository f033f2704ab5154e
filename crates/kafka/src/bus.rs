//! The in-process twin of Kafka for one process (`--target=all`, or real mode without
//! brokers): one bus every module publishes to, and consumers that run a handler over the
//! topics they ask for, with the same retries and dead-lettering as the Kafka runner. Best
//! effort, as befits a process without a broker: a consumer that falls more than the bus
//! capacity behind misses events (and logs how many), and nothing survives a restart.

use std::sync::OnceLock;

use mandi_runtime::events::{EventPublisher, InProcessPublisher};
use tokio::sync::broadcast::error::RecvError;

use crate::consumer::{ConsumedEvent, ConsumerSettings, EventHandler, RunReport, Verdict, attempt};
use crate::dead_letter_topic;

/// Events one slow consumer may fall behind by before it misses some.
const BUS_CAPACITY: usize = 16 * 1024;

/// Tells every consumer started with `EventsConfig::consume` in this process to commit what
/// it has done and stop (the server calls it on SIGTERM, before draining).
pub fn stop_consumers() {
    stop_signal().send_replace(true);
}

/// Resolves once [`stop_consumers`] was called.
pub(crate) async fn consumers_stopped() {
    let mut stopped = stop_signal().subscribe();
    // An error means the sender is gone, which a static never is: treat it as stop.
    let _ = stopped.wait_for(|stop| *stop).await;
}

fn stop_signal() -> &'static tokio::sync::watch::Sender<bool> {
    static STOP: OnceLock<tokio::sync::watch::Sender<bool>> = OnceLock::new();
    STOP.get_or_init(|| tokio::sync::watch::channel(false).0)
}

/// The bus of this process: every in-process publisher and consumer shares it.
pub fn process_bus() -> InProcessPublisher {
    static BUS: OnceLock<InProcessPublisher> = OnceLock::new();
    BUS.get_or_init(|| InProcessPublisher::new(BUS_CAPACITY))
        .clone()
}

/// Runs `handler` over the events published to `bus` on `settings.topics` from now on,
/// until `shutdown` resolves; events it gives up on are republished to their topic's
/// dead-letter topic.
pub async fn run_in_process<H: EventHandler>(
    bus: &InProcessPublisher,
    settings: &ConsumerSettings,
    handler: &H,
    shutdown: impl Future<Output = ()>,
) -> RunReport {
    let mut events = bus.subscribe();
    let mut report = RunReport::default();
    let mut offset = 0_i64;
    tokio::pin!(shutdown);
    loop {
        let published = tokio::select! {
            () = &mut shutdown => return report,
            published = events.recv() => published,
        };
        let published = match published {
            Ok(published) => published,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, group = %settings.group_id, "in-process consumer fell behind and missed events");
                continue;
            }
            Err(RecvError::Closed) => return report,
        };
        if !settings.topics.contains(&published.topic) {
            continue;
        }
        offset += 1;
        let event = ConsumedEvent {
            topic: published.topic,
            partition: 0,
            offset,
            key: published.key,
            envelope: published.envelope,
            headers: published.headers,
        };
        let verdict = attempt(handler, &event, settings).await;
        // What is still queued on the bus for this consumer (other topics' events too: it
        // reads them all to pick its own).
        mandi_runtime::metrics::consumer_lag(&settings.group_id, events.len() as u64);
        match verdict {
            Verdict::Handled => report.handled += 1,
            Verdict::GiveUp(reason) => {
                tracing::warn!(%reason, topic = %event.topic, event_id = %event.envelope.event_id, "event dead-lettered");
                let topic = dead_letter_topic(&event.topic);
                // The in-process publisher never fails.
                let _ = bus.publish(&topic, &event.key, event.envelope).await;
                report.dead_lettered += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use mandi_runtime::events::{envelope, publish_envelope};
    use mandi_sdk::proto::mandi::events::v1::StockLow;
    use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;

    use super::*;
    use crate::EventsConfig;
    use crate::consumer::HandlingError;

    fn stock_low(
        producer: &str,
        available: i64,
    ) -> mandi_sdk::proto::mandi::events::v1::EventEnvelope {
        envelope(producer, "product", "p-1", |meta| {
            Payload::StockLow(StockLow {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                product_id: "p-1".into(),
                available_quantity: available,
                low_stock_threshold: 10,
            })
        })
    }

    /// Records what it handles; fails every event with available quantity 13.
    #[derive(Clone, Default)]
    struct Record(Arc<Mutex<Vec<i64>>>);

    impl EventHandler for Record {
        async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
            let Some(Payload::StockLow(low)) = &event.envelope.payload else {
                return Err(HandlingError::Reject("not StockLow".into()));
            };
            if low.available_quantity == 13 {
                return Err(HandlingError::Retry("unlucky".into()));
            }
            self.0.lock().unwrap().push(low.available_quantity);
            Ok(())
        }
    }

    fn settings(topic: &str) -> ConsumerSettings {
        ConsumerSettings {
            group_id: "test".into(),
            topics: vec![topic.into()],
            max_attempts: 2,
            first_backoff: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn an_in_process_consumer_handles_its_topics_and_dead_letters_what_fails() {
        let bus = InProcessPublisher::new(64);
        let mut dead = bus.subscribe();
        let handler = Record::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let consumer = {
            let (bus, handler) = (bus.clone(), handler.clone());
            tokio::spawn(async move {
                run_in_process(
                    &bus,
                    &settings("mandi.inventory.events.v1"),
                    &handler,
                    async {
                        let _ = stopped.await;
                    },
                )
                .await
            })
        };
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        for available in [1, 13, 2] {
            publish_envelope(&bus, stock_low("inventory", available))
                .await
                .unwrap();
        }
        publish_envelope(&bus, stock_low("catalog", 99))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).unwrap();
        let report = consumer.await.unwrap();

        assert_eq!(
            *handler.0.lock().unwrap(),
            [1, 2],
            "other topics are not delivered"
        );
        assert_eq!((report.handled, report.dead_lettered), (2, 1));
        let letters: Vec<String> = std::iter::from_fn(|| dead.try_recv().ok())
            .map(|e| e.topic)
            .filter(|t| t.ends_with(".dlq"))
            .collect();
        assert_eq!(letters, ["mandi.inventory.events.v1.dlq"]);
    }

    #[tokio::test]
    async fn without_brokers_one_modules_events_reach_another_modules_consumer() {
        let config = EventsConfig::from_env(&mandi_runtime::config::Env::default()).unwrap();
        let handler = Record::default();
        let producer = format!("bus-test-{}", uuid_like());
        let topic = mandi_runtime::events::topic(&producer);
        let _consumer = config
            .consume(settings(&topic), handler.clone())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let publisher = config.publisher("test").unwrap();
        publish_envelope(&publisher, stock_low(&producer, 5))
            .await
            .unwrap();
        for _ in 0..100 {
            if !handler.0.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*handler.0.lock().unwrap(), [5]);
    }

    #[tokio::test]
    async fn stopping_consumers_ends_their_tasks() {
        // nextest runs every test in a process of its own, so stopping is this test's alone.
        let config = EventsConfig::from_env(&mandi_runtime::config::Env::default()).unwrap();
        let task = config
            .consume(settings("mandi.stop-test.events.v1"), Record::default())
            .await
            .unwrap();
        stop_consumers();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the consumer stopped")
            .unwrap();
    }

    fn uuid_like() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    }
}
