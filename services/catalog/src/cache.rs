//! The read-through cache port for products and the category list, with its adapters.
//!
//! A cache never fails a read: an outage or a corrupt entry is logged and treated as a
//! miss, so reads fall through to the store. Writes invalidate after the store has the
//! new value, so a client never reads its own successful update stale.

pub mod memory;
pub mod redis;

use std::future::Future;

use uuid::Uuid;

use crate::domain::{Category, Product};

/// Cached products by id and the whole category list.
pub trait CatalogCache: Send + Sync + 'static {
    /// The cached product, if any.
    fn product(&self, id: Uuid) -> impl Future<Output = Option<Product>> + Send;

    /// Caches `product` unless the cache holds a newer state of it (a higher version, or
    /// the same version with more reviews): a reader that loaded an old state before a
    /// write must not put it back over the writer's.
    fn put_product(&self, product: &Product) -> impl Future<Output = ()> + Send;

    /// Drops the cached copy of product `id`.
    fn forget_product(&self, id: Uuid) -> impl Future<Output = ()> + Send;

    /// The cached category list, if any.
    fn categories(&self) -> impl Future<Output = Option<Vec<Category>>> + Send;

    /// Caches the category list.
    fn put_categories(&self, categories: &[Category]) -> impl Future<Output = ()> + Send;

    /// Drops the cached category list.
    fn forget_categories(&self) -> impl Future<Output = ()> + Send;
}
