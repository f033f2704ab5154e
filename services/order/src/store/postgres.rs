//! PostgreSQL adapter of [`OrderStore`] and [`OutboxStore`], migrations embedded.
//!
//! The state machine is guarded in SQL as well as in the domain: a change is an
//! `UPDATE … WHERE id = $1 AND status = $from AND version = $v`; when another change won
//! the race the update matches no row, nothing is written, and the order is read again to
//! report where it is. The history entry and the outbox event are inserted in the same
//! transaction, so a change and its event commit together or not at all.
//!
//! Outbox order: changes to one order serialize on its row (the second waits for the
//! first to commit, then fails its version check), so one order's events take increasing
//! sequence numbers in commit order. Only one relay reads the outbox at a time across
//! replicas: [`OutboxStore::pending`] first takes a session-level
//! `pg_try_advisory_lock` on a connection the store keeps for the relay, and returns
//! nothing while another replica holds it. A transaction-scoped lock
//! (`pg_try_advisory_xact_lock`) would end before the records are published (the relay
//! reads, publishes, then marks each sent in separate calls), and `FOR UPDATE SKIP LOCKED`
//! would let two relays publish one order's events out of order; a session lock lasts
//! until its connection closes, which a crashed replica's does at once, so the next relay
//! takes over and re-sends whatever was published but not marked (at least once). Sent
//! marks are written in one statement per batch, before the next read (see `RelayState`).

mod rows;

use mandi_runtime::outbox::{OutboxError, OutboxRecord, OutboxStore};
use prost::Message as _;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Acquire as _, Postgres, Transaction};
use std::sync::Arc;
use uuid::Uuid;

use super::{Committed, Created, Cursor, NewEvent, OrderStore, RequestKey, StoreError};
use crate::domain::{Order, OrderFilter, StatusChange};
use rows::{OrderRow, attach_history, order_columns};

/// Key of the advisory lock the outbox relay holds ("mandi.order.outbox").
const RELAY_LOCK: i64 = 0x6d61_6e64_695f_6f62;

/// Orders in PostgreSQL. Clones share the pool and the relay's lock connection.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The relay's lock connection and its unwritten sent marks.
    relay: Arc<tokio::sync::Mutex<RelayState>>,
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
        Ok(Self {
            pool,
            relay: Arc::default(),
        })
    }

    async fn history_of(&self, orders: &mut [Order]) -> Result<(), StoreError> {
        let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
        let rows = sqlx::query(
            "SELECT order_id, from_status, to_status, changed_at, actor, reason \
             FROM order_status_history WHERE order_id = ANY($1) ORDER BY order_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        attach_history(orders, &rows)
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

fn is_unique_violation(error: &sqlx::Error, constraint: &str) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.code().as_deref() == Some("23505") && e.constraint() == Some(constraint))
}

