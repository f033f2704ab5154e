//! The storage port the catalog needs; adapters live in `store/`.

pub mod memory;
pub mod mongo;

use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{Category, Product, ProductStatus, RatingSummary, Review};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken: "slug" or "request_id" (products, categories), "author"
    /// (one review per author and product).
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// The database cannot be reached right now; retrying may help.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation.
    #[error("storage operation failed: {0}")]
    Failed(String),
    /// A stored document could not be read back.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// Filters of a plain product listing (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductQuery {
    /// Only this category (not its subcategories).
    pub category_id: Option<Uuid>,
    /// Only this vendor.
    pub vendor_id: Option<String>,
    /// Only these statuses; empty means all.
    pub statuses: Vec<ProductStatus>,
}

/// Where a newest-first listing continues: after this (created_at, id).
pub type Cursor = (DateTime<Utc>, Uuid);

/// What a conditional write found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Done.
    Done,
    /// No such document.
    NotFound,
    /// The stored version differs from the expected one.
    VersionMismatch {
        /// The stored version.
        actual: i64,
    },
}

/// What a mutation made with an idempotency key did, so a retry can be answered without
/// doing it again (AIP-155).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RequestRecord {
    /// The client's request id.
    pub key: String,
    /// The method and a hash of its arguments: the same key with another request is
    /// refused.
    pub fingerprint: String,
    /// The resource the request changed.
    pub target: Uuid,
}

/// Products, categories and reviews.
pub trait CatalogStore: Send + Sync + 'static {
    /// Creates the indexes the queries need (idempotent); called at start.
    fn prepare(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a new product. A taken slug or request id is a conflict.
    fn insert_product(
        &self,
        product: &Product,
        request_id: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The product created with this idempotency key.
    fn product_by_request_id(
        &self,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;

    /// One product.
    fn product(&self, id: Uuid)
    -> impl Future<Output = Result<Option<Product>, StoreError>> + Send;

    /// Many products, in no particular order; missing ids are skipped.
    fn products(
        &self,
        ids: &[Uuid],
    ) -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;

    /// Replaces a product if the stored one is at `expected_version`. A slug taken by
    /// another product is a conflict.
    fn replace_product(
        &self,
        product: &Product,
        expected_version: i64,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;

    /// Deletes a product, checking its version when one is given.
    fn delete_product(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> impl Future<Output = Result<Written, StoreError>> + Send;

    /// Up to `limit` products matching `query`, newest first, after `cursor`.
    fn list_products(
        &self,
        query: &ProductQuery,
        after: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;

    /// Every product, for rebuilding the search index.
    fn all_products(&self) -> impl Future<Output = Result<Vec<Product>, StoreError>> + Send;

    /// Whether any product is in `category`.
    fn category_in_use(
        &self,
        category: Uuid,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a new category. A taken slug or request id is a conflict.
    fn insert_category(
        &self,
        category: &Category,
        request_id: Option<&str>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The category created with this idempotency key.
    fn category_by_request_id(
        &self,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<Category>, StoreError>> + Send;

    /// Every category.
    fn categories(&self) -> impl Future<Output = Result<Vec<Category>, StoreError>> + Send;

    /// Replaces a category; `false` when it does not exist. A taken slug is a conflict.
    fn replace_category(
        &self,
        category: &Category,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a category; `false` when it did not exist.
    fn delete_category(&self, id: Uuid) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a review and adds it to its product's rating; one review per author and
    /// product (a second is a conflict on "author"). Returns the new summary.
    fn insert_review(
        &self,
        review: &Review,
        request_id: Option<&str>,
    ) -> impl Future<Output = Result<RatingSummary, StoreError>> + Send;

    /// The review created with this idempotency key.
    fn review_by_request_id(
        &self,
        request_id: &str,
    ) -> impl Future<Output = Result<Option<Review>, StoreError>> + Send;

    /// The record of the mutation made with idempotency key `key`.
    fn recall_request(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<RequestRecord>, StoreError>> + Send;

    /// Records a mutation made with an idempotency key; the first record of a key wins.
    fn remember_request(
        &self,
        record: &RequestRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` reviews of `product`, newest first, after `cursor`.
    fn list_reviews(
        &self,
        product: Uuid,
        after: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Review>, StoreError>> + Send;
}
