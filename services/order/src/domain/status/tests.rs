#![allow(clippy::unwrap_used)]
use chrono::Utc;
use uuid::Uuid;

use super::*;
use crate::domain::{Destination, Item, Money, NewOrder, PaymentMethod, Unit};
use OrderStatus::*;

/// The contract's transitions, written out once more as the table the tests check.
const LEGAL: &[(OrderStatus, OrderStatus)] = &[
    (Created, PaymentPending),
    (Created, Paid),
    (Created, Cancelled),
    (PaymentPending, Paid),
    (PaymentPending, Cancelled),
    (Paid, Packed),
    (Paid, Cancelled),
    (Packed, Shipped),
    (Packed, Cancelled),
    (Shipped, Delivered),
    (Delivered, Refunded),
    (Cancelled, Refunded),
];

fn order() -> Order {
    NewOrder {
        customer_id: Uuid::now_v7(),
        checkout_id: "co-1".into(),
        items: vec![Item {
            product_id: Uuid::now_v7(),
            name: "Banana".into(),
            image_url: String::new(),
            vendor_id: Uuid::now_v7(),
            unit: Unit::Dozen,
            quantity: 1,
            unit_price: Money::new("INR", 6_000),
        }],
        destination: Destination::default(),
        slot: None,
        delivery_fee: Money::new("INR", 0),
        tax: Money::new("INR", 0),
        discount: Money::new("INR", 0),
        expected_total: Money::new("INR", 6_000),
        payment_method: PaymentMethod("PAYMENT_METHOD_CASH_ON_DELIVERY".into()),
    }
    .place(Uuid::now_v7(), "service:checkout", Utc::now())
    .unwrap()
}

/// An order brought to `status` along legal moves (through PAID where it can be, so a
/// cancelled order is a paid one).
fn order_in(status: OrderStatus) -> Order {
    let path: &[OrderStatus] = match status {
        Created => &[],
        PaymentPending => &[PaymentPending],
        Paid => &[Paid],
        Packed => &[Paid, Packed],
        Shipped => &[Paid, Packed, Shipped],
        Delivered => &[Paid, Packed, Shipped, Delivered],
        Cancelled => &[Paid, Cancelled],
        Refunded => &[Paid, Cancelled, Refunded],
    };
    let mut order = order();
    for &to in path {
        order
            .apply(
                &StatusUpdate::new(to, "admin-1", Permit::Staff, ""),
                Utc::now(),
            )
            .unwrap();
    }
    assert_eq!(order.status, status);
    order
}

#[test]
fn every_pair_of_statuses_is_legal_exactly_when_the_table_lists_it() {
    for from in OrderStatus::ALL {
        for to in OrderStatus::ALL {
            let expected = LEGAL.contains(&(from, to));
            assert_eq!(from.can_become(to), expected, "{from} -> {to}");
        }
    }
}

#[test]
fn every_legal_move_applies_and_is_recorded_with_actor_and_reason() {
    for &(from, to) in LEGAL {
        let mut order = order_in(from);
        let version = order.version;
        let change = order
            .apply(
                &StatusUpdate::new(to, "admin-7", Permit::Staff, "because"),
                Utc::now(),
            )
            .unwrap()
            .unwrap_or_else(|| panic!("{from} -> {to} changed nothing"));
        assert_eq!((change.from, change.to), (Some(from), to));
        assert_eq!(order.status, to);
        assert_eq!(order.version, version + 1);
        let last = order.history.last().unwrap();
        assert_eq!(
            (last.actor.as_str(), last.reason.as_str()),
            ("admin-7", "because")
        );
    }
}

