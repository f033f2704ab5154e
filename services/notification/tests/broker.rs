//! The notification handler under the Kafka consumer runner on a real Kafka-API broker
//! (`make up` starts tansu on 127.0.0.1:9092; `MANDI_TEST_KAFKA_BROKERS` points
//! elsewhere). Fails when no broker answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mandi_kafka::consumer::{
    ConsumedEvent, ConsumerSettings, DLQ_ERROR, EventHandler, HandlingError, Runner,
};
use mandi_kafka::{KafkaConfig, KafkaPublisher, dead_letter_topic};
use mandi_notification::directory::StaticDirectory;
use mandi_notification::domain::{
    ChannelKind, Contact, Delivery, DeliveryFilter, Preferences, Recipient,
};
use mandi_notification::notifier::{Notifier, Settings};
use mandi_notification::store::NotificationStore;
use mandi_notification::store::memory::MemoryStore;
use mandi_runtime::events::{EventPublisher as _, envelope};
use mandi_sdk::proto::mandi::common::v1::Money;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::events::v1::{EventEnvelope, OrderCreated};
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

const ORDER_TOPIC: &str = "mandi.order.events.v1";

/// The broker's address, after checking that something answers there.
fn config(client: &str) -> KafkaConfig {
    let brokers =
        std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let first = brokers.split(',').next().unwrap_or_default().to_owned();
    std::net::TcpStream::connect_timeout(&first.parse().unwrap(), Duration::from_secs(2))
        .unwrap_or_else(|e| {
            panic!("no Kafka broker answers at {first} ({e}); start one with `make up`")
        });
    KafkaConfig::new(brokers, client)
}

fn unique(name: &str) -> String {
    format!("mandi.test.notification.{name}.{}", Uuid::now_v7().simple())
}

fn order_created(order: &str, user: &str) -> EventEnvelope {
    envelope("order", "order", order, |meta| {
        Payload::OrderCreated(OrderCreated {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            order_id: order.to_owned(),
            user_id: user.to_owned(),
            total: Some(Money {
                currency_code: "INR".into(),
                amount_minor: 9_900,
            }),
            ..OrderCreated::default()
        })
    })
}

fn customer(directory: &StaticDirectory) -> Uuid {
    let id = Uuid::now_v7();
    directory.insert(Recipient {
        user_id: id,
        contact: Contact {
            email: Some(format!("{}@example.in", id.simple())),
            phone: None,
        },
        preferences: Preferences {
            channels: vec![ChannelKind::Email],
            marketing_opt_in: false,
        },
    });
    id
}

async fn deliveries_of(store: &MemoryStore, user: Uuid) -> Vec<Delivery> {
    store
        .list(
            &DeliveryFilter {
                user_id: Some(user),
                ..DeliveryFilter::default()
            },
            None,
            50,
        )
        .await
        .unwrap()
}

async fn wait_for(store: &MemoryStore, user: Uuid, timeout: Duration) -> Vec<Delivery> {
    let started = Instant::now();
    loop {
        let found = deliveries_of(store, user).await;
        if !found.is_empty() {
            return found;
        }
        assert!(
            started.elapsed() < timeout,
            "no notification for {user} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Keeps the dead letters it reads, with their error header.
#[derive(Clone, Default)]
struct DeadLetters(Arc<Mutex<Vec<(String, EventEnvelope)>>>);

impl EventHandler for DeadLetters {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        let error = event
            .headers
            .iter()
            .find(|(k, _)| k == DLQ_ERROR)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.0.lock().unwrap().push((error, event.envelope.clone()));
        Ok(())
    }
}

/// Runs `runner` in the background until the returned sender fires.
fn spawn<H: EventHandler>(runner: Runner<H>) -> (oneshot::Sender<()>, RunTask) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    (stop, task)
}

type RunTask =
    tokio::task::JoinHandle<Result<mandi_kafka::consumer::RunReport, mandi_kafka::KafkaError>>;

#[tokio::test]
async fn an_order_created_on_kafka_becomes_a_notification_once_and_poison_is_dead_lettered() {
    let config = config("notification-test");
    let side_topic = unique("poison");
    let publisher = KafkaPublisher::new(config.clone()).unwrap();
    let store = Arc::new(MemoryStore::default());
    let directory = StaticDirectory::default();
    let asha = customer(&directory);
    let ravi = customer(&directory);

    // On the order topic: Asha's order, published twice (a relay re-sending after a lost
    // acknowledgement). On a topic of this test's own: a record that is not an event, an
    // order for a user id that is not one, then Ravi's order behind them.
    let asha_order = order_created("o-asha", &asha.to_string());
    publisher
        .publish(ORDER_TOPIC, "o-asha", asha_order.clone())
        .await
        .unwrap();
    publisher
        .publish(ORDER_TOPIC, "o-asha", asha_order.clone())
        .await
        .unwrap();
    publisher
        .send_raw(&side_topic, "o-x", b"\xff\xfe definitely not protobuf")
        .await
        .unwrap();
    let invalid = order_created("o-bad", "not-a-user-id");
    publisher
        .publish(&side_topic, "o-bad", invalid.clone())
        .await
        .unwrap();
    publisher
        .publish(
            &side_topic,
            "o-ravi",
            order_created("o-ravi", &ravi.to_string()),
        )
        .await
        .unwrap();

    let notifier = Notifier::new(
        store.clone(),
        directory,
        Settings::default(),
        Arc::new(Notify::new()),
    );
    let settings = ConsumerSettings {
        group_id: unique("group"),
        topics: vec![ORDER_TOPIC.to_owned(), side_topic.clone()],
        max_attempts: 3,
        first_backoff: Duration::from_millis(20),
    };
    let runner = Runner::new(&config, settings, notifier).await.unwrap();
    let (stop, task) = spawn(runner);

    let ravis = wait_for(&store, ravi, Duration::from_secs(30)).await;
    assert_eq!(ravis.len(), 1, "the poison ahead of it did not block it");
    let ashas = wait_for(&store, asha, Duration::from_secs(30)).await;
    // Give the duplicate time to arrive: it lands right behind the first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    let report = task.await.unwrap().unwrap();
    assert!(report.dead_lettered >= 2, "{report:?}");

    let ashas_now = deliveries_of(&store, asha).await;
    assert_eq!(
        ashas_now.len(),
        1,
        "the same event twice is one notification"
    );
    assert_eq!(ashas[0].event_id, asha_order.event_id);
    assert_eq!(ashas[0].subject, "Your mandi order o-asha is placed");
    assert_eq!(ashas[0].recipient, format!("{}@example.in", asha.simple()));
    assert!(ashas[0].body.contains("INR 99.00"));

    // The dead-letter topic holds the rejected event with why; the undecodable record is
    // there too, and this reader dead-letters it again since it is no event.
    let letters = DeadLetters::default();
    let reader = Runner::new(
        &config,
        ConsumerSettings {
            group_id: unique("dlq-group"),
            topics: vec![dead_letter_topic(&side_topic)],
            max_attempts: 1,
            first_backoff: Duration::from_millis(10),
        },
        letters.clone(),
    )
    .await
    .unwrap();
    let (stop, task) = spawn(reader);
    let started = Instant::now();
    while letters.0.lock().unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no dead letter"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let letters = letters.0.lock().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    let (error, dead) = &letters[0];
    assert_eq!(dead.event_id, invalid.event_id);
    assert!(
        error.starts_with("rejected:") && error.contains("user_id"),
        "{error}"
    );
}
