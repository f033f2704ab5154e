//! The one place catalog errors become gRPC statuses.

use mandi_runtime::errors;
use mandi_runtime::paging::PagingError;
use tonic::{Code, Status};

use super::DOMAIN;
use crate::domain::CatalogError;
use crate::store::StoreError;

/// INVALID_ARGUMENT for a bad page size or token.
pub(super) fn paging_status(error: PagingError) -> Status {
    errors::invalid_argument(DOMAIN, [(error.field, error.description)])
}

/// The one place catalog errors become statuses.
pub(super) fn to_status(error: CatalogError) -> Status {
    match error {
        CatalogError::Invalid(violations) => errors::invalid_argument(
            DOMAIN,
            violations.into_iter().map(|v| (v.field, v.description)),
        ),
        CatalogError::NotFound { kind, .. } => errors::status(
            Code::NotFound,
            error.to_string(),
            DOMAIN,
            match kind {
                "category" => "CATEGORY_NOT_FOUND",
                _ => "PRODUCT_NOT_FOUND",
            },
        ),
        CatalogError::Forbidden(_) => errors::status(
            Code::PermissionDenied,
            error.to_string(),
            DOMAIN,
            "NOT_OWNER",
        ),
        CatalogError::AlreadyExists(_) => errors::status(
            Code::AlreadyExists,
            error.to_string(),
            DOMAIN,
            "ALREADY_EXISTS",
        ),
        CatalogError::VersionMismatch { .. } => {
            errors::status(Code::Aborted, error.to_string(), DOMAIN, "VERSION_MISMATCH")
        }
        CatalogError::FailedPrecondition(_) => errors::status(
            Code::FailedPrecondition,
            error.to_string(),
            DOMAIN,
            "FAILED_PRECONDITION",
        ),
        CatalogError::Store(store @ StoreError::Unavailable(_)) => {
            errors::unavailable(DOMAIN, &store)
        }
        CatalogError::Store(ref store) => errors::internal(DOMAIN, store),
        CatalogError::Search(_) => errors::internal(DOMAIN, &error),
    }
}
