//! The one place payment errors become gRPC statuses.

use mandi_runtime::errors;
use mandi_runtime::paging::PagingError;
use tonic::{Code, Status};

use super::DOMAIN;
use crate::domain::{PaymentError, PaymentStatus};
use crate::store::StoreError;

/// INVALID_ARGUMENT for a bad page size or token.
pub(super) fn paging_status(error: PagingError) -> Status {
    errors::invalid_argument(DOMAIN, [(error.field, error.description)])
}

/// The ErrorInfo reason of a payment that cannot take an action in its status.
fn wrong_state_reason(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Declined => "PAYMENT_DECLINED",
        PaymentStatus::Failed => "PAYMENT_FAILED",
        PaymentStatus::Voided => "PAYMENT_VOIDED",
        PaymentStatus::Captured | PaymentStatus::PartiallyRefunded | PaymentStatus::Refunded => {
            "PAYMENT_CAPTURED"
        }
        PaymentStatus::Pending | PaymentStatus::Authorized => "PAYMENT_NOT_CAPTURED",
    }
}

/// The one place payment errors become statuses.
pub(super) fn to_status(error: PaymentError) -> Status {
    let reason = match &error {
        PaymentError::Invalid(violations) => {
            return errors::invalid_argument(
                DOMAIN,
                violations
                    .iter()
                    .map(|v| (v.field.clone(), v.description.clone())),
            );
        }
        // The key was used for another request: a conflict with what is stored, as order
        // reports it too.
        PaymentError::KeyReused => "REQUEST_ID_REUSED",
        PaymentError::NotFound(_) => {
            return errors::status(
                Code::NotFound,
                error.to_string(),
                DOMAIN,
                "PAYMENT_NOT_FOUND",
            );
        }
        PaymentError::InProgress => {
            return errors::status(
                Code::Aborted,
                error.to_string(),
                DOMAIN,
                "REQUEST_IN_PROGRESS",
            );
        }
        PaymentError::AlreadyPaid { .. } => "ORDER_ALREADY_PAID",
        PaymentError::WrongState { status, .. } => wrong_state_reason(*status),
        PaymentError::CaptureExceedsAuthorized { .. } => "CAPTURE_EXCEEDS_AUTHORIZED",
        PaymentError::RefundExceedsCaptured { .. } => "REFUND_EXCEEDS_CAPTURED",
        PaymentError::Gateway(_) => {
            tracing::warn!(%error, "gateway call failed");
            return errors::status(
                Code::Unavailable,
                error.to_string(),
                DOMAIN,
                "GATEWAY_UNAVAILABLE",
            );
        }
        PaymentError::Store(store @ StoreError::Unavailable(_)) => {
            return errors::unavailable(DOMAIN, store);
        }
        PaymentError::Store(store) => return errors::internal(DOMAIN, store),
    };
    errors::status(Code::FailedPrecondition, error.to_string(), DOMAIN, reason)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tonic_types::StatusExt as _;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{Failure, FailureReason};

    #[test]
    fn a_declined_payment_is_a_failed_precondition_saying_declined() {
        let status = to_status(PaymentError::WrongState {
            payment_id: Uuid::now_v7(),
            status: PaymentStatus::Declined,
            action: "capture",
            failure: Some(Failure {
                reason: FailureReason::InsufficientFunds,
                message: "your card has insufficient funds".into(),
            }),
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(
            status.message().contains("declined (insufficient funds"),
            "{}",
            status.message()
        );
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            "PAYMENT_DECLINED"
        );
    }

    #[test]
    fn a_reused_key_is_a_failed_precondition_saying_so() {
        let status = to_status(PaymentError::KeyReused);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert!(status.message().contains("request_id was already used"));
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "REQUEST_ID_REUSED");
    }

    #[test]
    fn store_failures_do_not_leak() {
        let status = to_status(PaymentError::Store(StoreError::Failed(
            "password=hunter2".into(),
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
