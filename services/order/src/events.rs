//! The `mandi.events.v1` events orders announce, built for the outbox: OrderCreated on
//! creation and OrderStatusChanged on every change, keyed by order id, carrying the trace
//! context of the request that made the change.

use mandi_runtime::events::{current_trace_headers, envelope};
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::events::v1::{EventLine, OrderCreated, OrderStatusChanged};

use crate::domain::{Order, StatusChange};
use crate::grpc::convert::{money_to_proto, payment_method_to_proto, status_to_proto, timestamp};
use crate::store::NewEvent;

/// The producer and aggregate type of every order event.
pub const PRODUCER: &str = "order";

/// OrderCreated for a new order.
pub fn created(order: &Order) -> NewEvent {
    let envelope = envelope(PRODUCER, "order", order.id.to_string(), |meta| {
        Payload::OrderCreated(OrderCreated {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            order_id: order.id.to_string(),
            user_id: order.customer_id.to_string(),
            checkout_id: order.checkout_id.clone(),
            lines: order
                .items
                .iter()
                .map(|line| EventLine {
                    product_id: line.item.product_id.to_string(),
                    quantity: line.item.quantity,
                    unit_price: Some(money_to_proto(&line.item.unit_price)),
                })
                .collect(),
            total: Some(money_to_proto(&order.totals.total)),
            payment_method: payment_method_to_proto(&order.payment_method),
            delivery_slot_start_time: order.slot.as_ref().map(|slot| timestamp(slot.start)),
        })
    });
    NewEvent {
        envelope,
        trace_headers: current_trace_headers(),
    }
}

/// OrderStatusChanged for `change`, just applied to `order`.
pub fn status_changed(order: &Order, change: &StatusChange) -> NewEvent {
    let envelope = envelope(PRODUCER, "order", order.id.to_string(), |meta| {
        Payload::OrderStatusChanged(OrderStatusChanged {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            order_id: order.id.to_string(),
            user_id: order.customer_id.to_string(),
            from_status: change.from.map_or(0, |s| status_to_proto(s) as i32),
            to_status: status_to_proto(change.to) as i32,
            reason: change.reason.clone(),
            actor: change.actor.clone(),
        })
    });
    NewEvent {
        envelope,
        trace_headers: current_trace_headers(),
    }
}
