//! Fixed catalog and inventory answers, changeable while a test runs, and switchable off
//! to play a peer that is down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{Catalog, Inventory, PeerUnavailable};
use crate::domain::Product;

#[derive(Debug, Default)]
struct State<T> {
    entries: HashMap<Uuid, T>,
    down: bool,
}

/// A shared table of answers; clones see the same table.
#[derive(Debug)]
pub struct Fixed<T> {
    state: Arc<Mutex<State<T>>>,
}

impl<T> Clone for Fixed<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<T> Default for Fixed<T> {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                entries: HashMap::new(),
                down: false,
            })),
        }
    }
}

/// A catalog that knows the products put into it.
pub type FixedCatalog = Fixed<Product>;
/// An inventory that reports the levels put into it.
pub type FixedInventory = Fixed<i64>;

impl<T: Clone + Send + 'static> Fixed<T> {
    /// Sets the answer for `id`.
    pub fn set(&self, id: Uuid, value: T) {
        if let Ok(mut state) = self.state.lock() {
            state.entries.insert(id, value);
        }
    }

    /// Forgets `id` (a deleted product).
    pub fn remove(&self, id: Uuid) {
        if let Ok(mut state) = self.state.lock() {
            state.entries.remove(&id);
        }
    }

    /// Makes every call fail (`true`) or answer again (`false`).
    pub fn set_down(&self, down: bool) {
        if let Ok(mut state) = self.state.lock() {
            state.down = down;
        }
    }

    fn answer(
        &self,
        service: &'static str,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, T>, PeerUnavailable> {
        let state = self.state.lock().map_err(|_| PeerUnavailable {
            service,
            reason: "fixed answers poisoned".into(),
        })?;
        if state.down {
            return Err(PeerUnavailable {
                service,
                reason: "switched off".into(),
            });
        }
        Ok(ids
            .iter()
            .filter_map(|id| state.entries.get(id).map(|v| (*id, v.clone())))
            .collect())
    }
}

impl Catalog for FixedCatalog {
    async fn products(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Product>, PeerUnavailable> {
        self.answer("catalog", ids)
    }
}

impl Inventory for FixedInventory {
    async fn available(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, PeerUnavailable> {
        let mut levels = self.answer("inventory", ids)?;
        for id in ids {
            levels.entry(*id).or_insert(0);
        }
        Ok(levels)
    }
}
