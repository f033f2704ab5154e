//! One contract for each identity port, run against the in-memory twin and the real
//! backend (PostgreSQL, Redis). The real-backend cases fail when the server is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use mandi_identity::domain::{Email, RefreshRecord, Role, Rotation, User};
use mandi_identity::keys;
use mandi_identity::store::memory::{MemoryAttempts, MemoryStore};
use mandi_identity::store::postgres::PgStore;
use mandi_identity::store::redis::RedisAttempts;
use mandi_identity::store::{AttemptCounter, IdentityStore, StoreError};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    // Whole microseconds: what PostgreSQL's timestamptz keeps.
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap()
}

fn user(email: &str) -> User {
    let at = now();
    User {
        id: Uuid::now_v7(),
        name: "Asha Rao".into(),
        email: Email::parse(email).unwrap(),
        role: Role::Customer,
        created_at: at,
        updated_at: at,
    }
}

fn refresh(user_id: Uuid, family: Uuid, hash: &str, ttl: chrono::Duration) -> RefreshRecord {
    let at = now();
    RefreshRecord {
        token_hash: hash.into(),
        family_id: family,
        user_id,
        issued_at: at,
        expires_at: at + ttl,
    }
}

// === IdentityStore contract ===

async fn users_are_found_by_email_and_id(store: impl IdentityStore) {
    let asha = user("asha@example.com");
    store.create_user(&asha, "hash-1", None).await.unwrap();
    let (found, hash) = store.user_by_email(&asha.email).await.unwrap().unwrap();
    assert_eq!(found, asha);
    assert_eq!(hash, "hash-1");
    assert_eq!(store.user_by_id(asha.id).await.unwrap(), Some(asha));
    let nobody = Email::parse("nobody@example.com").unwrap();
    assert!(store.user_by_email(&nobody).await.unwrap().is_none());
    assert!(store.user_by_id(Uuid::now_v7()).await.unwrap().is_none());
}

