//! In-memory adapter of [`CheckoutStore`]: the embedded default and the contract tests'
//! reference. State is lost with the process, so recovery only matters with PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CheckoutStore, Created, Cursor, StoreError, matches};
use crate::domain::{CheckoutFilter, Saga};

/// A saga and its lease: owner and until when.
type Leased = (Saga, Uuid, DateTime<Utc>);

/// Sagas in a map, each with its lease. Clones share the map.
#[derive(Clone, Default)]
pub struct MemoryStore {
    sagas: Arc<Mutex<HashMap<Uuid, Leased>>>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Uuid, Leased>) -> T) -> T {
        f(&mut self.sagas.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl CheckoutStore for MemoryStore {
    async fn create(
        &self,
        saga: &Saga,
        owner: Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        self.with(|sagas| {
            if let Some((existing, ..)) = sagas.get(&saga.id) {
                return Ok(Created::Existing(existing.clone()));
            }
            let mut saga = saga.clone();
            saga.version = 1;
            sagas.insert(saga.id, (saga.clone(), owner, lease_until));
            Ok(Created::New(saga))
        })
    }

    async fn get(&self, id: Uuid) -> Result<Option<Saga>, StoreError> {
        Ok(self.with(|sagas| sagas.get(&id).map(|(s, ..)| s.clone())))
    }

    async fn save(
        &self,
        saga: &Saga,
        owner: Uuid,
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.with(|sagas| match sagas.get_mut(&saga.id) {
            Some(entry) if entry.0.version == saga.version - 1 => {
                *entry = (saga.clone(), owner, lease_until);
                Ok(())
            }
            _ => Err(StoreError::Conflict(saga.id)),
        })
    }

    async fn claim_unfinished(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Saga>, StoreError> {
        self.with(|sagas| {
            let mut claimed: Vec<Saga> = Vec::new();
            let mut ids: Vec<(DateTime<Utc>, Uuid)> = sagas
                .values()
                .filter(|(s, o, until)| !s.state.is_terminal() && (*until < now || *o == owner))
                .map(|(s, ..)| (s.created_at, s.id))
                .collect();
            ids.sort();
            for (_, id) in ids.into_iter().take(limit) {
                if let Some(entry) = sagas.get_mut(&id) {
                    entry.1 = owner;
                    entry.2 = lease_until;
                    claimed.push(entry.0.clone());
                }
            }
            Ok(claimed)
        })
    }

    async fn list(
        &self,
        filter: &CheckoutFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Saga>, StoreError> {
        self.with(|sagas| {
            let mut found: Vec<Saga> = sagas
                .values()
                .map(|(s, ..)| s)
                .filter(|s| matches(s, filter, after.as_ref()))
                .cloned()
                .collect();
            found.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
            found.truncate(limit);
            Ok(found)
        })
    }
}
