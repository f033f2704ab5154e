//! Property tests of checkout's edge: StartCheckout requests generated from the contract
//! parse or are refused field by field, naming fields the contract has; state numbers map
//! only when they are states.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_checkout::grpc::convert::{new_checkout, state_from_proto};
use mandi_sdk::proto::mandi::checkout::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn start_checkout_requests_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::StartCheckoutRequest =
            fuzz::request("mandi.checkout.v1.StartCheckoutRequest", seed);
        if let Err(violations) = new_checkout(request) {
            prop_assert!(!violations.is_empty());
            for (field, why) in &violations {
                prop_assert!(!why.is_empty());
                let path = fuzz::check_field_path("mandi.checkout.v1.StartCheckoutRequest", field);
                prop_assert!(path.is_ok(), "{path:?}");
            }
        }
    }

    #[test]
    fn only_known_numbers_are_states(value in any::<i32>()) {
        if state_from_proto(value).is_some() {
            prop_assert!(pb::CheckoutState::try_from(value).is_ok());
        }
    }
}
