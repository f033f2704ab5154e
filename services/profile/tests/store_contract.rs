//! One contract for the profile store, run against the in-memory twin and PostgreSQL (a
//! fresh database per case). The PostgreSQL cases fail when the server is missing. Below
//! the contract: what only PostgreSQL can show (the schema refusing a second default, and
//! concurrent writers on separate connections).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mandi_profile::domain::{
    self, Address, AddressFields, AddressPatch, Channel, DeliveryWindow, MAX_ADDRESSES,
    PostalAddress, Preferences, PreferencesPatch, Profile, ProfileError, ProfilePatch,
    RequestRecord,
};
use mandi_profile::store::ProfileStore;
use mandi_profile::store::memory::MemoryStore;
use mandi_profile::store::postgres::PgStore;
use uuid::Uuid;

fn fields(label: &str) -> AddressFields {
    AddressFields {
        label: label.into(),
        postal: PostalAddress {
            line1: "12 MG Road".into(),
            city: "Bengaluru".into(),
            region: "Karnataka".into(),
            postal_code: "560001".into(),
            country_code: "IN".into(),
            ..PostalAddress::default()
        },
        recipient_name: "Asha".into(),
        ..AddressFields::default()
    }
}

/// Saves an address labelled `label` for `user` at `at`.
async fn save(
    store: &impl ProfileStore,
    user: Uuid,
    label: &str,
    at: DateTime<Utc>,
    make_default: bool,
) -> Address {
    let address = Address::new(user, fields(label), at);
    store.create_address(&address, make_default).await.unwrap()
}

async fn labels(store: &impl ProfileStore, user: Uuid) -> Vec<(String, bool)> {
    store
        .list_addresses(user, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.fields.label, a.is_default))
        .collect()
}

async fn defaults(store: &impl ProfileStore, user: Uuid) -> usize {
    labels(store, user).await.iter().filter(|(_, d)| *d).count()
}

fn owned(pairs: &[(&str, bool)]) -> Vec<(String, bool)> {
    pairs.iter().map(|(l, d)| ((*l).to_owned(), *d)).collect()
}

async fn a_user_without_a_profile_has_none_until_a_write_creates_it(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    assert_eq!(store.profile(user).await.unwrap(), None);
    let at = domain::now();
    let patch = ProfilePatch {
        display_name: Some("Asha Rao".into()),
        phone: Some("+919812345678".into()),
        ..ProfilePatch::default()
    };
    let written = store.update_profile(user, &patch, at).await.unwrap();
    assert_eq!(written.display_name, "Asha Rao");
    assert_eq!(
        (written.created_at, written.updated_at),
        (Some(at), Some(at))
    );
    assert_eq!(store.profile(user).await.unwrap(), Some(written.clone()));

    // A later patch changes only what it names.
    let later = at + Duration::seconds(5);
    let patch = ProfilePatch {
        avatar_url: Some("https://cdn.example.com/asha.png".into()),
        ..ProfilePatch::default()
    };
    let updated = store.update_profile(user, &patch, later).await.unwrap();
    assert_eq!(
        updated,
        Profile {
            avatar_url: "https://cdn.example.com/asha.png".into(),
            updated_at: Some(later),
            ..written
        }
    );
}

async fn an_address_write_creates_the_profile_too(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    let at = domain::now();
    save(&store, user, "Home", at, false).await;
    let profile = store.profile(user).await.unwrap().unwrap();
    assert_eq!(profile.created_at, Some(at));
    assert_eq!(profile.display_name, "");
}

async fn the_first_address_becomes_the_default_and_make_default_moves_it(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    let at = domain::now();
    let home = save(&store, user, "Home", at, false).await;
    assert!(home.is_default);
    let office = save(&store, user, "Office", at + Duration::seconds(1), false).await;
    assert!(!office.is_default);
    assert_eq!(
        labels(&store, user).await,
        owned(&[("Home", true), ("Office", false)])
    );
    let farm = save(&store, user, "Farm", at + Duration::seconds(2), true).await;
    assert!(farm.is_default);
    assert_eq!(
        labels(&store, user).await,
        owned(&[("Farm", true), ("Office", false), ("Home", false)])
    );
    assert_eq!(store.address(farm.id).await.unwrap(), Some(farm));
}

