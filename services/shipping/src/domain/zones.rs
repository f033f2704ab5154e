//! Delivery zones: which addresses each serves (postal-code prefixes, or a radius around
//! its warehouse), what delivery costs there, and the daily windows its slots are cut
//! from. Zones are configuration (a JSON document), loaded and checked once at start.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::{GeoPoint, ShippingError};

/// A daily delivery window in a zone's local time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Local start time, `HH:MM`.
    pub start: String,
    /// Length in minutes (default 120).
    #[serde(default = "two_hours")]
    pub minutes: i64,
    /// Orders one slot of this window takes.
    pub capacity: i32,
    /// Whether riders with cold chain serve this window.
    #[serde(default)]
    pub cold_chain: bool,
    /// Extra fee for this window, minor units (express, evening).
    #[serde(default)]
    pub surcharge_minor: i64,
}

fn two_hours() -> i64 {
    120
}

/// One delivery zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    /// Stable id, lower-case with dashes (`blr-central`); prefixes slot ids.
    pub id: String,
    /// Name for people.
    pub name: String,
    /// ISO country code of the addresses it serves.
    pub country_code: String,
    /// Postal-code prefixes served; the longest matching prefix over all zones wins.
    #[serde(default)]
    pub postal_prefixes: Vec<String>,
    /// Alternatively (or also), addresses within this many km of the warehouse.
    #[serde(default)]
    pub radius_km: Option<f64>,
    /// Where shipments leave from: riders nearest to it are offered shipments first.
    pub warehouse: GeoPoint,
    /// Offset of local time from UTC in minutes (India: 330), for the windows.
    pub utc_offset_minutes: i32,
    /// Currency of the fees.
    pub currency: String,
    /// Base delivery fee, minor units.
    pub fee_minor: i64,
    /// Weight the base fee carries, in grams.
    pub included_grams: i64,
    /// Fee per started kilogram above `included_grams`, minor units.
    pub per_kg_minor: i64,
    /// Subtotal from which delivery is free (the slot and cold-chain surcharges still
    /// apply); none means never free.
    #[serde(default)]
    pub free_above_minor: Option<i64>,
    /// Added when the goods need the cold chain.
    pub cold_chain_surcharge_minor: i64,
    /// Slots close for booking this many minutes before they start.
    pub cutoff_minutes: i64,
    /// The daily windows.
    pub windows: Vec<Window>,
}

/// The configured zones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneMap {
    /// Every zone.
    pub zones: Vec<Zone>,
}

/// What to price.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRequest {
    /// Postal code of the address.
    pub postal_code: String,
    /// Country of the address.
    pub country_code: String,
    /// Location of the address, when known (radius zones need it).
    pub geo: Option<GeoPoint>,
    /// Weight in grams, > 0.
    pub weight_grams: i64,
    /// Whether the goods need the cold chain.
    pub cold_chain: bool,
    /// Value of the goods, for free delivery; minor units.
    pub subtotal_minor: Option<i64>,
}

/// A price for delivery in a zone (before any slot surcharge).
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// Delivery fee, minor units.
    pub fee_minor: i64,
    /// Currency of the fee.
    pub currency: String,
    /// Subtotal from which delivery is free.
    pub free_above_minor: Option<i64>,
}

