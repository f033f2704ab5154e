//! The storage port shipping needs; adapters live in `store/`.
//!
//! Places in slots are the one thing many writers race for, so [`ShippingStore::hold_slot`]
//! decides capacity inside the store, atomically (under a lock on the slot). Shipments and
//! riders are read, changed by the domain and written back compare-and-set on their
//! version; a lost race is [`ShippingError::Conflict`] and the use case retries on the
//! fresh state. Events go to the outbox in the same write as the change they announce.

pub mod memory;
pub mod postgres;

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use mandi_runtime::outbox::OutboxStore;
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use uuid::Uuid;

use crate::domain::{
    NewHold, Rider, RiderFilter, Shipment, ShipmentFilter, ShippingError, Slot, SlotHold,
};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; retrying may help.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation; retrying will not help.
    #[error("storage operation failed: {0}")]
    Failed(String),
    /// A stored row could not be read back into a domain value.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// Events to publish with a change, each with the trace context to publish it under.
pub type Events = Vec<(EventEnvelope, Vec<(String, String)>)>;

/// What the hold on a shipment's slot place does when the shipment is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldChange {
    /// Nothing.
    Keep,
    /// The place is given back (the shipment was cancelled).
    Release,
}

/// Slots' places, shipments, riders, idempotency keys and the outbox.
pub trait ShippingStore: OutboxStore {
    /// Places taken at `now` (live holds and confirmed ones) in each of `slot_ids`;
    /// slots nobody booked are absent.
    fn booked(
        &self,
        slot_ids: &[String],
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<HashMap<String, i32>, ShippingError>> + Send;

    /// Holds a place in `slot` for the order, atomically: an order already holding this
    /// slot gets its hold back as it is; one holding another slot moves (its old place is
    /// freed); a confirmed hold is kept. The slot must not be closed or full at `now`
    /// (counting live places of other orders) and must offer the cold chain when the
    /// order needs it, else [`ShippingError::SlotUnavailable`].
    fn hold_slot(
        &self,
        slot: &Slot,
        hold: &NewHold,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<SlotHold, ShippingError>> + Send;

    /// Gives the order's held place back; `None` when it has no hold. Released and
    /// expired holds are returned as they are; a confirmed one is
    /// [`ShippingError::HoldConfirmed`].
    fn release_hold(
        &self,
        order_id: Uuid,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<SlotHold>, ShippingError>> + Send;

    /// The order's hold, if it ever had one.
    fn hold(
        &self,
        order_id: Uuid,
    ) -> impl Future<Output = Result<Option<SlotHold>, ShippingError>> + Send;

    /// Marks held places past their expiry EXPIRED; returns how many.
    fn expire_holds(
        &self,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<u64, ShippingError>> + Send;

    /// Stores a new shipment and confirms its order's live hold on the shipment's slot,
    /// with `events`, in one write. When the order already has a shipment nothing is
    /// written and that one is returned (`false`); else the new one (`true`). No live hold
    /// on that slot is [`ShippingError::NoHold`].
    fn insert_shipment(
        &self,
        shipment: &Shipment,
        events: Events,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(Shipment, bool), ShippingError>> + Send;

    /// The shipment with this id.
    fn shipment(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Shipment>, ShippingError>> + Send;

    /// The order's shipment.
    fn shipment_of_order(
        &self,
        order_id: Uuid,
    ) -> impl Future<Output = Result<Option<Shipment>, ShippingError>> + Send;

    /// Up to `limit` shipments passing `filter`, by slot start then id, after the
    /// `(slot start, id)` position `after`.
    fn list_shipments(
        &self,
        filter: &ShipmentFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Shipment>, ShippingError>> + Send;

    /// Writes `shipment` if the stored one is still at `expected_version`, with `events`
    /// and the hold change, in one write; else [`ShippingError::Conflict`].
    fn update_shipment(
        &self,
        shipment: &Shipment,
        expected_version: i64,
        events: Events,
        hold: HoldChange,
    ) -> impl Future<Output = Result<(), ShippingError>> + Send;

    /// Stores a new rider; a second rider for the same user is
    /// [`ShippingError::RiderExists`].
    fn insert_rider(&self, rider: &Rider)
    -> impl Future<Output = Result<(), ShippingError>> + Send;

    /// The rider with this id.
    fn rider(&self, id: Uuid) -> impl Future<Output = Result<Option<Rider>, ShippingError>> + Send;

    /// The rider whose identity user this is.
    fn rider_of_user(
        &self,
        user_id: Uuid,
    ) -> impl Future<Output = Result<Option<Rider>, ShippingError>> + Send;

    /// Up to `limit` riders passing `filter`, by display name then id, after the
    /// `(display name, id)` position `after`.
    fn list_riders(
        &self,
        filter: &RiderFilter,
        after: Option<(String, Uuid)>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Rider>, ShippingError>> + Send;

    /// Writes `rider` if the stored one is still at `expected_version`; else
    /// [`ShippingError::Conflict`].
    fn update_rider(
        &self,
        rider: &Rider,
        expected_version: i64,
    ) -> impl Future<Output = Result<(), ShippingError>> + Send;

    /// The fingerprint and stored response of a finished keyed request.
    fn remembered(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<(String, Vec<u8>)>, ShippingError>> + Send;

    /// Records a keyed request's fingerprint and response (the first record wins).
    fn remember(
        &self,
        key: &str,
        fingerprint: &str,
        response: &[u8],
    ) -> impl Future<Output = Result<(), ShippingError>> + Send;
}