async fn set_default_clears_every_other_default(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    let at = domain::now();
    let home = save(&store, user, "Home", at, false).await;
    let office = save(&store, user, "Office", at + Duration::seconds(1), false).await;
    let later = at + Duration::seconds(10);

    let made = store
        .set_default_address(office.id, later)
        .await
        .unwrap()
        .unwrap();
    assert!(made.is_default);
    assert_eq!(made.updated_at, later);
    let home_now = store.address(home.id).await.unwrap().unwrap();
    assert!(!home_now.is_default);
    assert_eq!(home_now.updated_at, later);
    assert_eq!(defaults(&store, user).await, 1);

    // Already the default: nothing changes.
    let again = store
        .set_default_address(office.id, later + Duration::seconds(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, made);
    assert_eq!(
        store
            .set_default_address(Uuid::now_v7(), later)
            .await
            .unwrap(),
        None
    );
}

async fn deleting_the_default_promotes_the_most_recently_updated_address(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    let at = domain::now();
    let home = save(&store, user, "Home", at, false).await;
    let office = save(&store, user, "Office", at + Duration::seconds(1), false).await;
    let farm = save(&store, user, "Farm", at + Duration::seconds(2), false).await;
    // Office is older than Farm but updated last.
    let patch = AddressPatch {
        recipient_name: Some("Ravi".into()),
        ..AddressPatch::default()
    };
    store
        .update_address(office.id, &patch, at + Duration::seconds(5))
        .await
        .unwrap()
        .unwrap();

    let deleted_at = at + Duration::seconds(9);
    let promoted = store
        .delete_address(home.id, deleted_at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((promoted.id, promoted.is_default), (office.id, true));
    assert_eq!(promoted.updated_at, deleted_at);
    assert_eq!(
        labels(&store, user).await,
        owned(&[("Office", true), ("Farm", false)])
    );

    // Deleting a non-default promotes nothing; deleting what is gone is fine.
    assert_eq!(
        store.delete_address(farm.id, deleted_at).await.unwrap(),
        None
    );
    assert_eq!(
        store.delete_address(farm.id, deleted_at).await.unwrap(),
        None
    );
    // Deleting the last one leaves no default to promote.
    assert_eq!(
        store.delete_address(office.id, deleted_at).await.unwrap(),
        None
    );
    assert!(labels(&store, user).await.is_empty());
}

async fn a_user_has_at_most_twenty_addresses(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    let at = domain::now();
    for i in 0..MAX_ADDRESSES {
        save(&store, user, &format!("A{i}"), at, false).await;
    }
    let one_more = Address::new(user, fields("Too many"), at);
    let err = store.create_address(&one_more, true).await.unwrap_err();
    assert!(matches!(err, ProfileError::TooManyAddresses), "{err:?}");
    assert_eq!(store.address(one_more.id).await.unwrap(), None);
    assert_eq!(defaults(&store, user).await, 1);
    // Other users are not affected.
    save(&store, Uuid::now_v7(), "Home", at, false).await;
}

async fn updating_an_address_keeps_what_the_patch_does_not_name(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    let at = domain::now();
    let mut with_geo = fields("Home");
    with_geo.postal.geo = Some(domain::GeoPoint {
        latitude_e6: 12_971_599,
        longitude_e6: 77_594_566,
    });
    let home = store
        .create_address(&Address::new(user, with_geo, at), false)
        .await
        .unwrap();
    let mut moved = fields("ignored").postal;
    moved.postal_code = "560034".into();
    let patch = AddressPatch {
        postal: Some(moved.clone()),
        delivery_instructions: Some("Gate 3\nFloor 2".into()),
        ..AddressPatch::default()
    };
    let later = at + Duration::seconds(3);
    let updated = store
        .update_address(home.id, &patch, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.fields.label, "Home");
    assert_eq!(updated.fields.postal, moved);
    assert_eq!(updated.fields.delivery_instructions, "Gate 3\nFloor 2");
    assert!(updated.is_default);
    assert_eq!((updated.created_at, updated.updated_at), (at, later));
    assert_eq!(store.address(home.id).await.unwrap(), Some(updated));
    assert_eq!(
        store
            .update_address(Uuid::now_v7(), &patch, later)
            .await
            .unwrap(),
        None
    );
}

async fn addresses_list_default_first_then_newest_page_by_page(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    let at = domain::now();
    for i in 0..5 {
        save(
            &store,
            user,
            &format!("A{i}"),
            at + Duration::seconds(i),
            false,
        )
        .await;
    }
    // Another user's addresses never show up.
    save(&store, Uuid::now_v7(), "Elsewhere", at, false).await;
    let first = store.list_addresses(user, None, 2).await.unwrap();
    let second = store
        .list_addresses(user, first.last().map(Address::cursor), 2)
        .await
        .unwrap();
    let third = store
        .list_addresses(user, second.last().map(Address::cursor), 2)
        .await
        .unwrap();
    let all: Vec<String> = [first, second, third]
        .into_iter()
        .flatten()
        .map(|a| a.fields.label)
        .collect();
    assert_eq!(all, ["A0", "A4", "A3", "A2", "A1"]);
}

async fn preferences_start_from_defaults_and_keep_unpatched_fields(store: impl ProfileStore) {
    let user = Uuid::now_v7();
    assert_eq!(store.preferences(user).await.unwrap(), None);
    let at = domain::now();
    let patch = PreferencesPatch {
        prefer_organic: Some(true),
        dietary_tags: Some(vec!["vegan".into(), "jain".into()]),
        delivery_window: Some(Some(DeliveryWindow {
            start_minute: 1080,
            end_minute: 1260,
        })),
        notification_channels: Some(vec![Channel::Push, Channel::Email]),
        ..PreferencesPatch::default()
    };
    let saved = store.update_preferences(user, &patch, at).await.unwrap();
    assert_eq!(
        saved,
        Preferences {
            prefer_organic: true,
            dietary_tags: vec!["vegan".into(), "jain".into()],
            delivery_window: Some(DeliveryWindow {
                start_minute: 1080,
                end_minute: 1260,
            }),
            notification_channels: vec![Channel::Push, Channel::Email],
            updated_at: Some(at),
            ..Preferences::defaults(user)
        }
    );
    assert_eq!(store.preferences(user).await.unwrap(), Some(saved.clone()));

    let later = at + Duration::seconds(1);
    let patch = PreferencesPatch {
        marketing_opt_in: Some(true),
        delivery_window: Some(None),
        ..PreferencesPatch::default()
    };
    let updated = store.update_preferences(user, &patch, later).await.unwrap();
    assert!(updated.prefer_organic && updated.marketing_opt_in);
    assert_eq!(updated.delivery_window, None);
    assert_eq!(updated.dietary_tags, saved.dietary_tags);
    assert_eq!(store.preferences(user).await.unwrap(), Some(updated));
    assert!(store.profile(user).await.unwrap().is_some());
}

async fn the_first_record_of_a_request_key_wins(store: impl ProfileStore) {
    let first = RequestRecord {
        key: "user/1".into(),
        fingerprint: "CreateAddress:abc".into(),
        target: Some(Uuid::now_v7()),
    };
    assert_eq!(store.recall_request(&first.key).await.unwrap(), None);
    store.remember_request(&first).await.unwrap();
    let second = RequestRecord {
        fingerprint: "CreateAddress:def".into(),
        target: None,
        ..first.clone()
    };
    store.remember_request(&second).await.unwrap();
    assert_eq!(store.recall_request(&first.key).await.unwrap(), Some(first));
    let empty = RequestRecord {
        key: "user/2".into(),
        fingerprint: "DeleteAddress:x".into(),
        target: None,
    };
    store.remember_request(&empty).await.unwrap();
    assert_eq!(store.recall_request(&empty.key).await.unwrap(), Some(empty));
}

/// Many writers of one user's address book at once (separate connections on PostgreSQL)
/// always leave exactly one default.
async fn concurrent_creates_and_set_defaults_leave_exactly_one_default<S: ProfileStore>(store: S) {
    let store = Arc::new(store);
    let user = Uuid::now_v7();
    let at = domain::now();
    // Every create races to be the first (and so the default).
    let creates: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let address = Address::new(user, fields(&format!("A{i}")), at);
                store.create_address(&address, i % 3 == 0).await.unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in creates {
        ids.push(task.await.unwrap().id);
    }
    assert_eq!(defaults(store.as_ref(), user).await, 1);

    for round in 0..3 {
        let setters: Vec<_> = ids
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move {
                    let now = at + Duration::seconds(round + 1);
                    store.set_default_address(id, now).await.unwrap().unwrap()
                })
            })
            .collect();
        for task in setters {
            assert!(task.await.unwrap().is_default);
        }
        assert_eq!(defaults(store.as_ref(), user).await, 1, "round {round}");
    }
}