impl ZoneMap {
    /// Parses and checks a zones document.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let map: ZoneMap = serde_json::from_str(json).map_err(|e| e.to_string())?;
        map.check()?;
        Ok(map)
    }

    fn check(&self) -> Result<(), String> {
        if self.zones.is_empty() {
            return Err("no zones".into());
        }
        let mut ids = std::collections::BTreeSet::new();
        for zone in &self.zones {
            let id_ok = !zone.id.is_empty()
                && zone
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return Err(format!("zone id {:?}: use a-z, 0-9 and -", zone.id));
            }
            if !ids.insert(zone.id.as_str()) {
                return Err(format!("zone id {:?} appears twice", zone.id));
            }
            let zone_err = |what: &str| Err(format!("zone {}: {what}", zone.id));
            if zone.postal_prefixes.is_empty() && zone.radius_km.is_none() {
                return zone_err("needs postal_prefixes or radius_km");
            }
            if zone.radius_km.is_some_and(|r| !(r > 0.0 && r <= 200.0)) {
                return zone_err("radius_km must be in (0, 200]");
            }
            if !zone.warehouse.is_valid() {
                return zone_err("warehouse is not a valid location");
            }
            if zone.utc_offset_minutes.abs() > 14 * 60 {
                return zone_err("utc_offset_minutes must be within ±14h");
            }
            let fees = [
                zone.fee_minor,
                zone.included_grams,
                zone.per_kg_minor,
                zone.cold_chain_surcharge_minor,
                zone.cutoff_minutes,
                zone.free_above_minor.unwrap_or(0),
            ];
            if fees.iter().any(|f| *f < 0) {
                return zone_err("fees, weights and the cutoff must not be negative");
            }
            if zone.windows.is_empty() {
                return zone_err("needs at least one window");
            }
            for window in &zone.windows {
                if NaiveTime::parse_from_str(&window.start, "%H:%M").is_err() {
                    return zone_err("window start must be HH:MM");
                }
                if !(15..=12 * 60).contains(&window.minutes) {
                    return zone_err("windows last 15 minutes to 12 hours");
                }
                if window.capacity < 1 || window.surcharge_minor < 0 {
                    return zone_err("window capacity must be >= 1 and surcharge >= 0");
                }
            }
        }
        Ok(())
    }

    /// The zone by id.
    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    /// The zone serving an address: the longest matching postal prefix in its country,
    /// else the nearest radius zone whose circle holds the address.
    pub fn locate(
        &self,
        postal_code: &str,
        country_code: &str,
        geo: Option<GeoPoint>,
    ) -> Result<&Zone, ShippingError> {
        let postal: String = postal_code
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let in_country = || {
            self.zones
                .iter()
                .filter(|z| z.country_code.eq_ignore_ascii_case(country_code))
        };
        let by_prefix = in_country()
            .flat_map(|z| z.postal_prefixes.iter().map(move |p| (z, p)))
            .filter(|(_, p)| postal.starts_with(&p.to_ascii_uppercase()))
            .max_by_key(|(_, p)| p.len())
            .map(|(z, _)| z);
        let by_radius = || {
            let point = geo?;
            in_country()
                .filter_map(|z| Some((z, z.radius_km?, z.warehouse.distance_km(&point))))
                .filter(|(_, radius, distance)| distance <= radius)
                .min_by(|a, b| a.2.total_cmp(&b.2))
                .map(|(z, ..)| z)
        };
        by_prefix
            .or_else(by_radius)
            .ok_or_else(|| ShippingError::Unserviceable {
                postal_code: postal_code.to_owned(),
                country_code: country_code.to_owned(),
            })
    }
}

impl Zone {
    /// What delivering `request` costs here: the base fee, plus each started kilogram
    /// above the included weight, free above the threshold, plus the cold-chain surcharge
    /// (which free delivery does not waive: the chilled carrier costs the same).
    pub fn quote(&self, request: &QuoteRequest) -> Quote {
        let over = (request.weight_grams - self.included_grams).max(0);
        let started_kg = (over + 999) / 1000;
        let mut fee = self
            .fee_minor
            .saturating_add(started_kg.saturating_mul(self.per_kg_minor));
        if let (Some(free), Some(subtotal)) = (self.free_above_minor, request.subtotal_minor)
            && subtotal >= free
        {
            fee = 0;
        }
        if request.cold_chain {
            fee = fee.saturating_add(self.cold_chain_surcharge_minor);
        }
        Quote {
            fee_minor: fee,
            currency: self.currency.clone(),
            free_above_minor: self.free_above_minor,
        }
    }

    /// How far before its start a slot closes.
    pub fn cutoff(&self) -> Duration {
        Duration::minutes(self.cutoff_minutes)
    }

    /// The local offset as a duration (local = UTC + offset).
    pub fn offset(&self) -> Duration {
        Duration::minutes(i64::from(self.utc_offset_minutes))
    }

