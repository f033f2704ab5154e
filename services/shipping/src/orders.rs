//! What shipping needs from order: a paid order's destination and slot, and moving the
//! order along as its shipment moves. [`SdkOrders`] asks order through the SDK as the
//! internal service `shipping`; [`MemoryOrders`] is the twin tests use.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use mandi_sdk::ServiceLogin;
use mandi_sdk::proto::mandi::common::v1 as common;
use mandi_sdk::proto::mandi::order::v1::{
    GetOrderRequest, Order, OrderStatus, UpdateOrderStatusRequest,
};
use tonic::Code;
use uuid::Uuid;

use crate::domain::{Destination, GeoPoint, ShippingError};

/// What shipping reads of a paid order.
#[derive(Debug, Clone, PartialEq)]
pub struct PaidOrder {
    /// The ordering user.
    pub user_id: Uuid,
    /// Where it goes.
    pub destination: Destination,
    /// The slot checkout booked, when it did.
    pub slot_id: Option<String>,
    /// Units of weight-priced lines, in grams (a floor for the weight when no hold
    /// recorded one).
    pub grams_by_weight: i64,
    /// The order was cancelled or refunded (a checkout compensated after capturing):
    /// there is nothing to ship.
    pub cancelled: bool,
}

/// A status the order is moved to as its shipment moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStep {
    /// A rider is coming: the order is packed.
    Packed,
    /// The rider has it.
    Shipped,
    /// Handed over.
    Delivered,
}

impl OrderStep {
    fn status(self) -> OrderStatus {
        match self {
            OrderStep::Packed => OrderStatus::Packed,
            OrderStep::Shipped => OrderStatus::Shipped,
            OrderStep::Delivered => OrderStatus::Delivered,
        }
    }

    /// Why, for the order's history.
    fn reason(self) -> &'static str {
        match self {
            OrderStep::Packed => "a rider is on the way: packed for pickup",
            OrderStep::Shipped => "picked up by the rider",
            OrderStep::Delivered => "delivered to the customer",
        }
    }

    /// The steps up to and including this one, in order.
    fn path(self) -> &'static [OrderStep] {
        match self {
            OrderStep::Packed => &[OrderStep::Packed],
            OrderStep::Shipped => &[OrderStep::Packed, OrderStep::Shipped],
            OrderStep::Delivered => &[OrderStep::Packed, OrderStep::Shipped, OrderStep::Delivered],
        }
    }
}

/// The order service, as shipping uses it.
pub trait Orders: Send + Sync + 'static {
    /// The order; `None` when order does not know it.
    fn paid_order(
        &self,
        order_id: Uuid,
    ) -> impl Future<Output = Result<Option<PaidOrder>, ShippingError>> + Send;

    /// Moves the order to `step`, through the steps before it it has not reached (so a
    /// late or repeated event is harmless), recording the shipment on the order; `key`
    /// makes each move idempotent. An order not
    /// yet PAID is [`ShippingError::Peer`] (retried: checkout marks it PAID moments after
    /// payment); one past `step`, or cancelled, is left alone.
    fn advance(
        &self,
        order_id: Uuid,
        step: OrderStep,
        shipment_id: Uuid,
        key: &str,
    ) -> impl Future<Output = Result<(), ShippingError>> + Send;
}

fn peer(reason: impl Into<String>) -> ShippingError {
    ShippingError::Peer {
        service: "order",
        reason: reason.into(),
    }
}

fn status_error(status: &tonic::Status) -> ShippingError {
    peer(format!("{:?}: {}", status.code(), status.message()))
}

/// Order through the SDK.
pub struct SdkOrders {
    login: ServiceLogin,
}

impl SdkOrders {
    /// Asks order through `login`'s client.
    pub fn new(login: ServiceLogin) -> Self {
        Self { login }
    }
}

impl Orders for SdkOrders {
    async fn paid_order(&self, order_id: Uuid) -> Result<Option<PaidOrder>, ShippingError> {
        let client = self.login.client().await.map_err(|s| status_error(&s))?;
        match client
            .order()
            .get_order(GetOrderRequest {
                order_id: order_id.to_string(),
            })
            .await
        {
            Ok(reply) => Ok(reply
                .into_inner()
                .order
                .map(|o| paid_order(&o))
                .transpose()?),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status_error(&status)),
        }
    }

    async fn advance(
        &self,
        order_id: Uuid,
        step: OrderStep,
        shipment_id: Uuid,
        key: &str,
    ) -> Result<(), ShippingError> {
        let client = self.login.client().await.map_err(|s| status_error(&s))?;
        let order = match client
            .order()
            .get_order(GetOrderRequest {
                order_id: order_id.to_string(),
            })
            .await
        {
            Ok(reply) => reply
                .into_inner()
                .order
                .ok_or_else(|| peer("GetOrder returned no order"))?,
            // Not an order of this marketplace: nothing to move, and no use retrying.
            Err(status) if status.code() == Code::NotFound => {
                return Err(ShippingError::NotFound(format!("order {order_id}")));
            }
            Err(status) => return Err(status_error(&status)),
        };
        let current = OrderStatus::try_from(order.status).unwrap_or_default();
        for next in remaining(current, step)? {
            client
                .order()
                .update_order_status(UpdateOrderStatusRequest {
                    order_id: order_id.to_string(),
                    status: next.status().into(),
                    reason: next.reason().to_owned(),
                    shipment_id: shipment_id.to_string(),
                    request_id: step_key(key, *next),
                    ..UpdateOrderStatusRequest::default()
                })
                .await
                .map_err(|s| status_error(&s))?;
        }
        Ok(())
    }
}

