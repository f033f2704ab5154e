//! One contract for every adapter of [`CheckoutStore`]: the in-memory twin and PostgreSQL
//! (a fresh database per case; PostgreSQL missing fails the tests, never skips them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use chrono::{Duration, Utc};
use mandi_checkout::domain::{
    CheckoutFilter, Delivery, Destination, PaymentMethod, Request, Saga, State, Step, Totals,
};
use mandi_checkout::store::memory::MemoryStore;
use mandi_checkout::store::postgres::PgStore;
use mandi_checkout::store::{CheckoutStore, Created, Cursor, StoreError};
use uuid::Uuid;

/// Opens the store of one case; opening again reaches the same data (a restart).
trait Backend: Send + Sync + 'static {
    type Store: CheckoutStore + Clone;
    fn open(&self) -> impl Future<Output = Self::Store> + Send;
}

struct Memory(MemoryStore);

impl Backend for Memory {
    type Store = MemoryStore;
    async fn open(&self) -> MemoryStore {
        self.0.clone()
    }
}

struct Postgres(String);

impl Backend for Postgres {
    type Store = PgStore;
    async fn open(&self) -> PgStore {
        PgStore::connect(&self.0).await.unwrap()
    }
}

fn now() -> chrono::DateTime<Utc> {
    use chrono::SubsecRound as _;
    Utc::now().trunc_subsecs(6)
}

fn saga(user: Uuid) -> Saga {
    Saga::pending(
        Request {
            id: Uuid::now_v7(),
            user_id: user,
            cart_id: "cart-1".into(),
            request_fingerprint: "f".into(),
            destination: Destination {
                line1: "12 MG Road".into(),
                city: "Bengaluru".into(),
                postal_code: "560001".into(),
                country_code: "IN".into(),
                recipient_name: "Asha".into(),
                recipient_phone: "+919812345678".into(),
                ..Default::default()
            },
            slot_id: "blr-central-20261124T0130Z".into(),
            // Kept with the saga, so a resumed saga books the same slot.
            delivery: Some(Delivery {
                slot_start: now(),
                slot_end: now() + Duration::hours(2),
                zone_id: "blr-central".into(),
                weight_grams: 3_000,
                cold_chain: true,
            }),
            method: PaymentMethod::Card,
            card_last4: "4242".into(),
            lines: Vec::new(),
            totals: Totals {
                currency: "INR".into(),
                subtotal: 10_000,
                delivery_fee: 2_500,
                tax: 0,
            },
        },
        now(),
    )
}

fn later(seconds: i64) -> chrono::DateTime<Utc> {
    now() + Duration::seconds(seconds)
}

/// `saga` advanced by one step and its version, as the orchestrator saves it.
fn advanced(mut saga: Saga, step: Step) -> Saga {
    saga.finish(step, "", now());
    saga.version += 1;
    saga.updated_at = now();
    saga
}

async fn created<S: CheckoutStore>(store: &S, saga: &Saga, owner: Uuid) -> Saga {
    match store.create(saga, owner, later(30)).await.unwrap() {
        Created::New(saga) => saga,
        Created::Existing(_) => panic!("a new id is new"),
    }
}

async fn a_created_saga_reads_back_whole_at_version_one_and_after_a_restart(backend: impl Backend) {
    let store = backend.open().await;
    let original = saga(Uuid::now_v7());
    let stored = created(&store, &original, Uuid::now_v7()).await;
    assert_eq!(stored.version, 1);
    let read = store.get(original.id).await.unwrap().unwrap();
    assert_eq!(
        read,
        Saga {
            version: 1,
            ..original.clone()
        }
    );
    let reopened = backend.open().await;
    assert_eq!(reopened.get(original.id).await.unwrap().unwrap(), read);
    assert!(store.get(Uuid::now_v7()).await.unwrap().is_none());
}

async fn creating_again_returns_the_stored_saga_unchanged(backend: impl Backend) {
    let store = backend.open().await;
    let first = created(&store, &saga(Uuid::now_v7()), Uuid::now_v7()).await;
    let mut other = saga(Uuid::now_v7());
    other.id = first.id;
    match store
        .create(&other, Uuid::now_v7(), later(30))
        .await
        .unwrap()
    {
        Created::Existing(existing) => assert_eq!(existing, first),
        Created::New(_) => panic!("the id was taken"),
    }
}

async fn concurrent_creates_of_one_id_store_one_saga(backend: impl Backend) {
    let store = backend.open().await;
    let template = saga(Uuid::now_v7());
    let tries = (0..10).map(|_| {
        let store = store.clone();
        let saga = template.clone();
        tokio::spawn(async move {
            store
                .create(&saga, Uuid::now_v7(), later(30))
                .await
                .unwrap()
        })
    });
    let outcomes = futures_join(tries).await;
    let new = outcomes
        .iter()
        .filter(|c| matches!(c, Created::New(_)))
        .count();
    assert_eq!(new, 1, "{outcomes:?}");
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

async fn a_save_from_a_stale_version_is_refused_and_changes_nothing(backend: impl Backend) {
    let store = backend.open().await;
    let owner = Uuid::now_v7();
    let v1 = created(&store, &saga(Uuid::now_v7()), owner).await;
    let v2 = advanced(v1.clone(), Step::CreateOrder);
    store.save(&v2, owner, later(30)).await.unwrap();
    let stale = advanced(v1, Step::CreateOrder);
    let err = store.save(&stale, owner, later(30)).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(id) if id == v2.id),
        "{err}"
    );
    let read = store.get(v2.id).await.unwrap().unwrap();
    assert_eq!(read, v2);
    assert_eq!(read.state, State::OrderCreated);
}

