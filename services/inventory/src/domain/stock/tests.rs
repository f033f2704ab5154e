#![allow(clippy::unwrap_used)]
use chrono::Duration;

use super::*;

fn new_batch(now: DateTime<Utc>) -> NewBatch {
    NewBatch {
        product_id: Uuid::now_v7(),
        warehouse_id: Uuid::now_v7(),
        quantity: 10,
        received_at: None,
        expires_at: now + Duration::days(3),
        supplier_ref: "LOT-7".into(),
        cold_chain: false,
        unit_cost_minor: Some(2500),
    }
}

#[test]
fn receiving_needs_a_positive_quantity_and_a_future_expiry() {
    let now = Utc::now();
    let batch = new_batch(now).into_batch(now).unwrap();
    assert_eq!((batch.on_hand_quantity, batch.reserved_quantity), (10, 0));
    assert_eq!(batch.status(now), BatchStatus::Available);

    let mut bad = new_batch(now);
    bad.quantity = 0;
    bad.expires_at = now;
    bad.supplier_ref = " ".into();
    bad.received_at = Some(now + Duration::minutes(1));
    let fields: Vec<_> = bad
        .into_batch(now)
        .unwrap_err()
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(
        fields,
        ["quantity", "receive_time", "expire_time", "supplier_ref"]
    );
}

#[test]
fn batch_status_follows_stock_expiry_and_write_off() {
    let now = Utc::now();
    let mut batch = new_batch(now).into_batch(now).unwrap();
    let later = batch.expires_at;
    assert_eq!(batch.status(later), BatchStatus::Expired);
    batch.written_off = true;
    assert_eq!(batch.status(later), BatchStatus::WrittenOff);
    batch.written_off = false;
    batch.on_hand_quantity = 0;
    assert_eq!(batch.status(now), BatchStatus::Depleted);
}

#[test]
fn adjustments_need_a_delta_a_manual_reason_and_a_note_for_other() {
    let mut adjustment = NewAdjustment {
        batch_id: Uuid::now_v7(),
        delta: -2,
        reason: AdjustmentReason::Spoiled,
        note: String::new(),
        actor: "admin".into(),
    };
    assert!(adjustment.validate().is_ok());
    adjustment.delta = 0;
    adjustment.reason = AdjustmentReason::Expired;
    assert_eq!(adjustment.validate().unwrap_err().len(), 2);
    adjustment.delta = 1;
    adjustment.reason = AdjustmentReason::Other;
    assert_eq!(adjustment.validate().unwrap_err()[0].field, "note");
}

#[test]
fn availability_counts_unexpired_free_stock_in_active_warehouses() {
    let now = Utc::now();
    let product = Uuid::now_v7();
    let mut fresh = new_batch(now).into_batch(now).unwrap();
    fresh.product_id = product;
    fresh.reserved_quantity = 4;
    let mut stale = fresh.clone();
    stale.id = Uuid::now_v7();
    stale.received_at = now - Duration::days(5);
    stale.expires_at = now - Duration::seconds(1);
    stale.reserved_quantity = 3;
    let mut elsewhere = fresh.clone();
    elsewhere.id = Uuid::now_v7();
    elsewhere.warehouse_id = Uuid::now_v7();
    let inactive = elsewhere.warehouse_id;

    let all = availability_of(product, [&fresh, &stale, &elsewhere], |_| true, now);
    assert_eq!((all.available, all.reserved), (12, 11));
    assert_eq!(all.warehouses.len(), 2);
    assert_eq!(all.earliest_expiry, Some(fresh.expires_at));

    let some = availability_of(
        product,
        [&fresh, &stale, &elsewhere],
        |w| w != inactive,
        now,
    );
    assert_eq!((some.available, some.reserved), (6, 11));
}

#[test]
fn adjustment_reasons_round_trip_through_their_names() {
    for reason in AdjustmentReason::ALL {
        assert_eq!(AdjustmentReason::parse(reason.as_str()), Some(reason));
    }
    assert_eq!(AdjustmentReason::parse("theft"), None);
}
