//! The handler and the use cases on the in-memory store with a fixed directory: events
//! become deliveries on the user's channels, once per event id; a directory outage is a
//! retry, a bad event a rejection; SendNotification's idempotency and opt-outs; who sees
//! which deliveries; the local sink's file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mandi_kafka::consumer::{ConsumedEvent, EventHandler as _, HandlingError};
use mandi_notification::channels::{Channels, LogChannel};
use mandi_notification::directory::StaticDirectory;
use mandi_notification::domain::{
    ChannelKind, Contact, DeliveryFilter, DeliveryStatus, NotificationError, Preferences, Recipient,
};
use mandi_notification::notifier::{Dispatcher, Notifier, SendRequest, Settings, Viewer};
use mandi_notification::store::memory::MemoryStore;
use mandi_notification::store::{NotificationStore, Source};
use mandi_runtime::events::envelope;
use mandi_sdk::proto::mandi::common::v1::Money;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::events::v1::{
    BatchExpiring, EventEnvelope, OrderCreated, PaymentFailed, StockLow,
};
use tokio::sync::Notify;
use uuid::Uuid;

struct World {
    store: Arc<MemoryStore>,
    directory: StaticDirectory,
    notifier: Notifier<MemoryStore, StaticDirectory>,
}

fn world(settings: Settings) -> World {
    let store = Arc::new(MemoryStore::default());
    let directory = StaticDirectory::default();
    let notifier = Notifier::new(
        store.clone(),
        directory.clone(),
        settings,
        Arc::new(Notify::new()),
    );
    World {
        store,
        directory,
        notifier,
    }
}

fn user(world: &World, phone: Option<&str>, channels: Vec<ChannelKind>) -> Uuid {
    let id = Uuid::now_v7();
    world.directory.insert(Recipient {
        user_id: id,
        contact: Contact {
            email: Some("asha@example.in".into()),
            phone: phone.map(str::to_owned),
        },
        preferences: Preferences {
            channels,
            marketing_opt_in: false,
        },
    });
    id
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn consumed(envelope: EventEnvelope) -> ConsumedEvent {
    ConsumedEvent {
        topic: "mandi.order.events.v1".into(),
        partition: 0,
        offset: 7,
        key: envelope.aggregate_id.clone(),
        envelope,
        headers: vec![(
            "traceparent".into(),
            format!("00-{TRACE}-00f067aa0ba902b7-01"),
        )],
    }
}

fn order_created(user: Uuid) -> ConsumedEvent {
    consumed(envelope("order", "order", "o-1", |meta| {
        Payload::OrderCreated(OrderCreated {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            order_id: "o-1".into(),
            user_id: user.to_string(),
            total: Some(Money {
                currency_code: "INR".into(),
                amount_minor: 24_050,
            }),
            ..OrderCreated::default()
        })
    }))
}

async fn all(store: &MemoryStore) -> Vec<mandi_notification::domain::Delivery> {
    store
        .list(&DeliveryFilter::default(), None, 100)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_order_created_becomes_one_delivery_per_channel_and_the_same_event_twice_one_set() {
    let w = world(Settings::default());
    let asha = user(&w, Some("+919812345678"), vec![]);
    let event = order_created(asha);

    w.notifier.handle(&event).await.unwrap();
    w.notifier.handle(&event).await.unwrap();

    let deliveries = all(&w.store).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    let email = deliveries
        .iter()
        .find(|d| d.channel == ChannelKind::Email)
        .unwrap();
    assert_eq!(email.recipient, "asha@example.in");
    assert_eq!(email.subject, "Your mandi order o-1 is placed");
    assert!(email.body.contains("INR 240.50"), "{}", email.body);
    assert!(email.html.contains("<b>INR 240.50</b>"));
    assert_eq!(email.event_id, event.envelope.event_id);
    assert_eq!(
        email.trace_id, TRACE,
        "the delivery joins the event's trace"
    );
    assert_eq!(email.status, DeliveryStatus::Pending);
    let sms = deliveries
        .iter()
        .find(|d| d.channel == ChannelKind::Sms)
        .unwrap();
    assert_eq!(sms.recipient, "+919812345678");
    assert_eq!(sms.body, "mandi: order o-1 placed, INR 240.50.");
}

#[tokio::test]
async fn a_redelivered_event_does_not_ask_the_directory_again() {
    let w = world(Settings::default());
    let asha = user(&w, None, vec![]);
    let event = order_created(asha);
    assert!(w.notifier.on_event(&event).await.unwrap());
    // Were the directory asked, it would fail the event.
    w.directory.set_down(true);
    assert!(!w.notifier.on_event(&event).await.unwrap());
    assert_eq!(all(&w.store).await.len(), 1);
}

#[tokio::test]
async fn profile_down_is_a_retry_and_nothing_is_recorded_until_it_answers() {
    let w = world(Settings::default());
    let asha = user(&w, None, vec![]);
    let event = order_created(asha);
    w.directory.set_down(true);
    let err = w.notifier.handle(&event).await.unwrap_err();
    assert!(
        matches!(err, HandlingError::Retry(ref r) if r.contains("profile")),
        "{err:?}"
    );
    assert!(all(&w.store).await.is_empty());
    assert!(
        !w.store
            .seen(&Source::Event(event.envelope.event_id.clone()))
            .await
            .unwrap()
    );

    w.directory.set_down(false);
    w.notifier.handle(&event).await.unwrap();
    assert_eq!(all(&w.store).await.len(), 1);
}

#[tokio::test]
async fn an_event_for_an_invalid_user_is_rejected_for_the_dead_letter_topic() {
    let w = world(Settings::default());
    let event = consumed(envelope("payment", "payment", "p-1", |meta| {
        Payload::PaymentFailed(PaymentFailed {
            event_id: meta.event_id,
            user_id: "not-a-user".into(),
            ..PaymentFailed::default()
        })
    }));
    assert!(matches!(
        w.notifier.handle(&event).await,
        Err(HandlingError::Reject(_))
    ));
}

#[tokio::test]
async fn a_user_who_chose_push_only_gets_no_email_or_sms() {
    let w = world(Settings::default());
    let asha = user(&w, Some("+919812345678"), vec![ChannelKind::Push]);
    w.notifier.handle(&order_created(asha)).await.unwrap();
    let deliveries = all(&w.store).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].channel, ChannelKind::Push);
    assert_eq!(deliveries[0].recipient, format!("user:{asha}"));
    assert_eq!(deliveries[0].subject, "Your mandi order o-1 is placed");
}

