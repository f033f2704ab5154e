//! profile end to end through the SDK: profiles, the address book with its one default and
//! preferences on real PostgreSQL behind identity, who may read and write what, and a
//! quick round trip on the embedded default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::common::v1::{Address as PostalAddress, GeoPoint};
use mandi_sdk::proto::mandi::notification::v1::Channel;
use mandi_sdk::proto::mandi::profile::v1::{
    Address, CreateAddressRequest, DeleteAddressRequest, DeliveryWindow, GetAddressRequest,
    GetPreferencesRequest, GetProfileRequest, ListAddressesRequest, Preferences, Profile,
    SetDefaultAddressRequest, UpdateAddressRequest, UpdatePreferencesRequest, UpdateProfileRequest,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::mesh::{self, ADMIN_EMAIL, client};
use mandi_testkit::status::bad_request_fields as fields;
use prost_types::FieldMask;
use tonic::Code;
use uuid::Uuid;

async fn start_real() -> ServerProcess {
    let mut env = mesh::real_identity().await;
    env.push((
        "MANDI_PROFILE__DATABASE_URL",
        mandi_testkit::fresh_database().await,
    ));
    mesh::start("identity,profile", env)
}

/// A signed-in customer and their user id.
async fn user(server: &ServerProcess, email: &str) -> (Mandi, String) {
    let mandi = client(server);
    let login = sign_up(&mandi, email).await;
    (mandi, login.user.unwrap().id)
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

fn postal(postal_code: &str) -> PostalAddress {
    PostalAddress {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        region: "Karnataka".into(),
        postal_code: postal_code.into(),
        country_code: "IN".into(),
        geo: Some(GeoPoint {
            latitude_e6: 12_971_599,
            longitude_e6: 77_594_566,
        }),
        ..Default::default()
    }
}

fn new_address(label: &str, postal_code: &str) -> CreateAddressRequest {
    CreateAddressRequest {
        address: Some(Address {
            label: label.into(),
            postal_address: Some(postal(postal_code)),
            recipient_phone: "+919812345678".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn create(mandi: &Mandi, label: &str) -> Address {
    mandi
        .profile()
        .create_address(new_address(label, "560001"))
        .await
        .unwrap()
        .into_inner()
        .address
        .unwrap()
}

async fn list(
    mandi: &Mandi,
    user_id: &str,
    page_size: i32,
    page_token: &str,
) -> (Vec<Address>, String) {
    let page = mandi
        .profile()
        .list_addresses(ListAddressesRequest {
            user_id: user_id.into(),
            page_size,
            page_token: page_token.into(),
        })
        .await
        .unwrap()
        .into_inner();
    (page.addresses, page.next_page_token)
}

fn labels(addresses: &[Address]) -> Vec<(&str, bool)> {
    addresses
        .iter()
        .map(|a| (a.label.as_str(), a.is_default))
        .collect()
}

fn update_profile(profile: Profile, paths: &[&str], request_id: &str) -> UpdateProfileRequest {
    UpdateProfileRequest {
        profile: Some(profile),
        update_mask: mask(paths),
        request_id: request_id.into(),
    }
}

#[tokio::test]
async fn a_new_profile_has_the_registered_name_and_changes_only_what_the_mask_names() {
    let server = start_real().await;
    let (asha, asha_id) = user(&server, "asha@example.com").await;

    profile_named(&asha, "Test User").await;
    let fresh = asha
        .profile()
        .get_profile(GetProfileRequest::default())
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(fresh.id, asha_id);
    assert_eq!(fresh.name, format!("profiles/{asha_id}"));
    assert_eq!((fresh.phone.as_str(), fresh.avatar_url.as_str()), ("", ""));

    let values = Profile {
        display_name: "Asha Rao".into(),
        phone: "+919812345678".into(),
        avatar_url: "https://cdn.example.com/asha.png".into(),
        ..Default::default()
    };
    let key = Uuid::now_v7().to_string();
    let updated = asha
        .profile()
        .update_profile(update_profile(
            values.clone(),
            &["display_name", "phone"],
            &key,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(updated.display_name, "Asha Rao");
    assert_eq!(updated.phone, "+919812345678");
    assert_eq!(updated.avatar_url, "", "not in the mask");
    assert!(updated.create_time.is_some());

    // The same key and request answers the first result; another request under it is
    // refused.
    let retry = asha
        .profile()
        .update_profile(update_profile(
            values.clone(),
            &["display_name", "phone"],
            &key,
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(retry, updated);
    let reused = asha
        .profile()
        .update_profile(update_profile(values.clone(), &["avatar_url"], &key))
        .await
        .unwrap_err();
    assert_eq!(
        (reused.code(), fields(&reused)),
        (Code::InvalidArgument, vec!["request_id".to_owned()])
    );

    let bad_phone = Profile {
        phone: "+915812345678".into(),
        ..Default::default()
    };
    let err = asha
        .profile()
        .update_profile(update_profile(bad_phone, &["phone"], ""))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["profile.phone".to_owned()])
    );
    for paths in [&[][..], &["create_time"][..], &["email"][..]] {
        let err = asha
            .profile()
            .update_profile(update_profile(values.clone(), paths, ""))
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec!["update_mask".to_owned()]),
            "{paths:?}"
        );
    }
}

#[tokio::test]
async fn the_address_book_keeps_exactly_one_default() {
    let server = start_real().await;
    let (asha, asha_id) = user(&server, "asha@example.com").await;

    let home = create(&asha, "Home").await;
    assert!(home.is_default, "the first address is the default");
    assert_eq!(home.user_id, asha_id);
    assert_eq!(
        home.name,
        format!("profiles/{asha_id}/addresses/{}", home.id)
    );
    let office = create(&asha, "Office").await;
    let farm = create(&asha, "Farm").await;
    assert!(!office.is_default && !farm.is_default);

    let err = asha
        .profile()
        .create_address(new_address("Bad", "060001"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (
            Code::InvalidArgument,
            vec!["address.postal_address.postal_code".to_owned()]
        )
    );

    let made = asha
        .profile()
        .set_default_address(SetDefaultAddressRequest {
            address_id: office.id.clone(),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .address
        .unwrap();
    assert!(made.is_default);

    // Default first, then newest first, two to a page.
    let (first, token) = list(&asha, "", 2, "").await;
    assert_eq!(labels(&first), [("Office", true), ("Farm", false)]);
    let (rest, end) = list(&asha, "", 2, &token).await;
    assert_eq!(labels(&rest), [("Home", false)]);
    assert_eq!(end, "");

    // is_default is not for UpdateAddress.
    let err = asha
        .profile()
        .update_address(UpdateAddressRequest {
            address: Some(Address {
                id: farm.id.clone(),
                is_default: true,
                ..Default::default()
            }),
            update_mask: mask(&["is_default"]),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["update_mask"]);
    let relabelled = asha
        .profile()
        .update_address(UpdateAddressRequest {
            address: Some(Address {
                id: farm.id.clone(),
                label: "Farmhouse".into(),
                ..Default::default()
            }),
            update_mask: mask(&["label"]),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .address
        .unwrap();
    assert_eq!(relabelled.label, "Farmhouse");
    assert_eq!(relabelled.postal_address, farm.postal_address);

    // Deleting the default promotes the most recently updated of the rest (Farmhouse).
    let deleted = asha
        .profile()
        .delete_address(DeleteAddressRequest {
            address_id: office.id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        deleted.new_default.map(|a| (a.id, a.is_default)),
        Some((farm.id.clone(), true))
    );
    let (all, _) = list(&asha, "", 0, "").await;
    assert_eq!(labels(&all), [("Farmhouse", true), ("Home", false)]);
    // Deleting it again succeeds.
    asha.profile()
        .delete_address(DeleteAddressRequest {
            address_id: office.id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn creating_an_address_with_a_request_id_applies_once() {
    let server = start_real().await;
    let (asha, _) = user(&server, "asha@example.com").await;
    let key = Uuid::now_v7().to_string();
    let keyed = |label: &str| CreateAddressRequest {
        request_id: key.clone(),
        ..new_address(label, "560001")
    };

    let first = asha.profile().create_address(keyed("Home")).await.unwrap();
    let retry = asha.profile().create_address(keyed("Home")).await.unwrap();
    assert_eq!(first.into_inner().address, retry.into_inner().address);
    let (all, _) = list(&asha, "", 0, "").await;
    assert_eq!(all.len(), 1);

    let other = asha
        .profile()
        .create_address(keyed("Office"))
        .await
        .unwrap_err();
    assert_eq!(
        (other.code(), fields(&other)),
        (Code::InvalidArgument, vec!["request_id".to_owned()])
    );
}

#[tokio::test]
async fn other_users_are_kept_out_while_admins_and_services_may_read() {
    let server = start_real().await;
    let (asha, asha_id) = user(&server, "asha@example.com").await;
    let (ravi, _) = user(&server, "ravi@example.com").await;
    let (admin, _) = user(&server, ADMIN_EMAIL).await;
    let checkout = mesh::checkout(&server).await;
    let home = create(&asha, "Home").await;
    create(&asha, "Office").await;

    let err = ravi
        .profile()
        .get_profile(GetProfileRequest {
            user_id: asha_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = ravi
        .profile()
        .create_address(CreateAddressRequest {
            user_id: asha_id.clone(),
            ..new_address("Mine now", "560001")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Another user's address reads as missing: its existence is not confirmed.
    let err = ravi
        .profile()
        .get_address(GetAddressRequest {
            address_id: home.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = ravi
        .profile()
        .delete_address(DeleteAddressRequest {
            address_id: home.id.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // Admins read and write anyone's profile.
    let renamed = admin
        .profile()
        .update_profile(update_profile(
            Profile {
                id: asha_id.clone(),
                display_name: "Asha R.".into(),
                ..Default::default()
            },
            &["display_name"],
            "",
        ))
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(
        (renamed.id.as_str(), renamed.display_name.as_str()),
        (asha_id.as_str(), "Asha R.")
    );
    let (pages, token) = list(&admin, &asha_id, 1, "").await;
    assert_eq!(labels(&pages), [("Home", true)]);
    // A page token is bound to the user it listed.
    let err = admin
        .profile()
        .list_addresses(ListAddressesRequest {
            user_id: String::new(),
            page_size: 1,
            page_token: token,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);

    // Internal services read (checkout reads the address a checkout names) but do not write.
    let read = checkout
        .profile()
        .get_address(GetAddressRequest {
            address_id: home.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .address
        .unwrap();
    assert_eq!(read.id, home.id);
    checkout
        .profile()
        .get_preferences(GetPreferencesRequest {
            user_id: asha_id.clone(),
        })
        .await
        .unwrap();
    let err = checkout
        .profile()
        .update_preferences(UpdatePreferencesRequest {
            user_id: asha_id.clone(),
            preferences: Some(Preferences::default()),
            update_mask: mask(&["marketing_opt_in"]),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let anonymous = client(&server)
        .profile()
        .get_profile(GetProfileRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn preferences_default_until_saved_and_round_trip() {
    let server = start_real().await;
    let (asha, asha_id) = user(&server, "asha@example.com").await;
    let defaults = asha
        .profile()
        .get_preferences(GetPreferencesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert_eq!(defaults.name, format!("profiles/{asha_id}/preferences"));
    assert!(!defaults.prefer_organic && defaults.update_time.is_none());

    let wanted = Preferences {
        prefer_organic: true,
        prefer_local: true,
        dietary_tags: vec!["vegan".into(), "gluten-free".into()],
        preferred_delivery_window: Some(DeliveryWindow {
            start_minute: 1080,
            end_minute: 1260,
        }),
        notification_channels: vec![Channel::Push as i32, Channel::Email as i32],
        ..Default::default()
    };
    let saved = asha
        .profile()
        .update_preferences(UpdatePreferencesRequest {
            user_id: String::new(),
            preferences: Some(wanted.clone()),
            update_mask: mask(&[
                "prefer_organic",
                "prefer_local",
                "dietary_tags",
                "preferred_delivery_window",
                "notification_channels",
            ]),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert_eq!(saved.dietary_tags, wanted.dietary_tags);
    assert_eq!(saved.notification_channels, wanted.notification_channels);
    assert_eq!(
        saved.preferred_delivery_window,
        wanted.preferred_delivery_window
    );
    assert!(saved.update_time.is_some());
    let read = asha
        .profile()
        .get_preferences(GetPreferencesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert_eq!(read, saved);

    let err = asha
        .profile()
        .update_preferences(UpdatePreferencesRequest {
            user_id: String::new(),
            preferences: Some(Preferences {
                preferred_delivery_window: Some(DeliveryWindow {
                    start_minute: 600,
                    end_minute: 600,
                }),
                notification_channels: vec![Channel::Unspecified as i32],
                ..Default::default()
            }),
            update_mask: mask(&["preferred_delivery_window", "notification_channels"]),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        fields(&err),
        [
            "preferences.preferred_delivery_window.end_minute",
            "preferences.notification_channels[0]",
        ]
    );
}

#[tokio::test]
async fn the_embedded_default_serves_profiles_addresses_and_preferences() {
    let server = mesh::start("all", vec![]);
    let (asha, asha_id) = user(&server, "asha@example.com").await;
    let home = create(&asha, "Home").await;
    assert!(home.is_default);
    let office = create(&asha, "Office").await;
    let promoted = asha
        .profile()
        .delete_address(DeleteAddressRequest {
            address_id: home.id,
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .new_default
        .unwrap();
    assert_eq!(promoted.id, office.id);

    let saved = asha
        .profile()
        .update_preferences(UpdatePreferencesRequest {
            user_id: asha_id.clone(),
            preferences: Some(Preferences {
                prefer_seasonal: true,
                ..Default::default()
            }),
            update_mask: mask(&["prefer_seasonal"]),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .preferences
        .unwrap();
    assert!(saved.prefer_seasonal);
    let profile = asha
        .profile()
        .get_profile(GetProfileRequest::default())
        .await
        .unwrap()
        .into_inner()
        .profile
        .unwrap();
    assert_eq!(profile.id, asha_id);
}

/// The signed-in user's profile once its display name is `name` (profile reacts to
/// identity's UserRegistered).
async fn profile_named(mandi: &Mandi, name: &str) {
    let started = std::time::Instant::now();
    loop {
        let profile = mandi
            .profile()
            .get_profile(GetProfileRequest::default())
            .await
            .unwrap()
            .into_inner()
            .profile
            .unwrap();
        if profile.display_name == name {
            assert!(profile.create_time.is_some(), "the profile is stored");
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the profile of a new account never got its registered name"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn registering_creates_a_profile_on_the_embedded_default() {
    let server = mesh::start("all", vec![]);
    let mandi = client(&server);
    sign_up(&mandi, "new-user@example.com").await;
    profile_named(&mandi, "Test User").await;
}

#[tokio::test]
async fn registering_creates_a_profile_through_kafka() {
    let brokers =
        std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    std::net::TcpStream::connect(brokers.split(',').next().unwrap())
        .unwrap_or_else(|e| panic!("no Kafka broker at {brokers} ({e}); start one with `make up`"));
    let mut env = mesh::real_identity().await;
    env.push((
        "MANDI_PROFILE__DATABASE_URL",
        mandi_testkit::fresh_database().await,
    ));
    env.push(("MANDI_KAFKA__BROKERS", brokers));
    // A consumer group of this test's own: other servers on the broker have their own.
    env.push((
        "MANDI_KAFKA__GROUP_PREFIX",
        format!("{}.", Uuid::now_v7().simple()),
    ));
    let server = mesh::start("identity,profile", env);
    let mandi = client(&server);
    sign_up(&mandi, "kafka-user@example.com").await;
    profile_named(&mandi, "Test User").await;
}
