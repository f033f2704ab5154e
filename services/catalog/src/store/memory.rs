//! In-memory twin of [`CatalogStore`]: the embedded default and fast tests.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use uuid::Uuid;

use super::{CatalogStore, Cursor, ProductQuery, RequestRecord, StoreError, Written};
use crate::domain::{Category, Product, RatingSummary, Review};

#[derive(Default)]
struct State {
    products: HashMap<Uuid, Product>,
    product_requests: HashMap<String, Uuid>,
    categories: HashMap<Uuid, Category>,
    category_requests: HashMap<String, Uuid>,
    reviews: HashMap<Uuid, Review>,
    review_requests: HashMap<String, Uuid>,
    mutations: HashMap<String, RequestRecord>,
}

/// Keeps the catalog in process memory; lost on exit.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every mutation below is a handful of inserts with no await in between: a panic
        // cannot leave State half-written in a way later calls would trip over.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn newest_first(created: Cursor) -> std::cmp::Reverse<Cursor> {
    std::cmp::Reverse(created)
}

fn after_cursor(key: Cursor, cursor: Option<Cursor>) -> bool {
    cursor.is_none_or(|c| key < c)
}

impl CatalogStore for MemoryStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn insert_product(
        &self,
        product: &Product,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if state
            .products
            .values()
            .any(|p| p.input.slug == product.input.slug)
        {
            return Err(StoreError::Conflict("slug"));
        }
        if let Some(key) = request_id {
            if state.product_requests.contains_key(key) {
                return Err(StoreError::Conflict("request_id"));
            }
            state.product_requests.insert(key.to_owned(), product.id);
        }
        state.products.insert(product.id, product.clone());
        Ok(())
    }

    async fn product_by_request_id(&self, request_id: &str) -> Result<Option<Product>, StoreError> {
        let state = self.state();
        Ok(state
            .product_requests
            .get(request_id)
            .and_then(|id| state.products.get(id))
            .cloned())
    }

    async fn product(&self, id: Uuid) -> Result<Option<Product>, StoreError> {
        Ok(self.state().products.get(&id).cloned())
    }

    async fn products(&self, ids: &[Uuid]) -> Result<Vec<Product>, StoreError> {
        let state = self.state();
        Ok(ids
            .iter()
            .filter_map(|id| state.products.get(id))
            .cloned()
            .collect())
    }

    async fn replace_product(
        &self,
        product: &Product,
        expected_version: i64,
    ) -> Result<Written, StoreError> {
        let mut state = self.state();
        let Some(stored) = state.products.get(&product.id) else {
            return Ok(Written::NotFound);
        };
        if stored.version != expected_version {
            return Ok(Written::VersionMismatch {
                actual: stored.version,
            });
        }
        if state
            .products
            .values()
            .any(|p| p.id != product.id && p.input.slug == product.input.slug)
        {
            return Err(StoreError::Conflict("slug"));
        }
        // The rating belongs to the reviews, not to whoever replaces the product.
        let rating = stored.rating;
        state.products.insert(
            product.id,
            Product {
                rating,
                ..product.clone()
            },
        );
        Ok(Written::Done)
    }

    async fn delete_product(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> Result<Written, StoreError> {
        let mut state = self.state();
        let Some(stored) = state.products.get(&id) else {
            return Ok(Written::NotFound);
        };
        if let Some(expected) = expected_version
            && stored.version != expected
        {
            return Ok(Written::VersionMismatch {
                actual: stored.version,
            });
        }
        state.products.remove(&id);
        Ok(Written::Done)
    }

    async fn list_products(
        &self,
        query: &ProductQuery,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        let state = self.state();
        let mut found: Vec<&Product> = state
            .products
            .values()
            .filter(|p| query.category_id.is_none_or(|c| p.input.category_id == c))
            .filter(|p| {
                query
                    .vendor_id
                    .as_ref()
                    .is_none_or(|v| &p.input.vendor_id == v)
            })
            .filter(|p| query.statuses.is_empty() || query.statuses.contains(&p.input.status))
            .filter(|p| after_cursor((p.created_at, p.id), after))
            .collect();
        found.sort_by_key(|p| newest_first((p.created_at, p.id)));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        Ok(self.state().products.values().cloned().collect())
    }

    async fn category_in_use(&self, category: Uuid) -> Result<bool, StoreError> {
        Ok(self
            .state()
            .products
            .values()
            .any(|p| p.input.category_id == category))
    }

    async fn insert_category(
        &self,
        category: &Category,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut state = self.state();
        if state
            .categories
            .values()
            .any(|c| c.fields.slug == category.fields.slug)
        {
            return Err(StoreError::Conflict("slug"));
        }
        if let Some(key) = request_id {
            if state.category_requests.contains_key(key) {
                return Err(StoreError::Conflict("request_id"));
            }
            state.category_requests.insert(key.to_owned(), category.id);
        }
        state.categories.insert(category.id, category.clone());
        Ok(())
    }

    async fn category_by_request_id(
        &self,
        request_id: &str,
    ) -> Result<Option<Category>, StoreError> {
        let state = self.state();
        Ok(state
            .category_requests
            .get(request_id)
            .and_then(|id| state.categories.get(id))
            .cloned())
    }

    async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        Ok(self.state().categories.values().cloned().collect())
    }

    async fn replace_category(&self, category: &Category) -> Result<bool, StoreError> {
        let mut state = self.state();
        if !state.categories.contains_key(&category.id) {
            return Ok(false);
        }
        if state
            .categories
            .values()
            .any(|c| c.id != category.id && c.fields.slug == category.fields.slug)
        {
            return Err(StoreError::Conflict("slug"));
        }
        state.categories.insert(category.id, category.clone());
        Ok(true)
    }

    async fn delete_category(&self, id: Uuid) -> Result<bool, StoreError> {
        Ok(self.state().categories.remove(&id).is_some())
    }

    async fn insert_review(
        &self,
        review: &Review,
        request_id: Option<&str>,
    ) -> Result<RatingSummary, StoreError> {
        let mut state = self.state();
        if state
            .reviews
            .values()
            .any(|r| r.product_id == review.product_id && r.author_id == review.author_id)
        {
            return Err(StoreError::Conflict("author"));
        }
        if request_id.is_some_and(|key| state.review_requests.contains_key(key)) {
            return Err(StoreError::Conflict("request_id"));
        }
        let Some(product) = state.products.get_mut(&review.product_id) else {
            return Err(StoreError::Failed(format!(
                "product {} is gone",
                review.product_id
            )));
        };
        product.rating = product.rating.with(review.rating);
        let summary = product.rating;
        if let Some(key) = request_id {
            state.review_requests.insert(key.to_owned(), review.id);
        }
        state.reviews.insert(review.id, review.clone());
        Ok(summary)
    }

    async fn review_by_request_id(&self, request_id: &str) -> Result<Option<Review>, StoreError> {
        let state = self.state();
        Ok(state
            .review_requests
            .get(request_id)
            .and_then(|id| state.reviews.get(id))
            .cloned())
    }

    async fn recall_request(&self, key: &str) -> Result<Option<RequestRecord>, StoreError> {
        Ok(self.state().mutations.get(key).cloned())
    }

    async fn remember_request(&self, record: &RequestRecord) -> Result<(), StoreError> {
        self.state()
            .mutations
            .entry(record.key.clone())
            .or_insert_with(|| record.clone());
        Ok(())
    }

    async fn list_reviews(
        &self,
        product: Uuid,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Review>, StoreError> {
        let state = self.state();
        let mut found: Vec<&Review> = state
            .reviews
            .values()
            .filter(|r| r.product_id == product)
            .filter(|r| after_cursor((r.created_at, r.id), after))
            .collect();
        found.sort_by_key(|r| newest_first((r.created_at, r.id)));
        Ok(found.into_iter().take(limit).cloned().collect())
    }
}
