//! Writing a change: claiming its idempotency key, then the payment, its refund, the
//! ledger journal and the outbox rows, all in the caller's transaction.

use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use prost::Message as _;
use sqlx::{Postgres, Row as _, Transaction};
use uuid::Uuid;

use super::db;
use crate::domain::{LedgerEntry, Payment, PaymentError, Refund};
use crate::store::{Change, Outcome, RequestKey, StoreError};

/// Claims `key` for this transaction, or returns the result its first request stored.
pub(super) async fn claim_key(
    tx: &mut Transaction<'_, Postgres>,
    key: &RequestKey,
) -> Result<Option<Outcome>, PaymentError> {
    // Waits here while another transaction holds an uncommitted row for the same key.
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (key, fingerprint, state) VALUES ($1, $2, 'started') \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(&key.key)
    .bind(&key.fingerprint)
    .execute(&mut **tx)
    .await
    .map_err(db)?
    .rows_affected();
    if claimed == 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT fingerprint, state, result FROM idempotency_keys WHERE key = $1")
        .bind(&key.key)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?
        .ok_or(PaymentError::InProgress)?;
    let fingerprint: String = row.try_get("fingerprint").map_err(db)?;
    if fingerprint != key.fingerprint {
        return Err(PaymentError::KeyReused);
    }
    let result: Option<String> = row.try_get("result").map_err(db)?;
    let result = result.ok_or(PaymentError::InProgress)?;
    let outcome = serde_json::from_str(&result)
        .map_err(|e| StoreError::Corrupt(format!("stored result of {}: {e}", key.key)))?;
    Ok(Some(outcome))
}

async fn write_payment(
    tx: &mut Transaction<'_, Postgres>,
    payment: &Payment,
) -> Result<(), PaymentError> {
    let card = payment.card.as_ref();
    let failure = payment.failure.as_ref();
    sqlx::query(concat!(
        "INSERT INTO payments (",
        payment_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
         $18, $19, $20) ON CONFLICT (id) DO UPDATE SET captured_minor = EXCLUDED.captured_minor, \
         refunded_minor = EXCLUDED.refunded_minor, status = EXCLUDED.status, \
         provider_reference = EXCLUDED.provider_reference, card_token = EXCLUDED.card_token, \
         card_brand = EXCLUDED.card_brand, card_last4 = EXCLUDED.card_last4, \
         failure_reason = EXCLUDED.failure_reason, failure_message = EXCLUDED.failure_message, \
         updated_at = EXCLUDED.updated_at, authorized_at = EXCLUDED.authorized_at, \
         captured_at = EXCLUDED.captured_at"
    ))
    .bind(payment.id)
    .bind(payment.order_id)
    .bind(payment.user_id)
    .bind(&payment.amount.currency)
    .bind(payment.amount.minor)
    .bind(payment.captured_minor)
    .bind(payment.refunded_minor)
    .bind(payment.method.as_str())
    .bind(payment.status.as_str())
    .bind(&payment.provider)
    .bind(&payment.provider_reference)
    .bind(card.map(|c| c.token.as_str()).filter(|t| !t.is_empty()))
    .bind(card.map(|c| c.brand.as_str()))
    .bind(card.map(|c| c.last4.as_str()))
    .bind(failure.map(|f| f.reason.as_str()))
    .bind(failure.map_or("", |f| f.message.as_str()))
    .bind(payment.created_at)
    .bind(payment.updated_at)
    .bind(payment.authorized_at)
    .bind(payment.captured_at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn write_refund(
    tx: &mut Transaction<'_, Postgres>,
    refund: &Refund,
) -> Result<(), PaymentError> {
    sqlx::query(concat!(
        "INSERT INTO refunds (",
        refund_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(refund.id)
    .bind(refund.payment_id)
    .bind(&refund.amount.currency)
    .bind(refund.amount.minor)
    .bind(&refund.reason)
    .bind(refund.status.as_str())
    .bind(&refund.provider_reference)
    .bind(&refund.failure_message)
    .bind(refund.created_at)
    .bind(refund.completed_at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn write_entry(
    tx: &mut Transaction<'_, Postgres>,
    entry: &LedgerEntry,
) -> Result<(), PaymentError> {
    sqlx::query(
        "INSERT INTO ledger_entries (id, journal_id, account, direction, currency, \
         amount_minor, payment_id, refund_id, order_id, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(entry.id)
    .bind(entry.journal_id)
    .bind(entry.account.as_str())
    .bind(entry.direction.as_str())
    .bind(&entry.amount.currency)
    .bind(entry.amount.minor)
    .bind(entry.payment_id)
    .bind(entry.refund_id)
    .bind(entry.order_id)
    .bind(&entry.description)
    .bind(entry.created_at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

async fn write_event(
    tx: &mut Transaction<'_, Postgres>,
    payment_id: Uuid,
    envelope: &EventEnvelope,
    trace_headers: &[(String, String)],
) -> Result<(), PaymentError> {
    let headers = serde_json::to_string(trace_headers)
        .map_err(|e| StoreError::Failed(format!("cannot encode trace headers: {e}")))?;
    sqlx::query(
        "INSERT INTO payment_outbox (payment_id, event_type, envelope, trace_headers) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(payment_id)
    .bind(&envelope.r#type)
    .bind(envelope.encode_to_vec())
    .bind(headers)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn write_change(
    tx: &mut Transaction<'_, Postgres>,
    change: &Change,
) -> Result<(), PaymentError> {
    write_payment(tx, &change.payment).await?;
    if let Some(refund) = &change.new_refund {
        write_refund(tx, refund).await?;
    }
    for entry in &change.entries {
        write_entry(tx, entry).await?;
    }
    for (envelope, headers) in &change.events {
        write_event(tx, change.payment.id, envelope, headers).await?;
    }
    Ok(())
}
