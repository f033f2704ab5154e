//! Payment's reactions to order events: a delivered cash-on-delivery order is captured, a
//! cancelled order's payment is voided or refunded in full, each event once however often
//! it arrives; other events change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{authorize, card, checkout, pay, payments};
use mandi_payment::domain::{Payment, PaymentStatus};
use mandi_payment::gateway::test_cards;
use mandi_payment::payments::{CaptureRequest, Instrument};
use mandi_payment::store::PaymentStore;
use mandi_payment::store::memory::MemoryStore;
use mandi_runtime::events::envelope;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::events::v1::{EventEnvelope, OrderStatusChanged};
use mandi_sdk::proto::mandi::order::v1::OrderStatus;
use uuid::Uuid;

fn status_changed(payment: &Payment, from: OrderStatus, to: OrderStatus) -> EventEnvelope {
    let order_id = payment.order_id.to_string();
    envelope("order", "order", order_id.clone(), |meta| {
        Payload::OrderStatusChanged(OrderStatusChanged {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            order_id,
            user_id: payment.user_id.to_string(),
            from_status: from.into(),
            to_status: to.into(),
            reason: "customer asked".into(),
            actor: "service:order".into(),
        })
    })
}

#[tokio::test]
async fn a_delivered_cash_order_is_captured_once_however_often_the_event_comes() {
    let (payments, _) = payments(MemoryStore::default(), Duration::from_secs(5));
    let agreed = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 40_000, Instrument::CashOnDelivery),
    )
    .await;
    let delivered = status_changed(&agreed, OrderStatus::Shipped, OrderStatus::Delivered);

    let first = payments.on_order_event(&delivered).await.unwrap().unwrap();
    let again = payments.on_order_event(&delivered).await.unwrap();

    assert_eq!(first.outcome.payment.status, PaymentStatus::Captured);
    assert_eq!(first.outcome.payment.captured_minor, 40_000);
    // Delivered again: captured already, nothing to do (concurrent deliveries share the
    // event id as their idempotency key, so they capture once too).
    assert!(again.is_none());
    let balance = payments.store().ledger_balances().await.unwrap();
    assert_eq!((balance.journals, balance.is_balanced()), (1, true));
}

#[tokio::test]
async fn a_cancelled_order_voids_an_authorization_or_refunds_a_capture_in_full() {
    let (payments, _) = payments(MemoryStore::default(), Duration::from_secs(5));
    let held = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 9_000, card(test_cards::APPROVED)),
    )
    .await;
    let taken = pay(
        &payments,
        checkout("a-2"),
        authorize(Uuid::now_v7(), 7_000, card(test_cards::APPROVED)),
    )
    .await;
    payments
        .capture(
            checkout("c-2"),
            CaptureRequest {
                payment_id: taken.id,
                amount: None,
            },
        )
        .await
        .unwrap();

    let voided = payments
        .on_order_event(&status_changed(
            &held,
            OrderStatus::Paid,
            OrderStatus::Cancelled,
        ))
        .await
        .unwrap()
        .unwrap();
    let refunded = payments
        .on_order_event(&status_changed(
            &taken,
            OrderStatus::Paid,
            OrderStatus::Cancelled,
        ))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(voided.outcome.payment.status, PaymentStatus::Voided);
    assert_eq!(refunded.outcome.payment.status, PaymentStatus::Refunded);
    let refund = refunded.outcome.refund.unwrap();
    assert_eq!(refund.amount.minor, 7_000);
    assert_eq!(refund.reason, "order cancelled: customer asked");
}

#[tokio::test]
async fn other_changes_and_orders_without_a_live_payment_change_nothing() {
    let (payments, _) = payments(MemoryStore::default(), Duration::from_secs(5));
    let held = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 9_000, card(test_cards::APPROVED)),
    )
    .await;
    let declined = pay(
        &payments,
        checkout("a-2"),
        authorize(Uuid::now_v7(), 9_000, card(test_cards::DECLINED)),
    )
    .await;

    let packed = status_changed(&held, OrderStatus::Paid, OrderStatus::Packed);
    // A card is captured by checkout, not on delivery.
    let card_delivered = status_changed(&held, OrderStatus::Shipped, OrderStatus::Delivered);
    let declined_cancelled =
        status_changed(&declined, OrderStatus::Created, OrderStatus::Cancelled);

    for event in [packed, card_delivered, declined_cancelled] {
        assert!(payments.on_order_event(&event).await.unwrap().is_none());
    }
    let stored = payments.store().payment(held.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PaymentStatus::Authorized);
}
