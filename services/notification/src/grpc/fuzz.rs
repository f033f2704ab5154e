//! Property tests of the edge: whatever a caller sends, the request decoders never panic,
//! and what they refuse they refuse field by field, naming fields the contract has.

use mandi_sdk::proto::mandi::notification::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

use super::{filter, send_request};
use crate::domain::NotificationError;

fn named<T>(request: &str, result: Result<T, NotificationError>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => Ok(()),
        Err(NotificationError::Invalid(violations)) => {
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
    fn send_requests_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::SendNotificationRequest =
            fuzz::request("mandi.notification.v1.SendNotificationRequest", seed);
        named("mandi.notification.v1.SendNotificationRequest", send_request(request))?;
    }

    #[test]
    fn delivery_filters_parse_or_name_their_field(seed in any::<u64>()) {
        let request: pb::ListDeliveriesRequest =
            fuzz::request("mandi.notification.v1.ListDeliveriesRequest", seed);
        named("mandi.notification.v1.ListDeliveriesRequest", filter(&request))?;
    }
}
