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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Utc;

    use super::*;
    use crate::domain::{Destination, Item, Money, NewOrder, PaymentMethod, Unit};

    fn caller(subject: &str, role: &str) -> Caller {
        Caller {
            subject: subject.into(),
            roles: vec![role.into()],
            service: None,
        }
    }

    fn order(customer: Uuid, vendors: [Uuid; 2]) -> Order {
        let item = |vendor_id| Item {
            product_id: Uuid::now_v7(),
            name: "Okra".into(),
            image_url: String::new(),
            vendor_id,
            unit: Unit::HundredGrams,
            quantity: 250,
            unit_price: Money::new("INR", 1_000),
        };
        NewOrder {
            customer_id: customer,
            checkout_id: "co".into(),
            items: vec![item(vendors[0]), item(vendors[1])],
            destination: Destination::default(),
            slot: None,
            delivery_fee: Money::new("INR", 0),
            tax: Money::new("INR", 0),
            discount: Money::new("INR", 0),
            expected_total: Money::new("INR", 5_000),
            payment_method: PaymentMethod("PAYMENT_METHOD_CARD".into()),
        }
        .place(Uuid::now_v7(), "service:checkout", Utc::now())
        .unwrap()
    }

    #[test]
    fn each_kind_of_caller_sees_its_share_of_an_order() {
        let (customer, vendor, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut order = order(customer, [vendor, other]);
        let of = |subject: Uuid, role| Viewer::of(&caller(&subject.to_string(), role));

        assert_eq!(
            of(customer, roles::CUSTOMER)
                .view(&order)
                .unwrap()
                .items
                .len(),
            2
        );
        assert!(of(other, roles::CUSTOMER).view(&order).is_none());
        let vendor_view = of(vendor, roles::VENDOR).view(&order).unwrap();
        assert_eq!(vendor_view.items.len(), 1);
        assert_eq!(vendor_view.items[0].vendor_id, vendor.to_string());
        assert_eq!(vendor_view.destination, None);
        assert!(of(Uuid::now_v7(), roles::VENDOR).view(&order).is_none());
        assert!(of(Uuid::now_v7(), roles::DELIVERY).view(&order).is_none());
        order.status = OrderStatus::Packed;
        assert!(of(Uuid::now_v7(), roles::DELIVERY).view(&order).is_some());
        assert!(
            Viewer::of(&caller("service:shipping", roles::SERVICE))
                .view(&order)
                .is_some()
        );
    }

    #[test]
    fn listings_are_narrowed_to_what_the_caller_may_list() {
        let me = Uuid::now_v7();
        let customer = Viewer::of(&caller(&me.to_string(), roles::CUSTOMER));
        let scoped = customer.scope(OrderFilter::default()).unwrap();
        assert_eq!(scoped.customer_id, Some(me));
        let snoop = OrderFilter {
            customer_id: Some(Uuid::now_v7()),
            ..OrderFilter::default()
        };
        assert_eq!(
            customer.scope(snoop).unwrap_err().code(),
            Code::PermissionDenied
        );

        let vendor = Viewer::of(&caller(&me.to_string(), roles::VENDOR));
        assert_eq!(
            vendor.scope(OrderFilter::default()).unwrap().vendor_id,
            Some(me)
        );

        let rider = Viewer::of(&caller(&me.to_string(), roles::DELIVERY));
        assert_eq!(
            rider.scope(OrderFilter::default()).unwrap().statuses,
            DELIVERY_STATUSES
        );
        let paid = OrderFilter {
            statuses: vec![OrderStatus::Paid],
            ..OrderFilter::default()
        };
        assert_eq!(
            rider.scope(paid).unwrap_err().code(),
            Code::PermissionDenied
        );
    }
}
