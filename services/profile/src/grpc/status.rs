//! The one place profile errors become gRPC statuses.

use mandi_runtime::errors;
use mandi_runtime::paging::PagingError;
use tonic::{Code, Status};

use super::DOMAIN;
use crate::domain::ProfileError;
use crate::store::StoreError;

/// INVALID_ARGUMENT for a bad page size or token.
pub(super) fn paging_status(error: PagingError) -> Status {
    errors::invalid_argument(DOMAIN, [(error.field, error.description)])
}

/// The one place profile errors become statuses.
pub(super) fn to_status(error: ProfileError) -> Status {
    match error {
        ProfileError::Invalid(violations) => errors::invalid_argument(
            DOMAIN,
            violations.into_iter().map(|v| (v.field, v.description)),
        ),
        ProfileError::NotFound(ref what) => {
            let reason = if what.starts_with("address") {
                "ADDRESS_NOT_FOUND"
            } else {
                "NOT_FOUND"
            };
            errors::status(Code::NotFound, error.to_string(), DOMAIN, reason)
        }
        ProfileError::TooManyAddresses => errors::status(
            Code::FailedPrecondition,
            error.to_string(),
            DOMAIN,
            "TOO_MANY_ADDRESSES",
        ),
        // The per-user lock makes this a race the schema caught, not a bad request: the
        // caller may simply retry.
        ProfileError::Store(StoreError::Conflict(_)) => errors::status(
            Code::Aborted,
            "a concurrent change to the same address book won, retry",
            DOMAIN,
            "CONCURRENT_CHANGE",
        ),
        ProfileError::Store(store @ StoreError::Unavailable(_)) => {
            errors::unavailable(DOMAIN, &store)
        }
        ProfileError::Store(ref store) => errors::internal(DOMAIN, store),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn a_full_address_book_is_a_failed_precondition() {
        let status = to_status(ProfileError::TooManyAddresses);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            "TOO_MANY_ADDRESSES"
        );
    }

    #[test]
    fn store_failures_do_not_leak() {
        let status = to_status(ProfileError::Store(StoreError::Failed(
            "password=hunter2".into(),
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
