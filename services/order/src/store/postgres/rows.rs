//! Orders to and from rows: snapshots as JSON text, statuses by name.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Postgres;
use sqlx::Row as _;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use uuid::Uuid;

use super::super::{RequestKey, StoreError};
use crate::domain::{DeliverySlot, Money, Order, OrderStatus, PaymentMethod, StatusChange, Totals};

/// The columns `order_from` reads, as a SELECT list literal (for `concat!`).
macro_rules! order_columns {
    () => {
        "id, customer_id, checkout_id, vendor_ids, items::text AS items, \
         destination::text AS destination, slot_id, slot_start, slot_end, currency, \
         subtotal_minor, delivery_fee_minor, tax_minor, discount_minor, total_minor, \
         payment_method, payment_id, shipment_id, status, cancel_reason, version, created_at, \
         updated_at"
    };
}
pub(super) use order_columns;

/// An order's snapshots encoded for insertion.
pub(super) struct OrderRow<'a> {
    order: &'a Order,
    items: String,
    destination: String,
}

impl<'a> OrderRow<'a> {
    pub(super) fn of(order: &'a Order) -> Result<Self, StoreError> {
        let encode = |e: serde_json::Error| StoreError::Failed(format!("cannot encode: {e}"));
        Ok(Self {
            order,
            items: serde_json::to_string(&order.items).map_err(encode)?,
            destination: serde_json::to_string(&order.destination).map_err(encode)?,
        })
    }

    /// `INSERT … ON CONFLICT (request_key) DO NOTHING`.
    pub(super) fn insert<'q>(
        &'q self,
        request: &'q RequestKey,
    ) -> Query<'q, Postgres, PgArguments> {
        let order = self.order;
        let slot = order.slot.as_ref();
        sqlx::query(
            "INSERT INTO orders (id, customer_id, checkout_id, vendor_ids, items, destination, \
             slot_id, slot_start, slot_end, currency, subtotal_minor, delivery_fee_minor, \
             tax_minor, discount_minor, total_minor, payment_method, payment_id, shipment_id, \
             status, cancel_reason, version, request_key, request_fingerprint, created_at, \
             updated_at) \
             VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25) \
             ON CONFLICT (request_key) DO NOTHING",
        )
        .bind(order.id)
        .bind(order.customer_id)
        .bind(&order.checkout_id)
        .bind(&order.vendor_ids)
        .bind(&self.items)
        .bind(&self.destination)
        .bind(slot.map(|s| s.slot_id.as_str()))
        .bind(slot.map(|s| s.start))
        .bind(slot.map(|s| s.end))
        .bind(&order.totals.total.currency)
        .bind(order.totals.subtotal.minor)
        .bind(order.totals.delivery_fee.minor)
        .bind(order.totals.tax.minor)
        .bind(order.totals.discount.minor)
        .bind(order.totals.total.minor)
        .bind(&order.payment_method.0)
        .bind(&order.payment_id)
        .bind(&order.shipment_id)
        .bind(order.status.as_str())
        .bind(&order.cancel_reason)
        .bind(order.version)
        .bind(&request.key)
        .bind(&request.fingerprint)
        .bind(order.created_at)
        .bind(order.updated_at)
    }
}

fn status(name: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::parse(name).ok_or_else(|| StoreError::Corrupt(format!("unknown status {name}")))
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// An order from a row of [`ORDER_COLUMNS`], without its history.
pub(super) fn order_from(row: &PgRow) -> Result<Order, StoreError> {
    let get_str = |name: &str| row.try_get::<String, _>(name).map_err(corrupt);
    let get_i64 = |name: &str| row.try_get::<i64, _>(name).map_err(corrupt);
    let currency = get_str("currency")?;
    let money = |name: &str| get_i64(name).map(|minor| Money::new(currency.clone(), minor));
    let slot_id: Option<String> = row.try_get("slot_id").map_err(corrupt)?;
    let slot_start: Option<DateTime<Utc>> = row.try_get("slot_start").map_err(corrupt)?;
    let slot_end: Option<DateTime<Utc>> = row.try_get("slot_end").map_err(corrupt)?;
    let slot = match (slot_id, slot_start, slot_end) {
        (Some(slot_id), Some(start), Some(end)) => Some(DeliverySlot {
            slot_id,
            start,
            end,
        }),
        _ => None,
    };
    Ok(Order {
        id: row.try_get("id").map_err(corrupt)?,
        customer_id: row.try_get("customer_id").map_err(corrupt)?,
        checkout_id: get_str("checkout_id")?,
        vendor_ids: row.try_get("vendor_ids").map_err(corrupt)?,
        items: serde_json::from_str(&get_str("items")?).map_err(corrupt)?,
        destination: serde_json::from_str(&get_str("destination")?).map_err(corrupt)?,
        slot,
        totals: Totals {
            subtotal: money("subtotal_minor")?,
            delivery_fee: money("delivery_fee_minor")?,
            tax: money("tax_minor")?,
            discount: money("discount_minor")?,
            total: money("total_minor")?,
        },
        payment_method: PaymentMethod(get_str("payment_method")?),
        payment_id: get_str("payment_id")?,
        shipment_id: get_str("shipment_id")?,
        status: status(&get_str("status")?)?,
        cancel_reason: get_str("cancel_reason")?,
        history: Vec::new(),
        version: get_i64("version")?,
        created_at: row.try_get("created_at").map_err(corrupt)?,
        updated_at: row.try_get("updated_at").map_err(corrupt)?,
    })
}

/// Puts history rows (ordered by order and position) onto their orders.
pub(super) fn attach_history(orders: &mut [Order], rows: &[PgRow]) -> Result<(), StoreError> {
    let mut by_order: HashMap<Uuid, Vec<StatusChange>> = HashMap::new();
    for row in rows {
        let from: Option<String> = row.try_get("from_status").map_err(corrupt)?;
        let change = StatusChange {
            from: from.as_deref().map(status).transpose()?,
            to: status(&row.try_get::<String, _>("to_status").map_err(corrupt)?)?,
            at: row.try_get("changed_at").map_err(corrupt)?,
            actor: row.try_get("actor").map_err(corrupt)?,
            reason: row.try_get("reason").map_err(corrupt)?,
        };
        let order_id: Uuid = row.try_get("order_id").map_err(corrupt)?;
        by_order.entry(order_id).or_default().push(change);
    }
    for order in orders {
        order.history = by_order.remove(&order.id).unwrap_or_default();
    }
    Ok(())
}
