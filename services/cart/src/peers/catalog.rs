//! The catalog over the SDK: products in one BatchGetProducts call, and each category's
//! path of slugs from a directory of categories kept in memory (categories change rarely;
//! an unknown category refreshes it).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1 as pb;
use mandi_sdk::proto::mandi::common::v1::UnitOfSale;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{Catalog, PeerUnavailable};
use crate::domain::{Product, Unit};

/// Most ids one BatchGetProducts takes (the catalog's contract).
const BATCH: usize = 100;
/// Shortest time between two directory refreshes, so unknown categories cannot make the
/// cart list every category on every call.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

/// Asks the catalog through the SDK, each call bounded by `timeout`.
pub struct SdkCatalog {
    mandi: Mandi,
    timeout: Duration,
    directory: Mutex<Directory>,
}

#[derive(Default)]
struct Directory {
    /// Category id → (slug, ancestor ids from the top down).
    categories: HashMap<String, (String, Vec<String>)>,
    refreshed: Option<Instant>,
}

impl Directory {
    /// Slugs of `category` and its ancestors, nearest first; empty when unknown.
    fn path(&self, category: &str) -> Vec<String> {
        let Some((slug, ancestors)) = self.categories.get(category) else {
            return Vec::new();
        };
        std::iter::once(slug.clone())
            .chain(
                ancestors
                    .iter()
                    .rev()
                    .filter_map(|id| self.categories.get(id).map(|(slug, _)| slug.clone())),
            )
            .collect()
    }
}

impl SdkCatalog {
    /// Asks through `mandi` (whose catalog endpoint is set), giving up after `timeout`.
    pub fn new(mandi: Mandi, timeout: Duration) -> Self {
        Self {
            mandi,
            timeout,
            directory: Mutex::new(Directory::default()),
        }
    }

    /// Reloads every category when one of `wanted` is unknown (at most every
    /// [`REFRESH_AT_MOST_EVERY`]); a failed reload keeps the old directory.
    async fn refresh_for(&self, wanted: &[&str]) {
        let mut directory = self.directory.lock().await;
        let missing = wanted
            .iter()
            .any(|id| !directory.categories.contains_key(*id));
        let recent = directory
            .refreshed
            .is_some_and(|at| at.elapsed() < REFRESH_AT_MOST_EVERY);
        if !missing || recent {
            return;
        }
        directory.refreshed = Some(Instant::now());
        match self.all_categories().await {
            Ok(categories) => directory.categories = categories,
            Err(error) => tracing::warn!(%error, "cannot refresh the category directory"),
        }
    }

    async fn all_categories(
        &self,
    ) -> Result<HashMap<String, (String, Vec<String>)>, PeerUnavailable> {
        let mut categories = HashMap::new();
        let mut page_token = String::new();
        loop {
            let mut client = self.mandi.catalog();
            let page = super::ask(
                "catalog",
                self.timeout,
                client.list_categories(pb::ListCategoriesRequest {
                    parent_id: None,
                    page_size: 200,
                    page_token,
                }),
            )
            .await?;
            for c in page.categories {
                categories.insert(c.id, (c.slug, c.ancestor_ids));
            }
            if page.next_page_token.is_empty() {
                return Ok(categories);
            }
            page_token = page.next_page_token;
        }
    }
}

impl Catalog for SdkCatalog {
    async fn products(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Product>, PeerUnavailable> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH) {
            let mut client = self.mandi.catalog();
            let reply = super::ask(
                "catalog",
                self.timeout,
                client.batch_get_products(pb::BatchGetProductsRequest {
                    product_ids: chunk.iter().map(Uuid::to_string).collect(),
                }),
            )
            .await?;
            found.extend(reply.products);
        }
        let wanted: Vec<&str> = found.iter().map(|p| p.category_id.as_str()).collect();
        self.refresh_for(&wanted).await;
        let directory = self.directory.lock().await;
        Ok(found
            .into_iter()
            .filter_map(|p| {
                let path = directory.path(&p.category_id);
                product_from_proto(p, path)
            })
            .map(|p| (p.id, p))
            .collect())
    }
}

/// The cart's view of a catalog product; `None` for one it cannot sell by any unit.
fn product_from_proto(p: pb::Product, category_path: Vec<String>) -> Option<Product> {
    let unit = match UnitOfSale::try_from(p.unit_of_sale).ok()? {
        UnitOfSale::Kilogram => Unit::Kilogram,
        UnitOfSale::HundredGrams => Unit::HundredGrams,
        UnitOfSale::Piece => Unit::Piece,
        UnitOfSale::Bunch => Unit::Bunch,
        UnitOfSale::Dozen => Unit::Dozen,
        UnitOfSale::Unspecified => return None,
    };
    let price = p.price?;
    Some(Product {
        id: Uuid::parse_str(&p.id).ok()?,
        display_name: p.display_name,
        image_url: p.image_urls.into_iter().next().unwrap_or_default(),
        vendor_id: p.vendor_id,
        category_id: p.category_id,
        category_path,
        unit,
        price_minor: price.amount_minor,
        currency: price.currency_code,
        min_quantity: p.min_quantity,
        max_quantity: p.max_quantity,
        quantity_step: p.quantity_step,
        on_sale: p.status == pb::ProductStatus::Active as i32,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_category_path_runs_from_the_category_up_to_the_top() {
        let mut directory = Directory::default();
        directory
            .categories
            .insert("f".into(), ("fruits".into(), vec![]));
        directory
            .categories
            .insert("t".into(), ("tropical".into(), vec!["f".into()]));
        directory
            .categories
            .insert("m".into(), ("mangoes".into(), vec!["f".into(), "t".into()]));
        assert_eq!(directory.path("m"), ["mangoes", "tropical", "fruits"]);
        assert!(directory.path("unknown").is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_catalog_is_unavailable_within_the_timeout() {
        let mandi = Mandi::builder()
            .endpoint("http://127.0.0.1:9")
            .connect_lazy()
            .unwrap();
        let catalog = SdkCatalog::new(mandi, Duration::from_millis(500));
        let started = Instant::now();
        let err = catalog.products(&[Uuid::now_v7()]).await.unwrap_err();
        assert_eq!(err.service, "catalog");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
