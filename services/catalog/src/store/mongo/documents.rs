//! The documents the MongoDB adapter stores, kept apart from the domain types so the
//! stored shape changes only on purpose.
//!
//! Shape choices, each for a reason:
//! - `_id` is left to the driver, which prepends a fresh ObjectId on insert; the domain's
//!   UUIDv7 lives in `id` as its hyphenated lower-case string, under its own unique index.
//!   Strings of fixed-width lower-case hex sort like the UUID bytes, so the keyset cursor
//!   compares ids in the same order as the in-memory twin.
//! - Times are BSON DateTimes: milliseconds, so sub-millisecond parts are dropped on write.
//! - Integers that may pass 32 bits are written as Int64 and read through [`Int64`], which
//!   also takes Int32 and integral Doubles: servers that narrow numbers on the way back
//!   (CongoDB returns Int32 when a value fits and a Double otherwise) read back the same.
//! - Enums are stored as snake_case words chosen here, not as Rust variant names.
//! - `request_id` is left out when absent, so its unique index can be sparse.

use chrono::{DateTime, Utc};
use mongodb::bson;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::domain::{
    Category, Minor, NewCategory, Nutrition, Origin, Product, ProductInput, ProductStatus,
    RatingSummary, Review, StorageCondition, UnitOfSale,
};
use crate::store::StoreError;

/// An i64 written as BSON Int64 and read back from Int32, Int64 or an integral Double.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Int64(pub(super) i64);

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Lenient;

        impl serde::de::Visitor<'_> for Lenient {
            type Value = Int64;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a 64-bit integer (Int32, Int64 or an integral Double)")
            }

            fn visit_i32<E: serde::de::Error>(self, v: i32) -> Result<Int64, E> {
                Ok(Int64(i64::from(v)))
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Int64, E> {
                Ok(Int64(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Int64, E> {
                i64::try_from(v)
                    .map(Int64)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Int64, E> {
                // 2^63 as f64; every integral double in [-2^63, 2^63) converts exactly.
                const LIMIT: f64 = 9_223_372_036_854_775_808.0;
                if v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(Int64(v as i64))
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
                }
            }
        }

        deserializer.deserialize_any(Lenient)
    }
}

/// A domain time as stored: whole milliseconds.
pub(super) fn to_bson_time(at: DateTime<Utc>) -> bson::DateTime {
    bson::DateTime::from_millis(at.timestamp_millis())
}

fn from_bson_time(at: bson::DateTime, field: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(at.timestamp_millis())
        .ok_or_else(|| StoreError::Corrupt(format!("{field} {at} is out of range")))
}

fn parse_uuid(text: &str, field: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("{field} {text:?}: {e}")))
}

/// The stored word of each enum value; [`parse_word`] reads them back.
macro_rules! words {
    ($($ty:ident { $($variant:ident => $word:literal),* $(,)? })*) => {
        $(impl Word for $ty {
            fn word(self) -> &'static str {
                match self { $($ty::$variant => $word),* }
            }
            fn parse(word: &str) -> Option<Self> {
                match word { $($word => Some($ty::$variant),)* _ => None }
            }
        })*
    };
}

pub(super) trait Word: Sized + Copy {
    fn word(self) -> &'static str;
    fn parse(word: &str) -> Option<Self>;
}

words! {
    UnitOfSale {
        Kilogram => "kilogram",
        HundredGrams => "hundred_grams",
        Piece => "piece",
        Bunch => "bunch",
        Dozen => "dozen",
    }
    ProductStatus {
        Draft => "draft",
        Active => "active",
        Archived => "archived",
    }
    StorageCondition {
        RoomTemperature => "room_temperature",
        Chilled => "chilled",
        Frozen => "frozen",
    }
}

fn parse_word<T: Word>(word: &str, field: &str) -> Result<T, StoreError> {
    T::parse(word).ok_or_else(|| StoreError::Corrupt(format!("{field} {word:?} is not known")))
}

// === products ===

