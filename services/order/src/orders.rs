//! The use cases: place an order and move it, each change stored with its event in one
//! write, idempotent by request key. The gRPC layer and the benchmark both go through here.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{NewOrder, Order, OrderError, StatusUpdate};
use crate::events;
use crate::store::{Committed, Created, OrderStore, RequestKey};

/// Now in whole microseconds: what PostgreSQL keeps, so both stores read back equal.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// Orders over a store.
pub struct Orders<S> {
    store: Arc<S>,
}

impl<S> Clone for Orders<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
        }
    }
}

impl<S: OrderStore> Orders<S> {
    /// Orders kept in `store`.
    pub fn new(store: Arc<S>) -> Self {
        Self { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Places `new` for `actor`, once per request key: a retry (also a concurrent one) of
    /// the same request returns the order placed first; the key with another request is
    /// [`OrderError::RequestReused`].
    pub async fn create(
        &self,
        new: NewOrder,
        request: &RequestKey,
        actor: &str,
    ) -> Result<Order, OrderError> {
        let order = new.place(Uuid::now_v7(), actor, now())?;
        let event = events::created(&order);
        match self.store.create(&order, request, &event).await? {
            Created::New => Ok(order),
            Created::Existing(existing) => Ok(*existing),
            Created::KeyReused => Err(OrderError::RequestReused),
        }
    }

    /// The order with `id`.
    pub async fn get(&self, id: Uuid) -> Result<Order, OrderError> {
        self.store.get(id).await?.ok_or(OrderError::NotFound(id))
    }

    /// Applies `update` to order `id` and stores the change with its event. Setting the
    /// current status changes nothing. When another change commits first, this one is not
    /// applied: [`OrderError::Concurrent`] names the status the order is in now (unless it
    /// is the requested one, which answers like a no-op). A request key already used for
    /// the same request returns the order without applying it again.
    pub async fn change(
        &self,
        id: Uuid,
        update: &StatusUpdate,
        request: Option<&RequestKey>,
    ) -> Result<Order, OrderError> {
        if let Some(request) = request
            && let Some(order) = self.replayed(request).await?
        {
            return Ok(order);
        }
        let mut order = self.get(id).await?;
        let Some(change) = order.apply(update, now())? else {
            return Ok(order);
        };
        let event = events::status_changed(&order, &change);
        match self.store.commit_change(&order, request, &event).await? {
            Committed::Done => Ok(order),
            Committed::Stale(current) if current.status == update.to => Ok(*current),
            Committed::Stale(current) => Err(OrderError::Concurrent {
                current: current.status,
            }),
            Committed::KeyTaken => {
                // A concurrent twin of this request won; answer as its retry would.
                let replayed = match request {
                    Some(request) => self.replayed(request).await?,
                    None => None,
                };
                match replayed {
                    Some(order) => Ok(order),
                    None => Err(OrderError::Concurrent {
                        current: self.get(id).await?.status,
                    }),
                }
            }
        }
    }

    /// The order an earlier change with `request`'s key was applied to, if the same
    /// request made it.
    async fn replayed(&self, request: &RequestKey) -> Result<Option<Order>, OrderError> {
        match self.store.recall_change(&request.key).await? {
            None => Ok(None),
            Some((id, fingerprint)) if fingerprint == request.fingerprint => {
                self.get(id).await.map(Some)
            }
            Some(_) => Err(OrderError::RequestReused),
        }
    }
}
