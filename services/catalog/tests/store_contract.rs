//! One contract for the catalog's storage port, run against the in-memory twin and
//! MongoDB. The MongoDB cases run against the server at `MANDI_TEST_MONGO_URL` (CongoDB
//! from `make up` here), each in a database of its own that is dropped afterwards; they
//! fail when no server answers.
//!
//! CongoDB does not enforce unique indexes, so on it the conflict cases test the adapter's
//! own check-before-write; `real_mongodb_enforces_the_unique_slug_index_but_congodb_does_not`
//! shows the gap itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt;
use mandi_catalog::domain::{
    Category, Minor, NewCategory, Nutrition, Origin, Product, ProductInput, ProductStatus,
    RatingSummary, Review, StorageCondition, UnitOfSale,
};
use mandi_catalog::store::memory::MemoryStore;
use mandi_catalog::store::mongo::MongoStore;
use mandi_catalog::store::{
    CatalogStore, Cursor, ProductQuery, RequestRecord, StoreError, Written,
};
use mongodb::bson::{Document, doc};
use uuid::Uuid;

// === fixtures ===

fn now() -> DateTime<Utc> {
    // Whole milliseconds: what a BSON DateTime keeps.
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap()
}

/// A product with every field set, created at `at`.
fn product_at(slug: &str, at: DateTime<Utc>) -> Product {
    Product {
        id: Uuid::now_v7(),
        input: ProductInput {
            display_name: format!("Product {slug}"),
            slug: slug.into(),
            description: "Hand-picked at dawn.".into(),
            category_id: Uuid::now_v7(),
            vendor_id: "vendor-1".into(),
            unit_of_sale: UnitOfSale::Kilogram,
            // Past 32 bits on purpose: CongoDB hands such Int64s back as Doubles.
            price: Minor(3_000_000_000),
            compare_at_price: Some(Minor(4_000_000_000)),
            min_quantity: 250,
            max_quantity: 10_000,
            quantity_step: 250,
            unit_weight_grams: 0,
            image_urls: vec!["https://images.example.com/a.jpg".into()],
            origin: Origin {
                country_code: "IN".into(),
                region: "Ratnagiri".into(),
                local: true,
            },
            organic: true,
            season_months: vec![4, 5, 6],
            shelf_life_days: 7,
            storage_condition: StorageCondition::Chilled,
            nutrition: Some(Nutrition {
                energy_kcal: 60,
                protein_mg: 820,
                carbohydrate_mg: 15_000,
                sugar_mg: 13_700,
                fiber_mg: 1_600,
                fat_mg: 380,
                sodium_mg: 1,
                potassium_mg: 168,
                vitamin_c_ug: 36_400,
                vitamin_a_ug: 54,
            }),
            tags: vec!["seasonal".into(), "gi-tagged".into()],
            status: ProductStatus::Active,
        },
        rating: RatingSummary::default(),
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

fn product(slug: &str) -> Product {
    product_at(slug, now())
}

fn category(slug: &str, parent: Option<Uuid>) -> Category {
    let at = now();
    Category {
        id: Uuid::now_v7(),
        fields: NewCategory {
            display_name: format!("Category {slug}"),
            slug: slug.into(),
            parent_id: parent,
            description: "Fresh from the farm.".into(),
            image_url: String::new(),
            sort_order: 2,
        },
        created_at: at,
        updated_at: at,
    }
}

fn review_at(product: Uuid, author: &str, rating: i32, at: DateTime<Utc>) -> Review {
    Review {
        id: Uuid::now_v7(),
        product_id: product,
        author_id: author.into(),
        rating,
        title: "Sweet".into(),
        text: "Ripe and fragrant.".into(),
        created_at: at,
    }
}

fn sorted_ids<T>(items: &[T], id: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = items.iter().map(id).collect();
    ids.sort();
    ids
}

/// Pages through `list` with `page_size`, returning the pages.
async fn all_pages<T, F, Fut>(
    page_size: usize,
    key: impl Fn(&T) -> Cursor,
    mut list: F,
) -> Vec<Vec<T>>
where
    F: FnMut(Option<Cursor>, usize) -> Fut,
    Fut: Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(cursor, page_size).await.unwrap();
        assert!(
            page.len() <= page_size,
            "a page holds at most page_size items"
        );
        let Some(last) = page.last() else { break };
        cursor = Some(key(last));
        let full = page.len() == page_size;
        pages.push(page);
        if !full {
            break;
        }
        assert!(pages.len() < 100, "paging does not end");
    }
    pages
}