async fn a_taken_email_is_a_conflict(store: impl IdentityStore) {
    store
        .create_user(&user("dup@example.com"), "h", None)
        .await
        .unwrap();
    let err = store
        .create_user(&user("dup@example.com"), "h", None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

async fn roles_change_and_stamp_the_update(store: impl IdentityStore) {
    let vendor = user("vendor@example.com");
    store.create_user(&vendor, "h", None).await.unwrap();
    let later = vendor.updated_at + chrono::Duration::seconds(5);
    let changed = store
        .set_role(vendor.id, Role::Vendor, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((changed.role, changed.updated_at), (Role::Vendor, later));
    assert_eq!(
        store.user_by_id(vendor.id).await.unwrap().unwrap().role,
        Role::Vendor
    );
    assert!(
        store
            .set_role(Uuid::now_v7(), Role::Admin, later)
            .await
            .unwrap()
            .is_none()
    );
}

async fn refresh_tokens_rotate_once_and_reuse_revokes_the_family(store: impl IdentityStore) {
    let owner = user("rotate@example.com");
    store.create_user(&owner, "h", None).await.unwrap();
    let family = Uuid::now_v7();
    let day = chrono::Duration::days(1);
    store
        .insert_refresh(&refresh(owner.id, family, "t1", day))
        .await
        .unwrap();

    let second = refresh(Uuid::nil(), Uuid::nil(), "t2", day);
    let rotation = store.rotate_refresh("t1", second, now()).await.unwrap();
    assert_eq!(rotation, Rotation::Rotated { user_id: owner.id });

    // t1 is spent: presenting it again is reuse, and revokes t2 as well.
    let third = refresh(Uuid::nil(), Uuid::nil(), "t3", day);
    assert_eq!(
        store.rotate_refresh("t1", third, now()).await.unwrap(),
        Rotation::Reused
    );
    let fourth = refresh(Uuid::nil(), Uuid::nil(), "t4", day);
    assert_eq!(
        store.rotate_refresh("t2", fourth, now()).await.unwrap(),
        Rotation::Revoked
    );

    let fifth = refresh(Uuid::nil(), Uuid::nil(), "t5", day);
    assert_eq!(
        store.rotate_refresh("nope", fifth, now()).await.unwrap(),
        Rotation::Unknown
    );
}

async fn a_token_presented_twice_at_once_rotates_only_once(store: impl IdentityStore) {
    let owner = user("race@example.com");
    store.create_user(&owner, "h", None).await.unwrap();
    let day = chrono::Duration::days(1);
    store
        .insert_refresh(&refresh(owner.id, Uuid::now_v7(), "r1", day))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        store.rotate_refresh("r1", refresh(Uuid::nil(), Uuid::nil(), "ra", day), now()),
        store.rotate_refresh("r1", refresh(Uuid::nil(), Uuid::nil(), "rb", day), now()),
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| matches!(o, Rotation::Reused));
    assert_eq!(
        outcomes,
        [Rotation::Rotated { user_id: owner.id }, Rotation::Reused]
    );
}

async fn expired_refresh_tokens_do_not_rotate(store: impl IdentityStore) {
    let owner = user("expired@example.com");
    store.create_user(&owner, "h", None).await.unwrap();
    let expired = refresh(
        owner.id,
        Uuid::now_v7(),
        "old",
        chrono::Duration::seconds(-1),
    );
    store.insert_refresh(&expired).await.unwrap();
    let next = refresh(Uuid::nil(), Uuid::nil(), "new", chrono::Duration::days(1));
    assert_eq!(
        store.rotate_refresh("old", next, now()).await.unwrap(),
        Rotation::Expired
    );
}

async fn logout_revokes_every_token_of_the_family(store: impl IdentityStore) {
    let owner = user("logout@example.com");
    store.create_user(&owner, "h", None).await.unwrap();
    let family = Uuid::now_v7();
    let day = chrono::Duration::days(1);
    store
        .insert_refresh(&refresh(owner.id, family, "a1", day))
        .await
        .unwrap();
    let next = refresh(Uuid::nil(), Uuid::nil(), "a2", day);
    store.rotate_refresh("a1", next, now()).await.unwrap();
    store.revoke_family("a1", now()).await.unwrap();
    let after = refresh(Uuid::nil(), Uuid::nil(), "a3", day);
    assert_eq!(
        store.rotate_refresh("a2", after, now()).await.unwrap(),
        Rotation::Revoked
    );
    // Unknown tokens are ignored.
    store.revoke_family("never-issued", now()).await.unwrap();
}

async fn signing_keys_rotate_newest_first(store: impl IdentityStore) {
    let first = keys::generate(now() - chrono::Duration::minutes(1));
    store.rotate_signing_key(&first).await.unwrap();
    let second = keys::generate(now());
    store.rotate_signing_key(&second).await.unwrap();
    let stored = store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].kid, second.kid);
    assert_eq!(stored[0].seed, second.seed);
    assert_eq!(stored[0].retired_at, None);
    assert_eq!(stored[1].kid, first.kid);
    assert_eq!(stored[1].retired_at, Some(second.created_at));
}

