//! Profile's types and rules: profiles, the address book with its one default, shopping
//! preferences, the formats of phone numbers and postal codes, update masks, and the errors
//! the service can report. No I/O and no proto types here.

mod address;
mod formats;
mod mask;
mod preferences;
mod profile;
#[cfg(test)]
mod tests;

pub use address::{
    Address, AddressCursor, AddressFields, AddressPatch, GeoPoint, MAX_ADDRESSES, PostalAddress,
};
pub use formats::{validate_phone, validate_postal_code};
pub use mask::UpdateMask;
pub use preferences::{Channel, DeliveryWindow, PreferenceValues, Preferences, PreferencesPatch};
pub use profile::{MAX_DISPLAY_NAME_CHARS, Profile, ProfilePatch};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::StoreError;

/// A bad input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, as named in the contract (`address.postal_address.postal_code`).
    pub field: String,
    /// What is wrong and what is expected.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Everything profile can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Bad input; every bad field is named.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    /// No such thing; the message names it (`address 0190…`).
    #[error("{0} not found")]
    NotFound(String),
    /// The user's address book is full.
    #[error("a user has at most {MAX_ADDRESSES} saved addresses; delete one first")]
    TooManyAddresses,
    /// The store failed.
    #[error("profile store failed: {0}")]
    Store(#[from] StoreError),
}

impl ProfileError {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }

    /// No address with this id (for this caller).
    pub fn address_not_found(id: Uuid) -> Self {
        Self::NotFound(format!("address {id}"))
    }
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What an idempotent mutation keyed by `request_id` did (AIP-155), so a retry is answered
/// with the original result. The first record of a key wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// `{caller subject}/{request_id}`.
    pub key: String,
    /// The method and a hash of its arguments.
    pub fingerprint: String,
    /// What the first call made or changed (a user or address id); `None` when it left
    /// nothing to point at (a delete that promoted no default).
    pub target: Option<Uuid>,
}

/// The current instant in whole microseconds: what PostgreSQL keeps, so a first answer and
/// a later read of the same row agree.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Collects the violations of one value's fields, each named under `prefix`.
#[derive(Debug, Default)]
pub(crate) struct Violations {
    prefix: String,
    found: Vec<FieldViolation>,
}

impl Violations {
    /// Violations of fields under `prefix` (`"address."`; empty for top-level fields).
    pub(crate) fn under(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            found: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, field: &str, description: impl Into<String>) {
        self.found.push(FieldViolation::new(
            format!("{}{field}", self.prefix),
            description,
        ));
    }

    /// Records `result`'s error, if any, against `field`.
    pub(crate) fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(description) = result {
            self.add(field, description);
        }
    }

    /// Text of at most `max` characters, without control characters.
    pub(crate) fn text(&mut self, field: &str, value: &str, max: usize) {
        self.check(field, text(value, max));
    }

    /// Required text of at most `max` characters.
    pub(crate) fn required_text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "is required");
        } else {
            self.text(field, value, max);
        }
    }

    /// Takes over the violations `other` found (named under its own prefix).
    pub(crate) fn absorb(&mut self, other: Violations) {
        self.found.extend(other.found);
    }

    /// `Ok(value)` when nothing was found, else every violation.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, ProfileError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(ProfileError::Invalid(self.found))
        }
    }
}

/// Text of at most `max` characters, without control characters.
fn text(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}
