//! notification end to end on the embedded default (`--target=all`): an order placed
//! through order's API reaches notification over the process's event bus, which looks
//! the customer up in identity and profile through the SDK and records the delivery; the
//! customer lists their own notifications, not anyone else's; SendNotification is for
//! internal services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::common::v1::UnitOfSale;
use mandi_sdk::proto::mandi::common::v1::{Address, DeliveryDestination, Money};
use mandi_sdk::proto::mandi::identity::v1::Role;
use mandi_sdk::proto::mandi::notification::v1::{
    Channel, Delivery, DeliveryStatus, GetDeliveryRequest, ListDeliveriesRequest,
    SendNotificationRequest,
};
use mandi_sdk::proto::mandi::order::v1::{
    CreateOrderRequest, OrderItem, OrderStatus, UpdateOrderStatusRequest,
};
use mandi_sdk::proto::mandi::payment::v1::PaymentMethod;
use mandi_testkit::accounts::sign_up_as;
use mandi_testkit::mesh::{self, checkout, client};
use tonic::Code;
use uuid::Uuid;

fn inr(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "INR".into(),
        amount_minor,
    })
}

fn order_for(customer: &str) -> CreateOrderRequest {
    let id = Uuid::now_v7().to_string();
    CreateOrderRequest {
        user_id: customer.into(),
        checkout_id: id.clone(),
        items: vec![OrderItem {
            product_id: Uuid::now_v7().to_string(),
            vendor_id: Uuid::now_v7().to_string(),
            product_display_name: "Alphonso mango".into(),
            unit_of_sale: UnitOfSale::Kilogram as i32,
            quantity: 1000,
            unit_price: inr(40_000),
            ..Default::default()
        }],
        destination: Some(DeliveryDestination {
            address: Some(Address {
                line1: "1 Market Road".into(),
                city: "Bengaluru".into(),
                country_code: "IN".into(),
                ..Default::default()
            }),
            recipient_name: "Asha".into(),
            recipient_phone: "+919812345678".into(),
            ..Default::default()
        }),
        delivery_fee: inr(0),
        tax: inr(0),
        discount: inr(0),
        expected_total: inr(40_000),
        payment_method: PaymentMethod::CashOnDelivery as i32,
        request_id: id,
        ..Default::default()
    }
}

