//! The in-memory twin of the PostgreSQL store: the same contract, one mutex, lost on
//! restart (the embedded default and unit tests).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use mandi_runtime::outbox::{OutboxError, OutboxRecord, OutboxStore};
use uuid::Uuid;

use super::{Committed, Created, Cursor, NewEvent, OrderStore, RequestKey, StoreError};
use crate::domain::{Order, OrderFilter};

/// Orders in process memory. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Tables>>,
}

#[derive(Debug, Default)]
struct Tables {
    orders: HashMap<Uuid, Order>,
    /// Create keys: key → (order, fingerprint).
    created: HashMap<String, (Uuid, String)>,
    /// Change keys: key → (order, fingerprint).
    changes: HashMap<String, (Uuid, String)>,
    outbox: Vec<(OutboxRecord, bool)>,
}

impl Tables {
    fn enqueue(&mut self, event: &NewEvent) {
        let sequence = self.outbox.len() as i64 + 1;
        self.outbox.push((
            OutboxRecord {
                sequence,
                envelope: event.envelope.clone(),
                trace_headers: event.trace_headers.clone(),
            },
            false,
        ));
    }
}

impl MemoryStore {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves consistent data: every write below is
        // checked before it starts.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl OrderStore for MemoryStore {
    async fn create(
        &self,
        order: &Order,
        request: &RequestKey,
        event: &NewEvent,
    ) -> Result<Created, StoreError> {
        let mut tables = self.tables();
        if let Some((id, fingerprint)) = tables.created.get(&request.key) {
            if *fingerprint != request.fingerprint {
                return Ok(Created::KeyReused);
            }
            let existing = tables.orders.get(id).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("request key points at missing order {id}"))
            })?;
            return Ok(Created::Existing(Box::new(existing)));
        }
        tables
            .created
            .insert(request.key.clone(), (order.id, request.fingerprint.clone()));
        tables.orders.insert(order.id, order.clone());
        tables.enqueue(event);
        Ok(Created::New)
    }

    async fn get(&self, id: Uuid) -> Result<Option<Order>, StoreError> {
        Ok(self.tables().orders.get(&id).cloned())
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Order>, StoreError> {
        let tables = self.tables();
        let mut orders: Vec<&Order> = tables
            .orders
            .values()
            .filter(|order| filter.matches(order))
            .filter(|order| after.is_none_or(|cursor| cursor.precedes(order)))
            .collect();
        orders.sort_by_key(|order| std::cmp::Reverse((order.created_at, order.id)));
        Ok(orders.into_iter().take(limit).cloned().collect())
    }

    async fn commit_change(
        &self,
        order: &Order,
        request: Option<&RequestKey>,
        event: &NewEvent,
    ) -> Result<Committed, StoreError> {
        let from = order
            .history
            .last()
            .and_then(|change| change.from)
            .ok_or_else(|| StoreError::Failed("the order carries no change to commit".into()))?;
        let mut tables = self.tables();
        let stored = tables
            .orders
            .get(&order.id)
            .ok_or_else(|| StoreError::Failed(format!("order {} is not stored", order.id)))?;
        if stored.status != from || stored.version != order.version - 1 {
            return Ok(Committed::Stale(Box::new(stored.clone())));
        }
        if let Some(request) = request {
            if tables.changes.contains_key(&request.key) {
                return Ok(Committed::KeyTaken);
            }
            tables
                .changes
                .insert(request.key.clone(), (order.id, request.fingerprint.clone()));
        }
        tables.orders.insert(order.id, order.clone());
        tables.enqueue(event);
        Ok(Committed::Done)
    }

    async fn recall_change(&self, key: &str) -> Result<Option<(Uuid, String)>, StoreError> {
        Ok(self.tables().changes.get(key).cloned())
    }
}

impl OutboxStore for MemoryStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        Ok(self
            .tables()
            .outbox
            .iter()
            .filter(|(_, sent)| !sent)
            .take(limit)
            .map(|(record, _)| record.clone())
            .collect())
    }

    async fn mark_sent(&self, sequence: i64) -> Result<(), OutboxError> {
        let mut tables = self.tables();
        let index = usize::try_from(sequence - 1)
            .ok()
            .filter(|&i| i < tables.outbox.len())
            .ok_or_else(|| OutboxError(format!("no outbox record {sequence}")))?;
        tables.outbox[index].1 = true;
        Ok(())
    }
}
