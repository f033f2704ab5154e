//! In-memory twins of the identity ports: the embedded default and fast tests.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AttemptCounter, IdentityStore, StoreError, Window};
use crate::domain::{Email, RefreshRecord, Role, Rotation, SigningKeyRecord, User};

#[derive(Debug, Clone)]
struct StoredRefresh {
    record: RefreshRecord,
    spent: bool,
    revoked: bool,
}

#[derive(Default)]
struct State {
    users: HashMap<Uuid, (User, String)>,
    by_email: HashMap<String, Uuid>,
    by_request_id: HashMap<String, Uuid>,
    refresh: HashMap<String, StoredRefresh>,
    keys: Vec<SigningKeyRecord>,
}

/// Keeps identity's data in process memory; lost on exit.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-written: every
        // mutation below is a single insert or a loop of flag sets.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl IdentityStore for MemoryStore {
    async fn create_user(
        &self,
        user: &User,
        password_hash: &str,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.by_email.contains_key(user.email.as_str()) {
            return Err(StoreError::Conflict("email".into()));
        }
        if let Some(request_id) = request_id {
            if state.by_request_id.contains_key(request_id) {
                return Err(StoreError::Conflict("request_id".into()));
            }
            state.by_request_id.insert(request_id.to_owned(), user.id);
        }
        state
            .by_email
            .insert(user.email.as_str().to_owned(), user.id);
        state
            .users
            .insert(user.id, (user.clone(), password_hash.to_owned()));
        Ok(())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<(User, String)>, StoreError> {
        let state = self.state();
        Ok(state
            .by_email
            .get(email.as_str())
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn user_by_request_id(&self, request_id: &str) -> Result<Option<User>, StoreError> {
        let state = self.state();
        Ok(state
            .by_request_id
            .get(request_id)
            .and_then(|id| state.users.get(id))
            .map(|(user, _)| user.clone()))
    }

    async fn admin_exists(&self) -> Result<bool, StoreError> {
        Ok(self
            .state()
            .users
            .values()
            .any(|(user, _)| user.role == Role::Admin))
    }

    async fn user_by_id(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        Ok(self.state().users.get(&id).map(|(user, _)| user.clone()))
    }

    async fn set_role(
        &self,
        id: Uuid,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        Ok(self.state().users.get_mut(&id).map(|(user, _)| {
            user.role = role;
            user.updated_at = at;
            user.clone()
        }))
    }

    async fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        self.state().refresh.insert(
            record.token_hash.clone(),
            StoredRefresh {
                record: record.clone(),
                spent: false,
                revoked: false,
            },
        );
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        presented: &str,
        successor: RefreshRecord,
        now: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let mut state = self.state();
        let Some(stored) = state.refresh.get(presented).cloned() else {
            return Ok(Rotation::Unknown);
        };
        if stored.revoked {
            return Ok(Rotation::Revoked);
        }
        if stored.spent {
            revoke(&mut state, stored.record.family_id);
            return Ok(Rotation::Reused);
        }
        if stored.record.expires_at <= now {
            return Ok(Rotation::Expired);
        }
        if let Some(old) = state.refresh.get_mut(presented) {
            old.spent = true;
        }
        let successor = RefreshRecord {
            family_id: stored.record.family_id,
            user_id: stored.record.user_id,
            ..successor
        };
        state.refresh.insert(
            successor.token_hash.clone(),
            StoredRefresh {
                record: successor,
                spent: false,
                revoked: false,
            },
        );
        Ok(Rotation::Rotated {
            user_id: stored.record.user_id,
        })
    }

    async fn purge_expired_refresh(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut state = self.state();
        let before = state.refresh.len();
        state
            .refresh
            .retain(|_, token| token.record.expires_at > now);
        Ok((before - state.refresh.len()) as u64)
    }

    async fn revoke_family(&self, token_hash: &str, _now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.state();
        if let Some(family) = state.refresh.get(token_hash).map(|s| s.record.family_id) {
            revoke(&mut state, family);
        }
        Ok(())
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        Ok(self.state().keys.clone())
    }

    async fn rotate_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut state = self.state();
        for old in state.keys.iter_mut().filter(|k| k.retired_at.is_none()) {
            old.retired_at = Some(key.created_at);
        }
        state.keys.insert(0, key.clone());
        Ok(())
    }
}

fn revoke(state: &mut State, family: Uuid) {
    for token in state
        .refresh
        .values_mut()
        .filter(|t| t.record.family_id == family)
    {
        token.revoked = true;
    }
}

/// Above this many tracked keys, expired windows are dropped, so a flood of made-up
/// emails cannot grow the map without bound.
const PRUNE_ABOVE: usize = 10_000;

/// Counts failed sign-ins in process memory.
#[derive(Default)]
pub struct MemoryAttempts {
    windows: Mutex<HashMap<String, (u32, Instant)>>,
}

impl AttemptCounter for MemoryAttempts {
    async fn window(&self, key: &str) -> Result<Option<Window>, StoreError> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        Ok(windows
            .get(key)
            .filter(|(_, ends)| *ends > now)
            .map(|(failures, ends)| Window {
                failures: *failures,
                resets_in: *ends - now,
            }))
    }

    async fn record_attempt(&self, key: &str, window: Duration) -> Result<Window, StoreError> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, (_, ends)| *ends > now);
        }
        let entry = windows.entry(key.to_owned()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
        Ok(Window {
            failures: entry.0,
            resets_in: entry.1 - now,
        })
    }

    async fn forgive(&self, key: &str) -> Result<(), StoreError> {
        if let Some(entry) = self
            .windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(key)
        {
            entry.0 = entry.0.saturating_sub(1);
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), StoreError> {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }
}
