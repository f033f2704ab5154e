//! Inventory's events: builds the `mandi.events.v1` payloads from domain values and
//! publishes them through the runtime's [`EventPublisher`] to `mandi.inventory.events.v1`,
//! keyed by the aggregate's id (a reservation's order, a product, a batch).
//!
//! Events are published after the store has committed the change they report. A publish
//! failure is logged and swallowed: the write already happened, and failing the call now
//! would make the caller retry a change that succeeded.

use chrono::{DateTime, Utc};
use mandi_runtime::events::{EventPublisher, envelope, publish_envelope};
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::events::v1::{
    BatchExpiring, EventEnvelope, EventLine, InventoryCommitted, InventoryReleased,
    InventoryReserved, ReleaseCause, StockAvailabilityChanged, StockLow,
};
use uuid::Uuid;

use crate::domain::{Batch, Reservation, ReservationLine, ReservationStatus};

/// The `producer` of every inventory event.
pub const PRODUCER: &str = "inventory";
/// Aggregate type of reservation events; their id is the order id.
pub const RESERVATION: &str = "reservation";
/// Aggregate type of stock events; their id is the product id.
pub const PRODUCT: &str = "product";
/// Aggregate type of batch events; their id is the batch id.
pub const BATCH: &str = "batch";

/// Publishes inventory's events through `P`.
#[derive(Debug, Clone, Default)]
pub struct InventoryEvents<P> {
    publisher: P,
}

// === impl InventoryEvents ===

impl<P: EventPublisher> InventoryEvents<P> {
    /// Events published through `publisher`.
    pub fn new(publisher: P) -> Self {
        Self { publisher }
    }

    /// The publisher events go through.
    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    /// Stock was reserved for `reservation`'s order (`InventoryReserved`).
    pub async fn reserved(&self, reservation: &Reservation) {
        let event = envelope(PRODUCER, RESERVATION, reservation.order_id, |meta| {
            Payload::InventoryReserved(InventoryReserved {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                order_id: reservation.order_id.to_string(),
                lines: event_lines(&reservation.lines),
                expire_time: Some(timestamp(reservation.expires_at)),
            })
        });
        self.publish(event).await;
    }

    /// `reservation`'s stock was sold (`InventoryCommitted`).
    pub async fn committed(&self, reservation: &Reservation) {
        let event = envelope(PRODUCER, RESERVATION, reservation.order_id, |meta| {
            Payload::InventoryCommitted(InventoryCommitted {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                order_id: reservation.order_id.to_string(),
                lines: event_lines(&reservation.lines),
            })
        });
        self.publish(event).await;
    }

    /// `reservation`'s stock was given back (`InventoryReleased`): cause EXPIRED when its
    /// status is expired, RELEASED (with its release reason) otherwise.
    pub async fn released(&self, reservation: &Reservation) {
        let (cause, reason) = match reservation.status {
            ReservationStatus::Expired => (ReleaseCause::Expired, String::new()),
            _ => (
                ReleaseCause::Released,
                reservation.release_reason.clone().unwrap_or_default(),
            ),
        };
        let event = envelope(PRODUCER, RESERVATION, reservation.order_id, |meta| {
            Payload::InventoryReleased(InventoryReleased {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                order_id: reservation.order_id.to_string(),
                lines: event_lines(&reservation.lines),
                cause: cause.into(),
                reason,
                was_committed: reservation.committed_at.is_some(),
            })
        });
        self.publish(event).await;
    }

    /// A product's availability fell to or below its threshold (`StockLow`). Publish once
    /// per crossing, as the contract asks: the caller decides when a crossing happened.
    pub async fn stock_low(&self, product_id: Uuid, available: i64, threshold: i64) {
        let event = envelope(PRODUCER, PRODUCT, product_id, |meta| {
            Payload::StockLow(StockLow {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                product_id: product_id.to_string(),
                available_quantity: available,
                low_stock_threshold: threshold,
            })
        });
        self.publish(event).await;
    }

    /// `batch` will expire within its product's warning period (`BatchExpiring`); its
    /// unsold quantity is what is on hand and not reserved. Publish once per batch.
    pub async fn batch_expiring(&self, batch: &Batch) {
        let event = envelope(PRODUCER, BATCH, batch.id, |meta| {
            Payload::BatchExpiring(BatchExpiring {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                batch_id: batch.id.to_string(),
                product_id: batch.product_id.to_string(),
                warehouse_id: batch.warehouse_id.to_string(),
                unsold_quantity: batch.free_quantity(),
                expire_time: Some(timestamp(batch.expires_at)),
                supplier_ref: batch.supplier_ref.clone(),
            })
        });
        self.publish(event).await;
    }

    /// A product went in or out of stock (`StockAvailabilityChanged`); `available` is its
    /// quantity now, and it is in stock when that is above zero.
    pub async fn availability_changed(&self, product_id: Uuid, available: i64) {
        let event = envelope(PRODUCER, PRODUCT, product_id, |meta| {
            Payload::StockAvailabilityChanged(StockAvailabilityChanged {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                product_id: product_id.to_string(),
                in_stock: available > 0,
                available_quantity: available,
            })
        });
        self.publish(event).await;
    }

    async fn publish(&self, event: EventEnvelope) {
        let (event_id, event_type) = (event.event_id.clone(), event.r#type.clone());
        // The change this event reports is already stored: a lost event must not fail it.
        if let Err(error) = publish_envelope(&self.publisher, event).await {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                %event_id,
                %event_type,
                "cannot publish inventory event"
            );
        }
    }
}

