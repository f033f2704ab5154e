#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::*;

/// A batch of `product` in `warehouse` with `free` units, expiring in `days`.
fn batch(product: Uuid, warehouse: Uuid, free: i64, days: i64, now: DateTime<Utc>) -> Batch {
    Batch {
        id: Uuid::now_v7(),
        product_id: product,
        warehouse_id: warehouse,
        received_quantity: free,
        on_hand_quantity: free,
        reserved_quantity: 0,
        received_at: now - Duration::days(1),
        expires_at: now + Duration::days(days),
        supplier_ref: "LOT".into(),
        cold_chain: false,
        unit_cost_minor: None,
        written_off: false,
    }
}

fn line(product: Uuid, quantity: i64) -> ReservationLine {
    ReservationLine {
        product_id: product,
        quantity,
    }
}

fn taken(allocations: &[Allocation]) -> Vec<(Uuid, i64)> {
    allocations
        .iter()
        .map(|a| (a.batch_id, a.quantity))
        .collect()
}

#[test]
fn the_batch_expiring_first_is_taken_first() {
    let now = Utc::now();
    let (apples, w) = (Uuid::now_v7(), Uuid::now_v7());
    let late = batch(apples, w, 10, 9, now);
    let soon = batch(apples, w, 10, 2, now);
    let allocations = allocate_fefo(&[line(apples, 4)], &[late, soon.clone()], now, true).unwrap();
    assert_eq!(taken(&allocations), [(soon.id, 4)]);
    assert_eq!(allocations[0].expires_at, soon.expires_at);
}

#[test]
fn equal_expiries_are_taken_earliest_received_then_by_id() {
    let now = Utc::now();
    let (apples, w) = (Uuid::now_v7(), Uuid::now_v7());
    let first = batch(apples, w, 5, 3, now);
    let mut older = batch(apples, w, 5, 3, now);
    older.received_at -= Duration::days(1);
    let second = batch(apples, w, 5, 3, now);
    let all = [second.clone(), first.clone(), older.clone()];
    let allocations = allocate_fefo(&[line(apples, 12)], &all, now, true).unwrap();
    assert_eq!(
        taken(&allocations),
        [(older.id, 5), (first.id, 5), (second.id, 2)]
    );
}

#[test]
fn expired_and_written_off_batches_are_never_allocated() {
    let now = Utc::now();
    let (apples, w) = (Uuid::now_v7(), Uuid::now_v7());
    let mut expired = batch(apples, w, 50, 1, now);
    expired.expires_at = now;
    let mut written_off = batch(apples, w, 50, 1, now);
    written_off.written_off = true;
    let fresh = batch(apples, w, 3, 5, now);
    let all = [expired, written_off, fresh.clone()];
    assert_eq!(
        taken(&allocate_fefo(&[line(apples, 3)], &all, now, true).unwrap()),
        [(fresh.id, 3)]
    );
    assert_eq!(
        allocate_fefo(&[line(apples, 4)], &all, now, true).unwrap_err(),
        [ShortLine {
            product_id: apples,
            requested: 4,
            available: 3
        }]
    );
}

#[test]
fn partly_reserved_batches_give_only_their_free_quantity() {
    let now = Utc::now();
    let (apples, w) = (Uuid::now_v7(), Uuid::now_v7());
    let mut soon = batch(apples, w, 10, 1, now);
    soon.reserved_quantity = 7;
    let mut full = batch(apples, w, 10, 2, now);
    full.reserved_quantity = 10;
    let late = batch(apples, w, 10, 3, now);
    let all = [soon.clone(), full, late.clone()];
    let allocations = allocate_fefo(&[line(apples, 5)], &all, now, true).unwrap();
    assert_eq!(taken(&allocations), [(soon.id, 3), (late.id, 2)]);
}

#[test]
fn every_line_is_allocated_from_its_own_product() {
    let now = Utc::now();
    let (apples, pears, w) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let a = batch(apples, w, 10, 2, now);
    let p = batch(pears, w, 10, 1, now);
    let allocations = allocate_fefo(
        &[line(apples, 2), line(pears, 6)],
        &[p.clone(), a.clone()],
        now,
        true,
    )
    .unwrap();
    assert_eq!(taken(&allocations), [(a.id, 2), (p.id, 6)]);
    assert_eq!(allocations[1].product_id, pears);
}

#[test]
fn duplicate_lines_are_merged_before_allocating() {
    let now = Utc::now();
    let (apples, w) = (Uuid::now_v7(), Uuid::now_v7());
    let only = batch(apples, w, 5, 2, now);
    let lines = [line(apples, 3), line(apples, 2)];
    assert_eq!(
        taken(&allocate_fefo(&lines, std::slice::from_ref(&only), now, true).unwrap()),
        [(only.id, 5)]
    );
    let too_many = [line(apples, 3), line(apples, 3)];
    assert_eq!(
        allocate_fefo(&too_many, &[only], now, true).unwrap_err(),
        [ShortLine {
            product_id: apples,
            requested: 6,
            available: 5
        }]
    );
}

#[test]
fn reserving_more_than_available_fails_with_short_lines_and_allocates_nothing() {
    let now = Utc::now();
    let (apples, pears, figs, w) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let all = [batch(apples, w, 10, 2, now), batch(pears, w, 1, 2, now)];
    let short = allocate_fefo(
        &[line(apples, 5), line(pears, 2), line(figs, 1)],
        &all,
        now,
        true,
    )
    .unwrap_err();
    assert_eq!(
        short,
        [
            ShortLine {
                product_id: pears,
                requested: 2,
                available: 1
            },
            ShortLine {
                product_id: figs,
                requested: 1,
                available: 0
            }
        ]
    );
}

