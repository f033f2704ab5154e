//! The storage port payment needs; adapters live in `store/`.
//!
//! Every change goes through [`PaymentStore::execute`]: under the request's idempotency
//! key (when it has one) and a lock on what it changes, the store hands the current state
//! to a [`Work`], which decides (and may call the gateway), and then writes the payment,
//! its new refund, the ledger journal, the outbox events and the key's stored result in one
//! transaction. A second request with the same key waits for the first and gets its stored
//! result; so concurrent duplicates reach the gateway once.

pub mod memory;
pub mod postgres;

use std::future::Future;

use chrono::{DateTime, Utc};
use mandi_runtime::outbox::OutboxStore;
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{
    EntryFilter, LedgerBalance, LedgerEntry, Payment, PaymentError, PaymentFilter, Refund,
};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; retrying may help.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation; retrying will not help.
    #[error("storage operation failed: {0}")]
    Failed(String),
    /// A stored row could not be read back into a domain value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// An idempotency key scoped to its caller (`{caller}/{request_id}`) and the fingerprint
/// of the request that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    /// `{caller}/{request_id}`.
    pub key: String,
    /// Method and a hash of its arguments (never of a card number).
    pub fingerprint: String,
}

/// What a keyed request returned the first time: stored with the key and returned to
/// every retry as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// The payment after the request.
    pub payment: Payment,
    /// The refund the request made, for RefundPayment.
    pub refund: Option<Refund>,
}

/// The result of [`PaymentStore::execute`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// What the request returned (the first time, for a retry).
    pub outcome: Outcome,
    /// Whether this is a retry answered from the stored result.
    pub replayed: bool,
}

/// What a change locks and reads before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A new payment for this order: every payment of the order is read (to refuse a
    /// second live one) under a lock on the order.
    Order(Uuid),
    /// An existing payment, locked.
    Payment(Uuid),
}

/// Everything one change writes, atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The payment after the change (inserted or updated).
    pub payment: Payment,
    /// A refund the change made (also in `payment.refunds`).
    pub new_refund: Option<Refund>,
    /// The journal to post.
    pub entries: Vec<LedgerEntry>,
    /// Events for the outbox, with the trace context to publish them under.
    pub events: Vec<(EventEnvelope, Vec<(String, String)>)>,
}

impl Change {
    /// The payment as it is: nothing to write but the key's result.
    pub fn unchanged(payment: Payment) -> Self {
        Self {
            payment,
            new_refund: None,
            entries: Vec::new(),
            events: Vec::new(),
        }
    }
}

/// One decision on the current state of a [`Subject`]; it may call the gateway.
pub trait Work: Send {
    /// What to lock and read.
    fn subject(&self) -> Subject;

    /// Decides on `current` (the order's payments, or the one payment; empty when the
    /// payment does not exist). An error writes nothing and stores no result for the key.
    fn decide(
        self,
        current: Vec<Payment>,
    ) -> impl Future<Output = Result<Change, PaymentError>> + Send;
}

/// Payments, refunds, the ledger, idempotency keys and the outbox.
pub trait PaymentStore: OutboxStore {
    /// Runs `work` once per key: a new key (or none) locks the subject, lets `work`
    /// decide and writes its change with the key's result; a finished key with the same
    /// fingerprint returns the stored result; with another fingerprint `KeyReused`. A
    /// concurrent request with the same key waits for the first one to finish.
    fn execute<W: Work>(
        &self,
        key: Option<&RequestKey>,
        work: W,
    ) -> impl Future<Output = Result<Executed, PaymentError>> + Send;

    /// The payment with this id, with its refunds.
    fn payment(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Payment>, PaymentError>> + Send;

    /// Up to `limit` payments passing `filter`, newest first, after the `(created_at, id)`
    /// position `after`.
    fn list_payments(
        &self,
        filter: &PaymentFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Payment>, PaymentError>> + Send;

    /// Up to `limit` entries passing `filter`, in posting order, each with its position;
    /// after the position `after`.
    fn list_entries(
        &self,
        filter: &EntryFilter,
        after: Option<i64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(i64, LedgerEntry)>, PaymentError>> + Send;

    /// Debits against credits, overall and per journal.
    fn ledger_balances(&self) -> impl Future<Output = Result<LedgerBalance, PaymentError>> + Send;
}
