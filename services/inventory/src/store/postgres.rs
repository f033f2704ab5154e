//! PostgreSQL adapter of [`InventoryStore`], with migrations embedded in the binary.
//!
//! Overselling is prevented with row locks, taken in one order everywhere to rule out
//! deadlocks: first the order's reservation row, then batch rows by id. Reserve locks the
//! allocatable batches of the requested products (`SELECT … ORDER BY id FOR UPDATE`)
//! before running FEFO on what it read, so two reservers for the last units queue on the
//! same rows and the second sees what the first took. The CHECK constraints of the schema
//! (`0 <= reserved <= on_hand`) back this up: a bug fails a transaction, never oversells.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use super::{InventoryStore, StoreError};
use crate::domain::{
    AdjustmentFilter, Availability, Batch, BatchFilter, BatchStatus, InventoryError, NewAdjustment,
    RequestRecord, Reservation, ReserveRequest, StockAdjustment, StockPolicy, Warehouse,
    availability_of,
};

/// How many times a transaction that lost a race (unique key, deadlock, serialization) is
/// tried again before the error is returned.
const MAX_ATTEMPTS: u32 = 3;
/// Reservations expired per transaction by the sweeper.
const EXPIRE_CHUNK: i64 = 200;
/// Products whose availability ListLowStock reads per query.
const LOW_STOCK_CHUNK: i64 = 200;

/// Inventory's tables in PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` with a pool of 16 and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, 16).await
    }

    /// Connects to `url` with a pool of `max_connections` and brings the schema up to date.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Failed(format!("migrations failed: {e}")))?;
        Ok(Self { pool })
    }
}

/// Connection trouble is UNAVAILABLE (worth a retry); anything else the database refused
/// is a plain failure.
fn backend(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(error.to_string()),
        _ => StoreError::Failed(error.to_string()),
    }
}

/// A failure inside a transaction: the database's (maybe worth a retry) or the domain's.
enum TxError {
    Db(sqlx::Error),
    Domain(InventoryError),
}

impl From<sqlx::Error> for TxError {
    fn from(error: sqlx::Error) -> Self {
        Self::Db(error)
    }
}

impl From<InventoryError> for TxError {
    fn from(error: InventoryError) -> Self {
        Self::Domain(error)
    }
}

impl From<StoreError> for TxError {
    fn from(error: StoreError) -> Self {
        Self::Domain(error.into())
    }
}

impl From<TxError> for InventoryError {
    fn from(error: TxError) -> Self {
        match error {
            TxError::Db(error) => backend(error).into(),
            TxError::Domain(error) => error,
        }
    }
}

