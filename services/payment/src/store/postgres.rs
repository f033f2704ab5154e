//! PostgreSQL adapter of [`PaymentStore`], with migrations embedded in the binary.
//!
//! A change runs in one transaction, locks taken in one order everywhere: first the
//! idempotency key (a duplicate's `INSERT … ON CONFLICT DO NOTHING` waits on the unique key
//! until the first request commits, then reads its stored result), then the subject — a
//! transaction-scoped advisory lock on the order for a new payment, `SELECT … FOR UPDATE`
//! on the payment row for the rest. The work decides (and calls the gateway) while the
//! locks are held, so concurrent duplicates charge once; then the payment, its refund, the
//! ledger journal, the outbox rows and the key's result are written and committed together.
//!
//! The outbox relay reads under a session advisory lock held on a connection of its own:
//! one replica relays at a time, in sequence order, which is per payment the order the
//! changes committed in (each change held the payment's lock while taking its sequence).
//! When that connection drops, the lock goes with it and another replica takes over.

mod rows;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mandi_runtime::outbox::{OutboxError, OutboxRecord, OutboxStore};
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use prost::Message as _;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection as _, Postgres, Row as _, Transaction};
use uuid::Uuid;

use rows::{EntryRow, PaymentRow, RefundRow};
use writes::{claim_key, write_change};

use super::{Executed, Outcome, PaymentStore, RequestKey, StoreError, Subject, Work};
use crate::domain::{
    EntryFilter, LedgerBalance, LedgerEntry, Payment, PaymentError, PaymentFilter, Refund,
};

macro_rules! payment_columns {
    () => {
        "id, order_id, user_id, currency, amount_minor, captured_minor, refunded_minor, method, \
         status, provider, provider_reference, card_token, card_brand, card_last4, \
         failure_reason, failure_message, created_at, updated_at, authorized_at, captured_at"
    };
}

macro_rules! refund_columns {
    () => {
        "id, payment_id, currency, amount_minor, reason, status, provider_reference, \
         failure_message, created_at, completed_at"
    };
}

// After the column lists, which it uses.
mod writes;

/// Key of the session advisory lock whose holder relays the outbox ("mandi.payment").
const RELAY_LOCK: i64 = 0x6d61_6e64_6970_6179;

/// Payment's tables in PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    url: Arc<str>,
    relay: Arc<tokio::sync::Mutex<Option<RelayConnection>>>,
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

fn db(error: sqlx::Error) -> PaymentError {
    PaymentError::Store(backend(error))
}

fn outbox(error: impl std::fmt::Display) -> OutboxError {
    OutboxError(error.to_string())
}

// === impl PgStore: reading ===

/// Refunds of `payments`, oldest first, attached to their payments.
async fn with_refunds(
    connection: &mut PgConnection,
    rows: Vec<PaymentRow>,
) -> Result<Vec<Payment>, PaymentError> {
    let ids: Vec<Uuid> = rows.iter().map(PaymentRow::id).collect();
    let refunds: Vec<RefundRow> = sqlx::query_as(concat!(
        "SELECT ",
        refund_columns!(),
        " FROM refunds WHERE payment_id = ANY($1) ORDER BY created_at, id"
    ))
    .bind(&ids)
    .fetch_all(&mut *connection)
    .await
    .map_err(db)?;
    let mut refunds: Vec<Refund> = refunds
        .into_iter()
        .map(Refund::try_from)
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|row| {
            let id = row.id();
            let (own, rest): (Vec<Refund>, Vec<Refund>) =
                refunds.drain(..).partition(|r| r.payment_id == id);
            refunds = rest;
            Ok(row.into_payment(own)?)
        })
        .collect()
}

async fn read_subject(
    tx: &mut Transaction<'_, Postgres>,
    subject: Subject,
) -> Result<Vec<Payment>, PaymentError> {
    let rows: Vec<PaymentRow> = match subject {
        Subject::Order(order) => {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
                .bind(order)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
            sqlx::query_as(concat!(
                "SELECT ",
                payment_columns!(),
                " FROM payments WHERE order_id = $1 ORDER BY id"
            ))
            .bind(order)
            .fetch_all(&mut **tx)
            .await
            .map_err(db)?
        }
        Subject::Payment(id) => sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE id = $1 FOR UPDATE"
        ))
        .bind(id)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?,
    };
    with_refunds(tx, rows).await
}

