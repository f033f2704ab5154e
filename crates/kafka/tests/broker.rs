//! The Kafka adapters against a real Kafka-API broker (`make up` starts tansu on
//! 127.0.0.1:9092; `MANDI_TEST_KAFKA_BROKERS` points elsewhere). These tests fail when no
//! broker answers. Every test uses topics and groups of its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mandi_kafka::consumer::{
    ConsumedEvent, ConsumerSettings, DLQ_ERROR, DLQ_SOURCE, EventHandler, HandlingError, Runner,
};
use mandi_kafka::{KafkaConfig, KafkaPublisher, dead_letter_topic};
use mandi_runtime::events::{EventPublisher, envelope};
use mandi_sdk::proto::mandi::events::v1::StockLow;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use tokio::sync::oneshot;

fn brokers() -> String {
    std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// The broker's address, after checking that something answers there.
fn config(client: &str) -> KafkaConfig {
    let brokers = brokers();
    let first = brokers.split(',').next().unwrap_or_default().to_owned();
    std::net::TcpStream::connect_timeout(&first.parse().unwrap(), Duration::from_secs(2))
        .unwrap_or_else(|e| {
            panic!("no Kafka broker answers at {first} ({e}); start one with `make up`")
        });
    KafkaConfig::new(brokers, client)
}

fn unique(name: &str) -> String {
    format!("mandi.test.{name}.{}", uuid::Uuid::now_v7().simple())
}

/// StockLow for `product`, carrying `sequence` as its available quantity.
fn event(product: &str, sequence: i64) -> mandi_sdk::proto::mandi::events::v1::EventEnvelope {
    envelope("test", "product", product, |meta| {
        Payload::StockLow(StockLow {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            product_id: product.to_owned(),
            available_quantity: sequence,
            low_stock_threshold: 10,
        })
    })
}

fn sequence(event: &ConsumedEvent) -> i64 {
    match &event.envelope.payload {
        Some(Payload::StockLow(low)) => low.available_quantity,
        other => panic!("unexpected payload {other:?}"),
    }
}

/// A handler whose "store" records processed event ids with their effect, once per id,
/// as a real consumer does in the transaction of its effect.
#[derive(Clone, Default)]
struct Recording {
    state: Arc<Mutex<Recorded>>,
    /// Event ids (by available quantity) this handler rejects, or fails every time.
    reject: Option<i64>,
    always_fail: Option<i64>,
    /// Which consumer this is, for counting who handled what.
    name: &'static str,
}

#[derive(Default)]
struct Recorded {
    seen: HashSet<String>,
    /// Per key, the sequences applied, in the order they were applied.
    applied: HashMap<String, Vec<i64>>,
    deliveries: u64,
    attempts: HashMap<i64, u32>,
    /// Headers of the last delivery.
    last_headers: Vec<(String, String)>,
    /// Deliveries per consumer name.
    by_consumer: HashMap<&'static str, u64>,
}

impl EventHandler for Recording {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        let sequence = sequence(event);
        let mut state = self.state.lock().unwrap();
        state.deliveries += 1;
        state.last_headers = event.headers.clone();
        *state.by_consumer.entry(self.name).or_default() += 1;
        *state.attempts.entry(sequence).or_default() += 1;
        if self.reject == Some(sequence) {
            return Err(HandlingError::Reject("this handler never takes it".into()));
        }
        if self.always_fail == Some(sequence) {
            return Err(HandlingError::Retry("dependency down".into()));
        }
        if state.seen.insert(event.envelope.event_id.clone()) {
            state
                .applied
                .entry(event.key.clone())
                .or_default()
                .push(sequence);
        }
        Ok(())
    }
}

fn settings(group: &str, topic: &str) -> ConsumerSettings {
    ConsumerSettings {
        group_id: group.to_owned(),
        topics: vec![topic.to_owned()],
        max_attempts: 3,
        first_backoff: Duration::from_millis(20),
    }
}

/// Runs a consumer in the background; send on the returned channel to stop it.
async fn spawn_consumer<H: EventHandler>(
    config: &KafkaConfig,
    settings: ConsumerSettings,
    handler: H,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<mandi_kafka::consumer::RunReport>,
) {
    let runner = Runner::new(config, settings, handler).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    (stop, task)
}

async fn wait_until(what: &str, timeout: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn published_events_arrive_keyed_with_their_id_type_and_time_in_headers() {
    let config = config("publish-test");
    let topic = unique("headers");
    let publisher = KafkaPublisher::new(config.clone()).unwrap();
    let sent = event("p-1", 7);
    publisher
        .publish(&topic, "p-1", sent.clone())
        .await
        .unwrap();

    let handler = Recording::default();
    let (stop, task) =
        spawn_consumer(&config, settings(&unique("group"), &topic), handler.clone()).await;
    wait_until("the event", Duration::from_secs(20), || {
        handler.state.lock().unwrap().seen.len() == 1
    })
    .await;
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap().handled, 1);
    let state = handler.state.lock().unwrap();
    assert!(state.seen.contains(&sent.event_id));
    assert_eq!(state.applied["p-1"], [7]);
    let header = |name: &str| {
        state
            .last_headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("mandi-event-id"), Some(sent.event_id.clone()));
    assert_eq!(
        header("mandi-event-type").as_deref(),
        Some("mandi.events.v1.StockLow")
    );
    assert!(header("mandi-occur-time").is_some_and(|t| t.ends_with('Z')));
}