async fn insert_change(
    tx: &mut Transaction<'_, Postgres>,
    order_id: Uuid,
    position: i64,
    change: &StatusChange,
    request: Option<&RequestKey>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_status_history (order_id, position, from_status, to_status, \
         changed_at, actor, reason, request_key, request_fingerprint) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(order_id)
    .bind(position)
    .bind(change.from.map(|s| s.as_str()))
    .bind(change.to.as_str())
    .bind(change.at)
    .bind(&change.actor)
    .bind(&change.reason)
    .bind(request.map(|r| r.key.as_str()))
    .bind(request.map(|r| r.fingerprint.as_str()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_event(
    tx: &mut Transaction<'_, Postgres>,
    order_id: Uuid,
    event: &NewEvent,
) -> Result<(), StoreError> {
    let event_id = Uuid::parse_str(&event.envelope.event_id)
        .map_err(|e| StoreError::Failed(format!("event id is not a UUID: {e}")))?;
    let headers = serde_json::to_string(&event.trace_headers)
        .map_err(|e| StoreError::Failed(format!("cannot encode trace headers: {e}")))?;
    sqlx::query(
        "INSERT INTO order_outbox (order_id, event_id, envelope, trace_headers) \
         VALUES ($1, $2, $3, $4::jsonb)",
    )
    .bind(order_id)
    .bind(event_id)
    .bind(event.envelope.encode_to_vec())
    .bind(headers)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

impl OrderStore for PgStore {
    async fn create(
        &self,
        order: &Order,
        request: &RequestKey,
        event: &NewEvent,
    ) -> Result<Created, StoreError> {
        let row = OrderRow::of(order)?;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Waits for a concurrent insert of the same key to finish, then skips: the
        // unique key makes concurrent duplicates store one order.
        let inserted = row
            .insert(request)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(backend)?;
            let earlier: Option<(Uuid, String)> =
                sqlx::query_as("SELECT id, request_fingerprint FROM orders WHERE request_key = $1")
                    .bind(&request.key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
            let Some((id, fingerprint)) = earlier else {
                return Err(StoreError::Failed(
                    "request key conflicted but no order holds it".into(),
                ));
            };
            if fingerprint != request.fingerprint {
                return Ok(Created::KeyReused);
            }
            return match self.get(id).await? {
                Some(existing) => Ok(Created::Existing(Box::new(existing))),
                None => Err(StoreError::Corrupt(format!("order {id} vanished"))),
            };
        }
        for (position, change) in (1..).zip(&order.history) {
            insert_change(&mut tx, order.id, position, change, None)
                .await
                .map_err(backend)?;
        }
        insert_event(&mut tx, order.id, event).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Created::New)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut orders = vec![rows::order_from(&row)?];
        self.history_of(&mut orders).await?;
        Ok(orders.pop())
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError> {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(concat!(
            "SELECT ",
            order_columns!(),
            " FROM orders \
             WHERE ($1::uuid IS NULL OR customer_id = $1) \
               AND ($2::uuid IS NULL OR vendor_ids @> ARRAY[$2::uuid]) \
               AND (cardinality($3::text[]) = 0 OR status = ANY($3)) \
               AND ($4::timestamptz IS NULL OR created_at >= $4) \
               AND ($5::timestamptz IS NULL OR created_at < $5) \
               AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7)) \
             ORDER BY created_at DESC, id DESC LIMIT $8"
        ))
        .bind(filter.customer_id)
        .bind(filter.vendor_id)
        .bind(&statuses)
        .bind(filter.created_from)
        .bind(filter.created_before)
        .bind(after.map(|c| c.created_at()))
        .bind(after.map(|c| c.id))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let mut orders = rows
            .iter()
            .map(rows::order_from)
            .collect::<Result<Vec<_>, _>>()?;
        self.history_of(&mut orders).await?;
        Ok(orders)
    }

    async fn commit_change(
        &self,
        order: &Order,
        request: Option<&RequestKey>,
        event: &NewEvent,
    ) -> Result<Committed, StoreError> {
        let Some(change) = order.history.last() else {
            return Err(StoreError::Failed("the order carries no change".into()));
        };
        let Some(from) = change.from else {
            return Err(StoreError::Failed("the last entry is the creation".into()));
        };
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let updated = sqlx::query(
            "UPDATE orders SET status = $4, version = $3 + 1, updated_at = $5, \
             cancel_reason = $6, payment_id = $7, shipment_id = $8 \
             WHERE id = $1 AND status = $2 AND version = $3",
        )
        .bind(order.id)
        .bind(from.as_str())
        .bind(order.version - 1)
        .bind(order.status.as_str())
        .bind(order.updated_at)
        .bind(&order.cancel_reason)
        .bind(&order.payment_id)
        .bind(&order.shipment_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(backend)?;
            return match self.get(order.id).await? {
                Some(current) => Ok(Committed::Stale(Box::new(current))),
                None => Err(StoreError::Failed(format!(
                    "order {} is not stored",
                    order.id
                ))),
            };
        }
        let mut savepoint = tx.begin().await.map_err(backend)?;
        match insert_change(&mut savepoint, order.id, order.version, change, request).await {
            Ok(()) => savepoint.commit().await.map_err(backend)?,
            Err(error) if is_unique_violation(&error, "order_status_history_request_key") => {
                return Ok(Committed::KeyTaken);
            }
            Err(error) => return Err(backend(error)),
        }
        insert_event(&mut tx, order.id, event).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Committed::Done)
    }

    async fn recall_change(&self, key: &str) -> Result<Option<(Uuid, String)>, StoreError> {
        sqlx::query_as(
            "SELECT order_id, request_fingerprint FROM order_status_history \
             WHERE request_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)
    }
}

// === impl OutboxStore ===

fn outbox_error(error: impl std::fmt::Display) -> OutboxError {
    OutboxError(error.to_string())
}

impl OutboxStore for PgStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        let mut relay = self.relay.lock().await;
        if relay.connection.is_none() {
            let mut connection = self.pool.acquire().await.map_err(outbox_error)?.detach();
            let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                .bind(RELAY_LOCK)
                .fetch_one(&mut connection)
                .await
                .map_err(outbox_error)?;
            if !locked {
                // Another replica relays; ask again next pass.
                return Ok(Vec::new());
            }
            // A sent mark lost in a crash only means the event goes out again, which
            // at-least-once delivery allows: marks need not wait for the WAL flush.
            sqlx::query("SET synchronous_commit = off")
                .execute(&mut connection)
                .await
                .map_err(outbox_error)?;
            relay.connection = Some(connection);
        }
        let read = relay.read(limit).await;
        if read.is_err() {
            // The lock may have gone with the connection: take it again next time.
            relay.connection = None;
        }
        read?
            .into_iter()
            .map(|(sequence, envelope, headers)| {
                Ok(OutboxRecord {
                    sequence,
                    envelope: prost::Message::decode(envelope.as_slice())
                        .map_err(|e| outbox_error(format!("outbox record {sequence}: {e}")))?,
                    trace_headers: serde_json::from_str(&headers)
                        .map_err(|e| outbox_error(format!("outbox record {sequence}: {e}")))?,
                })
            })
            .collect()
    }

    async fn mark_sent(&self, sequence: i64) -> Result<(), OutboxError> {
        let mut relay = self.relay.lock().await;
        if relay.connection.is_some() {
            // Written with the next read, in one statement (see `RelayState`).
            relay.marked.push(sequence);
            return Ok(());
        }
        sqlx::query("UPDATE order_outbox SET sent_at = now() WHERE sequence = $1")
            .bind(sequence)
            .execute(&self.pool)
            .await
            .map_err(outbox_error)?;
        Ok(())
    }
}

/// The relay's side of the store: the connection holding [`RELAY_LOCK`] once this
/// store's relay got it, and the records it published since its last read. Their sent
/// marks are written in one UPDATE before the next read (so a read never returns them
/// again) instead of one round trip each; a crash loses at most those marks, and their
/// events go out again, as at-least-once delivery allows.
#[derive(Default)]
struct RelayState {
    connection: Option<PgConnection>,
    marked: Vec<i64>,
}

impl RelayState {
    /// Writes the pending marks, then reads up to `limit` unsent records.
    async fn read(&mut self, limit: usize) -> Result<Vec<(i64, Vec<u8>, String)>, OutboxError> {
        let Some(connection) = self.connection.as_mut() else {
            return Ok(Vec::new());
        };
        if !self.marked.is_empty() {
            sqlx::query("UPDATE order_outbox SET sent_at = now() WHERE sequence = ANY($1)")
                .bind(&self.marked)
                .execute(&mut *connection)
                .await
                .map_err(outbox_error)?;
            self.marked.clear();
        }
        sqlx::query_as(
            "SELECT sequence, envelope, trace_headers::text FROM order_outbox \
             WHERE sent_at IS NULL ORDER BY sequence LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(connection)
        .await
        .map_err(outbox_error)
    }
}
