//! The one place shipping errors become gRPC statuses.

use mandi_runtime::errors;
use mandi_runtime::paging::PagingError;
use tonic::{Code, Status};

use super::DOMAIN;
use crate::domain::ShippingError;
use crate::store::StoreError;

/// INVALID_ARGUMENT for a bad page size or token.
pub(super) fn paging_status(error: PagingError) -> Status {
    errors::invalid_argument(DOMAIN, [(error.field, error.description)])
}

/// The one place shipping errors become statuses.
pub(crate) fn to_status(error: ShippingError) -> Status {
    let (code, reason) = match &error {
        ShippingError::Invalid(violations) => {
            return errors::invalid_argument(
                DOMAIN,
                violations
                    .iter()
                    .map(|v| (v.field.clone(), v.description.clone())),
            );
        }
        ShippingError::NotFound(_) => (Code::NotFound, "NOT_FOUND"),
        ShippingError::Unserviceable { .. } => (Code::FailedPrecondition, "UNSERVICEABLE_ADDRESS"),
        ShippingError::SlotUnavailable { .. } => (Code::FailedPrecondition, "SLOT_UNAVAILABLE"),
        ShippingError::NoHold(_) => (Code::FailedPrecondition, "NO_SLOT_HELD"),
        ShippingError::HoldConfirmed(_) => (Code::FailedPrecondition, "SLOT_CONFIRMED"),
        ShippingError::IllegalTransition { .. } => (Code::FailedPrecondition, "ILLEGAL_TRANSITION"),
        ShippingError::WrongDeliveryCode { .. } => {
            (Code::FailedPrecondition, "WRONG_DELIVERY_CODE")
        }
        ShippingError::DeliveryCodeLocked => (Code::FailedPrecondition, "DELIVERY_CODE_LOCKED"),
        ShippingError::CashMismatch { .. } => (Code::FailedPrecondition, "CASH_MISMATCH"),
        ShippingError::NoRider(_) => (Code::FailedPrecondition, "NO_RIDER_AVAILABLE"),
        ShippingError::RiderUnsuitable { .. } => (Code::FailedPrecondition, "RIDER_UNSUITABLE"),
        ShippingError::NotAssignedRider => (Code::PermissionDenied, "NOT_ASSIGNED_RIDER"),
        ShippingError::RiderExists(_) => (Code::AlreadyExists, "RIDER_EXISTS"),
        ShippingError::KeyReused => (Code::InvalidArgument, "REQUEST_ID_REUSED"),
        ShippingError::Conflict(_) => (Code::Aborted, "CONCURRENT_CHANGE"),
        ShippingError::Peer { .. } => {
            tracing::warn!(%error, "peer call failed");
            (Code::Unavailable, "PEER_UNAVAILABLE")
        }
        ShippingError::Store(store @ StoreError::Unavailable(_)) => {
            return errors::unavailable(DOMAIN, store);
        }
        ShippingError::Store(store) => return errors::internal(DOMAIN, store),
    };
    errors::status(code, error.to_string(), DOMAIN, reason)
}
