//! Property tests of the edge: whatever a caller sends, the request decoders never panic,
//! and what they refuse they refuse field by field, naming fields the contract has.

use mandi_sdk::proto::mandi::payment::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

use super::convert::{
    account_filter, authorize_request, from_timestamp, optional_amount, parse_optional_id,
    status_filter,
};
use crate::domain::PaymentError;

/// A refusal must be INVALID_ARGUMENT's kind: violations naming fields of `request`.
fn named<T>(request: &str, result: Result<T, PaymentError>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => Ok(()),
        Err(PaymentError::Invalid(violations)) => {
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
    fn authorize_requests_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::AuthorizePaymentRequest =
            fuzz::request("mandi.payment.v1.AuthorizePaymentRequest", seed);
        named(
            "mandi.payment.v1.AuthorizePaymentRequest",
            authorize_request(request, chrono::Utc::now()),
        )?;
    }

    #[test]
    fn capture_and_refund_amounts_parse_or_name_their_field(seed in any::<u64>()) {
        let capture: pb::CapturePaymentRequest =
            fuzz::request("mandi.payment.v1.CapturePaymentRequest", seed);
        named(
            "mandi.payment.v1.CapturePaymentRequest",
            optional_amount(capture.amount, "amount"),
        )?;
    }

    #[test]
    fn listing_filters_parse_or_name_their_field(seed in any::<u64>()) {
        let list: pb::ListPaymentsRequest =
            fuzz::request("mandi.payment.v1.ListPaymentsRequest", seed);
        let request = "mandi.payment.v1.ListPaymentsRequest";
        named(request, parse_optional_id(&list.order_id, "order_id"))?;
        named(request, parse_optional_id(&list.user_id, "user_id"))?;
        named(request, status_filter(list.status))?;
        let entries: pb::ListLedgerEntriesRequest =
            fuzz::request("mandi.payment.v1.ListLedgerEntriesRequest", seed);
        named("mandi.payment.v1.ListLedgerEntriesRequest", account_filter(entries.account))?;
    }

    #[test]
    fn timestamps_parse_or_name_their_field(seconds in any::<i64>(), nanos in any::<i32>()) {
        let at = prost_types::Timestamp { seconds, nanos };
        named(
            "mandi.payment.v1.ListLedgerEntriesRequest",
            from_timestamp(Some(at), "start_time"),
        )?;
    }
}
