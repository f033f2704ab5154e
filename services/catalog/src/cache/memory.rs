//! In-process twin of the cache: entries with a time to live, for the embedded default.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::CatalogCache;
use crate::domain::{Category, Product};

/// Products and the category list in process memory, expiring after a TTL.
pub struct MemoryCache {
    ttl: Duration,
    products: Mutex<HashMap<Uuid, (Product, Instant)>>,
    categories: Mutex<Option<(Vec<Category>, Instant)>>,
}

/// Above this many products, expired entries are dropped before adding another.
const PRUNE_ABOVE: usize = 50_000;

impl MemoryCache {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            products: Mutex::new(HashMap::new()),
            categories: Mutex::new(None),
        }
    }
}

impl CatalogCache for MemoryCache {
    async fn product(&self, id: Uuid) -> Option<Product> {
        let products = self.products.lock().unwrap_or_else(|p| p.into_inner());
        products
            .get(&id)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(product, _)| product.clone())
    }

    async fn put_product(&self, product: &Product) {
        let mut products = self.products.lock().unwrap_or_else(|p| p.into_inner());
        if products.len() > PRUNE_ABOVE {
            let now = Instant::now();
            products.retain(|_, (_, expires)| *expires > now);
        }
        let newer_cached = products.get(&product.id).is_some_and(|(cached, expires)| {
            *expires > Instant::now()
                && (cached.version, cached.rating.count) >= (product.version, product.rating.count)
        });
        if !newer_cached {
            products.insert(product.id, (product.clone(), Instant::now() + self.ttl));
        }
    }

    async fn forget_product(&self, id: Uuid) {
        self.products
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }

    async fn categories(&self) -> Option<Vec<Category>> {
        self.categories
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(categories, _)| categories.clone())
    }

    async fn put_categories(&self, categories: &[Category]) {
        *self.categories.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((categories.to_vec(), Instant::now() + self.ttl));
    }

    async fn forget_categories(&self) {
        *self.categories.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
