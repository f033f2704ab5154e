//! A shipment: the delivery of one paid order, its state machine, its tracking events and
//! its proof of delivery (a 6-digit code the customer tells the rider at the door).

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use super::{Actor, GeoPoint, Money, ShippingError, Slot};

/// Wrong delivery codes allowed before the code locks.
pub const CODE_ATTEMPTS: i32 = 5;

/// Where a shipment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ShipmentStatus {
    /// Created; waiting for a rider.
    #[default]
    Pending,
    /// A rider is assigned.
    Assigned,
    /// Collected at the warehouse.
    PickedUp,
    /// On the way to the door.
    OutForDelivery,
    /// Handed over. Terminal.
    Delivered,
    /// An attempt failed; may be retried.
    DeliveryFailed,
    /// Brought back. Terminal.
    Returned,
    /// Cancelled before pickup. Terminal.
    Cancelled,
}

impl ShipmentStatus {
    /// Every status.
    pub const ALL: [ShipmentStatus; 8] = [
        Self::Pending,
        Self::Assigned,
        Self::PickedUp,
        Self::OutForDelivery,
        Self::Delivered,
        Self::DeliveryFailed,
        Self::Returned,
        Self::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Assigned => "ASSIGNED",
            Self::PickedUp => "PICKED_UP",
            Self::OutForDelivery => "OUT_FOR_DELIVERY",
            Self::Delivered => "DELIVERED",
            Self::DeliveryFailed => "DELIVERY_FAILED",
            Self::Returned => "RETURNED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether nothing follows.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Delivered | Self::Returned | Self::Cancelled)
    }

    /// Whether the shipment may move to `to` (the table in the contract).
    pub fn can_become(self, to: ShipmentStatus) -> bool {
        use ShipmentStatus::*;
        matches!(
            (self, to),
            (Pending, Assigned | Cancelled)
                | (Assigned, PickedUp | Pending | Cancelled)
                | (PickedUp, OutForDelivery)
                | (OutForDelivery, Delivered | DeliveryFailed)
                | (DeliveryFailed, OutForDelivery | Returned)
        )
    }
}

impl std::fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and to whom a shipment goes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Destination {
    /// First address line.
    pub line1: String,
    /// Second address line.
    pub line2: String,
    /// City.
    pub city: String,
    /// Region.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO country code.
    pub country_code: String,
    /// Location, when known.
    pub geo: Option<GeoPoint>,
    /// Who receives it.
    pub recipient_name: String,
    /// Their phone (E.164).
    pub recipient_phone: String,
    /// Notes for the rider.
    pub instructions: String,
}

/// One step of the journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackingEvent {
    /// Status moved to.
    pub status: ShipmentStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// Where the rider was.
    pub location: Option<GeoPoint>,
    /// For the customer.
    pub note: String,
    /// Who: a user id or `service:{name}`.
    pub actor: String,
    /// Arrival estimate as of the event.
    pub eta: Option<DateTime<Utc>>,
}

/// The delivery of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    /// UUIDv7.
    pub id: Uuid,
    /// Short code to quote (`MND-7K3Q9`).
    pub tracking_code: String,
    /// The order.
    pub order_id: Uuid,
    /// The ordering user.
    pub user_id: Uuid,
    /// The warehouse it leaves from, when known.
    pub warehouse_id: Option<Uuid>,
    /// Where it goes.
    pub destination: Destination,
    /// The booked slot.
    pub slot: Slot,
    /// Grams to carry.
    pub weight_grams: i64,
    /// Must stay chilled or frozen.
    pub cold_chain: bool,
    /// Cash to collect at the door (cash on delivery); zero otherwise.
    pub cash_to_collect: Money,
    /// Current status.
    pub status: ShipmentStatus,
    /// The assigned rider.
    pub rider_id: Option<Uuid>,
    /// Their name, for the customer.
    pub rider_name: String,
    /// Whether the rider accepted.
    pub rider_accepted: bool,
    /// Riders who turned it down: never offered it again.
    pub rejected_by: Vec<Uuid>,
    /// The rider's last position and when it was reported.
    pub rider_location: Option<(GeoPoint, DateTime<Utc>)>,
    /// Best arrival estimate.
    pub eta: Option<DateTime<Utc>>,
    /// Every status change, oldest first.
    pub tracking: Vec<TrackingEvent>,
    /// The proof-of-delivery code.
    pub delivery_code: String,
    /// Wrong codes entered.
    pub code_failures: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Bumped by every change; writes are compare-and-set on it.
    pub version: i64,
}

