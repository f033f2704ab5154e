//! order end to end through the SDK: checkout places orders (idempotently), customers
//! read their own, vendors and delivery staff their share, admins move them along the
//! state machine, on real PostgreSQL behind identity and on the embedded default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::common::v1::{Address, DeliveryDestination, Money, UnitOfSale};
use mandi_sdk::proto::mandi::identity::v1::{Role, SetUserRoleRequest};
use mandi_sdk::proto::mandi::order::v1::{
    BookedSlot, CancelOrderRequest, CreateOrderRequest, GetOrderRequest, ListOrdersRequest, Order,
    OrderItem, OrderStatus, UpdateOrderStatusRequest,
};
use mandi_sdk::proto::mandi::payment::v1::{
    AuthorizePaymentRequest, CardDetails, GetPaymentRequest, PaymentMethod, PaymentStatus,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::{sign_in, sign_up, sign_up_as};
use mandi_testkit::mesh::{self, ADMIN_EMAIL, checkout, client};
use mandi_testkit::status::bad_request_fields as fields;
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

fn start(target: &str, extra: Vec<(&'static str, String)>) -> ServerProcess {
    let order = ("MANDI_ORDER__OUTBOX_INTERVAL", "50ms".to_owned());
    mesh::start(target, std::iter::once(order).chain(extra).collect())
}

/// identity and order on fresh PostgreSQL databases; also returns order's database URL.
async fn start_real() -> (ServerProcess, String) {
    start_real_with(Vec::new()).await
}

/// [`start_real`] with more settings.
async fn start_real_with(extra: Vec<(&'static str, String)>) -> (ServerProcess, String) {
    let order_db = mandi_testkit::fresh_database().await;
    let mut env = mesh::real_identity().await;
    env.push(("MANDI_ORDER__DATABASE_URL", order_db.clone()));
    env.extend(extra);
    (start("identity,order", env), order_db)
}

/// Waits until the server's outbox relay has published every event in `database`.
async fn outbox_drained(database: &str) -> i64 {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(database).await.unwrap();
    for _ in 0..100 {
        let (unsent, total): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE sent_at IS NULL), count(*) FROM order_outbox",
        )
        .fetch_one(&mut connection)
        .await
        .unwrap();
        if unsent == 0 {
            return total;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox relay left events unsent");
}

/// A signed-in user and their id.
async fn user(server: &ServerProcess, email: &str, role: Role) -> (Mandi, String) {
    let mandi = client(server);
    let login = sign_up_as(&mandi, email, role).await;
    (mandi, login.user.unwrap().id)
}

fn inr(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "INR".into(),
        amount_minor,
    })
}

fn item(vendor: &str, unit_price: i64) -> OrderItem {
    OrderItem {
        product_id: Uuid::now_v7().to_string(),
        product_display_name: "Alphonso mango".into(),
        vendor_id: vendor.into(),
        unit_of_sale: UnitOfSale::Kilogram as i32,
        quantity: 1500,
        unit_price: inr(unit_price),
        ..Default::default()
    }
}

/// An order of two lines (1.5 kg at 400.00/kg from each vendor) for `customer`, keyed
/// by `request_id`: 600.00 + 600.00 + 40.00 delivery + 5.00 tax - 10.00 discount.
fn create_request(customer: &str, vendors: [&str; 2], request_id: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        user_id: customer.into(),
        checkout_id: request_id.into(),
        items: vec![item(vendors[0], 40_000), item(vendors[1], 40_000)],
        destination: Some(DeliveryDestination {
            address: Some(Address {
                line1: "1 Market Road".into(),
                city: "Bengaluru".into(),
                country_code: "IN".into(),
                ..Default::default()
            }),
            recipient_name: "Asha".into(),
            recipient_phone: "+919812345678".into(),
            delivery_instructions: "leave with the guard".into(),
        }),
        delivery_slot: Some(BookedSlot {
            slot_id: "slot-7".into(),
            start_time: Some(prost_types::Timestamp {
                seconds: 1_900_000_000,
                nanos: 0,
            }),
            end_time: Some(prost_types::Timestamp {
                seconds: 1_900_003_600,
                nanos: 0,
            }),
        }),
        delivery_fee: inr(4_000),
        tax: inr(500),
        discount: inr(1_000),
        expected_total: inr(123_500),
        payment_method: PaymentMethod::Card as i32,
        request_id: request_id.into(),
    }
}

