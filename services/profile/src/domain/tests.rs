#![allow(clippy::unwrap_used)]

use chrono::Duration;
use uuid::Uuid;

use super::*;

fn fields_of(err: ProfileError) -> Vec<String> {
    match err {
        ProfileError::Invalid(violations) => violations.into_iter().map(|v| v.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn mask(
    paths: &[&str],
    updatable: &[&str],
    output_only: &[&str],
) -> Result<UpdateMask, ProfileError> {
    let paths: Vec<String> = paths.iter().map(|p| (*p).to_owned()).collect();
    UpdateMask::parse(&paths, updatable, output_only)
}

fn postal(country: &str, code: &str) -> PostalAddress {
    PostalAddress {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: code.into(),
        country_code: country.into(),
        ..PostalAddress::default()
    }
}

fn address(country: &str, code: &str) -> AddressFields {
    AddressFields {
        label: "Home".into(),
        postal: postal(country, code),
        ..AddressFields::default()
    }
}

// === postal codes ===

#[test]
fn indian_pin_codes_are_six_digits_not_starting_with_zero() {
    assert!(validate_postal_code("IN", "560001").is_ok());
    for bad in ["060001", "56001", "5600011", "56000A"] {
        assert!(validate_postal_code("IN", bad).is_err(), "{bad}");
    }
}

#[test]
fn us_zip_codes_are_five_or_five_plus_four_digits() {
    assert!(validate_postal_code("US", "94105").is_ok());
    assert!(validate_postal_code("US", "94105-1804").is_ok());
    for bad in ["9410", "94105-18", "94105 1804", "ABCDE"] {
        assert!(validate_postal_code("US", bad).is_err(), "{bad}");
    }
}

#[test]
fn uk_postcodes_follow_the_outward_inward_pattern() {
    for good in [
        "SW1A 1AA", "M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "EC1A1BB", "GIR 0AA",
    ] {
        assert!(validate_postal_code("GB", good).is_ok(), "{good}");
    }
    for bad in ["SW1A  1AA", "1AA 1AA", "SW1A 1A", "SW1A 11A", "ABCDE"] {
        assert!(validate_postal_code("GB", bad).is_err(), "{bad}");
    }
}

#[test]
fn german_and_french_codes_are_five_digits() {
    assert!(validate_postal_code("DE", "10115").is_ok());
    assert!(validate_postal_code("FR", "75001").is_ok());
    assert!(validate_postal_code("DE", "1011").is_err());
    assert!(validate_postal_code("FR", "75O01").is_err());
}

#[test]
fn other_countries_take_two_to_ten_letters_digits_spaces_or_hyphens() {
    assert!(validate_postal_code("NL", "1012 AB").is_ok());
    assert!(validate_postal_code("JP", "100-0001").is_ok());
    assert!(validate_postal_code("NL", "1").is_err());
    assert!(validate_postal_code("NL", "12345678901").is_err());
    assert!(validate_postal_code("NL", "10_12").is_err());
    assert!(validate_postal_code("NL", "--").is_err());
}

// === phones ===

#[test]
fn phones_are_e164() {
    assert!(validate_phone("+4915112345678").is_ok());
    for bad in [
        "4915112345678",
        "+49 151 1234",
        "+0123456789",
        "+1234567",
        "+1234567890123456",
    ] {
        assert!(validate_phone(bad).is_err(), "{bad}");
    }
}

#[test]
fn indian_phones_are_ten_digit_mobiles() {
    assert!(validate_phone("+919812345678").is_ok());
    assert!(validate_phone("+915812345678").is_err());
    assert!(validate_phone("+91981234567").is_err());
    assert!(validate_phone("+9198123456789").is_err());
}

#[test]
fn nanp_phones_have_ten_digits() {
    assert!(validate_phone("+14155550123").is_ok());
    assert!(validate_phone("+1415555012").is_err());
    assert!(validate_phone("+11155550123").is_err());
}

// === addresses ===

#[test]
fn an_address_is_normalised_and_checked_against_its_country() {
    let parsed = AddressFields::parse(address(" in ", " 560001 ")).unwrap();
    assert_eq!(parsed.postal.country_code, "IN");
    assert_eq!(parsed.postal.postal_code, "560001");

    let err = AddressFields::parse(address("IN", "06000")).unwrap_err();
    assert_eq!(fields_of(err), ["address.postal_address.postal_code"]);
}

#[test]
fn an_empty_address_names_every_required_field() {
    let err = AddressFields::parse(AddressFields::default()).unwrap_err();
    assert_eq!(
        fields_of(err),
        [
            "address.postal_address.line1",
            "address.postal_address.city",
            "address.postal_address.country_code",
            "address.postal_address.postal_code",
        ]
    );
}

#[test]
fn address_lengths_phones_and_geo_ranges_are_checked() {
    let mut fields = address("IN", "560001");
    fields.label = "x".repeat(41);
    fields.recipient_phone = "+91123".into();
    fields.delivery_instructions = "y".repeat(501);
    fields.postal.geo = Some(GeoPoint {
        latitude_e6: 90_000_001,
        longitude_e6: -180_000_001,
    });
    let err = AddressFields::parse(fields).unwrap_err();
    assert_eq!(
        fields_of(err),
        [
            "address.label",
            "address.recipient_phone",
            "address.delivery_instructions",
            "address.postal_address.geo.latitude_e6",
            "address.postal_address.geo.longitude_e6",
        ]
    );
}

#[test]
fn instructions_may_span_lines() {
    let mut fields = address("IN", "560001");
    fields.delivery_instructions = "Gate 3\nFloor 2".into();
    assert!(AddressFields::parse(fields).is_ok());
}

#[test]
fn an_address_patch_checks_only_the_masked_fields_and_keeps_the_flag() {
    let mask = mask(
        &["label"],
        AddressPatch::UPDATABLE,
        AddressPatch::OUTPUT_ONLY,
    )
    .unwrap();
    // The postal address is invalid but not in the mask: it is not read.
    let patch = AddressPatch::new(
        &mask,
        AddressFields {
            label: "Office".into(),
            ..AddressFields::default()
        },
    )
    .unwrap();
    let now = now();
    let mut saved = Address::new(Uuid::now_v7(), address("IN", "560001"), now);
    saved.is_default = true;
    let patched = patch.apply(saved.clone(), now + Duration::seconds(1));
    assert_eq!(patched.fields.label, "Office");
    assert_eq!(patched.fields.postal, saved.fields.postal);
    assert!(patched.is_default);
    assert_eq!(patched.updated_at, now + Duration::seconds(1));
}

#[test]
fn the_listing_order_is_default_first_then_newest() {
    let user = Uuid::now_v7();
    let at = now();
    let old = Address::new(user, address("IN", "560001"), at);
    let mut default = Address::new(user, address("IN", "560002"), at + Duration::seconds(1));
    default.is_default = true;
    let new = Address::new(user, address("IN", "560003"), at + Duration::seconds(2));
    let mut all = vec![old.clone(), new.clone(), default.clone()];
    all.sort_by(Address::list_order);
    assert_eq!(all, [default.clone(), new.clone(), old.clone()]);
    assert!(default.cursor().precedes(&new));
    assert!(new.cursor().precedes(&old));
    assert!(!new.cursor().precedes(&default));
}

// === masks ===

#[test]
fn masks_refuse_empty_unknown_and_output_only_paths() {
    for paths in [
        &[][..],
        &["nickname"][..],
        &["create_time"][..],
        &["display_name", "id"][..],
    ] {
        let err = mask(paths, ProfilePatch::UPDATABLE, ProfilePatch::OUTPUT_ONLY).unwrap_err();
        assert_eq!(fields_of(err), ["update_mask"], "{paths:?}");
    }
    let err = mask(
        &["is_default"],
        AddressPatch::UPDATABLE,
        AddressPatch::OUTPUT_ONLY,
    )
    .unwrap_err();
    assert_eq!(fields_of(err), ["update_mask"]);
}

#[test]
fn a_profile_patch_names_bad_fields_under_profile() {
    let mask = mask(
        &["display_name", "phone", "avatar_url"],
        ProfilePatch::UPDATABLE,
        ProfilePatch::OUTPUT_ONLY,
    )
    .unwrap();
    let user = Uuid::now_v7();
    let bad = Profile {
        display_name: "n".repeat(101),
        phone: "98123".into(),
        avatar_url: "http://example.com/a.png".into(),
        ..Profile::empty(user)
    };
    let err = ProfilePatch::new(&mask, bad).unwrap_err();
    assert_eq!(
        fields_of(err),
        [
            "profile.display_name",
            "profile.phone",
            "profile.avatar_url"
        ]
    );
    let good = Profile {
        display_name: " Asha ".into(),
        phone: "+919812345678".into(),
        avatar_url: "https://cdn.example.com/a.png".into(),
        ..Profile::empty(user)
    };
    let patch = ProfilePatch::new(&mask, good).unwrap();
    assert_eq!(patch.display_name.as_deref(), Some("Asha"));
    let at = now();
    let applied = patch.apply(Profile::empty(user), at);
    assert_eq!(
        (applied.created_at, applied.updated_at),
        (Some(at), Some(at))
    );
}

#[test]
fn clearing_the_phone_is_allowed() {
    let mask = mask(
        &["phone"],
        ProfilePatch::UPDATABLE,
        ProfilePatch::OUTPUT_ONLY,
    )
    .unwrap();
    let patch = ProfilePatch::new(&mask, Profile::empty(Uuid::now_v7())).unwrap();
    assert_eq!(patch.phone.as_deref(), Some(""));
}

// === preferences ===

fn preferences_mask(paths: &[&str]) -> UpdateMask {
    mask(
        paths,
        PreferencesPatch::UPDATABLE,
        PreferencesPatch::OUTPUT_ONLY,
    )
    .unwrap()
}

fn window(start_minute: i32, end_minute: i32) -> PreferenceValues {
    PreferenceValues {
        delivery_window: Some(DeliveryWindow {
            start_minute,
            end_minute,
        }),
        ..PreferenceValues::default()
    }
}

#[test]
fn delivery_windows_run_within_a_day_and_end_after_they_start() {
    let mask = preferences_mask(&["preferred_delivery_window"]);
    assert!(PreferencesPatch::new(&mask, window(0, 1440)).is_ok());
    assert!(PreferencesPatch::new(&mask, window(1439, 1440)).is_ok());
    let field = "preferences.preferred_delivery_window";
    for (start, end, bad) in [
        (
            1440,
            1440,
            vec![
                format!("{field}.start_minute"),
                format!("{field}.end_minute"),
            ],
        ),
        (-1, 60, vec![format!("{field}.start_minute")]),
        (600, 600, vec![format!("{field}.end_minute")]),
        (600, 1441, vec![format!("{field}.end_minute")]),
        (600, 0, vec![format!("{field}.end_minute")]),
    ] {
        let err = PreferencesPatch::new(&mask, window(start, end)).unwrap_err();
        assert_eq!(fields_of(err), bad, "{start}..{end}");
    }
}

#[test]
fn an_unset_window_clears_the_preference() {
    let mask = preferences_mask(&["preferred_delivery_window"]);
    let patch = PreferencesPatch::new(&mask, PreferenceValues::default()).unwrap();
    let user = Uuid::now_v7();
    let before = Preferences {
        delivery_window: Some(DeliveryWindow {
            start_minute: 60,
            end_minute: 120,
        }),
        ..Preferences::defaults(user)
    };
    assert_eq!(patch.apply(before, now()).delivery_window, None);
}

#[test]
fn dietary_tags_are_few_short_lower_case_and_distinct() {
    let mask = preferences_mask(&["dietary_tags"]);
    let tags = |tags: &[&str]| PreferenceValues {
        dietary_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..PreferenceValues::default()
    };
    assert!(PreferencesPatch::new(&mask, tags(&["vegan", "gluten-free", "jain"])).is_ok());
    let long = "a".repeat(41);
    let err =
        PreferencesPatch::new(&mask, tags(&["Vegan", "", &long, "jain", "jain"])).unwrap_err();
    assert_eq!(
        fields_of(err),
        [
            "preferences.dietary_tags[0]",
            "preferences.dietary_tags[1]",
            "preferences.dietary_tags[2]",
            "preferences.dietary_tags[4]",
        ]
    );
    let many: Vec<String> = (0..21).map(|i| format!("tag-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = PreferencesPatch::new(&mask, tags(&many)).unwrap_err();
    assert_eq!(fields_of(err), ["preferences.dietary_tags"]);
}

#[test]
fn notification_channels_are_known_and_listed_once() {
    let mask = preferences_mask(&["notification_channels"]);
    let channels = |channels: Vec<Option<Channel>>| PreferenceValues {
        notification_channels: channels,
        ..PreferenceValues::default()
    };
    let patch = PreferencesPatch::new(
        &mask,
        channels(vec![
            Some(Channel::Push),
            Some(Channel::Email),
            Some(Channel::WhatsApp),
        ]),
    )
    .unwrap();
    assert_eq!(
        patch.notification_channels,
        Some(vec![Channel::Push, Channel::Email, Channel::WhatsApp])
    );
    let err = PreferencesPatch::new(
        &mask,
        channels(vec![Some(Channel::Sms), None, Some(Channel::Sms)]),
    )
    .unwrap_err();
    assert_eq!(
        fields_of(err),
        [
            "preferences.notification_channels[1]",
            "preferences.notification_channels[2]",
        ]
    );
}

#[test]
fn a_preferences_patch_changes_only_the_masked_flags() {
    let mask = preferences_mask(&["prefer_organic", "marketing_opt_in"]);
    let values = PreferenceValues {
        prefer_organic: true,
        prefer_local: true,
        marketing_opt_in: true,
        ..PreferenceValues::default()
    };
    let patch = PreferencesPatch::new(&mask, values).unwrap();
    let applied = patch.apply(Preferences::defaults(Uuid::now_v7()), now());
    assert!(applied.prefer_organic && applied.marketing_opt_in);
    assert!(!applied.prefer_local);
    assert!(applied.updated_at.is_some());
}