async fn deliveries(mandi: &Mandi, request: ListDeliveriesRequest) -> Vec<Delivery> {
    mandi
        .notification()
        .list_deliveries(request)
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

/// Waits until `mandi` sees a delivery of `template` in a terminal state.
async fn delivered(mandi: &Mandi, template: &str) -> Delivery {
    let started = Instant::now();
    loop {
        let found = deliveries(
            mandi,
            ListDeliveriesRequest {
                template: template.into(),
                ..Default::default()
            },
        )
        .await
        .into_iter()
        .find(|d| d.status() == DeliveryStatus::Sent);
        if let Some(found) = found {
            return found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no sent {template} notification"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_order_on_the_embedded_default_notifies_its_customer_by_email() {
    let server = mesh::start("all", vec![]);
    let checkout = checkout(&server).await;
    let asha = client(&server);
    let login = sign_up_as(&asha, "asha.notified@example.com", Role::Customer).await;
    let asha_id = login.user.unwrap().id;
    let ravi = client(&server);
    let ravi_id = sign_up_as(&ravi, "ravi.notified@example.com", Role::Customer)
        .await
        .user
        .unwrap()
        .id;

    let order = checkout
        .order()
        .create_order(order_for(&asha_id))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();

    let placed = delivered(&asha, "order_placed").await;
    assert_eq!(placed.user_id, asha_id);
    assert_eq!(placed.channel(), Channel::Email);
    assert_eq!(placed.recipient, "asha.notified@example.com");
    assert_eq!(
        placed.subject,
        format!("Your mandi order {} is placed", order.id)
    );
    assert!(placed.body.contains("INR 400.00"), "{}", placed.body);
    assert!(!placed.event_id.is_empty());
    assert_eq!(placed.attempts, 1);

    // Status changes that have no notice of their own are told too.
    for status in [OrderStatus::Paid, OrderStatus::Packed] {
        checkout
            .order()
            .update_order_status(UpdateOrderStatusRequest {
                order_id: order.id.clone(),
                status: status as i32,
                reason: "e2e".into(),
                request_id: Uuid::now_v7().to_string(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let packed = delivered(&asha, "order_status_changed").await;
    assert_eq!(packed.subject, format!("Order {} is packed", order.id));

    // Ravi sees none of it, and may not ask for Asha's.
    assert!(
        deliveries(&ravi, ListDeliveriesRequest::default())
            .await
            .is_empty()
    );
    let err = ravi
        .notification()
        .list_deliveries(ListDeliveriesRequest {
            user_id: asha_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = ravi
        .notification()
        .get_delivery(GetDeliveryRequest {
            delivery_id: placed.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let own = asha
        .notification()
        .get_delivery(GetDeliveryRequest {
            delivery_id: placed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .delivery
        .unwrap();
    assert_eq!(own.id, placed.id);

    // SendNotification is for internal services; for them it is idempotent by request id.
    let send = SendNotificationRequest {
        user_id: ravi_id.clone(),
        template: "order_status_changed".into(),
        template_data: [("order_id", "o-77"), ("status", "delayed")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        request_id: Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let err = ravi
        .notification()
        .send_notification(send.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let first = checkout
        .notification()
        .send_notification(send.clone())
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    let again = checkout
        .notification()
        .send_notification(send)
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].id, again[0].id);
    let told = delivered(&ravi, "order_status_changed").await;
    assert_eq!(told.subject, "Order o-77 is delayed");
}

#[tokio::test]
async fn on_real_backends_an_order_reaches_notification_over_kafka_and_lands_in_the_outbox_file() {
    let brokers =
        std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    std::net::TcpStream::connect(brokers.split(',').next().unwrap())
        .unwrap_or_else(|e| panic!("no Kafka broker at {brokers} ({e}); start one with `make up`"));
    let notification_db = mandi_testkit::fresh_database().await;
    let outbox = std::env::temp_dir().join(format!("mandi-notify-{}", Uuid::now_v7().simple()));
    let secret = "notification-secret-for-tests-0123";
    let mut env = mesh::real_identity().await;
    env.extend([
        (
            "MANDI_IDENTITY__SERVICE_CLIENTS",
            format!("checkout={},notification={secret}", mesh::CHECKOUT_SECRET),
        ),
        (
            "MANDI_PROFILE__DATABASE_URL",
            mandi_testkit::fresh_database().await,
        ),
        (
            "MANDI_ORDER__DATABASE_URL",
            mandi_testkit::fresh_database().await,
        ),
        ("MANDI_ORDER__OUTBOX_INTERVAL", "50ms".to_owned()),
        ("MANDI_NOTIFICATION__DATABASE_URL", notification_db.clone()),
        ("MANDI_NOTIFICATION__CLIENT_SECRET", secret.to_owned()),
        // Catalog (who sells a product, for stock notices) runs elsewhere; order events
        // never ask it.
        (
            "MANDI_NOTIFICATION__CATALOG_ENDPOINT",
            "http://127.0.0.1:9".to_owned(),
        ),
        (
            "MANDI_NOTIFICATION__OUTBOX_DIR",
            outbox.display().to_string(),
        ),
        ("MANDI_KAFKA__BROKERS", brokers),
        // Groups of this run only: the shared broker's topics hold other tests' events.
        (
            "MANDI_KAFKA__GROUP_PREFIX",
            format!("e2e-{}-", Uuid::now_v7().simple()),
        ),
    ]);
    let server = mesh::start("identity,profile,order,notification", env);
    let checkout = checkout(&server).await;
    let asha = client(&server);
    let asha_id = sign_up_as(&asha, "asha.kafka@example.com", Role::Customer)
        .await
        .user
        .unwrap()
        .id;

    let order = checkout
        .order()
        .create_order(order_for(&asha_id))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();

    let placed = delivered(&asha, "order_placed").await;
    assert_eq!(placed.recipient, "asha.kafka@example.com");
    assert_eq!(
        placed.subject,
        format!("Your mandi order {} is placed", order.id)
    );
    let emails = std::fs::read_to_string(outbox.join("email.jsonl")).unwrap();
    assert!(
        emails.contains(&format!(
            "\"subject\":\"Your mandi order {} is placed\"",
            order.id
        )),
        "{emails}"
    );

    // The delivery log is in notification's own database, with the event id beside it.
    use sqlx::Connection as _;
    let mut db = sqlx::PgConnection::connect(&notification_db).await.unwrap();
    let (status, source): (String, String) =
        sqlx::query_as("SELECT status, source_key FROM deliveries WHERE id = $1::uuid")
            .bind(&placed.id)
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!(status, "sent");
    assert_eq!(source, format!("event:{}", placed.event_id));
    std::fs::remove_dir_all(outbox).unwrap();
}
