//! The events payment writes to its outbox (`mandi.events.v1`): PaymentConfirmed when a
//! card is captured or cash on delivery is authorized, PaymentFailed when a card is
//! declined or the gateway fails, PaymentRefunded for every refund. The aggregate is the
//! payment, so the relay keeps each payment's events in order.

use mandi_runtime::events::{current_trace_headers, envelope};
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::events::v1::{
    EventEnvelope, PaymentConfirmed, PaymentFailed, PaymentRefunded,
};

use crate::domain::{Payment, PaymentStatus, Refund};
use crate::grpc::convert::{failure_reason_to_proto, method_to_proto, money_to_proto};

/// The producer and aggregate type of payment's events.
pub const PRODUCER: &str = "payment";
/// The aggregate type: events go to `mandi.payment.events.v1`, keyed by payment id.
pub const AGGREGATE: &str = "payment";

/// An outbox row's content: the envelope and the trace it was written under.
pub type OutboxEvent = (EventEnvelope, Vec<(String, String)>);

fn event(
    payment: &Payment,
    payload: impl FnOnce(mandi_runtime::events::EventMeta) -> Payload,
) -> OutboxEvent {
    (
        envelope(PRODUCER, AGGREGATE, payment.id.to_string(), payload),
        current_trace_headers(),
    )
}

/// The payment is secured: `amount` captured (card) or to collect on delivery (cash).
pub fn confirmed(payment: &Payment, amount_minor: i64) -> OutboxEvent {
    event(payment, |meta| {
        Payload::PaymentConfirmed(PaymentConfirmed {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            payment_id: payment.id.to_string(),
            order_id: payment.order_id.to_string(),
            user_id: payment.user_id.to_string(),
            amount: Some(money_to_proto(&payment.amount.with_minor(amount_minor))),
            method: method_to_proto(payment.method).into(),
            provider_reference: payment.provider_reference.clone(),
        })
    })
}

/// The payment was declined or failed.
pub fn failed(payment: &Payment) -> OutboxEvent {
    event(payment, |meta| {
        Payload::PaymentFailed(PaymentFailed {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            payment_id: payment.id.to_string(),
            order_id: payment.order_id.to_string(),
            user_id: payment.user_id.to_string(),
            amount: Some(money_to_proto(&payment.amount)),
            method: method_to_proto(payment.method).into(),
            failure_reason: payment
                .failure
                .as_ref()
                .map(|f| failure_reason_to_proto(f.reason))
                .unwrap_or_default()
                .into(),
            failure_message: payment
                .failure
                .as_ref()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        })
    })
}

/// `refund` of `payment` (the payment after it) succeeded.
pub fn refunded(payment: &Payment, refund: &Refund) -> OutboxEvent {
    event(payment, |meta| {
        Payload::PaymentRefunded(PaymentRefunded {
            event_id: meta.event_id,
            occur_time: Some(meta.occur_time),
            payment_id: payment.id.to_string(),
            refund_id: refund.id.to_string(),
            order_id: payment.order_id.to_string(),
            user_id: payment.user_id.to_string(),
            amount: Some(money_to_proto(&refund.amount)),
            fully_refunded: payment.status == PaymentStatus::Refunded,
            reason: refund.reason.clone(),
        })
    })
}
