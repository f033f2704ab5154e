//! The catalog's use cases over a store, a cache and the search index: who may see and
//! change what, optimistic concurrency, idempotent creates, and keeping the cache and the
//! index in step with every write.

mod categories;
mod reviews;

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use uuid::Uuid;

use crate::cache::CatalogCache;
use crate::domain::{
    CatalogError, CategoryTree, Product, ProductChanges, ProductInput, ProductStatus,
    RatingSummary, slugify,
};
use crate::search::{SearchIndex, SearchRequest, SearchResults, Suggestion};
use crate::store::{CatalogStore, Cursor, ProductQuery, RequestRecord, StoreError, Written};

/// One page of search results with its products, in result order.
pub struct SearchPage {
    /// The products of the page (any deleted since indexing are left out).
    pub products: Vec<Product>,
    /// Ids, total, facets and the cursor of the next page.
    pub results: SearchResults,
}

/// Who is asking, as far as the catalog cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Viewer {
    /// The signed-in user, if any.
    pub user_id: Option<String>,
    /// Holds the admin role.
    pub admin: bool,
    /// Holds the vendor role.
    pub vendor: bool,
}

impl Viewer {
    fn may_see(&self, product: &Product) -> bool {
        product.is_public() || self.may_edit(product)
    }

    fn may_edit(&self, product: &Product) -> bool {
        self.admin || (self.vendor && self.user_id.as_deref() == Some(&product.input.vendor_id))
    }
}

/// The catalog over store `S` and cache `C`.
pub struct Catalog<S, C> {
    store: S,
    cache: C,
    index: SearchIndex,
    /// Set when an index write failed after the store had the change: the next search
    /// rebuilds the index from the store first. A committed write never fails because
    /// the index (a read model) could not follow.
    index_stale: AtomicBool,
}

fn not_found(kind: &'static str, id: impl ToString) -> CatalogError {
    CatalogError::NotFound {
        kind,
        id: id.to_string(),
    }
}

impl<S: CatalogStore, C: CatalogCache> Catalog<S, C> {
    /// Prepares the store and builds the search index from it.
    pub async fn new(store: S, cache: C) -> Result<Self, CatalogError> {
        store.prepare().await?;
        let catalog = Self {
            store,
            cache,
            index: SearchIndex::new()?,
            index_stale: AtomicBool::new(false),
        };
        catalog.rebuild_index().await?;
        Ok(catalog)
    }

    /// Rebuilds the search index from the store (at start, or after an import).
    pub async fn rebuild_index(&self) -> Result<usize, CatalogError> {
        let products = self.store.all_products().await?;
        let tree = self.tree().await?;
        self.index.rebuild(&products, &tree)?;
        Ok(products.len())
    }

    /// Brings product `id` up to date in the index and the cache from the store, which has
    /// the truth: re-reading makes concurrent writers converge on the newest state (the
    /// index and the cache both refuse an older state than the one they hold).
    async fn refresh_read_models(&self, id: Uuid) {
        let outcome = async {
            let tree = self.tree().await?;
            match self.store.product(id).await? {
                Some(product) => {
                    self.cache.put_product(&product).await;
                    self.index.upsert(&product, &tree)
                }
                None => {
                    self.cache.forget_product(id).await;
                    self.index.remove(id)
                }
            }
        }
        .await;
        if let Err(error) = outcome {
            tracing::error!(%error, product_id = %id, "search index fell behind; rebuilding on next search");
            self.index_stale.store(true, Ordering::SeqCst);
        }
    }

