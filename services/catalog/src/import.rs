//! Loads a catalog file (categories, vendors, products) through the service's own rules,
//! so imported data is validated exactly like data created over gRPC.

use std::collections::HashMap;

use mandi_sdk::proto::mandi::catalog::v1 as pb;
use mandi_sdk::proto::mandi::common::v1 as common;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::cache::CatalogCache;
use crate::domain::{CatalogError, NewCategory, Nutrition, Origin};
use crate::grpc::{Currency, nutrition_to_proto, origin_to_proto, product_input_for_import};
use crate::service::{Catalog, Viewer};
use crate::store::CatalogStore;

/// The file's shape (see `services/catalog/data/demo-catalog.json`).
#[derive(Debug, Deserialize)]
pub struct CatalogFile {
    /// Currency of every price in the file.
    pub currency_code: String,
    /// Categories; parents may come after children.
    pub categories: Vec<CategoryRow>,
    /// Vendors the products refer to.
    pub vendors: Vec<VendorRow>,
    /// Products.
    pub products: Vec<ProductRow>,
}

/// One category of the file.
#[derive(Debug, Deserialize)]
pub struct CategoryRow {
    slug: String,
    display_name: String,
    parent_slug: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sort_order: i32,
}

/// One vendor of the file.
#[derive(Debug, Deserialize)]
pub struct VendorRow {
    key: String,
    display_name: String,
}

/// One product of the file; enum values use the contract's names.
#[derive(Debug, Deserialize)]
pub struct ProductRow {
    slug: String,
    display_name: String,
    #[serde(default)]
    description: String,
    category_slug: String,
    vendor_key: String,
    unit_of_sale: String,
    price_minor: i64,
    compare_at_price_minor: Option<i64>,
    #[serde(default)]
    image_urls: Vec<String>,
    #[serde(default)]
    origin: Option<Origin>,
    #[serde(default)]
    organic: bool,
    #[serde(default)]
    season_months: Vec<i32>,
    #[serde(default)]
    shelf_life_days: i32,
    #[serde(default)]
    storage_condition: Option<String>,
    #[serde(default)]
    nutrition_per_100g: Option<Nutrition>,
    #[serde(default)]
    tags: Vec<String>,
    status: String,
    #[serde(default)]
    unit_weight_grams: i64,
    #[serde(default)]
    quantity_step: i64,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not valid JSON of the expected shape.
    #[error("catalog file is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    /// A row refers to something the file does not define, or uses a bad enum name.
    #[error("catalog file: {0}")]
    Reference(String),
    /// A row broke a catalog rule.
    #[error("catalog file row {row}: {source}")]
    Rule {
        /// Which row (slug).
        row: String,
        /// The rule broken.
        #[source]
        source: CatalogError,
    },
}