/// One `#[tokio::test]` per adapter for each contract case.
macro_rules! store_contract {
    ($($case:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $case() { super::$case(super::MemoryStore::default()).await; })*
        }
        mod postgres_store {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $case() {
                super::$case(super::pg().await).await;
            })*
        }
    };
}

async fn pg() -> PgStore {
    let url = mandi_testkit::fresh_database().await;
    PgStore::connect(&url).await.expect("connect to PostgreSQL")
}

store_contract!(
    a_user_without_a_profile_has_none_until_a_write_creates_it,
    an_address_write_creates_the_profile_too,
    the_first_address_becomes_the_default_and_make_default_moves_it,
    set_default_clears_every_other_default,
    deleting_the_default_promotes_the_most_recently_updated_address,
    a_user_has_at_most_twenty_addresses,
    updating_an_address_keeps_what_the_patch_does_not_name,
    addresses_list_default_first_then_newest_page_by_page,
    preferences_start_from_defaults_and_keep_unpatched_fields,
    the_first_record_of_a_request_key_wins,
    concurrent_creates_and_set_defaults_leave_exactly_one_default,
);

// === PostgreSQL only ===

#[tokio::test]
async fn the_database_itself_refuses_a_second_default_address() {
    let store = pg().await;
    let user = Uuid::now_v7();
    let home = save(&store, user, "Home", domain::now(), false).await;
    assert!(home.is_default);

    // Straight into the table, past the adapter and its lock.
    let err = sqlx::query(
        "INSERT INTO addresses (id, user_id, label, line1, line2, city, region, postal_code, \
         country_code, recipient_name, recipient_phone, delivery_instructions, is_default, \
         created_at, updated_at) \
         VALUES ($1, $2, 'Rogue', '1 Road', '', 'Pune', '', '411001', 'IN', '', '', '', true, \
         now(), now())",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .execute(store.pool())
    .await
    .unwrap_err();
    let db = err.as_database_error().expect("a database error");
    assert!(db.is_unique_violation(), "{db}");
    assert_eq!(db.constraint(), Some("addresses_one_default_per_user"));
    assert_eq!(defaults(&store, user).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_set_defaults_on_postgres_never_leave_zero_or_two_defaults() {
    let store = Arc::new(pg().await);
    let user = Uuid::now_v7();
    let at = domain::now();
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            save(store.as_ref(), user, &format!("A{i}"), at, false)
                .await
                .id,
        );
    }
    for round in 0..10 {
        // Twelve racing SetDefaultAddress calls over the six addresses, each on its own
        // connection; the count is read once they are all done.
        let tasks: Vec<_> = ids
            .iter()
            .cycle()
            .skip(round)
            .take(12)
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .set_default_address(id, domain::now())
                        .await
                        .unwrap()
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM addresses WHERE user_id = $1 AND is_default")
                .bind(user)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(count, 1, "round {round}");
    }
}
