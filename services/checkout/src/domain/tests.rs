#![allow(clippy::unwrap_used)]
use super::*;

fn saga(method: PaymentMethod) -> Saga {
    Saga::pending(
        Request {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            cart_id: "c".into(),
            request_fingerprint: String::new(),
            destination: Destination::default(),
            slot_id: String::new(),
            delivery: None,
            method,
            card_last4: String::new(),
            lines: Vec::new(),
            totals: Totals {
                currency: "INR".into(),
                subtotal: 10_000,
                delivery_fee: 2_500,
                tax: 500,
            },
        },
        Utc::now(),
    )
}

#[test]
fn the_total_is_subtotal_plus_delivery_plus_tax() {
    assert_eq!(saga(PaymentMethod::Card).totals.total(), 13_000);
}

#[test]
fn a_card_saga_runs_every_step_in_order_and_completes_after_clearing_the_cart() {
    let mut s = saga(PaymentMethod::Card);
    let mut order = Vec::new();
    while let Some(step) = s.next_step() {
        order.push(step);
        s.finish(step, "", Utc::now());
    }
    assert_eq!(order, Step::ALL);
    assert_eq!(s.state, State::Completed);
    assert!(s.completed_at.is_some());
}

#[test]
fn cash_on_delivery_skips_capture_and_is_confirmed_once_authorized() {
    let mut s = saga(PaymentMethod::CashOnDelivery);
    s.finish(Step::CreateOrder, "", Utc::now());
    s.finish(Step::Reserve, "", Utc::now());
    assert_eq!(s.state, State::InventoryReserved);
    assert_eq!(s.next_step(), Some(Step::ReserveSlot));
    s.finish(Step::ReserveSlot, "", Utc::now());
    assert_eq!(s.state, State::SlotReserved);
    assert_eq!(s.next_step(), Some(Step::Authorize));
    s.finish(Step::Authorize, "", Utc::now());
    assert_eq!(s.state, State::PaymentConfirmed);
    assert_eq!(s.next_step(), Some(Step::ConfirmOrder));
}

#[test]
fn a_short_reservation_undoes_only_the_order() {
    let mut s = saga(PaymentMethod::Card);
    s.finish(Step::CreateOrder, "", Utc::now());
    s.order_id = Some(Uuid::now_v7());
    s.started.push(Step::Reserve);
    s.fail(
        Failure::new(FailureReason::OutOfStock, "short", State::OrderCreated),
        Utc::now(),
    );
    // Reserve was called, so a hold that may exist is released; the order is cancelled.
    assert_eq!(s.to_undo(), [Step::Reserve, Step::CreateOrder]);
    assert_eq!(s.state, State::Compensating);
}

#[test]
fn a_decline_undoes_payment_stock_and_order_latest_first_and_each_once() {
    let mut s = saga(PaymentMethod::Card);
    s.order_id = Some(Uuid::now_v7());
    s.started.extend([
        Step::CreateOrder,
        Step::Reserve,
        Step::ReserveSlot,
        Step::Authorize,
    ]);
    s.done
        .extend([Step::CreateOrder, Step::Reserve, Step::ReserveSlot]);
    assert_eq!(
        s.to_undo(),
        [
            Step::Authorize,
            Step::ReserveSlot,
            Step::Reserve,
            Step::CreateOrder
        ]
    );
    s.undone.push(Step::Authorize);
    assert_eq!(
        s.to_undo(),
        [Step::ReserveSlot, Step::Reserve, Step::CreateOrder]
    );
    s.undone.push(Step::ReserveSlot);
    assert_eq!(s.to_undo(), [Step::Reserve, Step::CreateOrder]);
}

#[test]
fn an_unavailable_slot_releases_the_slot_before_the_stock() {
    let mut s = saga(PaymentMethod::CashOnDelivery);
    s.order_id = Some(Uuid::now_v7());
    s.finish(Step::CreateOrder, "", Utc::now());
    s.finish(Step::Reserve, "", Utc::now());
    s.started
        .extend([Step::CreateOrder, Step::Reserve, Step::ReserveSlot]);
    s.fail(
        Failure::new(
            FailureReason::SlotUnavailable,
            "full",
            State::InventoryReserved,
        ),
        Utc::now(),
    );
    assert_eq!(
        s.to_undo(),
        [Step::ReserveSlot, Step::Reserve, Step::CreateOrder]
    );
}

#[test]
fn weight_priced_lines_weigh_their_grams_and_counted_lines_their_units() {
    // 1.5 kg of tomatoes, 250 g of almonds.
    assert_eq!(line_grams(1, 1_500, 0), 1_500);
    assert_eq!(line_grams(2, 250, 999), 250);
    // Two watermelons of 3 kg; three pieces of unknown weight.
    assert_eq!(line_grams(3, 2, 3_000), 6_000);
    assert_eq!(line_grams(3, 3, 0), 3 * DEFAULT_UNIT_GRAMS);
}

#[test]
fn a_saga_stored_before_shipping_existed_still_reads() {
    let s = saga(PaymentMethod::Card);
    let mut value = serde_json::to_value(&s).unwrap();
    value.as_object_mut().unwrap().remove("delivery");
    let read: Saga = serde_json::from_value(value).unwrap();
    assert_eq!(read.delivery, None);
}

#[test]
fn nothing_is_undone_before_the_order_exists() {
    let s = saga(PaymentMethod::Card);
    assert!(s.to_undo().is_empty());
}

#[test]
fn an_order_create_whose_answer_was_lost_is_undone_too() {
    let mut s = saga(PaymentMethod::Card);
    // The create was sent; order or the link died before the answer came back.
    s.started.push(Step::CreateOrder);
    s.fail(
        Failure::new(
            FailureReason::ServiceUnavailable,
            "create_order did not succeed",
            State::Pending,
        ),
        Utc::now(),
    );
    assert_eq!(s.order_id, None);
    assert_eq!(s.to_undo(), [Step::CreateOrder]);
}

#[test]
fn derived_keys_are_stable_per_checkout_and_purpose() {
    let id = Uuid::now_v7();
    assert_eq!(derived_key(id, "paid"), derived_key(id, "paid"));
    assert_ne!(derived_key(id, "paid"), derived_key(id, "cancel"));
    assert_ne!(derived_key(id, "paid"), derived_key(Uuid::now_v7(), "paid"));
}

#[test]
fn step_names_round_trip() {
    for step in Step::ALL {
        assert_eq!(Step::parse(step.name()), Some(step));
    }
    assert_eq!(Step::parse("nope"), None);
}