    /// The window starting at `start` (UTC), if the schedule has one then.
    pub fn window_at(&self, start: DateTime<Utc>) -> Option<&Window> {
        let local = (start + self.offset()).time();
        self.windows
            .iter()
            .find(|w| NaiveTime::parse_from_str(&w.start, "%H:%M").is_ok_and(|t| t == local))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    pub(crate) fn blr() -> Zone {
        Zone {
            id: "blr-central".into(),
            name: "Bengaluru central".into(),
            country_code: "IN".into(),
            postal_prefixes: vec!["5600".into(), "56001".into()],
            radius_km: None,
            warehouse: GeoPoint {
                latitude: 12.97,
                longitude: 77.59,
            },
            utc_offset_minutes: 330,
            currency: "INR".into(),
            fee_minor: 3_000,
            included_grams: 5_000,
            per_kg_minor: 500,
            free_above_minor: Some(50_000),
            cold_chain_surcharge_minor: 2_000,
            cutoff_minutes: 60,
            windows: vec![Window {
                start: "07:00".into(),
                minutes: 120,
                capacity: 3,
                cold_chain: true,
                surcharge_minor: 0,
            }],
        }
    }

    fn request(weight: i64, cold: bool, subtotal: Option<i64>) -> QuoteRequest {
        QuoteRequest {
            postal_code: "560001".into(),
            country_code: "IN".into(),
            geo: None,
            weight_grams: weight,
            cold_chain: cold,
            subtotal_minor: subtotal,
        }
    }

    #[test]
    fn fee_is_base_plus_each_started_kilogram_over_the_included_weight() {
        let zone = blr();
        assert_eq!(zone.quote(&request(5_000, false, None)).fee_minor, 3_000);
        assert_eq!(zone.quote(&request(5_001, false, None)).fee_minor, 3_500);
        assert_eq!(zone.quote(&request(7_200, false, None)).fee_minor, 4_500);
    }

    #[test]
    fn delivery_is_free_above_the_threshold_but_the_cold_chain_is_not() {
        let zone = blr();
        assert_eq!(
            zone.quote(&request(9_000, false, Some(50_000))).fee_minor,
            0
        );
        assert_eq!(
            zone.quote(&request(9_000, true, Some(50_000))).fee_minor,
            2_000
        );
        assert_eq!(
            zone.quote(&request(1_000, true, Some(49_999))).fee_minor,
            5_000
        );
    }

    #[test]
    fn the_longest_postal_prefix_wins_and_radius_zones_catch_the_rest() {
        let mut north = blr();
        north.id = "blr-north".into();
        north.postal_prefixes = vec!["560".into()];
        let mut ring = blr();
        ring.id = "blr-ring".into();
        ring.postal_prefixes = vec![];
        ring.radius_km = Some(30.0);
        let map = ZoneMap {
            zones: vec![north, blr(), ring],
        };
        assert_eq!(map.locate("560 001", "IN", None).unwrap().id, "blr-central");
        assert_eq!(map.locate("560012", "in", None).unwrap().id, "blr-central");
        assert_eq!(map.locate("560200", "IN", None).unwrap().id, "blr-north");
        let near = GeoPoint {
            latitude: 13.1,
            longitude: 77.6,
        };
        assert_eq!(
            map.locate("562157", "IN", Some(near)).unwrap().id,
            "blr-ring"
        );
        assert!(matches!(
            map.locate("562157", "IN", None),
            Err(ShippingError::Unserviceable { .. })
        ));
        assert!(map.locate("560001", "US", None).is_err());
    }

    #[test]
    fn a_bad_zones_document_is_refused_with_the_zone_named() {
        let mut zone = blr();
        zone.windows[0].start = "7am".into();
        let json = serde_json::to_string(&ZoneMap { zones: vec![zone] }).unwrap();
        let err = ZoneMap::from_json(&json).unwrap_err();
        assert!(
            err.contains("blr-central") && err.contains("HH:MM"),
            "{err}"
        );
    }

    #[test]
    fn the_bundled_demo_zones_load() {
        let map = ZoneMap::from_json(crate::DEMO_ZONES).unwrap();
        assert!(map.zones.len() >= 2);
    }
}
