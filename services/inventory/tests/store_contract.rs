//! One contract for the inventory store, run against the in-memory twin and PostgreSQL
//! (a fresh database per case). The PostgreSQL cases fail when the server is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Duration, Utc};
use mandi_inventory::domain::{
    AdjustmentFilter, AdjustmentReason, Batch, BatchFilter, BatchStatus, InventoryError, Location,
    NewAdjustment, NewBatch, NewWarehouse, RequestRecord, ReservationLine, ReservationStatus,
    ReserveRequest, ShortLine, StockPolicy, Warehouse,
};
use mandi_inventory::store::memory::MemoryStore;
use mandi_inventory::store::postgres::PgStore;
use mandi_inventory::store::{InventoryStore, StoreError};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    // Whole microseconds: what PostgreSQL's timestamptz keeps.
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

async fn warehouse(store: &impl InventoryStore, code: &str, cold: bool) -> Warehouse {
    let warehouse = NewWarehouse {
        code: code.into(),
        name: format!("Warehouse {code}"),
        location: Location {
            line1: "1 Market Road".into(),
            city: "Bengaluru".into(),
            country_code: "IN".into(),
            ..Location::default()
        },
        cold_storage: cold,
    }
    .into_warehouse(now())
    .unwrap();
    store.create_warehouse(&warehouse).await.unwrap();
    warehouse
}

/// Receives `quantity` of `product` into `warehouse`, expiring `expires_in` from `at`.
async fn receive(
    store: &impl InventoryStore,
    product: Uuid,
    warehouse: &Warehouse,
    quantity: i64,
    expires_in: Duration,
    at: DateTime<Utc>,
) -> Batch {
    let batch = NewBatch {
        product_id: product,
        warehouse_id: warehouse.id,
        quantity,
        received_at: Some(at - Duration::hours(1)),
        expires_at: at + expires_in,
        supplier_ref: "FARM-42".into(),
        cold_chain: false,
        unit_cost_minor: Some(1800),
    }
    .into_batch(at)
    .unwrap();
    store.receive_batch(&batch).await.unwrap();
    batch
}

fn lines(lines: &[(Uuid, i64)]) -> Vec<ReservationLine> {
    lines
        .iter()
        .map(|&(product_id, quantity)| ReservationLine {
            product_id,
            quantity,
        })
        .collect()
}

fn request(order: Uuid, wanted: &[(Uuid, i64)], split: bool, ttl_minutes: i64) -> ReserveRequest {
    ReserveRequest::new(
        order,
        lines(wanted),
        split,
        Some(Duration::minutes(ttl_minutes)),
    )
    .unwrap()
}

async fn available(store: &impl InventoryStore, product: Uuid, at: DateTime<Utc>) -> i64 {
    store.availability(&[product], at).await.unwrap()[0].available
}

async fn stock(store: &impl InventoryStore, batch: Uuid) -> (i64, i64) {
    let batch = store.batch(batch).await.unwrap().unwrap();
    (batch.on_hand_quantity, batch.reserved_quantity)
}

// === contract ===

async fn warehouses_have_unique_codes_and_list_by_code(store: impl InventoryStore) {
    let del = warehouse(&store, "DEL-01", false).await;
    let blr = warehouse(&store, "BLR-01", true).await;
    assert_eq!(store.warehouse(blr.id).await.unwrap(), Some(blr.clone()));
    assert_eq!(store.warehouse(Uuid::now_v7()).await.unwrap(), None);

    let twin = NewWarehouse {
        code: "BLR-01".into(),
        ..NewWarehouse {
            name: "Other".into(),
            location: blr.location.clone(),
            ..NewWarehouse::default()
        }
    }
    .into_warehouse(now())
    .unwrap();
    let err = store.create_warehouse(&twin).await.unwrap_err();
    assert!(
        matches!(err, InventoryError::Store(StoreError::Conflict(_))),
        "{err:?}"
    );

    let all = store.list_warehouses(None, 10).await.unwrap();
    assert_eq!(all, [blr.clone(), del.clone()]);
    assert_eq!(store.list_warehouses(None, 1).await.unwrap(), [blr]);
    assert_eq!(
        store.list_warehouses(Some("BLR-01"), 10).await.unwrap(),
        [del]
    );
}

