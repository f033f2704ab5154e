//! Property tests of the edge: whatever a caller sends, the request decoders never panic,
//! and what they refuse they refuse field by field, naming fields the contract has.

use mandi_sdk::proto::mandi::catalog::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

use super::convert::{Currency, new_category, parse_id, product_input, status_from_proto};
use crate::domain::CatalogError;

fn named<T>(request: &str, result: Result<T, CatalogError>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => Ok(()),
        Err(CatalogError::Invalid(violations)) => {
            prop_assert!(!violations.is_empty());
            for v in &violations {
                prop_assert!(!v.description.is_empty());
                let path = fuzz::check_field_path(request, &v.field);
                prop_assert!(path.is_ok(), "{path:?}");
            }
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("not a violation: {other:?}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn new_products_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::CreateProductRequest =
            fuzz::request("mandi.catalog.v1.CreateProductRequest", seed);
        let product = request.product.unwrap_or_default();
        named(
            "mandi.catalog.v1.CreateProductRequest",
            product_input(&product, &Currency("INR".into()), |_| true),
        )?;
    }

    #[test]
    fn product_updates_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::UpdateProductRequest =
            fuzz::request("mandi.catalog.v1.UpdateProductRequest", seed);
        let product = request.product.unwrap_or_default();
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        named(
            "mandi.catalog.v1.UpdateProductRequest",
            product_input(&product, &Currency("INR".into()), |p| paths.iter().any(|q| q == p)),
        )?;
    }

    #[test]
    fn new_categories_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::CreateCategoryRequest =
            fuzz::request("mandi.catalog.v1.CreateCategoryRequest", seed);
        named(
            "mandi.catalog.v1.CreateCategoryRequest",
            new_category(&request.category.unwrap_or_default()),
        )?;
    }

    #[test]
    fn ids_and_statuses_parse_or_are_refused(id in ".{0,64}", status in any::<i32>()) {
        named("mandi.catalog.v1.GetProductRequest", parse_id("product_id", &id))?;
        // Unknown numbers are refused, never mapped to a status by accident.
        if status_from_proto(status).is_ok() {
            prop_assert!(pb::ProductStatus::try_from(status).is_ok());
        }
    }
}
