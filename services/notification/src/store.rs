//! The storage port: deliveries, recorded together with the key of what caused them (an
//! event id or a SendNotification request id) so a redelivered event or a retried request
//! records nothing new; and the claim of due deliveries by the sender.

pub mod memory;
pub mod postgres;

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Delivery, DeliveryFilter};

/// What caused a batch of deliveries; each is recorded once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A consumed event (`EventEnvelope.event_id`).
    Event(String),
    /// A SendNotification call, with a fingerprint of its request.
    Request {
        /// The caller's idempotency key.
        request_id: String,
        /// What the request asked for; the same key with another fingerprint is refused.
        fingerprint: String,
    },
}

impl Source {
    /// The stored key: `event:<id>` or `request:<id>`.
    pub fn key(&self) -> String {
        match self {
            Source::Event(id) => format!("event:{id}"),
            Source::Request { request_id, .. } => format!("request:{request_id}"),
        }
    }

    /// The fingerprint stored with the key.
    pub fn fingerprint(&self) -> &str {
        match self {
            Source::Event(_) => "",
            Source::Request { fingerprint, .. } => fingerprint,
        }
    }
}

/// What `record` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The source was new: these deliveries were stored.
    New(Vec<Delivery>),
    /// The source was recorded before: its deliveries then, and its fingerprint.
    Existing {
        /// The deliveries recorded the first time, in their order.
        deliveries: Vec<Delivery>,
        /// The fingerprint recorded the first time.
        fingerprint: String,
    },
}

/// A storage failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend failed or is unreachable.
    #[error("notification store failed: {0}")]
    Failed(String),
}

/// Where deliveries are kept.
pub trait NotificationStore: Send + Sync + 'static {
    /// Whether `source` was recorded.
    fn seen(&self, source: &Source) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores `deliveries` with `source`, in one transaction; when `source` was recorded
    /// before, stores nothing and returns what was recorded then.
    fn record(
        &self,
        source: &Source,
        deliveries: Vec<Delivery>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// One delivery.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    /// Deliveries passing `filter`, newest first, after the delivery `after` (a cursor
    /// from a previous page), at most `limit`.
    fn list(
        &self,
        filter: &DeliveryFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Claims up to `limit` open deliveries due at `now`, oldest first: each is hidden from
    /// other claims until `lease_until`, so two senders never attempt one delivery at once
    /// (a sender that dies leaves it to be claimed again after the lease).
    fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Saves the outcome of an attempt (status, attempts, error, next attempt, times).
    fn save_attempt(
        &self,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