/// What a new shipment is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct NewShipment {
    /// The order.
    pub order_id: Uuid,
    /// The ordering user.
    pub user_id: Uuid,
    /// Where it goes.
    pub destination: Destination,
    /// The warehouse, when known.
    pub warehouse_id: Option<Uuid>,
    /// Grams.
    pub weight_grams: i64,
    /// Cold chain.
    pub cold_chain: bool,
    /// Cash on delivery.
    pub cash_to_collect: Money,
}

impl Shipment {
    /// A PENDING shipment for `new` in `slot`, with fresh tracking and delivery codes.
    pub fn create(new: NewShipment, slot: Slot, actor: &Actor, now: DateTime<Utc>) -> Self {
        let eta = Some(slot.end);
        Self {
            id: Uuid::now_v7(),
            tracking_code: tracking_code(),
            order_id: new.order_id,
            user_id: new.user_id,
            warehouse_id: new.warehouse_id,
            destination: new.destination,
            slot,
            weight_grams: new.weight_grams,
            cold_chain: new.cold_chain,
            cash_to_collect: new.cash_to_collect,
            status: ShipmentStatus::Pending,
            rider_id: None,
            rider_name: String::new(),
            rider_accepted: false,
            rejected_by: Vec::new(),
            rider_location: None,
            eta,
            tracking: vec![TrackingEvent {
                status: ShipmentStatus::Pending,
                at: now,
                location: None,
                note: "order paid; waiting for a rider".into(),
                actor: actor.label(),
                eta,
            }],
            delivery_code: delivery_code(),
            code_failures: 0,
            created_at: now,
            updated_at: now,
            delivered_at: None,
            version: 1,
        }
    }

    /// Moves to `update.to` if the state machine allows it, recording a tracking event.
    /// DELIVERED needs the right code (admins may skip it) and the exact cash due; a wrong
    /// code is counted and refused, and leaves the shipment otherwise unchanged.
    pub fn apply(
        &mut self,
        update: &StatusUpdate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), ShippingError> {
        if !self.status.can_become(update.to) {
            return Err(ShippingError::IllegalTransition {
                from: self.status,
                to: update.to,
            });
        }
        if update.to == ShipmentStatus::Delivered {
            self.check_cash(update.cash_collected)?;
            let admin = matches!(actor, Actor::Admin(_));
            if !admin {
                self.check_code(update.delivery_code.as_deref().unwrap_or_default(), now)?;
            }
            self.delivered_at = Some(now);
        }
        if update.to == ShipmentStatus::Pending {
            self.unassign();
        }
        if let Some(eta) = update.eta {
            self.eta = Some(eta);
        }
        if let Some(location) = update.location {
            self.rider_location = Some((location, now));
        }
        self.status = update.to;
        self.record(update.to, update.location, update.note.clone(), actor, now);
        Ok(())
    }

    /// Counts a wrong code (a change of its own: the caller stores the shipment even though
    /// this returns an error, so the count survives).
    fn check_code(&mut self, code: &str, now: DateTime<Utc>) -> Result<(), ShippingError> {
        if self.code_failures >= CODE_ATTEMPTS {
            return Err(ShippingError::DeliveryCodeLocked);
        }
        let right: bool = code
            .trim()
            .as_bytes()
            .ct_eq(self.delivery_code.as_bytes())
            .into();
        if right {
            return Ok(());
        }
        self.code_failures += 1;
        self.touch(now);
        Err(ShippingError::WrongDeliveryCode {
            failures: self.code_failures,
        })
    }

    fn check_cash(&self, collected: Option<i64>) -> Result<(), ShippingError> {
        let due = self.cash_to_collect.minor;
        match collected {
            None if due == 0 => Ok(()),
            Some(collected) if collected == due => Ok(()),
            None => Err(ShippingError::invalid(
                "cash_collected",
                format!("is required: {due} minor units are due at the door"),
            )),
            Some(collected) => Err(ShippingError::CashMismatch { due, collected }),
        }
    }

    /// Gives the shipment to `rider` (replacing any other), not yet accepted.
    pub fn assign(
        &mut self,
        rider: &super::Rider,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), ShippingError> {
        if !matches!(
            self.status,
            ShipmentStatus::Pending | ShipmentStatus::Assigned
        ) {
            return Err(ShippingError::IllegalTransition {
                from: self.status,
                to: ShipmentStatus::Assigned,
            });
        }
        self.rider_id = Some(rider.id);
        self.rider_name = rider.display_name.clone();
        self.rider_accepted = false;
        self.rider_location = rider.location;
        self.status = ShipmentStatus::Assigned;
        let note = format!("{} will deliver your order", rider.display_name);
        self.record(ShipmentStatus::Assigned, None, note, actor, now);
        Ok(())
    }