async fn of_concurrent_saves_from_one_version_exactly_one_wins(backend: impl Backend) {
    let store = backend.open().await;
    let v1 = created(&store, &saga(Uuid::now_v7()), Uuid::now_v7()).await;
    let saves = (0..8).map(|_| {
        let store = store.clone();
        let next = advanced(v1.clone(), Step::CreateOrder);
        tokio::spawn(async move { store.save(&next, Uuid::now_v7(), later(30)).await.is_ok() })
    });
    let won = futures_join(saves)
        .await
        .into_iter()
        .filter(|ok| *ok)
        .count();
    assert_eq!(won, 1);
    assert_eq!(store.get(v1.id).await.unwrap().unwrap().version, 2);
}

async fn unfinished_sagas_are_claimed_once_their_lease_ends_by_one_owner_and_finished_ones_never(
    backend: impl Backend,
) {
    let store = backend.open().await;
    let crashed = Uuid::now_v7();
    // One whose lease has ended, one still leased, one finished with an ended lease.
    let orphan = saga(Uuid::now_v7());
    store.create(&orphan, crashed, later(-1)).await.unwrap();
    let leased = saga(Uuid::now_v7());
    store.create(&leased, crashed, later(60)).await.unwrap();
    let mut done = saga(Uuid::now_v7());
    done.enter(State::Completed, "", now());
    store.create(&done, crashed, later(-1)).await.unwrap();

    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let claimed = store
        .claim_unfinished(first, now(), later(30), 100)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|s| s.id).collect::<Vec<_>>(),
        [orphan.id]
    );
    assert!(
        store
            .claim_unfinished(second, now(), later(30), 100)
            .await
            .unwrap()
            .is_empty(),
        "a claimed saga is leased to its new owner"
    );
    // The owner may claim its own again (a restart of its loop); saving keeps the lease.
    let again = store
        .claim_unfinished(first, now(), later(30), 100)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    let v2 = advanced(again[0].clone(), Step::CreateOrder);
    store.save(&v2, first, later(-1)).await.unwrap();
    let taken = store
        .claim_unfinished(second, now(), later(30), 100)
        .await
        .unwrap();
    assert_eq!(taken.iter().map(|s| s.id).collect::<Vec<_>>(), [orphan.id]);
    assert_eq!(taken[0].version, 2);
}

async fn listings_are_newest_first_paged_and_filtered(backend: impl Backend) {
    let store = backend.open().await;
    let (asha, ravi) = (Uuid::now_v7(), Uuid::now_v7());
    let owner = Uuid::now_v7();
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut s = saga(if i % 2 == 0 { asha } else { ravi });
        s.created_at = now() + Duration::milliseconds(i);
        if i == 4 {
            s.enter(State::Failed, "", s.created_at);
        }
        ids.push(s.id);
        store.create(&s, owner, later(30)).await.unwrap();
    }
    let all = store
        .list(&CheckoutFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|s| s.id).collect::<Vec<_>>(),
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    let first = store
        .list(&CheckoutFilter::default(), None, 2)
        .await
        .unwrap();
    let cursor = Cursor {
        created_at: first[1].created_at,
        id: first[1].id,
    };
    let rest = store
        .list(&CheckoutFilter::default(), Some(cursor), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[2], ids[1], ids[0]]
    );
    let mine = CheckoutFilter {
        user_id: Some(asha),
        ..Default::default()
    };
    assert_eq!(store.list(&mine, None, 10).await.unwrap().len(), 3);
    let failed = CheckoutFilter {
        states: vec![State::Failed],
        ..Default::default()
    };
    assert_eq!(
        store
            .list(&failed, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [ids[4]]
    );
    let stuck = CheckoutFilter {
        updated_before: Some(now() - Duration::hours(1)),
        ..Default::default()
    };
    assert!(store.list(&stuck, None, 10).await.unwrap().is_empty());
}

/// One `#[tokio::test]` per adapter for each contract case.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(super::Memory(Default::default())).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                super::$case(super::Postgres(mandi_testkit::fresh_database().await)).await;
            })*
        }
    };
}

contract!(
    a_created_saga_reads_back_whole_at_version_one_and_after_a_restart,
    creating_again_returns_the_stored_saga_unchanged,
    concurrent_creates_of_one_id_store_one_saga,
    a_save_from_a_stale_version_is_refused_and_changes_nothing,
    of_concurrent_saves_from_one_version_exactly_one_wins,
    unfinished_sagas_are_claimed_once_their_lease_ends_by_one_owner_and_finished_ones_never,
    listings_are_newest_first_paged_and_filtered,
);