async fn get(mandi: &Mandi, id: &str) -> Result<Order, tonic::Status> {
    mandi
        .order()
        .get_order(GetOrderRequest {
            order_id: id.into(),
        })
        .await
        .map(|r| r.into_inner().order.unwrap())
}

async fn set_status(
    mandi: &Mandi,
    id: &str,
    status: OrderStatus,
    reason: &str,
) -> Result<Order, tonic::Status> {
    mandi
        .order()
        .update_order_status(UpdateOrderStatusRequest {
            order_id: id.into(),
            status: status as i32,
            reason: reason.into(),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().order.unwrap())
}

async fn cancel(mandi: &Mandi, id: &str, reason: &str) -> Result<Order, tonic::Status> {
    mandi
        .order()
        .cancel_order(CancelOrderRequest {
            order_id: id.into(),
            reason: reason.into(),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .map(|r| r.into_inner().order.unwrap())
}

async fn list(mandi: &Mandi, request: ListOrdersRequest) -> Result<Vec<Order>, tonic::Status> {
    mandi
        .order()
        .list_orders(request)
        .await
        .map(|r| r.into_inner().orders)
}

#[tokio::test]
async fn an_order_on_postgresql_from_checkout_to_the_rider() {
    let (server, order_db) = start_real().await;
    let admin = client(&server);
    sign_up(&admin, ADMIN_EMAIL).await;
    let checkout = checkout(&server).await;
    let (asha, asha_id) = user(&server, "asha@example.com", Role::Customer).await;
    let (ravi, _) = user(&server, "ravi@example.com", Role::Customer).await;
    let (farm, farm_id) = user(&server, "farm@example.com", Role::Vendor).await;
    let other_vendor = Uuid::now_v7().to_string();
    let request = create_request(&asha_id, [&farm_id, &other_vendor], "checkout-1");

    // Checkout places the order; a retry gets the same one, a changed request is refused.
    let order = checkout
        .order()
        .create_order(request.clone())
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let retried = checkout
        .order()
        .create_order(request.clone())
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let mut changed = request.clone();
    changed.tax = inr(600);
    changed.expected_total = inr(123_600);
    let reused = checkout.order().create_order(changed).await.unwrap_err();

    assert_eq!(order.status, OrderStatus::Created as i32);
    assert_eq!(order.totals.as_ref().unwrap().total, inr(123_500));
    assert_eq!(order.items[0].line_total, inr(60_000));
    assert_eq!(retried.id, order.id);
    assert_eq!(reused.code(), Code::FailedPrecondition);
    assert_eq!(
        reused.get_error_details().error_info().unwrap().reason,
        "REQUEST_ID_REUSED"
    );
    // Customers cannot place orders themselves.
    let refused = asha
        .order()
        .create_order(create_request(&asha_id, [&farm_id, &other_vendor], "self"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // Asha reads and lists her own; Ravi is told it does not exist.
    assert_eq!(get(&asha, &order.id).await.unwrap(), order);
    let mine = list(&asha, ListOrdersRequest::default()).await.unwrap();
    assert_eq!(mine.iter().map(|o| &o.id).collect::<Vec<_>>(), [&order.id]);
    assert_eq!(
        get(&ravi, &order.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert!(
        list(&ravi, ListOrdersRequest::default())
            .await
            .unwrap()
            .is_empty()
    );
    let snoop = list(
        &ravi,
        ListOrdersRequest {
            user_id: asha_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(snoop.code(), Code::PermissionDenied);
    assert_eq!(
        cancel(&ravi, &order.id, "mine now")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    // The vendor sees the order with only their own line and no address.
    let theirs = list(&farm, ListOrdersRequest::default()).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].items.len(), 1);
    assert_eq!(theirs[0].items[0].vendor_id, farm_id);
    assert_eq!(theirs[0].destination, None);
    assert_eq!(theirs[0].vendor_ids, std::slice::from_ref(&farm_id));

    // Checkout settles payment; the admin packs.
    set_status(
        &checkout,
        &order.id,
        OrderStatus::PaymentPending,
        "authorizing",
    )
    .await
    .unwrap();
    let paid = checkout
        .order()
        .update_order_status(UpdateOrderStatusRequest {
            order_id: order.id.clone(),
            status: OrderStatus::Paid as i32,
            expected_status: OrderStatus::PaymentPending as i32,
            reason: "payment captured".into(),
            payment_id: "pay-1".into(),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(paid.payment_id, "pay-1");
    let packed = set_status(&admin, &order.id, OrderStatus::Packed, "packed at BLR-01")
        .await
        .unwrap();
    assert_eq!(packed.status, OrderStatus::Packed as i32);

    // An illegal move names the current status.
    let illegal = set_status(&admin, &order.id, OrderStatus::Delivered, "")
        .await
        .unwrap_err();
    assert_eq!(illegal.code(), Code::FailedPrecondition);
    assert!(
        illegal.message().contains("PACKED"),
        "{}",
        illegal.message()
    );
    let info = illegal.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.reason, "ILLEGAL_TRANSITION");
    assert_eq!(info.metadata["current"], "PACKED");
    assert_eq!(info.metadata["requested"], "DELIVERED");
    // A stale expectation aborts.
    let stale = admin
        .order()
        .update_order_status(UpdateOrderStatusRequest {
            order_id: order.id.clone(),
            status: OrderStatus::Shipped as i32,
            expected_version: 2,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Asha may no longer cancel a packed order.
    let late = cancel(&asha, &order.id, "too slow").await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(late.message().contains("PACKED"), "{}", late.message());

    // A rider lists packed orders and picks this one up.
    let (rider, rider_id) = user(&server, "rider@example.com", Role::Customer).await;
    admin
        .identity()
        .set_user_role(SetUserRoleRequest {
            user_id: rider_id.clone(),
            role: Role::Delivery as i32,
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    sign_in(&rider, "rider@example.com").await;
    let to_pick = list(&rider, ListOrdersRequest::default()).await.unwrap();
    assert_eq!(
        to_pick.iter().map(|o| &o.id).collect::<Vec<_>>(),
        [&order.id]
    );
    assert!(to_pick[0].payment_id.is_empty());
    let shipped = set_status(&rider, &order.id, OrderStatus::Shipped, "picked up")
        .await
        .unwrap();
    assert_eq!(shipped.status, OrderStatus::Shipped as i32);
    let delivered = set_status(&rider, &order.id, OrderStatus::Delivered, "")
        .await
        .unwrap();
    assert_eq!(delivered.status, OrderStatus::Delivered as i32);

    // The history has every step with who and why.
    let done = get(&asha, &order.id).await.unwrap();
    let steps: Vec<(i32, i32, &str)> = done
        .status_history
        .iter()
        .map(|c| (c.from_status, c.to_status, c.reason.as_str()))
        .collect();
    use OrderStatus::*;
    assert_eq!(
        steps,
        [
            (Unspecified as i32, Created as i32, ""),
            (Created as i32, PaymentPending as i32, "authorizing"),
            (PaymentPending as i32, Paid as i32, "payment captured"),
            (Paid as i32, Packed as i32, "packed at BLR-01"),
            (Packed as i32, Shipped as i32, "picked up"),
            (Shipped as i32, Delivered as i32, ""),
        ]
    );
    assert_eq!(done.status_history[0].actor, "service:checkout");
    assert_eq!(done.status_history[4].actor, rider_id);

    // A second order: Asha cancels it while CREATED; cancelling again changes nothing.
    let second = checkout
        .order()
        .create_order(create_request(
            &asha_id,
            [&farm_id, &other_vendor],
            "checkout-2",
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let cancelled = cancel(&asha, &second.id, "ordered twice").await.unwrap();
    assert_eq!(cancelled.status, Cancelled as i32);
    assert_eq!(cancelled.cancel_reason, "ordered twice");
    assert_eq!(cancel(&asha, &second.id, "again").await.unwrap(), cancelled);
    let cancelled_only = list(
        &asha,
        ListOrdersRequest {
            statuses: vec![Cancelled as i32],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        cancelled_only.iter().map(|o| &o.id).collect::<Vec<_>>(),
        [&second.id]
    );
    let newest_first = list(&admin, ListOrdersRequest::default()).await.unwrap();
    assert_eq!(
        newest_first.iter().map(|o| &o.id).collect::<Vec<_>>(),
        [&second.id, &order.id]
    );
    // Every change went out through the outbox: 2 creations, 5 + 1 status changes.
    assert_eq!(outbox_drained(&order_db).await, 8);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_each_field() {
    let (server, _) = start_real().await;
    let admin = client(&server);
    sign_up(&admin, ADMIN_EMAIL).await;
    let checkout = checkout(&server).await;

    let mut bad = create_request("not-a-uuid", ["also-not", &Uuid::now_v7().to_string()], "");
    bad.items[1].unit_of_sale = UnitOfSale::Unspecified as i32;
    bad.destination = None;
    bad.payment_method = PaymentMethod::Unspecified as i32;
    let status = checkout.order().create_order(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&status),
        [
            "user_id",
            "checkout_id",
            "items[0].vendor_id",
            "items[1].unit_of_sale",
            "destination",
            "payment_method",
            "request_id"
        ]
    );

    let customer = Uuid::now_v7().to_string();
    let vendor = Uuid::now_v7().to_string();
    let mut wrong_total = create_request(&customer, [&vendor, &vendor], "k-1");
    wrong_total.expected_total = inr(1);
    wrong_total.items[1].product_id = wrong_total.items[0].product_id.clone();
    let status = checkout
        .order()
        .create_order(wrong_total)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["items[1].product_id"]);

    let mut wrong_total = create_request(&customer, [&vendor, &vendor], "k-2");
    wrong_total.expected_total = inr(1);
    let status = checkout
        .order()
        .create_order(wrong_total)
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["expected_total"]);

    let status = admin
        .order()
        .update_order_status(UpdateOrderStatusRequest {
            order_id: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["order_id", "status"]);

    let status = list(
        &admin,
        ListOrdersRequest {
            page_size: -1,
            statuses: vec![0],
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&status), ["statuses[0]", "page_size"]);
    let status = get(&admin, "").await.unwrap_err();
    assert_eq!(fields(&status), ["order_id"]);
}

#[tokio::test]
async fn orders_work_on_the_embedded_default() {
    let server = start("all", vec![]);
    let admin = client(&server);
    sign_up(&admin, ADMIN_EMAIL).await;
    let checkout = checkout(&server).await;
    let (asha, asha_id) = user(&server, "asha@example.com", Role::Customer).await;
    let vendor = Uuid::now_v7().to_string();

    let order = checkout
        .order()
        .create_order(create_request(&asha_id, [&vendor, &vendor], "co-1"))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let paid = set_status(&checkout, &order.id, OrderStatus::Paid, "cash on delivery")
        .await
        .unwrap();
    let cancelled = cancel(&asha, &order.id, "changed my mind").await.unwrap();

    assert_eq!(paid.status, OrderStatus::Paid as i32);
    assert_eq!(cancelled.status, OrderStatus::Cancelled as i32);
    assert_eq!(get(&asha, &order.id).await.unwrap().status_history.len(), 3);
    let illegal = set_status(&admin, &order.id, OrderStatus::Packed, "")
        .await
        .unwrap_err();
    assert_eq!(illegal.code(), Code::FailedPrecondition);
    assert!(
        illegal.message().contains("CANCELLED"),
        "{}",
        illegal.message()
    );
}

/// Collects the order events of one order it consumes.
#[derive(Clone, Default)]
struct OrderEvents {
    order_id: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl mandi_kafka::consumer::EventHandler for OrderEvents {
    async fn handle(
        &self,
        event: &mandi_kafka::consumer::ConsumedEvent,
    ) -> Result<(), mandi_kafka::consumer::HandlingError> {
        if event.key == self.order_id {
            self.seen
                .lock()
                .unwrap()
                .push(event.envelope.r#type.clone());
        }
        Ok(())
    }
}

#[tokio::test]
async fn with_kafka_configured_order_events_reach_the_broker_in_order() {
    let brokers =
        std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    std::net::TcpStream::connect(brokers.split(',').next().unwrap())
        .unwrap_or_else(|e| panic!("no Kafka broker at {brokers} ({e}); start one with `make up`"));
    let (server, order_db) = start_real_with(vec![("MANDI_KAFKA__BROKERS", brokers.clone())]).await;
    let checkout = checkout(&server).await;
    let (_, customer) = user(&server, "kafka-buyer@example.com", Role::Customer).await;
    let request_id = Uuid::now_v7().to_string();
    let vendor = Uuid::now_v7().to_string();
    let order = checkout
        .order()
        .create_order(create_request(&customer, [&vendor, &vendor], &request_id))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    set_status(&checkout, &order.id, OrderStatus::Paid, "captured")
        .await
        .unwrap();
    assert_eq!(outbox_drained(&order_db).await, 2);

    let handler = OrderEvents {
        order_id: order.id.clone(),
        ..OrderEvents::default()
    };
    let settings = mandi_kafka::consumer::ConsumerSettings {
        group_id: format!("order-e2e-{}", Uuid::now_v7().simple()),
        topics: vec!["mandi.order.events.v1".into()],
        max_attempts: 1,
        first_backoff: std::time::Duration::from_millis(10),
    };
    let config = mandi_kafka::KafkaConfig::new(brokers, "order-e2e");
    let runner = mandi_kafka::consumer::Runner::new(&config, settings, handler.clone())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async {
        let _ = stopped.await;
    }));
    let started = std::time::Instant::now();
    while handler.seen.lock().unwrap().len() < 2 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the order's events did not reach Kafka"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(
        *handler.seen.lock().unwrap(),
        [
            "mandi.events.v1.OrderCreated",
            "mandi.events.v1.OrderStatusChanged"
        ]
    );
}

/// The payment of an order, once `done` holds for it (payment reacts to order events).
async fn payment_when(
    mandi: &Mandi,
    payment_id: &str,
    done: impl Fn(PaymentStatus) -> bool,
) -> mandi_sdk::proto::mandi::payment::v1::Payment {
    let started = std::time::Instant::now();
    loop {
        let payment = mandi
            .payment()
            .get_payment(GetPaymentRequest {
                payment_id: payment_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .payment
            .unwrap();
        if done(payment.status()) {
            return payment;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "payment stayed {:?}",
            payment.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn on_the_embedded_default_payment_follows_order_events() {
    let server = start("all", vec![]);
    let checkout = checkout(&server).await;
    let (_, customer) = user(&server, "cod-buyer@example.com", Role::Customer).await;
    let vendor = Uuid::now_v7().to_string();
    let authorize =
        |order: &Order, method: PaymentMethod, card: Option<CardDetails>| AuthorizePaymentRequest {
            order_id: order.id.clone(),
            user_id: customer.clone(),
            amount: order.totals.as_ref().unwrap().total.clone(),
            method: method as i32,
            card,
            request_id: Uuid::now_v7().to_string(),
        };

    // Cash on delivery: the payment is captured when the order is delivered.
    let mut request = create_request(&customer, [&vendor, &vendor], &Uuid::now_v7().to_string());
    request.payment_method = PaymentMethod::CashOnDelivery as i32;
    let order = checkout
        .order()
        .create_order(request)
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let cod = checkout
        .payment()
        .authorize_payment(authorize(&order, PaymentMethod::CashOnDelivery, None))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(cod.status(), PaymentStatus::Authorized);
    for status in [
        OrderStatus::Paid,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ] {
        set_status(&checkout, &order.id, status, "e2e")
            .await
            .unwrap();
    }
    payment_when(&checkout, &cod.id, |s| s == PaymentStatus::Captured).await;

    // A card authorized for an order that is then cancelled is voided.
    let order = checkout
        .order()
        .create_order(create_request(
            &customer,
            [&vendor, &vendor],
            &Uuid::now_v7().to_string(),
        ))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    let card = CardDetails {
        token: "4242424242424242".into(),
        exp_month: 12,
        exp_year: 2030,
    };
    let paid = checkout
        .payment()
        .authorize_payment(authorize(&order, PaymentMethod::Card, Some(card)))
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(paid.status(), PaymentStatus::Authorized);
    cancel(&checkout, &order.id, "changed my mind")
        .await
        .unwrap();
    payment_when(&checkout, &paid.id, |s| s == PaymentStatus::Voided).await;
}
