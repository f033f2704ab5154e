//! One contract for the shipping store, run through the use cases against the in-memory
//! twin and PostgreSQL (a fresh database per case). The PostgreSQL cases fail when the
//! server is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, Utc};
use common::{hold, new_rider, paid, shipping, zones_with_capacity};
use mandi_runtime::outbox::OutboxStore;
use mandi_shipping::domain::{
    Actor, HoldStatus, RiderFilter, RiderPatch, RiderStatus, ShipmentFilter, ShipmentStatus,
    ShippingError, StatusUpdate,
};
use mandi_shipping::store::ShippingStore;
use mandi_shipping::store::memory::MemoryStore;
use mandi_shipping::store::postgres::PgStore;
use uuid::Uuid;

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::MemoryStore::default()).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $case() {
                let url = mandi_testkit::fresh_database().await;
                super::$case(super::PgStore::connect(&url).await.unwrap()).await;
            })*
        }
    };
}

contract!(
    a_slot_takes_as_many_orders_as_its_capacity,
    holding_again_returns_the_hold_and_another_slot_moves_it,
    released_and_expired_places_free_the_slot,
    a_paid_order_becomes_one_shipment_confirming_its_hold,
    a_paid_order_whose_hold_ran_out_takes_the_next_free_slot,
    writes_are_compare_and_set_on_the_version,
    listings_filter_and_page_by_slot_start,
    riders_are_one_per_user_and_filtered,
    keyed_responses_are_remembered_once,
    every_change_reaches_the_outbox_in_order,
);

fn service() -> Actor {
    Actor::Service("shipping".into())
}

async fn a_slot_takes_as_many_orders_as_its_capacity<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(2), false);
    let slot = common::first_slot(&shipping);
    let now = Utc::now();
    for _ in 0..2 {
        shipping
            .reserve(&slot, hold(Uuid::now_v7(), false), now)
            .await
            .unwrap();
    }
    let err = shipping
        .reserve(&slot, hold(Uuid::now_v7(), false), now)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ShippingError::SlotUnavailable {
                why: "it is full",
                ..
            }
        ),
        "{err}"
    );
    let views = shipping
        .slots("blr-central", now, now + Duration::days(2), false, now)
        .await
        .unwrap();
    let view = views.iter().find(|v| v.slot.id == slot).unwrap();
    assert_eq!((view.booked, view.available), (2, false));
}

async fn holding_again_returns_the_hold_and_another_slot_moves_it<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(1), false);
    let now = Utc::now();
    let slots = common::slots(&shipping, 2);
    let order = Uuid::now_v7();
    let first = shipping
        .reserve(&slots[0], hold(order, false), now)
        .await
        .unwrap();
    let again = shipping
        .reserve(&slots[0], hold(order, false), now)
        .await
        .unwrap();
    assert_eq!(
        first, again,
        "the same order holding the same slot gets its hold back"
    );
    let moved = shipping
        .reserve(&slots[1], hold(order, false), now)
        .await
        .unwrap();
    assert_eq!(moved.slot_id, slots[1]);
    // The first slot's only place is free again.
    shipping
        .reserve(&slots[0], hold(Uuid::now_v7(), false), now)
        .await
        .unwrap();
    // A cold-chain order cannot go into a slot without it.
    let warm = common::warm_slot(&shipping);
    let err = shipping
        .reserve(&warm, hold(Uuid::now_v7(), true), now)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ShippingError::SlotUnavailable {
                why: "it has no cold chain",
                ..
            }
        ),
        "{err}"
    );
}

async fn released_and_expired_places_free_the_slot<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(1), false);
    let slot = common::first_slot(&shipping);
    let now = Utc::now();
    let order = Uuid::now_v7();
    shipping
        .reserve(&slot, hold(order, false), now)
        .await
        .unwrap();
    let released = shipping.release(order, now).await.unwrap().unwrap();
    assert_eq!(released.status, HoldStatus::Released);
    // Releasing again, or an order without a hold, succeeds.
    assert_eq!(
        shipping.release(order, now).await.unwrap().unwrap().status,
        HoldStatus::Released
    );
    assert!(
        shipping
            .release(Uuid::now_v7(), now)
            .await
            .unwrap()
            .is_none()
    );
    // A place past its TTL stops counting at once, swept or not.
    let other = Uuid::now_v7();
    shipping
        .reserve(&slot, hold(other, false), now)
        .await
        .unwrap();
    let later = now + Duration::minutes(16);
    shipping
        .reserve(&slot, hold(Uuid::now_v7(), false), later)
        .await
        .unwrap();
    let swept = shipping.store().expire_holds(later).await.unwrap();
    assert_eq!(swept, 1);
    let expired = shipping.store().hold(other).await.unwrap().unwrap();
    assert_eq!(expired.status, HoldStatus::Expired);
}