#[tokio::test]
async fn a_poison_record_and_a_rejected_event_go_to_the_dead_letter_topic_and_the_rest_flow() {
    let config = config("poison-test");
    let topic = unique("poison");
    let publisher = KafkaPublisher::new(config.clone()).unwrap();
    publisher
        .publish(&topic, "p-1", event("p-1", 1))
        .await
        .unwrap();
    publisher
        .send_raw(&topic, "p-1", b"not protobuf at all")
        .await
        .unwrap();
    publisher
        .publish(&topic, "p-1", event("p-1", 2))
        .await
        .unwrap();
    publisher
        .publish(&topic, "p-1", event("p-1", 3))
        .await
        .unwrap();
    publisher
        .publish(&topic, "p-1", event("p-1", 4))
        .await
        .unwrap();

    let handler = Recording {
        reject: Some(2),
        always_fail: Some(3),
        ..Recording::default()
    };
    let (stop, task) =
        spawn_consumer(&config, settings(&unique("group"), &topic), handler.clone()).await;
    wait_until("the healthy events", Duration::from_secs(20), || {
        handler
            .state
            .lock()
            .unwrap()
            .applied
            .get("p-1")
            .is_some_and(|a| a.len() == 2)
    })
    .await;
    stop.send(()).unwrap();
    let report = task.await.unwrap();
    assert_eq!(report.dead_lettered, 3, "{report:?}");
    {
        let state = handler.state.lock().unwrap();
        assert_eq!(state.applied["p-1"], [1, 4]);
        assert_eq!(
            state.attempts[&3], 3,
            "a failing event is tried max_attempts times"
        );
        assert_eq!(state.attempts[&2], 1, "a rejected event is not retried");
    }

    // The dead letters: the raw record and both events, with why and where from.
    let dlq = Arc::new(Mutex::new(Vec::new()));
    let reader = DeadLetters(dlq.clone());
    let (stop, task) = spawn_consumer(
        &config,
        settings(&unique("dlq-group"), &dead_letter_topic(&topic)),
        reader,
    )
    .await;
    wait_until("the dead letters", Duration::from_secs(20), || {
        dlq.lock().unwrap().len() >= 2
    })
    .await;
    stop.send(()).unwrap();
    let report = task.await.unwrap();
    // The undecodable record is dead-lettered again by this reader (it is not an event).
    assert_eq!(report.dead_lettered, 1);
    let letters = dlq.lock().unwrap();
    let errors: Vec<&str> = letters.iter().map(|(error, _)| error.as_str()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("rejected: this handler never takes it")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("failed after 3 attempts")),
        "{errors:?}"
    );
    assert!(letters.iter().all(|(_, source)| source.starts_with(&topic)));
}

/// Reads a dead-letter topic: (error, source) of each letter that is an event.
struct DeadLetters(Arc<Mutex<Vec<(String, String)>>>);

impl EventHandler for DeadLetters {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        let header = |name: &str| {
            event
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        self.0
            .lock()
            .unwrap()
            .push((header(DLQ_ERROR), header(DLQ_SOURCE)));
        Ok(())
    }
}

#[tokio::test]
async fn ten_thousand_events_over_two_consumers_one_killed_are_each_processed_once_in_order() {
    const KEYS: usize = 40;
    const PER_KEY: i64 = 250;
    let config = KafkaConfig {
        partitions: 3,
        ..config("group-test")
    };
    let topic = unique("group");
    let group = unique("group");
    let publisher = Arc::new(KafkaPublisher::new(config.clone()).unwrap());
    publisher.ensure_topic(&topic).await.unwrap();

    let handler = Recording::default();
    let named = |name| Recording {
        name,
        ..handler.clone()
    };
    let (stop_a, task_a) = spawn_consumer(&config, settings(&group, &topic), named("a")).await;
    let (stop_b, task_b) = spawn_consumer(&config, settings(&group, &topic), named("b")).await;

    // Publish concurrently per key, in order within a key: the first half, then (after
    // one consumer is killed) the second.
    let publish = |sequences: std::ops::Range<i64>| {
        let producers: Vec<_> = (0..KEYS)
            .map(|k| {
                let (publisher, topic, sequences) =
                    (publisher.clone(), topic.clone(), sequences.clone());
                tokio::spawn(async move {
                    let key = format!("product-{k}");
                    for sequence in sequences {
                        publisher
                            .publish(&topic, &key, event(&key, sequence))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        futures::future::join_all(producers)
    };
    for producer in publish(0..PER_KEY / 2).await {
        producer.unwrap();
    }

    // Both members got partitions and worked; then one is killed mid-stream.
    wait_until("both consumers at work", Duration::from_secs(60), || {
        let state = handler.state.lock().unwrap();
        state.by_consumer.len() == 2 && state.seen.len() >= 2_000
    })
    .await;
    let at_kill = handler.state.lock().unwrap().seen.len();
    task_a.abort();
    drop(stop_a);
    for producer in publish(PER_KEY / 2..PER_KEY).await {
        producer.unwrap();
    }
    let total = KEYS * PER_KEY as usize;
    wait_until("every event", Duration::from_secs(120), || {
        handler.state.lock().unwrap().seen.len() == total
    })
    .await;
    stop_b.send(()).unwrap();
    task_b.await.unwrap();

    let state = handler.state.lock().unwrap();
    assert!(
        at_kill < total,
        "the consumer was killed part way ({at_kill} of {total})"
    );
    assert_eq!(state.seen.len(), total);
    assert_eq!(state.applied.len(), KEYS);
    for (key, applied) in &state.applied {
        let expected: Vec<i64> = (0..PER_KEY).collect();
        assert_eq!(applied, &expected, "{key}: applied once each, in order");
    }
    assert!(state.deliveries >= total as u64);
}
