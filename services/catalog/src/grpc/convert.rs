//! proto ⇄ domain conversion for the catalog, done once at the edge.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::catalog::v1 as pb;
use mandi_sdk::proto::mandi::common::v1 as common;
use uuid::Uuid;

use crate::domain::{
    CatalogError, Category, Minor, NewCategory, Nutrition, Origin, Product, ProductInput,
    ProductStatus, Review, StorageCondition, UnitOfSale, Violations,
};

/// The marketplace currency every price must use.
#[derive(Debug, Clone)]
pub struct Currency(pub String);

pub(crate) fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// Parses an id field.
pub(crate) fn parse_id(field: &str, value: &str) -> Result<Uuid, CatalogError> {
    Uuid::parse_str(value).map_err(|_| CatalogError::invalid(field, "must be a UUID"))
}

impl Currency {
    fn money(&self, amount: Minor) -> common::Money {
        common::Money {
            currency_code: self.0.clone(),
            amount_minor: amount.0,
        }
    }

    /// The amount of `money` when it is in the marketplace currency.
    pub(crate) fn minor(&self, field: &str, money: &common::Money, v: &mut Violations) -> Minor {
        if money.currency_code != self.0 {
            v.add(field, format!("must be in {}", self.0));
        }
        Minor(money.amount_minor)
    }
}

fn unit_from_proto(value: i32) -> Option<UnitOfSale> {
    match common::UnitOfSale::try_from(value).ok()? {
        common::UnitOfSale::Kilogram => Some(UnitOfSale::Kilogram),
        common::UnitOfSale::HundredGrams => Some(UnitOfSale::HundredGrams),
        common::UnitOfSale::Piece => Some(UnitOfSale::Piece),
        common::UnitOfSale::Bunch => Some(UnitOfSale::Bunch),
        common::UnitOfSale::Dozen => Some(UnitOfSale::Dozen),
        common::UnitOfSale::Unspecified => None,
    }
}

fn unit_to_proto(unit: UnitOfSale) -> common::UnitOfSale {
    match unit {
        UnitOfSale::Kilogram => common::UnitOfSale::Kilogram,
        UnitOfSale::HundredGrams => common::UnitOfSale::HundredGrams,
        UnitOfSale::Piece => common::UnitOfSale::Piece,
        UnitOfSale::Bunch => common::UnitOfSale::Bunch,
        UnitOfSale::Dozen => common::UnitOfSale::Dozen,
    }
}

/// A status from the contract; `None` for UNSPECIFIED.
pub(crate) fn status_from_proto(value: i32) -> Result<Option<ProductStatus>, ()> {
    match pb::ProductStatus::try_from(value).map_err(|_| ())? {
        pb::ProductStatus::Unspecified => Ok(None),
        pb::ProductStatus::Draft => Ok(Some(ProductStatus::Draft)),
        pb::ProductStatus::Active => Ok(Some(ProductStatus::Active)),
        pb::ProductStatus::Archived => Ok(Some(ProductStatus::Archived)),
    }
}

fn status_to_proto(status: ProductStatus) -> pb::ProductStatus {
    match status {
        ProductStatus::Draft => pb::ProductStatus::Draft,
        ProductStatus::Active => pb::ProductStatus::Active,
        ProductStatus::Archived => pb::ProductStatus::Archived,
    }
}

fn storage_from_proto(value: i32) -> Option<StorageCondition> {
    match pb::StorageCondition::try_from(value).ok()? {
        pb::StorageCondition::Unspecified | pb::StorageCondition::RoomTemperature => {
            Some(StorageCondition::RoomTemperature)
        }
        pb::StorageCondition::Chilled => Some(StorageCondition::Chilled),
        pb::StorageCondition::Frozen => Some(StorageCondition::Frozen),
    }
}

fn storage_to_proto(storage: StorageCondition) -> pb::StorageCondition {
    match storage {
        StorageCondition::RoomTemperature => pb::StorageCondition::RoomTemperature,
        StorageCondition::Chilled => pb::StorageCondition::Chilled,
        StorageCondition::Frozen => pb::StorageCondition::Frozen,
    }
}