async fn a_paid_order_becomes_one_shipment_confirming_its_hold<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(3), false);
    let slot = common::first_slot(&shipping);
    let now = Utc::now();
    let order = Uuid::now_v7();
    let mut held = hold(order, true);
    held.weight_grams = 4_200;
    shipping.reserve(&slot, held, now).await.unwrap();
    let shipment = shipping
        .create_shipment(paid(order), None, &service(), now)
        .await
        .unwrap();
    assert_eq!(shipment.status, ShipmentStatus::Pending);
    assert_eq!(shipment.slot.id, slot);
    assert!(
        shipment.cold_chain,
        "the hold's cold chain is carried to the shipment"
    );
    assert_eq!(shipment.weight_grams, 4_200);
    let again = shipping
        .create_shipment(paid(order), None, &service(), now)
        .await
        .unwrap();
    assert_eq!(again.id, shipment.id, "one shipment per order");
    let confirmed = shipping.store().hold(order).await.unwrap().unwrap();
    assert_eq!(confirmed.status, HoldStatus::Confirmed);
    assert!(matches!(
        shipping.release(order, now).await,
        Err(ShippingError::HoldConfirmed(_))
    ));
    // A confirmed place never expires.
    assert!(confirmed.is_live(now + Duration::days(1)));
    // Cancelling the shipment gives the place back.
    let cancel = StatusUpdate {
        to: ShipmentStatus::Cancelled,
        note: "order cancelled".into(),
        ..StatusUpdate::default()
    };
    shipping
        .update_status(shipment.id, cancel, &service(), now)
        .await
        .unwrap();
    let released = shipping.store().hold(order).await.unwrap().unwrap();
    assert_eq!(released.status, HoldStatus::Released);
    // An order without any hold or slot cannot ship.
    assert!(matches!(
        shipping
            .create_shipment(paid(Uuid::now_v7()), None, &service(), now)
            .await,
        Err(ShippingError::NoHold(_))
    ));
}

async fn a_paid_order_whose_hold_ran_out_takes_the_next_free_slot<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(1), false);
    let slots = common::slots(&shipping, 2);
    let now = Utc::now();
    let late = Uuid::now_v7();
    shipping
        .reserve(&slots[0], hold(late, false), now)
        .await
        .unwrap();
    // Its hold runs out and someone else takes the place.
    let later = now + Duration::minutes(20);
    shipping
        .reserve(&slots[0], hold(Uuid::now_v7(), false), later)
        .await
        .unwrap();
    let shipment = shipping
        .create_shipment(paid(late), None, &service(), later)
        .await
        .unwrap();
    // The zone's next slot that can take it (the order needs no cold chain).
    let wanted = shipping.zones().slot(&slots[0]).unwrap();
    assert_ne!(shipment.slot.id, slots[0]);
    assert!(shipment.slot.start > wanted.start);
    assert!(shipment.slot.start <= shipping.zones().slot(&slots[1]).unwrap().start);
    assert!(
        shipment.tracking[0].note.contains("next one"),
        "{:?}",
        shipment.tracking
    );
}

async fn writes_are_compare_and_set_on_the_version<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(3), false);
    let slot = common::first_slot(&shipping);
    let now = Utc::now();
    let order = Uuid::now_v7();
    shipping
        .reserve(&slot, hold(order, false), now)
        .await
        .unwrap();
    let shipment = shipping
        .create_shipment(paid(order), None, &service(), now)
        .await
        .unwrap();
    let store = shipping.store();
    let mut changed = shipment.clone();
    changed.version += 1;
    store
        .update_shipment(
            &changed,
            shipment.version,
            Vec::new(),
            mandi_shipping::store::HoldChange::Keep,
        )
        .await
        .unwrap();
    let err = store
        .update_shipment(
            &changed,
            shipment.version,
            Vec::new(),
            mandi_shipping::store::HoldChange::Keep,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ShippingError::Conflict(_)), "{err}");
    let rider = shipping.create_rider(new_rider(false), now).await.unwrap();
    let mut moved = rider.clone();
    moved.version += 1;
    store.update_rider(&moved, rider.version).await.unwrap();
    assert!(matches!(
        store.update_rider(&moved, rider.version).await,
        Err(ShippingError::Conflict(_))
    ));
}