#[tokio::test]
async fn an_unknown_user_is_remembered_with_no_delivery() {
    let w = world(Settings::default());
    let event = order_created(Uuid::now_v7());
    assert!(w.notifier.on_event(&event).await.unwrap());
    assert!(all(&w.store).await.is_empty());
}

fn stock_low() -> ConsumedEvent {
    consumed(envelope("inventory", "product", "p-9", |meta| {
        Payload::StockLow(StockLow {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            product_id: "p-9".into(),
            available_quantity: 4,
            low_stock_threshold: 10,
        })
    }))
}

fn batch_expiring() -> ConsumedEvent {
    consumed(envelope("inventory", "batch", "b-1", |meta| {
        Payload::BatchExpiring(BatchExpiring {
            event_id: meta.event_id,
            batch_id: "b-1".into(),
            product_id: "p-9".into(),
            warehouse_id: "w-1".into(),
            unsold_quantity: 12,
            ..BatchExpiring::default()
        })
    }))
}

#[tokio::test]
async fn low_stock_goes_to_the_vendor_who_sells_the_product() {
    let w = world(Settings {
        operations_email: Some("ops@mandi.local".into()),
        ..Settings::default()
    });
    let vendor = user(&w, None, vec![]);
    w.directory.sells(vendor, "p-9");
    w.notifier.handle(&stock_low()).await.unwrap();
    let deliveries = all(&w.store).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].user_id, Some(vendor));
    assert_eq!(deliveries[0].subject, "Low stock: product p-9");
}

#[tokio::test]
async fn an_expiring_batch_goes_to_the_vendor_and_to_operations() {
    let w = world(Settings {
        operations_email: Some("ops@mandi.local".into()),
        ..Settings::default()
    });
    let vendor = user(&w, None, vec![]);
    w.directory.sells(vendor, "p-9");
    w.notifier.handle(&batch_expiring()).await.unwrap();
    let deliveries = all(&w.store).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(deliveries.iter().any(|d| d.user_id == Some(vendor)));
    assert!(
        deliveries
            .iter()
            .any(|d| d.user_id.is_none() && d.recipient == "ops@mandi.local")
    );
    assert!(deliveries.iter().all(|d| d.body.contains("with 12 unsold")));
}

#[tokio::test]
async fn a_product_catalog_does_not_know_is_told_to_operations_once() {
    let w = world(Settings {
        operations_email: Some("ops@mandi.local".into()),
        ..Settings::default()
    });
    w.notifier.handle(&batch_expiring()).await.unwrap();
    let deliveries = all(&w.store).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].recipient, "ops@mandi.local");
}

#[tokio::test]
async fn without_an_operations_address_an_unowned_products_notice_is_only_remembered() {
    let w = world(Settings::default());
    assert!(w.notifier.on_event(&stock_low()).await.unwrap());
    assert!(all(&w.store).await.is_empty());
}

#[tokio::test]
async fn catalog_down_is_a_retry() {
    let w = world(Settings::default());
    w.directory.set_down(true);
    assert!(matches!(
        w.notifier.handle(&stock_low()).await,
        Err(HandlingError::Retry(_))
    ));
}