    /// The assigned rider takes it on.
    pub fn accept(&mut self, rider: Uuid, now: DateTime<Utc>) -> Result<(), ShippingError> {
        self.check_rider(rider)?;
        if self.status != ShipmentStatus::Assigned {
            return Err(ShippingError::IllegalTransition {
                from: self.status,
                to: ShipmentStatus::Assigned,
            });
        }
        if !self.rider_accepted {
            self.rider_accepted = true;
            self.touch(now);
        }
        Ok(())
    }

    /// The assigned rider turns it down before accepting: back to PENDING, and never
    /// offered to them again.
    pub fn reject(
        &mut self,
        rider: Uuid,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), ShippingError> {
        self.check_rider(rider)?;
        if self.status != ShipmentStatus::Assigned || self.rider_accepted {
            return Err(ShippingError::IllegalTransition {
                from: self.status,
                to: ShipmentStatus::Pending,
            });
        }
        self.rejected_by.push(rider);
        self.unassign();
        self.status = ShipmentStatus::Pending;
        let note = if reason.trim().is_empty() {
            "the rider could not take it; finding another".to_owned()
        } else {
            format!(
                "the rider could not take it ({}); finding another",
                reason.trim()
            )
        };
        self.record(ShipmentStatus::Pending, None, note, actor, now);
        Ok(())
    }

    /// The rider reported a new position.
    pub fn rider_moved(&mut self, location: GeoPoint, now: DateTime<Utc>) {
        self.rider_location = Some((location, now));
        self.touch(now);
    }

    /// Whether the shipment still moves (a rider may be on the way).
    pub fn is_open(&self) -> bool {
        !self.status.is_terminal()
    }

    fn check_rider(&self, rider: Uuid) -> Result<(), ShippingError> {
        if self.rider_id == Some(rider) {
            Ok(())
        } else {
            Err(ShippingError::NotAssignedRider)
        }
    }

    fn unassign(&mut self) {
        self.rider_id = None;
        self.rider_name.clear();
        self.rider_accepted = false;
        self.rider_location = None;
    }

    fn record(
        &mut self,
        status: ShipmentStatus,
        location: Option<GeoPoint>,
        note: String,
        actor: &Actor,
        now: DateTime<Utc>,
    ) {
        self.tracking.push(TrackingEvent {
            status,
            at: now,
            location,
            note,
            actor: actor.label(),
            eta: self.eta,
        });
        self.touch(now);
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
        self.version += 1;
    }
}

/// A status change asked for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusUpdate {
    /// Where to.
    pub to: ShipmentStatus,
    /// The rider's position.
    pub location: Option<GeoPoint>,
    /// For the customer.
    pub note: String,
    /// New estimate.
    pub eta: Option<DateTime<Utc>>,
    /// Cash collected, minor units.
    pub cash_collected: Option<i64>,
    /// The customer's code, for DELIVERED.
    pub delivery_code: Option<String>,
}

/// Which shipments a listing shows; fields combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShipmentFilter {
    /// Of this order.
    pub order_id: Option<Uuid>,
    /// Of this user.
    pub user_id: Option<Uuid>,
    /// Assigned to this rider.
    pub rider_id: Option<Uuid>,
    /// In one of these statuses (empty: any).
    pub statuses: Vec<ShipmentStatus>,
    /// Slot starting at or after.
    pub slot_from: Option<DateTime<Utc>>,
    /// Slot starting before.
    pub slot_to: Option<DateTime<Utc>>,
}

impl ShipmentFilter {
    /// Whether `shipment` passes.
    pub fn matches(&self, shipment: &Shipment) -> bool {
        self.order_id.is_none_or(|id| shipment.order_id == id)
            && self.user_id.is_none_or(|id| shipment.user_id == id)
            && self.rider_id.is_none_or(|id| shipment.rider_id == Some(id))
            && (self.statuses.is_empty() || self.statuses.contains(&shipment.status))
            && self.slot_from.is_none_or(|t| shipment.slot.start >= t)
            && self.slot_to.is_none_or(|t| shipment.slot.start < t)
    }
}

/// `MND-` and five characters from an alphabet without look-alikes (0/O, 1/I/L).
fn tracking_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    let code: String = (0..5)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("MND-{code}")
}

fn delivery_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
}

#[cfg(test)]
mod tests;