async fn receiving_is_refused_for_unknown_warehouses_and_missing_cold_storage(
    store: impl InventoryStore,
) {
    let at = now();
    let ambient = warehouse(&store, "AMB-01", false).await;
    let mut batch = NewBatch {
        product_id: Uuid::now_v7(),
        warehouse_id: Uuid::now_v7(),
        quantity: 5,
        received_at: None,
        expires_at: at + Duration::days(2),
        supplier_ref: "LOT-1".into(),
        cold_chain: false,
        unit_cost_minor: None,
    }
    .into_batch(at)
    .unwrap();
    match store.receive_batch(&batch).await.unwrap_err() {
        InventoryError::Invalid(v) => assert_eq!(v[0].field, "warehouse_id"),
        other => panic!("{other:?}"),
    }
    batch.warehouse_id = ambient.id;
    batch.cold_chain = true;
    let err = store.receive_batch(&batch).await.unwrap_err();
    assert!(
        matches!(err, InventoryError::NoColdStorage { .. }),
        "{err:?}"
    );
    assert!(store.batches_of(batch.product_id).await.unwrap().is_empty());
}

async fn received_stock_is_available_per_warehouse(store: impl InventoryStore) {
    let at = now();
    let (north, south) = (
        warehouse(&store, "N-1", false).await,
        warehouse(&store, "S-1", false).await,
    );
    let mangoes = Uuid::now_v7();
    let late = receive(&store, mangoes, &north, 30, Duration::days(6), at).await;
    let soon = receive(&store, mangoes, &south, 20, Duration::days(2), at).await;
    let also = receive(&store, mangoes, &north, 5, Duration::days(4), at).await;

    assert_eq!(store.batch(soon.id).await.unwrap(), Some(soon.clone()));
    let ids: Vec<_> = store
        .batches_of(mangoes)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids, [soon.id, also.id, late.id], "FEFO order");

    let never = Uuid::now_v7();
    let answers = store
        .availability(&[mangoes, never, mangoes], at)
        .await
        .unwrap();
    assert_eq!(answers.len(), 2, "duplicates answered once");
    let mango = &answers[0];
    assert_eq!((mango.available, mango.reserved), (55, 0));
    assert_eq!(mango.earliest_expiry, Some(soon.expires_at));
    let mut per_warehouse: Vec<_> = mango
        .warehouses
        .iter()
        .map(|w| (w.warehouse_id, w.available, w.earliest_expiry))
        .collect();
    per_warehouse.sort();
    let mut expected = vec![
        (north.id, 35, Some(also.expires_at)),
        (south.id, 20, Some(soon.expires_at)),
    ];
    expected.sort();
    assert_eq!(per_warehouse, expected);
    assert_eq!(answers[1].product_id, never);
    assert_eq!((answers[1].available, answers[1].warehouses.len()), (0, 0));
}

async fn reserving_takes_the_soonest_expiring_batches_across_warehouses(
    store: impl InventoryStore,
) {
    let at = now();
    let (north, south) = (
        warehouse(&store, "N-1", false).await,
        warehouse(&store, "S-1", false).await,
    );
    let apples = Uuid::now_v7();
    let late = receive(&store, apples, &north, 10, Duration::days(9), at).await;
    let mid = receive(&store, apples, &north, 10, Duration::days(5), at).await;
    let soon = receive(&store, apples, &south, 10, Duration::days(2), at).await;

    let order = Uuid::now_v7();
    let reservation = store
        .reserve(&request(order, &[(apples, 15)], true, 15), at)
        .await
        .unwrap();
    assert_eq!(reservation.status, ReservationStatus::Active);
    assert_eq!(reservation.expires_at, at + Duration::minutes(15));
    let taken: Vec<_> = reservation
        .allocations
        .iter()
        .map(|a| (a.batch_id, a.warehouse_id, a.quantity))
        .collect();
    assert_eq!(taken, [(soon.id, south.id, 10), (mid.id, north.id, 5)]);
    assert_eq!(stock(&store, soon.id).await, (10, 10));
    assert_eq!(stock(&store, mid.id).await, (10, 5));
    assert_eq!(stock(&store, late.id).await, (10, 0));
    let apple = &store.availability(&[apples], at).await.unwrap()[0];
    assert_eq!((apple.available, apple.reserved), (15, 15));
    assert_eq!(store.reservation(order).await.unwrap(), Some(reservation));

    // One warehouse only: south has nothing left, north can give 15.
    let single = store
        .reserve(&request(Uuid::now_v7(), &[(apples, 12)], false, 15), at)
        .await
        .unwrap();
    assert!(
        single
            .allocations
            .iter()
            .all(|a| a.warehouse_id == north.id)
    );
    assert_eq!(available(&store, apples, at).await, 3);
}

