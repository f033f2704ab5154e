//! Riders: people with the delivery role who carry shipments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::GeoPoint;

/// What a rider delivers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VehicleType {
    /// Bicycle or e-bike.
    Bicycle,
    /// Motorcycle or scooter.
    Motorcycle,
    /// Three-wheeler.
    ThreeWheeler,
    /// Van.
    Van,
}

/// Whether a rider takes work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RiderStatus {
    /// On shift and free.
    Available,
    /// On shift, carrying shipments.
    OnDelivery,
    /// Not working: never offered shipments.
    OffDuty,
}

impl RiderStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::OnDelivery => "ON_DELIVERY",
            Self::OffDuty => "OFF_DUTY",
        }
    }
}

/// A rider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rider {
    /// UUIDv7.
    pub id: Uuid,
    /// Their identity user; unique.
    pub user_id: Uuid,
    /// Shown to customers.
    pub display_name: String,
    /// E.164.
    pub phone: String,
    /// What they ride.
    pub vehicle: VehicleType,
    /// Has an insulated or refrigerated carrier.
    pub cold_chain: bool,
    /// Most grams at once.
    pub max_load_grams: i64,
    /// Zones served.
    pub zone_ids: Vec<String>,
    /// Takes work or not.
    pub status: RiderStatus,
    /// Last reported position and when.
    pub location: Option<(GeoPoint, DateTime<Utc>)>,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change; writes are compare-and-set on it.
    pub version: i64,
}

/// A rider to register.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRider {
    /// Their identity user.
    pub user_id: Uuid,
    /// Shown to customers.
    pub display_name: String,
    /// E.164.
    pub phone: String,
    /// What they ride.
    pub vehicle: VehicleType,
    /// Cold-chain carrier.
    pub cold_chain: bool,
    /// Most grams at once (0: by vehicle).
    pub max_load_grams: i64,
    /// Zones served.
    pub zone_ids: Vec<String>,
}

impl VehicleType {
    /// What a rider of this vehicle carries when no limit is given.
    pub fn default_load_grams(self) -> i64 {
        match self {
            Self::Bicycle => 10_000,
            Self::Motorcycle => 20_000,
            Self::ThreeWheeler => 150_000,
            Self::Van => 500_000,
        }
    }
}

impl Rider {
    /// A rider for `new`, OFF_DUTY until they start a shift.
    pub fn create(new: NewRider, now: DateTime<Utc>) -> Self {
        let max_load_grams = if new.max_load_grams > 0 {
            new.max_load_grams
        } else {
            new.vehicle.default_load_grams()
        };
        Self {
            id: Uuid::now_v7(),
            user_id: new.user_id,
            display_name: new.display_name,
            phone: new.phone,
            vehicle: new.vehicle,
            cold_chain: new.cold_chain,
            max_load_grams,
            zone_ids: new.zone_ids,
            status: RiderStatus::OffDuty,
            location: None,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    /// Applies the fields `patch` sets.
    pub fn patch(&mut self, patch: RiderPatch, now: DateTime<Utc>) {
        let RiderPatch {
            display_name,
            phone,
            vehicle,
            cold_chain,
            max_load_grams,
            zone_ids,
            status,
            location,
        } = patch;
        if let Some(v) = display_name {
            self.display_name = v;
        }
        if let Some(v) = phone {
            self.phone = v;
        }
        if let Some(v) = vehicle {
            self.vehicle = v;
        }
        if let Some(v) = cold_chain {
            self.cold_chain = v;
        }
        if let Some(v) = max_load_grams {
            self.max_load_grams = v;
        }
        if let Some(v) = zone_ids {
            self.zone_ids = v;
        }
        if let Some(v) = status {
            self.status = v;
        }
        if let Some(v) = location {
            self.location = Some((v, now));
        }
        self.updated_at = now;
        self.version += 1;
    }
}

/// Fields to change on a rider; `None` leaves one as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RiderPatch {
    /// New name.
    pub display_name: Option<String>,
    /// New phone.
    pub phone: Option<String>,
    /// New vehicle.
    pub vehicle: Option<VehicleType>,
    /// New cold-chain flag.
    pub cold_chain: Option<bool>,
    /// New load limit.
    pub max_load_grams: Option<i64>,
    /// New zones.
    pub zone_ids: Option<Vec<String>>,
    /// New status.
    pub status: Option<RiderStatus>,
    /// New position.
    pub location: Option<GeoPoint>,
}

impl RiderPatch {
    /// Whether it changes only what riders may change themselves (status and position).
    pub fn is_riders_own(&self) -> bool {
        self.display_name.is_none()
            && self.phone.is_none()
            && self.vehicle.is_none()
            && self.cold_chain.is_none()
            && self.max_load_grams.is_none()
            && self.zone_ids.is_none()
    }
}

/// Which riders a listing shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RiderFilter {
    /// In this status.
    pub status: Option<RiderStatus>,
    /// Serving this zone.
    pub zone_id: Option<String>,
    /// With or without cold chain.
    pub cold_chain: Option<bool>,
}

impl RiderFilter {
    /// Whether `rider` passes.
    pub fn matches(&self, rider: &Rider) -> bool {
        self.status.is_none_or(|s| rider.status == s)
            && self
                .zone_id
                .as_ref()
                .is_none_or(|z| rider.zone_ids.contains(z))
            && self.cold_chain.is_none_or(|c| rider.cold_chain == c)
    }
}
