//! In-memory twin of the store: the embedded default and the contract's reference.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{NotificationStore, Recorded, Source, StoreError};
use crate::domain::{Delivery, DeliveryFilter};

/// Deliveries in process memory. Clones share the data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// Source key → (fingerprint, delivery ids in order).
    sources: HashMap<String, (String, Vec<Uuid>)>,
    deliveries: BTreeMap<Uuid, Delivery>,
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves whole values: go on with them.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl NotificationStore for MemoryStore {
    async fn seen(&self, source: &Source) -> Result<bool, StoreError> {
        Ok(self.lock().sources.contains_key(&source.key()))
    }

    async fn record(
        &self,
        source: &Source,
        deliveries: Vec<Delivery>,
    ) -> Result<Recorded, StoreError> {
        let mut inner = self.lock();
        if let Some((fingerprint, ids)) = inner.sources.get(&source.key()) {
            return Ok(Recorded::Existing {
                deliveries: ids
                    .iter()
                    .filter_map(|id| inner.deliveries.get(id).cloned())
                    .collect(),
                fingerprint: fingerprint.clone(),
            });
        }
        let ids = deliveries.iter().map(|d| d.id).collect();
        inner
            .sources
            .insert(source.key(), (source.fingerprint().to_owned(), ids));
        for delivery in &deliveries {
            inner.deliveries.insert(delivery.id, delivery.clone());
        }
        Ok(Recorded::New(deliveries))
    }

    async fn get(&self, id: Uuid) -> Result<Option<Delivery>, StoreError> {
        Ok(self.lock().deliveries.get(&id).cloned())
    }

    async fn list(
        &self,
        filter: &DeliveryFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .deliveries
            .values()
            .rev()
            .filter(|d| after.is_none_or(|a| d.id < a))
            .filter(|d| filter.matches(d))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut inner = self.lock();
        let mut claimed = Vec::new();
        for delivery in inner.deliveries.values_mut() {
            if claimed.len() == limit {
                break;
            }
            if delivery.status.is_open() && delivery.next_attempt_at.is_none_or(|at| at <= now) {
                delivery.next_attempt_at = Some(lease_until);
                claimed.push(delivery.clone());
            }
        }
        Ok(claimed)
    }

    async fn save_attempt(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match inner.deliveries.get_mut(&delivery.id) {
            Some(stored) => {
                stored.status = delivery.status;
                stored.attempts = delivery.attempts;
                stored.last_error.clone_from(&delivery.last_error);
                stored.next_attempt_at = delivery.next_attempt_at;
                stored.updated_at = delivery.updated_at;
                stored.sent_at = delivery.sent_at;
                Ok(())
            }
            None => Err(StoreError::Failed(format!(
                "delivery {} does not exist",
                delivery.id
            ))),
        }
    }
}
