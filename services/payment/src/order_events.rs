//! What payment does when an order's status changes (`OrderStatusChanged`, published by
//! order): DELIVERED captures the order's authorized cash-on-delivery payment (the rider
//! collected the cash); CANCELLED voids an authorized payment or refunds a captured one in
//! full. Each event is handled once however often it is delivered: the event id is the
//! idempotency key, under this service's own identity.
//!
//! [`OrderEventHandler`] feeds it from the event backbone: `module` subscribes it to
//! `mandi.order.events.v1` as consumer group `payment` (Kafka, or the process's bus).

use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::order::v1::OrderStatus;
use uuid::Uuid;

use crate::domain::{PaymentError, PaymentFilter, PaymentMethod, PaymentStatus};
use crate::gateway::Gateway;
use crate::payments::{Caller, CaptureRequest, Payments, RefundRequest, VoidRequest};
use crate::store::{Executed, PaymentStore, StoreError};
use mandi_kafka::consumer::{ConsumedEvent, EventHandler, HandlingError};

/// Applies order's events as they are consumed: a store that is down is retried, any
/// other failure (the event asks for something impossible) is dead-lettered.
pub struct OrderEventHandler<S, G>(pub Payments<S, G>);

impl<S: PaymentStore, G: Gateway> EventHandler for OrderEventHandler<S, G> {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        match self.0.on_order_event(&event.envelope).await {
            Ok(_) => Ok(()),
            Err(
                error
                @ (PaymentError::Store(StoreError::Unavailable(_)) | PaymentError::InProgress),
            ) => Err(HandlingError::Retry(error.to_string())),
            Err(error) => Err(HandlingError::Reject(error.to_string())),
        }
    }
}

/// The subject idempotency keys of event-driven changes are scoped by.
pub const EVENT_CALLER: &str = "service:payment";

impl<S: PaymentStore, G: Gateway> Payments<S, G> {
    /// Applies an order event; `None` when it asks nothing of payment (another event type,
    /// another status, or no payment to act on).
    pub async fn on_order_event(
        &self,
        envelope: &EventEnvelope,
    ) -> Result<Option<Executed>, PaymentError> {
        let Some(Payload::OrderStatusChanged(change)) = &envelope.payload else {
            return Ok(None);
        };
        let Ok(order_id) = Uuid::parse_str(&change.order_id) else {
            tracing::warn!(order_id = %change.order_id, "order event with a malformed order id ignored");
            return Ok(None);
        };
        let to = OrderStatus::try_from(change.to_status).unwrap_or_default();
        if !matches!(to, OrderStatus::Delivered | OrderStatus::Cancelled) {
            return Ok(None);
        }
        let filter = PaymentFilter {
            order_id: Some(order_id),
            ..PaymentFilter::default()
        };
        let payments = self.store().list_payments(&filter, None, 50).await?;
        let Some(payment) = payments.into_iter().find(|p| p.status.is_live()) else {
            return Ok(None);
        };
        let caller = Caller {
            subject: EVENT_CALLER,
            request_id: &envelope.event_id,
        };
        let executed = match (to, payment.status, payment.method) {
            (OrderStatus::Delivered, PaymentStatus::Authorized, PaymentMethod::CashOnDelivery) => {
                self.capture(
                    caller,
                    CaptureRequest {
                        payment_id: payment.id,
                        amount: None,
                    },
                )
                .await?
            }
            (OrderStatus::Cancelled, PaymentStatus::Authorized, _) => {
                self.void(
                    caller,
                    VoidRequest {
                        payment_id: payment.id,
                        reason: cancelled(&change.reason),
                    },
                )
                .await?
            }
            (
                OrderStatus::Cancelled,
                PaymentStatus::Captured | PaymentStatus::PartiallyRefunded,
                _,
            ) => {
                self.refund(
                    caller,
                    RefundRequest {
                        payment_id: payment.id,
                        amount: None,
                        reason: cancelled(&change.reason),
                    },
                )
                .await?
            }
            _ => return Ok(None),
        };
        Ok(Some(executed))
    }
}

fn cancelled(reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() {
        "order cancelled".into()
    } else {
        format!(
            "order cancelled: {}",
            reason.chars().take(400).collect::<String>()
        )
    }
}
