//! In-memory twin of the PostgreSQL adapter: the embedded default and fast tests. One mutex
//! over all state makes every method atomic, like the adapter's per-user transactions.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ProfileStore, StoreError};
use crate::domain::{
    Address, AddressCursor, AddressPatch, Preferences, PreferencesPatch, Profile, ProfileError,
    ProfilePatch, RequestRecord,
};

/// Profile's data in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    profiles: HashMap<Uuid, Profile>,
    addresses: HashMap<Uuid, Address>,
    preferences: HashMap<Uuid, Preferences>,
    requests: HashMap<String, RequestRecord>,
}

impl MemoryStore {
    fn lock(&self) -> Result<MutexGuard<'_, State>, ProfileError> {
        self.state
            .lock()
            .map_err(|_| ProfileError::Store(StoreError::Failed("memory store poisoned".into())))
    }
}

impl State {
    /// The user's profile, created empty at `now` when missing (profiles appear on first
    /// write).
    fn touch_profile(&mut self, user_id: Uuid, now: DateTime<Utc>) -> &mut Profile {
        self.profiles.entry(user_id).or_insert_with(|| Profile {
            created_at: Some(now),
            updated_at: Some(now),
            ..Profile::empty(user_id)
        })
    }

    fn addresses_of(&self, user_id: Uuid) -> impl Iterator<Item = &Address> {
        self.addresses
            .values()
            .filter(move |a| a.user_id == user_id)
    }

    /// Clears the default flag of every address of `user_id` but `keep`, at `now`.
    fn clear_defaults(&mut self, user_id: Uuid, keep: Uuid, now: DateTime<Utc>) {
        for address in self.addresses.values_mut() {
            if address.user_id == user_id && address.is_default && address.id != keep {
                address.is_default = false;
                address.updated_at = now;
            }
        }
    }
}

impl ProfileStore for MemoryStore {
    async fn profile(&self, user_id: Uuid) -> Result<Option<Profile>, ProfileError> {
        Ok(self.lock()?.profiles.get(&user_id).cloned())
    }

    async fn update_profile(
        &self,
        user_id: Uuid,
        patch: &ProfilePatch,
        now: DateTime<Utc>,
    ) -> Result<Profile, ProfileError> {
        let mut state = self.lock()?;
        let profile = state.touch_profile(user_id, now);
        *profile = patch.apply(profile.clone(), now);
        Ok(profile.clone())
    }

    async fn list_addresses(
        &self,
        user_id: Uuid,
        after: Option<AddressCursor>,
        limit: usize,
    ) -> Result<Vec<Address>, ProfileError> {
        let state = self.lock()?;
        let mut page: Vec<Address> = state
            .addresses_of(user_id)
            .filter(|a| after.is_none_or(|cursor| cursor.precedes(a)))
            .cloned()
            .collect();
        page.sort_by(Address::list_order);
        page.truncate(limit);
        Ok(page)
    }

    async fn address(&self, id: Uuid) -> Result<Option<Address>, ProfileError> {
        Ok(self.lock()?.addresses.get(&id).cloned())
    }

    async fn create_address(
        &self,
        address: &Address,
        make_default: bool,
    ) -> Result<Address, ProfileError> {
        let mut state = self.lock()?;
        let now = address.created_at;
        state.touch_profile(address.user_id, now);
        let existing = state.addresses_of(address.user_id).count();
        let mut stored = address.clone();
        stored.is_default = Address::becomes_default(existing, make_default)?;
        if stored.is_default {
            state.clear_defaults(address.user_id, address.id, now);
        }
        state.addresses.insert(stored.id, stored.clone());
        Ok(stored)
    }

    async fn update_address(
        &self,
        id: Uuid,
        patch: &AddressPatch,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, ProfileError> {
        let mut state = self.lock()?;
        let Some(address) = state.addresses.get_mut(&id) else {
            return Ok(None);
        };
        *address = patch.apply(address.clone(), now);
        Ok(Some(address.clone()))
    }

    async fn delete_address(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, ProfileError> {
        let mut state = self.lock()?;
        let Some(deleted) = state.addresses.remove(&id) else {
            return Ok(None);
        };
        if !deleted.is_default {
            return Ok(None);
        }
        let successor = state
            .addresses_of(deleted.user_id)
            .max_by_key(|a| (a.updated_at, a.id))
            .map(|a| a.id);
        let Some(successor) = successor.and_then(|id| state.addresses.get_mut(&id)) else {
            return Ok(None);
        };
        successor.is_default = true;
        successor.updated_at = now;
        Ok(Some(successor.clone()))
    }

    async fn set_default_address(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<Address>, ProfileError> {
        let mut state = self.lock()?;
        let Some(user_id) = state.addresses.get(&id).map(|a| a.user_id) else {
            return Ok(None);
        };
        state.clear_defaults(user_id, id, now);
        let Some(address) = state.addresses.get_mut(&id) else {
            return Ok(None);
        };
        if !address.is_default {
            address.is_default = true;
            address.updated_at = now;
        }
        Ok(Some(address.clone()))
    }

    async fn preferences(&self, user_id: Uuid) -> Result<Option<Preferences>, ProfileError> {
        Ok(self.lock()?.preferences.get(&user_id).cloned())
    }

    async fn update_preferences(
        &self,
        user_id: Uuid,
        patch: &PreferencesPatch,
        now: DateTime<Utc>,
    ) -> Result<Preferences, ProfileError> {
        let mut state = self.lock()?;
        state.touch_profile(user_id, now);
        let current = state
            .preferences
            .get(&user_id)
            .cloned()
            .unwrap_or_else(|| Preferences::defaults(user_id));
        let updated = patch.apply(current, now);
        state.preferences.insert(user_id, updated.clone());
        Ok(updated)
    }

    async fn recall_request(&self, key: &str) -> Result<Option<RequestRecord>, ProfileError> {
        Ok(self.lock()?.requests.get(key).cloned())
    }

    async fn remember_request(&self, record: &RequestRecord) -> Result<(), ProfileError> {
        self.lock()?
            .requests
            .entry(record.key.clone())
            .or_insert_with(|| record.clone());
        Ok(())
    }
}
