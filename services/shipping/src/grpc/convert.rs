//! Proto ⇄ domain: requests parsed once at the edge (every bad field named), domain values
//! shown as the contract's messages.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::common::v1 as common;
use mandi_sdk::proto::mandi::shipping::v1 as pb;
use uuid::Uuid;

use crate::domain::{
    Destination, GeoPoint, HoldStatus, Money, NewRider, Rider, RiderPatch, RiderStatus, Shipment,
    ShipmentStatus, Slot, SlotHold, TrackingEvent, VehicleType, Violation, Violations,
};
use crate::service::SlotView;

/// A proto timestamp of a UTC instant.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range a protobuf
/// Timestamp may hold. Within it, adding days or hours to an instant cannot overflow.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// The instant of a proto timestamp, or a violation naming `field`.
pub fn instant(ts: &prost_types::Timestamp, field: &str) -> Result<DateTime<Utc>, Violation> {
    u32::try_from(ts.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000 && TIMESTAMP_SECONDS.contains(&ts.seconds))
        .and_then(|nanos| DateTime::from_timestamp(ts.seconds, nanos))
        .ok_or_else(|| violation(field, "is not a valid timestamp"))
}

fn violation(field: &str, description: &str) -> Violation {
    Violation {
        field: field.to_owned(),
        description: description.to_owned(),
    }
}

/// A UUID from `value`, or a violation naming `field`.
pub fn parse_id(value: &str, field: &str) -> Result<Uuid, Violation> {
    if value.trim().is_empty() {
        return Err(violation(field, "is required"));
    }
    Uuid::parse_str(value.trim()).map_err(|_| violation(field, "must be a UUID"))
}

/// `None` for an empty id, else a UUID or a violation.
pub fn parse_optional_id(value: &str, field: &str) -> Result<Option<Uuid>, Violation> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        parse_id(value, field).map(Some)
    }
}

fn money(currency: &str, minor: i64) -> common::Money {
    common::Money {
        currency_code: currency.to_owned(),
        amount_minor: minor,
    }
}

/// A geo point, checked.
pub fn geo(point: &common::GeoPoint, field: &str) -> Result<GeoPoint, Violation> {
    let point = GeoPoint::from_micro(point.latitude_e6, point.longitude_e6);
    if point.is_valid() {
        Ok(point)
    } else {
        Err(violation(
            field,
            "latitude must be in [-90, 90] and longitude in [-180, 180]",
        ))
    }
}

fn geo_to_proto(point: GeoPoint) -> common::GeoPoint {
    let (latitude_e6, longitude_e6) = point.to_micro();
    common::GeoPoint {
        latitude_e6,
        longitude_e6,
    }
}

/// The postal code, country and location of an address that must be serviceable,
/// named under `prefix`.
pub fn address_key(
    address: Option<&common::Address>,
    prefix: &str,
    found: &mut Violations,
) -> (String, String, Option<GeoPoint>) {
    let Some(address) = address else {
        found.add(prefix, "is required");
        return Default::default();
    };
    let postal = address.postal_code.trim().to_owned();
    let country = address.country_code.trim().to_ascii_uppercase();
    found.check(
        !postal.is_empty(),
        &format!("{prefix}.postal_code"),
        "is required",
    );
    found.check(
        country.len() == 2 && country.bytes().all(|b| b.is_ascii_alphabetic()),
        &format!("{prefix}.country_code"),
        "must be an ISO 3166-1 alpha-2 code such as IN",
    );
    let point = address
        .geo
        .as_ref()
        .filter(|g| g.latitude_e6 != 0 || g.longitude_e6 != 0)
        .and_then(|g| found.take(geo(g, &format!("{prefix}.geo"))));
    (postal, country, point)
}

/// A destination, with the address, recipient name and phone required.
pub fn destination(
    value: Option<&common::DeliveryDestination>,
    found: &mut Violations,
) -> Destination {
    let Some(value) = value else {
        found.add("destination", "is required");
        return Destination::default();
    };
    let (postal_code, country_code, point) =
        address_key(value.address.as_ref(), "destination.address", found);
    let address = value.address.clone().unwrap_or_default();
    found.check(
        !address.line1.trim().is_empty(),
        "destination.address.line1",
        "is required",
    );
    let name = value.recipient_name.trim();
    found.check(
        (1..=100).contains(&name.chars().count()),
        "destination.recipient_name",
        "must be 1 to 100 characters",
    );
    let phone = value.recipient_phone.trim();
    found.check(
        phone.starts_with('+')
            && (8..=16).contains(&phone.len())
            && phone[1..].bytes().all(|b| b.is_ascii_digit()),
        "destination.recipient_phone",
        "must be an E.164 number such as +919812345678",
    );
    Destination {
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        region: address.region,
        postal_code,
        country_code,
        geo: point,
        recipient_name: name.to_owned(),
        recipient_phone: phone.to_owned(),
        instructions: value.delivery_instructions.chars().take(500).collect(),
    }
}