fn event_lines(lines: &[ReservationLine]) -> Vec<EventLine> {
    lines
        .iter()
        .map(|line| EventLine {
            product_id: line.product_id.to_string(),
            quantity: line.quantity,
            unit_price: None,
        })
        .collect()
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp::from(std::time::SystemTime::from(at))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use chrono::Duration;
    use mandi_runtime::events::{InProcessPublisher, PublishedEvent};
    use tokio::sync::broadcast;

    use super::*;
    use crate::domain::{NewBatch, ReserveRequest};

    fn events() -> (
        InventoryEvents<InProcessPublisher>,
        broadcast::Receiver<PublishedEvent>,
    ) {
        let publisher = InProcessPublisher::default();
        let receiver = publisher.subscribe();
        (InventoryEvents::new(publisher), receiver)
    }

    fn reservation(now: DateTime<Utc>) -> Reservation {
        let line = ReservationLine {
            product_id: Uuid::now_v7(),
            quantity: 500,
        };
        let request = ReserveRequest::new(Uuid::now_v7(), vec![line], false, None).unwrap();
        Reservation::new(&request, Vec::new(), now)
    }

    #[tokio::test]
    async fn a_reservation_is_published_to_the_reservation_topic_keyed_by_order() {
        let (events, mut received) = events();
        let now = Utc::now();
        let reservation = reservation(now);

        events.reserved(&reservation).await;

        let event = received.recv().await.unwrap();
        let order_id = reservation.order_id.to_string();
        assert_eq!(event.topic, "mandi.inventory.events.v1");
        assert_eq!(event.key, order_id);
        assert_eq!(event.envelope.aggregate_type, "reservation");
        assert_eq!(event.envelope.producer, "inventory");
        let Some(Payload::InventoryReserved(reserved)) = event.envelope.payload else {
            panic!("expected InventoryReserved");
        };
        assert_eq!(reserved.order_id, order_id);
        assert_eq!(reserved.lines.len(), 1);
        assert_eq!(reserved.lines[0].quantity, 500);
        assert_eq!(
            reserved.expire_time,
            Some(timestamp(reservation.expires_at))
        );
    }

    #[tokio::test]
    async fn an_expired_reservation_is_released_with_cause_expired_and_a_committed_one_says_so() {
        let (events, mut received) = events();
        let now = Utc::now();
        let mut expired = reservation(now);
        expired.status = ReservationStatus::Expired;
        let mut undone = reservation(now);
        undone.status = ReservationStatus::Released;
        undone.committed_at = Some(now);
        undone.release_reason = Some("order cancelled".into());

        events.released(&expired).await;
        events.released(&undone).await;

        let Some(Payload::InventoryReleased(first)) =
            received.recv().await.unwrap().envelope.payload
        else {
            panic!("expected InventoryReleased");
        };
        assert_eq!(first.cause(), ReleaseCause::Expired);
        assert!(!first.was_committed);
        let Some(Payload::InventoryReleased(second)) =
            received.recv().await.unwrap().envelope.payload
        else {
            panic!("expected InventoryReleased");
        };
        assert_eq!(second.cause(), ReleaseCause::Released);
        assert_eq!(second.reason, "order cancelled");
        assert!(second.was_committed);
    }

    #[tokio::test]
    async fn stock_events_are_keyed_by_product_and_batch_events_by_batch() {
        let (events, mut received) = events();
        let now = Utc::now();
        let product_id = Uuid::now_v7();
        let batch = NewBatch {
            product_id,
            warehouse_id: Uuid::now_v7(),
            quantity: 40,
            received_at: Some(now),
            expires_at: now + Duration::days(2),
            supplier_ref: "SUP-7".into(),
            cold_chain: false,
            unit_cost_minor: None,
        }
        .into_batch(now)
        .unwrap();

        events.stock_low(product_id, 4, 10).await;
        events.availability_changed(product_id, 0).await;
        events.batch_expiring(&batch).await;

        let low = received.recv().await.unwrap();
        assert_eq!(low.topic, "mandi.inventory.events.v1");
        assert_eq!(low.key, product_id.to_string());
        assert_eq!(low.envelope.r#type, "mandi.events.v1.StockLow");
        let changed = received.recv().await.unwrap();
        assert_eq!(changed.key, product_id.to_string());
        let Some(Payload::StockAvailabilityChanged(changed)) = changed.envelope.payload else {
            panic!("expected StockAvailabilityChanged");
        };
        assert!(!changed.in_stock);
        let expiring = received.recv().await.unwrap();
        assert_eq!(expiring.topic, "mandi.inventory.events.v1");
        assert_eq!(expiring.key, batch.id.to_string());
        let Some(Payload::BatchExpiring(expiring)) = expiring.envelope.payload else {
            panic!("expected BatchExpiring");
        };
        assert_eq!(expiring.unsold_quantity, 40);
        assert_eq!(expiring.supplier_ref, "SUP-7");
    }

    #[tokio::test]
    async fn publishing_without_subscribers_does_not_fail_the_caller() {
        let events = InventoryEvents::new(InProcessPublisher::default());
        let now = Utc::now();

        events.committed(&reservation(now)).await;
        events.stock_low(Uuid::now_v7(), 0, 10).await;
    }
}
