//! Delivery slots, cut from each zone's daily windows, and the places orders hold in them.
//!
//! A slot's id is its zone and UTC start (`blr-central-20261124T0130Z`), so slots need no
//! table of their own until the first place is held, and an id names the same slot on
//! every replica. A hold keeps one place for one order until it expires; a paid order's
//! shipment confirms it; a released or expired hold frees the place.

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ShippingError, Zone, ZoneMap};

/// One bookable window of one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    /// `{zone_id}-{YYYYMMDD}T{HHMM}Z` of the UTC start.
    pub id: String,
    /// The zone.
    pub zone_id: String,
    /// Start (UTC).
    pub start: DateTime<Utc>,
    /// End (UTC).
    pub end: DateTime<Utc>,
    /// Orders it takes.
    pub capacity: i32,
    /// Whether cold-chain riders serve it.
    pub cold_chain: bool,
    /// Extra fee, minor units.
    pub surcharge_minor: i64,
    /// Currency of the surcharge (the zone's).
    pub currency: String,
    /// Bookings close at this instant.
    pub closes_at: DateTime<Utc>,
}

impl Slot {
    /// Whether the slot can take a new order at `now` with `booked` places taken.
    pub fn bookable(&self, booked: i32, now: DateTime<Utc>) -> bool {
        booked < self.capacity && now < self.closes_at
    }

    /// Why `self` cannot take an order needing `cold_chain`, given `booked` places taken.
    pub fn refusal(
        &self,
        booked: i32,
        cold_chain: bool,
        now: DateTime<Utc>,
    ) -> Option<&'static str> {
        if now >= self.closes_at {
            Some("bookings for it have closed")
        } else if cold_chain && !self.cold_chain {
            Some("it has no cold chain")
        } else if booked >= self.capacity {
            Some("it is full")
        } else {
            None
        }
    }
}

const ID_TIME: &str = "%Y%m%dT%H%MZ";

fn slot_id(zone: &str, start: DateTime<Utc>) -> String {
    format!("{zone}-{}", start.format(ID_TIME))
}

impl Zone {
    fn slot(&self, start: DateTime<Utc>, window: &super::Window) -> Slot {
        Slot {
            id: slot_id(&self.id, start),
            zone_id: self.id.clone(),
            start,
            end: start + Duration::minutes(window.minutes),
            capacity: window.capacity,
            cold_chain: window.cold_chain,
            surcharge_minor: window.surcharge_minor,
            currency: self.currency.clone(),
            closes_at: start - self.cutoff(),
        }
    }

    /// The zone's slots starting in `[from, to)`, soonest first.
    pub fn slots_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Slot> {
        let mut slots = Vec::new();
        let offset = self.offset();
        let mut day = (from + offset).date_naive();
        let last = (to + offset).date_naive();
        while day <= last {
            for window in &self.windows {
                let Ok(time) = NaiveTime::parse_from_str(&window.start, "%H:%M") else {
                    continue;
                };
                let start = day.and_time(time).and_utc() - offset;
                if start >= from && start < to {
                    slots.push(self.slot(start, window));
                }
            }
            let Some(next) = day.succ_opt() else { break };
            day = next;
        }
        slots.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        slots
    }
}

impl ZoneMap {
    /// The slot an id names: its zone must exist and have a window starting then.
    pub fn slot(&self, id: &str) -> Result<Slot, ShippingError> {
        let not_found = || ShippingError::NotFound(format!("delivery slot {id}"));
        let (zone_id, time) = id.rsplit_once('-').ok_or_else(not_found)?;
        let zone = self.zone(zone_id).ok_or_else(not_found)?;
        let start = NaiveDateTime::parse_from_str(time, ID_TIME)
            .map_err(|_| not_found())?
            .and_utc();
        let window = zone.window_at(start).ok_or_else(not_found)?;
        Ok(zone.slot(start, window))
    }
}

/// Where a hold is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldStatus {
    /// Keeps a place until it expires.
    Held,
    /// A shipment uses the place.
    Confirmed,
    /// Given back. Terminal.
    Released,
    /// Ran out. Terminal.
    Expired,
}

impl HoldStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "HELD",
            HoldStatus::Confirmed => "CONFIRMED",
            HoldStatus::Released => "RELEASED",
            HoldStatus::Expired => "EXPIRED",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Held, Self::Confirmed, Self::Released, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A place held in a slot for one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotHold {
    /// The order; one hold per order.
    pub order_id: Uuid,
    /// The slot.
    pub slot_id: String,
    /// As stored; see [`SlotHold::status_at`] for what it is now.
    pub status: HoldStatus,
    /// The order's weight in grams.
    pub weight_grams: i64,
    /// Whether the order needs the cold chain.
    pub cold_chain: bool,
    /// When a HELD place is given back.
    pub expires_at: DateTime<Utc>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl SlotHold {
    /// The status at `now`: a HELD hold past its expiry is EXPIRED, swept or not.
    pub fn status_at(&self, now: DateTime<Utc>) -> HoldStatus {
        match self.status {
            HoldStatus::Held if self.expires_at <= now => HoldStatus::Expired,
            status => status,
        }
    }

    /// Whether the hold takes a place in its slot at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status_at(now),
            HoldStatus::Held | HoldStatus::Confirmed
        )
    }
}

/// A request to hold a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    /// The order.
    pub order_id: Uuid,
    /// The order's weight in grams.
    pub weight_grams: i64,
    /// Whether the order needs the cold chain.
    pub cold_chain: bool,
    /// How long to hold it.
    pub ttl: Duration,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone as _;

    use super::super::zones::tests::blr;
    use super::*;

    #[test]
    fn slots_are_cut_from_local_windows_and_named_by_their_utc_start() {
        let zone = blr();
        let from = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let slots = zone.slots_between(from, from + Duration::days(2));
        assert_eq!(slots.len(), 2);
        // 07:00 IST is 01:30 UTC.
        assert_eq!(slots[0].id, "blr-central-20261124T0130Z");
        assert_eq!(slots[0].end - slots[0].start, Duration::hours(2));
        assert_eq!(slots[0].closes_at, slots[0].start - Duration::hours(1));
        let map = ZoneMap { zones: vec![zone] };
        assert_eq!(map.slot(&slots[1].id).unwrap(), slots[1]);
        assert!(map.slot("blr-central-20261124T0200Z").is_err());
        assert!(map.slot("nowhere-20261124T0130Z").is_err());
        assert!(map.slot("garbage").is_err());
    }

    #[test]
    fn a_slot_refuses_when_closed_full_or_without_the_cold_chain() {
        let zone = blr();
        let from = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let mut slot = zone.slots_between(from, from + Duration::days(1)).remove(0);
        let early = slot.start - Duration::hours(3);
        assert_eq!(slot.refusal(2, true, early), None);
        assert_eq!(slot.refusal(3, false, early), Some("it is full"));
        assert!(
            slot.refusal(0, false, slot.start - Duration::minutes(30))
                .is_some()
        );
        slot.cold_chain = false;
        assert_eq!(slot.refusal(0, true, early), Some("it has no cold chain"));
    }

    #[test]
    fn a_held_place_past_its_expiry_counts_as_expired() {
        let now = Utc::now();
        let hold = SlotHold {
            order_id: Uuid::now_v7(),
            slot_id: "s".into(),
            status: HoldStatus::Held,
            weight_grams: 1,
            cold_chain: false,
            expires_at: now,
            created_at: now,
        };
        assert_eq!(hold.status_at(now), HoldStatus::Expired);
        assert!(!hold.is_live(now));
        assert!(hold.is_live(now - Duration::seconds(1)));
    }
}
