//! Helpers shared by shipping's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use mandi_shipping::domain::{
    Destination, GeoPoint, Money, NearestAvailable, NewHold, NewRider, NewShipment, VehicleType,
    Window, Zone, ZoneMap,
};
use mandi_shipping::service::{Settings, Shipping};
use mandi_shipping::store::ShippingStore;
use uuid::Uuid;

/// One Bengaluru zone whose slots each take `capacity` orders: 07:00 IST with cold chain,
/// 09:00 IST without.
pub fn zones_with_capacity(capacity: i32) -> ZoneMap {
    let window = |start: &str, cold_chain: bool| Window {
        start: start.into(),
        minutes: 120,
        capacity,
        cold_chain,
        surcharge_minor: 0,
    };
    ZoneMap {
        zones: vec![Zone {
            id: "blr-central".into(),
            name: "Bengaluru central".into(),
            country_code: "IN".into(),
            postal_prefixes: vec!["5600".into()],
            radius_km: None,
            warehouse: GeoPoint {
                latitude: 12.9716,
                longitude: 77.5946,
            },
            utc_offset_minutes: 330,
            currency: "INR".into(),
            fee_minor: 3_000,
            included_grams: 5_000,
            per_kg_minor: 500,
            free_above_minor: Some(60_000),
            cold_chain_surcharge_minor: 2_000,
            cutoff_minutes: 60,
            windows: vec![window("07:00", true), window("09:00", false)],
        }],
    }
}

/// Shipping over `store` with `zones`, auto-assigning when `auto_assign`.
pub fn shipping<S: ShippingStore>(store: S, zones: ZoneMap, auto_assign: bool) -> Shipping<S> {
    Shipping::new(
        Arc::new(store),
        Settings {
            zones: Arc::new(zones),
            default_hold: Duration::minutes(15),
            auto_assign,
        },
        Arc::new(NearestAvailable),
    )
}

/// The ids of the first `n` cold-chain slots starting at least 3 hours from now (so they
/// stay bookable through the tests' clock jumps).
pub fn slots<S: ShippingStore>(shipping: &Shipping<S>, n: usize) -> Vec<String> {
    let zone = shipping.zones().zone("blr-central").unwrap();
    let from = Utc::now() + Duration::hours(3);
    zone.slots_between(from, from + Duration::days(7))
        .into_iter()
        .filter(|s| s.cold_chain)
        .take(n)
        .map(|s| s.id)
        .collect()
}

/// The first cold-chain slot at least 3 hours away.
pub fn first_slot<S: ShippingStore>(shipping: &Shipping<S>) -> String {
    slots(shipping, 1).remove(0)
}

/// The first slot without cold chain at least 3 hours away.
pub fn warm_slot<S: ShippingStore>(shipping: &Shipping<S>) -> String {
    let zone = shipping.zones().zone("blr-central").unwrap();
    let from = Utc::now() + Duration::hours(3);
    zone.slots_between(from, from + Duration::days(2))
        .into_iter()
        .find(|s| !s.cold_chain)
        .unwrap()
        .id
}

/// A 1 kg hold for 15 minutes.
pub fn hold(order_id: Uuid, cold_chain: bool) -> NewHold {
    NewHold {
        order_id,
        weight_grams: 1_000,
        cold_chain,
        ttl: Duration::minutes(15),
    }
}

pub fn destination() -> Destination {
    Destination {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: "560001".into(),
        country_code: "IN".into(),
        recipient_name: "Asha Rao".into(),
        recipient_phone: "+919812345678".into(),
        ..Destination::default()
    }
}

/// A paid card order's shipment request.
pub fn paid(order_id: Uuid) -> NewShipment {
    NewShipment {
        order_id,
        user_id: Uuid::now_v7(),
        destination: destination(),
        warehouse_id: None,
        weight_grams: 1_000,
        cold_chain: false,
        cash_to_collect: Money {
            currency: "INR".into(),
            minor: 0,
        },
    }
}

/// A motorcycle rider in blr-central.
pub fn new_rider(cold_chain: bool) -> NewRider {
    NewRider {
        user_id: Uuid::now_v7(),
        display_name: format!("Rider {}", &Uuid::now_v7().simple().to_string()[24..]),
        phone: "+919800000001".into(),
        vehicle: VehicleType::Motorcycle,
        cold_chain,
        max_load_grams: 0,
        zone_ids: vec!["blr-central".into()],
    }
}