/// A product as stored in `products`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ProductDoc {
    pub(super) id: String,
    pub(super) display_name: String,
    pub(super) slug: String,
    pub(super) description: String,
    pub(super) category_id: String,
    pub(super) vendor_id: String,
    pub(super) unit_of_sale: String,
    pub(super) price: Int64,
    /// Written as null when absent, so a `$set` of the whole document clears it.
    pub(super) compare_at_price: Option<Int64>,
    pub(super) min_quantity: Int64,
    pub(super) max_quantity: Int64,
    pub(super) quantity_step: Int64,
    pub(super) unit_weight_grams: Int64,
    pub(super) image_urls: Vec<String>,
    pub(super) origin: OriginDoc,
    pub(super) organic: bool,
    pub(super) season_months: Vec<i32>,
    pub(super) shelf_life_days: i32,
    pub(super) storage_condition: String,
    /// Written as null when absent, like `compare_at_price`.
    pub(super) nutrition: Option<NutritionDoc>,
    pub(super) tags: Vec<String>,
    pub(super) status: String,
    pub(super) rating: RatingDoc,
    pub(super) created_at: bson::DateTime,
    pub(super) updated_at: bson::DateTime,
    pub(super) version: Int64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) request_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct OriginDoc {
    country_code: String,
    region: String,
    local: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct NutritionDoc {
    energy_kcal: i32,
    protein_mg: i32,
    carbohydrate_mg: i32,
    sugar_mg: i32,
    fiber_mg: i32,
    fat_mg: i32,
    sodium_mg: i32,
    potassium_mg: i32,
    vitamin_c_ug: i32,
    vitamin_a_ug: i32,
}

/// `rating.count` and `rating.sum`, moved only by `$inc` after a review is stored.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RatingDoc {
    pub(super) count: Int64,
    pub(super) sum: Int64,
}

impl RatingDoc {
    pub(super) fn summary(&self) -> RatingSummary {
        RatingSummary {
            count: self.count.0,
            sum: self.sum.0,
        }
    }
}

impl ProductDoc {
    pub(super) fn new(product: &Product, request_id: Option<&str>) -> Self {
        let input = &product.input;
        Self {
            id: product.id.to_string(),
            display_name: input.display_name.clone(),
            slug: input.slug.clone(),
            description: input.description.clone(),
            category_id: input.category_id.to_string(),
            vendor_id: input.vendor_id.clone(),
            unit_of_sale: input.unit_of_sale.word().to_owned(),
            price: Int64(input.price.0),
            compare_at_price: input.compare_at_price.map(|m| Int64(m.0)),
            min_quantity: Int64(input.min_quantity),
            max_quantity: Int64(input.max_quantity),
            quantity_step: Int64(input.quantity_step),
            unit_weight_grams: Int64(input.unit_weight_grams),
            image_urls: input.image_urls.clone(),
            origin: OriginDoc {
                country_code: input.origin.country_code.clone(),
                region: input.origin.region.clone(),
                local: input.origin.local,
            },
            organic: input.organic,
            season_months: input.season_months.iter().map(|m| i32::from(*m)).collect(),
            shelf_life_days: input.shelf_life_days,
            storage_condition: input.storage_condition.word().to_owned(),
            nutrition: input.nutrition.map(|n| NutritionDoc {
                energy_kcal: n.energy_kcal,
                protein_mg: n.protein_mg,
                carbohydrate_mg: n.carbohydrate_mg,
                sugar_mg: n.sugar_mg,
                fiber_mg: n.fiber_mg,
                fat_mg: n.fat_mg,
                sodium_mg: n.sodium_mg,
                potassium_mg: n.potassium_mg,
                vitamin_c_ug: n.vitamin_c_ug,
                vitamin_a_ug: n.vitamin_a_ug,
            }),
            tags: input.tags.clone(),
            status: input.status.word().to_owned(),
            rating: RatingDoc {
                count: Int64(product.rating.count),
                sum: Int64(product.rating.sum),
            },
            created_at: to_bson_time(product.created_at),
            updated_at: to_bson_time(product.updated_at),
            version: Int64(product.version),
            request_id: request_id.map(str::to_owned),
        }
    }