/// The steps still to take from `current` to `step`: none when the order is past it or
/// cancelled/refunded; an error while it is not yet paid.
fn remaining(current: OrderStatus, step: OrderStep) -> Result<&'static [OrderStep], ShippingError> {
    let reached = match current {
        OrderStatus::Paid => 0,
        OrderStatus::Packed => 1,
        OrderStatus::Shipped => 2,
        OrderStatus::Delivered => 3,
        OrderStatus::Cancelled | OrderStatus::Refunded => return Ok(&[]),
        other => return Err(peer(format!("order is {other:?}, not yet paid"))),
    };
    let path = step.path();
    Ok(path.get(reached.min(path.len())..).unwrap_or(&[]))
}

/// One idempotency key per step of one event, as a UUID (order requires one), derived
/// from both so a redelivered event sends the same keys.
fn step_key(key: &str, step: OrderStep) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{key}/{step:?}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn paid_order(order: &Order) -> Result<PaidOrder, ShippingError> {
    let user_id =
        Uuid::parse_str(&order.user_id).map_err(|_| peer("order has a malformed user id"))?;
    let destination = order.destination.clone().unwrap_or_default();
    let address = destination.address.clone().unwrap_or_default();
    let grams_by_weight = order
        .items
        .iter()
        .filter(|i| {
            i.unit_of_sale == i32::from(common::UnitOfSale::Kilogram)
                || i.unit_of_sale == i32::from(common::UnitOfSale::HundredGrams)
        })
        .map(|i| i.quantity)
        .sum();
    Ok(PaidOrder {
        user_id,
        destination: Destination {
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            region: address.region,
            postal_code: address.postal_code,
            country_code: address.country_code,
            geo: address
                .geo
                .map(|g| GeoPoint::from_micro(g.latitude_e6, g.longitude_e6)),
            recipient_name: destination.recipient_name,
            recipient_phone: destination.recipient_phone,
            instructions: destination.delivery_instructions,
        },
        slot_id: order
            .delivery_slot
            .as_ref()
            .map(|s| s.slot_id.clone())
            .filter(|s| !s.is_empty()),
        grams_by_weight,
        cancelled: order.status == i32::from(OrderStatus::Cancelled)
            || order.status == i32::from(OrderStatus::Refunded),
    })
}

/// Orders in memory, recording every move, for tests.
#[derive(Clone, Default)]
pub struct MemoryOrders {
    orders: Arc<Mutex<HashMap<Uuid, (PaidOrder, OrderStatus)>>>,
}

impl MemoryOrders {
    /// Adds a PAID order.
    pub fn insert(&self, order_id: Uuid, order: PaidOrder) {
        if let Ok(mut orders) = self.orders.lock() {
            orders.insert(order_id, (order, OrderStatus::Paid));
        }
    }

    /// Marks the order cancelled.
    pub fn cancel(&self, order_id: Uuid) {
        if let Ok(mut orders) = self.orders.lock()
            && let Some((_, status)) = orders.get_mut(&order_id)
        {
            *status = OrderStatus::Cancelled;
        }
    }

    /// The order's status now.
    pub fn status(&self, order_id: Uuid) -> Option<OrderStatus> {
        self.orders.lock().ok()?.get(&order_id).map(|(_, s)| *s)
    }
}

impl Orders for MemoryOrders {
    async fn paid_order(&self, order_id: Uuid) -> Result<Option<PaidOrder>, ShippingError> {
        let orders = self.orders.lock().map_err(|_| peer("poisoned"))?;
        Ok(orders.get(&order_id).map(|(o, status)| PaidOrder {
            cancelled: *status == OrderStatus::Cancelled || *status == OrderStatus::Refunded,
            ..o.clone()
        }))
    }

    async fn advance(
        &self,
        order_id: Uuid,
        step: OrderStep,
        _shipment_id: Uuid,
        _key: &str,
    ) -> Result<(), ShippingError> {
        let mut orders = self.orders.lock().map_err(|_| peer("poisoned"))?;
        let (_, status) = orders
            .get_mut(&order_id)
            .ok_or_else(|| peer("unknown order"))?;
        if let Some(last) = remaining(*status, step)?.last() {
            *status = last.status();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_order_is_walked_through_the_steps_it_missed_and_never_back() {
        assert_eq!(
            remaining(OrderStatus::Paid, OrderStep::Shipped).unwrap(),
            &[OrderStep::Packed, OrderStep::Shipped]
        );
        assert_eq!(
            remaining(OrderStatus::Packed, OrderStep::Delivered).unwrap(),
            &[OrderStep::Shipped, OrderStep::Delivered]
        );
        assert!(
            remaining(OrderStatus::Shipped, OrderStep::Packed)
                .unwrap()
                .is_empty()
        );
        assert!(
            remaining(OrderStatus::Cancelled, OrderStep::Delivered)
                .unwrap()
                .is_empty()
        );
        assert!(remaining(OrderStatus::PaymentPending, OrderStep::Packed).is_err());
    }

    #[test]
    fn step_keys_are_stable_uuids_per_event_and_step() {
        let a = step_key("event-1", OrderStep::Packed);
        assert_eq!(a, step_key("event-1", OrderStep::Packed));
        assert_ne!(a, step_key("event-1", OrderStep::Shipped));
        assert!(Uuid::parse_str(&a).is_ok());
    }
}
