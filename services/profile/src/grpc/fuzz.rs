//! Property tests of the edge: whatever a caller sends, the request decoders and the
//! domain's parsers never panic, and what they refuse they refuse field by field, naming
//! fields the contract has.

use mandi_sdk::proto::mandi::profile::v1 as pb;
use mandi_testkit::fuzz;
use proptest::prelude::*;

use super::convert::{address_fields, parse_id, preference_values, profile_values};
use crate::domain::{
    AddressFields, AddressPatch, PreferencesPatch, ProfileError, ProfilePatch, UpdateMask,
};

fn named<T>(request: &str, result: Result<T, ProfileError>) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => Ok(()),
        Err(ProfileError::Invalid(violations)) => {
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

fn paths(mask: Option<prost_types::FieldMask>) -> Vec<String> {
    mask.map(|m| m.paths).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn new_addresses_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::CreateAddressRequest =
            fuzz::request("mandi.profile.v1.CreateAddressRequest", seed);
        named(
            "mandi.profile.v1.CreateAddressRequest",
            AddressFields::parse(address_fields(request.address.unwrap_or_default())),
        )?;
    }

    #[test]
    fn address_updates_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::UpdateAddressRequest =
            fuzz::request("mandi.profile.v1.UpdateAddressRequest", seed);
        let name = "mandi.profile.v1.UpdateAddressRequest";
        let mask = UpdateMask::parse(
            &paths(request.update_mask),
            AddressPatch::UPDATABLE,
            AddressPatch::OUTPUT_ONLY,
        );
        let mask = match mask {
            Ok(mask) => Some(mask),
            Err(refused) => {
                named::<()>(name, Err(refused))?;
                None
            }
        };
        if let Some(mask) = mask {
            let values = address_fields(request.address.unwrap_or_default());
            named(name, AddressPatch::new(&mask, values))?;
        }
    }

    #[test]
    fn profile_and_preference_updates_parse_or_name_each_bad_field(seed in any::<u64>()) {
        let request: pb::UpdateProfileRequest =
            fuzz::request("mandi.profile.v1.UpdateProfileRequest", seed);
        let name = "mandi.profile.v1.UpdateProfileRequest";
        let mask = UpdateMask::parse(
            &paths(request.update_mask),
            ProfilePatch::UPDATABLE,
            ProfilePatch::OUTPUT_ONLY,
        );
        let mask = match mask {
            Ok(mask) => Some(mask),
            Err(refused) => {
                named::<()>(name, Err(refused))?;
                None
            }
        };
        if let Some(mask) = mask {
            let values = profile_values(uuid::Uuid::now_v7(), request.profile.unwrap_or_default());
            named(name, ProfilePatch::new(&mask, values))?;
        }

        let request: pb::UpdatePreferencesRequest =
            fuzz::request("mandi.profile.v1.UpdatePreferencesRequest", seed);
        let name = "mandi.profile.v1.UpdatePreferencesRequest";
        named(name, parse_id("user_id", &request.user_id))?;
        let mask = UpdateMask::parse(
            &paths(request.update_mask),
            PreferencesPatch::UPDATABLE,
            PreferencesPatch::OUTPUT_ONLY,
        );
        let mask = match mask {
            Ok(mask) => Some(mask),
            Err(refused) => {
                named::<()>(name, Err(refused))?;
                None
            }
        };
        if let Some(mask) = mask {
            let values = preference_values(request.preferences.unwrap_or_default());
            named(name, PreferencesPatch::new(&mask, values))?;
        }
    }
}
