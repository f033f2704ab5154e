//! One contract for the order store, run against the in-memory twin and PostgreSQL (a
//! fresh database per case). The PostgreSQL cases fail when the server is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mandi_order::domain::{
    Destination, Item, Money, NewOrder, Order, OrderError, OrderFilter, OrderStatus, PaymentMethod,
    Permit, StatusUpdate, Unit,
};
use mandi_order::events;
use mandi_order::orders::{Orders, now};
use mandi_order::store::memory::MemoryStore;
use mandi_order::store::postgres::PgStore;
use mandi_order::store::{Committed, Cursor, OrderStore, RequestKey};
use mandi_runtime::events::{EventPublisher, InProcessPublisher, PublishError, PublishedEvent};
use mandi_runtime::outbox::{OutboxStore, Relay};
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use uuid::Uuid;

/// Opens the store of one case; opening again reaches the same data (a restart).
trait Backend: Send + Sync + 'static {
    type Store: OrderStore + Clone;
    fn open(&self) -> impl Future<Output = Self::Store> + Send;
}

struct Memory(MemoryStore);

impl Backend for Memory {
    type Store = MemoryStore;
    async fn open(&self) -> MemoryStore {
        self.0.clone()
    }
}

struct Postgres(String);

impl Backend for Postgres {
    type Store = PgStore;
    async fn open(&self) -> PgStore {
        PgStore::connect(&self.0).await.unwrap()
    }
}

fn inr(minor: i64) -> Money {
    Money::new("INR", minor)
}

fn new_order(customer: Uuid, vendor: Uuid) -> NewOrder {
    NewOrder {
        customer_id: customer,
        checkout_id: Uuid::now_v7().to_string(),
        items: vec![Item {
            product_id: Uuid::now_v7(),
            name: "Tomato".into(),
            image_url: String::new(),
            vendor_id: vendor,
            unit: Unit::Kilogram,
            quantity: 2000,
            unit_price: inr(4_000),
        }],
        destination: Destination {
            line1: "1 Market Road".into(),
            city: "Bengaluru".into(),
            country_code: "IN".into(),
            recipient_name: "Asha".into(),
            recipient_phone: "+919812345678".into(),
            ..Destination::default()
        },
        slot: None,
        delivery_fee: inr(3_000),
        tax: inr(0),
        discount: inr(0),
        expected_total: inr(11_000),
        payment_method: PaymentMethod("PAYMENT_METHOD_CARD".into()),
    }
}

fn key(name: &str) -> RequestKey {
    RequestKey {
        key: format!("service:checkout/{name}"),
        fingerprint: "CreateOrder:same".into(),
    }
}

async fn place(orders: &Orders<impl OrderStore>, customer: Uuid) -> Order {
    orders
        .create(
            new_order(customer, Uuid::now_v7()),
            &key(&Uuid::now_v7().to_string()),
            "service:checkout",
        )
        .await
        .unwrap()
}

fn staff(to: OrderStatus) -> StatusUpdate {
    StatusUpdate::new(to, "admin-1", Permit::Staff, format!("to {to}"))
}

async fn unsent(store: &impl OutboxStore) -> Vec<EventEnvelope> {
    store
        .pending(10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.envelope)
        .collect()
}

fn kind(envelope: &EventEnvelope) -> String {
    match &envelope.payload {
        Some(Payload::OrderCreated(_)) => "created".into(),
        Some(Payload::OrderStatusChanged(c)) => format!("{}->{}", c.from_status, c.to_status),
        other => format!("{other:?}"),
    }
}

// === cases ===

async fn a_placed_order_reads_back_with_its_creation_entry_and_one_event(backend: impl Backend) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());

    let order = place(&orders, Uuid::now_v7()).await;

    assert_eq!(store.get(order.id).await.unwrap(), Some(order.clone()));
    assert_eq!(order.history.len(), 1);
    let events = unsent(store.as_ref()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].aggregate_id, order.id.to_string());
    let Some(Payload::OrderCreated(created)) = &events[0].payload else {
        panic!("expected OrderCreated");
    };
    assert_eq!(created.total.as_ref().unwrap().amount_minor, 11_000);
}

async fn creating_again_with_a_key_returns_the_first_order_and_a_changed_request_is_refused(
    backend: impl Backend,
) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let customer = Uuid::now_v7();
    let request = new_order(customer, Uuid::now_v7());

    let first = orders
        .create(request.clone(), &key("co-1"), "service:checkout")
        .await
        .unwrap();
    let again = orders
        .create(request.clone(), &key("co-1"), "service:checkout")
        .await
        .unwrap();
    let changed = RequestKey {
        fingerprint: "CreateOrder:other".into(),
        ..key("co-1")
    };
    let refused = orders.create(request, &changed, "service:checkout").await;

    assert_eq!(again, first);
    assert!(
        matches!(refused, Err(OrderError::RequestReused)),
        "{refused:?}"
    );
    assert_eq!(unsent(store.as_ref()).await.len(), 1);
}