// === products ===

async fn products_are_found_by_id_and_in_batches_skipping_missing_ids(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    let mut walnut = product("kashmiri-walnuts");
    walnut.input.compare_at_price = None;
    walnut.input.nutrition = None;
    walnut.input.season_months = vec![];
    walnut.input.image_urls = vec![];
    store.insert_product(&mango, None).await.unwrap();
    store.insert_product(&walnut, None).await.unwrap();

    assert_eq!(store.product(mango.id).await.unwrap(), Some(mango.clone()));
    assert_eq!(
        store.product(walnut.id).await.unwrap(),
        Some(walnut.clone())
    );
    assert_eq!(store.product(Uuid::now_v7()).await.unwrap(), None);

    let batch = store
        .products(&[walnut.id, Uuid::now_v7(), mango.id])
        .await
        .unwrap();
    assert_eq!(batch.len(), 2);
    let mut expected = vec![mango.clone(), walnut.clone()];
    expected.sort_by_key(|p| p.id);
    let mut found = batch;
    found.sort_by_key(|p| p.id);
    assert_eq!(found, expected);
    assert!(store.products(&[]).await.unwrap().is_empty());
    assert!(store.products(&[Uuid::now_v7()]).await.unwrap().is_empty());
}

async fn every_product_is_returned_for_the_search_index(store: impl CatalogStore) {
    let stored: Vec<Product> = (0..4).map(|i| product(&format!("p-{i}"))).collect();
    for p in &stored {
        store.insert_product(p, None).await.unwrap();
    }
    let all = store.all_products().await.unwrap();
    assert_eq!(sorted_ids(&all, |p| p.id), sorted_ids(&stored, |p| p.id));
}

async fn preparing_twice_is_harmless(store: impl CatalogStore) {
    store.prepare().await.unwrap();
    store
        .insert_product(&product("still-works"), None)
        .await
        .unwrap();
}

