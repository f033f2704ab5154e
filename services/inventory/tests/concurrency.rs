//! The proof that concurrent reservations never oversell: 200 reservers race for stock
//! that covers only some of them, then half commit while the rest release, and the books
//! must balance exactly. Runs on real PostgreSQL (fails when it is missing) and, as a
//! check of the twin, on the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mandi_inventory::domain::{
    InventoryError, Location, NewBatch, NewWarehouse, Reservation, ReservationLine,
    ReservationStatus, ReserveRequest,
};
use mandi_inventory::store::InventoryStore;
use mandi_inventory::store::memory::MemoryStore;
use mandi_inventory::store::postgres::PgStore;
use tokio::sync::Barrier;
use uuid::Uuid;

const RESERVERS: usize = 200;
/// (warehouse index, quantity, days to expiry): 300 units in 3 batches, 2 warehouses.
const BATCHES: [(usize, i64, i64); 3] = [(0, 100, 2), (1, 120, 3), (0, 80, 5)];
const RECEIVED: i64 = 100 + 120 + 80;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap()
}

/// 1..=3 units per reserver from a fixed linear congruential sequence: the same demand
/// every run (about 400 units for 300 in stock).
fn demands() -> Vec<i64> {
    let mut seed: u64 = 0x5eed_2026;
    (0..RESERVERS)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            i64::try_from(seed >> 62).unwrap() % 3 + 1
        })
        .collect()
}

async fn stock_up(store: &impl InventoryStore, product: Uuid, at: DateTime<Utc>) -> Vec<Uuid> {
    let mut warehouses = Vec::new();
    for code in ["BLR-01", "BLR-02"] {
        let warehouse = NewWarehouse {
            code: code.into(),
            name: format!("Bengaluru {code}"),
            location: Location {
                line1: "1 Market Road".into(),
                city: "Bengaluru".into(),
                country_code: "IN".into(),
                ..Location::default()
            },
            cold_storage: false,
        }
        .into_warehouse(at)
        .unwrap();
        store.create_warehouse(&warehouse).await.unwrap();
        warehouses.push(warehouse.id);
    }
    let mut batches = Vec::new();
    for (warehouse, quantity, days) in BATCHES {
        let batch = NewBatch {
            product_id: product,
            warehouse_id: warehouses[warehouse],
            quantity,
            received_at: None,
            expires_at: at + Duration::days(days),
            supplier_ref: "FARM-7".into(),
            cold_chain: false,
            unit_cost_minor: None,
        }
        .into_batch(at)
        .unwrap();
        store.receive_batch(&batch).await.unwrap();
        batches.push(batch.id);
    }
    batches
}

/// Checks every batch's own invariants and returns (on hand, reserved) summed.
async fn batch_totals(store: &impl InventoryStore, product: Uuid) -> (i64, i64) {
    let batches = store.batches_of(product).await.unwrap();
    assert_eq!(batches.len(), BATCHES.len());
    for batch in &batches {
        assert!(
            0 <= batch.reserved_quantity && batch.reserved_quantity <= batch.on_hand_quantity,
            "batch invariant broken: {batch:?}"
        );
        assert!(
            batch.on_hand_quantity <= batch.received_quantity,
            "{batch:?}"
        );
    }
    (
        batches.iter().map(|b| b.on_hand_quantity).sum(),
        batches.iter().map(|b| b.reserved_quantity).sum(),
    )
}

async fn two_hundred_reservers_never_oversell<S: InventoryStore>(store: Arc<S>) {
    let at = now();
    let product = Uuid::now_v7();
    stock_up(&*store, product, at).await;
    let demands = demands();
    assert!(
        demands.iter().sum::<i64>() > RECEIVED + 50,
        "demand must exceed stock"
    );

    // Act: every reserver starts at once.
    let barrier = Arc::new(Barrier::new(RESERVERS));
    let tasks: Vec<_> = demands
        .iter()
        .map(|&quantity| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                let order = Uuid::now_v7();
                let request = ReserveRequest::new(
                    order,
                    vec![ReservationLine {
                        product_id: product,
                        quantity,
                    }],
                    true,
                    None,
                )
                .unwrap();
                barrier.wait().await;
                (order, quantity, store.reserve(&request, at).await)
            })
        })
        .collect();
    let mut won: Vec<(Uuid, i64, Reservation)> = Vec::new();
    let mut lost: Vec<i64> = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (order, quantity, Ok(reservation)) => won.push((order, quantity, reservation)),
            (_, quantity, Err(InventoryError::InsufficientStock(short))) => {
                assert_eq!(short.len(), 1);
                assert_eq!(short[0].requested, quantity);
                lost.push(quantity);
            }
            (_, _, Err(other)) => panic!("a reserver failed for another reason: {other}"),
        }
    }

    // Assert: reserved + available == received, exactly.
    let reserved: i64 = won.iter().map(|(_, quantity, _)| quantity).sum();
    let availability = &store.availability(&[product], at).await.unwrap()[0];
    assert_eq!(reserved + availability.available, RECEIVED);
    assert_eq!(availability.reserved, reserved);
    assert_eq!(batch_totals(&*store, product).await, (RECEIVED, reserved));
    for (order, quantity, reservation) in &won {
        let allocated: i64 = reservation.allocations.iter().map(|a| a.quantity).sum();
        assert_eq!(allocated, *quantity);
        assert_eq!(
            store.reservation(*order).await.unwrap().as_ref(),
            Some(reservation)
        );
    }
    // Stock is exhausted: every loser asked for more than what is left.
    assert!(
        !won.is_empty() && !lost.is_empty(),
        "{} won, {} lost",
        won.len(),
        lost.len()
    );
    assert!(
        lost.iter()
            .all(|&quantity| quantity > availability.available),
        "a reserver was refused although {} remained",
        availability.available
    );
    assert!(availability.available < 3);

    // Act: half commit, the other half release, all at once.
    let tasks: Vec<_> = won
        .iter()
        .enumerate()
        .map(|(i, &(order, quantity, _))| {
            let store = store.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    let committed = store.commit(order, at).await.unwrap();
                    assert_eq!(committed.status, ReservationStatus::Committed);
                    quantity
                } else {
                    let released = store.release(order, "payment declined", at).await;
                    assert_eq!(
                        released.unwrap().unwrap().status,
                        ReservationStatus::Released
                    );
                    0
                }
            })
        })
        .collect();
    let mut sold = 0;
    for task in tasks {
        sold += task.await.unwrap();
    }

    // Assert: sold + available == received, exactly, and nothing is held any more.
    let availability = &store.availability(&[product], at).await.unwrap()[0];
    assert_eq!(sold + availability.available, RECEIVED);
    assert_eq!(availability.reserved, 0);
    assert_eq!(batch_totals(&*store, product).await, (RECEIVED - sold, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_reservers_never_oversell_on_postgres() {
    let url = mandi_testkit::fresh_database().await;
    let store = PgStore::connect_with(&url, 24)
        .await
        .expect("connect to PostgreSQL");
    two_hundred_reservers_never_oversell(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_reservers_never_oversell_in_memory() {
    two_hundred_reservers_never_oversell(Arc::new(MemoryStore::default())).await;
}
