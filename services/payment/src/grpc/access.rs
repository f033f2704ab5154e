//! Who may call what: checkout authorizes; internal services and admins capture, void and
//! refund; the paying user reads their own payments, admins and services any; only admins
//! read the ledger (the last is the method policy alone).

use mandi_runtime::auth::{Caller, roles};
use mandi_runtime::errors;
use tonic::{Code, Status};
use uuid::Uuid;

use super::DOMAIN;
use crate::domain::Payment;

/// Internal services allowed to create and authorize payments.
pub(super) const AUTHORIZING_SERVICES: &[&str] = &["checkout"];

/// Admins and internal services see every payment.
pub(super) fn sees_all(caller: &Caller) -> bool {
    caller.has_role(roles::ADMIN) || caller.has_role(roles::SERVICE)
}

/// Only the services in [`AUTHORIZING_SERVICES`] take payments.
pub(super) fn may_authorize(caller: &Caller) -> Result<(), Status> {
    if AUTHORIZING_SERVICES
        .iter()
        .any(|name| caller.is_service(name))
    {
        return Ok(());
    }
    Err(errors::status(
        Code::PermissionDenied,
        "only the checkout service may authorize payments",
        DOMAIN,
        "NOT_AN_AUTHORIZING_SERVICE",
    ))
}

/// The payer, admins and services may read a payment.
pub(super) fn may_read(caller: &Caller, payment: &Payment) -> Result<(), Status> {
    if sees_all(caller) || caller.subject == payment.user_id.to_string() {
        return Ok(());
    }
    Err(not_payer())
}

/// Whose payments a listing may show: anyone's for admins and services; for anyone else
/// only their own (an empty `user_id` means themselves).
pub(super) fn listing_user(caller: &Caller, user_id: Option<Uuid>) -> Result<Option<Uuid>, Status> {
    if sees_all(caller) {
        return Ok(user_id);
    }
    let own = Uuid::parse_str(&caller.subject).map_err(|_| not_payer())?;
    match user_id {
        None => Ok(Some(own)),
        Some(user) if user == own => Ok(Some(own)),
        Some(_) => Err(not_payer()),
    }
}

fn not_payer() -> Status {
    errors::status(
        Code::PermissionDenied,
        "customers may only read their own payments",
        DOMAIN,
        "NOT_PAYER",
    )
}
