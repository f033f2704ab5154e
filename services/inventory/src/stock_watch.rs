//! What a stock change means for subscribers: StockLow when a product falls to or below
//! its threshold, StockAvailabilityChanged when it goes in or out of stock. Compares the
//! availability before and after the change; reading it never fails the change itself.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use mandi_runtime::events::EventPublisher;
use uuid::Uuid;

use crate::events::InventoryEvents;
use crate::store::InventoryStore;

/// Watches stock levels around changes and publishes what they cross.
pub struct StockWatch<S, P> {
    store: Arc<S>,
    events: InventoryEvents<P>,
    default_threshold: i64,
}

impl<S: InventoryStore, P: EventPublisher> StockWatch<S, P> {
    /// Watches `store`, publishing through `events`; products without a policy use
    /// `default_threshold`.
    pub fn new(store: Arc<S>, events: InventoryEvents<P>, default_threshold: i64) -> Self {
        Self {
            store,
            events,
            default_threshold,
        }
    }

    /// The events this watch publishes through.
    pub fn events(&self) -> &InventoryEvents<P> {
        &self.events
    }

    /// Available quantities of `products` now, to compare after a change.
    pub async fn before(&self, products: &[Uuid]) -> HashMap<Uuid, i64> {
        match self.store.availability(products, Utc::now()).await {
            Ok(levels) => levels
                .into_iter()
                .map(|a| (a.product_id, a.available))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot read availability before a stock change");
                HashMap::new()
            }
        }
    }

    /// Publishes what the change since `before` crossed.
    pub async fn after(&self, before: HashMap<Uuid, i64>) {
        let products: Vec<Uuid> = before.keys().copied().collect();
        if products.is_empty() {
            return;
        }
        let (levels, policies) = match (
            self.store.availability(&products, Utc::now()).await,
            self.store.stock_policies(&products).await,
        ) {
            (Ok(levels), Ok(policies)) => (levels, policies),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot read availability after a stock change");
                return;
            }
        };
        let thresholds: HashMap<Uuid, i64> = policies
            .into_iter()
            .map(|p| (p.product_id, p.low_stock_threshold))
            .collect();
        for level in levels {
            let Some(was) = before.get(&level.product_id).copied() else {
                continue;
            };
            let now = level.available;
            let threshold = thresholds
                .get(&level.product_id)
                .copied()
                .unwrap_or(self.default_threshold);
            if threshold > 0 && was > threshold && now <= threshold {
                self.events
                    .stock_low(level.product_id, now, threshold)
                    .await;
            }
            if (was > 0) != (now > 0) {
                self.events
                    .availability_changed(level.product_id, now)
                    .await;
            }
        }
    }
}
