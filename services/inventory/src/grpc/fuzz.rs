//! Property tests of the edge: whatever a caller sends, the request decoders never panic,
//! and what they refuse they refuse field by field, naming fields the contract has.

use mandi_sdk::proto::mandi::inventory::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

use super::Currency;
use super::convert::{
    adjustment_reason, batch_status_filter, from_timestamp, parse_optional_id, reservation_lines,
    unit_cost,
};
use super::proto_ttl;
use crate::domain::InventoryError;

fn named<T>(request: &str, result: Result<T, InventoryError>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => Ok(()),
        Err(InventoryError::Invalid(violations)) => {
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
    fn reservations_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::ReserveRequest = fuzz::request("mandi.inventory.v1.ReserveRequest", seed);
        let name = "mandi.inventory.v1.ReserveRequest";
        named(name, reservation_lines(&request.lines))?;
        named(name, proto_ttl(request.ttl))?;
    }

    #[test]
    fn received_stock_parses_or_names_each_bad_field(seed in any::<u64>()) {
        let request: pb::ReceiveStockRequest =
            fuzz::request("mandi.inventory.v1.ReceiveStockRequest", seed);
        let name = "mandi.inventory.v1.ReceiveStockRequest";
        named(name, unit_cost(request.unit_cost, &Currency("INR".into())))?;
        if let Some(at) = &request.expire_time {
            named(name, from_timestamp("expire_time", at))?;
        }
        if let Some(at) = &request.receive_time {
            named(name, from_timestamp("receive_time", at))?;
        }
    }

    #[test]
    fn filters_and_reasons_parse_or_name_their_field(seed in any::<u64>()) {
        let list: pb::ListBatchesRequest =
            fuzz::request("mandi.inventory.v1.ListBatchesRequest", seed);
        let name = "mandi.inventory.v1.ListBatchesRequest";
        named(name, parse_optional_id("product_id", &list.product_id))?;
        named(name, parse_optional_id("warehouse_id", &list.warehouse_id))?;
        named(name, batch_status_filter(list.status))?;
        let adjust: pb::AdjustStockRequest =
            fuzz::request("mandi.inventory.v1.AdjustStockRequest", seed);
        named("mandi.inventory.v1.AdjustStockRequest", adjustment_reason(adjust.reason))?;
    }
}
