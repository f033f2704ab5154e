//! The embedded full-text index over active products: typo-tolerant, prefix-matching
//! search with filters, facets and stable keyset pages, and search-as-you-type
//! suggestions. A read model: rebuilt from the store at start and kept current on every
//! write; it holds nothing the store does not.
//!
//! Writes go through one `IndexWriter` behind a mutex and are committed before they
//! return; the reader is reloaded right after, so the next search sees them.

mod collect;
mod query;
mod schema;
mod suggest;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tantivy::query::{BooleanQuery, Occur};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError};
use uuid::Uuid;

use crate::domain::{CatalogError, CategoryTree, Minor, Product, ProductStatus};
use collect::MatchCollector;
use schema::Fields;
use suggest::CategoryName;

/// Memory the single indexing thread may fill before it flushes a segment.
const WRITER_MEMORY: usize = 32 * 1024 * 1024;

/// Orders of search results. The contract's "unspecified" is the caller's to resolve:
/// relevance when there is a query, newest otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortOrder {
    /// Best text match first; an exact name before names that merely contain the words.
    Relevance,
    /// Cheapest unit price first.
    PriceAscending,
    /// Most expensive unit price first.
    PriceDescending,
    /// Most recently created first.
    Newest,
    /// Highest average rating first, then most reviews.
    Rating,
}

/// Fields that results can be counted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FacetField {
    /// Per category id; a product counts in its category and every ancestor.
    Category,
    /// Per ISO country code; products of unknown origin are not counted.
    OriginCountry,
    /// "true" and "false".
    Organic,
    /// "true" and "false".
    Local,
    /// Per vendor id.
    Vendor,
}

/// Filters; every set one must hold (AND), unset ones match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// This category or any category below it.
    pub category: Option<Uuid>,
    /// Unit price at least this.
    pub min_price: Option<Minor>,
    /// Unit price at most this.
    pub max_price: Option<Minor>,
    /// Only organic (true) or only non-organic (false).
    pub organic: Option<bool>,
    /// Only local (true) or only non-local (false).
    pub local: Option<bool>,
    /// Only in season (true) or out of season (false) in the month of `now` (UTC);
    /// all-year products are always in season.
    pub in_season: Option<bool>,
    /// From one of these countries (ISO codes, any case); empty = anywhere.
    pub origin_countries: Vec<String>,
    /// Of this vendor.
    pub vendor_id: Option<String>,
    /// Carrying every one of these tags (any case).
    pub tags: Vec<String>,
}

/// One search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    /// Free text; every word must match (typos and an unfinished last word allowed).
    /// Empty matches every product.
    pub query: String,
    /// Filters on top of the query.
    pub filter: SearchFilter,
    /// Result order.
    pub sort: SortOrder,
    /// Facets to count over all matches, returned in this order.
    pub facets: Vec<FacetField>,
    /// Page size; 0 returns only the total and facets (and no cursor).
    pub limit: usize,
    /// Where the previous page ended; `None` for the first page.
    pub after: Option<SearchCursor>,
}

/// A position in a result order: just after the hit with this sort key and id. Stays
/// meaningful when that hit, or any other, is added or removed between pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchCursor {
    /// The hit's sort key: relevance (score to 1/100, then name shortness), price in
    /// minor units, creation time in Unix milliseconds, or average rating × 100 × 10⁹ +
    /// review count.
    pub key: i64,
    /// The hit's id, which orders hits with equal keys.
    pub id: Uuid,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResults {
    /// Products of this page, in order.
    pub ids: Vec<Uuid>,
    /// Products matching the query and filters, on all pages.
    pub total: u64,
    /// Per requested facet, counts over all matches: largest first, ties by value, at
    /// most 50 buckets.
    pub facets: Vec<(FacetField, Vec<FacetCount>)>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<SearchCursor>,
}

/// Matches sharing one facet value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    /// A category id, country code, vendor id, or "true"/"false".
    pub value: String,
    /// How many matches have it.
    pub count: u64,
}

/// A completion of typed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The product or category name, as displayed.
    pub text: String,
    /// The product it names, when it names one.
    pub product_id: Option<Uuid>,
    /// The category it names, when it names one.
    pub category_id: Option<Uuid>,
}