async fn listings_filter_and_page_by_slot_start<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(10), false);
    let slots = common::slots(&shipping, 3);
    let now = Utc::now();
    let mut made = Vec::new();
    for slot in slots.iter().rev() {
        let order = Uuid::now_v7();
        shipping
            .reserve(slot, hold(order, false), now)
            .await
            .unwrap();
        made.push(
            shipping
                .create_shipment(paid(order), None, &service(), now)
                .await
                .unwrap(),
        );
    }
    let all = shipping
        .list(&ShipmentFilter::default(), None, 10)
        .await
        .unwrap();
    let starts: Vec<_> = all.iter().map(|s| s.slot.start).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted, "by slot start");
    let first = shipping
        .list(&ShipmentFilter::default(), None, 2)
        .await
        .unwrap();
    let last = first.last().unwrap();
    let rest = shipping
        .list(
            &ShipmentFilter::default(),
            Some((last.slot.start, last.id)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 3);
    let by_order = ShipmentFilter {
        order_id: Some(made[1].order_id),
        ..ShipmentFilter::default()
    };
    assert_eq!(
        shipping.list(&by_order, None, 10).await.unwrap(),
        vec![made[1].clone()]
    );
    let delivered = ShipmentFilter {
        statuses: vec![ShipmentStatus::Delivered],
        ..ShipmentFilter::default()
    };
    assert!(
        shipping
            .list(&delivered, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let window = ShipmentFilter {
        slot_from: Some(made[0].slot.start),
        ..ShipmentFilter::default()
    };
    assert_eq!(shipping.list(&window, None, 10).await.unwrap().len(), 1);
}

async fn riders_are_one_per_user_and_filtered<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(3), false);
    let now = Utc::now();
    let cold = shipping.create_rider(new_rider(true), now).await.unwrap();
    let warm = shipping.create_rider(new_rider(false), now).await.unwrap();
    assert_eq!(cold.status, RiderStatus::OffDuty);
    let mut twin = new_rider(false);
    twin.user_id = cold.user_id;
    assert!(matches!(
        shipping.create_rider(twin, now).await,
        Err(ShippingError::RiderExists(_))
    ));
    let mut unknown_zone = new_rider(false);
    unknown_zone.zone_ids = vec!["atlantis".into()];
    assert!(matches!(
        shipping.create_rider(unknown_zone, now).await,
        Err(ShippingError::Invalid(_))
    ));
    let on = RiderPatch {
        status: Some(RiderStatus::Available),
        ..RiderPatch::default()
    };
    shipping.update_rider(cold.id, on, now).await.unwrap();
    let available = RiderFilter {
        status: Some(RiderStatus::Available),
        zone_id: Some("blr-central".into()),
        cold_chain: None,
    };
    let found = shipping.riders(&available, None, 10).await.unwrap();
    assert_eq!(
        found.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![cold.id]
    );
    let warm_only = RiderFilter {
        cold_chain: Some(false),
        ..RiderFilter::default()
    };
    let found = shipping.riders(&warm_only, None, 10).await.unwrap();
    assert_eq!(
        found.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![warm.id]
    );
    assert_eq!(
        shipping
            .rider_of_user(warm.user_id)
            .await
            .unwrap()
            .unwrap()
            .id,
        warm.id
    );
}

async fn keyed_responses_are_remembered_once<S: ShippingStore>(store: S) {
    store.remember("k", "fp-1", b"first").await.unwrap();
    store.remember("k", "fp-2", b"second").await.unwrap();
    assert_eq!(
        store.remembered("k").await.unwrap(),
        Some(("fp-1".to_owned(), b"first".to_vec()))
    );
    assert_eq!(store.remembered("other").await.unwrap(), None);
}

async fn every_change_reaches_the_outbox_in_order<S: ShippingStore>(store: S) {
    let shipping = shipping(store, zones_with_capacity(3), true);
    let slot = common::first_slot(&shipping);
    let now = Utc::now();
    let rider = shipping.create_rider(new_rider(true), now).await.unwrap();
    let on = RiderPatch {
        status: Some(RiderStatus::Available),
        ..RiderPatch::default()
    };
    shipping.update_rider(rider.id, on, now).await.unwrap();
    let order = Uuid::now_v7();
    shipping
        .reserve(&slot, hold(order, false), now)
        .await
        .unwrap();
    let shipment = shipping
        .create_shipment(paid(order), None, &service(), now)
        .await
        .unwrap();
    assert_eq!(shipment.status, ShipmentStatus::Assigned, "auto-assigned");
    assert_eq!(shipment.rider_id, Some(rider.id));
    let types: Vec<String> = shipping
        .store()
        .pending(100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            r.envelope
                .r#type
                .trim_start_matches("mandi.events.v1.")
                .to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "ShipmentStatusChanged",
            "DeliveryAssigned",
            "ShipmentStatusChanged"
        ]
    );
}
