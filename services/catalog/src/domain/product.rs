//! Products: what is sold, by whom, at what price per unit, and the rules a product must
//! keep.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Minor, RatingSummary, Violations, is_valid_slug};

/// How a product is priced and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum UnitOfSale {
    /// Per kilogram; quantities in grams.
    Kilogram,
    /// Per 100 grams; quantities in grams.
    HundredGrams,
    /// Per piece.
    Piece,
    /// Per bunch.
    Bunch,
    /// Per dozen.
    Dozen,
}

/// Where a product is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProductStatus {
    /// Being prepared; only its vendor and admins see it.
    Draft,
    /// On sale.
    Active,
    /// No longer sold; readable by id.
    Archived,
}

impl ProductStatus {
    /// Whether a product may move from `self` to `next`: never back to draft.
    pub fn may_become(self, next: ProductStatus) -> bool {
        self == next || next != ProductStatus::Draft
    }
}

/// How a product must be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StorageCondition {
    /// Room temperature.
    RoomTemperature,
    /// 0-8 °C.
    Chilled,
    /// -18 °C or colder.
    Frozen,
}

/// Where produce comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Origin {
    /// ISO 3166-1 alpha-2, upper case; empty when unknown.
    pub country_code: String,
    /// Region or district; may be empty.
    pub region: String,
    /// Grown locally to the marketplace.
    pub local: bool,
}

/// Nutrition per 100 g, in the units the contract names (kcal, mg, µg).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Nutrition {
    /// kcal.
    pub energy_kcal: i32,
    /// mg.
    pub protein_mg: i32,
    /// mg.
    pub carbohydrate_mg: i32,
    /// mg.
    pub sugar_mg: i32,
    /// mg.
    pub fiber_mg: i32,
    /// mg.
    pub fat_mg: i32,
    /// mg.
    pub sodium_mg: i32,
    /// mg.
    pub potassium_mg: i32,
    /// µg.
    pub vitamin_c_ug: i32,
    /// µg.
    pub vitamin_a_ug: i32,
}

impl Nutrition {
    fn values(&self) -> [i32; 10] {
        [
            self.energy_kcal,
            self.protein_mg,
            self.carbohydrate_mg,
            self.sugar_mg,
            self.fiber_mg,
            self.fat_mg,
            self.sodium_mg,
            self.potassium_mg,
            self.vitamin_c_ug,
            self.vitamin_a_ug,
        ]
    }
}

/// Everything a vendor or admin sets on a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductInput {
    /// Name shown to shoppers.
    pub display_name: String,
    /// URL slug; generated from the name when empty on create.
    pub slug: String,
    /// Long description.
    pub description: String,
    /// The category.
    pub category_id: Uuid,
    /// The owning vendor's user id.
    pub vendor_id: String,
    /// Pricing unit.
    pub unit_of_sale: UnitOfSale,
    /// Price of one unit.
    pub price: Minor,
    /// Reference price shown struck through.
    pub compare_at_price: Option<Minor>,
    /// Smallest line quantity; 0 = one step.
    pub min_quantity: i64,
    /// Largest line quantity; 0 = no limit.
    pub max_quantity: i64,
    /// Quantity step; 0 = default.
    pub quantity_step: i64,
    /// Typical weight of one unit, for count-priced products.
    pub unit_weight_grams: i64,
    /// https image links, main first.
    pub image_urls: Vec<String>,
    /// Origin.
    pub origin: Origin,
    /// Certified organic.
    pub organic: bool,
    /// Months in season (1..=12); empty = all year.
    pub season_months: Vec<u8>,
    /// Days it keeps; 0 = unknown.
    pub shelf_life_days: i32,
    /// Storage.
    pub storage_condition: StorageCondition,
    /// Nutrition per 100 g, when known.
    pub nutrition: Option<Nutrition>,
    /// Lower-case tags.
    pub tags: Vec<String>,
    /// Life-cycle status.
    pub status: ProductStatus,
}

/// Limits of [`ProductInput`].
const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_IMAGES: usize = 10;
const MAX_TAGS: usize = 30;
const MAX_TAG: usize = 40;

