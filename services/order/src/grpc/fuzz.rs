//! Property tests of the edge: whatever bytes a caller sends, the request decoders never
//! panic, and what they refuse they refuse field by field, naming fields the contract has.

use mandi_sdk::proto::mandi::order::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

use super::convert::{from_timestamp, new_order, parse_id, status_from_proto};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn create_order_requests_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::CreateOrderRequest =
            fuzz::request("mandi.order.v1.CreateOrderRequest", seed);
        if let Err(violations) = new_order(&request) {
            prop_assert!(!violations.is_empty(), "a refusal names at least one field");
            for v in &violations {
                prop_assert!(!v.description.is_empty());
                let named = fuzz::check_field_path("mandi.order.v1.CreateOrderRequest", &v.field);
                prop_assert!(named.is_ok(), "{named:?}");
            }
        }
    }

    #[test]
    fn ids_statuses_and_timestamps_parse_or_are_refused_by_name(
        id in ".{0,64}",
        status in any::<i32>(),
        seconds in any::<i64>(),
        nanos in any::<i32>(),
    ) {
        if let Err(v) = parse_id(&id, "order_id") {
            prop_assert_eq!(v.field, "order_id");
        }
        match status_from_proto(status, "statuses[0]") {
            Ok(_) => prop_assert!(pb::OrderStatus::try_from(status).is_ok()),
            Err(v) => prop_assert_eq!(v.field, "statuses[0]"),
        }
        let at = prost_types::Timestamp { seconds, nanos };
        if let Err(v) = from_timestamp(&at, "create_time_start") {
            prop_assert_eq!(v.field, "create_time_start");
        }
    }
}
