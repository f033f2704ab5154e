//! The in-memory twin of the Redis adapter: the same keys, values and expiry, under one
//! lock, so the embedded default and tests behave as Redis does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{CartStore, Expect, Loaded, Outcome, REQUEST_TTL, StoreError, Write, encoding};
use crate::domain::{CartId, RequestRecord};

/// Carts in process memory; expired entries vanish on read like Redis keys.
#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    expires: Instant,
}

fn cart_key(id: &CartId) -> String {
    format!("cart:{id}")
}

fn owner_key(user: &str) -> String {
    format!("user:{user}")
}

fn request_key(key: &str) -> String {
    format!("request:{key}")
}

impl MemoryStore {
    fn read(&self, key: &str) -> Result<Option<String>, StoreError> {
        let entries = self.lock()?;
        Ok(live(&entries, key).map(str::to_owned))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Entry>>, StoreError> {
        self.entries
            .lock()
            .map_err(|_| StoreError::Failed("the in-memory cart store was poisoned".into()))
    }
}

fn live<'a>(entries: &'a HashMap<String, Entry>, key: &str) -> Option<&'a str> {
    entries
        .get(key)
        .filter(|e| e.expires > Instant::now())
        .map(|e| e.value.as_str())
}

fn put(entries: &mut HashMap<String, Entry>, key: String, value: String, ttl: Duration) {
    let expires = Instant::now() + ttl;
    entries.insert(key, Entry { value, expires });
}

impl CartStore for MemoryStore {
    async fn load(&self, id: &CartId) -> Result<Option<Loaded>, StoreError> {
        self.read(&cart_key(id))?.map(encoding::loaded).transpose()
    }

    async fn cart_of(&self, user: &str) -> Result<Option<CartId>, StoreError> {
        Ok(self.read(&owner_key(user))?.map(CartId::from_stored))
    }

    async fn write(&self, write: Write<'_>) -> Result<Outcome, StoreError> {
        let body = encoding::cart(write.cart)?;
        let request = write.request.map(encoding::request).transpose()?;
        let mut entries = self.lock()?;
        if let Some(record) = write.request
            && let Some(done) = live(&entries, &request_key(&record.key))
        {
            return Ok(Outcome::Replayed(encoding::record(done)?));
        }
        let key = cart_key(&write.cart.id);
        let current = live(&entries, &key);
        let matches = match &write.expect {
            Expect::Absent => current.is_none(),
            Expect::At(revision) => current == Some(revision.0.as_str()),
        };
        let guest_matches = write.delete.as_ref().is_none_or(|(id, revision)| {
            live(&entries, &cart_key(id)) == Some(revision.0.as_str())
        });
        let owner_matches = match (&write.owner_expect, &write.cart.user_id) {
            (Some(expected), Some(user)) => {
                live(&entries, &owner_key(user)) == expected.as_ref().map(CartId::as_str)
            }
            _ => true,
        };
        if !(matches && guest_matches && owner_matches) {
            return Ok(Outcome::Conflict);
        }
        put(&mut entries, key, body, write.ttl);
        if let Some(user) = &write.cart.user_id {
            let id = write.cart.id.as_str().to_owned();
            put(&mut entries, owner_key(user), id, write.ttl);
        }
        if let Some((id, _)) = write.delete {
            entries.remove(&cart_key(id));
        }
        if let (Some(record), Some(text)) = (write.request, request) {
            put(&mut entries, request_key(&record.key), text, REQUEST_TTL);
        }
        Ok(Outcome::Saved)
    }

    async fn recall(&self, key: &str) -> Result<Option<RequestRecord>, StoreError> {
        self.read(&request_key(key))?
            .map(|text| encoding::record(&text))
            .transpose()
    }
}
