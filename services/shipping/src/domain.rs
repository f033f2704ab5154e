//! Shipping's rules, free of I/O and proto types: delivery zones and their fees
//! ([`zones`]), slots cut from each zone's schedule and the places held in them
//! ([`slots`]), shipments with their state machine and proof of delivery ([`shipment`]),
//! riders ([`rider`]) and how a rider is chosen for a shipment ([`assign`]).

pub mod assign;
pub mod rider;
pub mod shipment;
pub mod slots;
pub mod zones;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use assign::{AssignmentStrategy, Choice, NearestAvailable};
pub use rider::{NewRider, Rider, RiderFilter, RiderPatch, RiderStatus, VehicleType};
pub use shipment::{
    CODE_ATTEMPTS, Destination, NewShipment, Shipment, ShipmentFilter, ShipmentStatus,
    StatusUpdate, TrackingEvent,
};
pub use slots::{HoldStatus, NewHold, Slot, SlotHold};
pub use zones::{Quote, QuoteRequest, Window, Zone, ZoneMap};

use crate::store::StoreError;

/// The time now, in UTC: the one clock the domain reads (through its callers).
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// A point on the earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPoint {
    /// Latitude, -90..=90.
    pub latitude: f64,
    /// Longitude, -180..=180.
    pub longitude: f64,
}

impl GeoPoint {
    /// Great-circle distance to `other` in kilometres (haversine; good to a few metres at
    /// city scale, which is all routing by "nearest" needs).
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlng = (other.longitude - self.longitude).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }

    /// From micro-degrees, as the contracts carry them.
    pub fn from_micro(latitude_e6: i64, longitude_e6: i64) -> Self {
        Self {
            latitude: latitude_e6 as f64 / 1e6,
            longitude: longitude_e6 as f64 / 1e6,
        }
    }

    /// In micro-degrees, as the contracts carry them.
    pub fn to_micro(self) -> (i64, i64) {
        (
            (self.latitude * 1e6).round() as i64,
            (self.longitude * 1e6).round() as i64,
        )
    }

    /// Whether both coordinates are in range.
    pub fn is_valid(&self) -> bool {
        (-90.0..=90.0).contains(&self.latitude) && (-180.0..=180.0).contains(&self.longitude)
    }
}

/// An amount of money in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// ISO 4217 code.
    pub currency: String,
    /// Minor units (paise, cents).
    pub minor: i64,
}

/// One bad field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The proto path of the field (`destination.postal_code`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// Everything that can go wrong in shipping.
#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    /// The request has bad fields.
    #[error("invalid request: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Violation>),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The address is in no delivery zone.
    #[error("no delivery zone serves postal code {postal_code} in {country_code}")]
    Unserviceable {
        /// The address's postal code.
        postal_code: String,
        /// The address's country.
        country_code: String,
    },
    /// The slot cannot take the order.
    #[error("slot {slot_id} cannot take the order: {why}")]
    SlotUnavailable {
        /// The slot.
        slot_id: String,
        /// Full, closed, or without the cold chain.
        why: &'static str,
    },
    /// The order holds no live slot place.
    #[error("order {0} holds no delivery slot")]
    NoHold(Uuid),
    /// A confirmed hold is released by cancelling the shipment instead.
    #[error("order {0}'s slot place belongs to its shipment: cancel the shipment instead")]
    HoldConfirmed(Uuid),
    /// The shipment cannot make this move from its status.
    #[error("a {from} shipment cannot become {to}")]
    IllegalTransition {
        /// Current status.
        from: ShipmentStatus,
        /// Asked for.
        to: ShipmentStatus,
    },
    /// The rider entered a wrong proof-of-delivery code.
    #[error("wrong delivery code ({failures} of {CODE_ATTEMPTS} attempts used)")]
    WrongDeliveryCode {
        /// Wrong codes so far, this one included.
        failures: i32,
    },
    /// Too many wrong codes: delivery can only fail, or an admin completes it.
    #[error("the delivery code is locked after {CODE_ATTEMPTS} wrong attempts")]
    DeliveryCodeLocked,
    /// The cash collected is not what was due.
    #[error("cash collected {collected} differs from the {due} to collect")]
    CashMismatch {
        /// Due, minor units.
        due: i64,
        /// Collected, minor units.
        collected: i64,
    },
    /// No available rider can carry the shipment.
    #[error("no available rider can carry this shipment: {0}")]
    NoRider(String),
    /// The chosen rider cannot carry the shipment.
    #[error("rider {rider} cannot carry this shipment: {why}")]
    RiderUnsuitable {
        /// The rider.
        rider: Uuid,
        /// Why not.
        why: &'static str,
    },
    /// The caller is not the assigned rider.
    #[error("only the assigned rider may do this")]
    NotAssignedRider,
    /// The user already has a rider profile.
    #[error("user {0} is already a rider")]
    RiderExists(Uuid),
    /// An idempotency key came back with another request.
    #[error("request_id was already used with a different request")]
    KeyReused,
    /// Someone else changed the record first; the caller retries on the new state.
    #[error("{0} changed concurrently")]
    Conflict(String),
    /// A peer service (order) did not answer usefully.
    #[error("{service} is unavailable: {reason}")]
    Peer {
        /// Which.
        service: &'static str,
        /// What happened.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ShippingError {
    /// One bad field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![Violation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

/// Collects bad fields while a request is parsed, to report them all at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// Records `field` as bad unless `ok`.
    pub fn check(&mut self, ok: bool, field: &str, description: &str) {
        if !ok {
            self.add(field, description);
        }
    }

    /// Records `field` as bad.
    pub fn add(&mut self, field: &str, description: impl Into<String>) {
        self.0.push(Violation {
            field: field.to_owned(),
            description: description.into(),
        });
    }

    /// Keeps the value of a parse, recording its violation.
    pub fn take<T>(&mut self, parsed: Result<T, Violation>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(violation) => {
                self.0.push(violation);
                None
            }
        }
    }

    /// `Ok` when nothing was recorded.
    pub fn finish(self) -> Result<(), ShippingError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ShippingError::Invalid(self.0))
        }
    }
}

/// Who is asking, as the use cases need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user (customer or rider), by user id.
    User(Uuid),
    /// An admin, by user id.
    Admin(Uuid),
    /// An internal service, by name.
    Service(String),
}

impl Actor {
    /// How tracking events record the actor: a user id, or `service:{name}`.
    pub fn label(&self) -> String {
        match self {
            Actor::User(id) | Actor::Admin(id) => id.to_string(),
            Actor::Service(name) => format!("service:{name}"),
        }
    }

    /// Admins and services see and change everything.
    pub fn is_staff(&self) -> bool {
        matches!(self, Actor::Admin(_) | Actor::Service(_))
    }

    /// The user id of a user or admin.
    pub fn user_id(&self) -> Option<Uuid> {
        match self {
            Actor::User(id) | Actor::Admin(id) => Some(*id),
            Actor::Service(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bengaluru_to_mysore_is_about_128_km() {
        let bengaluru = GeoPoint {
            latitude: 12.9716,
            longitude: 77.5946,
        };
        let mysore = GeoPoint {
            latitude: 12.2958,
            longitude: 76.6394,
        };
        let d = bengaluru.distance_km(&mysore);
        assert!((125.0..132.0).contains(&d), "{d}");
        assert!(bengaluru.distance_km(&bengaluru).abs() < 1e-9);
    }
}
