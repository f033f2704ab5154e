//! PostgreSQL adapter of [`CheckoutStore`], migrations embedded. The saga is a `jsonb`
//! document beside the columns queries filter on; a change is
//! `UPDATE … WHERE id = $1 AND version = $2`, so of two orchestrators that read one
//! version only the first to write wins. Claiming takes rows `FOR UPDATE SKIP LOCKED`,
//! so replicas claiming at once never take the same saga.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use uuid::Uuid;

use super::{CheckoutStore, Created, Cursor, StoreError};
use crate::domain::{CheckoutFilter, Saga};

/// Sagas in PostgreSQL. Clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Failed(error.to_string())
}

fn document(saga: &Saga) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(saga).map_err(|e| StoreError::Failed(format!("cannot encode saga: {e}")))
}

fn saga_of(row: &PgRow) -> Result<Saga, StoreError> {
    let value: serde_json::Value = row.try_get("saga").map_err(backend)?;
    let mut saga: Saga = serde_json::from_value(value)
        .map_err(|e| StoreError::Failed(format!("cannot decode a stored saga: {e}")))?;
    saga.version = row.try_get("version").map_err(backend)?;
    Ok(saga)
}

impl PgStore {
    /// Connects to `url` with a pool of 16 and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, 16).await
    }

    /// Connects with a pool of `max_connections` and brings the schema up to date.
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

impl CheckoutStore for PgStore {
    async fn create(
        &self,
        saga: &Saga,
        owner: Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        let mut saga = saga.clone();
        saga.version = 1;
        let inserted = sqlx::query(
            "INSERT INTO checkouts (id, user_id, state, saga, version, created_at, updated_at, \
             lease_owner, lease_until) VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(saga.id)
        .bind(saga.user_id)
        .bind(saga.state.as_str())
        .bind(document(&saga)?)
        .bind(saga.created_at)
        .bind(saga.updated_at)
        .bind(owner)
        .bind(lease_until)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        if inserted == 1 {
            return Ok(Created::New(saga));
        }
        match self.get(saga.id).await? {
            Some(existing) => Ok(Created::Existing(existing)),
            None => Err(StoreError::Failed(format!(
                "checkout {} neither inserted nor found",
                saga.id
            ))),
        }
    }

    async fn get(&self, id: Uuid) -> Result<Option<Saga>, StoreError> {
        sqlx::query("SELECT saga, version FROM checkouts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(saga_of)
            .transpose()
    }

    async fn save(
        &self,
        saga: &Saga,
        owner: Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE checkouts SET state = $3, saga = $4, version = $2 + 1, updated_at = $5, \
             lease_owner = $6, lease_until = $7 WHERE id = $1 AND version = $2",
        )
        .bind(saga.id)
        .bind(saga.version - 1)
        .bind(saga.state.as_str())
        .bind(document(saga)?)
        .bind(saga.updated_at)
        .bind(owner)
        .bind(lease_until)
        .execute(&self.pool)
        .await
        .map_err(backend)?
        .rows_affected();
        if updated == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(saga.id))
        }
    }

    async fn claim_unfinished(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Saga>, StoreError> {
        let rows = sqlx::query(
            "UPDATE checkouts SET lease_owner = $1, lease_until = $3 WHERE id IN ( \
               SELECT id FROM checkouts \
               WHERE state NOT IN ('COMPLETED', 'FAILED') \
                 AND (lease_until < $2 OR lease_owner = $1) \
               ORDER BY created_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING saga, version, created_at",
        )
        .bind(owner)
        .bind(now)
        .bind(lease_until)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut sagas = rows.iter().map(saga_of).collect::<Result<Vec<_>, _>>()?;
        sagas.sort_by_key(|s| (s.created_at, s.id));
        Ok(sagas)
    }

    async fn list(
        &self,
        filter: &CheckoutFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Saga>, StoreError> {
        let states: Vec<&str> = filter.states.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(
            "SELECT saga, version FROM checkouts \
             WHERE ($1::uuid IS NULL OR user_id = $1) \
               AND (cardinality($2::text[]) = 0 OR state = ANY($2)) \
               AND ($3::timestamptz IS NULL OR updated_at < $3) \
               AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) \
             ORDER BY created_at DESC, id DESC LIMIT $6",
        )
        .bind(filter.user_id)
        .bind(&states)
        .bind(filter.updated_before)
        .bind(after.map(|c| c.created_at))
        .bind(after.map(|c| c.id))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(saga_of).collect()
    }
}