impl PaymentStore for PgStore {
    async fn execute<W: Work>(
        &self,
        key: Option<&RequestKey>,
        work: W,
    ) -> Result<Executed, PaymentError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        if let Some(key) = key
            && let Some(outcome) = claim_key(&mut tx, key).await?
        {
            return Ok(Executed {
                outcome,
                replayed: true,
            });
        }
        let current = read_subject(&mut tx, work.subject()).await?;
        // Dropping `tx` on an error rolls everything back, the key's claim included.
        let change = work.decide(current).await?;
        write_change(&mut tx, &change).await?;
        let outcome = Outcome {
            payment: change.payment,
            refund: change.new_refund,
        };
        if let Some(key) = key {
            let result = serde_json::to_string(&outcome)
                .map_err(|e| StoreError::Failed(format!("cannot encode the result: {e}")))?;
            sqlx::query(
                "UPDATE idempotency_keys SET state = 'finished', result = $2, \
                 finished_at = now() WHERE key = $1",
            )
            .bind(&key.key)
            .bind(result)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Executed {
            outcome,
            replayed: false,
        })
    }

    async fn payment(&self, id: Uuid) -> Result<Option<Payment>, PaymentError> {
        let mut connection = self.pool.acquire().await.map_err(db)?;
        let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE id = $1"
        ))
        .bind(id)
        .fetch_all(&mut *connection)
        .await
        .map_err(db)?;
        Ok(with_refunds(&mut connection, rows).await?.pop())
    }

    async fn list_payments(
        &self,
        filter: &PaymentFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Payment>, PaymentError> {
        let mut connection = self.pool.acquire().await.map_err(db)?;
        let rows: Vec<PaymentRow> = sqlx::query_as(concat!(
            "SELECT ",
            payment_columns!(),
            " FROM payments WHERE ($1::uuid IS NULL OR order_id = $1) \
             AND ($2::uuid IS NULL OR user_id = $2) AND ($3::text IS NULL OR status = $3) \
             AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) \
             ORDER BY created_at DESC, id DESC LIMIT $6"
        ))
        .bind(filter.order_id)
        .bind(filter.user_id)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(after.map(|(at, _)| at))
        .bind(after.map(|(_, id)| id))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await
        .map_err(db)?;
        with_refunds(&mut connection, rows).await
    }

    async fn list_entries(
        &self,
        filter: &EntryFilter,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, LedgerEntry)>, PaymentError> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT position, id, journal_id, account, direction, currency, amount_minor, \
             payment_id, refund_id, order_id, description, created_at FROM ledger_entries \
             WHERE ($1::uuid IS NULL OR payment_id = $1) AND ($2::uuid IS NULL OR order_id = $2) \
             AND ($3::text IS NULL OR account = $3) AND ($4::uuid IS NULL OR journal_id = $4) \
             AND ($5::timestamptz IS NULL OR created_at >= $5) \
             AND ($6::timestamptz IS NULL OR created_at < $6) \
             AND ($7::bigint IS NULL OR position > $7) ORDER BY position LIMIT $8",
        )
        .bind(filter.payment_id)
        .bind(filter.order_id)
        .bind(filter.account.map(|a| a.as_str()))
        .bind(filter.journal_id)
        .bind(filter.start)
        .bind(filter.end)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(<(i64, LedgerEntry)>::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn ledger_balances(&self) -> Result<LedgerBalance, PaymentError> {
        let totals = sqlx::query(
            "SELECT COALESCE(SUM(amount_minor) FILTER (WHERE direction = 'debit'), 0)::bigint \
             AS debits, COALESCE(SUM(amount_minor) FILTER (WHERE direction = 'credit'), 0)::bigint \
             AS credits, COUNT(DISTINCT journal_id) AS journals FROM ledger_entries",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        let unbalanced: Vec<Uuid> = sqlx::query_scalar(
            "SELECT journal_id FROM ledger_entries GROUP BY journal_id HAVING \
             SUM(CASE WHEN direction = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0 \
             ORDER BY journal_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let journals: i64 = totals.try_get("journals").map_err(db)?;
        Ok(LedgerBalance {
            debits: totals.try_get("debits").map_err(db)?,
            credits: totals.try_get("credits").map_err(db)?,
            unbalanced_journals: unbalanced,
            journals: usize::try_from(journals).unwrap_or_default(),
        })
    }
}

// === impl OutboxStore ===

/// The relay's own connection and whether it holds the relay lock.
struct RelayConnection {
    connection: PgConnection,
    leader: bool,
}

impl PgStore {
    /// The relay connection once it holds the relay lock; `None` while another replica
    /// holds it (asked again on every call, on the same connection).
    async fn relay_connection<'a>(
        &self,
        slot: &'a mut Option<RelayConnection>,
    ) -> Result<Option<&'a mut PgConnection>, OutboxError> {
        if slot.is_none() {
            let connection = PgConnection::connect(&self.url).await.map_err(outbox)?;
            *slot = Some(RelayConnection {
                connection,
                leader: false,
            });
        }
        let Some(relay) = slot.as_mut() else {
            return Ok(None);
        };
        if !relay.leader {
            relay.leader = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(RELAY_LOCK)
                .fetch_one(&mut relay.connection)
                .await
                .map_err(outbox)?;
        }
        Ok(relay.leader.then_some(&mut relay.connection))
    }
}

impl OutboxStore for PgStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        let mut slot = self.relay.lock().await;
        let connection = match self.relay_connection(&mut slot).await {
            Ok(Some(connection)) => connection,
            Ok(None) => return Ok(Vec::new()),
            Err(error) => {
                // A broken connection may have lost the lock: start over next time.
                *slot = None;
                return Err(error);
            }
        };
        let rows = sqlx::query(
            "SELECT sequence, envelope, trace_headers FROM payment_outbox \
             WHERE sent_at IS NULL ORDER BY sequence LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await;
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                // A broken connection may have lost the lock: start over next time.
                *slot = None;
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
        sqlx::query("UPDATE payment_outbox SET sent_at = now() WHERE sequence = $1")
            .bind(sequence)
            .execute(&self.pool)
            .await
            .map_err(outbox)?;
        Ok(())
    }
}
