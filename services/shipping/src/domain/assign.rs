//! Choosing a rider for a shipment. The rule is simple enough to explain to a rider:
//! among those AVAILABLE in the shipment's zone who can carry it (cold chain when it needs
//! it, enough load) and have not turned it down, the one nearest the warehouse it leaves
//! from; riders who never reported a position come last; ties go to the longest-registered
//! rider. Other rules plug in through [`AssignmentStrategy`].

use super::{GeoPoint, Rider, RiderStatus, Shipment};

/// The rider chosen and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice<'a> {
    /// Who.
    pub rider: &'a Rider,
    /// Distance from the origin in km, when the rider's position is known.
    pub distance_km: Option<f64>,
}

/// Picks a rider for a shipment from candidates.
pub trait AssignmentStrategy: Send + Sync + 'static {
    /// The rider to offer `shipment` to, leaving from `origin`; `None` when nobody fits.
    fn choose<'a>(
        &self,
        shipment: &Shipment,
        origin: GeoPoint,
        riders: &'a [Rider],
    ) -> Option<Choice<'a>>;
}

/// Why `rider` cannot carry `shipment`, if they cannot (availability aside).
pub fn unsuitable(rider: &Rider, shipment: &Shipment) -> Option<&'static str> {
    if shipment.cold_chain && !rider.cold_chain {
        Some("the shipment needs the cold chain and the rider has no cold-chain carrier")
    } else if rider.max_load_grams < shipment.weight_grams {
        Some("the shipment is heavier than the rider can carry")
    } else if !rider.zone_ids.contains(&shipment.slot.zone_id) {
        Some("the rider does not serve the shipment's zone")
    } else if shipment.rejected_by.contains(&rider.id) {
        Some("the rider turned this shipment down")
    } else {
        None
    }
}

/// The nearest suitable available rider.
#[derive(Debug, Clone, Copy, Default)]
pub struct NearestAvailable;

impl AssignmentStrategy for NearestAvailable {
    fn choose<'a>(
        &self,
        shipment: &Shipment,
        origin: GeoPoint,
        riders: &'a [Rider],
    ) -> Option<Choice<'a>> {
        riders
            .iter()
            .filter(|r| r.status == RiderStatus::Available && unsuitable(r, shipment).is_none())
            .map(|rider| Choice {
                rider,
                distance_km: rider.location.map(|(at, _)| at.distance_km(&origin)),
            })
            .min_by(|a, b| {
                let far = f64::INFINITY;
                a.distance_km
                    .unwrap_or(far)
                    .total_cmp(&b.distance_km.unwrap_or(far))
                    .then_with(|| a.rider.created_at.cmp(&b.rider.created_at))
                    .then_with(|| a.rider.id.cmp(&b.rider.id))
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{Duration, TimeZone as _, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::domain::zones::tests::blr;
    use crate::domain::{Actor, Destination, Money, NewShipment, VehicleType};

    fn rider(name: &str, at: Option<(f64, f64)>, cold: bool) -> Rider {
        let now = Utc::now();
        Rider {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            display_name: name.into(),
            phone: "+919812345678".into(),
            vehicle: VehicleType::Motorcycle,
            cold_chain: cold,
            max_load_grams: 20_000,
            zone_ids: vec!["blr-central".into()],
            status: RiderStatus::Available,
            location: at.map(|(latitude, longitude)| {
                (
                    GeoPoint {
                        latitude,
                        longitude,
                    },
                    now,
                )
            }),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    fn shipment(cold: bool, grams: i64) -> Shipment {
        let from = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let slot = blr()
            .slots_between(from, from + Duration::days(1))
            .remove(0);
        Shipment::create(
            NewShipment {
                order_id: Uuid::now_v7(),
                user_id: Uuid::now_v7(),
                destination: Destination::default(),
                warehouse_id: None,
                weight_grams: grams,
                cold_chain: cold,
                cash_to_collect: Money {
                    currency: "INR".into(),
                    minor: 0,
                },
            },
            slot,
            &Actor::Service("shipping".into()),
            from,
        )
    }

    const ORIGIN: GeoPoint = GeoPoint {
        latitude: 12.97,
        longitude: 77.59,
    };

    #[test]
    fn the_nearest_suitable_available_rider_is_chosen() {
        let far = rider("far", Some((13.10, 77.59)), true);
        let near = rider("near", Some((12.98, 77.60)), true);
        let unknown = rider("unknown", None, true);
        let mut busy = rider("busy", Some((12.97, 77.59)), true);
        busy.status = RiderStatus::OffDuty;
        let riders = vec![far, unknown, busy, near];
        let choice = NearestAvailable
            .choose(&shipment(false, 1_000), ORIGIN, &riders)
            .unwrap();
        assert_eq!(choice.rider.display_name, "near");
        assert!(choice.distance_km.unwrap() < 2.0);
    }

    #[test]
    fn cold_chain_load_zone_and_refusals_rule_riders_out() {
        let warm = rider("warm", Some((12.97, 77.59)), false);
        let cold = rider("cold", None, true);
        let riders = vec![warm.clone(), cold.clone()];
        let s = shipment(true, 1_000);
        assert_eq!(
            NearestAvailable
                .choose(&s, ORIGIN, &riders)
                .unwrap()
                .rider
                .display_name,
            "cold"
        );
        assert!(unsuitable(&warm, &s).unwrap().contains("cold chain"));
        let heavy = shipment(false, 50_000);
        assert!(NearestAvailable.choose(&heavy, ORIGIN, &riders).is_none());
        let mut refused = shipment(true, 1_000);
        refused.rejected_by.push(cold.id);
        assert!(NearestAvailable.choose(&refused, ORIGIN, &riders).is_none());
        let mut elsewhere = cold;
        elsewhere.zone_ids = vec!["mum-west".into()];
        assert!(unsuitable(&elsewhere, &s).unwrap().contains("zone"));
    }
}
