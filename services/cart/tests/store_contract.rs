//! One contract for the cart store, run against the in-memory twin and real Redis (a
//! fresh key prefix per case). The Redis cases fail when the server is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use mandi_cart::domain::{Cart, CartId, RequestRecord};
use mandi_cart::store::memory::MemoryStore;
use mandi_cart::store::redis::RedisStore;
use mandi_cart::store::{CartStore, Expect, Outcome, Write};

const TTL: Duration = Duration::from_secs(3600);

fn user_cart(user: &str) -> Cart {
    Cart::new(Some(user.into()), Utc::now(), chrono::Duration::days(30))
}

fn guest_cart() -> Cart {
    Cart::new(None, Utc::now(), chrono::Duration::days(30))
}

fn create(cart: &Cart) -> Write<'_> {
    Write {
        cart,
        expect: Expect::Absent,
        owner_expect: cart.user_id.as_ref().map(|_| None),
        delete: None,
        request: None,
        ttl: TTL,
    }
}

async fn saved(store: &impl CartStore, write: Write<'_>) {
    assert_eq!(store.write(write).await.unwrap(), Outcome::Saved);
}

async fn a_new_cart_reads_back_as_written<S: CartStore>(store: S) {
    let cart = guest_cart();
    saved(&store, create(&cart)).await;
    let loaded = store.load(&cart.id).await.unwrap().unwrap();
    assert_eq!(loaded.cart, cart);
    assert!(store.load(&CartId::random()).await.unwrap().is_none());
}

async fn a_write_from_a_stale_read_conflicts_and_changes_nothing<S: CartStore>(store: S) {
    let mut cart = guest_cart();
    saved(&store, create(&cart)).await;
    let first = store.load(&cart.id).await.unwrap().unwrap();
    cart.touch(Utc::now(), chrono::Duration::days(30));
    saved(
        &store,
        Write {
            expect: Expect::At(first.revision.clone()),
            ..create(&cart)
        },
    )
    .await;
    let after_first = store.load(&cart.id).await.unwrap().unwrap();

    let mut stale = first.cart.clone();
    stale.lines.clear();
    stale.user_id = None;
    stale.touch(
        Utc::now() + chrono::Duration::seconds(5),
        chrono::Duration::days(1),
    );
    let outcome = store
        .write(Write {
            expect: Expect::At(first.revision),
            ..create(&stale)
        })
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Conflict);
    assert_eq!(
        store.load(&cart.id).await.unwrap().unwrap().cart,
        after_first.cart
    );
    // Creating over an existing cart conflicts too.
    assert_eq!(store.write(create(&cart)).await.unwrap(), Outcome::Conflict);
}

async fn a_user_has_one_cart_found_through_the_index<S: CartStore>(store: S) {
    let user = format!("user-{}", uuid::Uuid::now_v7());
    let cart = user_cart(&user);
    assert_eq!(store.cart_of(&user).await.unwrap(), None);
    saved(&store, create(&cart)).await;
    assert_eq!(store.cart_of(&user).await.unwrap(), Some(cart.id.clone()));
    // A second first cart for the same user loses: the index is taken.
    let rival = user_cart(&user);
    assert_eq!(
        store.write(create(&rival)).await.unwrap(),
        Outcome::Conflict
    );
    assert!(store.load(&rival.id).await.unwrap().is_none());
    assert_eq!(store.cart_of(&user).await.unwrap(), Some(cart.id.clone()));
}

async fn a_merge_writes_the_user_cart_and_deletes_the_guest_cart_together<S: CartStore>(store: S) {
    let guest = guest_cart();
    saved(&store, create(&guest)).await;
    let guest_read = store.load(&guest.id).await.unwrap().unwrap();
    let user = user_cart("merging-user");

    // The guest cart changed since it was read: nothing happens.
    let mut changed = guest.clone();
    changed.touch(
        Utc::now() + chrono::Duration::seconds(1),
        chrono::Duration::days(30),
    );
    saved(
        &store,
        Write {
            expect: Expect::At(guest_read.revision.clone()),
            ..create(&changed)
        },
    )
    .await;
    let outcome = store
        .write(Write {
            delete: Some((&guest.id, guest_read.revision)),
            ..create(&user)
        })
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Conflict);
    assert!(store.load(&user.id).await.unwrap().is_none());
    assert!(store.load(&guest.id).await.unwrap().is_some());

    let fresh = store.load(&guest.id).await.unwrap().unwrap();
    saved(
        &store,
        Write {
            delete: Some((&guest.id, fresh.revision)),
            ..create(&user)
        },
    )
    .await;
    assert!(store.load(&guest.id).await.unwrap().is_none());
    assert!(store.load(&user.id).await.unwrap().is_some());
}

async fn a_recorded_request_is_replayed_instead_of_applied_again<S: CartStore>(store: S) {
    let cart = guest_cart();
    let record = RequestRecord {
        key: format!("guest/{}", uuid::Uuid::now_v7()),
        fingerprint: "AddItem:abc".into(),
        cart_id: cart.id.clone(),
    };
    saved(
        &store,
        Write {
            request: Some(&record),
            ..create(&cart)
        },
    )
    .await;
    assert_eq!(
        store.recall(&record.key).await.unwrap(),
        Some(record.clone())
    );
    let other = guest_cart();
    let outcome = store
        .write(Write {
            request: Some(&record),
            ..create(&other)
        })
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Replayed(record));
    assert!(store.load(&other.id).await.unwrap().is_none());
    assert_eq!(store.recall("guest/never-used").await.unwrap(), None);
}

async fn carts_and_the_user_index_expire_after_their_ttl<S: CartStore>(store: S) {
    let user = format!("user-{}", uuid::Uuid::now_v7());
    let cart = user_cart(&user);
    saved(
        &store,
        Write {
            ttl: Duration::from_millis(300),
            ..create(&cart)
        },
    )
    .await;
    assert!(store.load(&cart.id).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(store.load(&cart.id).await.unwrap().is_none());
    assert_eq!(store.cart_of(&user).await.unwrap(), None);
}

async fn a_change_pushes_the_expiry_out<S: CartStore>(store: S) {
    let mut cart = guest_cart();
    saved(
        &store,
        Write {
            ttl: Duration::from_millis(500),
            ..create(&cart)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let read = store.load(&cart.id).await.unwrap().unwrap();
    cart.touch(Utc::now(), chrono::Duration::days(30));
    saved(
        &store,
        Write {
            expect: Expect::At(read.revision),
            ttl: Duration::from_secs(5),
            ..create(&cart)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store.load(&cart.id).await.unwrap().is_some(),
        "the change refreshed the TTL"
    );
}

async fn redis() -> RedisStore {
    let (url, prefix) = mandi_testkit::redis_with_prefix().await;
    RedisStore::connect(&url, &prefix).await.unwrap()
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(MemoryStore::default()).await;
                }
            )*
        }
        mod on_redis {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(redis().await).await;
                }
            )*
        }
    };
}

contract!(
    a_new_cart_reads_back_as_written,
    a_write_from_a_stale_read_conflicts_and_changes_nothing,
    a_user_has_one_cart_found_through_the_index,
    a_merge_writes_the_user_cart_and_deletes_the_guest_cart_together,
    a_recorded_request_is_replayed_instead_of_applied_again,
    carts_and_the_user_index_expire_after_their_ttl,
    a_change_pushes_the_expiry_out,
);
