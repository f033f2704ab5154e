//! Property tests of the edge: whatever a caller sends, the request decoders never panic,
//! and what they refuse they refuse field by field, naming fields the contract has.

use mandi_sdk::proto::mandi::shipping::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

use super::convert::{
    cash, destination, instant, new_rider, parse_id, rider_patch, shipment_status,
};
use crate::domain::{ShippingError, Violations};

/// The fields `found` names, each checked against the request type `request`.
fn named(request: &str, found: Violations) -> Result<(), TestCaseError> {
    match found.finish() {
        Ok(()) => Ok(()),
        Err(ShippingError::Invalid(violations)) => {
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
    fn shipment_destinations_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::CreateShipmentRequest =
            fuzz::request("mandi.shipping.v1.CreateShipmentRequest", seed);
        let mut found = Violations::default();
        destination(request.destination.as_ref(), &mut found);
        named("mandi.shipping.v1.CreateShipmentRequest", found)?;
    }

    #[test]
    fn new_riders_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::CreateRiderRequest =
            fuzz::request("mandi.shipping.v1.CreateRiderRequest", seed);
        let mut found = Violations::default();
        new_rider(request.rider.as_ref(), &mut found);
        named("mandi.shipping.v1.CreateRiderRequest", found)?;
    }

    #[test]
    fn rider_updates_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::UpdateRiderRequest =
            fuzz::request("mandi.shipping.v1.UpdateRiderRequest", seed);
        let rider = request.rider.clone().unwrap_or_default();
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        let mut found = Violations::default();
        rider_patch(&rider, &paths, &mut found);
        named("mandi.shipping.v1.UpdateRiderRequest", found)?;
    }

    #[test]
    fn status_updates_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::UpdateShipmentStatusRequest =
            fuzz::request("mandi.shipping.v1.UpdateShipmentStatusRequest", seed);
        let mut found = Violations::default();
        found.take(parse_id(&request.shipment_id, "shipment_id"));
        found.take(shipment_status(request.status, "status"));
        cash(request.cash_collected.as_ref(), &mut found);
        if let Some(at) = &request.estimated_delivery_time {
            found.take(instant(at, "estimated_delivery_time"));
        }
        named("mandi.shipping.v1.UpdateShipmentStatusRequest", found)?;
    }

    /// Any instant accepted can be moved by the listing horizon without overflowing.
    #[test]
    fn accepted_instants_leave_room_for_date_arithmetic(
        // Mostly chrono's own range, where only the Timestamp bounds stand in the way.
        seconds in prop_oneof![any::<i64>(), -8_334_601_228_800i64..8_210_266_876_800i64],
        nanos in any::<i32>(),
    ) {
        let at = prost_types::Timestamp { seconds, nanos };
        if let Ok(instant) = instant(&at, "start_time") {
            prop_assert!(instant.checked_add_signed(chrono::Duration::days(400)).is_some());
            prop_assert!(instant.checked_sub_signed(chrono::Duration::days(400)).is_some());
        }
    }
}