/// The stable id of a demo vendor, derived from its key.
pub fn vendor_id(key: &str) -> Uuid {
    let digest = Sha256::digest(format!("mandi-vendor:{key}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Imports `json` into `catalog` unless it already holds categories; returns how many
/// products were added.
pub async fn import_if_empty<S: CatalogStore, C: CatalogCache>(
    catalog: &Catalog<S, C>,
    currency: &Currency,
    json: &str,
) -> Result<usize, ImportError> {
    let file: CatalogFile = serde_json::from_str(json)?;
    if file.currency_code != currency.0 {
        return Err(ImportError::Reference(format!(
            "prices are in {} but the marketplace uses {}",
            file.currency_code, currency.0
        )));
    }
    let rule = |row: &str| {
        let row = row.to_owned();
        move |source| ImportError::Rule { row, source }
    };
    if !catalog
        .tree()
        .await
        .map_err(rule("categories"))?
        .sorted()
        .is_empty()
    {
        return Ok(0);
    }
    let admin = Viewer {
        user_id: Some("catalog-import".into()),
        admin: true,
        vendor: false,
    };
    let categories = import_categories(catalog, &admin, &file.categories).await?;
    let vendors: HashMap<&str, Uuid> = file
        .vendors
        .iter()
        .map(|v| {
            tracing::debug!(vendor = %v.display_name, "demo vendor");
            (v.key.as_str(), vendor_id(&v.key))
        })
        .collect();
    // One index commit for the whole file instead of one per product.
    let _batch = catalog.index_batch();
    for row in &file.products {
        let product = product_row(row, &categories, &vendors, currency)?;
        let input = product_input_for_import(&product, currency).map_err(rule(&row.slug))?;
        catalog
            .create_product(&admin, input, Some(&format!("import:{}", row.slug)))
            .await
            .map_err(rule(&row.slug))?;
    }
    Ok(file.products.len())
}

async fn import_categories<S: CatalogStore, C: CatalogCache>(
    catalog: &Catalog<S, C>,
    admin: &Viewer,
    rows: &[CategoryRow],
) -> Result<HashMap<String, Uuid>, ImportError> {
    let mut ids: HashMap<String, Uuid> = HashMap::new();
    // Parents first: each pass creates the rows whose parent exists.
    while ids.len() < rows.len() {
        let before = ids.len();
        let pending: Vec<&CategoryRow> =
            rows.iter().filter(|r| !ids.contains_key(&r.slug)).collect();
        for row in pending {
            let parent_id = match &row.parent_slug {
                None => None,
                Some(parent) => match ids.get(parent) {
                    Some(id) => Some(*id),
                    None => continue,
                },
            };
            let fields = NewCategory {
                display_name: row.display_name.clone(),
                slug: row.slug.clone(),
                parent_id,
                description: row.description.clone(),
                image_url: String::new(),
                sort_order: row.sort_order,
            };
            let created = catalog
                .create_category(
                    admin,
                    fields,
                    Some(&format!("import:category:{}", row.slug)),
                )
                .await
                .map_err(|source| ImportError::Rule {
                    row: row.slug.clone(),
                    source,
                })?;
            ids.insert(row.slug.clone(), created.id);
        }
        if ids.len() == before {
            return Err(ImportError::Reference(
                "some categories name a parent_slug that is not defined".into(),
            ));
        }
    }
    Ok(ids)
}

fn enum_value(field: &str, name: &str, value: Option<i32>) -> Result<i32, ImportError> {
    value.ok_or_else(|| ImportError::Reference(format!("{field} {name:?} is not a known value")))
}

fn product_row(
    row: &ProductRow,
    categories: &HashMap<String, Uuid>,
    vendors: &HashMap<&str, Uuid>,
    currency: &Currency,
) -> Result<pb::Product, ImportError> {
    let category = categories.get(&row.category_slug).ok_or_else(|| {
        ImportError::Reference(format!(
            "{}: unknown category {}",
            row.slug, row.category_slug
        ))
    })?;
    let vendor = vendors.get(row.vendor_key.as_str()).ok_or_else(|| {
        ImportError::Reference(format!("{}: unknown vendor {}", row.slug, row.vendor_key))
    })?;
    let money = |amount| common::Money {
        currency_code: currency.0.clone(),
        amount_minor: amount,
    };
    let storage = row
        .storage_condition
        .as_deref()
        .unwrap_or("STORAGE_CONDITION_ROOM_TEMPERATURE");
    Ok(pb::Product {
        display_name: row.display_name.clone(),
        slug: row.slug.clone(),
        description: row.description.clone(),
        category_id: category.to_string(),
        vendor_id: vendor.to_string(),
        unit_of_sale: enum_value(
            "unit_of_sale",
            &row.unit_of_sale,
            common::UnitOfSale::from_str_name(&row.unit_of_sale).map(|u| u as i32),
        )?,
        price: Some(money(row.price_minor)),
        compare_at_price: row.compare_at_price_minor.map(money),
        image_urls: row.image_urls.clone(),
        origin: row.origin.clone().map(origin_to_proto),
        organic: row.organic,
        season_months: row.season_months.clone(),
        shelf_life_days: row.shelf_life_days,
        storage_condition: enum_value(
            "storage_condition",
            storage,
            pb::StorageCondition::from_str_name(storage).map(|s| s as i32),
        )?,
        nutrition_per_100g: row.nutrition_per_100g.map(nutrition_to_proto),
        tags: row.tags.clone(),
        status: enum_value(
            "status",
            &row.status,
            pb::ProductStatus::from_str_name(&row.status).map(|s| s as i32),
        )?,
        unit_weight_grams: row.unit_weight_grams,
        quantity_step: row.quantity_step,
        ..Default::default()
    })
}
