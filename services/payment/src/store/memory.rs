//! The in-memory twin of the PostgreSQL store, for the embedded default and tests. It keeps
//! the same promises: one change at a time per idempotency key and per subject (async
//! locks held while the work decides, as the row locks are in PostgreSQL), and every
//! change written whole under one mutex.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use mandi_runtime::outbox::{OutboxError, OutboxRecord, OutboxStore};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::{Change, Executed, Outcome, PaymentStore, RequestKey, StoreError, Subject, Work};
use crate::domain::{
    EntryFilter, LedgerBalance, LedgerEntry, Payment, PaymentError, PaymentFilter, balance_of,
};

#[derive(Default)]
struct State {
    payments: HashMap<Uuid, Payment>,
    entries: Vec<(i64, LedgerEntry)>,
    keys: HashMap<String, (String, Outcome)>,
    outbox: Vec<(OutboxRecord, bool)>,
    next_sequence: i64,
}

/// Payment's data in process memory.
#[derive(Default, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    locks: Arc<Locks>,
}

impl MemoryStore {
    fn state(&self) -> Result<MutexGuard<'_, State>, PaymentError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Failed("the in-memory store was poisoned".into()).into())
    }

    fn write(&self, change: Change, key: Option<&RequestKey>) -> Result<Outcome, PaymentError> {
        let mut state = self.state()?;
        for entry in change.entries {
            let position = state.entries.len() as i64 + 1;
            state.entries.push((position, entry));
        }
        for (envelope, trace_headers) in change.events {
            state.next_sequence += 1;
            let sequence = state.next_sequence;
            state.outbox.push((
                OutboxRecord {
                    sequence,
                    envelope,
                    trace_headers,
                },
                false,
            ));
        }
        let outcome = Outcome {
            payment: change.payment.clone(),
            refund: change.new_refund,
        };
        state.payments.insert(change.payment.id, change.payment);
        if let Some(key) = key {
            state
                .keys
                .insert(key.key.clone(), (key.fingerprint.clone(), outcome.clone()));
        }
        Ok(outcome)
    }
}

impl PaymentStore for MemoryStore {
    async fn execute<W: Work>(
        &self,
        key: Option<&RequestKey>,
        work: W,
    ) -> Result<Executed, PaymentError> {
        // The key first, then the subject: the order PostgreSQL takes its locks in.
        let _key = match key {
            Some(key) => Some(self.locks.lock(&key.key).await?),
            None => None,
        };
        if let Some(key) = key
            && let Some((fingerprint, outcome)) = self.state()?.keys.get(&key.key)
        {
            if *fingerprint != key.fingerprint {
                return Err(PaymentError::KeyReused);
            }
            return Ok(Executed {
                outcome: outcome.clone(),
                replayed: true,
            });
        }
        let subject = work.subject();
        let _subject = self.locks.lock(&format!("{subject:?}")).await?;
        let current = {
            let state = self.state()?;
            match subject {
                Subject::Order(order) => {
                    let mut payments: Vec<Payment> = state
                        .payments
                        .values()
                        .filter(|p| p.order_id == order)
                        .cloned()
                        .collect();
                    payments.sort_by_key(|p| p.id);
                    payments
                }
                Subject::Payment(id) => state.payments.get(&id).cloned().into_iter().collect(),
            }
        };
        let change = work.decide(current).await?;
        Ok(Executed {
            outcome: self.write(change, key)?,
            replayed: false,
        })
    }

    async fn payment(&self, id: Uuid) -> Result<Option<Payment>, PaymentError> {
        Ok(self.state()?.payments.get(&id).cloned())
    }

    async fn list_payments(
        &self,
        filter: &PaymentFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: usize,
    ) -> Result<Vec<Payment>, PaymentError> {
        let state = self.state()?;
        let mut payments: Vec<Payment> = state
            .payments
            .values()
            .filter(|p| filter.matches(p))
            .filter(|p| after.is_none_or(|after| (p.created_at, p.id) < after))
            .cloned()
            .collect();
        payments.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));
        payments.truncate(limit);
        Ok(payments)
    }

    async fn list_entries(
        &self,
        filter: &EntryFilter,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, LedgerEntry)>, PaymentError> {
        Ok(self
            .state()?
            .entries
            .iter()
            .filter(|(position, entry)| {
                after.is_none_or(|after| *position > after) && filter.matches(entry)
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn ledger_balances(&self) -> Result<LedgerBalance, PaymentError> {
        Ok(balance_of(self.state()?.entries.iter().map(|(_, e)| e)))
    }
}

impl OutboxStore for MemoryStore {
    async fn pending(&self, limit: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        let state = self
            .state
            .lock()
            .map_err(|_| OutboxError("the in-memory store was poisoned".into()))?;
        Ok(state
            .outbox
            .iter()
            .filter(|(_, sent)| !sent)
            .take(limit)
            .map(|(record, _)| record.clone())
            .collect())
    }

    async fn mark_sent(&self, sequence: i64) -> Result<(), OutboxError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| OutboxError("the in-memory store was poisoned".into()))?;
        for (record, sent) in &mut state.outbox {
            if record.sequence == sequence {
                *sent = true;
            }
        }
        Ok(())
    }
}

// === impl Locks ===

/// The async lock of each name in use.
type LockTable = HashMap<String, Arc<tokio::sync::Mutex<()>>>;

/// Async locks by name, created on first use and dropped when nobody holds or waits.
#[derive(Default)]
struct Locks(Mutex<LockTable>);

/// A held named lock; releasing it forgets the name when nobody else wants it.
struct Held<'a> {
    locks: &'a Locks,
    name: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Locks {
    async fn lock(&self, name: &str) -> Result<Held<'_>, PaymentError> {
        let lock = {
            let mut map = self.map()?;
            map.entry(name.to_owned()).or_default().clone()
        };
        Ok(Held {
            locks: self,
            name: name.to_owned(),
            guard: Some(lock.lock_owned().await),
        })
    }

    fn map(&self) -> Result<MutexGuard<'_, LockTable>, PaymentError> {
        self.0
            .lock()
            .map_err(|_| StoreError::Failed("the in-memory lock table was poisoned".into()).into())
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        if let Ok(mut map) = self.locks.0.lock()
            && map
                .get(&self.name)
                .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            map.remove(&self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_released_lock_is_forgotten() {
        let locks = Locks::default();
        {
            let _a = locks.lock("a").await.unwrap();
            assert_eq!(locks.0.lock().unwrap().len(), 1);
        }
        assert!(locks.0.lock().unwrap().is_empty());
    }
}