fn destination_to_proto(d: &Destination) -> common::DeliveryDestination {
    common::DeliveryDestination {
        address: Some(common::Address {
            line1: d.line1.clone(),
            line2: d.line2.clone(),
            city: d.city.clone(),
            region: d.region.clone(),
            postal_code: d.postal_code.clone(),
            country_code: d.country_code.clone(),
            geo: d.geo.map(geo_to_proto),
        }),
        recipient_name: d.recipient_name.clone(),
        recipient_phone: d.recipient_phone.clone(),
        delivery_instructions: d.instructions.clone(),
    }
}

/// The proto status of a domain one.
pub fn shipment_status_to_proto(status: ShipmentStatus) -> pb::ShipmentStatus {
    match status {
        ShipmentStatus::Pending => pb::ShipmentStatus::Pending,
        ShipmentStatus::Assigned => pb::ShipmentStatus::Assigned,
        ShipmentStatus::PickedUp => pb::ShipmentStatus::PickedUp,
        ShipmentStatus::OutForDelivery => pb::ShipmentStatus::OutForDelivery,
        ShipmentStatus::Delivered => pb::ShipmentStatus::Delivered,
        ShipmentStatus::DeliveryFailed => pb::ShipmentStatus::DeliveryFailed,
        ShipmentStatus::Returned => pb::ShipmentStatus::Returned,
        ShipmentStatus::Cancelled => pb::ShipmentStatus::Cancelled,
    }
}

/// The domain status of a proto one; UNSPECIFIED and unknown values are violations.
pub fn shipment_status(value: i32, field: &str) -> Result<ShipmentStatus, Violation> {
    let status = pb::ShipmentStatus::try_from(value).unwrap_or_default();
    ShipmentStatus::ALL
        .into_iter()
        .find(|s| shipment_status_to_proto(*s) == status)
        .ok_or_else(|| violation(field, "must be a shipment status other than UNSPECIFIED"))
}

/// A slot as the contract shows it.
pub fn slot_to_proto(view: &SlotView) -> pb::DeliverySlot {
    let mut slot = bare_slot(&view.slot);
    slot.booked = view.booked;
    slot.available = view.available;
    slot
}

fn bare_slot(slot: &Slot) -> pb::DeliverySlot {
    pb::DeliverySlot {
        name: format!("deliverySlots/{}", slot.id),
        id: slot.id.clone(),
        zone_id: slot.zone_id.clone(),
        start_time: Some(timestamp(slot.start)),
        end_time: Some(timestamp(slot.end)),
        capacity: slot.capacity,
        booked: 0,
        available: false,
        surcharge: Some(money(&slot.currency, slot.surcharge_minor)),
        cold_chain: slot.cold_chain,
    }
}

/// A hold as the contract shows it, at `now`.
pub fn hold_to_proto(hold: &SlotHold, slot: &SlotView, now: DateTime<Utc>) -> pb::SlotReservation {
    let status = match hold.status_at(now) {
        HoldStatus::Held => pb::SlotReservationStatus::Held,
        HoldStatus::Confirmed => pb::SlotReservationStatus::Confirmed,
        HoldStatus::Released => pb::SlotReservationStatus::Released,
        HoldStatus::Expired => pb::SlotReservationStatus::Expired,
    };
    pb::SlotReservation {
        name: format!("slotReservations/{}", hold.order_id),
        id: hold.order_id.to_string(),
        order_id: hold.order_id.to_string(),
        slot: Some(slot_to_proto(slot)),
        status: status.into(),
        expire_time: Some(timestamp(hold.expires_at)),
        create_time: Some(timestamp(hold.created_at)),
        weight_grams: hold.weight_grams,
        cold_chain: hold.cold_chain,
    }
}

