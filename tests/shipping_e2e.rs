//! Shipping end to end through the SDK against `mandi-server --target=all`: a rider is
//! registered and goes on shift, a shipment is offered to them, two people watch it live
//! (one of them too slow to keep up) while the rider accepts, reports positions, picks it
//! up and completes it with the customer's code; and a checkout is delivered through
//! events, with the order's status following the shipment.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::StreamExt as _;
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::AddItemRequest;
use mandi_sdk::proto::mandi::checkout::v1::{
    CheckoutState, StartCheckoutRequest, start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::{Address, DeliveryDestination, GeoPoint};
use mandi_sdk::proto::mandi::identity::v1::{Role, SetUserRoleRequest};
use mandi_sdk::proto::mandi::order::v1::{GetOrderRequest, OrderStatus};
use mandi_sdk::proto::mandi::payment::v1::{CardDetails, PaymentMethod};
use mandi_sdk::proto::mandi::shipping::v1::{
    AcceptShipmentRequest, CreateRiderRequest, CreateShipmentRequest, GetShipmentRequest,
    ListDeliverySlotsRequest, ListShipmentsRequest, ReserveSlotRequest, Rider, RiderStatus,
    Shipment, ShipmentStatus, UpdateRiderRequest, UpdateShipmentStatusRequest, VehicleType,
    WatchShipmentRequest, WatchShipmentResponse,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::{sign_in, sign_up};
use mandi_testkit::mesh::{self, ADMIN_EMAIL};
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

fn address() -> Address {
    Address {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: "560001".into(),
        country_code: "IN".into(),
        ..Default::default()
    }
}

fn destination() -> DeliveryDestination {
    DeliveryDestination {
        address: Some(address()),
        recipient_name: "Asha Rao".into(),
        recipient_phone: "+919812345678".into(),
        delivery_instructions: "ring twice".into(),
    }
}

fn point(lat: f64, lng: f64) -> GeoPoint {
    GeoPoint {
        latitude_e6: (lat * 1e6) as i64,
        longitude_e6: (lng * 1e6) as i64,
    }
}

fn field_mask(paths: &[&str]) -> prost_types::FieldMask {
    prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// A user with the delivery role, registered as a cold-chain rider in blr-central and on
/// shift near the warehouse; returns their client and rider.
async fn rider_on_shift(server: &ServerProcess, admin: &Mandi, email: &str) -> (Mandi, Rider) {
    let rider = mesh::client(server);
    let login = sign_up(&rider, email).await;
    let user_id = login.user.unwrap().id;
    admin
        .identity()
        .set_user_role(SetUserRoleRequest {
            user_id: user_id.clone(),
            role: Role::Delivery.into(),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    // A new token carries the new role.
    sign_in(&rider, email).await;
    let created = admin
        .shipping()
        .create_rider(CreateRiderRequest {
            rider: Some(Rider {
                user_id,
                display_name: "Ravi Kumar".into(),
                phone: "+919800000001".into(),
                vehicle_type: VehicleType::Motorcycle.into(),
                cold_chain: true,
                zone_ids: vec!["blr-central".into()],
                ..Default::default()
            }),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .rider
        .unwrap();
    assert_eq!(created.status, RiderStatus::OffDuty as i32);
    let on_shift = rider
        .shipping()
        .update_rider(UpdateRiderRequest {
            rider: Some(Rider {
                id: created.id.clone(),
                status: RiderStatus::Available.into(),
                last_location: Some(point(12.975, 77.60)),
                ..Default::default()
            }),
            update_mask: Some(field_mask(&["status", "last_location"])),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .rider
        .unwrap();
    (rider, on_shift)
}

async fn first_cold_slot(client: &Mandi) -> String {
    let slots = client
        .shipping()
        .list_delivery_slots(ListDeliverySlotsRequest {
            destination: Some(address()),
            cold_chain_required: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .slots;
    slots.into_iter().find(|s| s.available).unwrap().id
}

async fn set_status(
    rider: &Mandi,
    shipment: &str,
    status: ShipmentStatus,
    code: &str,
) -> Result<Shipment, tonic::Status> {
    rider
        .shipping()
        .update_shipment_status(UpdateShipmentStatusRequest {
            shipment_id: shipment.into(),
            status: status.into(),
            location: Some(point(12.97, 77.59)),
            delivery_code: code.into(),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner().shipment.unwrap())
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

/// Reads a watch stream to its end.
async fn drain(mut stream: tonic::Streaming<WatchShipmentResponse>) -> Vec<WatchShipmentResponse> {
    let mut seen = Vec::new();
    while let Some(message) = tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("the watch ends after DELIVERED")
    {
        seen.push(message.unwrap());
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_watchers_follow_a_rider_to_the_door_and_a_slow_one_loses_nothing() {
    let server = mesh::start("all", vec![]);
    let admin = mesh::client(&server);
    sign_up(&admin, ADMIN_EMAIL).await;
    let customer = mesh::client(&server);
    let customer_id = sign_up(&customer, "asha@example.com")
        .await
        .user
        .unwrap()
        .id;
    let (rider, rider_profile) = rider_on_shift(&server, &admin, "ravi@example.com").await;
    let checkout = mesh::checkout(&server).await;

    // Checkout's part: hold a place, then the shipment for the paid order.
    let order_id = Uuid::now_v7().to_string();
    let slot = first_cold_slot(&customer).await;
    checkout
        .shipping()
        .reserve_slot(ReserveSlotRequest {
            slot_id: slot.clone(),
            order_id: order_id.clone(),
            cold_chain: true,
            weight_grams: 2_500,
            ..Default::default()
        })
        .await
        .unwrap();
    let shipment = checkout
        .shipping()
        .create_shipment(CreateShipmentRequest {
            order_id: order_id.clone(),
            user_id: customer_id.clone(),
            destination: Some(destination()),
            weight_grams: 2_500,
            cold_chain: true,
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(
        shipment.status,
        ShipmentStatus::Assigned as i32,
        "offered at once"
    );
    assert_eq!(shipment.rider_id, rider_profile.id);
    assert_eq!(shipment.rider_display_name, "Ravi Kumar");
    assert!(shipment.cold_chain);
    let id = shipment.id.clone();

    // Two watchers: the customer reads as it comes, the admin not until the end.
    let watch = |client: &Mandi| {
        let client = client.clone();
        let id = id.clone();
        async move {
            client
                .shipping()
                .watch_shipment(WatchShipmentRequest { shipment_id: id })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let fast = tokio::spawn(drain(watch(&customer).await));
    let slow = watch(&admin).await;
    // Someone else's shipment is not theirs to watch.
    let stranger = mesh::client(&server);
    sign_up(&stranger, "nosy@example.com").await;
    let refused = stranger
        .shipping()
        .watch_shipment(WatchShipmentRequest {
            shipment_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // The rider sees the shipment, cold chain shown, but not the customer's code.
    let mine = rider
        .shipping()
        .list_shipments(ListShipmentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .shipments;
    assert_eq!(mine.len(), 1);
    assert!(mine[0].cold_chain);
    assert!(mine[0].delivery_code.is_empty());
    let code = customer
        .shipping()
        .get_shipment(GetShipmentRequest {
            shipment_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap()
        .delivery_code;
    assert_eq!(code.len(), 6);

    rider
        .shipping()
        .accept_shipment(AcceptShipmentRequest {
            shipment_id: id.clone(),
        })
        .await
        .unwrap();
    for (lat, lng) in [(12.972, 77.595), (12.971, 77.594)] {
        rider
            .shipping()
            .update_rider(UpdateRiderRequest {
                rider: Some(Rider {
                    id: rider_profile.id.clone(),
                    last_location: Some(point(lat, lng)),
                    ..Default::default()
                }),
                update_mask: Some(field_mask(&["last_location"])),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    set_status(&rider, &id, ShipmentStatus::PickedUp, "")
        .await
        .unwrap();
    set_status(&rider, &id, ShipmentStatus::OutForDelivery, "")
        .await
        .unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = set_status(&rider, &id, ShipmentStatus::Delivered, wrong)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "WRONG_DELIVERY_CODE");
    let delivered = set_status(&rider, &id, ShipmentStatus::Delivered, &code)
        .await
        .unwrap();
    assert_eq!(delivered.status, ShipmentStatus::Delivered as i32);
    assert_eq!(
        delivered.delivery_code_failures, 1,
        "the wrong code was counted"
    );

    let seen = fast.await.unwrap();
    let statuses: Vec<i32> = seen
        .iter()
        .map(|m| m.shipment.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses.first(), Some(&(ShipmentStatus::Assigned as i32)));
    assert_eq!(statuses.last(), Some(&(ShipmentStatus::Delivered as i32)));
    for status in [ShipmentStatus::PickedUp, ShipmentStatus::OutForDelivery] {
        assert!(statuses.contains(&(status as i32)), "{statuses:?}");
    }
    let rider_at = |m: &WatchShipmentResponse| m.shipment.as_ref().unwrap().rider_location;
    assert!(
        seen.iter()
            .any(|m| rider_at(m) == Some(point(12.971, 77.594))),
        "the rider's positions reach the watcher"
    );
    assert!(
        seen[0].event.is_none(),
        "the first message is the shipment as it is"
    );
    assert_eq!(
        seen.last().unwrap().event.as_ref().unwrap().status,
        ShipmentStatus::Delivered as i32
    );
    assert_eq!(
        seen.last()
            .unwrap()
            .shipment
            .as_ref()
            .unwrap()
            .delivery_code,
        code,
        "the customer sees their code"
    );

    // The slow watcher fell behind, but ends on the same final state.
    let late = drain(slow).await;
    let last = late.last().unwrap().shipment.as_ref().unwrap();
    assert_eq!(last.status, ShipmentStatus::Delivered as i32);
    assert_eq!(last.tracking_events.len(), delivered.tracking_events.len());
}

/// Polls `probe` every 100ms for up to 20s until it returns `Some`.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(value) = probe().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn order_status(customer: &Mandi, order_id: &str) -> OrderStatus {
    let order = customer
        .order()
        .get_order(GetOrderRequest {
            order_id: order_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    OrderStatus::try_from(order.status).unwrap()
}

async fn order_reaches(customer: &Mandi, order_id: &str, wanted: OrderStatus) {
    eventually(&format!("order {wanted:?}"), || async {
        (order_status(customer, order_id).await == wanted).then_some(())
    })
    .await;
}

/// A shopper checks out with a card into a slot they chose; the shipment appears from
/// PaymentConfirmed, goes to the rider on shift, and as the rider moves it the order goes
/// PACKED, SHIPPED and DELIVERED.
async fn a_checkout_is_delivered_and_the_order_follows(extra: Vec<(&'static str, String)>) {
    let server = mesh::start("all", extra);
    let admin = mesh::client(&server);
    sign_up(&admin, ADMIN_EMAIL).await;
    let (rider, rider_profile) = rider_on_shift(&server, &admin, "rider@example.com").await;
    let product = mandi_testkit::mesh::demo_product(&admin, "watermelon", "watermelon").await;
    let quantity = product.min_quantity.max(1);
    mesh::stock(&admin, &product.id, 10 * quantity).await;

    let customer = mesh::client(&server);
    sign_up(&customer, "shopper@example.com").await;
    customer
        .cart()
        .add_item(AddItemRequest {
            cart_id: String::new(),
            product_id: product.id.clone(),
            quantity,
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    let slot = first_cold_slot(&customer).await;
    let checkout = customer
        .checkout()
        .start_checkout(StartCheckoutRequest {
            destination: Some(start_checkout_request::Destination::InlineDestination(
                destination(),
            )),
            delivery_slot_id: slot.clone(),
            payment_method: PaymentMethod::Card.into(),
            card: Some(CardDetails {
                token: "4242424242424242".into(),
                exp_month: 12,
                exp_year: 2035,
            }),
            request_id: Uuid::now_v7().to_string(),
            wait: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );
    let order_id = checkout.order_id.clone();

    let shipment = eventually("the shipment made from PaymentConfirmed", || async {
        customer
            .shipping()
            .list_shipments(ListShipmentsRequest {
                order_id: order_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .shipments
            .into_iter()
            .find(|s| s.status == ShipmentStatus::Assigned as i32)
    })
    .await;
    assert_eq!(
        shipment.slot.as_ref().unwrap().id,
        slot,
        "the slot the shopper chose"
    );
    assert_eq!(shipment.rider_id, rider_profile.id);
    assert_eq!(
        shipment.delivery_code.len(),
        6,
        "the customer sees the code"
    );
    order_reaches(&customer, &order_id, OrderStatus::Packed).await;

    rider
        .shipping()
        .accept_shipment(AcceptShipmentRequest {
            shipment_id: shipment.id.clone(),
        })
        .await
        .unwrap();
    set_status(&rider, &shipment.id, ShipmentStatus::PickedUp, "")
        .await
        .unwrap();
    order_reaches(&customer, &order_id, OrderStatus::Shipped).await;
    set_status(&rider, &shipment.id, ShipmentStatus::OutForDelivery, "")
        .await
        .unwrap();
    set_status(
        &rider,
        &shipment.id,
        ShipmentStatus::Delivered,
        &shipment.delivery_code,
    )
    .await
    .unwrap();
    order_reaches(&customer, &order_id, OrderStatus::Delivered).await;

    let order = customer
        .order()
        .get_order(GetOrderRequest {
            order_id: order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(
        order.shipment_id, shipment.id,
        "the order names its shipment"
    );
    let history: Vec<i32> = order.status_history.iter().map(|c| c.to_status).collect();
    let tail: Vec<i32> = [
        OrderStatus::Paid,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
    ]
    .into_iter()
    .map(|s| s as i32)
    .collect();
    assert!(history.ends_with(&tail), "{history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_is_delivered_through_the_process_bus() {
    a_checkout_is_delivered_and_the_order_follows(vec![]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_is_delivered_through_kafka() {
    let brokers =
        std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    a_checkout_is_delivered_and_the_order_follows(vec![
        ("MANDI_KAFKA__BROKERS", brokers),
        (
            "MANDI_KAFKA__GROUP_PREFIX",
            format!("shipping-e2e-{}-", Uuid::now_v7().simple()),
        ),
    ])
    .await;
}