async fn concurrent_creates_with_one_key_store_one_order(backend: impl Backend) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let request = new_order(Uuid::now_v7(), Uuid::now_v7());

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (orders, request) = (orders.clone(), request.clone());
            tokio::spawn(async move {
                orders
                    .create(request, &key("co-race"), "service:checkout")
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().unwrap().id);
    }

    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let all = store
        .list(&OrderFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(unsent(store.as_ref()).await.len(), 1);
}

async fn each_change_is_stored_with_its_history_entry_and_its_event_and_a_refused_one_with_neither(
    backend: impl Backend,
) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let order = place(&orders, Uuid::now_v7()).await;

    orders
        .change(order.id, &staff(OrderStatus::PaymentPending), None)
        .await
        .unwrap();
    let paid = orders
        .change(order.id, &staff(OrderStatus::Paid), None)
        .await
        .unwrap();
    let illegal = orders
        .change(order.id, &staff(OrderStatus::Delivered), None)
        .await;
    let same = orders
        .change(order.id, &staff(OrderStatus::Paid), None)
        .await
        .unwrap();

    assert!(
        matches!(
            illegal,
            Err(OrderError::IllegalTransition {
                current: OrderStatus::Paid,
                requested: OrderStatus::Delivered
            })
        ),
        "{illegal:?}"
    );
    assert_eq!(same, paid, "setting the current status changes nothing");
    let stored = store.get(order.id).await.unwrap().unwrap();
    assert_eq!(stored, paid);
    let history: Vec<_> = stored.history.iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        history,
        [
            (None, OrderStatus::Created),
            (Some(OrderStatus::Created), OrderStatus::PaymentPending),
            (Some(OrderStatus::PaymentPending), OrderStatus::Paid),
        ]
    );
    assert_eq!(stored.history[2].actor, "admin-1");
    assert_eq!(stored.history[2].reason, "to PAID");
    let kinds: Vec<String> = unsent(store.as_ref()).await.iter().map(kind).collect();
    assert_eq!(kinds, ["created", "1->8", "8->2"]);
}

async fn a_change_from_a_stale_read_is_refused_by_the_store_and_writes_nothing(
    backend: impl Backend,
) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let order = place(&orders, Uuid::now_v7()).await;
    let mut stale = order.clone();
    orders
        .change(order.id, &staff(OrderStatus::Cancelled), None)
        .await
        .unwrap();

    let change = stale
        .apply(&staff(OrderStatus::Paid), now())
        .unwrap()
        .unwrap();
    let outcome = store
        .commit_change(&stale, None, &events::status_changed(&stale, &change))
        .await
        .unwrap();

    let Committed::Stale(current) = outcome else {
        panic!("expected Stale, got {outcome:?}");
    };
    assert_eq!(current.status, OrderStatus::Cancelled);
    assert_eq!(store.get(order.id).await.unwrap().unwrap().history.len(), 2);
    assert_eq!(unsent(store.as_ref()).await.len(), 2);
}

