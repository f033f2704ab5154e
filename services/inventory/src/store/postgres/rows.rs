//! Reading rows back into domain values.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::TxError;
use crate::domain::{
    AdjustmentReason, Allocation, Batch, GeoPoint, Location, Reservation, ReservationLine,
    ReservationStatus, StockAdjustment, StockPolicy, Warehouse,
};
use crate::store::StoreError;

pub(super) fn warehouse_from_row(row: &PgRow) -> Result<Warehouse, TxError> {
    let latitude: Option<i64> = row.try_get("latitude_e6")?;
    let longitude: Option<i64> = row.try_get("longitude_e6")?;
    Ok(Warehouse {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        name: row.try_get("display_name")?,
        location: Location {
            line1: row.try_get("line1")?,
            line2: row.try_get("line2")?,
            city: row.try_get("city")?,
            region: row.try_get("region")?,
            postal_code: row.try_get("postal_code")?,
            country_code: row.try_get("country_code")?,
            geo: latitude
                .zip(longitude)
                .map(|(latitude_e6, longitude_e6)| GeoPoint {
                    latitude_e6,
                    longitude_e6,
                }),
        },
        cold_storage: row.try_get("cold_storage")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) fn policy_from_row(row: &PgRow) -> Result<StockPolicy, TxError> {
    Ok(StockPolicy {
        product_id: row.try_get("product_id")?,
        low_stock_threshold: row.try_get("low_stock_threshold")?,
        expiry_warning_days: row.try_get("expiry_warning_days")?,
        updated_at: Some(row.try_get("updated_at")?),
    })
}

pub(super) fn batch_from_row(row: &PgRow) -> Result<Batch, TxError> {
    Ok(Batch {
        id: row.try_get("id")?,
        product_id: row.try_get("product_id")?,
        warehouse_id: row.try_get("warehouse_id")?,
        received_quantity: row.try_get("received_quantity")?,
        on_hand_quantity: row.try_get("on_hand_quantity")?,
        reserved_quantity: row.try_get("reserved_quantity")?,
        received_at: row.try_get("received_at")?,
        expires_at: row.try_get("expires_at")?,
        supplier_ref: row.try_get("supplier_ref")?,
        cold_chain: row.try_get("cold_chain")?,
        unit_cost_minor: row.try_get("unit_cost_minor")?,
        written_off: row.try_get("written_off")?,
    })
}

pub(super) fn adjustment_from_row(row: &PgRow) -> Result<StockAdjustment, TxError> {
    let reason: String = row.try_get("reason")?;
    Ok(StockAdjustment {
        id: row.try_get("id")?,
        batch_id: row.try_get("batch_id")?,
        product_id: row.try_get("product_id")?,
        warehouse_id: row.try_get("warehouse_id")?,
        delta: row.try_get("delta_quantity")?,
        on_hand_after: row.try_get("on_hand_after")?,
        reason: AdjustmentReason::parse(&reason)
            .ok_or_else(|| StoreError::Corrupt(format!("adjustment reason {reason:?}")))?,
        note: row.try_get("note")?,
        actor: row.try_get("actor")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Reads an order's reservation with its lines and allocations; `lock` holds its row
/// until the transaction ends.
pub(super) async fn load_reservation(
    conn: &mut PgConnection,
    order_id: Uuid,
    lock: bool,
) -> Result<Option<Reservation>, TxError> {
    let query = if lock {
        sqlx::query(concat!(
            "SELECT ",
            reservation_columns!(),
            " FROM reservations WHERE order_id = $1 FOR UPDATE"
        ))
    } else {
        sqlx::query(concat!(
            "SELECT ",
            reservation_columns!(),
            " FROM reservations WHERE order_id = $1"
        ))
    };
    let Some(row) = query.bind(order_id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let lines = sqlx::query(
        "SELECT product_id, quantity FROM reservation_lines WHERE order_id = $1 \
         ORDER BY position",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(ReservationLine {
            product_id: row.try_get("product_id")?,
            quantity: row.try_get("quantity")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let allocations = sqlx::query(
        "SELECT a.batch_id, a.warehouse_id, a.product_id, a.quantity, a.expires_at, b.cold_chain \
         FROM reservation_allocations a JOIN batches b ON b.id = a.batch_id WHERE a.order_id = $1 ORDER BY a.position",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        Ok(Allocation {
            batch_id: row.try_get("batch_id")?,
            warehouse_id: row.try_get("warehouse_id")?,
            product_id: row.try_get("product_id")?,
            quantity: row.try_get("quantity")?,
            expires_at: row.try_get("expires_at")?,
            cold_chain: row.try_get("cold_chain")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(Reservation {
        order_id,
        status: ReservationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("reservation status {status:?}")))?,
        lines,
        allocations,
        expires_at: row.try_get("expires_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        committed_at: row.try_get("committed_at")?,
        released_at: row.try_get("released_at")?,
        release_reason: row.try_get("release_reason")?,
    }))
}