/// The index. Cheap to share behind an `Arc`; searches run in parallel with each other
/// and with writes.
pub struct SearchIndex {
    fields: Fields,
    writer: Mutex<IndexWriter>,
    reader: IndexReader,
    /// Category names for suggestions, from the tree of the latest write.
    categories: RwLock<Vec<CategoryName>>,
    /// The (version, review count) each product was last indexed at; deleted products keep
    /// a tombstone. Both numbers only grow, so a write that arrives late with an older
    /// state is ignored instead of putting the old state back. Guarded by `writer`.
    indexed: Mutex<HashMap<Uuid, (i64, i64)>>,
    /// Open [`IndexBatch`]es: while any is open, writes are not committed one by one.
    batches: AtomicUsize,
    /// Kept for the lifetime of the reader and writer it created.
    _index: Index,
}

/// Defers commits while it lives, so a bulk load pays for one commit instead of one per
/// product; dropping it commits everything written meanwhile.
pub struct IndexBatch<'a> {
    index: &'a SearchIndex,
}

impl Drop for IndexBatch<'_> {
    fn drop(&mut self) {
        if self.index.batches.fetch_sub(1, Ordering::SeqCst) == 1 {
            let mut writer = self
                .index
                .writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Err(error) = self.index.commit(&mut writer) {
                tracing::error!(%error, "cannot commit a batch of index writes");
            }
        }
    }
}

fn failed(context: &'static str) -> impl FnOnce(TantivyError) -> CatalogError {
    move |error| CatalogError::Search(format!("{context}: {error}"))
}

// === impl SearchIndex ===

impl SearchIndex {
    /// An empty in-memory index.
    pub fn new() -> Result<Self, CatalogError> {
        let (index, fields) = Fields::create_index();
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(failed("opening the index writer"))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(failed("opening the index reader"))?;
        Ok(Self {
            fields,
            writer: Mutex::new(writer),
            reader,
            categories: RwLock::new(Vec::new()),
            indexed: Mutex::new(HashMap::new()),
            batches: AtomicUsize::new(0),
            _index: index,
        })
    }