fn request(user: Uuid, request_id: &str) -> SendRequest {
    SendRequest {
        user_id: Some(user),
        channels: vec![],
        template: "order_status_changed".into(),
        data: BTreeMap::from([
            ("order_id".to_owned(), "o-1".to_owned()),
            ("status".to_owned(), "packed".to_owned()),
        ]),
        recipient: None,
        request_id: Some(request_id.into()),
    }
}

#[tokio::test]
async fn a_retried_request_returns_the_first_deliveries_and_a_changed_one_is_refused() {
    let w = world(Settings::default());
    let asha = user(&w, None, vec![]);
    let first = w.notifier.send(request(asha, "r-1")).await.unwrap();
    let again = w.notifier.send(request(asha, "r-1")).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(all(&w.store).await.len(), 1);

    let mut changed = request(asha, "r-1");
    changed.data.insert("status".into(), "delivered".into());
    let err = w.notifier.send(changed).await.unwrap_err();
    assert!(
        matches!(err, NotificationError::Invalid(ref v) if v[0].field == "request_id"),
        "{err:?}"
    );
}

#[tokio::test]
async fn marketing_to_a_user_who_did_not_opt_in_is_suppressed() {
    let w = world(Settings::default());
    let asha = user(&w, None, vec![]);
    let deliveries = w
        .notifier
        .send(SendRequest {
            template: "promotion".into(),
            data: BTreeMap::from([
                ("headline".to_owned(), "Mangoes are in".to_owned()),
                ("details".to_owned(), "Alphonso, 20% off".to_owned()),
            ]),
            ..request(asha, "r-2")
        })
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, DeliveryStatus::Suppressed);
    assert!(deliveries[0].last_error.contains("marketing"));
}

#[tokio::test]
async fn a_request_missing_template_values_names_them() {
    let w = world(Settings::default());
    let asha = user(&w, None, vec![]);
    let mut bad = request(asha, "r-3");
    bad.data.clear();
    let NotificationError::Invalid(violations) = w.notifier.send(bad).await.unwrap_err() else {
        panic!("expected invalid");
    };
    assert_eq!(violations[0].field, "template_data.order_id");
}

#[tokio::test]
async fn users_see_their_own_deliveries_and_staff_see_everyones() {
    let w = world(Settings::default());
    let asha = user(&w, None, vec![]);
    let ravi = user(&w, None, vec![]);
    w.notifier.handle(&order_created(asha)).await.unwrap();
    w.notifier.handle(&order_created(ravi)).await.unwrap();

    let mine = w
        .notifier
        .list(&Viewer::User(asha), DeliveryFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].user_id, Some(asha));
    let theirs = DeliveryFilter {
        user_id: Some(ravi),
        ..DeliveryFilter::default()
    };
    assert!(matches!(
        w.notifier
            .list(&Viewer::User(asha), theirs.clone(), None, 50)
            .await,
        Err(NotificationError::PermissionDenied(_))
    ));
    assert_eq!(
        w.notifier
            .list(&Viewer::Staff, theirs, None, 50)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        w.notifier
            .list(&Viewer::Staff, DeliveryFilter::default(), None, 50)
            .await
            .unwrap()
            .len(),
        2
    );

    let ravis = all(&w.store)
        .await
        .into_iter()
        .find(|d| d.user_id == Some(ravi))
        .unwrap();
    assert!(matches!(
        w.notifier.get(&Viewer::User(asha), ravis.id).await,
        Err(NotificationError::NotFound(_))
    ));
    assert_eq!(
        w.notifier
            .get(&Viewer::User(ravi), ravis.id)
            .await
            .unwrap()
            .id,
        ravis.id
    );
}

#[tokio::test]
async fn the_local_sink_writes_each_message_to_a_file_a_developer_can_read() {
    let w = world(Settings::default());
    let asha = user(&w, Some("+919812345678"), vec![]);
    w.notifier.handle(&order_created(asha)).await.unwrap();
    let dir = std::env::temp_dir().join(format!("mandi-notification-{}", Uuid::now_v7()));
    let dispatcher = Dispatcher::new(
        w.store.clone(),
        Channels::all(Arc::new(LogChannel::new(Some(dir.clone())))),
        Duration::from_millis(10),
    );
    assert_eq!(dispatcher.run_once().await.unwrap(), 2);
    let sent = all(&w.store).await;
    assert!(
        sent.iter()
            .all(|d| d.status == DeliveryStatus::Sent && d.attempts == 1)
    );

    let emails = std::fs::read_to_string(dir.join("email.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(emails.lines().next().unwrap()).unwrap();
    assert_eq!(line["recipient"], "asha@example.in");
    assert_eq!(line["subject"], "Your mandi order o-1 is placed");
    let sms = std::fs::read_to_string(dir.join("sms.jsonl")).unwrap();
    assert!(sms.contains("mandi: order o-1 placed"), "{sms}");
    std::fs::remove_dir_all(dir).unwrap();
}
