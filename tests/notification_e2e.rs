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
