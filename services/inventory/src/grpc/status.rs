//! The one place inventory errors become gRPC statuses.

use std::collections::HashMap;

use mandi_runtime::errors;
use mandi_runtime::paging::PagingError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, PreconditionViolation, StatusExt};

use super::DOMAIN;
use crate::domain::InventoryError;
use crate::store::StoreError;

/// INVALID_ARGUMENT for a bad page size or token.
pub(super) fn paging_status(error: PagingError) -> Status {
    errors::invalid_argument(DOMAIN, [(error.field, error.description)])
}

/// The one place inventory errors become statuses.
pub(super) fn to_status(error: InventoryError) -> Status {
    match error {
        InventoryError::Invalid(violations) => errors::invalid_argument(
            DOMAIN,
            violations.into_iter().map(|v| (v.field, v.description)),
        ),
        InventoryError::InsufficientStock(ref short) => {
            // The contract: ErrorInfo INSUFFICIENT_STOCK and one PreconditionFailure
            // violation per short line, so checkout can tell the shopper what ran out.
            let violations = short
                .iter()
                .map(|line| {
                    PreconditionViolation::new(
                        "INSUFFICIENT_STOCK",
                        format!("products/{}", line.product_id),
                        format!("requested {}, available {}", line.requested, line.available),
                    )
                })
                .collect::<Vec<_>>();
            let mut details = ErrorDetails::with_precondition_failure(violations);
            details.set_error_info("INSUFFICIENT_STOCK", DOMAIN, HashMap::new());
            Status::with_error_details(Code::FailedPrecondition, error.to_string(), details)
        }
        InventoryError::ReservationExists { .. } => errors::status(
            Code::AlreadyExists,
            error.to_string(),
            DOMAIN,
            "RESERVATION_EXISTS",
        ),
        InventoryError::ReservationClosed { .. } => errors::status(
            Code::FailedPrecondition,
            error.to_string(),
            DOMAIN,
            "RESERVATION_CLOSED",
        ),
        InventoryError::BelowReserved { .. } => errors::status(
            Code::FailedPrecondition,
            error.to_string(),
            DOMAIN,
            "BELOW_RESERVED",
        ),
        InventoryError::NoColdStorage { .. } => errors::status(
            Code::FailedPrecondition,
            error.to_string(),
            DOMAIN,
            "NO_COLD_STORAGE",
        ),
        InventoryError::NotFound(ref what) => {
            // The stores name the thing first: "batch …", "reservation of order …".
            let reason = match what.split_whitespace().next() {
                Some("batch") => "BATCH_NOT_FOUND",
                Some("reservation") => "RESERVATION_NOT_FOUND",
                Some("warehouse") => "WAREHOUSE_NOT_FOUND",
                _ => "NOT_FOUND",
            };
            errors::status(Code::NotFound, error.to_string(), DOMAIN, reason)
        }
        InventoryError::CatalogUnavailable(_) => errors::unavailable(DOMAIN, &error),
        InventoryError::Store(StoreError::Conflict(ref field)) => errors::status(
            Code::AlreadyExists,
            format!("a warehouse with this {field} already exists"),
            DOMAIN,
            "WAREHOUSE_CODE_TAKEN",
        ),
        InventoryError::Store(store @ StoreError::Unavailable(_)) => {
            errors::unavailable(DOMAIN, &store)
        }
        InventoryError::Store(ref store) => errors::internal(DOMAIN, store),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use uuid::Uuid;

    use super::*;
    use crate::domain::ShortLine;

    #[test]
    fn short_stock_names_each_short_product_in_a_precondition_failure() {
        let product = Uuid::now_v7();
        let status = to_status(InventoryError::InsufficientStock(vec![ShortLine {
            product_id: product,
            requested: 7,
            available: 3,
        }]));
        assert_eq!(status.code(), Code::FailedPrecondition);
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "INSUFFICIENT_STOCK");
        let violation = &details.precondition_failure().unwrap().violations[0];
        assert_eq!(violation.r#type, "INSUFFICIENT_STOCK");
        assert_eq!(violation.subject, format!("products/{product}"));
        assert_eq!(violation.description, "requested 7, available 3");
    }

    #[test]
    fn store_failures_do_not_leak() {
        let status = to_status(InventoryError::Store(StoreError::Failed(
            "password=hunter2".into(),
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
