//! Who may read and change whose data. A signed-in user reads and changes their own; an
//! admin reads and changes anyone's; an internal service (role `service`) reads anyone's
//! but changes nothing. Naming another user's id otherwise is PERMISSION_DENIED, as the
//! contract says; an address id of another user answers NOT_FOUND, so ids of other users'
//! addresses are not confirmed to exist.

use mandi_runtime::auth::{Caller, roles};
use mandi_runtime::errors;
use tonic::{Code, Status};
use uuid::Uuid;

use super::DOMAIN;
use super::convert::parse_id;
use super::status::to_status;
use crate::domain::{Address, ProfileError};

/// What a request does with the data it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Get and List.
    Read,
    /// Update, Create, Delete, SetDefault.
    Write,
}

/// The user id of a signed-in user; `None` for service identities.
fn user_of(caller: &Caller) -> Option<Uuid> {
    Uuid::parse_str(&caller.subject).ok()
}

fn may_touch(caller: &Caller, owner: Uuid, access: Access) -> bool {
    user_of(caller) == Some(owner)
        || caller.has_role(roles::ADMIN)
        || (access == Access::Read && caller.has_role(roles::SERVICE))
}

/// The user a request is about: `requested` (the request's `field`), or the caller when it
/// is empty. Refused with PERMISSION_DENIED when the caller may not `access` that user.
pub(super) fn target_user(
    caller: &Caller,
    field: &str,
    requested: &str,
    access: Access,
) -> Result<Uuid, Status> {
    let user = if requested.is_empty() {
        user_of(caller).ok_or_else(|| {
            to_status(ProfileError::invalid(
                field,
                "is required when an internal service calls",
            ))
        })?
    } else {
        parse_id(field, requested).map_err(to_status)?
    };
    if may_touch(caller, user, access) {
        return Ok(user);
    }
    let message = match access {
        Access::Read => "only the user, an admin or an internal service may read this profile",
        Access::Write => "only the user or an admin may change this profile",
    };
    Err(errors::status(
        Code::PermissionDenied,
        message,
        DOMAIN,
        "NOT_PROFILE_OWNER",
    ))
}

/// `address` when the caller may `access` it; NOT_FOUND (as if it did not exist) when it
/// is missing or the caller may not.
pub(super) fn visible(
    caller: &Caller,
    id: Uuid,
    address: Option<Address>,
    access: Access,
) -> Result<Address, Status> {
    address
        .filter(|a| may_touch(caller, a.user_id, access))
        .ok_or_else(|| to_status(ProfileError::address_not_found(id)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn caller(subject: &str, role: &str) -> Caller {
        Caller {
            subject: subject.into(),
            roles: vec![role.into()],
            service: (role == roles::SERVICE).then(|| "checkout".into()),
        }
    }

    #[test]
    fn an_empty_user_id_is_the_signed_in_caller() {
        let me = Uuid::now_v7();
        let customer = caller(&me.to_string(), roles::CUSTOMER);
        assert_eq!(
            target_user(&customer, "user_id", "", Access::Write).unwrap(),
            me
        );
    }

    #[test]
    fn customers_may_not_name_another_user() {
        let customer = caller(&Uuid::now_v7().to_string(), roles::CUSTOMER);
        let other = Uuid::now_v7().to_string();
        let err = target_user(&customer, "user_id", &other, Access::Read).unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }

    #[test]
    fn services_read_anyone_but_write_nobody_and_must_name_the_user() {
        let service = caller("service:checkout", roles::SERVICE);
        let user = Uuid::now_v7();
        assert_eq!(
            target_user(&service, "user_id", &user.to_string(), Access::Read).unwrap(),
            user
        );
        let write = target_user(&service, "user_id", &user.to_string(), Access::Write);
        assert_eq!(write.unwrap_err().code(), Code::PermissionDenied);
        let unnamed = target_user(&service, "user_id", "", Access::Read).unwrap_err();
        assert_eq!(unnamed.code(), Code::InvalidArgument);
    }

    #[test]
    fn admins_read_and_write_anyone() {
        let admin = caller(&Uuid::now_v7().to_string(), roles::ADMIN);
        let user = Uuid::now_v7().to_string();
        assert!(target_user(&admin, "user_id", &user, Access::Write).is_ok());
    }
}