    pub(super) fn into_product(self) -> Result<Product, StoreError> {
        let months = self
            .season_months
            .iter()
            .map(|m| u8::try_from(*m))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| StoreError::Corrupt(format!("season_months {:?}", self.season_months)))?;
        Ok(Product {
            id: parse_uuid(&self.id, "product id")?,
            input: ProductInput {
                display_name: self.display_name,
                slug: self.slug,
                description: self.description,
                category_id: parse_uuid(&self.category_id, "category_id")?,
                vendor_id: self.vendor_id,
                unit_of_sale: parse_word(&self.unit_of_sale, "unit_of_sale")?,
                price: Minor(self.price.0),
                compare_at_price: self.compare_at_price.map(|m| Minor(m.0)),
                min_quantity: self.min_quantity.0,
                max_quantity: self.max_quantity.0,
                quantity_step: self.quantity_step.0,
                unit_weight_grams: self.unit_weight_grams.0,
                image_urls: self.image_urls,
                origin: Origin {
                    country_code: self.origin.country_code,
                    region: self.origin.region,
                    local: self.origin.local,
                },
                organic: self.organic,
                season_months: months,
                shelf_life_days: self.shelf_life_days,
                storage_condition: parse_word(&self.storage_condition, "storage_condition")?,
                nutrition: self.nutrition.map(|n| Nutrition {
                    energy_kcal: n.energy_kcal,
                    protein_mg: n.protein_mg,
                    carbohydrate_mg: n.carbohydrate_mg,
                    sugar_mg: n.sugar_mg,
                    fiber_mg: n.fiber_mg,
                    fat_mg: n.fat_mg,
                    sodium_mg: n.sodium_mg,
                    potassium_mg: n.potassium_mg,
                    vitamin_c_ug: n.vitamin_c_ug,
                    vitamin_a_ug: n.vitamin_a_ug,
                }),
                tags: self.tags,
                status: parse_word(&self.status, "status")?,
            },
            rating: self.rating.summary(),
            created_at: from_bson_time(self.created_at, "created_at")?,
            updated_at: from_bson_time(self.updated_at, "updated_at")?,
            version: self.version.0,
        })
    }
}

// === categories ===

/// A category as stored in `categories`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CategoryDoc {
    pub(super) id: String,
    pub(super) display_name: String,
    pub(super) slug: String,
    pub(super) parent_id: Option<String>,
    pub(super) description: String,
    pub(super) image_url: String,
    pub(super) sort_order: i32,
    pub(super) created_at: bson::DateTime,
    pub(super) updated_at: bson::DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) request_id: Option<String>,
}

impl CategoryDoc {
    pub(super) fn new(category: &Category, request_id: Option<&str>) -> Self {
        let fields = &category.fields;
        Self {
            id: category.id.to_string(),
            display_name: fields.display_name.clone(),
            slug: fields.slug.clone(),
            parent_id: fields.parent_id.map(|p| p.to_string()),
            description: fields.description.clone(),
            image_url: fields.image_url.clone(),
            sort_order: fields.sort_order,
            created_at: to_bson_time(category.created_at),
            updated_at: to_bson_time(category.updated_at),
            request_id: request_id.map(str::to_owned),
        }
    }

    pub(super) fn into_category(self) -> Result<Category, StoreError> {
        Ok(Category {
            id: parse_uuid(&self.id, "category id")?,
            fields: NewCategory {
                display_name: self.display_name,
                slug: self.slug,
                parent_id: self
                    .parent_id
                    .map(|p| parse_uuid(&p, "parent_id"))
                    .transpose()?,
                description: self.description,
                image_url: self.image_url,
                sort_order: self.sort_order,
            },
            created_at: from_bson_time(self.created_at, "created_at")?,
            updated_at: from_bson_time(self.updated_at, "updated_at")?,
        })
    }
}

// === reviews ===

/// A review as stored in `reviews`.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReviewDoc {
    pub(super) id: String,
    pub(super) product_id: String,
    pub(super) author_id: String,
    pub(super) rating: i32,
    pub(super) title: String,
    pub(super) text: String,
    pub(super) created_at: bson::DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) request_id: Option<String>,
}

impl ReviewDoc {
    pub(super) fn new(review: &Review, request_id: Option<&str>) -> Self {
        Self {
            id: review.id.to_string(),
            product_id: review.product_id.to_string(),
            author_id: review.author_id.clone(),
            rating: review.rating,
            title: review.title.clone(),
            text: review.text.clone(),
            created_at: to_bson_time(review.created_at),
            request_id: request_id.map(str::to_owned),
        }
    }

    pub(super) fn into_review(self) -> Result<Review, StoreError> {
        Ok(Review {
            id: parse_uuid(&self.id, "review id")?,
            product_id: parse_uuid(&self.product_id, "product_id")?,
            author_id: self.author_id,
            rating: self.rating,
            title: self.title,
            text: self.text,
            created_at: from_bson_time(self.created_at, "created_at")?,
        })
    }
}

/// A document of `T` as a plain BSON document, for `$set`.
pub(super) fn to_document<T: Serialize>(value: &T) -> Result<bson::Document, StoreError> {
    bson::to_document(value).map_err(|e| StoreError::Failed(format!("cannot encode document: {e}")))
}
