//! PostgreSQL adapter of the store, migrations embedded.
//!
//! `record` inserts the source key first (`ON CONFLICT DO NOTHING`): a second delivery of
//! the same event waits on the first's uncommitted key, then finds it and reads what the
//! first stored, so an event is recorded once even when two consumers race. Claims use
//! `FOR UPDATE SKIP LOCKED` and push `next_attempt_at` to the lease's end in the same
//! statement, so replicas never attempt one delivery at once.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{QueryBuilder, Row as _};
use uuid::Uuid;

use super::{NotificationStore, Recorded, Source, StoreError};
use crate::domain::{ChannelKind, Delivery, DeliveryFilter, DeliveryStatus};

const COLUMNS: &str = "id, user_id, channel, recipient, template, template_data, subject, \
     body, html, status, attempts, max_attempts, last_error, next_attempt_at, event_id, \
     request_id, trace_id, created_at, updated_at, sent_at";

/// Deliveries in PostgreSQL. Clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
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

    async fn by_source(&self, key: &str) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deliveries WHERE source_key = $1 ORDER BY position"
        )))
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(delivery).collect()
    }
}

fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Failed(error.to_string())
}

fn delivery(row: &PgRow) -> Result<Delivery, StoreError> {
    let get = |e: sqlx::Error| StoreError::Failed(format!("bad delivery row: {e}"));
    let channel: String = row.try_get("channel").map_err(get)?;
    let status: String = row.try_get("status").map_err(get)?;
    let data: String = row.try_get("template_data").map_err(get)?;
    Ok(Delivery {
        id: row.try_get("id").map_err(get)?,
        user_id: row.try_get("user_id").map_err(get)?,
        channel: ChannelKind::parse(&channel)
            .ok_or_else(|| StoreError::Failed(format!("unknown channel {channel:?}")))?,
        recipient: row.try_get("recipient").map_err(get)?,
        template: row.try_get("template").map_err(get)?,
        data: serde_json::from_str::<BTreeMap<String, String>>(&data)
            .map_err(|e| StoreError::Failed(format!("bad template data: {e}")))?,
        subject: row.try_get("subject").map_err(get)?,
        body: row.try_get("body").map_err(get)?,
        html: row.try_get("html").map_err(get)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Failed(format!("unknown status {status:?}")))?,
        attempts: row.try_get("attempts").map_err(get)?,
        max_attempts: row.try_get("max_attempts").map_err(get)?,
        last_error: row.try_get("last_error").map_err(get)?,
        next_attempt_at: row.try_get("next_attempt_at").map_err(get)?,
        event_id: row.try_get("event_id").map_err(get)?,
        request_id: row.try_get("request_id").map_err(get)?,
        trace_id: row.try_get("trace_id").map_err(get)?,
        created_at: row.try_get("created_at").map_err(get)?,
        updated_at: row.try_get("updated_at").map_err(get)?,
        sent_at: row.try_get("sent_at").map_err(get)?,
    })
}

impl NotificationStore for PgStore {
    async fn seen(&self, source: &Source) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM processed_sources WHERE source_key = $1")
            .bind(source.key())
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn record(
        &self,
        source: &Source,
        deliveries: Vec<Delivery>,
    ) -> Result<Recorded, StoreError> {
        let key = source.key();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let inserted = sqlx::query(
            "INSERT INTO processed_sources (source_key, fingerprint) VALUES ($1, $2) \
             ON CONFLICT (source_key) DO NOTHING RETURNING source_key",
        )
        .bind(&key)
        .bind(source.fingerprint())
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if inserted.is_none() {
            tx.rollback().await.map_err(backend)?;
            let fingerprint: String = sqlx::query_scalar(
                "SELECT fingerprint FROM processed_sources WHERE source_key = $1",
            )
            .bind(&key)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
            return Ok(Recorded::Existing {
                deliveries: self.by_source(&key).await?,
                fingerprint,
            });
        }
        for (position, d) in deliveries.iter().enumerate() {
            let data = serde_json::to_string(&d.data)
                .map_err(|e| StoreError::Failed(format!("cannot encode template data: {e}")))?;
            sqlx::query(
                "INSERT INTO deliveries (id, source_key, position, user_id, channel, recipient, \
                 template, template_data, subject, body, html, status, attempts, max_attempts, \
                 last_error, next_attempt_at, event_id, request_id, trace_id, created_at, \
                 updated_at, sent_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                 $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
            )
            .bind(d.id)
            .bind(&key)
            .bind(i32::try_from(position).unwrap_or(i32::MAX))
            .bind(d.user_id)
            .bind(d.channel.name())
            .bind(&d.recipient)
            .bind(&d.template)
            .bind(data)
            .bind(&d.subject)
            .bind(&d.body)
            .bind(&d.html)
            .bind(d.status.name())
            .bind(d.attempts)
            .bind(d.max_attempts)
            .bind(&d.last_error)
            .bind(d.next_attempt_at)
            .bind(&d.event_id)
            .bind(&d.request_id)
            .bind(&d.trace_id)
            .bind(d.created_at)
            .bind(d.updated_at)
            .bind(d.sent_at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(Recorded::New(deliveries))
    }

    async fn get(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deliveries WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(delivery).transpose()
    }

    async fn list(
        &self,
        filter: &DeliveryFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut query = QueryBuilder::new(format!("SELECT {COLUMNS} FROM deliveries WHERE TRUE"));
        if let Some(after) = after {
            query.push(" AND id < ").push_bind(after);
        }
        if let Some(user) = filter.user_id {
            query.push(" AND user_id = ").push_bind(user);
        }
        if let Some(channel) = filter.channel {
            query.push(" AND channel = ").push_bind(channel.name());
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.name());
        }
        if let Some(event_id) = &filter.event_id {
            query.push(" AND event_id = ").push_bind(event_id.clone());
        }
        if let Some(template) = &filter.template {
            query.push(" AND template = ").push_bind(template.clone());
        }
        query
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
        let rows = query.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(delivery).collect()
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET next_attempt_at = $2 WHERE id IN ( \
               SELECT id FROM deliveries \
               WHERE status IN ('pending', 'retrying') \
                 AND (next_attempt_at IS NULL OR next_attempt_at <= $1) \
               ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}"
        )))
        .bind(now)
        .bind(lease_until)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut claimed = rows.iter().map(delivery).collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    async fn save_attempt(&self, d: &Delivery) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = $2, attempts = $3, last_error = $4, \
             next_attempt_at = $5, updated_at = $6, sent_at = $7 WHERE id = $1",
        )
        .bind(d.id)
        .bind(d.status.name())
        .bind(d.attempts)
        .bind(&d.last_error)
        .bind(d.next_attempt_at)
        .bind(d.updated_at)
        .bind(d.sent_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Failed(format!(
                "delivery {} does not exist",
                d.id
            )));
        }
        Ok(())
    }
}
