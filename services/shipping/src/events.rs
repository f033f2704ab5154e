//! Shipping's events, out and in. Out, through the outbox: DeliveryAssigned when a rider
//! is given a shipment, ShipmentStatusChanged for every move. In, as consumer group
//! `shipping`: PaymentConfirmed makes the order's shipment; an order CANCELLED cancels a
//! shipment that has not left; and shipping's own ShipmentStatusChanged moves the order
//! along (ASSIGNED → PACKED, PICKED_UP → SHIPPED, DELIVERED → DELIVERED), so a move
//! reaches order at least once even if order is down when it happens.

use mandi_kafka::consumer::{ConsumedEvent, ConsumerSettings, EventHandler, HandlingError};
use mandi_runtime::events::{current_trace_headers, envelope, topic};
use mandi_sdk::proto::mandi::events::v1 as ev;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::order::v1::OrderStatus;
use mandi_sdk::proto::mandi::payment::v1::PaymentMethod;
use uuid::Uuid;

use crate::domain::{Actor, NewShipment, Shipment, ShipmentStatus, ShippingError, now};
use crate::grpc::convert::{shipment_status_to_proto, timestamp};
use crate::orders::{OrderStep, Orders};
use crate::service::Shipping;
use crate::service::shipments::cash_due;
use crate::store::ShippingStore;

/// The aggregate type of shipping's events.
const AGGREGATE: &str = "shipment";

/// ShipmentStatusChanged for `shipment`'s last tracking event, `from` the status before.
pub fn status_changed(
    shipment: &Shipment,
    from: Option<ShipmentStatus>,
) -> (ev::EventEnvelope, Vec<(String, String)>) {
    let last = shipment.tracking.last();
    let envelope = envelope(
        crate::SERVICE_NAME,
        AGGREGATE,
        shipment.id.to_string(),
        |meta| {
            Payload::ShipmentStatusChanged(ev::ShipmentStatusChanged {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                shipment_id: shipment.id.to_string(),
                order_id: shipment.order_id.to_string(),
                user_id: shipment.user_id.to_string(),
                from_status: from.map_or(0, |s| shipment_status_to_proto(s).into()),
                to_status: shipment_status_to_proto(shipment.status).into(),
                estimated_delivery_time: shipment.eta.map(timestamp),
                note: last.map(|e| e.note.clone()).unwrap_or_default(),
            })
        },
    );
    (envelope, current_trace_headers())
}

/// DeliveryAssigned for `shipment`'s rider.
pub fn delivery_assigned(shipment: &Shipment) -> (ev::EventEnvelope, Vec<(String, String)>) {
    let envelope = envelope(
        crate::SERVICE_NAME,
        AGGREGATE,
        shipment.id.to_string(),
        |meta| {
            Payload::DeliveryAssigned(ev::DeliveryAssigned {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                shipment_id: shipment.id.to_string(),
                order_id: shipment.order_id.to_string(),
                user_id: shipment.user_id.to_string(),
                rider_id: shipment.rider_id.map(|r| r.to_string()).unwrap_or_default(),
                rider_display_name: shipment.rider_name.clone(),
                slot_start_time: Some(timestamp(shipment.slot.start)),
                slot_end_time: Some(timestamp(shipment.slot.end)),
                estimated_delivery_time: shipment.eta.map(timestamp),
                cold_chain: shipment.cold_chain,
            })
        },
    );
    (envelope, current_trace_headers())
}

/// What shipping consumes: payment's, order's and its own events; an event that fails
/// for want of a peer is tried 8 times from 250ms before it is dead-lettered.
pub fn consumer_settings() -> ConsumerSettings {
    ConsumerSettings {
        group_id: crate::SERVICE_NAME.into(),
        topics: vec![topic("payment"), topic("order"), topic(crate::SERVICE_NAME)],
        max_attempts: 8,
        first_backoff: std::time::Duration::from_millis(250),
    }
}

/// Applies consumed events.
pub struct EventReactor<S, O> {
    shipping: Shipping<S>,
    orders: O,
}

impl<S: ShippingStore, O: Orders> EventReactor<S, O> {
    /// Reacts with `shipping`, reading and moving orders through `orders`.
    pub fn new(shipping: Shipping<S>, orders: O) -> Self {
        Self { shipping, orders }
    }

