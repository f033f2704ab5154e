//! Proto ⇄ domain conversion at the edge: requests are parsed once into domain inputs,
//! domain values are written out as proto messages.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::common::v1 as common;
use mandi_sdk::proto::mandi::inventory::v1 as pb;
use uuid::Uuid;

use crate::domain::{
    AdjustmentReason, Availability, Batch, BatchStatus, FieldViolation, GeoPoint, InventoryError,
    Location, NewWarehouse, Reservation, ReservationStatus, StockAdjustment, StockPolicy,
    Warehouse,
};

/// The marketplace currency batch costs are recorded in (`MANDI_INVENTORY__CURRENCY`).
#[derive(Debug, Clone)]
pub struct Currency(pub String);

/// A proto timestamp at microsecond precision: PostgreSQL keeps microseconds, so a first
/// reply and its idempotent retry (read back from the store) must not differ in nanos.
pub(super) fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: (at.timestamp_subsec_micros() * 1_000) as i32,
    }
}

/// A proto timestamp as UTC; out-of-range values name `field`.
pub(super) fn from_timestamp(
    field: &str,
    at: &prost_types::Timestamp,
) -> Result<DateTime<Utc>, InventoryError> {
    u32::try_from(at.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
        .ok_or_else(|| InventoryError::invalid(field, "is not a valid timestamp"))
}

/// A required UUID field.
pub(super) fn parse_id(field: &str, raw: &str) -> Result<Uuid, InventoryError> {
    if raw.is_empty() {
        return Err(InventoryError::invalid(field, "is required"));
    }
    match Uuid::parse_str(raw) {
        Ok(id) if !id.is_nil() => Ok(id),
        _ => Err(InventoryError::invalid(field, "must be a UUID")),
    }
}

/// An optional UUID filter: empty means none.
pub(super) fn parse_optional_id(field: &str, raw: &str) -> Result<Option<Uuid>, InventoryError> {
    if raw.is_empty() {
        Ok(None)
    } else {
        parse_id(field, raw).map(Some)
    }
}

// === warehouses ===

pub(super) fn new_warehouse(warehouse: pb::Warehouse) -> NewWarehouse {
    let location = warehouse.location.unwrap_or_default();
    NewWarehouse {
        code: warehouse.code,
        name: warehouse.display_name,
        location: Location {
            line1: location.line1,
            line2: location.line2,
            city: location.city,
            region: location.region,
            postal_code: location.postal_code,
            country_code: location.country_code,
            geo: location.geo.map(|geo| GeoPoint {
                latitude_e6: geo.latitude_e6,
                longitude_e6: geo.longitude_e6,
            }),
        },
        cold_storage: warehouse.cold_storage,
    }
}

pub(super) fn warehouse_to_proto(warehouse: Warehouse) -> pb::Warehouse {
    let location = warehouse.location;
    pb::Warehouse {
        name: format!("warehouses/{}", warehouse.id),
        id: warehouse.id.to_string(),
        code: warehouse.code,
        display_name: warehouse.name,
        location: Some(common::Address {
            line1: location.line1,
            line2: location.line2,
            city: location.city,
            region: location.region,
            postal_code: location.postal_code,
            country_code: location.country_code,
            geo: location.geo.map(|geo| common::GeoPoint {
                latitude_e6: geo.latitude_e6,
                longitude_e6: geo.longitude_e6,
            }),
        }),
        cold_storage: warehouse.cold_storage,
        active: warehouse.active,
        create_time: Some(timestamp(warehouse.created_at)),
    }
}

// === batches and adjustments ===

pub(super) fn batch_to_proto(batch: Batch, currency: &Currency, now: DateTime<Utc>) -> pb::Batch {
    let status = batch_status_to_proto(batch.status(now));
    pb::Batch {
        name: format!("batches/{}", batch.id),
        id: batch.id.to_string(),
        product_id: batch.product_id.to_string(),
        warehouse_id: batch.warehouse_id.to_string(),
        received_quantity: batch.received_quantity,
        on_hand_quantity: batch.on_hand_quantity,
        reserved_quantity: batch.reserved_quantity,
        receive_time: Some(timestamp(batch.received_at)),
        expire_time: Some(timestamp(batch.expires_at)),
        supplier_ref: batch.supplier_ref,
        cold_chain: batch.cold_chain,
        unit_cost: batch.unit_cost_minor.map(|amount_minor| common::Money {
            currency_code: currency.0.clone(),
            amount_minor,
        }),
        status: status as i32,
    }
}

pub(super) fn batch_status_to_proto(status: BatchStatus) -> pb::BatchStatus {
    match status {
        BatchStatus::Available => pb::BatchStatus::Available,
        BatchStatus::Depleted => pb::BatchStatus::Depleted,
        BatchStatus::Expired => pb::BatchStatus::Expired,
        BatchStatus::WrittenOff => pb::BatchStatus::WrittenOff,
    }
}

/// A batch status filter: UNSPECIFIED means any.
pub(super) fn batch_status_filter(value: i32) -> Result<Option<BatchStatus>, InventoryError> {
    match pb::BatchStatus::try_from(value) {
        Ok(pb::BatchStatus::Unspecified) => Ok(None),
        Ok(pb::BatchStatus::Available) => Ok(Some(BatchStatus::Available)),
        Ok(pb::BatchStatus::Depleted) => Ok(Some(BatchStatus::Depleted)),
        Ok(pb::BatchStatus::Expired) => Ok(Some(BatchStatus::Expired)),
        Ok(pb::BatchStatus::WrittenOff) => Ok(Some(BatchStatus::WrittenOff)),
        Err(_) => Err(InventoryError::invalid(
            "status",
            "is not a known batch status",
        )),
    }
}

/// The reason of an adjustment request; UNSPECIFIED is refused here, EXPIRED by the domain.
pub(super) fn adjustment_reason(value: i32) -> Result<AdjustmentReason, InventoryError> {
    match pb::AdjustmentReason::try_from(value) {
        Ok(pb::AdjustmentReason::Spoiled) => Ok(AdjustmentReason::Spoiled),
        Ok(pb::AdjustmentReason::Damaged) => Ok(AdjustmentReason::Damaged),
        Ok(pb::AdjustmentReason::CountCorrection) => Ok(AdjustmentReason::CountCorrection),
        Ok(pb::AdjustmentReason::Returned) => Ok(AdjustmentReason::Returned),
        Ok(pb::AdjustmentReason::Lost) => Ok(AdjustmentReason::Lost),
        Ok(pb::AdjustmentReason::Expired) => Ok(AdjustmentReason::Expired),
        Ok(pb::AdjustmentReason::Other) => Ok(AdjustmentReason::Other),
        Ok(pb::AdjustmentReason::Unspecified) => {
            Err(InventoryError::invalid("reason", "is required"))
        }
        Err(_) => Err(InventoryError::invalid("reason", "is not a known reason")),
    }
}

fn adjustment_reason_to_proto(reason: AdjustmentReason) -> pb::AdjustmentReason {
    match reason {
        AdjustmentReason::Spoiled => pb::AdjustmentReason::Spoiled,
        AdjustmentReason::Damaged => pb::AdjustmentReason::Damaged,
        AdjustmentReason::CountCorrection => pb::AdjustmentReason::CountCorrection,
        AdjustmentReason::Returned => pb::AdjustmentReason::Returned,
        AdjustmentReason::Lost => pb::AdjustmentReason::Lost,
        AdjustmentReason::Expired => pb::AdjustmentReason::Expired,
        AdjustmentReason::Other => pb::AdjustmentReason::Other,
    }
}

pub(super) fn adjustment_to_proto(adjustment: StockAdjustment) -> pb::StockAdjustment {
    pb::StockAdjustment {
        name: format!(
            "batches/{}/adjustments/{}",
            adjustment.batch_id, adjustment.id
        ),
        id: adjustment.id.to_string(),
        batch_id: adjustment.batch_id.to_string(),
        product_id: adjustment.product_id.to_string(),
        warehouse_id: adjustment.warehouse_id.to_string(),
        delta_quantity: adjustment.delta,
        on_hand_after: adjustment.on_hand_after,
        reason: adjustment_reason_to_proto(adjustment.reason) as i32,
        note: adjustment.note,
        actor: adjustment.actor,
        create_time: Some(timestamp(adjustment.created_at)),
    }
}

/// The unit cost of a received batch in minor units; another currency than the
/// marketplace's is refused.
pub(super) fn unit_cost(
    money: Option<common::Money>,
    currency: &Currency,
) -> Result<Option<i64>, InventoryError> {
    match money {
        None => Ok(None),
        Some(money) if money.currency_code == currency.0 => Ok(Some(money.amount_minor)),
        Some(_) => Err(InventoryError::invalid(
            "unit_cost.currency_code",
            format!("must be the marketplace currency {}", currency.0),
        )),
    }
}

// === availability ===

pub(super) fn availability_to_proto(
    availability: Availability,
    low_stock_threshold: i64,
) -> pb::Availability {
    pb::Availability {
        product_id: availability.product_id.to_string(),
        available_quantity: availability.available,
        reserved_quantity: availability.reserved,
        in_stock: availability.in_stock(),
        low_stock: low_stock_threshold > 0 && availability.available <= low_stock_threshold,
        earliest_expire_time: availability.earliest_expiry.map(timestamp),
        warehouses: availability
            .warehouses
            .into_iter()
            .map(|w| pb::WarehouseAvailability {
                warehouse_id: w.warehouse_id.to_string(),
                available_quantity: w.available,
                earliest_expire_time: w.earliest_expiry.map(timestamp),
            })
            .collect(),
    }
}

/// A policy as the contract shows it, named `stockPolicies/{product_id}`.
pub(super) fn policy_to_proto(policy: StockPolicy) -> pb::StockPolicy {
    pb::StockPolicy {
        name: format!("stockPolicies/{}", policy.product_id),
        product_id: policy.product_id.to_string(),
        low_stock_threshold: policy.low_stock_threshold,
        expiry_warning_days: policy.expiry_warning_days,
        update_time: policy.updated_at.map(timestamp),
    }
}

// === reservations ===

/// Parses reservation lines, naming each bad product id by its index.
pub(super) fn reservation_lines(
    lines: &[pb::ReservationLine],
) -> Result<Vec<crate::domain::ReservationLine>, InventoryError> {
    let mut violations = Vec::new();
    let mut parsed = Vec::with_capacity(lines.len());
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        match parse_id(&format!("lines[{i}].product_id"), &line.product_id) {
            Ok(product_id) => {
                if !seen.insert(product_id) {
                    violations.push(FieldViolation::new(
                        format!("lines[{i}].product_id"),
                        "names a product already in an earlier line",
                    ));
                }
                parsed.push(crate::domain::ReservationLine {
                    product_id,
                    quantity: line.quantity,
                });
            }
            Err(InventoryError::Invalid(mut v)) => violations.append(&mut v),
            Err(other) => return Err(other),
        }
    }
    if violations.is_empty() {
        Ok(parsed)
    } else {
        Err(InventoryError::Invalid(violations))
    }
}

