//! Use cases of reviews: one per shopper and product, never by its vendor.

use chrono::Utc;
use uuid::Uuid;

use super::{Catalog, Viewer, not_found, scoped_key};
use crate::cache::CatalogCache;
use crate::domain::{CatalogError, NewReview, Product, Review};
use crate::store::{CatalogStore, Cursor, StoreError};

impl<S: CatalogStore, C: CatalogCache> Catalog<S, C> {
    /// Adds the viewer's review of an active or archived product.
    pub async fn create_review(
        &self,
        viewer: &Viewer,
        review: NewReview,
        request_id: Option<&str>,
    ) -> Result<Review, CatalogError> {
        let author = viewer
            .user_id
            .clone()
            .ok_or_else(|| CatalogError::Forbidden("sign in to review".into()))?;
        let request_id = scoped_key(viewer, request_id);
        let request_id = request_id.as_deref();
        if let Some(key) = request_id
            && let Some(existing) = self.store.review_by_request_id(key).await?
        {
            return Ok(existing);
        }
        review.validate()?;
        let product = self
            .store
            .product(review.product_id)
            .await?
            .filter(Product::is_public)
            .ok_or_else(|| not_found("product", review.product_id))?;
        if product.input.vendor_id == author {
            return Err(CatalogError::Forbidden(
                "vendors cannot review their own products".into(),
            ));
        }
        let stored = Review {
            id: Uuid::now_v7(),
            product_id: product.id,
            author_id: author,
            rating: review.rating,
            title: review.title,
            text: review.text,
            created_at: Utc::now(),
        };
        match self.store.insert_review(&stored, request_id).await {
            Ok(_) => {}
            Err(StoreError::Conflict("author")) => {
                return Err(CatalogError::AlreadyExists(
                    "you have already reviewed this product".into(),
                ));
            }
            Err(StoreError::Conflict(_)) => {
                return self
                    .store
                    .review_by_request_id(request_id.unwrap_or_default())
                    .await?
                    .ok_or_else(|| CatalogError::AlreadyExists("request_id is taken".into()));
            }
            Err(other) => return Err(other.into()),
        }
        self.refresh_read_models(product.id).await;
        Ok(stored)
    }

    /// A page of a product's reviews, newest first.
    pub async fn reviews(
        &self,
        product: Uuid,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Review>, CatalogError> {
        Ok(self.store.list_reviews(product, after, limit).await?)
    }
}
