//! The storage port of checkout sagas, with its in-memory and PostgreSQL adapters. A saga
//! is stored whole after every change under an optimistic version check, with a lease
//! naming the orchestrator that runs it, so two orchestrators never run one saga at once
//! and a crashed one's sagas are picked up when its lease runs out.

pub mod memory;
pub mod postgres;

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{CheckoutFilter, Saga};

/// A storage failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The saga changed since it was read (another orchestrator runs it now).
    #[error("checkout {0} was changed by someone else")]
    Conflict(Uuid),
    /// The backend failed.
    #[error("checkout store failed: {0}")]
    Failed(String),
}

/// Where a listing page ends: the last saga's creation time and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Creation time of the last saga returned.
    pub created_at: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

/// What [`CheckoutStore::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// Stored, with this orchestrator's lease.
    New(Saga),
    /// A saga with this id existed; it is returned unchanged.
    Existing(Saga),
}

/// Stores sagas.
pub trait CheckoutStore: Send + Sync + 'static {
    /// Stores a new saga (version 1) leased to `owner` until `lease_until`, or returns the
    /// one stored under its id.
    fn create(
        &self,
        saga: &Saga,
        owner: Uuid,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// The saga `id`.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<Saga>, StoreError>> + Send;

    /// Replaces the saga stored at `saga.version - 1` by `saga`, renewing `owner`'s lease;
    /// [`StoreError::Conflict`] when the stored version is another.
    fn save(
        &self,
        saga: &Saga,
        owner: Uuid,
        lease_until: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes over up to `limit` unfinished sagas whose lease ended before `now` (or that
    /// `owner` holds already), leasing them to `owner` until `lease_until`.
    fn claim_unfinished(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Saga>, StoreError>> + Send;

    /// Sagas matching `filter`, newest first, after `after`, at most `limit`.
    fn list(
        &self,
        filter: &CheckoutFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Saga>, StoreError>> + Send;
}

/// Whether `saga` passes `filter` and comes after `after` (newest first).
pub(crate) fn matches(saga: &Saga, filter: &CheckoutFilter, after: Option<&Cursor>) -> bool {
    filter.user_id.is_none_or(|u| u == saga.user_id)
        && (filter.states.is_empty() || filter.states.contains(&saga.state))
        && filter.updated_before.is_none_or(|t| saga.updated_at < t)
        && after.is_none_or(|c| (saga.created_at, saga.id) < (c.created_at, c.id))
}