fn tracking_to_proto(event: &TrackingEvent) -> pb::TrackingEvent {
    pb::TrackingEvent {
        status: shipment_status_to_proto(event.status).into(),
        occur_time: Some(timestamp(event.at)),
        location: event.location.map(geo_to_proto),
        note: event.note.clone(),
        actor: event.actor.clone(),
        estimated_delivery_time: event.eta.map(timestamp),
    }
}

/// The latest tracking event, as the contract shows it.
pub fn last_event(shipment: &Shipment) -> Option<pb::TrackingEvent> {
    shipment.tracking.last().map(tracking_to_proto)
}

/// A shipment as `shows_code` viewers see it: the delivery code only for the ordering
/// user and admins.
pub fn shipment_to_proto(s: &Shipment, shows_code: bool) -> pb::Shipment {
    pb::Shipment {
        name: format!("shipments/{}", s.id),
        id: s.id.to_string(),
        tracking_code: s.tracking_code.clone(),
        order_id: s.order_id.to_string(),
        user_id: s.user_id.to_string(),
        warehouse_id: s.warehouse_id.map(|w| w.to_string()).unwrap_or_default(),
        destination: Some(destination_to_proto(&s.destination)),
        slot: Some(bare_slot(&s.slot)),
        weight_grams: s.weight_grams,
        cold_chain: s.cold_chain,
        cash_to_collect: Some(money(&s.cash_to_collect.currency, s.cash_to_collect.minor)),
        status: shipment_status_to_proto(s.status).into(),
        rider_id: s.rider_id.map(|r| r.to_string()).unwrap_or_default(),
        rider_display_name: s.rider_name.clone(),
        estimated_delivery_time: s.eta.map(timestamp),
        tracking_events: s.tracking.iter().map(tracking_to_proto).collect(),
        create_time: Some(timestamp(s.created_at)),
        update_time: Some(timestamp(s.updated_at)),
        deliver_time: s.delivered_at.map(timestamp),
        rider_accepted: s.rider_accepted,
        rider_location: s.rider_location.map(|(g, _)| geo_to_proto(g)),
        rider_location_time: s.rider_location.map(|(_, t)| timestamp(t)),
        delivery_code: if shows_code {
            s.delivery_code.clone()
        } else {
            String::new()
        },
        delivery_code_failures: s.code_failures,
    }
}

/// Cash on a request: currency must match what is due, minor units >= 0.
pub fn cash(value: Option<&common::Money>, found: &mut Violations) -> Option<i64> {
    let value = value?;
    found.check(
        value.amount_minor >= 0,
        "cash_collected.amount_minor",
        "must not be negative",
    );
    Some(value.amount_minor)
}

/// Due cash of a request's optional money.
pub fn due(value: Option<&common::Money>, currency: &str) -> Money {
    Money {
        currency: value
            .map(|m| m.currency_code.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| currency.to_owned()),
        minor: value.map_or(0, |m| m.amount_minor.max(0)),
    }
}

fn vehicle(value: i32, field: &str) -> Result<VehicleType, Violation> {
    match pb::VehicleType::try_from(value).unwrap_or_default() {
        pb::VehicleType::Bicycle => Ok(VehicleType::Bicycle),
        pb::VehicleType::Motorcycle => Ok(VehicleType::Motorcycle),
        pb::VehicleType::ThreeWheeler => Ok(VehicleType::ThreeWheeler),
        pb::VehicleType::Van => Ok(VehicleType::Van),
        pb::VehicleType::Unspecified => Err(violation(field, "is required")),
    }
}

fn vehicle_to_proto(value: VehicleType) -> pb::VehicleType {
    match value {
        VehicleType::Bicycle => pb::VehicleType::Bicycle,
        VehicleType::Motorcycle => pb::VehicleType::Motorcycle,
        VehicleType::ThreeWheeler => pb::VehicleType::ThreeWheeler,
        VehicleType::Van => pb::VehicleType::Van,
    }
}

/// A rider status, UNSPECIFIED meaning none.
pub fn rider_status(value: i32) -> Option<RiderStatus> {
    match pb::RiderStatus::try_from(value).unwrap_or_default() {
        pb::RiderStatus::Available => Some(RiderStatus::Available),
        pb::RiderStatus::OnDelivery => Some(RiderStatus::OnDelivery),
        pb::RiderStatus::OffDuty => Some(RiderStatus::OffDuty),
        pb::RiderStatus::Unspecified => None,
    }
}

