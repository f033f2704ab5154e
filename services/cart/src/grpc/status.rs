//! The one place cart errors become gRPC statuses.

use mandi_runtime::errors;
use tonic::{Code, Status};

use super::DOMAIN;
use crate::domain::CartError;
use crate::store::StoreError;

/// The status for `error`, with ErrorInfo (and BadRequest for bad input).
pub(super) fn to_status(error: CartError) -> Status {
    match error {
        CartError::Invalid(violation) => {
            errors::invalid_argument(DOMAIN, [(violation.field, violation.description)])
        }
        CartError::NotFound(ref what) => {
            let reason = match what.split_whitespace().next() {
                Some("product") => "PRODUCT_NOT_FOUND",
                _ => "CART_NOT_FOUND",
            };
            errors::status(Code::NotFound, error.to_string(), DOMAIN, reason)
        }
        CartError::Forbidden(ref message) => {
            errors::status(Code::PermissionDenied, message, DOMAIN, "NOT_CART_OWNER")
        }
        CartError::Precondition {
            reason,
            ref message,
        } => errors::status(Code::FailedPrecondition, message, DOMAIN, reason),
        CartError::CatalogUnavailable(_) => errors::status(
            Code::Unavailable,
            "the catalog is unavailable, so prices cannot be read; retry later",
            DOMAIN,
            "CATALOG_UNAVAILABLE",
        ),
        CartError::Contended => {
            errors::status(Code::Aborted, error.to_string(), DOMAIN, "CART_CONTENDED")
        }
        CartError::Store(ref store @ StoreError::Unavailable(_)) => {
            errors::unavailable(DOMAIN, store)
        }
        CartError::Store(ref store) => errors::internal(DOMAIN, store),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    fn bad_input_names_the_field() {
        let status = to_status(CartError::invalid("quantity", "must be greater than 0"));
        assert_eq!(status.code(), Code::InvalidArgument);
        let bad = status.get_details_bad_request().unwrap();
        assert_eq!(bad.field_violations[0].field, "quantity");
    }

    #[test]
    fn storage_failures_do_not_leak() {
        let status = to_status(CartError::Store(StoreError::Failed(
            "redis://:hunter2@".into(),
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }

    #[test]
    fn an_unknown_product_is_not_found_with_its_reason() {
        let status = to_status(CartError::NotFound("product 42".into()));
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            "PRODUCT_NOT_FOUND"
        );
    }
}
