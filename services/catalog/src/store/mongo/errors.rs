//! How driver errors become [`StoreError`]s, and the unique indexes whose duplicate-key
//! errors are conflicts.

use mongodb::error::{ErrorKind, WriteFailure};

use crate::store::StoreError;

/// Index names the duplicate-key mapping looks for in a server's 11000 message.
pub(super) const SLUG_INDEX: &str = "slug_unique";
pub(super) const REQUEST_ID_INDEX: &str = "request_id_unique";
pub(super) const AUTHOR_INDEX: &str = "product_author_unique";
pub(super) const ID_INDEX: &str = "id_unique";
pub(super) const REQUEST_KEY_INDEX: &str = "key_unique";

/// Server error codes that mean the server is failing over, starting or stopping (the
/// driver's "not writable primary", "node is recovering" and "shutting down" sets, plus
/// network timeouts reported by the server): worth a retry.
const TRANSIENT_CODES: &[i32] = &[
    6, 7, 89, 91, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436,
];

/// Connection trouble is UNAVAILABLE (worth a retry), an unreadable document is CORRUPT,
/// anything else the server refused is a plain failure.
pub(super) fn backend(error: mongodb::error::Error) -> StoreError {
    match error.kind.as_ref() {
        ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::Shutdown => StoreError::Unavailable(error.to_string()),
        ErrorKind::Command(command) if TRANSIENT_CODES.contains(&command.code) => {
            StoreError::Unavailable(error.to_string())
        }
        ErrorKind::BsonDeserialization(_) => StoreError::Corrupt(error.to_string()),
        _ => StoreError::Failed(error.to_string()),
    }
}

/// The message of a duplicate-key error (code 11000), from an insert or an update.
fn duplicate_key(error: &mongodb::error::Error) -> Option<&str> {
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) if write.code == 11000 => {
            Some(&write.message)
        }
        ErrorKind::Command(command) if command.code == 11000 => Some(&command.message),
        _ => None,
    }
}

/// Maps a failed write: a duplicate key on one of `unique` (index name, conflict name) is
/// that conflict, anything else goes through [`backend`].
pub(super) fn write_error(
    error: mongodb::error::Error,
    unique: &[(&str, &'static str)],
) -> StoreError {
    if let Some(message) = duplicate_key(&error) {
        // The server names the index: "E11000 duplicate key error collection: db.products
        // index: slug_unique dup key: { slug: \"x\" }".
        for (index, conflict) in unique {
            if message.contains(&format!("index: {index} ")) {
                return StoreError::Conflict(conflict);
            }
        }
        return StoreError::Failed(format!("unexpected duplicate key: {message}"));
    }
    backend(error)
}

/// Unique values of products and categories.
pub(super) const SLUG_AND_REQUEST_ID: &[(&str, &str)] =
    &[(SLUG_INDEX, "slug"), (REQUEST_ID_INDEX, "request_id")];
/// Unique values of reviews.
pub(super) const REVIEW_UNIQUE: &[(&str, &str)] =
    &[(AUTHOR_INDEX, "author"), (REQUEST_ID_INDEX, "request_id")];
