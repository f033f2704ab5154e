//! Riders: registered by admins, changing their own status and position; a new position
//! reaches the watchers of the rider's open shipments.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Shipping;
use crate::domain::{NewRider, Rider, RiderFilter, RiderPatch, ShippingError};
use crate::store::ShippingStore;

/// Tries of a read-change-write before a conflict is reported.
const WRITE_TRIES: usize = 8;

impl<S: ShippingStore> Shipping<S> {
    /// Registers a rider, OFF_DUTY; a second rider for one user is refused.
    pub async fn create_rider(
        &self,
        new: NewRider,
        now: DateTime<Utc>,
    ) -> Result<Rider, ShippingError> {
        if let Some(unknown) = new.zone_ids.iter().find(|z| self.zones().zone(z).is_none()) {
            return Err(ShippingError::invalid(
                "rider.zone_ids",
                format!("{unknown} is not a delivery zone"),
            ));
        }
        let rider = Rider::create(new, now);
        self.store.insert_rider(&rider).await?;
        Ok(rider)
    }

    /// The rider, or NOT_FOUND.
    pub async fn rider(&self, id: Uuid) -> Result<Rider, ShippingError> {
        self.store
            .rider(id)
            .await?
            .ok_or_else(|| ShippingError::NotFound(format!("rider {id}")))
    }

    /// The rider profile of a user, if they have one.
    pub async fn rider_of_user(&self, user_id: Uuid) -> Result<Option<Rider>, ShippingError> {
        self.store.rider_of_user(user_id).await
    }

    /// A page of riders.
    pub async fn riders(
        &self,
        filter: &RiderFilter,
        after: Option<(String, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Rider>, ShippingError> {
        self.store.list_riders(filter, after, limit).await
    }

    /// Every rider passing `filter`, page by page.
    pub(super) async fn all_riders(
        &self,
        filter: &RiderFilter,
    ) -> Result<Vec<Rider>, ShippingError> {
        const PAGE: usize = 200;
        let mut all: Vec<Rider> = Vec::new();
        loop {
            let after = all.last().map(|r| (r.display_name.clone(), r.id));
            let page = self.store.list_riders(filter, after, PAGE).await?;
            let done = page.len() < PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Applies `patch` to the rider, compare-and-set, and carries a new position to their
    /// open shipments.
    pub async fn update_rider(
        &self,
        id: Uuid,
        patch: RiderPatch,
        now: DateTime<Utc>,
    ) -> Result<Rider, ShippingError> {
        if let Some(zones) = &patch.zone_ids
            && let Some(unknown) = zones.iter().find(|z| self.zones().zone(z).is_none())
        {
            return Err(ShippingError::invalid(
                "rider.zone_ids",
                format!("{unknown} is not a delivery zone"),
            ));
        }
        let location = patch.location;
        for _ in 0..WRITE_TRIES {
            let current = self.rider(id).await?;
            let mut changed = current.clone();
            changed.patch(patch.clone(), now);
            match self.store.update_rider(&changed, current.version).await {
                Ok(()) => {
                    if let Some(location) = location {
                        self.rider_moved(id, location, now).await?;
                    }
                    return Ok(changed);
                }
                Err(ShippingError::Conflict(_)) => continue,
                Err(error) => return Err(error),
            }
        }
        Err(ShippingError::Conflict(format!("rider {id}")))
    }
}