async fn of_concurrent_changes_to_one_order_exactly_one_wins(backend: impl Backend) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let order = place(&orders, Uuid::now_v7()).await;
    let targets = [
        OrderStatus::PaymentPending,
        OrderStatus::Paid,
        OrderStatus::Cancelled,
    ];

    // Every contender read version 1; the SQL guard lets one commit.
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (store, mut mine) = (store.clone(), order.clone());
            let to = targets[i % targets.len()];
            tokio::spawn(async move {
                let change = mine.apply(&staff(to), now()).unwrap().unwrap();
                let event = events::status_changed(&mine, &change);
                store.commit_change(&mine, None, &event).await.unwrap()
            })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        match task.await.unwrap() {
            Committed::Done => done += 1,
            Committed::Stale(current) => assert_eq!(current.version, 2),
            Committed::KeyTaken => panic!("no keys were sent"),
        }
    }

    assert_eq!(done, 1);
    assert_eq!(store.get(order.id).await.unwrap().unwrap().history.len(), 2);
    assert_eq!(unsent(store.as_ref()).await.len(), 2);

    // Through the use case on a fresh order, each contender pinning the version it read:
    // one moves it, the others are told it changed under them.
    let order = place(&orders, Uuid::now_v7()).await;
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|to| {
            let orders = orders.clone();
            let mut update = staff(to);
            update.expected_version = Some(1);
            tokio::spawn(async move { orders.change(order.id, &update, None).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(order) => {
                assert_eq!(order.version, 2);
                won += 1;
            }
            Err(OrderError::Unexpected { version: 2, .. } | OrderError::Concurrent { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.get(order.id).await.unwrap().unwrap().history.len(), 2);
}

async fn a_change_key_applies_once_and_a_reused_key_is_refused(backend: impl Backend) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let order = place(&orders, Uuid::now_v7()).await;
    let request = RequestKey {
        key: "admin-1/r-1".into(),
        fingerprint: "UpdateOrderStatus:pay".into(),
    };

    let first = orders
        .change(order.id, &staff(OrderStatus::Paid), Some(&request))
        .await
        .unwrap();
    orders
        .change(order.id, &staff(OrderStatus::Packed), None)
        .await
        .unwrap();
    // The retry arrives after the order moved on: it answers, it does not move it back.
    let retried = orders
        .change(order.id, &staff(OrderStatus::Paid), Some(&request))
        .await
        .unwrap();
    let reused = orders
        .change(
            order.id,
            &staff(OrderStatus::Shipped),
            Some(&RequestKey {
                fingerprint: "UpdateOrderStatus:ship".into(),
                ..request.clone()
            }),
        )
        .await;

    assert_eq!(first.status, OrderStatus::Paid);
    assert_eq!(retried.status, OrderStatus::Packed);
    assert!(
        matches!(reused, Err(OrderError::RequestReused)),
        "{reused:?}"
    );
    assert_eq!(store.get(order.id).await.unwrap().unwrap().history.len(), 3);
}

async fn listings_are_newest_first_paged_and_filtered(backend: impl Backend) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let (asha, ravi, vendor) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut ashas = Vec::new();
    for i in 0..5 {
        let order = orders
            .create(
                new_order(asha, if i % 2 == 0 { vendor } else { Uuid::now_v7() }),
                &key(&format!("asha-{i}")),
                "service:checkout",
            )
            .await
            .unwrap();
        ashas.push(order.id);
    }
    place(&orders, ravi).await;
    orders
        .change(ashas[1], &staff(OrderStatus::Paid), None)
        .await
        .unwrap();

    let mine = OrderFilter {
        customer_id: Some(asha),
        ..OrderFilter::default()
    };
    let page1 = store.list(&mine, None, 3).await.unwrap();
    let page2 = store
        .list(&mine, Some(Cursor::after(page1.last().unwrap())), 3)
        .await
        .unwrap();
    let seen: Vec<Uuid> = page1.iter().chain(&page2).map(|o| o.id).collect();
    let newest_first: Vec<Uuid> = ashas.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);

    let by_vendor = OrderFilter {
        vendor_id: Some(vendor),
        ..OrderFilter::default()
    };
    let vendor_ids: Vec<Uuid> = store
        .list(&by_vendor, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(vendor_ids, [ashas[4], ashas[2], ashas[0]]);

    let paid = OrderFilter {
        statuses: vec![OrderStatus::Paid],
        ..OrderFilter::default()
    };
    let paid = store.list(&paid, None, 10).await.unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].id, ashas[1]);
    assert_eq!(paid[0].history.len(), 2);
}

/// Fails every publish: the broker is down, or the process dies before publishing.
struct Down(AtomicUsize);

impl EventPublisher for Down {
    async fn publish(
        &self,
        topic: &str,
        _: &str,
        envelope: EventEnvelope,
    ) -> Result<(), PublishError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(PublishError::Failed {
            topic: topic.to_owned(),
            event_id: envelope.event_id,
            source: "broker down".into(),
        })
    }
}

/// Drains `relay` until `count` events arrived on `events` (a restarted replica may wait
/// a moment for the dead one's lock to go with its connection).
async fn receive<S: OutboxStore, P: EventPublisher>(
    relay: &Relay<S, P>,
    events: &mut tokio::sync::broadcast::Receiver<PublishedEvent>,
    count: usize,
) -> Vec<PublishedEvent> {
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while received.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} events arrived",
            received.len()
        );
        relay.drain().await.unwrap();
        while let Ok(event) = events.try_recv() {
            received.push(event);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    received
}