fn rider_status_to_proto(value: RiderStatus) -> pb::RiderStatus {
    match value {
        RiderStatus::Available => pb::RiderStatus::Available,
        RiderStatus::OnDelivery => pb::RiderStatus::OnDelivery,
        RiderStatus::OffDuty => pb::RiderStatus::OffDuty,
    }
}

fn phone_ok(phone: &str) -> bool {
    phone.starts_with('+')
        && (8..=16).contains(&phone.len())
        && phone[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A rider to register.
pub fn new_rider(rider: Option<&pb::Rider>, found: &mut Violations) -> Option<NewRider> {
    let Some(rider) = rider else {
        found.add("rider", "is required");
        return None;
    };
    let user_id = found.take(parse_id(&rider.user_id, "rider.user_id"));
    let name = rider.display_name.trim().to_owned();
    found.check(
        (1..=100).contains(&name.chars().count()),
        "rider.display_name",
        "must be 1 to 100 characters",
    );
    found.check(
        phone_ok(rider.phone.trim()),
        "rider.phone",
        "must be an E.164 number such as +919812345678",
    );
    let vehicle = found.take(vehicle(rider.vehicle_type, "rider.vehicle_type"));
    found.check(
        rider.max_load_grams >= 0,
        "rider.max_load_grams",
        "must not be negative",
    );
    Some(NewRider {
        user_id: user_id?,
        display_name: name,
        phone: rider.phone.trim().to_owned(),
        vehicle: vehicle?,
        cold_chain: rider.cold_chain,
        max_load_grams: rider.max_load_grams,
        zone_ids: rider.zone_ids.clone(),
    })
}

/// The fields an update mask names, parsed from `rider`.
pub fn rider_patch(rider: &pb::Rider, paths: &[String], found: &mut Violations) -> RiderPatch {
    let mut patch = RiderPatch::default();
    if paths.is_empty() {
        found.add("update_mask", "must name at least one field");
    }
    for path in paths {
        match path.as_str() {
            "display_name" => {
                let name = rider.display_name.trim();
                found.check(
                    (1..=100).contains(&name.chars().count()),
                    "rider.display_name",
                    "must be 1 to 100 characters",
                );
                patch.display_name = Some(name.to_owned());
            }
            "phone" => {
                found.check(
                    phone_ok(rider.phone.trim()),
                    "rider.phone",
                    "must be an E.164 number",
                );
                patch.phone = Some(rider.phone.trim().to_owned());
            }
            "vehicle_type" => {
                patch.vehicle = found.take(vehicle(rider.vehicle_type, "rider.vehicle_type"))
            }
            "cold_chain" => patch.cold_chain = Some(rider.cold_chain),
            "max_load_grams" => {
                found.check(
                    rider.max_load_grams > 0,
                    "rider.max_load_grams",
                    "must be positive",
                );
                patch.max_load_grams = Some(rider.max_load_grams);
            }
            "zone_ids" => patch.zone_ids = Some(rider.zone_ids.clone()),
            "status" => match rider_status(rider.status) {
                Some(status) => patch.status = Some(status),
                None => found.add(
                    "rider.status",
                    "must be a rider status other than UNSPECIFIED",
                ),
            },
            "last_location" => match &rider.last_location {
                Some(point) => patch.location = found.take(geo(point, "rider.last_location")),
                None => found.add(
                    "rider.last_location",
                    "is required when named in update_mask",
                ),
            },
            other => found.add(
                "update_mask",
                format!("{other} is not a field riders can change"),
            ),
        }
    }
    patch
}

/// A rider as the contract shows them.
pub fn rider_to_proto(r: &Rider) -> pb::Rider {
    pb::Rider {
        name: format!("riders/{}", r.id),
        id: r.id.to_string(),
        user_id: r.user_id.to_string(),
        display_name: r.display_name.clone(),
        phone: r.phone.clone(),
        vehicle_type: vehicle_to_proto(r.vehicle).into(),
        cold_chain: r.cold_chain,
        max_load_grams: r.max_load_grams,
        zone_ids: r.zone_ids.clone(),
        status: rider_status_to_proto(r.status).into(),
        last_location: r.location.map(|(g, _)| geo_to_proto(g)),
        last_location_time: r.location.map(|(_, t)| timestamp(t)),
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
    }
}