    /// Applies one event; `Ok` also for events shipping has nothing to do with.
    pub async fn react(&self, envelope: &ev::EventEnvelope) -> Result<(), ShippingError> {
        match &envelope.payload {
            Some(Payload::PaymentConfirmed(paid)) => self.on_paid(paid).await,
            Some(Payload::OrderStatusChanged(change))
                if change.to_status == i32::from(OrderStatus::Cancelled) =>
            {
                let Ok(order_id) = Uuid::parse_str(&change.order_id) else {
                    return Err(ShippingError::invalid("order_id", "is not a UUID"));
                };
                self.shipping
                    .cancel_for_order(order_id, &change.reason, now())
                    .await
                    .map(|_| ())
            }
            Some(Payload::ShipmentStatusChanged(change)) => {
                self.on_shipment_moved(&envelope.event_id, change).await
            }
            _ => Ok(()),
        }
    }

    async fn on_paid(&self, paid: &ev::PaymentConfirmed) -> Result<(), ShippingError> {
        let order_id = Uuid::parse_str(&paid.order_id)
            .map_err(|_| ShippingError::invalid("order_id", "is not a UUID"))?;
        let order = self
            .orders
            .paid_order(order_id)
            .await?
            .ok_or_else(|| ShippingError::NotFound(format!("order {order_id}")))?;
        // PaymentConfirmed and the order's cancellation travel on different topics: when
        // the cancellation came first there is no shipment for it to cancel, so none
        // must be made now (the payment was refunded by the compensation).
        if order.cancelled {
            tracing::info!(%order_id, "payment confirmed for a cancelled order: nothing to ship");
            return Ok(());
        }
        let amount = paid.amount.clone().unwrap_or_default();
        let cash = paid.method == i32::from(PaymentMethod::CashOnDelivery);
        let new = NewShipment {
            order_id,
            user_id: order.user_id,
            destination: order.destination,
            warehouse_id: None,
            weight_grams: order.grams_by_weight.max(1),
            cold_chain: false,
            cash_to_collect: cash_due(&amount.currency_code, amount.amount_minor, cash),
        };
        let actor = Actor::Service(crate::SERVICE_NAME.into());
        self.shipping
            .create_shipment(new, order.slot_id.as_deref(), &actor, now())
            .await?;
        // The cancellation may have been handled while the shipment was being made (the
        // consumer reads the two topics side by side) and found nothing to cancel. Read
        // the order again now that the shipment is stored: a cancellation committed after
        // this read is handled later and finds the shipment, one committed before shows.
        let again = self.orders.paid_order(order_id).await?;
        if again.is_some_and(|o| o.cancelled) {
            tracing::info!(%order_id, "order cancelled while its shipment was made: cancelling it");
            self.shipping
                .cancel_for_order(order_id, "the order was cancelled", now())
                .await?;
        }
        Ok(())
    }

    async fn on_shipment_moved(
        &self,
        event_id: &str,
        change: &ev::ShipmentStatusChanged,
    ) -> Result<(), ShippingError> {
        use mandi_sdk::proto::mandi::shipping::v1::ShipmentStatus as Pb;
        let step = match Pb::try_from(change.to_status).unwrap_or_default() {
            Pb::Assigned => OrderStep::Packed,
            Pb::PickedUp => OrderStep::Shipped,
            Pb::Delivered => OrderStep::Delivered,
            _ => return Ok(()),
        };
        let order_id = Uuid::parse_str(&change.order_id)
            .map_err(|_| ShippingError::invalid("order_id", "is not a UUID"))?;
        let shipment_id = Uuid::parse_str(&change.shipment_id)
            .map_err(|_| ShippingError::invalid("shipment_id", "is not a UUID"))?;
        self.orders
            .advance(order_id, step, shipment_id, event_id)
            .await
    }
}

impl<S: ShippingStore, O: Orders> EventHandler for EventReactor<S, O> {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        match self.react(&event.envelope).await {
            Ok(()) => Ok(()),
            Err(
                error @ (ShippingError::Peer { .. }
                | ShippingError::Conflict(_)
                | ShippingError::Store(crate::store::StoreError::Unavailable(_))),
            ) => Err(HandlingError::Retry(error.to_string())),
            Err(error) => Err(HandlingError::Reject(error.to_string())),
        }
    }
}