/// Converts the settable fields of a proto product. `relevant(path)` says which fields the
/// request actually sets (all on create, the mask on update): only those are checked,
/// the others get placeholders that the caller discards.
pub(crate) fn product_input(
    product: &pb::Product,
    currency: &Currency,
    relevant: impl Fn(&str) -> bool,
) -> Result<ProductInput, CatalogError> {
    let mut v = Violations::default();
    let category_id = if relevant("category_id") {
        match Uuid::parse_str(&product.category_id) {
            Ok(id) => id,
            Err(_) => {
                v.add(
                    "product.category_id",
                    "must name an existing category (a UUID)",
                );
                Uuid::nil()
            }
        }
    } else {
        Uuid::nil()
    };
    let unit_of_sale = unit_from_proto(product.unit_of_sale).unwrap_or_else(|| {
        if relevant("unit_of_sale") {
            v.add("product.unit_of_sale", "must be set to a unit of sale");
        }
        UnitOfSale::Piece
    });
    let price = match (&product.price, relevant("price")) {
        (Some(money), true) => currency.minor("product.price.currency_code", money, &mut v),
        (None, true) => {
            v.add("product.price", "is required");
            Minor(0)
        }
        (_, false) => Minor(1),
    };
    let compare_at_price = match (&product.compare_at_price, relevant("compare_at_price")) {
        (Some(money), true) => {
            Some(currency.minor("product.compare_at_price.currency_code", money, &mut v))
        }
        _ => None,
    };
    let status = match status_from_proto(product.status) {
        Ok(status) => status.unwrap_or(ProductStatus::Draft),
        Err(()) => {
            v.add("product.status", "is not a known status");
            ProductStatus::Draft
        }
    };
    let storage_condition = storage_from_proto(product.storage_condition).unwrap_or_else(|| {
        v.add(
            "product.storage_condition",
            "is not a known storage condition",
        );
        StorageCondition::RoomTemperature
    });
    let season_months = product
        .season_months
        .iter()
        .map(|m| u8::try_from(*m).unwrap_or(0))
        .collect();
    let origin = product.origin.clone().unwrap_or_default();
    let input = ProductInput {
        display_name: product.display_name.trim().to_owned(),
        slug: product.slug.clone(),
        description: product.description.clone(),
        category_id,
        vendor_id: product.vendor_id.clone(),
        unit_of_sale,
        price,
        compare_at_price,
        min_quantity: product.min_quantity,
        max_quantity: product.max_quantity,
        quantity_step: product.quantity_step,
        unit_weight_grams: product.unit_weight_grams,
        image_urls: product.image_urls.clone(),
        origin: Origin {
            country_code: origin.country_code,
            region: origin.region,
            local: origin.local,
        },
        organic: product.organic,
        season_months,
        shelf_life_days: product.shelf_life_days,
        storage_condition,
        nutrition: product.nutrition_per_100g.map(|n| Nutrition {
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
        tags: product.tags.clone(),
        status,
    };
    v.into_result(input)
}

/// The contract form of a product, as seen at `now`; takes the product so its strings
/// move instead of being copied (this runs on every read).
pub(crate) fn product_to_proto(
    product: Product,
    currency: &Currency,
    now: DateTime<Utc>,
) -> pb::Product {
    let in_season = product.in_season(now);
    let input = product.input;
    pb::Product {
        name: format!("products/{}", product.id),
        id: product.id.to_string(),
        display_name: input.display_name,
        slug: input.slug,
        description: input.description,
        category_id: input.category_id.to_string(),
        vendor_id: input.vendor_id,
        unit_of_sale: unit_to_proto(input.unit_of_sale) as i32,
        price: Some(currency.money(input.price)),
        compare_at_price: input.compare_at_price.map(|p| currency.money(p)),
        min_quantity: input.min_quantity,
        max_quantity: input.max_quantity,
        quantity_step: input.quantity_step,
        unit_weight_grams: input.unit_weight_grams,
        image_urls: input.image_urls,
        origin: Some(origin_to_proto(input.origin)),
        organic: input.organic,
        season_months: input.season_months.iter().map(|m| i32::from(*m)).collect(),
        in_season,
        shelf_life_days: input.shelf_life_days,
        storage_condition: storage_to_proto(input.storage_condition) as i32,
        nutrition_per_100g: input.nutrition.map(nutrition_to_proto),
        tags: input.tags,
        status: status_to_proto(input.status) as i32,
        rating: Some(pb::RatingSummary {
            count: product.rating.count,
            average_x100: product.rating.average_x100(),
        }),
        create_time: Some(timestamp(product.created_at)),
        update_time: Some(timestamp(product.updated_at)),
        version: product.version,
    }
}

/// The contract form of nutrition facts.
pub(crate) fn nutrition_to_proto(n: Nutrition) -> pb::Nutrition {
    pb::Nutrition {
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
    }
}

/// The contract form of an origin.
pub(crate) fn origin_to_proto(origin: Origin) -> pb::Origin {
    pb::Origin {
        country_code: origin.country_code,
        region: origin.region,
        local: origin.local,
    }
}

/// The settable fields of a proto category.
pub(crate) fn new_category(category: &pb::Category) -> Result<NewCategory, CatalogError> {
    let parent_id = match category.parent_id.as_str() {
        "" => None,
        id => Some(parse_id("category.parent_id", id)?),
    };
    Ok(NewCategory {
        display_name: category.display_name.trim().to_owned(),
        slug: category.slug.clone(),
        parent_id,
        description: category.description.clone(),
        image_url: category.image_url.clone(),
        sort_order: category.sort_order,
    })
}

/// The contract form of a category with its ancestry.
pub(crate) fn category_to_proto(category: &Category, ancestors: Vec<Uuid>) -> pb::Category {
    pb::Category {
        name: format!("categories/{}", category.id),
        id: category.id.to_string(),
        display_name: category.fields.display_name.clone(),
        slug: category.fields.slug.clone(),
        parent_id: category
            .fields
            .parent_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        ancestor_ids: ancestors.iter().map(Uuid::to_string).collect(),
        description: category.fields.description.clone(),
        image_url: category.fields.image_url.clone(),
        sort_order: category.fields.sort_order,
        create_time: Some(timestamp(category.created_at)),
        update_time: Some(timestamp(category.updated_at)),
    }
}

/// The contract form of a review.
pub(crate) fn review_to_proto(review: &Review) -> pb::Review {
    pb::Review {
        name: format!("products/{}/reviews/{}", review.product_id, review.id),
        id: review.id.to_string(),
        product_id: review.product_id.to_string(),
        author_id: review.author_id.clone(),
        author_display_name: String::new(),
        rating: review.rating,
        title: review.title.clone(),
        text: review.text.clone(),
        verified_purchase: false,
        create_time: Some(timestamp(review.created_at)),
    }
}
