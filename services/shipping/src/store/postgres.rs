//! PostgreSQL adapter of [`ShippingStore`], with migrations embedded in the binary.
//!
//! Holding a place locks the slot's row (created on first use) with `SELECT … FOR UPDATE`,
//! counts the slot's live places and writes the hold in the same transaction, so
//! concurrent holds on one slot queue on that row and can never overbook it; holds on
//! different slots do not wait for each other. Shipments and riders are JSON documents
//! written compare-and-set on their version column.
//!
//! The outbox relay reads under a session advisory lock held on a connection of its own:
//! one replica relays at a time, in sequence order.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mandi_runtime::outbox::{OutboxError, OutboxRecord, OutboxStore};
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use prost::Message as _;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, Postgres, Row as _, Transaction};
use uuid::Uuid;

use super::{Events, HoldChange, ShippingStore, StoreError};
use crate::domain::{
    HoldStatus, NewHold, Rider, RiderFilter, Shipment, ShipmentFilter, ShippingError, Slot,
    SlotHold,
};

/// Key of the session advisory lock whose holder relays the outbox ("mandi.shipping").
const RELAY_LOCK: i64 = 0x6d61_6e64_6973_6870;

/// Live places: confirmed, or held and not yet expired.
const LIVE: &str = "(status = 'CONFIRMED' OR (status = 'HELD' AND expires_at > $2))";

/// Shipping's tables in PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    url: Arc<str>,
    relay: Arc<tokio::sync::Mutex<Option<(PgConnection, bool)>>>,
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
            .acquire_timeout(std::time::Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Failed(format!("migrations failed: {e}")))?;
        Ok(Self {
            pool,
            url: url.into(),
            relay: Arc::default(),
        })
    }

    /// The pool, for tests that read the tables directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The one document `sql` selects by `id`, if any.
    async fn document_by<T: serde::de::DeserializeOwned>(
        &self,
        sql: &'static str,
        id: Uuid,
    ) -> Result<Option<T>, ShippingError> {
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(|row| document(&row))
            .transpose()
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

fn db(error: sqlx::Error) -> ShippingError {
    ShippingError::Store(backend(error))
}

fn corrupt(error: impl std::fmt::Display) -> ShippingError {
    ShippingError::Store(StoreError::Corrupt(error.to_string()))
}

fn outbox(error: impl std::fmt::Display) -> OutboxError {
    OutboxError(error.to_string())
}

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, ShippingError> {
    serde_json::to_value(value).map_err(corrupt)
}

fn document<T: serde::de::DeserializeOwned>(row: &PgRow) -> Result<T, ShippingError> {
    let body: serde_json::Value = row.try_get("body").map_err(db)?;
    serde_json::from_value(body).map_err(corrupt)
}

fn hold_of(row: &PgRow) -> Result<SlotHold, ShippingError> {
    let status: String = row.try_get("status").map_err(db)?;
    Ok(SlotHold {
        order_id: row.try_get("order_id").map_err(db)?,
        slot_id: row.try_get("slot_id").map_err(db)?,
        status: HoldStatus::parse(&status).ok_or_else(|| corrupt(format!("hold {status}")))?,
        weight_grams: row.try_get("weight_grams").map_err(db)?,
        cold_chain: row.try_get("cold_chain").map_err(db)?,
        expires_at: row.try_get("expires_at").map_err(db)?,
        created_at: row.try_get("created_at").map_err(db)?,
    })
}

const HOLD_COLUMNS: &str =
    "order_id, slot_id, status, weight_grams, cold_chain, expires_at, created_at";

async fn queue(tx: &mut Transaction<'_, Postgres>, events: Events) -> Result<(), ShippingError> {
    for (envelope, headers) in events {
        sqlx::query("INSERT INTO shipping_outbox (envelope, trace_headers) VALUES ($1, $2)")
            .bind(envelope.encode_to_vec())
            .bind(serde_json::to_string(&headers).map_err(corrupt)?)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

impl OutboxStore for PgStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        let mut relay = self.relay.lock().await;
        if relay.is_none() {
            let connection = PgConnection::connect(&self.url).await.map_err(outbox)?;
            *relay = Some((connection, false));
        }
        let Some((connection, leader)) = relay.as_mut() else {
            return Ok(Vec::new());
        };
        let result = async {
            if !*leader {
                *leader = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(RELAY_LOCK)
                    .fetch_one(&mut *connection)
                    .await?;
            }
            if !*leader {
                return Ok(Vec::new());
            }
            sqlx::query(
                "SELECT sequence, envelope, trace_headers FROM shipping_outbox \
                 WHERE sent_at IS NULL ORDER BY sequence LIMIT $1",
            )
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *connection)
            .await
        }
        .await;
        let rows = match result {
            Ok(rows) => rows,
            Err(error) => {
                // A broken connection may have lost the lock: start over next time.
                *relay = None;
                return Err(outbox(error));
            }
        };
        rows.into_iter()
            .map(|row| {
                let envelope: Vec<u8> = row.try_get("envelope").map_err(outbox)?;
                let headers: String = row.try_get("trace_headers").map_err(outbox)?;
                Ok(OutboxRecord {
                    sequence: row.try_get("sequence").map_err(outbox)?,
                    envelope: EventEnvelope::decode(envelope.as_slice()).map_err(outbox)?,
                    trace_headers: serde_json::from_str(&headers).map_err(outbox)?,
                })
            })
            .collect()
    }

    async fn mark_sent(&self, sequence: i64) -> Result<(), OutboxError> {
        sqlx::query("UPDATE shipping_outbox SET sent_at = now() WHERE sequence = $1")
            .bind(sequence)
            .execute(&self.pool)
            .await
            .map_err(outbox)?;
        Ok(())
    }
}

