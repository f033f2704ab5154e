//! The one mapping from checkout errors to `tonic::Status`, with ErrorInfo in domain
//! `mandi.checkout`: bad input is INVALID_ARGUMENT with BadRequest, a failed saga
//! FAILED_PRECONDITION with its reason (OUT_OF_STOCK with a PreconditionFailure naming
//! the short lines, PAYMENT_DECLINED, …), never INTERNAL unless it was one.

use std::collections::HashMap;

use mandi_runtime::errors;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, PreconditionViolation, StatusExt as _};

use super::DOMAIN;
use super::convert::reason_to_proto;
use crate::domain::{Failure, FailureReason};
use crate::saga::CheckoutError;

/// The status a caller gets for `error`.
pub fn status(error: CheckoutError) -> Status {
    match error {
        CheckoutError::Invalid(violations) => errors::invalid_argument(DOMAIN, violations),
        CheckoutError::NotFound(what) => errors::status(
            Code::NotFound,
            format!("{what} not found"),
            DOMAIN,
            "NOT_FOUND",
        ),
        CheckoutError::CartEmpty => errors::status(
            Code::FailedPrecondition,
            "the cart is empty: add products before checking out",
            DOMAIN,
            "CART_EMPTY",
        ),
        CheckoutError::Unserviceable(message) => errors::status(
            Code::FailedPrecondition,
            message,
            DOMAIN,
            "UNSERVICEABLE_ADDRESS",
        ),
        CheckoutError::SlotUnavailable(message) => errors::status(
            Code::FailedPrecondition,
            message,
            DOMAIN,
            "SLOT_UNAVAILABLE",
        ),
        CheckoutError::RequestReused => errors::status(
            Code::InvalidArgument,
            "request_id was already used for a different checkout",
            DOMAIN,
            "REQUEST_ID_REUSED",
        ),
        CheckoutError::Failed(failure) => failed(&failure),
        CheckoutError::Peer(error) => errors::unavailable(DOMAIN, &error),
        CheckoutError::Store(error) => errors::unavailable(DOMAIN, &error),
    }
}

/// A saga's failure as the status StartCheckout (with `wait`) answers.
pub fn failed(failure: &Failure) -> Status {
    let reason = reason_to_proto(failure.reason).as_str_name();
    let reason = reason.strip_prefix("FAILURE_REASON_").unwrap_or(reason);
    let code = match failure.reason {
        FailureReason::ServiceUnavailable => Code::Unavailable,
        FailureReason::Internal => Code::Internal,
        _ => Code::FailedPrecondition,
    };
    let mut metadata = HashMap::new();
    if failure.payment_failure_reason != 0 {
        let payment = mandi_sdk::proto::mandi::payment::v1::FailureReason::try_from(
            failure.payment_failure_reason,
        )
        .map(|r| r.as_str_name().to_owned())
        .unwrap_or_default();
        metadata.insert("payment_failure_reason".to_owned(), payment);
    }
    let mut details = ErrorDetails::with_error_info(reason, DOMAIN, metadata);
    if !failure.short_lines.is_empty() {
        details.set_precondition_failure(
            failure
                .short_lines
                .iter()
                .map(|s| {
                    PreconditionViolation::new(
                        "INSUFFICIENT_STOCK",
                        format!("products/{}", s.product_id),
                        format!("requested {}, available {}", s.requested, s.available),
                    )
                })
                .collect::<Vec<_>>(),
        );
    }
    Status::with_error_details(code, failure.message.clone(), details)
}
