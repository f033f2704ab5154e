//! Who sees which orders, and how much of them: staff (admins, internal services) and the
//! ordering customer everything; vendors the orders holding their products, showing only
//! their own items and no destination or payment; delivery staff PACKED and SHIPPED orders
//! without payment details. Anyone else is told the order does not exist.

use mandi_runtime::auth::{Caller, roles};
use mandi_runtime::errors;
use mandi_sdk::proto::mandi::order::v1 as pb;
use tonic::{Code, Status};
use uuid::Uuid;

use super::DOMAIN;
use super::convert::order_to_proto;
use crate::domain::{Order, OrderFilter, OrderStatus, Permit};

/// Statuses delivery staff work with.
pub(super) const DELIVERY_STATUSES: [OrderStatus; 2] = [OrderStatus::Packed, OrderStatus::Shipped];

/// What kind of reader a caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Viewer {
    /// Admins and internal services.
    Staff,
    /// Delivery staff.
    Delivery,
    /// A vendor (their user id).
    Vendor(Option<Uuid>),
    /// Any other signed-in user: a customer (their user id).
    Customer(Option<Uuid>),
}

impl Viewer {
    pub(super) fn of(caller: &Caller) -> Self {
        let id = Uuid::parse_str(&caller.subject).ok();
        if caller.has_role(roles::ADMIN) || caller.has_role(roles::SERVICE) {
            Viewer::Staff
        } else if caller.has_role(roles::VENDOR) {
            Viewer::Vendor(id)
        } else if caller.has_role(roles::DELIVERY) {
            Viewer::Delivery
        } else {
            Viewer::Customer(id)
        }
    }

    /// The order as this viewer may see it; `None` when they may not see it at all.
    pub(super) fn view(&self, order: &Order) -> Option<pb::Order> {
        match self {
            Viewer::Staff => Some(order_to_proto(order)),
            Viewer::Customer(Some(id)) if order.customer_id == *id => Some(order_to_proto(order)),
            Viewer::Vendor(Some(id)) if order.vendor_ids.contains(id) => {
                let mut view = order_to_proto(order);
                let own = id.to_string();
                view.items.retain(|item| item.vendor_id == own);
                view.vendor_ids = vec![own];
                view.destination = None;
                view.payment_id.clear();
                Some(view)
            }
            Viewer::Delivery if DELIVERY_STATUSES.contains(&order.status) => {
                let mut view = order_to_proto(order);
                view.payment_id.clear();
                Some(view)
            }
            _ => None,
        }
    }

    /// The moves this viewer may make on `order` through UpdateOrderStatus or
    /// CancelOrder; `None` when they may not touch it (NOT_FOUND for them).
    pub(super) fn permit(&self, order: &Order) -> Option<Permit> {
        match self {
            Viewer::Staff => Some(Permit::Staff),
            Viewer::Delivery if DELIVERY_STATUSES.contains(&order.status) => Some(Permit::Delivery),
            Viewer::Customer(Some(id)) if order.customer_id == *id => Some(Permit::Customer),
            _ => None,
        }
    }

    /// Narrows a listing's filter to what this viewer may list.
    pub(super) fn scope(&self, mut filter: OrderFilter) -> Result<OrderFilter, Status> {
        match self {
            Viewer::Staff => Ok(filter),
            Viewer::Vendor(id) => {
                if filter.vendor_id.is_some() && filter.vendor_id != *id {
                    return Err(denied(
                        "vendors may only list orders holding their own products",
                    ));
                }
                filter.vendor_id = Some(id.ok_or_else(|| denied("unknown vendor"))?);
                Ok(filter)
            }
            Viewer::Delivery => {
                if filter
                    .statuses
                    .iter()
                    .any(|s| !DELIVERY_STATUSES.contains(s))
                {
                    return Err(denied(
                        "delivery staff may only list PACKED and SHIPPED orders",
                    ));
                }
                if filter.statuses.is_empty() {
                    filter.statuses = DELIVERY_STATUSES.to_vec();
                }
                Ok(filter)
            }
            Viewer::Customer(id) => {
                if filter.customer_id.is_some() && filter.customer_id != *id {
                    return Err(denied("customers may only list their own orders"));
                }
                filter.customer_id = Some(id.ok_or_else(|| denied("unknown customer"))?);
                Ok(filter)
            }
        }
    }
}

fn denied(message: &str) -> Status {
    errors::status(Code::PermissionDenied, message, DOMAIN, "NOT_YOUR_ORDERS")
}