fn reservation_status_to_proto(status: ReservationStatus) -> pb::ReservationStatus {
    match status {
        ReservationStatus::Active => pb::ReservationStatus::Active,
        ReservationStatus::Committed => pb::ReservationStatus::Committed,
        ReservationStatus::Released => pb::ReservationStatus::Released,
        ReservationStatus::Expired => pb::ReservationStatus::Expired,
    }
}

pub(super) fn reservation_to_proto(reservation: Reservation) -> pb::Reservation {
    let lines = reservation
        .lines
        .iter()
        .map(|line| {
            let mut allocations: Vec<_> = reservation
                .allocations
                .iter()
                .filter(|a| a.product_id == line.product_id)
                .collect();
            allocations.sort_by_key(|a| a.expires_at);
            pb::ReservedLine {
                product_id: line.product_id.to_string(),
                quantity: line.quantity,
                allocations: allocations
                    .into_iter()
                    .map(|a| pb::Allocation {
                        batch_id: a.batch_id.to_string(),
                        warehouse_id: a.warehouse_id.to_string(),
                        quantity: a.quantity,
                        expire_time: Some(timestamp(a.expires_at)),
                        cold_chain: a.cold_chain,
                    })
                    .collect(),
            }
        })
        .collect();
    pb::Reservation {
        name: format!("reservations/{}", reservation.order_id),
        id: reservation.order_id.to_string(),
        order_id: reservation.order_id.to_string(),
        status: reservation_status_to_proto(reservation.status) as i32,
        lines,
        create_time: Some(timestamp(reservation.created_at)),
        expire_time: Some(timestamp(reservation.expires_at)),
        commit_time: reservation.committed_at.map(timestamp),
        release_time: reservation.released_at.map(timestamp),
        release_reason: reservation.release_reason.unwrap_or_default(),
    }
}
