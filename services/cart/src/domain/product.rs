//! What the cart needs to know of a catalog product, and the quantity rules of a line.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::CartError;

/// How a product is priced and counted (`mandi.common.v1.UnitOfSale`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Per kilogram; quantities are grams.
    Kilogram,
    /// Per 100 grams; quantities are grams.
    HundredGrams,
    /// Per piece.
    Piece,
    /// Per bunch.
    Bunch,
    /// Per dozen; quantities count dozens.
    Dozen,
}

impl Unit {
    /// What one unit of quantity is worth in units of sale: a line costs
    /// `price * quantity / divisor`.
    pub fn divisor(self) -> i64 {
        match self {
            Unit::Kilogram => 1000,
            Unit::HundredGrams => 100,
            Unit::Piece | Unit::Bunch | Unit::Dozen => 1,
        }
    }

    /// Whether quantities count grams.
    pub fn is_weight(self) -> bool {
        matches!(self, Unit::Kilogram | Unit::HundredGrams)
    }
}

/// A product as the catalog describes it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Catalog id.
    pub id: Uuid,
    /// Name shown to shoppers.
    pub display_name: String,
    /// Main image link; may be empty.
    pub image_url: String,
    /// The selling vendor's user id.
    pub vendor_id: String,
    /// The product's category id.
    pub category_id: String,
    /// Slugs of the category and its ancestors, nearest first (what tax rates key on).
    pub category_path: Vec<String>,
    /// Unit of sale.
    pub unit: Unit,
    /// Price of one unit of sale, in minor units of `currency`.
    pub price_minor: i64,
    /// ISO 4217 code of the price.
    pub currency: String,
    /// Smallest line quantity; 0 means one step.
    pub min_quantity: i64,
    /// Largest line quantity; 0 means no limit of the product's own.
    pub max_quantity: i64,
    /// Quantities are multiples of this; 0 means 1 unit, or 50 g when sold by weight.
    pub quantity_step: i64,
    /// Whether the product is ACTIVE (purchasable).
    pub on_sale: bool,
}

/// The service's own largest line quantities, whatever the product allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCaps {
    /// For products sold by weight, in grams.
    pub max_grams: i64,
    /// For products sold by count, in units of sale.
    pub max_units: i64,
}

impl Default for LineCaps {
    fn default() -> Self {
        Self {
            max_grams: 25_000,
            max_units: 50,
        }
    }
}

impl Product {
    /// The step quantities must be multiples of.
    pub fn step(&self) -> i64 {
        match self.quantity_step {
            step if step > 0 => step,
            _ if self.unit.is_weight() => 50,
            _ => 1,
        }
    }

    /// The smallest quantity a line may hold.
    pub fn min(&self) -> i64 {
        self.min_quantity.max(self.step())
    }

    /// The largest quantity a line may hold: the product's own limit and the service's cap.
    pub fn max(&self, caps: LineCaps) -> i64 {
        let cap = if self.unit.is_weight() {
            caps.max_grams
        } else {
            caps.max_units
        };
        match self.max_quantity {
            max if max > 0 => max.min(cap),
            _ => cap,
        }
    }

    /// The largest multiple of the step at or below `quantity`; 0 when `quantity` is
    /// negative (nothing is left), so no count can overflow it.
    pub fn round_down(&self, quantity: i64) -> i64 {
        let quantity = quantity.max(0);
        quantity - quantity % self.step()
    }

    /// Checks that a line may hold `quantity` of this product.
    pub fn check_quantity(&self, quantity: i64, caps: LineCaps) -> Result<(), CartError> {
        let unit = if self.unit.is_weight() { " g" } else { "" };
        if quantity <= 0 {
            return Err(CartError::invalid("quantity", "must be greater than 0"));
        }
        if quantity % self.step() != 0 {
            return Err(CartError::invalid(
                "quantity",
                format!(
                    "{} is sold in steps of {}{unit}; {quantity}{unit} is not a multiple",
                    self.display_name,
                    self.step()
                ),
            ));
        }
        if quantity < self.min() {
            return Err(CartError::invalid(
                "quantity",
                format!(
                    "{} needs at least {}{unit} per order",
                    self.display_name,
                    self.min()
                ),
            ));
        }
        let max = self.max(caps);
        if quantity > max {
            return Err(CartError::invalid(
                "quantity",
                format!(
                    "at most {max}{unit} of {} fits in one cart line; {quantity}{unit} asked",
                    self.display_name
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A mango sold per kilogram in 250 g steps at ₹180.00/kg, at most 5 kg a line.
    pub(crate) fn mango() -> Product {
        Product {
            id: Uuid::now_v7(),
            display_name: "Alphonso Mango".into(),
            image_url: String::new(),
            vendor_id: "vendor-1".into(),
            category_id: "cat-mangoes".into(),
            category_path: vec!["mangoes".into(), "tropical".into(), "fruits".into()],
            unit: Unit::Kilogram,
            price_minor: 18_000,
            currency: "INR".into(),
            min_quantity: 0,
            max_quantity: 5_000,
            quantity_step: 250,
            on_sale: true,
        }
    }

    #[test]
    fn quantities_follow_the_products_step_min_and_max() {
        let mango = mango();
        let caps = LineCaps::default();
        assert!(mango.check_quantity(750, caps).is_ok());
        for bad in [0, -250, 300, 5_250] {
            let err = mango.check_quantity(bad, caps).unwrap_err();
            assert!(
                matches!(&err, CartError::Invalid(v) if v.field == "quantity"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_service_cap_bounds_products_without_a_limit() {
        let mut eggs = mango();
        eggs.unit = Unit::Dozen;
        eggs.quantity_step = 0;
        eggs.max_quantity = 0;
        let caps = LineCaps {
            max_grams: 25_000,
            max_units: 10,
        };
        assert_eq!(eggs.step(), 1);
        assert!(eggs.check_quantity(10, caps).is_ok());
        assert!(eggs.check_quantity(11, caps).is_err());
    }

    #[test]
    fn weight_products_without_a_step_go_in_fifty_grams() {
        let mut okra = mango();
        okra.quantity_step = 0;
        assert_eq!(okra.step(), 50);
        assert_eq!(okra.round_down(1_234), 1_200);
    }
}