impl ProductInput {
    /// Checks every rule and reports all broken ones, naming fields as `product.<field>`.
    pub fn validate(&self) -> Result<(), super::CatalogError> {
        let mut v = Violations::default();
        let name = self.display_name.trim();
        v.check(name.is_empty(), "product.display_name", "must not be empty");
        v.check(
            name.chars().count() > MAX_NAME,
            "product.display_name",
            "must be at most 200 characters",
        );
        v.check(
            !is_valid_slug(&self.slug),
            "product.slug",
            "must be lower-case letters, digits and single hyphens, at most 120 characters",
        );
        v.check(
            self.description.chars().count() > MAX_DESCRIPTION,
            "product.description",
            "must be at most 10000 characters",
        );
        v.check(
            self.vendor_id.is_empty(),
            "product.vendor_id",
            "must not be empty",
        );
        v.check(self.price.0 <= 0, "product.price", "must be more than zero");
        if let Some(compare_at) = self.compare_at_price {
            v.check(
                compare_at <= self.price,
                "product.compare_at_price",
                "must be more than the price",
            );
        }
        v.check(
            self.min_quantity < 0,
            "product.min_quantity",
            "must not be negative",
        );
        v.check(
            self.max_quantity < 0,
            "product.max_quantity",
            "must not be negative",
        );
        v.check(
            self.max_quantity > 0 && self.max_quantity < self.min_quantity,
            "product.max_quantity",
            "must be 0 (no limit) or at least min_quantity",
        );
        v.check(
            self.quantity_step < 0,
            "product.quantity_step",
            "must not be negative",
        );
        v.check(
            self.unit_weight_grams < 0,
            "product.unit_weight_grams",
            "must not be negative",
        );
        v.check(
            self.image_urls.len() > MAX_IMAGES,
            "product.image_urls",
            "must hold at most 10 links",
        );
        v.check(
            self.image_urls
                .iter()
                .any(|url| !url.starts_with("https://") || url.len() > 2048),
            "product.image_urls",
            "must be https links",
        );
        let country = &self.origin.country_code;
        let iso_code = country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase());
        v.check(
            !country.is_empty() && !iso_code,
            "product.origin.country_code",
            "must be an ISO 3166-1 alpha-2 code like IN",
        );
        v.check(
            self.origin.region.chars().count() > 100,
            "product.origin.region",
            "must be at most 100 characters",
        );
        let mut months = self.season_months.clone();
        months.sort_unstable();
        months.dedup();
        v.check(
            months.len() != self.season_months.len()
                || months.iter().any(|m| !(1..=12).contains(m)),
            "product.season_months",
            "must be distinct months 1..=12",
        );
        v.check(
            self.shelf_life_days < 0,
            "product.shelf_life_days",
            "must not be negative",
        );
        v.check(
            self.nutrition
                .is_some_and(|n| n.values().iter().any(|value| *value < 0)),
            "product.nutrition_per_100g",
            "must not hold negative values",
        );
        v.check(
            self.tags.len() > MAX_TAGS,
            "product.tags",
            "must hold at most 30 tags",
        );
        v.check(
            self.tags.iter().any(|tag| {
                tag.is_empty() || tag.len() > MAX_TAG || tag.chars().any(char::is_uppercase)
            }),
            "product.tags",
            "must be non-empty lower-case words of at most 40 characters",
        );
        v.into_result(())
    }
}

/// A product as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// UUIDv7.
    pub id: Uuid,
    /// What the vendor set.
    pub input: ProductInput,
    /// Review aggregate.
    pub rating: RatingSummary,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
    /// 1 on create, +1 per change.
    pub version: i64,
}

impl Product {
    /// Whether the product is in season in the month of `now` (UTC).
    pub fn in_season(&self, now: DateTime<Utc>) -> bool {
        let month = now.month() as u8;
        self.input.season_months.is_empty() || self.input.season_months.contains(&month)
    }

    /// Whether anyone may see it: drafts are for their vendor and admins only.
    pub fn is_public(&self) -> bool {
        self.input.status != ProductStatus::Draft
    }
}

/// Fields an update names, by their contract path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductChanges {
    paths: Vec<String>,
}

/// Paths of [`ProductInput`] fields, as the contract names them.
const SETTABLE: &[&str] = &[
    "display_name",
    "slug",
    "description",
    "category_id",
    "vendor_id",
    "unit_of_sale",
    "price",
    "compare_at_price",
    "min_quantity",
    "max_quantity",
    "quantity_step",
    "unit_weight_grams",
    "image_urls",
    "origin",
    "organic",
    "season_months",
    "shelf_life_days",
    "storage_condition",
    "nutrition_per_100g",
    "tags",
    "status",
];