#[test]
fn every_illegal_move_is_refused_naming_the_current_status_and_changes_nothing() {
    for from in OrderStatus::ALL {
        for to in OrderStatus::ALL {
            if from == to || LEGAL.contains(&(from, to)) {
                continue;
            }
            let mut order = order_in(from);
            let before = order.clone();
            let err = order
                .apply(
                    &StatusUpdate::new(to, "admin-1", Permit::Staff, ""),
                    Utc::now(),
                )
                .unwrap_err();
            match err {
                OrderError::IllegalTransition { current, requested } => {
                    assert_eq!((current, requested), (from, to));
                }
                other => panic!("{from} -> {to}: {other:?}"),
            }
            assert!(
                err_message(from, to).contains(from.as_str()),
                "{from} -> {to}"
            );
            assert_eq!(order, before, "{from} -> {to} changed the order");
        }
    }
}

fn err_message(from: OrderStatus, to: OrderStatus) -> String {
    OrderError::IllegalTransition {
        current: from,
        requested: to,
    }
    .to_string()
}

#[test]
fn setting_the_current_status_is_a_no_op_for_every_status() {
    for status in OrderStatus::ALL {
        let mut order = order_in(status);
        let before = order.clone();
        let change = order
            .apply(
                &StatusUpdate::new(status, "x", Permit::Customer, ""),
                Utc::now(),
            )
            .unwrap();
        assert_eq!(change, None);
        assert_eq!(order, before);
    }
}

#[test]
fn an_order_cancelled_before_payment_cannot_be_refunded() {
    let mut order = order();
    order
        .apply(
            &StatusUpdate::new(Cancelled, "c", Permit::Staff, ""),
            Utc::now(),
        )
        .unwrap();
    let err = order
        .apply(
            &StatusUpdate::new(Refunded, "p", Permit::Staff, ""),
            Utc::now(),
        )
        .unwrap_err();
    assert!(matches!(
        err,
        OrderError::IllegalTransition {
            current: Cancelled,
            requested: Refunded
        }
    ));
}

#[test]
fn customers_cancel_only_before_packing_and_delivery_staff_only_pick_up_and_deliver() {
    for &(from, to) in LEGAL {
        for permit in [Permit::Customer, Permit::Delivery] {
            let mut order = order_in(from);
            let outcome = order.apply(&StatusUpdate::new(to, "u", permit, ""), Utc::now());
            let allowed = match permit {
                Permit::Customer => {
                    to == Cancelled && matches!(from, Created | PaymentPending | Paid)
                }
                _ => matches!((from, to), (Packed, Shipped) | (Shipped, Delivered)),
            };
            match outcome {
                Ok(Some(_)) => assert!(allowed, "{permit:?} {from} -> {to} was let through"),
                Err(OrderError::NotPermitted { current, .. }) => {
                    assert!(!allowed, "{permit:?} {from} -> {to} was refused");
                    assert_eq!(current, from);
                }
                other => panic!("{permit:?} {from} -> {to}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_stale_expectation_aborts_without_changing_the_order() {
    let mut order = order_in(Paid);
    let before = order.clone();
    let mut update = StatusUpdate::new(Packed, "a", Permit::Staff, "");
    update.expected_status = Some(Created);
    assert!(matches!(
        order.apply(&update, Utc::now()),
        Err(OrderError::Unexpected { current: Paid, .. })
    ));
    update.expected_status = Some(Paid);
    update.expected_version = Some(before.version + 5);
    assert!(matches!(
        order.apply(&update, Utc::now()),
        Err(OrderError::Unexpected { .. })
    ));
    assert_eq!(order, before);
    update.expected_version = Some(before.version);
    assert!(order.apply(&update, Utc::now()).unwrap().is_some());
}

#[test]
fn cancelling_keeps_the_reason_and_recording_moves_keep_the_given_ids() {
    let mut order = order();
    let mut pay = StatusUpdate::new(Paid, "service:payment", Permit::Staff, "captured");
    pay.payment_id = Some("pay-1".into());
    order.apply(&pay, Utc::now()).unwrap();
    order
        .apply(
            &StatusUpdate::new(Cancelled, "u-1", Permit::Customer, "changed my mind"),
            Utc::now(),
        )
        .unwrap();
    assert_eq!(order.payment_id, "pay-1");
    assert_eq!(order.cancel_reason, "changed my mind");
    assert_eq!(order.history.len(), 3);
    assert!(order.was_paid());
}
