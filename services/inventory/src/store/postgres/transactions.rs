//! The transactions that move stock. Locks are taken in one order everywhere: the order's
//! reservation row first, then batch rows by id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::rows::{batch_from_row, load_reservation};
use super::{EXPIRE_CHUNK, PgStore, TxError};
use crate::domain::{
    AdjustmentReason, Allocation, Batch, InventoryError, NewAdjustment, Reservation,
    ReservationStatus, ReserveRequest, StockAdjustment, allocate_fefo,
};
use crate::store::WRITE_OFF_ACTOR;

/// What a reservation's end or commit does to the batches it allocated from.
#[derive(Clone, Copy)]
enum StockMove {
    /// Reserve: hold more.
    Hold,
    /// Release or expire an ACTIVE reservation: hold less.
    Unhold,
    /// Commit: the held quantity leaves the warehouse.
    Sell,
    /// Release a COMMITTED reservation: the sold quantity comes back on hand.
    Restock,
}

/// Moves stock of the allocated batches, locking them by id first.
async fn move_stock(
    conn: &mut PgConnection,
    allocations: &[Allocation],
    movement: StockMove,
) -> Result<(), TxError> {
    // UPDATE … FROM applies one source row per target row: sum per batch first.
    let mut per_batch: BTreeMap<Uuid, i64> = BTreeMap::new();
    for allocation in allocations {
        *per_batch.entry(allocation.batch_id).or_default() += allocation.quantity;
    }
    if per_batch.is_empty() {
        return Ok(());
    }
    let (ids, quantities): (Vec<Uuid>, Vec<i64>) = per_batch.into_iter().unzip();
    sqlx::query("SELECT id FROM batches WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    let query = match movement {
        StockMove::Hold => sqlx::query(
            "UPDATE batches SET reserved_quantity = reserved_quantity + x.q \
             FROM UNNEST($1::uuid[], $2::bigint[]) AS x(id, q) WHERE batches.id = x.id",
        ),
        StockMove::Unhold => sqlx::query(
            "UPDATE batches SET reserved_quantity = reserved_quantity - x.q \
             FROM UNNEST($1::uuid[], $2::bigint[]) AS x(id, q) WHERE batches.id = x.id",
        ),
        StockMove::Sell => sqlx::query(
            "UPDATE batches SET on_hand_quantity = on_hand_quantity - x.q, \
                                reserved_quantity = reserved_quantity - x.q \
             FROM UNNEST($1::uuid[], $2::bigint[]) AS x(id, q) WHERE batches.id = x.id",
        ),
        StockMove::Restock => sqlx::query(
            "UPDATE batches SET on_hand_quantity = on_hand_quantity + x.q \
             FROM UNNEST($1::uuid[], $2::bigint[]) AS x(id, q) WHERE batches.id = x.id",
        ),
    };
    query
        .bind(&ids)
        .bind(&quantities)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Marks reservations RELEASED or EXPIRED (their stock already moved).
async fn mark_ended(
    conn: &mut PgConnection,
    order_ids: &[Uuid],
    status: ReservationStatus,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    sqlx::query(
        "UPDATE reservations SET status = $2, updated_at = $3, released_at = $3, \
         release_reason = $4 WHERE order_id = ANY($1)",
    )
    .bind(order_ids)
    .bind(status.as_str())
    .bind(now)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Expires one locked ACTIVE reservation whose TTL ran out.
async fn expire_locked(
    conn: &mut PgConnection,
    reservation: &Reservation,
    now: DateTime<Utc>,
) -> Result<(), TxError> {
    move_stock(conn, &reservation.allocations, StockMove::Unhold).await?;
    mark_ended(
        conn,
        &[reservation.order_id],
        ReservationStatus::Expired,
        None,
        now,
    )
    .await
}

fn closed(order_id: Uuid, status: ReservationStatus) -> TxError {
    InventoryError::ReservationClosed { order_id, status }.into()
}

// === impl PgStore ===

impl PgStore {
    pub(super) async fn reserve_once(
        &self,
        request: &ReserveRequest,
        now: DateTime<Utc>,
    ) -> Result<Reservation, TxError> {
        let mut tx = self.pool.begin().await?;
        if let Some(existing) = load_reservation(&mut tx, request.order_id, true).await? {
            if existing.is_due(now) {
                expire_locked(&mut tx, &existing, now).await?;
                tx.commit().await?;
                return Err(closed(existing.order_id, ReservationStatus::Expired));
            }
            if existing.status.is_closed() {
                return Err(closed(existing.order_id, existing.status));
            }
            if existing.has_lines(&request.lines) {
                return Ok(existing);
            }
            return Err(InventoryError::ReservationExists {
                order_id: request.order_id,
            }
            .into());
        }

        let products = request.product_ids();
        let candidates = sqlx::query(concat!(
            "SELECT ",
            batch_columns!(),
            " FROM batches WHERE product_id = ANY($1) AND expires_at > $2 AND NOT written_off \
               AND on_hand_quantity > reserved_quantity \
               AND warehouse_id IN (SELECT id FROM warehouses WHERE active) \
             ORDER BY id FOR UPDATE OF batches"
        ))
        .bind(&products)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(batch_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let allocations = allocate_fefo(&request.lines, &candidates, now, request.split_warehouses)
            .map_err(InventoryError::InsufficientStock)?;
        move_stock(&mut tx, &allocations, StockMove::Hold).await?;

        let reservation = Reservation::new(request, allocations, now);
        sqlx::query(
            "INSERT INTO reservations (order_id, status, split_warehouses, expires_at, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(reservation.order_id)
        .bind(reservation.status.as_str())
        .bind(request.split_warehouses)
        .bind(reservation.expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let (line_products, line_quantities): (Vec<Uuid>, Vec<i64>) = reservation
            .lines
            .iter()
            .map(|line| (line.product_id, line.quantity))
            .unzip();
        sqlx::query(
            "INSERT INTO reservation_lines (order_id, position, product_id, quantity) \
             SELECT $1, x.position::int, x.product_id, x.quantity \
             FROM UNNEST($2::uuid[], $3::bigint[]) WITH ORDINALITY \
               AS x(product_id, quantity, position)",
        )
        .bind(reservation.order_id)
        .bind(&line_products)
        .bind(&line_quantities)
        .execute(&mut *tx)
        .await?;
        let allocations = &reservation.allocations;
        sqlx::query(
            "INSERT INTO reservation_allocations \
               (order_id, position, batch_id, warehouse_id, product_id, quantity, expires_at) \
             SELECT $1, x.position::int, x.batch_id, x.warehouse_id, x.product_id, \
                    x.quantity, x.expires_at \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], $6::timestamptz[]) \
               WITH ORDINALITY \
               AS x(batch_id, warehouse_id, product_id, quantity, expires_at, position)",
        )
        .bind(reservation.order_id)
        .bind(allocations.iter().map(|a| a.batch_id).collect::<Vec<_>>())
        .bind(
            allocations
                .iter()
                .map(|a| a.warehouse_id)
                .collect::<Vec<_>>(),
        )
        .bind(allocations.iter().map(|a| a.product_id).collect::<Vec<_>>())
        .bind(allocations.iter().map(|a| a.quantity).collect::<Vec<_>>())
        .bind(allocations.iter().map(|a| a.expires_at).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(reservation)
    }

    pub(super) async fn commit_once(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Reservation, TxError> {
        let mut tx = self.pool.begin().await?;
        let Some(mut reservation) = load_reservation(&mut tx, order_id, true).await? else {
            return Err(
                InventoryError::NotFound(format!("reservation of order {order_id}")).into(),
            );
        };
        if reservation.is_due(now) {
            expire_locked(&mut tx, &reservation, now).await?;
            tx.commit().await?;
            return Err(closed(order_id, ReservationStatus::Expired));
        }
        match reservation.status {
            ReservationStatus::Committed => return Ok(reservation),
            status @ (ReservationStatus::Released | ReservationStatus::Expired) => {
                return Err(closed(order_id, status));
            }
            ReservationStatus::Active => {}
        }
        move_stock(&mut tx, &reservation.allocations, StockMove::Sell).await?;
        sqlx::query(
            "UPDATE reservations SET status = 'committed', committed_at = $2, updated_at = $2 \
             WHERE order_id = $1",
        )
        .bind(order_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        reservation.status = ReservationStatus::Committed;
        reservation.committed_at = Some(now);
        reservation.updated_at = now;
        Ok(reservation)
    }

    pub(super) async fn release_once(
        &self,
        order_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, TxError> {
        let mut tx = self.pool.begin().await?;
        let Some(mut reservation) = load_reservation(&mut tx, order_id, true).await? else {
            return Ok(None);
        };
        let movement = match reservation.status {
            ReservationStatus::Active => StockMove::Unhold,
            ReservationStatus::Committed => StockMove::Restock,
            ReservationStatus::Released | ReservationStatus::Expired => {
                return Ok(Some(reservation));
            }
        };
        move_stock(&mut tx, &reservation.allocations, movement).await?;
        mark_ended(
            &mut tx,
            &[order_id],
            ReservationStatus::Released,
            Some(reason),
            now,
        )
        .await?;
        tx.commit().await?;
        reservation.status = ReservationStatus::Released;
        reservation.updated_at = now;
        reservation.released_at = Some(now);
        reservation.release_reason = Some(reason.to_owned());
        Ok(Some(reservation))
    }

    /// Expires up to [`EXPIRE_CHUNK`] due reservations in one transaction. Rows another
    /// transaction holds (a commit in flight, another sweeper) are skipped, not waited for.
    pub(super) async fn expire_chunk(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, TxError> {
        let mut tx = self.pool.begin().await?;
        let due: Vec<Uuid> = sqlx::query_scalar(
            "SELECT order_id FROM reservations WHERE status = 'active' AND expires_at <= $1 \
             ORDER BY expires_at, order_id LIMIT $2 FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .bind(EXPIRE_CHUNK)
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(due);
        }
        let allocations = sqlx::query(
            "SELECT a.batch_id, a.warehouse_id, a.product_id, a.quantity, a.expires_at, b.cold_chain \
             FROM reservation_allocations a JOIN batches b ON b.id = a.batch_id WHERE a.order_id = ANY($1)",
        )
        .bind(&due)
        .fetch_all(&mut *tx)
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
        move_stock(&mut tx, &allocations, StockMove::Unhold).await?;
        mark_ended(&mut tx, &due, ReservationStatus::Expired, None, now).await?;
        tx.commit().await?;
        Ok(due)
    }

    pub(super) async fn adjust_once(
        &self,
        adjustment: &NewAdjustment,
        now: DateTime<Utc>,
    ) -> Result<(Batch, StockAdjustment), TxError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            batch_columns!(),
            " FROM batches WHERE id = $1 FOR UPDATE"
        ))
        .bind(adjustment.batch_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(mut batch) = row.as_ref().map(batch_from_row).transpose()? else {
            return Err(InventoryError::NotFound(format!("batch {}", adjustment.batch_id)).into());
        };
        let after = batch.on_hand_quantity + adjustment.delta;
        if after < batch.reserved_quantity {
            return Err(InventoryError::BelowReserved {
                batch_id: batch.id,
                on_hand: batch.on_hand_quantity,
                reserved: batch.reserved_quantity,
                delta: adjustment.delta,
            }
            .into());
        }
        sqlx::query("UPDATE batches SET on_hand_quantity = $2 WHERE id = $1")
            .bind(batch.id)
            .bind(after)
            .execute(&mut *tx)
            .await?;
        batch.on_hand_quantity = after;
        let record = StockAdjustment {
            id: Uuid::now_v7(),
            batch_id: batch.id,
            product_id: batch.product_id,
            warehouse_id: batch.warehouse_id,
            delta: adjustment.delta,
            on_hand_after: after,
            reason: adjustment.reason,
            note: adjustment.note.clone(),
            actor: adjustment.actor.clone(),
            created_at: now,
        };
        insert_adjustments(&mut tx, std::slice::from_ref(&record)).await?;
        tx.commit().await?;
        Ok((batch, record))
    }

    pub(super) async fn write_off_once(
        &self,
        now: DateTime<Utc>,
        warehouse_id: Option<Uuid>,
    ) -> Result<Vec<StockAdjustment>, TxError> {
        let mut tx = self.pool.begin().await?;
        // Batches a reservation is changing right now are skipped; the next run gets them.
        let batches = sqlx::query(concat!(
            "SELECT ",
            batch_columns!(),
            " FROM batches WHERE expires_at <= $1 AND on_hand_quantity > reserved_quantity \
               AND ($2::uuid IS NULL OR warehouse_id = $2) \
             ORDER BY id FOR UPDATE SKIP LOCKED"
        ))
        .bind(now)
        .bind(warehouse_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(batch_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = batches.iter().map(|b| b.id).collect();
        sqlx::query(
            "UPDATE batches SET on_hand_quantity = reserved_quantity, written_off = true \
             WHERE id = ANY($1)",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
        let records: Vec<StockAdjustment> = batches
            .iter()
            .map(|batch| StockAdjustment {
                id: Uuid::now_v7(),
                batch_id: batch.id,
                product_id: batch.product_id,
                warehouse_id: batch.warehouse_id,
                delta: -batch.free_quantity(),
                on_hand_after: batch.reserved_quantity,
                reason: AdjustmentReason::Expired,
                note: String::new(),
                actor: WRITE_OFF_ACTOR.to_owned(),
                created_at: now,
            })
            .collect();
        insert_adjustments(&mut tx, &records).await?;
        tx.commit().await?;
        Ok(records)
    }
}

async fn insert_adjustments(
    conn: &mut PgConnection,
    records: &[StockAdjustment],
) -> Result<(), TxError> {
    sqlx::query(
        "INSERT INTO stock_adjustments (id, batch_id, product_id, warehouse_id, \
           delta_quantity, on_hand_after, reason, note, actor, created_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bigint[], \
           $6::bigint[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])",
    )
    .bind(records.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.batch_id).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.product_id).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.warehouse_id).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.delta).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.on_hand_after).collect::<Vec<_>>())
    .bind(
        records
            .iter()
            .map(|r| r.reason.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(records.iter().map(|r| r.note.as_str()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.actor.as_str()).collect::<Vec<_>>())
    .bind(records.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