async fn a_taken_slug_is_a_conflict(store: impl CatalogStore) {
    let first = product("alphonso-mango");
    store.insert_product(&first, None).await.unwrap();
    let second = product("alphonso-mango");
    let err = store.insert_product(&second, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    assert_eq!(
        store.product(second.id).await.unwrap(),
        None,
        "nothing stored"
    );

    // Replacing onto another product's slug is refused too; keeping one's own is fine.
    let other = product("banana");
    store.insert_product(&other, None).await.unwrap();
    let mut renamed = other.clone();
    renamed.input.slug = "alphonso-mango".into();
    renamed.version = 2;
    let err = store.replace_product(&renamed, 1).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    assert_eq!(store.product(other.id).await.unwrap(), Some(other));
}

async fn a_request_id_finds_the_product_it_created_and_is_not_reused(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    store.insert_product(&mango, Some("req-1")).await.unwrap();
    assert_eq!(
        store.product_by_request_id("req-1").await.unwrap(),
        Some(mango.clone())
    );
    assert_eq!(store.product_by_request_id("req-2").await.unwrap(), None);

    let err = store
        .insert_product(&product("another"), Some("req-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("request_id")), "{err:?}");
    // Products without a request id never collide with each other.
    store
        .insert_product(&product("no-key-1"), None)
        .await
        .unwrap();
    store
        .insert_product(&product("no-key-2"), None)
        .await
        .unwrap();

    // The key keeps finding the product after it changes.
    let mut changed = mango.clone();
    changed.input.display_name = "Alphonso Mango (GI)".into();
    changed.version = 2;
    assert_eq!(
        store.replace_product(&changed, 1).await.unwrap(),
        Written::Done
    );
    assert_eq!(
        store.product_by_request_id("req-1").await.unwrap(),
        Some(changed)
    );
}

async fn a_replace_needs_the_stored_version(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    store.insert_product(&mango, None).await.unwrap();

    let mut changed = mango.clone();
    changed.input.display_name = "Alphonso Mango (GI)".into();
    changed.input.price = Minor(99_000);
    changed.input.compare_at_price = None;
    changed.input.nutrition = None;
    changed.input.tags = vec![];
    changed.updated_at = mango.updated_at + Duration::seconds(3);
    changed.version = 2;
    assert_eq!(
        store.replace_product(&changed, 1).await.unwrap(),
        Written::Done
    );
    assert_eq!(
        store.product(mango.id).await.unwrap(),
        Some(changed.clone())
    );

    let mut stale = mango.clone();
    stale.version = 2;
    assert_eq!(
        store.replace_product(&stale, 1).await.unwrap(),
        Written::VersionMismatch { actual: 2 }
    );
    assert_eq!(store.product(mango.id).await.unwrap(), Some(changed));

    let missing = product("never-stored");
    assert_eq!(
        store.replace_product(&missing, 1).await.unwrap(),
        Written::NotFound
    );
    assert_eq!(store.product(missing.id).await.unwrap(), None);
}

async fn of_twenty_concurrent_replaces_of_one_version_exactly_one_wins(store: impl CatalogStore) {
    let store = Arc::new(store);
    let mango = product("alphonso-mango");
    store.insert_product(&mango, None).await.unwrap();

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(&store);
            let mut changed = mango.clone();
            changed.input.display_name = format!("Writer {i}");
            changed.version = 2;
            tokio::spawn(async move { (i, store.replace_product(&changed, 1).await.unwrap()) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (i, Written::Done) => winners.push(i),
            (_, outcome) => assert_eq!(outcome, Written::VersionMismatch { actual: 2 }),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = store.product(mango.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.input.display_name, format!("Writer {}", winners[0]));
}

async fn a_delete_checks_the_version_when_given_one(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    store.insert_product(&mango, None).await.unwrap();
    assert_eq!(
        store.delete_product(mango.id, Some(5)).await.unwrap(),
        Written::VersionMismatch { actual: 1 }
    );
    assert!(
        store.product(mango.id).await.unwrap().is_some(),
        "still there"
    );
    assert_eq!(
        store.delete_product(mango.id, Some(1)).await.unwrap(),
        Written::Done
    );
    assert_eq!(store.product(mango.id).await.unwrap(), None);
    assert_eq!(
        store.delete_product(mango.id, None).await.unwrap(),
        Written::NotFound
    );
    assert_eq!(
        store.delete_product(mango.id, Some(1)).await.unwrap(),
        Written::NotFound
    );

    let walnut = product("kashmiri-walnuts");
    store.insert_product(&walnut, None).await.unwrap();
    assert_eq!(
        store.delete_product(walnut.id, None).await.unwrap(),
        Written::Done
    );
    assert_eq!(store.product(walnut.id).await.unwrap(), None);
}

async fn listings_filter_by_category_vendor_and_status(store: impl CatalogStore) {
    let (fruit, nuts) = (Uuid::now_v7(), Uuid::now_v7());
    let base = now();
    let make = |n: i64, category: Uuid, vendor: &str, status: ProductStatus| {
        let mut p = product_at(&format!("p-{n}"), base + Duration::milliseconds(n));
        p.input.category_id = category;
        p.input.vendor_id = vendor.into();
        p.input.status = status;
        p
    };
    let p1 = make(1, fruit, "v1", ProductStatus::Active);
    let p2 = make(2, fruit, "v2", ProductStatus::Draft);
    let p3 = make(3, nuts, "v1", ProductStatus::Archived);
    let p4 = make(4, nuts, "v2", ProductStatus::Active);
    for p in [&p1, &p2, &p3, &p4] {
        store.insert_product(p, None).await.unwrap();
    }
    let list = |query: ProductQuery| {
        let store = &store;
        async move {
            let found = store.list_products(&query, None, 50).await.unwrap();
            found.into_iter().map(|p| p.id).collect::<Vec<_>>()
        }
    };

    assert_eq!(
        list(ProductQuery::default()).await,
        [p4.id, p3.id, p2.id, p1.id]
    );
    let by_category = ProductQuery {
        category_id: Some(fruit),
        ..Default::default()
    };
    assert_eq!(list(by_category).await, [p2.id, p1.id]);
    let by_vendor = ProductQuery {
        vendor_id: Some("v1".into()),
        ..Default::default()
    };
    assert_eq!(list(by_vendor).await, [p3.id, p1.id]);
    let active = ProductQuery {
        statuses: vec![ProductStatus::Active],
        ..Default::default()
    };
    assert_eq!(list(active).await, [p4.id, p1.id]);
    let hidden = ProductQuery {
        statuses: vec![ProductStatus::Draft, ProductStatus::Archived],
        ..Default::default()
    };
    assert_eq!(list(hidden).await, [p3.id, p2.id]);
    let combined = ProductQuery {
        category_id: Some(nuts),
        vendor_id: Some("v2".into()),
        statuses: vec![ProductStatus::Active],
    };
    assert_eq!(list(combined).await, [p4.id]);
    let nobody = ProductQuery {
        vendor_id: Some("v3".into()),
        ..Default::default()
    };
    assert!(list(nobody).await.is_empty());
    assert!(
        store
            .list_products(&ProductQuery::default(), None, 0)
            .await
            .unwrap()
            .is_empty(),
        "a zero limit is an empty page, not everything"
    );
}

async fn paging_newest_first_visits_every_product_exactly_once(store: impl CatalogStore) {
    let base = now();
    // Ties on created_at, so the id decides within them.
    let offsets = [0, 5, 5, 5, 9, 12, 12, 20];
    let mut stored: Vec<Product> = offsets
        .iter()
        .enumerate()
        .map(|(i, ms)| product_at(&format!("p-{i}"), base + Duration::milliseconds(*ms)))
        .collect();
    for p in stored.iter().rev() {
        store.insert_product(p, None).await.unwrap();
    }
    stored.sort_by_key(|p| std::cmp::Reverse((p.created_at, p.id)));

    let query = ProductQuery::default();
    let pages = all_pages(
        3,
        |p: &Product| (p.created_at, p.id),
        |after, limit| store.list_products(&query, after, limit),
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 2]);
    let seen: Vec<Product> = pages.into_iter().flatten().collect();
    assert_eq!(seen, stored);
}

// === categories ===

async fn categories_are_inserted_replaced_and_deleted(store: impl CatalogStore) {
    let fruit = category("fruit", None);
    let mangoes = category("mangoes", Some(fruit.id));
    store.insert_category(&fruit, None).await.unwrap();
    store
        .insert_category(&mangoes, Some("cat-1"))
        .await
        .unwrap();
    let all = store.categories().await.unwrap();
    let mut expected = vec![fruit.clone(), mangoes.clone()];
    expected.sort_by_key(|c| c.id);
    let mut found = all;
    found.sort_by_key(|c| c.id);
    assert_eq!(found, expected);
    assert_eq!(
        store.category_by_request_id("cat-1").await.unwrap(),
        Some(mangoes.clone())
    );
    assert_eq!(store.category_by_request_id("cat-2").await.unwrap(), None);

    let mut renamed = mangoes.clone();
    renamed.fields.display_name = "Mangoes of India".into();
    renamed.fields.slug = "indian-mangoes".into();
    renamed.fields.parent_id = None;
    renamed.updated_at = mangoes.updated_at + Duration::seconds(1);
    assert!(store.replace_category(&renamed).await.unwrap());
    assert_eq!(
        store.category_by_request_id("cat-1").await.unwrap(),
        Some(renamed.clone())
    );
    assert!(
        !store
            .replace_category(&category("nowhere", None))
            .await
            .unwrap()
    );

    assert!(store.delete_category(renamed.id).await.unwrap());
    assert!(!store.delete_category(renamed.id).await.unwrap());
    assert_eq!(store.categories().await.unwrap(), [fruit]);
}

async fn a_taken_category_slug_or_request_id_is_a_conflict(store: impl CatalogStore) {
    let fruit = category("fruit", None);
    store.insert_category(&fruit, Some("cat-1")).await.unwrap();
    let err = store
        .insert_category(&category("fruit", None), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    let err = store
        .insert_category(&category("vegetables", None), Some("cat-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("request_id")), "{err:?}");

    let veg = category("vegetables", None);
    store.insert_category(&veg, None).await.unwrap();
    let mut clash = veg.clone();
    clash.fields.slug = "fruit".into();
    let err = store.replace_category(&clash).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    assert_eq!(store.categories().await.unwrap().len(), 2);
}

async fn a_category_is_in_use_while_a_product_is_in_it(store: impl CatalogStore) {
    let fruit = category("fruit", None);
    let nuts = category("nuts", None);
    store.insert_category(&fruit, None).await.unwrap();
    store.insert_category(&nuts, None).await.unwrap();
    let mut mango = product("alphonso-mango");
    mango.input.category_id = fruit.id;
    store.insert_product(&mango, None).await.unwrap();

    assert!(store.category_in_use(fruit.id).await.unwrap());
    assert!(!store.category_in_use(nuts.id).await.unwrap());
    store.delete_product(mango.id, None).await.unwrap();
    assert!(!store.category_in_use(fruit.id).await.unwrap());
}

// === reviews ===

async fn an_author_reviews_a_product_once(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    let walnut = product("kashmiri-walnuts");
    store.insert_product(&mango, None).await.unwrap();
    store.insert_product(&walnut, None).await.unwrap();
    store
        .insert_review(&review_at(mango.id, "asha", 5, now()), None)
        .await
        .unwrap();
    let err = store
        .insert_review(&review_at(mango.id, "asha", 1, now()), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("author")), "{err:?}");
    assert_eq!(
        store.product(mango.id).await.unwrap().unwrap().rating,
        RatingSummary { count: 1, sum: 5 },
        "the refused review is not counted"
    );
    // The same author may review another product.
    store
        .insert_review(&review_at(walnut.id, "asha", 4, now()), None)
        .await
        .unwrap();
}

async fn ratings_accumulate_with_every_review(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    store.insert_product(&mango, None).await.unwrap();
    let mut summaries = Vec::new();
    for (author, stars) in [("asha", 5), ("ravi", 4), ("meera", 4)] {
        let summary = store
            .insert_review(&review_at(mango.id, author, stars, now()), None)
            .await
            .unwrap();
        summaries.push((summary.count, summary.sum));
    }
    assert_eq!(summaries, [(1, 5), (2, 9), (3, 13)]);
    let rating = store.product(mango.id).await.unwrap().unwrap().rating;
    assert_eq!(rating, RatingSummary { count: 3, sum: 13 });
    assert_eq!(rating.average_x100(), 433);

    let err = store
        .insert_review(&review_at(Uuid::now_v7(), "asha", 5, now()), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Failed(_)),
        "a review of no product: {err:?}"
    );
}

async fn the_first_record_of_a_mutation_key_wins(store: impl CatalogStore) {
    assert_eq!(store.recall_request("upd-1").await.unwrap(), None);
    let first = RequestRecord {
        key: "upd-1".into(),
        fingerprint: "UpdateProduct:aaa".into(),
        target: Uuid::now_v7(),
    };
    store.remember_request(&first).await.unwrap();
    let second = RequestRecord {
        fingerprint: "UpdateProduct:bbb".into(),
        ..first.clone()
    };
    store.remember_request(&second).await.unwrap();
    assert_eq!(store.recall_request("upd-1").await.unwrap(), Some(first));
}

async fn a_request_id_finds_the_review_it_created(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    store.insert_product(&mango, None).await.unwrap();
    let review = review_at(mango.id, "asha", 5, now());
    store.insert_review(&review, Some("rev-1")).await.unwrap();
    assert_eq!(
        store.review_by_request_id("rev-1").await.unwrap(),
        Some(review)
    );
    assert_eq!(store.review_by_request_id("rev-2").await.unwrap(), None);
    let err = store
        .insert_review(&review_at(mango.id, "ravi", 3, now()), Some("rev-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict("request_id")), "{err:?}");
    assert_eq!(
        store.product(mango.id).await.unwrap().unwrap().rating,
        RatingSummary { count: 1, sum: 5 }
    );
}

async fn reviews_list_newest_first_in_pages(store: impl CatalogStore) {
    let mango = product("alphonso-mango");
    let walnut = product("kashmiri-walnuts");
    store.insert_product(&mango, None).await.unwrap();
    store.insert_product(&walnut, None).await.unwrap();
    let base = now();
    let mut written = Vec::new();
    for (i, ms) in [0, 3, 3, 7, 7, 7, 11].into_iter().enumerate() {
        let review = review_at(
            mango.id,
            &format!("author-{i}"),
            5,
            base + Duration::milliseconds(ms),
        );
        store.insert_review(&review, None).await.unwrap();
        written.push(review);
    }
    store
        .insert_review(&review_at(walnut.id, "author-0", 3, base), None)
        .await
        .unwrap();
    written.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));

    let pages = all_pages(
        3,
        |r: &Review| (r.created_at, r.id),
        |after, limit| store.list_reviews(mango.id, after, limit),
    )
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
    let seen: Vec<Review> = pages.into_iter().flatten().collect();
    assert_eq!(seen, written);
    assert!(
        store
            .list_reviews(Uuid::now_v7(), None, 3)
            .await
            .unwrap()
            .is_empty()
    );
}

// === harness ===

/// Runs `case` on a [`MongoStore`] over a fresh database `mandi_test_<uuid>` (also handed
/// over directly, for the cases that go around the adapter), and drops the database
/// afterwards, even when the case fails.
async fn with_mongo<F, Fut>(case: F)
where
    F: FnOnce(MongoStore, mongodb::Database) -> Fut,
    Fut: Future<Output = ()>,
{
    let url = mandi_testkit::mongo_url();
    let name = format!("mandi_test_{}", Uuid::now_v7().simple());
    let store = MongoStore::connect(&url, &name).await.unwrap_or_else(|e| {
        panic!("MongoDB is not reachable at {url} ({e}); start it with `make up`")
    });
    store.prepare().await.expect("create the indexes");
    let client = mongodb::Client::with_uri_str(&url)
        .await
        .expect("a second client for direct access");
    let database = client.database(&name);
    let outcome = AssertUnwindSafe(case(store, database.clone()))
        .catch_unwind()
        .await;
    database
        .drop()
        .await
        .unwrap_or_else(|e| panic!("cannot drop test database {name}: {e}"));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn with_memory<F, Fut>(case: F)
where
    F: FnOnce(MemoryStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = MemoryStore::default();
    store.prepare().await.unwrap();
    case(store).await;
}

/// One `#[tokio::test]` per adapter for each contract case.
macro_rules! store_contract {
    ($($case:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $case() { super::with_memory(super::$case).await; })*
        }
        mod mongo_store {
            $(#[tokio::test] async fn $case() {
                super::with_mongo(|store, _| super::$case(store)).await;
            })*
        }
    };
}

store_contract!(
    products_are_found_by_id_and_in_batches_skipping_missing_ids,
    every_product_is_returned_for_the_search_index,
    preparing_twice_is_harmless,
    a_taken_slug_is_a_conflict,
    a_request_id_finds_the_product_it_created_and_is_not_reused,
    a_replace_needs_the_stored_version,
    of_twenty_concurrent_replaces_of_one_version_exactly_one_wins,
    a_delete_checks_the_version_when_given_one,
    listings_filter_by_category_vendor_and_status,
    paging_newest_first_visits_every_product_exactly_once,
    categories_are_inserted_replaced_and_deleted,
    a_taken_category_slug_or_request_id_is_a_conflict,
    a_category_is_in_use_while_a_product_is_in_it,
    an_author_reviews_a_product_once,
    ratings_accumulate_with_every_review,
    a_request_id_finds_the_review_it_created,
    reviews_list_newest_first_in_pages,
    the_first_record_of_a_mutation_key_wins,
);

// === MongoDB only ===

#[tokio::test]
async fn connecting_where_no_server_answers_is_unavailable() {
    let url = "mongodb://127.0.0.1:1/?directConnection=true&serverSelectionTimeoutMS=300";
    let err = MongoStore::connect(url, "mandi_test_nowhere")
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// The adapter checks slugs before writing because CongoDB accepts duplicates into a
/// unique index; a real MongoDB refuses them with E11000, which the adapter maps to the
/// same conflict when two writers race past the check.
#[tokio::test]
async fn real_mongodb_enforces_the_unique_slug_index_but_congodb_does_not() {
    with_mongo(|store, database| async move {
        store
            .insert_product(&product("walnuts"), None)
            .await
            .unwrap();
        let products = database.collection::<Document>("products");
        // Straight to the collection, past the adapter's check.
        let direct = products
            .insert_one(doc! { "id": Uuid::now_v7().to_string(), "slug": "walnuts" })
            .await;
        match direct {
            Ok(_) => {
                let copies = products
                    .count_documents(doc! { "slug": "walnuts" })
                    .await
                    .unwrap();
                assert_eq!(copies, 2, "the duplicate went in");
                println!(
                    "CongoDB gap: the unique index slug_unique is not enforced ({copies} \
                     documents share a slug); the adapter's check-before-write keeps slugs \
                     unique here, but two inserts racing past it would both land"
                );
            }
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains("11000") && message.contains("slug_unique"),
                    "a real MongoDB refuses the duplicate on slug_unique: {message}"
                );
                println!("this server enforces slug_unique: {message}");
            }
        }
        // Either way, through the adapter the slug is taken.
        let err = store
            .insert_product(&product("walnuts"), None)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict("slug")), "{err:?}");
    })
    .await;
}

/// Without transactions, a crash between storing a review and counting it leaves the
/// product's rating one review short; `recount_rating` rebuilds it from the reviews.
#[tokio::test]
async fn a_rating_left_short_by_a_crash_is_recounted_from_the_reviews() {
    with_mongo(|store, database| async move {
        let mango = product("alphonso-mango");
        store.insert_product(&mango, None).await.unwrap();
        for (author, stars) in [("asha", 5), ("ravi", 3)] {
            store
                .insert_review(&review_at(mango.id, author, stars, now()), None)
                .await
                .unwrap();
        }
        // What a crash after the review's insert and before its `$inc` leaves behind.
        database
            .collection::<Document>("products")
            .update_one(
                doc! { "id": mango.id.to_string() },
                doc! { "$inc": { "rating.count": -1_i64, "rating.sum": -3_i64 } },
            )
            .await
            .unwrap();
        assert_eq!(
            store.product(mango.id).await.unwrap().unwrap().rating,
            RatingSummary { count: 1, sum: 5 }
        );

        let repaired = store.recount_rating(mango.id).await.unwrap();
        assert_eq!(repaired, Some(RatingSummary { count: 2, sum: 8 }));
        assert_eq!(
            store.product(mango.id).await.unwrap().unwrap().rating,
            RatingSummary { count: 2, sum: 8 }
        );
        assert_eq!(store.recount_rating(Uuid::now_v7()).await.unwrap(), None);
    })
    .await;
}
