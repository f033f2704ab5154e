//! Concurrent bookers on real PostgreSQL: a slot never takes more orders than its
//! capacity, however many hold at once, and a rider's concurrent status changes are not
//! lost. Fails when PostgreSQL is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Utc;
use common::{hold, shipping, zones_with_capacity};
use mandi_shipping::domain::ShippingError;
use mandi_shipping::store::ShippingStore;
use mandi_shipping::store::postgres::PgStore;
use uuid::Uuid;

const CAPACITY: i32 = 7;
const BOOKERS: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_concurrent_bookers_of_a_seven_place_slot_get_exactly_seven_places() {
    let url = mandi_testkit::fresh_database().await;
    // Two stores over one database: two replicas racing, each with its own pool.
    let first = shipping(
        PgStore::connect_with(&url, 16).await.unwrap(),
        zones_with_capacity(CAPACITY),
        false,
    );
    let second = shipping(
        PgStore::connect_with(&url, 16).await.unwrap(),
        zones_with_capacity(CAPACITY),
        false,
    );
    let slot = common::first_slot(&first);
    let now = Utc::now();
    let mut tasks = Vec::new();
    for i in 0..BOOKERS {
        let replica = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let slot = slot.clone();
        tasks.push(tokio::spawn(async move {
            replica
                .reserve(&slot, hold(Uuid::now_v7(), false), now)
                .await
        }));
    }
    let (mut held, mut full) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => held += 1,
            Err(ShippingError::SlotUnavailable {
                why: "it is full", ..
            }) => full += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(held, CAPACITY as usize, "exactly the capacity is held");
    assert_eq!(full, BOOKERS - CAPACITY as usize);
    let booked = first
        .store()
        .booked(std::slice::from_ref(&slot), Utc::now())
        .await
        .unwrap();
    assert_eq!(booked.get(&slot), Some(&CAPACITY));
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM slot_holds WHERE slot_id = $1 AND status = 'HELD'",
    )
    .bind(&slot)
    .fetch_one(PgStore::connect(&url).await.unwrap().pool())
    .await
    .unwrap();
    assert_eq!(live, i64::from(CAPACITY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_moving_between_two_full_slots_concurrently_never_overbook_either() {
    let url = mandi_testkit::fresh_database().await;
    let shipping = shipping(
        PgStore::connect(&url).await.unwrap(),
        zones_with_capacity(3),
        false,
    );
    let slots = common::slots(&shipping, 2);
    let now = Utc::now();
    let orders: Vec<Uuid> = (0..12).map(|_| Uuid::now_v7()).collect();
    let mut tasks = Vec::new();
    for (i, order) in orders.iter().enumerate() {
        for round in 0..3 {
            let shipping = shipping.clone();
            let slot = slots[(i + round) % 2].clone();
            let order = *order;
            tasks.push(tokio::spawn(async move {
                shipping.reserve(&slot, hold(order, false), now).await
            }));
        }
    }
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) | Err(ShippingError::SlotUnavailable { .. }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    let booked = shipping.store().booked(&slots, Utc::now()).await.unwrap();
    for slot in &slots {
        assert!(booked.get(slot).copied().unwrap_or(0) <= 3, "{booked:?}");
    }
    // Every order holds at most one place: the places taken are the orders holding one.
    let mut holding = 0;
    for order in &orders {
        if let Some(hold) = shipping.store().hold(*order).await.unwrap()
            && hold.is_live(Utc::now())
        {
            holding += 1;
        }
    }
    assert_eq!(booked.values().sum::<i32>(), holding, "{booked:?}");
    assert!(holding >= 3, "at least one slot fills: {booked:?}");
}
