//! Shipments: made from paid orders, offered to riders, moved along by riders and staff,
//! cancelled with their orders. Every change is compare-and-set on the shipment's
//! version, retried on a lost race, written with its events and announced to watchers.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Shipping;
use crate::domain::{
    Actor, Money, NewHold, NewShipment, Shipment, ShipmentFilter, ShipmentStatus, ShippingError,
    StatusUpdate,
};
use crate::events;
use crate::store::{Events, HoldChange, ShippingStore};

/// Tries of a read-change-write before a conflict is reported.
const WRITE_TRIES: usize = 8;

/// How long a place re-held for a paid order whose hold ran out lasts before the shipment
/// confirms it (moments later).
const REHOLD_MINUTES: i64 = 5;

impl<S: ShippingStore> Shipping<S> {
    /// Creates the shipment of a paid order in the slot it holds, confirming the hold;
    /// repeating it returns the order's shipment. A hold that ran out or was given back is
    /// taken again in the same slot, or else in the zone's next slot that can take the
    /// order (a paid order always ships). Offered to the nearest rider at once when
    /// configured so.
    pub async fn create_shipment(
        &self,
        new: NewShipment,
        slot_id: Option<&str>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Shipment, ShippingError> {
        if let Some(existing) = self.store.shipment_of_order(new.order_id).await? {
            return Ok(existing);
        }
        let hold = self.store.hold(new.order_id).await?;
        let wanted = match (&hold, slot_id) {
            (Some(hold), _) => hold.slot_id.clone(),
            (None, Some(slot)) => slot.to_owned(),
            (None, None) => return Err(ShippingError::NoHold(new.order_id)),
        };
        let mut new = new;
        if let Some(hold) = &hold {
            // What checkout recorded from the reservation (weight, batches' cold chain)
            // wins over what the caller re-derived.
            new.weight_grams = new.weight_grams.max(hold.weight_grams);
            new.cold_chain |= hold.cold_chain;
        }
        let live = hold.as_ref().filter(|h| h.is_live(now));
        let slot = match live {
            Some(hold) => self.zones().slot(&hold.slot_id)?,
            None => self.rehold(&new, &wanted, now).await?,
        };
        let moved = slot.id != wanted;
        let mut shipment = Shipment::create(new, slot, actor, now);
        if moved && let Some(first) = shipment.tracking.first_mut() {
            first.note = "order paid; its slot had filled up, so it moved to the next one".into();
        }
        let events = self.status_events(&shipment, None);
        let (shipment, created) = self.store.insert_shipment(&shipment, events, now).await?;
        if created {
            tracing::info!(shipment = %shipment.id, order = %shipment.order_id, slot = %shipment.slot.id, "shipment created");
            self.announce(&shipment);
            if self.settings.auto_assign {
                match self.assign(shipment.id, None, actor, now).await {
                    Ok(assigned) => return Ok(assigned),
                    Err(ShippingError::NoRider(why)) => {
                        tracing::info!(shipment = %shipment.id, %why, "no rider yet; the shipment waits");
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(shipment)
    }

    /// Holds a place again for a paid order whose hold is gone: the slot it wanted, else
    /// the next one in that zone that can take it.
    async fn rehold(
        &self,
        new: &NewShipment,
        wanted: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::domain::Slot, ShippingError> {
        let hold = NewHold {
            order_id: new.order_id,
            weight_grams: new.weight_grams,
            cold_chain: new.cold_chain,
            ttl: chrono::Duration::minutes(REHOLD_MINUTES),
        };
        let first = self.zones().slot(wanted)?;
        match self.store.hold_slot(&first, &hold, now).await {
            Ok(_) => return Ok(first),
            Err(ShippingError::SlotUnavailable { .. }) => {}
            Err(error) => return Err(error),
        }
        let later = self
            .slots(
                &first.zone_id,
                first.start,
                first.start + chrono::Duration::days(super::MAX_LISTING_DAYS),
                new.cold_chain,
                now,
            )
            .await?;
        for view in later.into_iter().filter(|v| v.available) {
            match self.store.hold_slot(&view.slot, &hold, now).await {
                Ok(_) => return Ok(view.slot),
                Err(ShippingError::SlotUnavailable { .. }) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(ShippingError::SlotUnavailable {
            slot_id: wanted.to_owned(),
            why: "it and every later slot in its zone are full",
        })
    }

    /// The shipment, or NOT_FOUND.
    pub async fn shipment(&self, id: Uuid) -> Result<Shipment, ShippingError> {
        self.store
            .shipment(id)
            .await?
            .ok_or_else(|| ShippingError::NotFound(format!("shipment {id}")))
    }

    /// The order's shipment, if it has one.
    pub async fn shipment_of_order(
        &self,
        order_id: Uuid,
    ) -> Result<Option<Shipment>, ShippingError> {
        self.store.shipment_of_order(order_id).await
    }

    /// A page of shipments.
    pub async fn list(
        &self,
        filter: &ShipmentFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Shipment>, ShippingError> {
        self.store.list_shipments(filter, after, limit).await
    }

    /// Gives the shipment to `rider_id`, or with none to the rider the strategy picks.
    pub async fn assign(
        &self,
        shipment_id: Uuid,
        rider_id: Option<Uuid>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Shipment, ShippingError> {
        let chosen = match rider_id {
            Some(id) => Some(self.rider(id).await?),
            None => None,
        };
        self.change(shipment_id, |shipment| {
            let chosen = chosen.clone();
            async move {
                let rider = match chosen {
                    Some(rider) => {
                        if let Some(why) = crate::domain::assign::unsuitable(&rider, &shipment) {
                            return Err(ShippingError::RiderUnsuitable {
                                rider: rider.id,
                                why,
                            });
                        }
                        rider
                    }
                    None => self.nearest_rider(&shipment).await?,
                };
                let from = shipment.status;
                let mut changed = shipment;
                changed.assign(&rider, actor, now)?;
                let events = vec![
                    events::delivery_assigned(&changed),
                    events::status_changed(&changed, Some(from)),
                ];
                Ok((changed, events, HoldChange::Keep))
            }
        })
        .await
    }

    async fn nearest_rider(
        &self,
        shipment: &Shipment,
    ) -> Result<crate::domain::Rider, ShippingError> {
        let zone = self.zones().zone(&shipment.slot.zone_id).ok_or_else(|| {
            ShippingError::NotFound(format!("delivery zone {}", shipment.slot.zone_id))
        })?;
        let filter = crate::domain::RiderFilter {
            status: Some(crate::domain::RiderStatus::Available),
            zone_id: Some(zone.id.clone()),
            cold_chain: shipment.cold_chain.then_some(true),
        };
        let riders = self.all_riders(&filter).await?;
        let choice = self
            .strategy
            .choose(shipment, zone.warehouse, &riders)
            .ok_or_else(|| {
                ShippingError::NoRider(format!(
                    "none of the {} available riders in {} fits (cold chain: {}, {} g)",
                    riders.len(),
                    zone.id,
                    shipment.cold_chain,
                    shipment.weight_grams
                ))
            })?;
        tracing::info!(
            shipment = %shipment.id,
            rider = %choice.rider.id,
            distance_km = choice.distance_km,
            "nearest available rider chosen"
        );
        Ok(choice.rider.clone())
    }

    /// Moves the shipment along (see [`Shipment::apply`]); a wrong delivery code is
    /// stored (counted) and then refused.
    pub async fn update_status(
        &self,
        shipment_id: Uuid,
        update: StatusUpdate,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Shipment, ShippingError> {
        // Wrong codes so far when this attempt's code was wrong (0: it was not).
        let wrong_code = std::sync::atomic::AtomicI32::new(0);
        let shipment = self
            .change(shipment_id, |shipment| {
                let update = &update;
                let wrong_code = &wrong_code;
                async move {
                    let from = shipment.status;
                    let mut changed = shipment;
                    match changed.apply(update, actor, now) {
                        Ok(()) => {}
                        Err(ShippingError::WrongDeliveryCode { failures }) => {
                            wrong_code.store(failures, std::sync::atomic::Ordering::SeqCst);
                            return Ok((changed, Vec::new(), HoldChange::Keep));
                        }
                        Err(error) => return Err(error),
                    }
                    let hold = if changed.status == ShipmentStatus::Cancelled {
                        HoldChange::Release
                    } else {
                        HoldChange::Keep
                    };
                    let events = self.status_events(&changed, Some(from));
                    Ok((changed, events, hold))
                }
            })
            .await?;
        match wrong_code.load(std::sync::atomic::Ordering::SeqCst) {
            0 => Ok(shipment),
            failures => Err(ShippingError::WrongDeliveryCode { failures }),
        }
    }

    /// The assigned rider takes the shipment on.
    pub async fn accept(
        &self,
        shipment_id: Uuid,
        rider_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Shipment, ShippingError> {
        self.change(shipment_id, |shipment| async move {
            let mut changed = shipment;
            changed.accept(rider_id, now)?;
            Ok((changed, Vec::new(), HoldChange::Keep))
        })
        .await
    }

    /// The assigned rider turns the shipment down; it is offered to the next nearest
    /// rider, or waits PENDING when nobody fits.
    pub async fn reject(
        &self,
        shipment_id: Uuid,
        rider_id: Uuid,
        reason: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Shipment, ShippingError> {
        let rejected = self
            .change(shipment_id, |shipment| async move {
                let mut changed = shipment;
                changed.reject(rider_id, reason, actor, now)?;
                let events = self.status_events(&changed, Some(ShipmentStatus::Assigned));
                Ok((changed, events, HoldChange::Keep))
            })
            .await?;
        let system = Actor::Service(crate::SERVICE_NAME.into());
        match self.assign(rejected.id, None, &system, now).await {
            Ok(reassigned) => Ok(reassigned),
            Err(ShippingError::NoRider(_)) => Ok(rejected),
            Err(error) => Err(error),
        }
    }

    /// Cancels the order's shipment when it has not left the warehouse (the order was
    /// cancelled); `None` when the order has no shipment or it is already on its way.
    pub async fn cancel_for_order(
        &self,
        order_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Shipment>, ShippingError> {
        let Some(shipment) = self.store.shipment_of_order(order_id).await? else {
            return Ok(None);
        };
        if !shipment.status.can_become(ShipmentStatus::Cancelled) {
            return Ok(None);
        }
        let update = StatusUpdate {
            to: ShipmentStatus::Cancelled,
            note: format!(
                "order cancelled: {}",
                reason.chars().take(200).collect::<String>()
            ),
            ..StatusUpdate::default()
        };
        let actor = Actor::Service(crate::SERVICE_NAME.into());
        self.update_status(shipment.id, update, &actor, now)
            .await
            .map(Some)
    }

    /// Carries a rider's new position to their open shipments, for the people watching.
    pub(super) async fn rider_moved(
        &self,
        rider_id: Uuid,
        location: crate::domain::GeoPoint,
        now: DateTime<Utc>,
    ) -> Result<(), ShippingError> {
        let filter = ShipmentFilter {
            rider_id: Some(rider_id),
            statuses: ShipmentStatus::ALL
                .into_iter()
                .filter(|s| !s.is_terminal())
                .collect(),
            ..ShipmentFilter::default()
        };
        for open in self.store.list_shipments(&filter, None, 200).await? {
            self.change(open.id, |shipment| async move {
                let mut changed = shipment;
                if changed.rider_id == Some(rider_id) {
                    changed.rider_moved(location, now);
                }
                Ok((changed, Vec::new(), HoldChange::Keep))
            })
            .await?;
        }
        Ok(())
    }

    /// Reads the shipment, lets `decide` change it, and writes it back if nobody changed
    /// it meanwhile; else tries again on the fresh state. An unchanged version writes
    /// nothing.
    async fn change<F, Fut>(
        &self,
        shipment_id: Uuid,
        mut decide: F,
    ) -> Result<Shipment, ShippingError>
    where
        F: FnMut(Shipment) -> Fut,
        Fut: std::future::Future<Output = Result<(Shipment, Events, HoldChange), ShippingError>>,
    {
        for _ in 0..WRITE_TRIES {
            let current = self.shipment(shipment_id).await?;
            let version = current.version;
            let (changed, events, hold) = decide(current).await?;
            if changed.version == version {
                return Ok(changed);
            }
            match self
                .store
                .update_shipment(&changed, version, events, hold)
                .await
            {
                Ok(()) => {
                    self.announce(&changed);
                    return Ok(changed);
                }
                Err(ShippingError::Conflict(_)) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(ShippingError::Conflict(format!("shipment {shipment_id}")))
    }

    /// ShipmentStatusChanged for the shipment's latest move, under the current trace.
    fn status_events(&self, shipment: &Shipment, from: Option<ShipmentStatus>) -> Events {
        vec![events::status_changed(shipment, from)]
    }
}

/// Cash due at the door for an order paid by cash on delivery.
pub fn cash_due(currency: &str, minor: i64, cash_on_delivery: bool) -> Money {
    Money {
        currency: currency.to_owned(),
        minor: if cash_on_delivery { minor } else { 0 },
    }
}