/// Lost a race another transaction won: a duplicate key, a deadlock or a serialization
/// failure. Trying again sees the winner's result.
fn lost_race(error: &TxError) -> bool {
    match error {
        TxError::Db(sqlx::Error::Database(db)) => {
            db.is_unique_violation() || matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}

macro_rules! warehouse_columns {
    () => {
        "id, code, display_name, line1, line2, city, region, postal_code, country_code, \
         latitude_e6, longitude_e6, cold_storage, active, created_at"
    };
}

macro_rules! batch_columns {
    () => {
        "id, product_id, warehouse_id, received_quantity, on_hand_quantity, \
         reserved_quantity, received_at, expires_at, supplier_ref, cold_chain, \
         unit_cost_minor, written_off"
    };
}

macro_rules! adjustment_columns {
    () => {
        "id, batch_id, product_id, warehouse_id, delta_quantity, on_hand_after, reason, \
         note, actor, created_at"
    };
}

macro_rules! reservation_columns {
    () => {
        "order_id, status, expires_at, created_at, updated_at, committed_at, released_at, \
         release_reason"
    };
}

mod rows;
mod transactions;

use rows::{
    adjustment_from_row, batch_from_row, load_reservation, policy_from_row, warehouse_from_row,
};

/// Runs `attempt` until it succeeds, fails for a reason other than a lost race, or has
/// been tried [`MAX_ATTEMPTS`] times.
macro_rules! retrying {
    ($attempt:expr) => {{
        let mut tries = 1;
        loop {
            match $attempt.await {
                Err(error) if tries < MAX_ATTEMPTS && lost_race(&error) => {
                    tracing::debug!(tries, "inventory transaction lost a race, retrying");
                    tries += 1;
                }
                outcome => break outcome.map_err(InventoryError::from),
            }
        }
    }};
}

impl InventoryStore for PgStore {
    async fn create_warehouse(&self, warehouse: &Warehouse) -> Result<(), InventoryError> {
        let location = &warehouse.location;
        sqlx::query(concat!(
            "INSERT INTO warehouses (",
            warehouse_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(warehouse.id)
        .bind(&warehouse.code)
        .bind(&warehouse.name)
        .bind(&location.line1)
        .bind(&location.line2)
        .bind(&location.city)
        .bind(&location.region)
        .bind(&location.postal_code)
        .bind(&location.country_code)
        .bind(location.geo.map(|g| g.latitude_e6))
        .bind(location.geo.map(|g| g.longitude_e6))
        .bind(warehouse.cold_storage)
        .bind(warehouse.active)
        .bind(warehouse.created_at)
        .execute(&self.pool)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict("code".into())
            }
            _ => backend(error),
        })?;
        Ok(())
    }

    async fn warehouse(&self, id: Uuid) -> Result<Option<Warehouse>, InventoryError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            warehouse_columns!(),
            " FROM warehouses WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(warehouse_from_row).transpose()?)
    }

    async fn list_warehouses(
        &self,
        after_code: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Warehouse>, InventoryError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            warehouse_columns!(),
            " FROM warehouses WHERE $1::text IS NULL OR code > $1 ORDER BY code LIMIT $2"
        ))
        .bind(after_code)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(warehouse_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn receive_batch(&self, batch: &Batch) -> Result<(), InventoryError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // FOR SHARE: the warehouse cannot change (be deactivated) until the batch is in.
        let warehouse =
            sqlx::query("SELECT active, cold_storage FROM warehouses WHERE id = $1 FOR SHARE")
                .bind(batch.warehouse_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let Some(warehouse) = warehouse else {
            return Err(InventoryError::invalid("warehouse_id", "no such warehouse"));
        };
        let active: bool = warehouse.try_get("active").map_err(backend)?;
        let cold_storage: bool = warehouse.try_get("cold_storage").map_err(backend)?;
        if !active {
            return Err(InventoryError::invalid(
                "warehouse_id",
                "warehouse is inactive",
            ));
        }
        if batch.cold_chain && !cold_storage {
            return Err(InventoryError::NoColdStorage {
                warehouse_id: batch.warehouse_id,
            });
        }
        sqlx::query(concat!(
            "INSERT INTO batches (",
            batch_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(batch.id)
        .bind(batch.product_id)
        .bind(batch.warehouse_id)
        .bind(batch.received_quantity)
        .bind(batch.on_hand_quantity)
        .bind(batch.reserved_quantity)
        .bind(batch.received_at)
        .bind(batch.expires_at)
        .bind(&batch.supplier_ref)
        .bind(batch.cold_chain)
        .bind(batch.unit_cost_minor)
        .bind(batch.written_off)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn batch(&self, id: Uuid) -> Result<Option<Batch>, InventoryError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            batch_columns!(),
            " FROM batches WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(batch_from_row).transpose()?)
    }

    async fn batches_of(&self, product_id: Uuid) -> Result<Vec<Batch>, InventoryError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            batch_columns!(),
            " FROM batches WHERE product_id = $1 ORDER BY expires_at, received_at, id"
        ))
        .bind(product_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(batch_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn availability(
        &self,
        product_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Vec<Availability>, InventoryError> {
        // Only batches that count for something: reserved, or allocatable now.
        let rows = sqlx::query(concat!(
            "SELECT ",
            batch_columns!(),
            ", EXISTS (SELECT 1 FROM warehouses w WHERE w.id = batches.warehouse_id AND w.active) \
               AS warehouse_active \
             FROM batches WHERE product_id = ANY($1) AND (reserved_quantity > 0 \
               OR (expires_at > $2 AND NOT written_off AND on_hand_quantity > reserved_quantity))"
        ))
        .bind(product_ids)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut batches = Vec::with_capacity(rows.len());
        let mut active = HashSet::new();
        for row in &rows {
            let batch = batch_from_row(row)?;
            if row
                .try_get::<bool, _>("warehouse_active")
                .map_err(backend)?
            {
                active.insert(batch.warehouse_id);
            }
            batches.push(batch);
        }
        let mut seen = Vec::with_capacity(product_ids.len());
        for product in product_ids {
            if !seen.contains(product) {
                seen.push(*product);
            }
        }
        Ok(seen
            .into_iter()
            .map(|product| availability_of(product, &batches, |w| active.contains(&w), now))
            .collect())
    }

    async fn reserve(
        &self,
        request: &ReserveRequest,
        now: DateTime<Utc>,
    ) -> Result<Reservation, InventoryError> {
        retrying!(self.reserve_once(request, now))
    }

    async fn commit(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Reservation, InventoryError> {
        retrying!(self.commit_once(order_id, now))
    }

    async fn release(
        &self,
        order_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, InventoryError> {
        retrying!(self.release_once(order_id, reason, now))
    }

    async fn expire_due(&self, now: DateTime<Utc>) -> Result<Vec<Uuid>, InventoryError> {
        let mut expired = Vec::new();
        loop {
            let chunk = retrying!(self.expire_chunk(now))?;
            let done = chunk.len() < usize::try_from(EXPIRE_CHUNK).unwrap_or(usize::MAX);
            expired.extend(chunk);
            if done {
                return Ok(expired);
            }
        }
    }

    async fn reservation(&self, order_id: Uuid) -> Result<Option<Reservation>, InventoryError> {
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        Ok(load_reservation(&mut conn, order_id, false).await?)
    }

    async fn adjust_batch(
        &self,
        adjustment: &NewAdjustment,
        now: DateTime<Utc>,
    ) -> Result<(Batch, StockAdjustment), InventoryError> {
        retrying!(self.adjust_once(adjustment, now))
    }

    async fn adjustments_of(&self, batch_id: Uuid) -> Result<Vec<StockAdjustment>, InventoryError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            adjustment_columns!(),
            " FROM stock_adjustments WHERE batch_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(batch_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(adjustment_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn write_off_expired(
        &self,
        now: DateTime<Utc>,
        warehouse_id: Option<Uuid>,
    ) -> Result<Vec<StockAdjustment>, InventoryError> {
        retrying!(self.write_off_once(now, warehouse_id))
    }

    async fn list_batches(
        &self,
        filter: &BatchFilter,
        now: DateTime<Utc>,
        after: Option<(DateTime<Utc>, DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Batch>, InventoryError> {
        // The status is derived, as in `Batch::status`: written off, then depleted, then
        // expired, else available.
        let status = filter.status.map(|s| match s {
            BatchStatus::WrittenOff => "written_off",
            BatchStatus::Depleted => "depleted",
            BatchStatus::Expired => "expired",
            BatchStatus::Available => "available",
        });
        let rows = sqlx::query(concat!(
            "SELECT ",
            batch_columns!(),
            " FROM batches \
             WHERE ($1::uuid IS NULL OR product_id = $1) \
               AND ($2::uuid IS NULL OR warehouse_id = $2) \
               AND ($3::timestamptz IS NULL OR expires_at < $3) \
               AND ($4::text IS NULL \
                 OR ($4 = 'written_off' AND written_off) \
                 OR ($4 = 'depleted' AND NOT written_off AND on_hand_quantity = 0) \
                 OR ($4 = 'expired' AND NOT written_off AND on_hand_quantity > 0 \
                     AND expires_at <= $5) \
                 OR ($4 = 'available' AND NOT written_off AND on_hand_quantity > 0 \
                     AND expires_at > $5)) \
               AND ($6::timestamptz IS NULL \
                 OR (expires_at, received_at, id) > ($6, $7::timestamptz, $8::uuid)) \
             ORDER BY expires_at, received_at, id LIMIT $9"
        ))
        .bind(filter.product_id)
        .bind(filter.warehouse_id)
        .bind(filter.expires_before)
        .bind(status)
        .bind(now)
        .bind(after.map(|a| a.0))
        .bind(after.map(|a| a.1))
        .bind(after.map(|a| a.2))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(batch_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn list_adjustments(
        &self,
        filter: &AdjustmentFilter,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<StockAdjustment>, InventoryError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            adjustment_columns!(),
            " FROM stock_adjustments \
             WHERE ($1::uuid IS NULL OR batch_id = $1) \
               AND ($2::uuid IS NULL OR product_id = $2) \
               AND ($3::uuid IS NULL OR warehouse_id = $3) \
               AND ($4::text IS NULL OR reason = $4) \
               AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::uuid)) \
             ORDER BY created_at DESC, id DESC LIMIT $7"
        ))
        .bind(filter.batch_id)
        .bind(filter.product_id)
        .bind(filter.warehouse_id)
        .bind(filter.reason.map(|r| r.as_str()))
        .bind(before.map(|b| b.0))
        .bind(before.map(|b| b.1))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(adjustment_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn adjustment(&self, id: Uuid) -> Result<Option<StockAdjustment>, InventoryError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            adjustment_columns!(),
            " FROM stock_adjustments WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(adjustment_from_row).transpose()?)
    }

    async fn claim_expiring_batches(
        &self,
        now: DateTime<Utc>,
        default_warning_days: i32,
    ) -> Result<Vec<Batch>, InventoryError> {
        // One statement: the rows are locked, marked and returned together, and rows
        // another replica is claiming right now are skipped, never warned twice.
        let rows = sqlx::query(concat!(
            "WITH due AS ( \
               SELECT b.id AS due_id FROM batches b \
               LEFT JOIN stock_policies p ON p.product_id = b.product_id \
               WHERE b.expiry_warned_at IS NULL AND NOT b.written_off \
                 AND b.on_hand_quantity > b.reserved_quantity AND b.expires_at > $1 \
                 AND COALESCE(p.expiry_warning_days, $2) > 0 \
                 AND b.expires_at <= $1 + make_interval(days => COALESCE(p.expiry_warning_days, $2)) \
               ORDER BY b.id \
               FOR UPDATE OF b SKIP LOCKED) \
             UPDATE batches SET expiry_warned_at = $1 FROM due WHERE id = due.due_id \
             RETURNING ",
            batch_columns!()
        ))
        .bind(now)
        .bind(default_warning_days)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut batches = rows
            .iter()
            .map(batch_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        batches.sort_by_key(Batch::fefo_key);
        Ok(batches)
    }

    async fn list_low_stock(
        &self,
        default_threshold: i64,
        now: DateTime<Utc>,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Availability>, InventoryError> {
        // Availability is computed as everywhere else (`availability_of`), a chunk of
        // known products at a time, until the page is full or the products run out.
        let mut low = Vec::new();
        let mut cursor = after;
        while low.len() < limit {
            let products: Vec<Uuid> = sqlx::query_scalar(
                "SELECT product_id FROM (SELECT product_id FROM batches \
                   UNION SELECT product_id FROM stock_policies) known \
                 WHERE $1::uuid IS NULL OR product_id > $1 ORDER BY product_id LIMIT $2",
            )
            .bind(cursor)
            .bind(LOW_STOCK_CHUNK)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
            let Some(last) = products.last().copied() else {
                break;
            };
            let thresholds: std::collections::HashMap<Uuid, i64> = self
                .stock_policies(&products)
                .await?
                .into_iter()
                .map(|p| (p.product_id, p.low_stock_threshold))
                .collect();
            for level in self.availability(&products, now).await? {
                let threshold = thresholds
                    .get(&level.product_id)
                    .copied()
                    .unwrap_or(default_threshold);
                if threshold > 0 && level.available <= threshold && low.len() < limit {
                    low.push(level);
                }
            }
            if products.len() < usize::try_from(LOW_STOCK_CHUNK).unwrap_or(usize::MAX) {
                break;
            }
            cursor = Some(last);
        }
        Ok(low)
    }

    async fn stock_policy(&self, product_id: Uuid) -> Result<Option<StockPolicy>, InventoryError> {
        let row = sqlx::query(
            "SELECT product_id, low_stock_threshold, expiry_warning_days, updated_at \
             FROM stock_policies WHERE product_id = $1",
        )
        .bind(product_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.as_ref().map(policy_from_row).transpose()?)
    }

    async fn stock_policies(
        &self,
        product_ids: &[Uuid],
    ) -> Result<Vec<StockPolicy>, InventoryError> {
        let rows = sqlx::query(
            "SELECT product_id, low_stock_threshold, expiry_warning_days, updated_at \
             FROM stock_policies WHERE product_id = ANY($1)",
        )
        .bind(product_ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows
            .iter()
            .map(policy_from_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn put_stock_policy(&self, policy: &StockPolicy) -> Result<(), InventoryError> {
        let Some(updated_at) = policy.updated_at else {
            return Err(StoreError::Failed("a stored stock policy needs updated_at".into()).into());
        };
        sqlx::query(
            "INSERT INTO stock_policies \
               (product_id, low_stock_threshold, expiry_warning_days, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (product_id) DO UPDATE SET \
               low_stock_threshold = EXCLUDED.low_stock_threshold, \
               expiry_warning_days = EXCLUDED.expiry_warning_days, \
               updated_at = EXCLUDED.updated_at",
        )
        .bind(policy.product_id)
        .bind(policy.low_stock_threshold)
        .bind(policy.expiry_warning_days)
        .bind(updated_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn recall_request(&self, key: &str) -> Result<Option<RequestRecord>, InventoryError> {
        let row =
            sqlx::query("SELECT key, fingerprint, target_id FROM request_records WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(RequestRecord {
            key: row.try_get("key").map_err(backend)?,
            fingerprint: row.try_get("fingerprint").map_err(backend)?,
            target: row.try_get("target_id").map_err(backend)?,
        }))
    }

    async fn remember_request(&self, record: &RequestRecord) -> Result<(), InventoryError> {
        sqlx::query(
            "INSERT INTO request_records (key, fingerprint, target_id) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(&record.key)
        .bind(&record.fingerprint)
        .bind(record.target)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }
}
