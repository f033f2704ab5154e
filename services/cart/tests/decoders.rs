//! Property tests of the cart's edge rules: cart ids from arbitrary strings, line
//! quantities against any product the catalog could describe, and money arithmetic on any
//! amounts never panic, and what they refuse names the field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_cart::domain::{CartError, CartId, LineCaps, Product, Unit, line_total, tax_on};
use proptest::prelude::*;

fn unit() -> impl Strategy<Value = Unit> {
    prop_oneof![
        Just(Unit::Kilogram),
        Just(Unit::HundredGrams),
        Just(Unit::Piece),
        Just(Unit::Bunch),
        Just(Unit::Dozen),
    ]
}

fn edgy() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0),
        -1_000i64..100_000
    ]
}

fn product(unit: Unit, min: i64, max: i64, step: i64, price: i64) -> Product {
    Product {
        id: uuid::Uuid::now_v7(),
        display_name: "Okra".into(),
        image_url: String::new(),
        vendor_id: "vendor-1".into(),
        category_id: "cat".into(),
        category_path: vec!["vegetables".into()],
        unit,
        price_minor: price,
        currency: "INR".into(),
        min_quantity: min,
        max_quantity: max,
        quantity_step: step,
        on_sale: true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn cart_ids_parse_or_name_their_field(raw in ".{0,80}") {
        if let Err(error) = CartId::parse("cart_id", &raw) {
            prop_assert!(matches!(&error, CartError::Invalid(v) if v.field == "cart_id"), "{error}");
        }
    }

    #[test]
    fn quantities_are_checked_against_any_product_without_panicking(
        unit in unit(),
        min in edgy(),
        max in edgy(),
        step in edgy(),
        stock in edgy(),
        quantity in edgy(),
    ) {
        let product = product(unit, min, max, step, 100);
        if let Err(error) = product.check_quantity(quantity, LineCaps::default()) {
            prop_assert!(matches!(&error, CartError::Invalid(v) if v.field == "quantity"), "{error}");
        }
        // What stock allows is a multiple of the step, never above the stock nor negative.
        let allowed = product.round_down(stock);
        prop_assert!((0..=stock.max(0)).contains(&allowed));
        prop_assert_eq!(allowed % product.step(), 0);
    }

    #[test]
    fn money_arithmetic_saturates_instead_of_panicking(
        unit in unit(),
        price in edgy(),
        quantity in edgy(),
        rate in any::<i32>(),
    ) {
        let total = line_total(unit, price, quantity);
        let _ = tax_on(total, rate);
    }
}