impl ProductChanges {
    /// Parses an update mask; unknown, output-only or empty masks are refused.
    pub fn parse(paths: &[String]) -> Result<Self, super::CatalogError> {
        if paths.is_empty() {
            return Err(super::CatalogError::invalid(
                "update_mask",
                "must name at least one field",
            ));
        }
        let mut v = Violations::default();
        for path in paths {
            if !SETTABLE.contains(&path.as_str()) {
                v.add(
                    "update_mask",
                    format!("{path:?} is not a field that can be updated"),
                );
            }
        }
        v.into_result(Self {
            paths: paths.to_vec(),
        })
    }

    /// The named paths, in request order.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// Whether the update names `path`.
    pub fn names(&self, path: &str) -> bool {
        self.paths.iter().any(|p| p == path)
    }

    /// `current` with the named fields taken from `new`.
    pub fn apply(&self, current: &ProductInput, new: ProductInput) -> ProductInput {
        let mut merged = current.clone();
        macro_rules! take {
            ($($path:literal => $field:ident),* $(,)?) => {
                $(if self.names($path) { merged.$field = new.$field.clone(); })*
            };
        }
        take!(
            "display_name" => display_name,
            "slug" => slug,
            "description" => description,
            "category_id" => category_id,
            "vendor_id" => vendor_id,
            "unit_of_sale" => unit_of_sale,
            "price" => price,
            "compare_at_price" => compare_at_price,
            "min_quantity" => min_quantity,
            "max_quantity" => max_quantity,
            "quantity_step" => quantity_step,
            "unit_weight_grams" => unit_weight_grams,
            "image_urls" => image_urls,
            "origin" => origin,
            "organic" => organic,
            "season_months" => season_months,
            "shelf_life_days" => shelf_life_days,
            "storage_condition" => storage_condition,
            "nutrition_per_100g" => nutrition,
            "tags" => tags,
            "status" => status,
        );
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn mango() -> ProductInput {
        ProductInput {
            display_name: "Alphonso Mango".into(),
            slug: "alphonso-mango".into(),
            description: "GI-tagged mangoes from Ratnagiri.".into(),
            category_id: Uuid::now_v7(),
            vendor_id: "vendor-1".into(),
            unit_of_sale: UnitOfSale::Dozen,
            price: Minor(120_000),
            compare_at_price: Some(Minor(140_000)),
            min_quantity: 0,
            max_quantity: 0,
            quantity_step: 0,
            unit_weight_grams: 250,
            image_urls: vec!["https://images.example.com/mango.jpg".into()],
            origin: Origin {
                country_code: "IN".into(),
                region: "Ratnagiri".into(),
                local: true,
            },
            organic: false,
            season_months: vec![4, 5, 6],
            shelf_life_days: 7,
            storage_condition: StorageCondition::RoomTemperature,
            nutrition: None,
            tags: vec!["seasonal".into()],
            status: ProductStatus::Active,
        }
    }

    #[test]
    fn a_sound_product_is_valid() {
        mango().validate().unwrap();
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_field() {
        let mut bad = mango();
        bad.display_name = " ".into();
        bad.price = Minor(-5);
        bad.season_months = vec![4, 4, 13];
        bad.tags = vec!["Seasonal".into()];
        bad.image_urls = vec!["http://insecure.example.com/a.jpg".into()];
        let Err(super::super::CatalogError::Invalid(violations)) = bad.validate() else {
            panic!("expected violations");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "product.display_name",
                "product.price",
                "product.image_urls",
                "product.season_months",
                "product.tags"
            ]
        );
    }

    #[test]
    fn a_mask_takes_only_the_named_fields() {
        let changes = ProductChanges::parse(&["price".into(), "tags".into()]).unwrap();
        let mut new = mango();
        new.price = Minor(99_000);
        new.tags = vec!["sale".into()];
        new.display_name = "Ignored".into();
        let merged = changes.apply(&mango(), new);
        assert_eq!(merged.price, Minor(99_000));
        assert_eq!(merged.tags, ["sale"]);
        assert_eq!(merged.display_name, "Alphonso Mango");
    }

    #[test]
    fn masks_refuse_output_only_and_empty_paths() {
        assert!(ProductChanges::parse(&[]).is_err());
        assert!(ProductChanges::parse(&["version".into()]).is_err());
        assert!(ProductChanges::parse(&["rating".into()]).is_err());
    }

    #[test]
    fn a_product_never_goes_back_to_draft() {
        assert!(ProductStatus::Draft.may_become(ProductStatus::Active));
        assert!(ProductStatus::Archived.may_become(ProductStatus::Active));
        assert!(!ProductStatus::Active.may_become(ProductStatus::Draft));
    }
}