async fn expired_batches_are_neither_counted_nor_allocated(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let figs = Uuid::now_v7();
    let stale = receive(&store, figs, &w, 50, Duration::hours(1), at).await;
    let fresh = receive(&store, figs, &w, 4, Duration::days(3), at).await;
    let later = at + Duration::hours(1); // the instant `stale` expires
    assert_eq!(available(&store, figs, at).await, 54);
    assert_eq!(available(&store, figs, later).await, 4);

    let reservation = store
        .reserve(&request(Uuid::now_v7(), &[(figs, 4)], true, 15), later)
        .await
        .unwrap();
    assert_eq!(reservation.allocations.len(), 1);
    assert_eq!(reservation.allocations[0].batch_id, fresh.id);
    assert_eq!(stock(&store, stale.id).await, (50, 0));
    assert_eq!(
        store.batch(stale.id).await.unwrap().unwrap().status(later),
        BatchStatus::Expired
    );
}

async fn reserving_more_than_available_fails_with_short_lines_and_reserves_nothing(
    store: impl InventoryStore,
) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let (onions, garlic, okra) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    receive(&store, onions, &w, 10, Duration::days(20), at).await;
    receive(&store, garlic, &w, 3, Duration::days(20), at).await;

    let order = Uuid::now_v7();
    let wanted = [(onions, 5), (garlic, 4), (okra, 1)];
    let err = store
        .reserve(&request(order, &wanted, true, 15), at)
        .await
        .unwrap_err();
    let InventoryError::InsufficientStock(short) = err else {
        panic!("{err:?}");
    };
    assert_eq!(
        short,
        [
            ShortLine {
                product_id: garlic,
                requested: 4,
                available: 3
            },
            ShortLine {
                product_id: okra,
                requested: 1,
                available: 0
            }
        ]
    );
    assert_eq!(available(&store, onions, at).await, 10, "all or nothing");
    assert_eq!(store.reservation(order).await.unwrap(), None);
    // The order may try again with what there is.
    let retry = store
        .reserve(&request(order, &[(onions, 5), (garlic, 3)], true, 15), at)
        .await
        .unwrap();
    assert_eq!(retry.lines.len(), 2);
}

async fn reserving_again_for_an_order_is_idempotent(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let (kiwis, limes) = (Uuid::now_v7(), Uuid::now_v7());
    receive(&store, kiwis, &w, 10, Duration::days(4), at).await;
    receive(&store, limes, &w, 10, Duration::days(4), at).await;

    let order = Uuid::now_v7();
    let first = store
        .reserve(&request(order, &[(kiwis, 2), (limes, 3)], true, 15), at)
        .await
        .unwrap();
    let again = store
        .reserve(
            &request(order, &[(limes, 3), (kiwis, 2)], true, 15),
            at + Duration::minutes(1),
        )
        .await
        .unwrap();
    assert_eq!(again, first, "same lines → the same reservation");
    assert_eq!(available(&store, kiwis, at).await, 8, "reserved once");

    let err = store
        .reserve(&request(order, &[(kiwis, 3), (limes, 3)], true, 15), at)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InventoryError::ReservationExists { order_id } if order_id == order),
        "{err:?}"
    );

    store.commit(order, at).await.unwrap();
    let committed = store
        .reserve(&request(order, &[(kiwis, 2), (limes, 3)], true, 15), at)
        .await
        .unwrap();
    assert_eq!(committed.status, ReservationStatus::Committed);
}