impl ShippingStore for PgStore {
    async fn booked(
        &self,
        slot_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, i32>, ShippingError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT slot_id, count(*)::int AS booked FROM slot_holds \
             WHERE slot_id = ANY($1) AND {LIVE} GROUP BY slot_id"
        )))
        .bind(slot_ids)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("slot_id").map_err(db)?,
                    row.try_get("booked").map_err(db)?,
                ))
            })
            .collect()
    }

    async fn hold_slot(
        &self,
        slot: &Slot,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> Result<SlotHold, ShippingError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO slots (id, zone_id, start_at, end_at, capacity) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&slot.id)
        .bind(&slot.zone_id)
        .bind(slot.start)
        .bind(slot.end)
        .bind(slot.capacity)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        // Every hold on this slot queues here until the one before commits.
        sqlx::query("SELECT id FROM slots WHERE id = $1 FOR UPDATE")
            .bind(&slot.id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM slot_holds WHERE order_id = $1 FOR UPDATE"
        )))
        .bind(hold.order_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .map(|row| hold_of(&row))
        .transpose()?;
        if let Some(existing) = existing {
            let same_slot = existing.slot_id == slot.id && existing.is_live(now);
            if same_slot || existing.status == HoldStatus::Confirmed {
                return Ok(existing);
            }
        }
        let booked: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*)::int FROM slot_holds WHERE slot_id = $1 AND {LIVE} AND order_id <> $3"
        )))
        .bind(&slot.id)
        .bind(now)
        .bind(hold.order_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(why) = slot.refusal(booked, hold.cold_chain, now) {
            return Err(ShippingError::SlotUnavailable {
                slot_id: slot.id.clone(),
                why,
            });
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO slot_holds (order_id, slot_id, status, weight_grams, cold_chain, \
             expires_at, created_at, updated_at) VALUES ($1, $2, 'HELD', $3, $4, $5, $6, $6) \
             ON CONFLICT (order_id) DO UPDATE SET slot_id = $2, status = 'HELD', \
             weight_grams = $3, cold_chain = $4, expires_at = $5, created_at = $6, updated_at = $6 \
             RETURNING {HOLD_COLUMNS}"
        )))
        .bind(hold.order_id)
        .bind(&slot.id)
        .bind(hold.weight_grams)
        .bind(hold.cold_chain)
        .bind(now + hold.ttl)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let created = hold_of(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(created)
    }

    async fn release_hold(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<SlotHold>, ShippingError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let Some(hold) = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM slot_holds WHERE order_id = $1 FOR UPDATE"
        )))
        .bind(order_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?
        .map(|row| hold_of(&row))
        .transpose()?
        else {
            return Ok(None);
        };
        match hold.status_at(now) {
            HoldStatus::Confirmed => Err(ShippingError::HoldConfirmed(order_id)),
            HoldStatus::Released | HoldStatus::Expired => Ok(Some(hold)),
            HoldStatus::Held => {
                sqlx::query(
                    "UPDATE slot_holds SET status = 'RELEASED', updated_at = $2 WHERE order_id = $1",
                )
                .bind(order_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)?;
                Ok(Some(SlotHold {
                    status: HoldStatus::Released,
                    ..hold
                }))
            }
        }
    }

    async fn hold(&self, order_id: Uuid) -> Result<Option<SlotHold>, ShippingError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM slot_holds WHERE order_id = $1"
        )))
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|row| hold_of(&row))
        .transpose()
    }

    async fn expire_holds(&self, now: DateTime<Utc>) -> Result<u64, ShippingError> {
        let done = sqlx::query(
            "UPDATE slot_holds SET status = 'EXPIRED', updated_at = $1 \
             WHERE status = 'HELD' AND expires_at <= $1",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn insert_shipment(
        &self,
        shipment: &Shipment,
        events: Events,
        now: DateTime<Utc>,
    ) -> Result<(Shipment, bool), ShippingError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let inserted = sqlx::query(
            "INSERT INTO shipments (id, order_id, user_id, rider_id, status, slot_start, version, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(shipment.id)
        .bind(shipment.order_id)
        .bind(shipment.user_id)
        .bind(shipment.rider_id)
        .bind(shipment.status.as_str())
        .bind(shipment.slot.start)
        .bind(shipment.version)
        .bind(json(shipment)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if inserted == 0 {
            drop(tx);
            let existing = self
                .shipment_of_order(shipment.order_id)
                .await?
                .ok_or_else(|| ShippingError::Conflict(format!("order {}", shipment.order_id)))?;
            return Ok((existing, false));
        }
        let confirmed = sqlx::query(
            "UPDATE slot_holds SET status = 'CONFIRMED', updated_at = $3 \
             WHERE order_id = $1 AND slot_id = $2 AND status = 'HELD' AND expires_at > $3",
        )
        .bind(shipment.order_id)
        .bind(&shipment.slot.id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if confirmed == 0 {
            return Err(ShippingError::NoHold(shipment.order_id));
        }
        queue(&mut tx, events).await?;
        tx.commit().await.map_err(db)?;
        Ok((shipment.clone(), true))
    }

    async fn shipment(&self, id: Uuid) -> Result<Option<Shipment>, ShippingError> {
        self.document_by("SELECT body FROM shipments WHERE id = $1", id)
            .await
    }

    async fn shipment_of_order(&self, order_id: Uuid) -> Result<Option<Shipment>, ShippingError> {
        self.document_by("SELECT body FROM shipments WHERE order_id = $1", order_id)
            .await
    }

    async fn list_shipments(
        &self,
        filter: &ShipmentFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Shipment>, ShippingError> {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(
            "SELECT body FROM shipments WHERE ($1::uuid IS NULL OR order_id = $1) \
             AND ($2::uuid IS NULL OR user_id = $2) AND ($3::uuid IS NULL OR rider_id = $3) \
             AND (cardinality($4::text[]) = 0 OR status = ANY($4)) \
             AND ($5::timestamptz IS NULL OR slot_start >= $5) \
             AND ($6::timestamptz IS NULL OR slot_start < $6) \
             AND ($7::timestamptz IS NULL OR (slot_start, id) > ($7, $8)) \
             ORDER BY slot_start, id LIMIT $9",
        )
        .bind(filter.order_id)
        .bind(filter.user_id)
        .bind(filter.rider_id)
        .bind(&statuses)
        .bind(filter.slot_from)
        .bind(filter.slot_to)
        .bind(after.map(|(t, _)| t))
        .bind(after.map(|(_, id)| id))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(document).collect()
    }

    async fn update_shipment(
        &self,
        shipment: &Shipment,
        expected_version: i64,
        events: Events,
        hold: HoldChange,
    ) -> Result<(), ShippingError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let updated = sqlx::query(
            "UPDATE shipments SET rider_id = $3, status = $4, slot_start = $5, version = $6, body = $7 \
             WHERE id = $1 AND version = $2",
        )
        .bind(shipment.id)
        .bind(expected_version)
        .bind(shipment.rider_id)
        .bind(shipment.status.as_str())
        .bind(shipment.slot.start)
        .bind(shipment.version)
        .bind(json(shipment)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if updated == 0 {
            return Err(match self.shipment(shipment.id).await? {
                Some(_) => ShippingError::Conflict(format!("shipment {}", shipment.id)),
                None => ShippingError::NotFound(format!("shipment {}", shipment.id)),
            });
        }
        if hold == HoldChange::Release {
            sqlx::query(
                "UPDATE slot_holds SET status = 'RELEASED', updated_at = now() WHERE order_id = $1",
            )
            .bind(shipment.order_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        queue(&mut tx, events).await?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn insert_rider(&self, rider: &Rider) -> Result<(), ShippingError> {
        let inserted = sqlx::query(
            "INSERT INTO riders (id, user_id, display_name, version, body) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(rider.id)
        .bind(rider.user_id)
        .bind(&rider.display_name)
        .bind(rider.version)
        .bind(json(rider)?)
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected();
        if inserted == 0 {
            return Err(ShippingError::RiderExists(rider.user_id));
        }
        Ok(())
    }

    async fn rider(&self, id: Uuid) -> Result<Option<Rider>, ShippingError> {
        self.document_by("SELECT body FROM riders WHERE id = $1", id)
            .await
    }

    async fn rider_of_user(&self, user_id: Uuid) -> Result<Option<Rider>, ShippingError> {
        self.document_by("SELECT body FROM riders WHERE user_id = $1", user_id)
            .await
    }

    async fn list_riders(
        &self,
        filter: &RiderFilter,
        after: Option<(String, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Rider>, ShippingError> {
        let status = filter.status.map(|s| json(&s)).transpose()?;
        let rows = sqlx::query(
            "SELECT body FROM riders WHERE ($1::jsonb IS NULL OR body->'status' = $1) \
             AND ($2::text IS NULL OR body->'zone_ids' ? $2) \
             AND ($3::boolean IS NULL OR (body->>'cold_chain')::boolean = $3) \
             AND ($4::text IS NULL OR (display_name, id) > ($4, $5)) \
             ORDER BY display_name, id LIMIT $6",
        )
        .bind(status)
        .bind(filter.zone_id.as_deref())
        .bind(filter.cold_chain)
        .bind(after.as_ref().map(|(name, _)| name.as_str()))
        .bind(after.as_ref().map(|(_, id)| *id))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(document).collect()
    }

    async fn update_rider(
        &self,
        rider: &Rider,
        expected_version: i64,
    ) -> Result<(), ShippingError> {
        let updated = sqlx::query(
            "UPDATE riders SET display_name = $3, version = $4, body = $5 WHERE id = $1 AND version = $2",
        )
        .bind(rider.id)
        .bind(expected_version)
        .bind(&rider.display_name)
        .bind(rider.version)
        .bind(json(rider)?)
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected();
        if updated == 0 {
            return Err(match self.rider(rider.id).await? {
                Some(_) => ShippingError::Conflict(format!("rider {}", rider.id)),
                None => ShippingError::NotFound(format!("rider {}", rider.id)),
            });
        }
        Ok(())
    }

    async fn remembered(&self, key: &str) -> Result<Option<(String, Vec<u8>)>, ShippingError> {
        let row = sqlx::query("SELECT fingerprint, response FROM request_keys WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.map(|row| {
            Ok((
                row.try_get("fingerprint").map_err(db)?,
                row.try_get("response").map_err(db)?,
            ))
        })
        .transpose()
    }

    async fn remember(
        &self,
        key: &str,
        fingerprint: &str,
        response: &[u8],
    ) -> Result<(), ShippingError> {
        sqlx::query(
            "INSERT INTO request_keys (key, fingerprint, response) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(fingerprint)
        .bind(response)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}