    /// Defers commits until the returned batch is dropped (bulk loads).
    pub fn batch(&self) -> IndexBatch<'_> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        IndexBatch { index: self }
    }

    /// Replaces every document with the active ones of `products`. Searches see the old
    /// set until the new one is complete.
    pub fn rebuild(&self, products: &[Product], tree: &CategoryTree) -> Result<(), CatalogError> {
        self.write(tree, |writer, fields| {
            *self.indexed.lock().unwrap_or_else(PoisonError::into_inner) =
                products.iter().map(|p| (p.id, freshness(p))).collect();
            writer
                .delete_all_documents()
                .map_err(failed("clearing the index"))?;
            for product in products.iter().filter(|p| is_listed(p)) {
                writer
                    .add_document(fields.document(product, tree))
                    .map_err(failed("indexing a product"))?;
            }
            Ok(())
        })
    }

    /// Indexes `product` as it is now, replacing its previous document; a product that is
    /// not active is removed. Category names and ancestors come from `tree`.
    pub fn upsert(&self, product: &Product, tree: &CategoryTree) -> Result<(), CatalogError> {
        self.write(tree, |writer, fields| {
            let mut indexed = self.indexed.lock().unwrap_or_else(PoisonError::into_inner);
            if indexed
                .get(&product.id)
                .is_some_and(|seen| *seen >= freshness(product))
            {
                return Ok(());
            }
            indexed.insert(product.id, freshness(product));
            writer.delete_term(fields.id_term(product.id));
            if is_listed(product) {
                writer
                    .add_document(fields.document(product, tree))
                    .map_err(failed("indexing a product"))?;
            }
            Ok(())
        })
    }

    /// Removes the product's document, if any.
    pub fn remove(&self, id: Uuid) -> Result<(), CatalogError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.indexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, (i64::MAX, i64::MAX));
        writer.delete_term(self.fields.id_term(id));
        self.commit(&mut writer)
    }

    /// One page of products matching `request`, with the total and facets over all
    /// matches. `now` decides which month is in season.
    pub fn search(
        &self,
        request: &SearchRequest,
        now: DateTime<Utc>,
    ) -> Result<SearchResults, CatalogError> {
        let words = schema::words(&request.query);
        let mut clauses = vec![(Occur::Must, query::text(&self.fields, &words))];
        clauses.extend(query::filters(&self.fields, &request.filter, now));
        let mut facets = Vec::with_capacity(request.facets.len());
        for field in &request.facets {
            if !facets.contains(field) {
                facets.push(*field);
            }
        }
        let collector = MatchCollector {
            sort: request.sort,
            facets,
        };
        let mut matches = self
            .reader
            .searcher()
            .search(&BooleanQuery::new(clauses), &collector)
            .map_err(failed("searching"))?;

        let hits = std::mem::take(&mut matches.hits);
        let total = hits.len() as u64;
        let (page, more) = collect::page(hits, request.sort, request.after.as_ref(), request.limit);
        let next = page.last().filter(|_| more).map(|hit| SearchCursor {
            key: hit.key,
            id: hit.id,
        });
        Ok(SearchResults {
            ids: page.iter().map(|hit| hit.id).collect(),
            total,
            facets: matches.facet_counts(),
            next,
        })
    }

    /// Up to `limit` completions of `prefix` (what a shopper typed so far): names of
    /// products and of non-empty categories whose words start with its last word and
    /// contain its earlier words, names starting with the typed text first, then shorter
    /// ones. Each name once.
    pub fn suggest(&self, prefix: &str, limit: usize) -> Result<Vec<Suggestion>, CatalogError> {
        let categories = self
            .categories
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        suggest::suggest(
            &self.reader.searcher(),
            &self.fields,
            &categories,
            prefix,
            limit,
        )
        .map_err(failed("suggesting"))
    }

    /// Runs `change` under the writer lock, refreshes category names from `tree`,
    /// commits and makes the change visible.
    fn write(
        &self,
        tree: &CategoryTree,
        change: impl FnOnce(&IndexWriter<TantivyDocument>, &Fields) -> Result<(), CatalogError>,
    ) -> Result<(), CatalogError> {
        let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = change(&writer, &self.fields) {
            // Drop the half-done change so the next commit does not publish it.
            writer.rollback().map_err(failed("rolling back"))?;
            return Err(error);
        }
        *self
            .categories
            .write()
            .unwrap_or_else(PoisonError::into_inner) = tree
            .sorted()
            .into_iter()
            .map(|c| CategoryName::new(c.id, &c.fields.display_name))
            .collect();
        if self.batches.load(Ordering::SeqCst) > 0 {
            return Ok(());
        }
        self.commit(&mut writer)
    }

    fn commit(&self, writer: &mut IndexWriter) -> Result<(), CatalogError> {
        writer.commit().map_err(failed("committing"))?;
        self.reader.reload().map_err(failed("reloading the reader"))
    }
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("documents", &self.reader.searcher().num_docs())
            .finish_non_exhaustive()
    }
}

/// How new a product's state is: both parts only ever grow.
fn freshness(product: &Product) -> (i64, i64) {
    (product.version, product.rating.count)
}

/// Whether shoppers can find the product by search.
fn is_listed(product: &Product) -> bool {
    product.input.status == ProductStatus::Active
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<SearchIndex>();
    }

    #[test]
    fn cursors_survive_a_round_trip_through_json() {
        let cursor = SearchCursor {
            key: -42,
            id: Uuid::now_v7(),
        };
        let json = serde_json::to_string(&cursor).unwrap();
        assert_eq!(serde_json::from_str::<SearchCursor>(&json).unwrap(), cursor);
    }

    #[test]
    fn an_empty_index_finds_nothing_and_suggests_nothing() {
        let index = SearchIndex::new().unwrap();
        let request = SearchRequest {
            query: String::new(),
            filter: SearchFilter::default(),
            sort: SortOrder::Newest,
            facets: vec![FacetField::Organic],
            limit: 10,
            after: None,
        };
        let results = index.search(&request, Utc::now()).unwrap();
        assert_eq!(results.total, 0);
        assert!(results.ids.is_empty());
        assert_eq!(results.facets, [(FacetField::Organic, vec![])]);
        assert_eq!(results.next, None);
        assert!(index.suggest("man", 5).unwrap().is_empty());
    }
}
