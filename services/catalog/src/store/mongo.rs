//! MongoDB adapter of [`CatalogStore`]: collections `products`, `categories` and
//! `reviews` in one database.
//!
//! Written for a real MongoDB and checked against CongoDB, the in-memory wire-protocol
//! server the tests use. Two things shape it:
//! - Unique values (slugs, request ids, one review per author) are checked by reading
//!   before writing, *and* backed by unique indexes. The check gives the contract on
//!   servers that do not enforce unique indexes (CongoDB); the index closes the race
//!   between check and write on a real MongoDB, whose duplicate-key error (11000) is
//!   mapped to the same [`StoreError::Conflict`].
//! - No transactions: every write is a single-document operation made conditional where
//!   it matters (`{id, version}` filters), and the one two-document write (a review and
//!   its product's rating) is ordered so a crash leaves a repairable state (`ratings`).

mod documents;
mod errors;
mod indexes;
mod ratings;
#[cfg(test)]
mod tests;

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};
use serde::Deserialize;
use uuid::Uuid;

use self::documents::{CategoryDoc, Int64, ProductDoc, ReviewDoc, Word, to_bson_time, to_document};
use self::errors::{REQUEST_KEY_INDEX, SLUG_AND_REQUEST_ID, backend, write_error};
use super::{CatalogStore, Cursor, ProductQuery, RequestRecord, StoreError, Written};
use crate::domain::{Category, Product, RatingSummary, Review};

/// How long an operation waits for a server to answer before reporting it unavailable.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The catalog in a MongoDB database.
#[derive(Clone)]
pub struct MongoStore {
    products: Collection<ProductDoc>,
    categories: Collection<CategoryDoc>,
    reviews: Collection<ReviewDoc>,
    requests: Collection<RequestDoc>,
}

/// A [`RequestRecord`] as stored: ids as strings like every other collection here.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
struct RequestDoc {
    key: String,
    fingerprint: String,
    target: String,
}

impl MongoStore {
    /// Connects to `url` and uses `database`. Fails with [`StoreError::Unavailable`] when
    /// no server answers within the server-selection timeout (5 s unless the URL sets
    /// `serverSelectionTimeoutMS`).
    pub async fn connect(url: &str, database: &str) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(url)
            .await
            .map_err(|e| StoreError::Failed(format!("invalid MongoDB URL: {e}")))?;
        options
            .server_selection_timeout
            .get_or_insert(SERVER_SELECTION_TIMEOUT);
        options
            .app_name
            .get_or_insert_with(|| "mandi-catalog".to_owned());
        let client = Client::with_options(options).map_err(backend)?;
        let database = client.database(database);
        // The driver connects lazily; ping so a missing server shows up here, at start.
        database
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(backend)?;
        Ok(Self::new(&database))
    }

    fn new(database: &Database) -> Self {
        Self {
            products: database.collection("products"),
            categories: database.collection("categories"),
            reviews: database.collection("reviews"),
            requests: database.collection("requests"),
        }
    }

    /// Whether any document of `collection` matches `filter`.
    async fn exists<T: Send + Sync>(
        collection: &Collection<T>,
        filter: Document,
    ) -> Result<bool, StoreError> {
        let found = collection
            .clone_with_type::<Document>()
            .find_one(filter)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(backend)?;
        Ok(found.is_some())
    }

    /// The stored version of product `id`, if it exists.
    async fn product_version(&self, id: Uuid) -> Result<Option<i64>, StoreError> {
        #[derive(Deserialize)]
        struct Version {
            version: Int64,
        }
        let found = self
            .products
            .clone_with_type::<Version>()
            .find_one(doc! { "id": id.to_string() })
            .projection(doc! { "_id": 0, "version": 1 })
            .await
            .map_err(backend)?;
        Ok(found.map(|v| v.version.0))
    }

    /// `NotFound` or `VersionMismatch`, read after a conditional write matched nothing.
    async fn why_not_written(&self, id: Uuid) -> Result<Written, StoreError> {
        Ok(match self.product_version(id).await? {
            None => Written::NotFound,
            Some(actual) => Written::VersionMismatch { actual },
        })
    }
}

// === queries ===

/// `filter` narrowed to entries strictly after `cursor` in (created_at, id) descending
/// order: older, or as old with a smaller id.
fn after(mut filter: Document, cursor: Option<Cursor>) -> Document {
    if let Some((created_at, id)) = cursor {
        let at = to_bson_time(created_at);
        filter.insert(
            "$or",
            vec![
                doc! { "created_at": { "$lt": at } },
                doc! { "created_at": at, "id": { "$lt": id.to_string() } },
            ],
        );
    }
    filter
}