async fn events_committed_but_never_published_go_out_after_a_restart_in_order_per_order(
    backend: impl Backend,
) {
    // Before the "crash": two orders change, interleaved; the relay never gets an event out.
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let (a, b) = (
        place(&orders, Uuid::now_v7()).await,
        place(&orders, Uuid::now_v7()).await,
    );
    for (id, to) in [
        (a.id, OrderStatus::PaymentPending),
        (b.id, OrderStatus::Paid),
        (a.id, OrderStatus::Paid),
        (b.id, OrderStatus::Packed),
        (a.id, OrderStatus::Packed),
    ] {
        orders.change(id, &staff(to), None).await.unwrap();
    }
    let down = Arc::new(Down(AtomicUsize::new(0)));
    let dying = Relay::new(store.clone(), down.clone(), 100);
    let pass = dying.drain().await.unwrap();
    assert!(pass.stalled && pass.published == 0);
    assert_eq!(
        down.0.load(Ordering::SeqCst),
        1,
        "stops at the first failure"
    );
    drop((dying, orders, store));

    // After the restart: a new store and relay on the same data publish everything.
    let store = Arc::new(backend.open().await);
    let publisher = InProcessPublisher::default();
    let mut events = publisher.subscribe();
    let relay = Relay::new(store.clone(), publisher, 2);
    let received = receive(&relay, &mut events, 7).await;

    let of = |id: Uuid| -> Vec<String> {
        received
            .iter()
            .filter(|e| e.key == id.to_string())
            .map(|e| kind(&e.envelope))
            .collect()
    };
    assert_eq!(of(a.id), ["created", "1->8", "8->2", "2->3"]);
    assert_eq!(of(b.id), ["created", "1->2", "2->3"]);
    assert!(received.iter().all(|e| e.topic == "mandi.order.events.v1"));
    assert!(unsent(store.as_ref()).await.is_empty());
    assert_eq!(
        relay.drain().await.unwrap().published,
        0,
        "each event goes out once"
    );
}

async fn outbox_records_keep_the_envelope_and_the_trace_headers(backend: impl Backend) {
    let store = backend.open().await;
    let order = new_order(Uuid::now_v7(), Uuid::now_v7())
        .place(Uuid::now_v7(), "service:checkout", now())
        .unwrap();
    let mut event = events::created(&order);
    event.trace_headers = vec![(
        "traceparent".into(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    )];

    store.create(&order, &key("trace"), &event).await.unwrap();

    let records = store.pending(10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].envelope, event.envelope);
    assert_eq!(records[0].trace_headers, event.trace_headers);
    store.mark_sent(records[0].sequence).await.unwrap();
    assert!(store.pending(10).await.unwrap().is_empty());
}

async fn concurrent_retries_of_one_keyed_change_apply_it_once(backend: impl Backend) {
    let store = Arc::new(backend.open().await);
    let orders = Orders::new(store.clone());
    let order = place(&orders, Uuid::now_v7()).await;
    let request = RequestKey {
        key: "service:checkout/pay-1".into(),
        fingerprint: "UpdateOrderStatus:pay".into(),
    };

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (orders, request) = (orders.clone(), request.clone());
            tokio::spawn(async move {
                orders
                    .change(order.id, &staff(OrderStatus::Paid), Some(&request))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status, OrderStatus::Paid);
    }

    assert_eq!(store.get(order.id).await.unwrap().unwrap().history.len(), 2);
    assert_eq!(unsent(store.as_ref()).await.len(), 2);
}

/// One `#[tokio::test]` per adapter for each contract case.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(super::Memory(super::MemoryStore::default())).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(super::Postgres(mandi_testkit::fresh_database().await)).await;
            })*
        }
    };
}

contract!(
    a_placed_order_reads_back_with_its_creation_entry_and_one_event,
    creating_again_with_a_key_returns_the_first_order_and_a_changed_request_is_refused,
    concurrent_creates_with_one_key_store_one_order,
    each_change_is_stored_with_its_history_entry_and_its_event_and_a_refused_one_with_neither,
    a_change_from_a_stale_read_is_refused_by_the_store_and_writes_nothing,
    of_concurrent_changes_to_one_order_exactly_one_wins,
    a_change_key_applies_once_and_a_reused_key_is_refused,
    listings_are_newest_first_paged_and_filtered,
    events_committed_but_never_published_go_out_after_a_restart_in_order_per_order,
    outbox_records_keep_the_envelope_and_the_trace_headers,
    concurrent_retries_of_one_keyed_change_apply_it_once,
);

/// PostgreSQL only: replicas share one outbox, and only one relays at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_one_replica_relays_at_a_time_and_another_takes_over_when_it_dies() {
    let backend = Postgres(mandi_testkit::fresh_database().await);
    let (first, second) = (backend.open().await, backend.open().await);
    place(&Orders::new(Arc::new(first.clone())), Uuid::now_v7()).await;

    assert_eq!(
        first.pending(10).await.unwrap().len(),
        1,
        "the first replica relays"
    );
    assert!(
        second.pending(10).await.unwrap().is_empty(),
        "the second waits while the first holds the relay lock"
    );
    assert_eq!(
        first.pending(10).await.unwrap().len(),
        1,
        "and the first keeps it"
    );

    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while second.pending(10).await.unwrap().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second replica never took over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