async fn committing_sells_and_releasing_after_commit_restocks(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let grapes = Uuid::now_v7();
    let batch = receive(&store, grapes, &w, 10, Duration::days(4), at).await;
    let order = Uuid::now_v7();
    store
        .reserve(&request(order, &[(grapes, 4)], true, 15), at)
        .await
        .unwrap();

    let later = at + Duration::minutes(5);
    let committed = store.commit(order, later).await.unwrap();
    assert_eq!(committed.status, ReservationStatus::Committed);
    assert_eq!(committed.committed_at, Some(later));
    assert_eq!(stock(&store, batch.id).await, (6, 0));
    let grape = &store.availability(&[grapes], later).await.unwrap()[0];
    assert_eq!((grape.available, grape.reserved), (6, 0));
    // Committed reservations never expire, and committing again changes nothing.
    assert_eq!(
        store.commit(order, at + Duration::hours(2)).await.unwrap(),
        committed
    );
    assert!(
        store
            .expire_due(at + Duration::hours(2))
            .await
            .unwrap()
            .is_empty()
    );

    let released = store
        .release(order, "order cancelled", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(released.status, ReservationStatus::Released);
    assert_eq!(released.release_reason.as_deref(), Some("order cancelled"));
    assert_eq!(stock(&store, batch.id).await, (10, 0));
    assert_eq!(available(&store, grapes, later).await, 10);

    // Release is idempotent; commit and reserve of a released order are refused.
    let again = store.release(order, "again", later).await.unwrap().unwrap();
    assert_eq!(again.release_reason.as_deref(), Some("order cancelled"));
    assert_eq!(stock(&store, batch.id).await, (10, 0));
    let err = store.commit(order, later).await.unwrap_err();
    assert!(
        matches!(
            err,
            InventoryError::ReservationClosed {
                status: ReservationStatus::Released,
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .reserve(&request(order, &[(grapes, 4)], true, 15), later)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InventoryError::ReservationClosed { .. }),
        "{err:?}"
    );
    assert_eq!(available(&store, grapes, later).await, 10);
}

async fn releasing_an_active_reservation_frees_its_stock(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let plums = Uuid::now_v7();
    let batch = receive(&store, plums, &w, 10, Duration::days(4), at).await;
    let order = Uuid::now_v7();
    store
        .reserve(&request(order, &[(plums, 7)], true, 15), at)
        .await
        .unwrap();
    assert_eq!(available(&store, plums, at).await, 3);

    let released = store.release(order, "payment declined", at).await.unwrap();
    assert_eq!(released.unwrap().status, ReservationStatus::Released);
    assert_eq!(stock(&store, batch.id).await, (10, 0));
    assert_eq!(available(&store, plums, at).await, 10);

    let nobody = Uuid::now_v7();
    assert_eq!(store.release(nobody, "none", at).await.unwrap(), None);
    let err = store.commit(nobody, at).await.unwrap_err();
    assert!(matches!(err, InventoryError::NotFound(_)), "{err:?}");
}

async fn expire_due_only_touches_due_active_reservations(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let pears = Uuid::now_v7();
    let batch = receive(&store, pears, &w, 20, Duration::days(4), at).await;
    let (short, long, sold, gone) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    for (order, ttl) in [(short, 1), (long, 60), (sold, 1), (gone, 1)] {
        store
            .reserve(&request(order, &[(pears, 2)], true, ttl), at)
            .await
            .unwrap();
    }
    store.commit(sold, at).await.unwrap();
    store.release(gone, "cancelled", at).await.unwrap();
    assert_eq!(stock(&store, batch.id).await, (18, 4));

    let sweep = at + Duration::minutes(2);
    assert_eq!(store.expire_due(sweep).await.unwrap(), [short]);
    assert!(store.expire_due(sweep).await.unwrap().is_empty(), "once");
    let expired = store.reservation(short).await.unwrap().unwrap();
    assert_eq!(expired.status, ReservationStatus::Expired);
    assert_eq!(expired.released_at, Some(sweep));
    assert_eq!(stock(&store, batch.id).await, (18, 2));
    assert_eq!(available(&store, pears, sweep).await, 16);
    for (order, status) in [
        (long, ReservationStatus::Active),
        (sold, ReservationStatus::Committed),
        (gone, ReservationStatus::Released),
    ] {
        assert_eq!(
            store.reservation(order).await.unwrap().unwrap().status,
            status
        );
    }

    // An expired order can neither commit nor reserve again; releasing it is a no-op.
    let err = store.commit(short, sweep).await.unwrap_err();
    assert!(
        matches!(
            err,
            InventoryError::ReservationClosed {
                status: ReservationStatus::Expired,
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .reserve(&request(short, &[(pears, 2)], true, 15), sweep)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InventoryError::ReservationClosed { .. }),
        "{err:?}"
    );
    let unchanged = store.release(short, "late", sweep).await.unwrap().unwrap();
    assert_eq!(unchanged.status, ReservationStatus::Expired);
    assert_eq!(stock(&store, batch.id).await, (18, 2));
}

async fn a_reservation_past_its_ttl_cannot_be_committed_before_the_sweeper_runs(
    store: impl InventoryStore,
) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let dates = Uuid::now_v7();
    let batch = receive(&store, dates, &w, 5, Duration::days(30), at).await;
    let order = Uuid::now_v7();
    store
        .reserve(&request(order, &[(dates, 5)], true, 1), at)
        .await
        .unwrap();
    let err = store
        .commit(order, at + Duration::minutes(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            InventoryError::ReservationClosed {
                status: ReservationStatus::Expired,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(stock(&store, batch.id).await, (5, 0), "stock given back");
    assert_eq!(
        store.reservation(order).await.unwrap().unwrap().status,
        ReservationStatus::Expired
    );
}

async fn adjustments_are_audited_and_cannot_go_below_reserved(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let melons = Uuid::now_v7();
    let batch = receive(&store, melons, &w, 10, Duration::days(4), at).await;
    store
        .reserve(&request(Uuid::now_v7(), &[(melons, 6)], true, 15), at)
        .await
        .unwrap();
    let adjust = |delta, reason| NewAdjustment {
        batch_id: batch.id,
        delta,
        reason,
        note: "weekly count".into(),
        actor: "admin-1".into(),
    };

    let err = store
        .adjust_batch(&adjust(-5, AdjustmentReason::Spoiled), at)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            InventoryError::BelowReserved {
                on_hand: 10,
                reserved: 6,
                delta: -5,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(stock(&store, batch.id).await, (10, 6));
    assert!(store.adjustments_of(batch.id).await.unwrap().is_empty());

    let (after, first) = store
        .adjust_batch(&adjust(-4, AdjustmentReason::Spoiled), at)
        .await
        .unwrap();
    assert_eq!((after.on_hand_quantity, first.on_hand_after), (6, 6));
    let later = at + Duration::seconds(1);
    let (after, second) = store
        .adjust_batch(&adjust(3, AdjustmentReason::CountCorrection), later)
        .await
        .unwrap();
    assert_eq!(after.on_hand_quantity, 9);
    assert_eq!(
        (
            second.product_id,
            second.warehouse_id,
            second.actor.as_str()
        ),
        (melons, w.id, "admin-1")
    );
    assert_eq!(
        store.adjustments_of(batch.id).await.unwrap(),
        [second, first],
        "newest first"
    );
    assert_eq!(available(&store, melons, later).await, 3);

    let mut unknown = adjust(1, AdjustmentReason::Returned);
    unknown.batch_id = Uuid::now_v7();
    let err = store.adjust_batch(&unknown, at).await.unwrap_err();
    assert!(matches!(err, InventoryError::NotFound(_)), "{err:?}");
}

async fn expired_unreserved_stock_is_written_off(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "W-1", false).await;
    let berries = Uuid::now_v7();
    let stale = receive(&store, berries, &w, 10, Duration::hours(1), at).await;
    let fresh = receive(&store, berries, &w, 10, Duration::days(3), at).await;
    let order = Uuid::now_v7();
    store
        .reserve(&request(order, &[(berries, 4)], true, 120), at)
        .await
        .unwrap();
    assert!(store.write_off_expired(at, None).await.unwrap().is_empty());

    let later = at + Duration::hours(1);
    let written = store.write_off_expired(later, None).await.unwrap();
    assert_eq!(written.len(), 1);
    assert_eq!(
        (
            written[0].batch_id,
            written[0].delta,
            written[0].on_hand_after
        ),
        (stale.id, -6, 4)
    );
    assert_eq!(written[0].reason, AdjustmentReason::Expired);
    assert_eq!(stock(&store, stale.id).await, (4, 4), "reserved stays");
    assert_eq!(
        store.batch(stale.id).await.unwrap().unwrap().status(later),
        BatchStatus::WrittenOff
    );
    assert_eq!(stock(&store, fresh.id).await, (10, 0));
    assert!(
        store
            .write_off_expired(later, None)
            .await
            .unwrap()
            .is_empty(),
        "repeatable"
    );
    assert_eq!(store.adjustments_of(stale.id).await.unwrap(), written);

    // What the reservation gives back is written off by the next run.
    store.release(order, "cancelled", later).await.unwrap();
    let rest = store.write_off_expired(later, None).await.unwrap();
    assert_eq!((rest.len(), rest[0].delta), (1, -4));
    assert_eq!(stock(&store, stale.id).await, (0, 0));
    assert_eq!(available(&store, berries, later).await, 10);
}

async fn stock_policies_are_absent_until_put_and_replaced_by_later_puts(
    store: impl InventoryStore,
) {
    let (tomatoes, onions) = (Uuid::now_v7(), Uuid::now_v7());
    assert_eq!(store.stock_policy(tomatoes).await.unwrap(), None);

    let first = StockPolicy {
        product_id: tomatoes,
        low_stock_threshold: 25,
        expiry_warning_days: 2,
        updated_at: Some(now()),
    };
    store.put_stock_policy(&first).await.unwrap();
    let second = StockPolicy {
        low_stock_threshold: 40,
        updated_at: Some(now() + Duration::seconds(1)),
        ..first.clone()
    };
    store.put_stock_policy(&second).await.unwrap();

    assert_eq!(
        store.stock_policy(tomatoes).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.stock_policy(onions).await.unwrap(), None);
    assert_eq!(
        store.stock_policies(&[onions, tomatoes]).await.unwrap(),
        vec![second]
    );
}

async fn the_first_record_of_a_request_key_wins(store: impl InventoryStore) {
    let key = format!("user-1/{}", Uuid::now_v7());
    assert_eq!(store.recall_request(&key).await.unwrap(), None);
    let first = RequestRecord {
        key: key.clone(),
        fingerprint: "ReceiveStock:aaaa".into(),
        target: Uuid::now_v7(),
    };
    store.remember_request(&first).await.unwrap();
    store
        .remember_request(&RequestRecord {
            fingerprint: "ReceiveStock:bbbb".into(),
            target: Uuid::now_v7(),
            ..first.clone()
        })
        .await
        .unwrap();

    assert_eq!(store.recall_request(&key).await.unwrap(), Some(first));
    assert_eq!(store.recall_request("user-2/other").await.unwrap(), None);
}

async fn an_adjustment_can_be_read_back_by_id(store: impl InventoryStore) {
    let at = now();
    let depot = warehouse(&store, "ADJ-01", false).await;
    let batch = receive(&store, Uuid::now_v7(), &depot, 20, Duration::days(5), at).await;
    let (_, adjustment) = store
        .adjust_batch(
            &NewAdjustment {
                batch_id: batch.id,
                delta: -2,
                reason: AdjustmentReason::Damaged,
                note: "crushed crate".into(),
                actor: "user-1".into(),
            },
            at,
        )
        .await
        .unwrap();

    assert_eq!(
        store.adjustment(adjustment.id).await.unwrap(),
        Some(adjustment)
    );
    assert_eq!(store.adjustment(Uuid::now_v7()).await.unwrap(), None);
}

async fn batches_list_across_products_in_fefo_order_page_by_page(store: impl InventoryStore) {
    let at = now();
    let (north, south) = (
        warehouse(&store, "LST-N", false).await,
        warehouse(&store, "LST-S", false).await,
    );
    let (apples, pears) = (Uuid::now_v7(), Uuid::now_v7());
    let late = receive(&store, apples, &north, 5, Duration::days(9), at).await;
    let soon = receive(&store, pears, &south, 5, Duration::days(2), at).await;
    let mid = receive(&store, pears, &north, 5, Duration::days(4), at).await;

    let all = BatchFilter::default();
    let first = store.list_batches(&all, at, None, 2).await.unwrap();
    let after = first.last().map(Batch::fefo_key);
    let rest = store.list_batches(&all, at, after, 2).await.unwrap();
    let in_north = BatchFilter {
        warehouse_id: Some(north.id),
        status: Some(BatchStatus::Available),
        ..BatchFilter::default()
    };
    let north_ids: Vec<Uuid> = store
        .list_batches(&in_north, at, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    let expired = BatchFilter {
        status: Some(BatchStatus::Expired),
        ..BatchFilter::default()
    };

    let ids = |batches: &[Batch]| batches.iter().map(|b| b.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), [soon.id, mid.id]);
    assert_eq!(ids(&rest), [late.id]);
    assert_eq!(north_ids, [mid.id, late.id]);
    let later = at + Duration::days(3);
    assert_eq!(
        ids(&store.list_batches(&expired, later, None, 10).await.unwrap()),
        [soon.id]
    );
}

async fn adjustments_list_across_batches_newest_first_and_write_offs_can_stay_in_one_warehouse(
    store: impl InventoryStore,
) {
    let at = now();
    let (north, south) = (
        warehouse(&store, "WO-N", false).await,
        warehouse(&store, "WO-S", false).await,
    );
    let product = Uuid::now_v7();
    let in_north = receive(&store, product, &north, 8, Duration::days(1), at).await;
    let in_south = receive(&store, product, &south, 6, Duration::days(1), at).await;
    let later = at + Duration::days(2);

    let north_only = store
        .write_off_expired(later, Some(north.id))
        .await
        .unwrap();
    let rest = store
        .write_off_expired(later + Duration::seconds(1), None)
        .await
        .unwrap();

    assert_eq!(
        north_only.iter().map(|a| a.batch_id).collect::<Vec<_>>(),
        [in_north.id]
    );
    assert_eq!(
        rest.iter().map(|a| a.batch_id).collect::<Vec<_>>(),
        [in_south.id]
    );
    let of_product = AdjustmentFilter {
        product_id: Some(product),
        ..AdjustmentFilter::default()
    };
    let newest = store.list_adjustments(&of_product, None, 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].batch_id, in_south.id);
    let before = Some((newest[0].created_at, newest[0].id));
    let older = store
        .list_adjustments(&of_product, before, 5)
        .await
        .unwrap();
    assert_eq!(
        older.iter().map(|a| a.batch_id).collect::<Vec<_>>(),
        [in_north.id]
    );
    let damaged = AdjustmentFilter {
        reason: Some(AdjustmentReason::Damaged),
        ..of_product
    };
    assert!(
        store
            .list_adjustments(&damaged, None, 5)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn batches_entering_their_expiry_window_are_claimed_once(store: impl InventoryStore) {
    let at = now();
    let w = warehouse(&store, "EXP-01", false).await;
    let (milk, rice, paneer) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    // Default window of 3 days: the 2-day batch warns, the 10-day one does not yet.
    let soon = receive(&store, milk, &w, 5, Duration::days(2), at).await;
    let far = receive(&store, milk, &w, 5, Duration::days(10), at).await;
    // Rice has its own window of 0: never warns.
    store
        .put_stock_policy(&StockPolicy {
            product_id: rice,
            low_stock_threshold: 10,
            expiry_warning_days: 0,
            updated_at: Some(at),
        })
        .await
        .unwrap();
    receive(&store, rice, &w, 5, Duration::days(1), at).await;
    // Fully reserved paneer has nothing left to sell: no warning.
    let held = receive(&store, paneer, &w, 2, Duration::days(1), at).await;
    store
        .reserve(&request(Uuid::now_v7(), &[(paneer, 2)], false, 15), at)
        .await
        .unwrap();

    let claimed = store.claim_expiring_batches(at, 3).await.unwrap();
    assert_eq!(claimed.iter().map(|b| b.id).collect::<Vec<_>>(), [soon.id]);
    assert!(
        store
            .claim_expiring_batches(at, 3)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!claimed.iter().any(|b| b.id == held.id));

    // A week later the far batch is within its window; expired ones never warn.
    let later = at + Duration::days(8);
    let claimed = store.claim_expiring_batches(later, 3).await.unwrap();
    assert_eq!(claimed.iter().map(|b| b.id).collect::<Vec<_>>(), [far.id]);
    // A default of 0 disables warnings altogether.
    receive(&store, milk, &w, 5, Duration::days(1), at).await;
    assert!(
        store
            .claim_expiring_batches(at, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn low_stock_lists_products_at_or_below_their_threshold_page_by_page(
    store: impl InventoryStore,
) {
    let at = now();
    let w = warehouse(&store, "LOW-01", false).await;
    let mut products: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    products.sort_unstable();
    let [a, b, c, d, e] = products[..] else {
        unreachable!()
    };
    receive(&store, a, &w, 4, Duration::days(5), at).await; // low at the default 10
    receive(&store, b, &w, 50, Duration::days(5), at).await; // plenty
    receive(&store, c, &w, 10, Duration::days(5), at).await; // exactly at the default
    receive(&store, d, &w, 30, Duration::days(5), at).await; // low by its own policy
    store
        .put_stock_policy(&StockPolicy {
            product_id: d,
            low_stock_threshold: 40,
            expiry_warning_days: 3,
            updated_at: Some(at),
        })
        .await
        .unwrap();
    // A policy of 0 never lists, even with nothing in stock.
    store
        .put_stock_policy(&StockPolicy {
            product_id: e,
            low_stock_threshold: 0,
            expiry_warning_days: 3,
            updated_at: Some(at),
        })
        .await
        .unwrap();

    let ids = |page: Vec<mandi_inventory::domain::Availability>| {
        page.into_iter()
            .map(|l| (l.product_id, l.available))
            .collect::<Vec<_>>()
    };
    let first = store.list_low_stock(10, at, None, 2).await.unwrap();
    assert_eq!(ids(first), [(a, 4), (c, 10)]);
    let rest = store.list_low_stock(10, at, Some(c), 2).await.unwrap();
    assert_eq!(ids(rest), [(d, 30)]);
    assert!(store.list_low_stock(0, at, None, 10).await.unwrap().len() == 1);
}

/// One `#[tokio::test]` per adapter for each contract case.
macro_rules! store_contract {
    ($($case:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $case() { super::$case(super::MemoryStore::default()).await; })*
        }
        mod postgres_store {
            $(#[tokio::test] async fn $case() {
                let url = mandi_testkit::fresh_database().await;
                super::$case(super::PgStore::connect(&url).await.expect("connect to PostgreSQL")).await;
            })*
        }
    };
}

store_contract!(
    warehouses_have_unique_codes_and_list_by_code,
    receiving_is_refused_for_unknown_warehouses_and_missing_cold_storage,
    received_stock_is_available_per_warehouse,
    reserving_takes_the_soonest_expiring_batches_across_warehouses,
    expired_batches_are_neither_counted_nor_allocated,
    reserving_more_than_available_fails_with_short_lines_and_reserves_nothing,
    reserving_again_for_an_order_is_idempotent,
    committing_sells_and_releasing_after_commit_restocks,
    releasing_an_active_reservation_frees_its_stock,
    expire_due_only_touches_due_active_reservations,
    a_reservation_past_its_ttl_cannot_be_committed_before_the_sweeper_runs,
    adjustments_are_audited_and_cannot_go_below_reserved,
    expired_unreserved_stock_is_written_off,
    stock_policies_are_absent_until_put_and_replaced_by_later_puts,
    the_first_record_of_a_request_key_wins,
    an_adjustment_can_be_read_back_by_id,
    batches_list_across_products_in_fefo_order_page_by_page,
    adjustments_list_across_batches_newest_first_and_write_offs_can_stay_in_one_warehouse,
    batches_entering_their_expiry_window_are_claimed_once,
    low_stock_lists_products_at_or_below_their_threshold_page_by_page,
);
