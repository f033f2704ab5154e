//! The storage port of orders: orders with their history, idempotency keys, and the
//! transactional outbox (every write that changes an order stores its event in the same
//! transaction). Adapters: [`memory`] (the embedded default and tests) and [`postgres`].

pub mod memory;
pub mod postgres;

use std::future::Future;

use chrono::{DateTime, Utc};
use mandi_runtime::outbox::OutboxStore;
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use uuid::Uuid;

use crate::domain::{Order, OrderFilter};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached (worth a retry).
    #[error("order storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back.
    #[error("stored order data is corrupt: {0}")]
    Corrupt(String),
    /// The backend refused the operation.
    #[error("order storage failed: {0}")]
    Failed(String),
}

/// An idempotency key (scoped by caller) and the fingerprint of the request that used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    /// `{caller}/{request_id}`.
    pub key: String,
    /// Method and hash of the request without its request id.
    pub fingerprint: String,
}

/// An event to store in the outbox beside the change it announces.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The `mandi.events.v1` envelope.
    pub envelope: EventEnvelope,
    /// W3C trace context of the request that made the change.
    pub trace_headers: Vec<(String, String)>,
}

/// What [`OrderStore::create`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// Stored the new order and its event.
    New,
    /// The key was used before by the same request: the order it made, unchanged.
    Existing(Box<Order>),
    /// The key was used before by a different request; nothing stored.
    KeyReused,
}

/// What [`OrderStore::commit_change`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    /// Stored the change, its history entry and its event.
    Done,
    /// The order was no longer at the status and version the change started from
    /// (another change won); nothing stored. Carries the order as it is now.
    Stale(Box<Order>),
    /// Another change already used the request key; nothing stored.
    KeyTaken,
}

/// Where a listing page starts: after this creation time and id (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// Creation time of the last order returned, in microseconds since the epoch.
    pub created_micros: i64,
    /// Its id.
    pub id: Uuid,
}

impl Cursor {
    /// The cursor just past `order`.
    pub fn after(order: &Order) -> Self {
        Self {
            created_micros: order.created_at.timestamp_micros(),
            id: order.id,
        }
    }

    /// Whether `order` comes after this cursor in newest-first order.
    pub fn precedes(&self, order: &Order) -> bool {
        (order.created_at.timestamp_micros(), order.id) < (self.created_micros, self.id)
    }

    /// The creation time as an instant.
    pub fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.created_micros).unwrap_or_default()
    }
}

/// Orders, their history and their outbox.
pub trait OrderStore: OutboxStore {
    /// Stores `order` (in CREATED, with its creation entry) and `event`, unless `request`'s
    /// key was used before. Concurrent creates with one key store one order.
    fn create(
        &self,
        order: &Order,
        request: &RequestKey,
        event: &NewEvent,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// The order with `id`, with its history.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// Up to `limit` orders passing `filter`, newest first (creation time, then id), after
    /// `after` when given.
    fn list(
        &self,
        filter: &OrderFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Order>, StoreError>> + Send;

    /// Stores `order` after one change (its last history entry, moving it from that entry's
    /// `from` status at version `order.version - 1`), the key of the request that made it,
    /// and `event`, all or nothing: only when the stored order is still at that status and
    /// version.
    fn commit_change(
        &self,
        order: &Order,
        request: Option<&RequestKey>,
        event: &NewEvent,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// The order a change with this request key was applied to, and that request's
    /// fingerprint.
    fn recall_change(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(Uuid, String)>, StoreError>> + Send;
}
