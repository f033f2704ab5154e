#![allow(clippy::unwrap_used)]
use chrono::{Duration, TimeZone as _};

use super::*;
use crate::domain::zones::tests::blr;
use crate::domain::{Rider, RiderStatus, VehicleType};

fn shipment(cash: i64) -> Shipment {
    let from = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
    let slot = blr()
        .slots_between(from, from + Duration::days(1))
        .remove(0);
    Shipment::create(
        NewShipment {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            destination: Destination::default(),
            warehouse_id: None,
            weight_grams: 2_000,
            cold_chain: true,
            cash_to_collect: Money {
                currency: "INR".into(),
                minor: cash,
            },
        },
        slot,
        &Actor::Service("shipping".into()),
        from,
    )
}

fn rider() -> Rider {
    let now = Utc::now();
    Rider {
        id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        display_name: "Ravi".into(),
        phone: "+919812345678".into(),
        vehicle: VehicleType::Motorcycle,
        cold_chain: true,
        max_load_grams: 20_000,
        zone_ids: vec!["blr-central".into()],
        status: RiderStatus::Available,
        location: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn to(status: ShipmentStatus) -> StatusUpdate {
    StatusUpdate {
        to: status,
        ..StatusUpdate::default()
    }
}

fn delivered_to_door(s: &mut Shipment, r: &Rider) {
    let actor = Actor::User(r.user_id);
    s.assign(r, &Actor::Service("shipping".into()), Utc::now())
        .unwrap();
    s.accept(r.id, Utc::now()).unwrap();
    s.apply(&to(ShipmentStatus::PickedUp), &actor, Utc::now())
        .unwrap();
    s.apply(&to(ShipmentStatus::OutForDelivery), &actor, Utc::now())
        .unwrap();
}

#[test]
fn the_state_machine_is_the_contracts_table() {
    use ShipmentStatus::*;
    let allowed: Vec<(ShipmentStatus, ShipmentStatus)> = ShipmentStatus::ALL
        .iter()
        .flat_map(|a| ShipmentStatus::ALL.iter().map(move |b| (*a, *b)))
        .filter(|(a, b)| a.can_become(*b))
        .collect();
    assert_eq!(
        allowed,
        vec![
            (Pending, Assigned),
            (Pending, Cancelled),
            (Assigned, Pending),
            (Assigned, PickedUp),
            (Assigned, Cancelled),
            (PickedUp, OutForDelivery),
            (OutForDelivery, Delivered),
            (OutForDelivery, DeliveryFailed),
            (DeliveryFailed, OutForDelivery),
            (DeliveryFailed, Returned),
        ]
    );
    for terminal in [Delivered, Returned, Cancelled] {
        assert!(terminal.is_terminal());
        assert!(ShipmentStatus::ALL.iter().all(|s| !terminal.can_become(*s)));
    }
}

#[test]
fn a_new_shipment_waits_with_codes_and_the_slot_end_as_estimate() {
    let s = shipment(0);
    assert_eq!(s.status, ShipmentStatus::Pending);
    assert_eq!(s.eta, Some(s.slot.end));
    assert_eq!(s.delivery_code.len(), 6);
    assert!(s.delivery_code.bytes().all(|b| b.is_ascii_digit()));
    assert!(s.tracking_code.starts_with("MND-") && s.tracking_code.len() == 9);
    assert_eq!(s.tracking.len(), 1);
}

#[test]
fn a_pending_shipment_cannot_be_picked_up() {
    let mut s = shipment(0);
    let err = s
        .apply(
            &to(ShipmentStatus::PickedUp),
            &Actor::Service("x".into()),
            Utc::now(),
        )
        .unwrap_err();
    assert!(
        matches!(err, ShippingError::IllegalTransition { .. }),
        "{err}"
    );
    assert_eq!(s.version, 1);
}

#[test]
fn delivery_needs_the_right_code_and_wrong_ones_are_counted_until_locked() {
    let r = rider();
    let mut s = shipment(0);
    delivered_to_door(&mut s, &r);
    let actor = Actor::User(r.user_id);
    let wrong = if s.delivery_code == "000000" {
        "111111"
    } else {
        "000000"
    };
    for attempt in 1..=CODE_ATTEMPTS {
        let before = s.version;
        let update = StatusUpdate {
            delivery_code: Some(wrong.into()),
            ..to(ShipmentStatus::Delivered)
        };
        let err = s.apply(&update, &actor, Utc::now()).unwrap_err();
        assert!(
            matches!(err, ShippingError::WrongDeliveryCode { failures } if failures == attempt),
            "{err}"
        );
        assert_eq!(s.version, before + 1, "the count is a change to store");
        assert_eq!(s.status, ShipmentStatus::OutForDelivery);
    }
    let right = StatusUpdate {
        delivery_code: Some(s.delivery_code.clone()),
        ..to(ShipmentStatus::Delivered)
    };
    assert!(matches!(
        s.apply(&right, &actor, Utc::now()),
        Err(ShippingError::DeliveryCodeLocked)
    ));
    // Locked: the rider can still record the failed attempt.
    let failed = StatusUpdate {
        note: "customer could not give the code".into(),
        ..to(ShipmentStatus::DeliveryFailed)
    };
    s.apply(&failed, &actor, Utc::now()).unwrap();
}

#[test]
fn the_right_code_delivers_and_an_admin_may_complete_without_it() {
    let r = rider();
    let mut s = shipment(0);
    delivered_to_door(&mut s, &r);
    let right = StatusUpdate {
        delivery_code: Some(format!(" {} ", s.delivery_code)),
        ..to(ShipmentStatus::Delivered)
    };
    s.apply(&right, &Actor::User(r.user_id), Utc::now())
        .unwrap();
    assert_eq!(s.status, ShipmentStatus::Delivered);
    assert!(s.delivered_at.is_some());

    let mut s = shipment(0);
    delivered_to_door(&mut s, &r);
    s.apply(
        &to(ShipmentStatus::Delivered),
        &Actor::Admin(Uuid::now_v7()),
        Utc::now(),
    )
    .unwrap();
}

#[test]
fn cash_on_delivery_must_be_collected_in_full() {
    let r = rider();
    let mut s = shipment(45_000);
    delivered_to_door(&mut s, &r);
    let code = Some(s.delivery_code.clone());
    let actor = Actor::User(r.user_id);
    let short = StatusUpdate {
        delivery_code: code.clone(),
        cash_collected: Some(40_000),
        ..to(ShipmentStatus::Delivered)
    };
    assert!(matches!(
        s.apply(&short, &actor, Utc::now()),
        Err(ShippingError::CashMismatch {
            due: 45_000,
            collected: 40_000
        })
    ));
    let none = StatusUpdate {
        delivery_code: code.clone(),
        ..to(ShipmentStatus::Delivered)
    };
    assert!(matches!(
        s.apply(&none, &actor, Utc::now()),
        Err(ShippingError::Invalid(_))
    ));
    let full = StatusUpdate {
        delivery_code: code,
        cash_collected: Some(45_000),
        ..to(ShipmentStatus::Delivered)
    };
    s.apply(&full, &actor, Utc::now()).unwrap();
    assert_eq!(s.code_failures, 0, "a cash mistake is not a wrong code");
}

#[test]
fn a_rider_who_rejects_is_never_offered_it_again() {
    let r = rider();
    let mut s = shipment(0);
    s.assign(&r, &Actor::Service("shipping".into()), Utc::now())
        .unwrap();
    assert!(matches!(
        s.accept(Uuid::now_v7(), Utc::now()),
        Err(ShippingError::NotAssignedRider)
    ));
    s.reject(r.id, "flat tyre", &Actor::User(r.user_id), Utc::now())
        .unwrap();
    assert_eq!(s.status, ShipmentStatus::Pending);
    assert_eq!(s.rider_id, None);
    assert_eq!(s.rejected_by, vec![r.id]);
    assert!(s.tracking.last().unwrap().note.contains("flat tyre"));
    // Accepted shipments cannot be rejected.
    s.assign(&r, &Actor::Service("shipping".into()), Utc::now())
        .unwrap();
    s.accept(r.id, Utc::now()).unwrap();
    assert!(
        s.reject(r.id, "", &Actor::User(r.user_id), Utc::now())
            .is_err()
    );
}
