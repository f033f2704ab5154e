//! The storage port the cart needs; adapters live in `store/`.
//!
//! Writes are compare-and-set: a write names the revision of each cart it read, and
//! fails with [`Outcome::Conflict`] when another writer got there first, so the service
//! re-reads and applies its change again and no concurrent update is lost. A write may
//! also record an idempotency key; when that key was recorded already, nothing is written
//! and the earlier record comes back ([`Outcome::Replayed`]).

pub mod memory;
pub mod redis;

use std::future::Future;
use std::time::Duration;

use crate::domain::{Cart, CartId, RequestRecord};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached right now; retrying may help.
    #[error("cart storage unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation.
    #[error("cart storage failed: {0}")]
    Failed(String),
    /// A stored value could not be read back.
    #[error("corrupt stored cart: {0}")]
    Corrupt(String),
}

/// The stored form of a cart as read; writes name it to prove nothing changed since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision(pub(crate) String);

/// A cart and the revision it was read at.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The cart.
    pub cart: Cart,
    /// Its stored revision.
    pub revision: Revision,
}

/// What a write expects to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// No cart under this id (a new cart).
    Absent,
    /// The cart exactly as read.
    At(Revision),
}

/// One atomic write.
#[derive(Debug, Clone)]
pub struct Write<'a> {
    /// The cart's new state; a user's cart also refreshes the user's index entry.
    pub cart: &'a Cart,
    /// What the cart's key must hold for the write to apply.
    pub expect: Expect,
    /// For a new user cart: the user must have no cart yet (`Some(None)`), or the one
    /// named, found expired. `None` leaves the check out.
    pub owner_expect: Option<Option<CartId>>,
    /// A cart to delete in the same step (a merged guest cart) and its revision.
    pub delete: Option<(&'a CartId, Revision)>,
    /// An idempotency record to keep, unless its key is recorded already.
    pub request: Option<&'a RequestRecord>,
    /// How long the cart (and the user's index) lives from now.
    pub ttl: Duration,
}

/// What happened to a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written.
    Saved,
    /// Something changed since the read; nothing was written.
    Conflict,
    /// The request's key was recorded already; nothing was written.
    Replayed(RequestRecord),
}

/// How long idempotency records are kept: retries come within minutes, not days.
pub const REQUEST_TTL: Duration = Duration::from_secs(24 * 3600);

/// Carts by id, the user → cart index, and idempotency records.
pub trait CartStore: Send + Sync + 'static {
    /// The cart with this id; `None` when unknown or expired.
    fn load(&self, id: &CartId) -> impl Future<Output = Result<Option<Loaded>, StoreError>> + Send;

    /// The id of `user`'s cart, if the index has one (the cart may have expired since).
    fn cart_of(
        &self,
        user: &str,
    ) -> impl Future<Output = Result<Option<CartId>, StoreError>> + Send;

    /// Applies `write` atomically if everything it expects holds.
    fn write(&self, write: Write<'_>) -> impl Future<Output = Result<Outcome, StoreError>> + Send;

    /// The idempotency record under `key`, if kept.
    fn recall(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<RequestRecord>, StoreError>> + Send;
}

/// How carts and records are stored as text, the same in every adapter.
pub(crate) mod encoding {
    use super::{Revision, StoreError};
    use crate::domain::{Cart, RequestRecord};

    pub(crate) fn cart(cart: &Cart) -> Result<String, StoreError> {
        serde_json::to_string(cart).map_err(|e| StoreError::Failed(format!("encode cart: {e}")))
    }

    pub(crate) fn loaded(text: String) -> Result<super::Loaded, StoreError> {
        let cart: Cart =
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("cart: {e}")))?;
        Ok(super::Loaded {
            cart,
            revision: Revision(text),
        })
    }

    pub(crate) fn request(record: &RequestRecord) -> Result<String, StoreError> {
        serde_json::to_string(record)
            .map_err(|e| StoreError::Failed(format!("encode request record: {e}")))
    }

    pub(crate) fn record(text: &str) -> Result<RequestRecord, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("request record: {e}")))
    }
}