    /// Defers search-index commits while the batch lives (bulk imports).
    pub fn index_batch(&self) -> crate::search::IndexBatch<'_> {
        self.index.batch()
    }

    /// The category tree, from the cache when it holds it.
    pub async fn tree(&self) -> Result<CategoryTree, CatalogError> {
        let cached = self.cache.categories().await;
        mandi_runtime::metrics::cache_lookup("categories", cached.is_some());
        if let Some(categories) = cached {
            return Ok(CategoryTree::new(categories));
        }
        let categories = self.store.categories().await?;
        self.cache.put_categories(&categories).await;
        Ok(CategoryTree::new(categories))
    }

    // === products ===

    /// One product the viewer may see.
    pub async fn product(&self, viewer: &Viewer, id: Uuid) -> Result<Product, CatalogError> {
        let cached = self.cache.product(id).await;
        mandi_runtime::metrics::cache_lookup("product", cached.is_some());
        let product = match cached {
            Some(product) => product,
            None => {
                let product = self
                    .store
                    .product(id)
                    .await?
                    .ok_or_else(|| not_found("product", id))?;
                self.cache.put_product(&product).await;
                product
            }
        };
        if viewer.may_see(&product) {
            Ok(product)
        } else {
            Err(not_found("product", id))
        }
    }

    /// The visible products among `ids`, in request order, and the ids not found.
    pub async fn products(
        &self,
        viewer: &Viewer,
        ids: &[Uuid],
    ) -> Result<(Vec<Product>, Vec<Uuid>), CatalogError> {
        let mut unique = ids.to_vec();
        let mut seen = std::collections::HashSet::new();
        unique.retain(|id| seen.insert(*id));
        let found = self.store.products(&unique).await?;
        let mut by_id: std::collections::HashMap<Uuid, Product> = found
            .into_iter()
            .filter(|p| viewer.may_see(p))
            .map(|p| (p.id, p))
            .collect();
        let mut products = Vec::new();
        let mut missing = Vec::new();
        for id in unique {
            match by_id.remove(&id) {
                Some(product) => products.push(product),
                None => missing.push(id),
            }
        }
        Ok((products, missing))
    }

    /// A page of products, newest first. Public viewers see only active products; vendors
    /// also their own in any status; admins everything.
    pub async fn list_products(
        &self,
        viewer: &Viewer,
        mut query: ProductQuery,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<Product>, CatalogError> {
        let own_listing =
            viewer.vendor && query.vendor_id.is_some() && query.vendor_id == viewer.user_id;
        if !viewer.admin && !own_listing {
            query.statuses = vec![ProductStatus::Active];
        }
        Ok(self.store.list_products(&query, after, limit).await?)
    }

    /// Creates a product for the viewer (a vendor) or for any vendor (an admin).
    pub async fn create_product(
        &self,
        viewer: &Viewer,
        mut input: ProductInput,
        request_id: Option<&str>,
    ) -> Result<Product, CatalogError> {
        let request_id = scoped_key(viewer, request_id);
        let request_id = request_id.as_deref();
        let fingerprint = request_fingerprint("CreateProduct", &input);
        if self.already_done(request_id, &fingerprint).await?
            && let Some(existing) = self
                .store
                .product_by_request_id(request_id.unwrap_or_default())
                .await?
        {
            self.refresh_read_models(existing.id).await;
            return Ok(existing);
        }
        match (viewer.admin, viewer.vendor, &viewer.user_id) {
            // Admins create for any vendor; without one named, the admin owns it.
            (true, _, _) if !input.vendor_id.is_empty() => {}
            (_, true, Some(user)) | (true, _, Some(user)) => input.vendor_id = user.clone(),
            _ => {
                return Err(CatalogError::Forbidden(
                    "only vendors and admins create products".into(),
                ));
            }
        }
        if input.slug.is_empty() {
            input.slug = slugify(&input.display_name);
        }
        input.validate()?;
        let tree = self.tree().await?;
        self.check_category(&tree, input.category_id)?;
        let now = Utc::now();
        let product = Product {
            id: Uuid::now_v7(),
            input,
            rating: RatingSummary::default(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        match self.store.insert_product(&product, request_id).await {
            Ok(()) => {}
            Err(StoreError::Conflict("request_id")) => {
                return self
                    .store
                    .product_by_request_id(request_id.unwrap_or_default())
                    .await?
                    .ok_or_else(|| CatalogError::AlreadyExists("request_id is taken".into()));
            }
            Err(StoreError::Conflict(_)) => {
                return Err(CatalogError::AlreadyExists(format!(
                    "a product with slug {:?} already exists",
                    product.input.slug
                )));
            }
            Err(other) => return Err(other.into()),
        }
        self.remember(request_id, fingerprint, product.id).await?;
        self.refresh_read_models(product.id).await;
        Ok(product)
    }

    /// Applies the masked fields of `new` if the product is at `expected_version`. A retry
    /// with the same `request_id` answers with the product instead of failing ABORTED.
    pub async fn update_product(
        &self,
        viewer: &Viewer,
        id: Uuid,
        new: ProductInput,
        changes: &ProductChanges,
        expected_version: i64,
        request_id: Option<&str>,
    ) -> Result<Product, CatalogError> {
        if expected_version <= 0 {
            return Err(CatalogError::invalid(
                "expected_version",
                "must be the version last read (> 0)",
            ));
        }
        let request_id = scoped_key(viewer, request_id);
        let request_id = request_id.as_deref();
        let fingerprint = request_fingerprint(
            "UpdateProduct",
            &(id, changes.paths(), expected_version, &new),
        );
        if self.already_done(request_id, &fingerprint).await? {
            return self.product(viewer, id).await;
        }
        let current = self
            .store
            .product(id)
            .await?
            .filter(|p| viewer.may_see(p))
            .ok_or_else(|| not_found("product", id))?;
        if !viewer.may_edit(&current) {
            return Err(CatalogError::Forbidden(
                "only the product's vendor or an admin may change it".into(),
            ));
        }
        if changes.names("vendor_id") && !viewer.admin {
            return Err(CatalogError::Forbidden(
                "only admins move products between vendors".into(),
            ));
        }
        let merged = changes.apply(&current.input, new);
        if !current.input.status.may_become(merged.status) {
            return Err(CatalogError::invalid(
                "product.status",
                "a product never goes back to DRAFT",
            ));
        }
        merged.validate()?;
        let tree = self.tree().await?;
        if merged.category_id != current.input.category_id {
            self.check_category(&tree, merged.category_id)?;
        }
        let updated = Product {
            input: merged,
            updated_at: Utc::now(),
            version: expected_version + 1,
            ..current
        };
        let written = self
            .store
            .replace_product(&updated, expected_version)
            .await
            .map_err(|error| match error {
                StoreError::Conflict(_) => CatalogError::AlreadyExists(format!(
                    "a product with slug {:?} already exists",
                    updated.input.slug
                )),
                other => other.into(),
            })?;
        self.check_written(written, id, expected_version)?;
        self.remember(request_id, fingerprint, id).await?;
        self.refresh_read_models(id).await;
        Ok(updated)
    }

    /// Deletes a draft product; a retry with the same `request_id` succeeds again.
    pub async fn delete_product(
        &self,
        viewer: &Viewer,
        id: Uuid,
        expected_version: Option<i64>,
        request_id: Option<&str>,
    ) -> Result<(), CatalogError> {
        let request_id = scoped_key(viewer, request_id);
        let request_id = request_id.as_deref();
        let fingerprint = request_fingerprint("DeleteProduct", &(id, expected_version));
        if self.already_done(request_id, &fingerprint).await? {
            return Ok(());
        }
        let Some(current) = self.store.product(id).await?.filter(|p| viewer.may_see(p)) else {
            // Deleting what is gone is done: a retried delete succeeds.
            return Ok(());
        };
        if !viewer.may_edit(&current) {
            return Err(CatalogError::Forbidden(
                "only the product's vendor or an admin may delete it".into(),
            ));
        }
        if current.input.status != ProductStatus::Draft {
            return Err(CatalogError::FailedPrecondition(
                "only DRAFT products can be deleted; archive it instead".into(),
            ));
        }
        // Delete exactly the draft just checked: if it was published (or changed) since,
        // its version moved and the delete fails ABORTED instead of removing a live product.
        let expected = expected_version.unwrap_or(current.version);
        let written = self.store.delete_product(id, Some(expected)).await?;
        if written != Written::NotFound {
            self.check_written(written, id, expected)?;
        }
        self.remember(request_id, fingerprint, id).await?;
        self.refresh_read_models(id).await;
        Ok(())
    }

    /// Whether a mutation with this idempotency key already ran; the same key with a
    /// different request is refused.
    async fn already_done(
        &self,
        key: Option<&str>,
        fingerprint: &str,
    ) -> Result<bool, CatalogError> {
        let Some(key) = key else {
            return Ok(false);
        };
        match self.store.recall_request(key).await? {
            None => Ok(false),
            Some(record) if record.fingerprint == fingerprint => Ok(true),
            Some(_) => Err(CatalogError::invalid(
                "request_id",
                "was already used for a different request",
            )),
        }
    }

    async fn remember(
        &self,
        key: Option<&str>,
        fingerprint: String,
        target: Uuid,
    ) -> Result<(), CatalogError> {
        if let Some(key) = key {
            self.store
                .remember_request(&RequestRecord {
                    key: key.to_owned(),
                    fingerprint,
                    target,
                })
                .await?;
        }
        Ok(())
    }

    fn check_written(&self, written: Written, id: Uuid, expected: i64) -> Result<(), CatalogError> {
        match written {
            Written::Done => Ok(()),
            Written::NotFound => Err(not_found("product", id)),
            Written::VersionMismatch { actual } => Err(CatalogError::VersionMismatch {
                kind: "product",
                id: id.to_string(),
                expected,
                actual,
            }),
        }
    }

    fn check_category(&self, tree: &CategoryTree, id: Uuid) -> Result<(), CatalogError> {
        match tree.get(id) {
            Some(_) => Ok(()),
            None => Err(CatalogError::invalid(
                "product.category_id",
                "must name an existing category",
            )),
        }
    }

    // === search ===

    /// Full-text search over active products, with the products of the page.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchPage, CatalogError> {
        if self.index_stale.swap(false, Ordering::SeqCst)
            && let Err(error) = self.rebuild_index().await
        {
            self.index_stale.store(true, Ordering::SeqCst);
            return Err(error);
        }
        let results = self.index.search(request, Utc::now())?;
        let (products, _) = self.products(&Viewer::default(), &results.ids).await?;
        Ok(SearchPage { products, results })
    }

    /// Completions for what the user typed so far.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<Suggestion>, CatalogError> {
        self.index.suggest(prefix, limit)
    }
}

/// Idempotency keys are the caller's: scoping them by user means one caller can neither
/// replay nor read what another did with the same key.
fn scoped_key(viewer: &Viewer, key: Option<&str>) -> Option<String> {
    key.map(|key| format!("{}/{key}", viewer.user_id.as_deref().unwrap_or("anonymous")))
}

/// The method and a hash of its arguments, so a reused idempotency key is recognised.
fn request_fingerprint(method: &str, arguments: &impl serde::Serialize) -> String {
    format!("{method}:{}", mandi_runtime::paging::fingerprint(arguments))
}

fn require_admin(viewer: &Viewer) -> Result<(), CatalogError> {
    if viewer.admin {
        Ok(())
    } else {
        Err(CatalogError::Forbidden(
            "only admins manage categories".into(),
        ))
    }
}