#[test]
fn splitting_takes_from_several_warehouses_in_fefo_order() {
    let now = Utc::now();
    let (apples, north, south) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let n = batch(apples, north, 4, 3, now);
    let s = batch(apples, south, 4, 1, now);
    let all = [n.clone(), s.clone()];
    let allocations = allocate_fefo(&[line(apples, 6)], &all, now, true).unwrap();
    assert_eq!(taken(&allocations), [(s.id, 4), (n.id, 2)]);
}

#[test]
fn without_splitting_one_warehouse_meets_every_line() {
    let now = Utc::now();
    let (apples, pears) = (Uuid::now_v7(), Uuid::now_v7());
    let (north, south) = (Uuid::now_v7(), Uuid::now_v7());
    // South has the soonest apples but no pears: north must serve both lines.
    let all = [
        batch(apples, south, 10, 1, now),
        batch(apples, north, 10, 4, now),
        batch(pears, north, 10, 5, now),
    ];
    let allocations = allocate_fefo(&[line(apples, 6), line(pears, 1)], &all, now, false).unwrap();
    assert!(allocations.iter().all(|a| a.warehouse_id == north));
    // Splitting allowed, the soonest apples come from south.
    let split = allocate_fefo(&[line(apples, 6), line(pears, 1)], &all, now, true).unwrap();
    assert_eq!(split[0].warehouse_id, south);
}

#[test]
fn without_splitting_the_warehouse_with_the_soonest_expiry_wins() {
    let now = Utc::now();
    let apples = Uuid::now_v7();
    let (north, south) = (Uuid::now_v7(), Uuid::now_v7());
    let all = [
        batch(apples, north, 10, 4, now),
        batch(apples, south, 10, 2, now),
    ];
    let allocations = allocate_fefo(&[line(apples, 3)], &all, now, false).unwrap();
    assert_eq!(allocations[0].warehouse_id, south);
}

#[test]
fn without_splitting_short_lines_report_the_most_one_warehouse_could_give() {
    let now = Utc::now();
    let (apples, pears) = (Uuid::now_v7(), Uuid::now_v7());
    let (north, south) = (Uuid::now_v7(), Uuid::now_v7());
    let all = [
        batch(apples, north, 4, 2, now),
        batch(apples, north, 2, 3, now),
        batch(apples, south, 5, 2, now),
        batch(pears, south, 9, 2, now),
    ];
    // 11 apples exist but at most 6 in one warehouse; pears fit in south.
    let short = allocate_fefo(&[line(apples, 8), line(pears, 1)], &all, now, false).unwrap_err();
    assert_eq!(
        short,
        [ShortLine {
            product_id: apples,
            requested: 8,
            available: 6
        }]
    );
    assert!(allocate_fefo(&[line(apples, 8), line(pears, 1)], &all, now, true).is_ok());
}

#[test]
fn lines_that_fit_apart_but_not_together_are_all_reported() {
    let now = Utc::now();
    let (apples, pears) = (Uuid::now_v7(), Uuid::now_v7());
    let (north, south) = (Uuid::now_v7(), Uuid::now_v7());
    let all = [
        batch(apples, north, 4, 2, now),
        batch(pears, south, 4, 2, now),
    ];
    let short = allocate_fefo(&[line(apples, 1), line(pears, 1)], &all, now, false).unwrap_err();
    assert_eq!(short.len(), 2);
    assert_eq!((short[0].requested, short[0].available), (1, 4));
}

#[test]
fn reserve_requests_check_quantities_and_ttl_and_merge_lines() {
    let apples = Uuid::now_v7();
    let order = Uuid::now_v7();
    let request =
        ReserveRequest::new(order, vec![line(apples, 1), line(apples, 2)], true, None).unwrap();
    assert_eq!(request.lines, [line(apples, 3)]);
    assert_eq!(request.ttl, Duration::minutes(15));

    let err = ReserveRequest::new(
        Uuid::nil(),
        vec![line(apples, 0), line(apples, -1)],
        true,
        Some(Duration::seconds(30)),
    )
    .unwrap_err();
    let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        ["order_id", "lines[0].quantity", "lines[1].quantity", "ttl"]
    );
    assert!(ReserveRequest::new(order, vec![], true, None).is_err());
}

#[test]
fn a_reservation_expires_when_its_ttl_runs_out_unless_committed() {
    let now = Utc::now();
    let request =
        ReserveRequest::new(Uuid::now_v7(), vec![line(Uuid::now_v7(), 1)], true, None).unwrap();
    let mut reservation = Reservation::new(&request, vec![], now);
    assert_eq!(reservation.expires_at, now + Duration::minutes(15));
    assert!(!reservation.is_due(now + Duration::minutes(14)));
    assert!(reservation.is_due(now + Duration::minutes(15)));
    reservation.status = ReservationStatus::Committed;
    assert!(!reservation.is_due(now + Duration::hours(1)));
}

#[test]
fn the_same_lines_in_another_order_are_the_same_reservation() {
    let (apples, pears) = (Uuid::now_v7(), Uuid::now_v7());
    let request = ReserveRequest::new(
        Uuid::now_v7(),
        vec![line(apples, 1), line(pears, 2)],
        true,
        None,
    )
    .unwrap();
    let reservation = Reservation::new(&request, vec![], Utc::now());
    assert!(reservation.has_lines(&[line(pears, 2), line(apples, 1)]));
    assert!(!reservation.has_lines(&[line(pears, 2), line(apples, 2)]));
}
