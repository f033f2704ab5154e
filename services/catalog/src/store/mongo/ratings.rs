//! A review and its product's rating: the adapter's one write that spans two documents.
//!
//! There is no transaction around the two writes: MongoDB has multi-document transactions
//! only on replica sets, and CongoDB's do not roll back. Instead the writes are ordered so
//! a crash between them leaves a state that is safe and repairable: the review stored and
//! the product's summary one review short — never a count without its review. A retried
//! request then finds its review (by request id or author) and stops before counting it
//! again, so the summary stays short until [`MongoStore::recount_rating`] rebuilds it from
//! the reviews.

use futures::TryStreamExt;
use mongodb::bson::{Bson, doc};
use mongodb::options::ReturnDocument;
use serde::Deserialize;
use uuid::Uuid;

use super::MongoStore;
use super::documents::{Int64, ReviewDoc};
use super::errors::{REVIEW_UNIQUE, backend, write_error};
use crate::domain::{RatingSummary, Review};
use crate::store::StoreError;

impl MongoStore {
    /// Recomputes a product's rating from its reviews and stores it; `None` when the
    /// product does not exist.
    ///
    /// The repair for the one gap [`CatalogStore::insert_review`](crate::store::CatalogStore::insert_review) leaves: without a
    /// transaction, a crash between storing a review and `$inc`-ing the rating leaves the
    /// summary one review short. Count and sum are a pure function of the stored reviews,
    /// so recounting is always right for the reviews it saw; run it where no review of
    /// the product is being written at the same moment (an admin task, or at start before
    /// serving), since a review landing mid-recount may be counted twice or not at all
    /// until the next recount.
    pub async fn recount_rating(&self, product: Uuid) -> Result<Option<RatingSummary>, StoreError> {
        #[derive(Deserialize)]
        struct Totals {
            count: Int64,
            sum: Int64,
        }
        let pipeline = [
            doc! { "$match": { "product_id": product.to_string() } },
            doc! { "$group": { "_id": Bson::Null, "count": { "$sum": 1 }, "sum": { "$sum": "$rating" } } },
        ];
        let mut groups = self
            .reviews
            .aggregate(pipeline)
            .with_type::<Totals>()
            .await
            .map_err(backend)?;
        let summary = match groups.try_next().await.map_err(backend)? {
            Some(totals) => RatingSummary {
                count: totals.count.0,
                sum: totals.sum.0,
            },
            None => RatingSummary::default(),
        };
        let updated = self
            .products
            .update_one(
                doc! { "id": product.to_string() },
                doc! { "$set": { "rating.count": summary.count, "rating.sum": summary.sum } },
            )
            .await
            .map_err(backend)?;
        Ok((updated.matched_count == 1).then_some(summary))
    }

    /// [`CatalogStore::insert_review`](crate::store::CatalogStore::insert_review).
    pub(super) async fn add_review(
        &self,
        review: &Review,
        request_id: Option<&str>,
    ) -> Result<RatingSummary, StoreError> {
        let product_id = review.product_id.to_string();
        let by_author = doc! { "product_id": &product_id, "author_id": &review.author_id };
        if Self::exists(&self.reviews, by_author).await? {
            return Err(StoreError::Conflict("author"));
        }
        if let Some(key) = request_id
            && Self::exists(&self.reviews, doc! { "request_id": key }).await?
        {
            return Err(StoreError::Conflict("request_id"));
        }
        let gone = || StoreError::Failed(format!("product {} is gone", review.product_id));
        if !Self::exists(&self.products, doc! { "id": &product_id }).await? {
            return Err(gone());
        }
        // The review first, then the count (see the module comment); the `$inc` is one
        // atomic single-document update, so concurrent reviews never lose counts.
        self.reviews
            .insert_one(ReviewDoc::new(review, request_id))
            .await
            .map_err(|e| write_error(e, REVIEW_UNIQUE))?;
        let counted = self
            .products
            .find_one_and_update(
                doc! { "id": &product_id },
                doc! { "$inc": { "rating.count": 1_i64, "rating.sum": i64::from(review.rating) } },
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(backend)?;
        match counted {
            Some(product) => Ok(product.rating.summary()),
            None => {
                // Deleted between the check and the count: take the orphan back out.
                self.reviews
                    .delete_one(doc! { "id": review.id.to_string() })
                    .await
                    .map_err(backend)?;
                Err(gone())
            }
        }
    }
}