async fn a_register_request_id_finds_the_user_it_created(store: impl IdentityStore) {
    let asha = user("idem@example.com");
    store.create_user(&asha, "h", Some("req-1")).await.unwrap();
    assert_eq!(store.user_by_request_id("req-1").await.unwrap(), Some(asha));
    assert_eq!(store.user_by_request_id("req-2").await.unwrap(), None);
    let other = user("other@example.com");
    let err = store
        .create_user(&other, "h", Some("req-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref what) if what == "request_id"),
        "{err:?}"
    );
}

async fn admins_are_known_once_one_exists(store: impl IdentityStore) {
    let someone = user("someone@example.com");
    store.create_user(&someone, "h", None).await.unwrap();
    assert!(!store.admin_exists().await.unwrap());
    store
        .set_role(someone.id, Role::Admin, now())
        .await
        .unwrap();
    assert!(store.admin_exists().await.unwrap());
}

async fn expired_refresh_tokens_are_purged(store: impl IdentityStore) {
    let owner = user("purge@example.com");
    store.create_user(&owner, "h", None).await.unwrap();
    let family = Uuid::now_v7();
    let old = refresh(owner.id, family, "old", chrono::Duration::seconds(-10));
    let live = refresh(owner.id, family, "live", chrono::Duration::days(1));
    store.insert_refresh(&old).await.unwrap();
    store.insert_refresh(&live).await.unwrap();
    assert_eq!(store.purge_expired_refresh(now()).await.unwrap(), 1);
    let next = refresh(Uuid::nil(), Uuid::nil(), "n", chrono::Duration::days(1));
    assert_eq!(
        store
            .rotate_refresh("old", next.clone(), now())
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert!(matches!(
        store.rotate_refresh("live", next, now()).await.unwrap(),
        Rotation::Rotated { .. }
    ));
}

// === AttemptCounter contract ===

async fn failures_count_up_within_a_window(counter: impl AttemptCounter, key: &str) {
    assert_eq!(counter.window(key).await.unwrap(), None);
    let window = Duration::from_secs(60);
    counter.record_attempt(key, window).await.unwrap();
    let second = counter.record_attempt(key, window).await.unwrap();
    assert_eq!(second.failures, 2);
    assert!(second.resets_in <= window && second.resets_in > Duration::from_secs(55));
    assert_eq!(counter.window(key).await.unwrap().unwrap().failures, 2);
    counter.reset(key).await.unwrap();
    assert_eq!(counter.window(key).await.unwrap(), None);
}

async fn a_forgiven_attempt_no_longer_counts(counter: impl AttemptCounter, key: &str) {
    counter.forgive(key).await.unwrap();
    assert_eq!(
        counter.window(key).await.unwrap(),
        None,
        "forgiving nothing creates nothing"
    );
    let window = Duration::from_secs(60);
    counter.record_attempt(key, window).await.unwrap();
    counter.record_attempt(key, window).await.unwrap();
    counter.forgive(key).await.unwrap();
    assert_eq!(counter.window(key).await.unwrap().unwrap().failures, 1);
    counter.forgive(key).await.unwrap();
    counter.forgive(key).await.unwrap();
    let floor = counter.window(key).await.unwrap().map_or(0, |w| w.failures);
    assert_eq!(floor, 0, "never below zero");
}

async fn windows_expire(counter: impl AttemptCounter, key: &str) {
    counter
        .record_attempt(key, Duration::from_millis(200))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(counter.window(key).await.unwrap(), None);
    let fresh = counter
        .record_attempt(key, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(fresh.failures, 1);
}

/// One `#[tokio::test]` per adapter for each contract case.
macro_rules! store_contract {
    ($($case:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $case() { super::$case(super::MemoryStore::default()).await; })*
        }
        mod postgres_store {
            $(#[tokio::test] async fn $case() {
                let url = mandi_testkit::fresh_database().await;
                super::$case(super::PgStore::connect(&url).await.expect("connect to PostgreSQL")).await;
            })*
        }
    };
}

macro_rules! attempts_contract {
    ($($case:ident),* $(,)?) => {
        mod memory_attempts {
            $(#[tokio::test] async fn $case() {
                super::$case(super::MemoryAttempts::default(), "account:a@example.com").await;
            })*
        }
        mod redis_attempts {
            $(#[tokio::test] async fn $case() {
                let (url, prefix) = mandi_testkit::redis_with_prefix().await;
                let counter = super::RedisAttempts::connect(&url, &prefix).await.expect("connect to Redis");
                super::$case(counter, "account:a@example.com").await;
            })*
        }
    };
}

store_contract!(
    users_are_found_by_email_and_id,
    a_taken_email_is_a_conflict,
    roles_change_and_stamp_the_update,
    refresh_tokens_rotate_once_and_reuse_revokes_the_family,
    a_token_presented_twice_at_once_rotates_only_once,
    expired_refresh_tokens_do_not_rotate,
    logout_revokes_every_token_of_the_family,
    signing_keys_rotate_newest_first,
    a_register_request_id_finds_the_user_it_created,
    admins_are_known_once_one_exists,
    expired_refresh_tokens_are_purged,
);

attempts_contract!(
    failures_count_up_within_a_window,
    a_forgiven_attempt_no_longer_counts,
    windows_expire
);
