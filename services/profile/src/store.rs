//! The storage port profile needs; adapters live in `store/`.
//!
//! Every write creates the user's profile row when it is missing (profiles appear on first
//! use) and runs under a per-user lock, so concurrent writes of one user's address book are
//! applied one after another: the user always has exactly one default address when they
//! have any, never zero and never two.

pub mod memory;
pub mod postgres;

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    Address, AddressCursor, AddressPatch, Preferences, PreferencesPatch, Profile, ProfileError,
    ProfilePatch, RequestRecord,
};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule of the database refused the write.
    #[error("conflict: {0}")]
    Conflict(String),
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

/// Profiles, address books, preferences and idempotency records.
pub trait ProfileStore: Send + Sync + 'static {
    /// The stored profile of `user_id`; `None` when the user never wrote anything.
    fn profile(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<Option<Profile>, ProfileError>> + Send;

    /// Applies `patch` to the user's profile (creating it) at `now`; returns the result.
    fn update_profile(
        &self,
        user_id: Uuid,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Profile, ProfileError>> + Send;

    /// Up to `limit` addresses of `user_id` in listing order (the default first, then
    /// newest first), starting after `after`.
    fn list_addresses(
        &self,
        user_id: Uuid,
        after: Option<AddressCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Address>, ProfileError>> + Send;

    /// The address with this id, whoever owns it.
    fn address(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Address>, ProfileError>> + Send;

    /// Saves `address` for its user (creating the profile). It becomes the default when
    /// `make_default` is set or the user has no other address, clearing the flag on the
    /// others; returns it as stored. A user who already has [`crate::domain::MAX_ADDRESSES`]
    /// is `TooManyAddresses`.
    fn create_address(
        &self,
        address: &Address,
        make_default: bool,
    ) -> impl Future<Output = Result<Address, ProfileError>> + Send;

    /// Applies `patch` to the address at `now`; `None` when it does not exist.
    fn update_address(
        &self,
        id: Uuid,
        patch: &AddressPatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Address>, ProfileError>> + Send;

    /// Deletes the address. When it was the default, the most recently updated remaining
    /// address becomes the default (changed at `now`) and is returned. An address already
    /// gone is `Ok(None)`.
    fn delete_address(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Address>, ProfileError>> + Send;

    /// Makes the address its user's default and clears the flag on the others, atomically
    /// (both changed at `now`; nothing changes when it already is the default). `None` when
    /// it does not exist.
    fn set_default_address(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<Address>, ProfileError>> + Send;

    /// The stored preferences of `user_id`; `None` when never saved.
    fn preferences(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<Option<Preferences>, ProfileError>> + Send;

    /// Applies `patch` to the user's preferences (starting from the defaults, creating the
    /// profile) at `now`; returns the result.
    fn update_preferences(
        &self,
        user_id: Uuid,
        patch: &PreferencesPatch,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Preferences, ProfileError>> + Send;

    /// The record of an idempotency key, if any.
    fn recall_request(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<RequestRecord>, ProfileError>> + Send;

    /// Records what a keyed request did; the first record of a key wins.
    fn remember_request(
        &self,
        record: &RequestRecord,
    ) -> impl Future<Output = Result<(), ProfileError>> + Send;
}
