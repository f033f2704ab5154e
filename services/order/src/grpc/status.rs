//! The one place order errors become gRPC statuses.

use std::collections::HashMap;

use mandi_runtime::errors;
use mandi_runtime::paging::PagingError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::DOMAIN;
use crate::domain::OrderError;
use crate::store::StoreError;

/// INVALID_ARGUMENT for a bad page size or token.
pub(super) fn paging_status(error: PagingError) -> Status {
    errors::invalid_argument(DOMAIN, [(error.field, error.description)])
}

fn with_metadata(code: Code, message: String, reason: &str, metadata: &[(&str, String)]) -> Status {
    let metadata: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let details = ErrorDetails::with_error_info(reason, DOMAIN, metadata);
    Status::with_error_details(code, message, details)
}

/// The one place order errors become statuses.
pub(super) fn to_status(error: OrderError) -> Status {
    let message = error.to_string();
    match error {
        OrderError::Invalid(violations) => errors::invalid_argument(
            DOMAIN,
            violations.into_iter().map(|v| (v.field, v.description)),
        ),
        OrderError::NotFound(_) => {
            errors::status(Code::NotFound, message, DOMAIN, "ORDER_NOT_FOUND")
        }
        OrderError::IllegalTransition { current, requested } => with_metadata(
            Code::FailedPrecondition,
            message,
            "ILLEGAL_TRANSITION",
            &[
                ("current", current.to_string()),
                ("requested", requested.to_string()),
            ],
        ),
        OrderError::NotPermitted {
            current, requested, ..
        } => with_metadata(
            Code::FailedPrecondition,
            message,
            "TRANSITION_NOT_PERMITTED",
            &[
                ("current", current.to_string()),
                ("requested", requested.to_string()),
            ],
        ),
        OrderError::Unexpected {
            current, version, ..
        } => with_metadata(
            Code::Aborted,
            message,
            "STATUS_MISMATCH",
            &[
                ("current", current.to_string()),
                ("version", version.to_string()),
            ],
        ),
        OrderError::Concurrent { current } => with_metadata(
            Code::Aborted,
            message,
            "CONCURRENT_CHANGE",
            &[("current", current.to_string())],
        ),
        OrderError::RequestReused => with_metadata(
            Code::FailedPrecondition,
            message,
            "REQUEST_ID_REUSED",
            &[("field", "request_id".to_owned())],
        ),
        OrderError::Store(store @ StoreError::Unavailable(_)) => {
            errors::unavailable(DOMAIN, &store)
        }
        OrderError::Store(store) => errors::internal(DOMAIN, &store),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::OrderStatus;

    #[test]
    fn an_illegal_transition_names_the_current_status_in_message_and_error_info() {
        let status = to_status(OrderError::IllegalTransition {
            current: OrderStatus::Packed,
            requested: OrderStatus::Created,
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("PACKED"), "{}", status.message());
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "ILLEGAL_TRANSITION");
        assert_eq!(info.metadata["current"], "PACKED");
        assert_eq!(info.metadata["requested"], "CREATED");
    }

    #[test]
    fn store_failures_do_not_leak() {
        let status = to_status(OrderError::Store(StoreError::Failed(
            "password=hunter2".into(),
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
