//! Who may see and change what: customers their own shipments (with the delivery code),
//! riders the shipments assigned to them (without it) and their own rider profile's
//! status and position, admins and internal services everything.

use mandi_runtime::auth::{Caller, roles};
use mandi_runtime::errors;
use tonic::{Code, Status};
use uuid::Uuid;

use super::DOMAIN;
use super::status::to_status;
use crate::domain::{Actor, Rider, RiderPatch, Shipment, ShipmentFilter};
use crate::service::Shipping;
use crate::store::ShippingStore;

fn denied(message: &str, reason: &str) -> Status {
    errors::status(Code::PermissionDenied, message, DOMAIN, reason)
}

fn sees_all(caller: &Caller) -> bool {
    caller.has_role(roles::ADMIN) || caller.has_role(roles::SERVICE)
}

fn user_id(caller: &Caller) -> Result<Uuid, Status> {
    Uuid::parse_str(&caller.subject).map_err(|_| denied("the caller is not a user", "NOT_A_USER"))
}

/// The caller as the use cases record them.
pub(super) fn actor_of(caller: &Caller) -> Result<Actor, Status> {
    if let Some(name) = caller
        .service
        .as_ref()
        .filter(|_| caller.has_role(roles::SERVICE))
    {
        return Ok(Actor::Service(name.clone()));
    }
    let id = user_id(caller)?;
    Ok(if caller.has_role(roles::ADMIN) {
        Actor::Admin(id)
    } else {
        Actor::User(id)
    })
}

/// The caller's rider profile when they have the delivery role.
pub(super) async fn riding_as<S: ShippingStore>(
    shipping: &Shipping<S>,
    caller: &Caller,
) -> Result<Option<Rider>, Status> {
    if !caller.has_role(roles::DELIVERY) {
        return Ok(None);
    }
    shipping
        .rider_of_user(user_id(caller)?)
        .await
        .map_err(to_status)
}

/// The caller's own rider profile, or PERMISSION_DENIED.
pub(super) async fn own_rider<S: ShippingStore>(
    shipping: &Shipping<S>,
    caller: &Caller,
) -> Result<Rider, Status> {
    riding_as(shipping, caller)
        .await?
        .ok_or_else(|| denied("the caller has no rider profile", "NOT_A_RIDER"))
}

/// The ordering user, the assigned rider, admins and services see a shipment.
pub(super) fn may_see(
    caller: &Caller,
    rider: Option<&Rider>,
    shipment: &Shipment,
) -> Result<(), Status> {
    let own = caller.subject == shipment.user_id.to_string();
    let riding = rider.is_some_and(|r| shipment.rider_id == Some(r.id));
    if sees_all(caller) || own || riding {
        Ok(())
    } else {
        Err(denied(
            "only the ordering customer, the assigned rider and staff see a shipment",
            "NOT_YOUR_SHIPMENT",
        ))
    }
}

/// Only the ordering user and admins see the proof-of-delivery code.
pub(super) fn shows_code(caller: &Caller, shipment: &Shipment) -> bool {
    caller.has_role(roles::ADMIN) || caller.subject == shipment.user_id.to_string()
}

/// Narrows a listing to what the caller may see: riders their assigned shipments,
/// customers their own.
pub(super) async fn narrow<S: ShippingStore>(
    shipping: &Shipping<S>,
    caller: &Caller,
    filter: &mut ShipmentFilter,
) -> Result<(), Status> {
    if sees_all(caller) {
        return Ok(());
    }
    if let Some(rider) = riding_as(shipping, caller).await? {
        if filter.rider_id.is_some_and(|r| r != rider.id) {
            return Err(denied(
                "riders list only their own shipments",
                "NOT_YOUR_SHIPMENT",
            ));
        }
        filter.rider_id = Some(rider.id);
        return Ok(());
    }
    let own = user_id(caller)?;
    if filter.user_id.is_some_and(|u| u != own) {
        return Err(denied(
            "customers list only their own shipments",
            "NOT_YOUR_SHIPMENT",
        ));
    }
    filter.user_id = Some(own);
    Ok(())
}

/// The assigned rider, admins and services move a shipment along.
pub(super) async fn may_move<S: ShippingStore>(
    shipping: &Shipping<S>,
    caller: &Caller,
    shipment: &Shipment,
) -> Result<(), Status> {
    if sees_all(caller) {
        return Ok(());
    }
    let rider = riding_as(shipping, caller).await?;
    if rider.is_some_and(|r| shipment.rider_id == Some(r.id)) {
        Ok(())
    } else {
        Err(denied(
            "only the assigned rider and staff change a shipment's status",
            "NOT_ASSIGNED_RIDER",
        ))
    }
}

/// The rider themself, admins and services read a rider.
pub(super) fn may_see_rider(caller: &Caller, rider: &Rider) -> Result<(), Status> {
    if sees_all(caller) || caller.subject == rider.user_id.to_string() {
        Ok(())
    } else {
        Err(denied(
            "riders see only their own profile",
            "NOT_YOUR_RIDER",
        ))
    }
}

/// Admins change any rider field; riders only their own status and position.
pub(super) fn may_change_rider(
    caller: &Caller,
    rider: &Rider,
    patch: &RiderPatch,
) -> Result<(), Status> {
    if caller.has_role(roles::ADMIN) {
        return Ok(());
    }
    if caller.subject != rider.user_id.to_string() {
        return Err(denied(
            "riders change only their own profile",
            "NOT_YOUR_RIDER",
        ));
    }
    if !patch.is_riders_own() {
        return Err(denied(
            "riders change only their status and last_location; ask an admin for the rest",
            "FIELD_NOT_RIDERS_OWN",
        ));
    }
    Ok(())
}
