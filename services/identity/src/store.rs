//! The storage ports identity needs; adapters live in `store/`.

pub mod memory;
pub mod postgres;
pub mod redis;

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Email, RefreshRecord, Role, Rotation, SigningKeyRecord, User};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken (the email).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database or cache cannot be reached right now; retrying may help.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation; retrying will not help.
    #[error("storage operation failed: {0}")]
    Failed(String),
    /// A stored row could not be read back into a domain value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// Users, refresh tokens and signing keys.
pub trait IdentityStore: Send + Sync + 'static {
    /// Stores a new user, remembering the Register call's idempotency key if any. A taken
    /// email or key is [`StoreError::Conflict`].
    fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        request_id: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user with this email and their password hash.
    fn user_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<(User, String)>, StoreError>> + Send;

    /// The user created by the Register call with this idempotency key.
    fn user_by_request_id(
        &self,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Whether any user holds the admin role.
    fn admin_exists(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The user with this id.
    fn user_by_id(&self, id: Uuid)
    -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Changes a user's role; `None` when there is no such user.
    fn set_role(
        &self,
        id: Uuid,
        role: Role,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Stores a refresh token issued at login.
    fn insert_refresh(
        &self,
        record: &RefreshRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Atomically spends the token hashed `presented` and stores `successor` in the same
    /// family. A spent or revoked token revokes its family instead.
    fn rotate_refresh(
        &self,
        presented: &str,
        successor: RefreshRecord,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Rotation, StoreError>> + Send;

    /// Deletes refresh tokens that expired before `now`; returns how many.
    fn purge_expired_refresh(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Revokes the family of the token hashed `token_hash`; no-op when unknown.
    fn revoke_family(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every signing key, newest first.
    fn signing_keys(
        &self,
    ) -> impl Future<Output = Result<Vec<SigningKeyRecord>, StoreError>> + Send;

    /// Stores `key` as the newest signing key and retires the others at `key.created_at`.
    fn rotate_signing_key(
        &self,
        key: &SigningKeyRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// An attempt counter in a fixed window, for login throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Attempts counted so far in the window.
    pub failures: u32,
    /// Time until the window ends and the count resets.
    pub resets_in: Duration,
}

/// Counts attempts per key (an account or a source address).
///
/// An attempt is counted *before* the password is checked, atomically, so a burst of
/// parallel guesses cannot all slip under the limit; a success then takes its count back.
pub trait AttemptCounter: Send + Sync + 'static {
    /// The current window of `key`, if any attempt is counted.
    fn window(&self, key: &str) -> impl Future<Output = Result<Option<Window>, StoreError>> + Send;

    /// Counts an attempt, starting a window of length `window` at the first one, and
    /// returns the count including this one.
    fn record_attempt(
        &self,
        key: &str,
        window: Duration,
    ) -> impl Future<Output = Result<Window, StoreError>> + Send;

    /// Takes back one counted attempt (it succeeded).
    fn forgive(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets every attempt of `key` (the account signed in).
    fn reset(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