fn newest_first() -> Document {
    doc! { "created_at": -1, "id": -1 }
}

/// A page size as the driver takes it. Zero would mean "no limit" to MongoDB, so callers
/// answer `limit == 0` themselves.
fn page_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

async fn collect<D, T>(
    cursor: mongodb::Cursor<D>,
    convert: impl Fn(D) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    D: serde::de::DeserializeOwned + Send + Sync + Unpin,
{
    let docs: Vec<D> = cursor.try_collect().await.map_err(backend)?;
    docs.into_iter().map(convert).collect()
}

// === impl CatalogStore for MongoStore ===

impl CatalogStore for MongoStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        indexes::create(self).await
    }

    async fn insert_product(
        &self,
        product: &Product,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        if Self::exists(&self.products, doc! { "slug": &product.input.slug }).await? {
            return Err(StoreError::Conflict("slug"));
        }
        if let Some(key) = request_id
            && Self::exists(&self.products, doc! { "request_id": key }).await?
        {
            return Err(StoreError::Conflict("request_id"));
        }
        self.products
            .insert_one(ProductDoc::new(product, request_id))
            .await
            .map_err(|e| write_error(e, SLUG_AND_REQUEST_ID))?;
        Ok(())
    }

    async fn product_by_request_id(&self, request_id: &str) -> Result<Option<Product>, StoreError> {
        let found = self
            .products
            .find_one(doc! { "request_id": request_id })
            .await
            .map_err(backend)?;
        found.map(ProductDoc::into_product).transpose()
    }

    async fn product(&self, id: Uuid) -> Result<Option<Product>, StoreError> {
        let found = self
            .products
            .find_one(doc! { "id": id.to_string() })
            .await
            .map_err(backend)?;
        found.map(ProductDoc::into_product).transpose()
    }

    async fn products(&self, ids: &[Uuid]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let cursor = self
            .products
            .find(doc! { "id": { "$in": wanted } })
            .await
            .map_err(backend)?;
        let found = collect(cursor, ProductDoc::into_product).await?;
        // In the order asked, repeats included, like the in-memory twin.
        let by_id: std::collections::HashMap<Uuid, Product> =
            found.into_iter().map(|p| (p.id, p)).collect();
        Ok(ids.iter().filter_map(|id| by_id.get(id)).cloned().collect())
    }

    async fn replace_product(
        &self,
        product: &Product,
        expected_version: i64,
    ) -> Result<Written, StoreError> {
        // Missing or stale wins over a slug conflict, as in the in-memory twin.
        match self.product_version(product.id).await? {
            None => return Ok(Written::NotFound),
            Some(actual) if actual != expected_version => {
                return Ok(Written::VersionMismatch { actual });
            }
            Some(_) => {}
        }
        let id = product.id.to_string();
        let taken = doc! { "slug": &product.input.slug, "id": { "$ne": &id } };
        if Self::exists(&self.products, taken).await? {
            return Err(StoreError::Conflict("slug"));
        }
        let mut fields = to_document(&ProductDoc::new(product, None))?;
        // The request id stays with the document it created; the rating belongs to
        // insert_review's `$inc`, so a replace racing a review cannot undo the review.
        fields.remove("id");
        fields.remove("rating");
        let updated = self
            .products
            .update_one(
                doc! { "id": &id, "version": expected_version },
                doc! { "$set": fields },
            )
            .await
            .map_err(|e| write_error(e, SLUG_AND_REQUEST_ID))?;
        if updated.matched_count == 1 {
            Ok(Written::Done)
        } else {
            // Someone else wrote or deleted it between our read and our write.
            self.why_not_written(product.id).await
        }
    }

    async fn delete_product(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
    ) -> Result<Written, StoreError> {
        let mut filter = doc! { "id": id.to_string() };
        if let Some(expected) = expected_version {
            filter.insert("version", expected);
        }
        let deleted = self.products.delete_one(filter).await.map_err(backend)?;
        if deleted.deleted_count == 1 {
            Ok(Written::Done)
        } else {
            self.why_not_written(id).await
        }
    }

    async fn list_products(
        &self,
        query: &ProductQuery,
        after_cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Product>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = Document::new();
        if let Some(category) = query.category_id {
            filter.insert("category_id", category.to_string());
        }
        if let Some(vendor) = &query.vendor_id {
            filter.insert("vendor_id", vendor);
        }
        if !query.statuses.is_empty() {
            let words: Vec<&str> = query.statuses.iter().map(|s| s.word()).collect();
            filter.insert("status", doc! { "$in": words });
        }
        let cursor = self
            .products
            .find(after(filter, after_cursor))
            .sort(newest_first())
            .limit(page_limit(limit))
            .await
            .map_err(backend)?;
        collect(cursor, ProductDoc::into_product).await
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        let cursor = self.products.find(doc! {}).await.map_err(backend)?;
        collect(cursor, ProductDoc::into_product).await
    }

    async fn category_in_use(&self, category: Uuid) -> Result<bool, StoreError> {
        Self::exists(&self.products, doc! { "category_id": category.to_string() }).await
    }

    async fn insert_category(
        &self,
        category: &Category,
        request_id: Option<&str>,
    ) -> Result<(), StoreError> {
        if Self::exists(&self.categories, doc! { "slug": &category.fields.slug }).await? {
            return Err(StoreError::Conflict("slug"));
        }
        if let Some(key) = request_id
            && Self::exists(&self.categories, doc! { "request_id": key }).await?
        {
            return Err(StoreError::Conflict("request_id"));
        }
        self.categories
            .insert_one(CategoryDoc::new(category, request_id))
            .await
            .map_err(|e| write_error(e, SLUG_AND_REQUEST_ID))?;
        Ok(())
    }

    async fn category_by_request_id(
        &self,
        request_id: &str,
    ) -> Result<Option<Category>, StoreError> {
        let found = self
            .categories
            .find_one(doc! { "request_id": request_id })
            .await
            .map_err(backend)?;
        found.map(CategoryDoc::into_category).transpose()
    }

    async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let cursor = self.categories.find(doc! {}).await.map_err(backend)?;
        collect(cursor, CategoryDoc::into_category).await
    }

    async fn replace_category(&self, category: &Category) -> Result<bool, StoreError> {
        let id = category.id.to_string();
        if !Self::exists(&self.categories, doc! { "id": &id }).await? {
            return Ok(false);
        }
        let taken = doc! { "slug": &category.fields.slug, "id": { "$ne": &id } };
        if Self::exists(&self.categories, taken).await? {
            return Err(StoreError::Conflict("slug"));
        }
        let mut fields = to_document(&CategoryDoc::new(category, None))?;
        fields.remove("id");
        let updated = self
            .categories
            .update_one(doc! { "id": &id }, doc! { "$set": fields })
            .await
            .map_err(|e| write_error(e, SLUG_AND_REQUEST_ID))?;
        Ok(updated.matched_count == 1)
    }

    async fn delete_category(&self, id: Uuid) -> Result<bool, StoreError> {
        let deleted = self
            .categories
            .delete_one(doc! { "id": id.to_string() })
            .await
            .map_err(backend)?;
        Ok(deleted.deleted_count == 1)
    }

    async fn insert_review(
        &self,
        review: &Review,
        request_id: Option<&str>,
    ) -> Result<RatingSummary, StoreError> {
        self.add_review(review, request_id).await
    }

    async fn review_by_request_id(&self, request_id: &str) -> Result<Option<Review>, StoreError> {
        let found = self
            .reviews
            .find_one(doc! { "request_id": request_id })
            .await
            .map_err(backend)?;
        found.map(ReviewDoc::into_review).transpose()
    }

    async fn recall_request(&self, key: &str) -> Result<Option<RequestRecord>, StoreError> {
        let found = self
            .requests
            .find_one(doc! { "key": key })
            .await
            .map_err(backend)?;
        found
            .map(|doc| {
                Ok(RequestRecord {
                    target: Uuid::parse_str(&doc.target)
                        .map_err(|e| StoreError::Corrupt(format!("request {key}: {e}")))?,
                    key: doc.key,
                    fingerprint: doc.fingerprint,
                })
            })
            .transpose()
    }

    async fn remember_request(&self, record: &RequestRecord) -> Result<(), StoreError> {
        // First record wins: checked here for servers without unique indexes, and by the
        // unique index on a real MongoDB (a duplicate-key error means someone was first).
        if self.recall_request(&record.key).await?.is_some() {
            return Ok(());
        }
        let doc = RequestDoc {
            key: record.key.clone(),
            fingerprint: record.fingerprint.clone(),
            target: record.target.to_string(),
        };
        match self.requests.insert_one(doc).await {
            Ok(_) => Ok(()),
            Err(error) => match write_error(error, &[(REQUEST_KEY_INDEX, "request_id")]) {
                StoreError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list_reviews(
        &self,
        product: Uuid,
        after_cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Review>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let filter = after(doc! { "product_id": product.to_string() }, after_cursor);
        let cursor = self
            .reviews
            .find(filter)
            .sort(newest_first())
            .limit(page_limit(limit))
            .await
            .map_err(backend)?;
        collect(cursor, ReviewDoc::into_review).await
    }
}
