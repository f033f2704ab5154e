//! The catalog end to end through the SDK: browsing and searching the demo catalog on the
//! embedded default, and vendors, admins, shoppers, the cache and its outage on MongoDB
//! (CongoDB) and Redis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1::{
    CreateProductRequest, CreateReviewRequest, GetProductRequest, ListCategoriesRequest,
    ListProductsRequest, Product, ProductFilter, ProductStatus, Review, SearchProductsRequest,
    SuggestProductsRequest, UpdateProductRequest,
};
use mandi_sdk::proto::mandi::common::v1::{Money, UnitOfSale};
use mandi_sdk::proto::mandi::identity::v1::Role;
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::{sign_up, sign_up_as};
use mandi_testkit::status::bad_request_fields as fields;
use tonic::Code;

fn client(server: &ServerProcess) -> Mandi {
    Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap()
}

fn search(query: &str) -> SearchProductsRequest {
    SearchProductsRequest {
        query: query.into(),
        ..Default::default()
    }
}

/// The fields an INVALID_ARGUMENT names; fails when the call did not fail that way.
fn invalid_fields<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> Vec<String> {
    let err = result.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    fields(&err)
}

#[tokio::test]
async fn shoppers_browse_and_search_the_demo_catalog() {
    let server = ServerProcess::start("all", &[]);
    let mandi = client(&server);
    let categories = mandi
        .catalog()
        .list_categories(ListCategoriesRequest {
            parent_id: Some(String::new()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .categories;
    let top: Vec<&str> = categories.iter().map(|c| c.slug.as_str()).collect();
    assert!(
        top.contains(&"fruits") && top.contains(&"vegetables"),
        "{top:?}"
    );

    let mango = mandi
        .catalog()
        .search_products(search("alphonso mango"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mango.products[0].display_name, "Alphonso Mango");
    let typo = mandi
        .catalog()
        .search_products(search("bananna"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        typo.products
            .iter()
            .any(|p| p.display_name.contains("Banana")),
        "{:?}",
        typo.products
    );
    assert!(!mango.facets.is_empty());

    let suggestions = mandi
        .catalog()
        .suggest_products(SuggestProductsRequest {
            prefix: "alph".into(),
            max_suggestions: 5,
        })
        .await
        .unwrap()
        .into_inner()
        .suggestions;
    assert!(
        suggestions
            .iter()
            .any(|s| s.text.to_lowercase().contains("alphonso")),
        "{suggestions:?}"
    );

    // Paging through every active product returns each exactly once.
    let mut seen = HashSet::new();
    let mut token = String::new();
    loop {
        let page = mandi
            .catalog()
            .search_products(SearchProductsRequest {
                page_size: 7,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for product in &page.products {
            assert!(
                seen.insert(product.id.clone()),
                "{} twice",
                product.display_name
            );
            assert_eq!(product.status, ProductStatus::Active as i32);
        }
        if page.next_page_token.is_empty() {
            assert_eq!(seen.len() as i64, page.total_size);
            break;
        }
        token = page.next_page_token;
    }
    assert!(seen.len() >= 60, "{}", seen.len());
}

#[tokio::test]
async fn bad_catalog_requests_name_the_field() {
    let server = ServerProcess::start("all", &[]);
    let mandi = client(&server);
    let named = invalid_fields(
        mandi
            .catalog()
            .list_products(ListProductsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await,
    );
    assert_eq!(named, ["page_size"]);
    let named = invalid_fields(
        mandi
            .catalog()
            .search_products(SearchProductsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(named, ["page_token"]);
    let named = invalid_fields(
        mandi
            .catalog()
            .get_product(GetProductRequest {
                product_id: "nope".into(),
            })
            .await,
    );
    assert_eq!(named, ["product_id"]);
    let apples = mandi
        .catalog()
        .search_products(SearchProductsRequest {
            page_size: 1,
            ..search("apple")
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !apples.next_page_token.is_empty(),
        "more than one apple in the demo"
    );
    let named = invalid_fields(
        mandi
            .catalog()
            .search_products(SearchProductsRequest {
                page_size: 1,
                page_token: apples.next_page_token,
                ..search("mango")
            })
            .await,
    );
    assert_eq!(named, ["page_token"]);
    let named = invalid_fields(
        mandi
            .catalog()
            .batch_get_products(
                mandi_sdk::proto::mandi::catalog::v1::BatchGetProductsRequest {
                    product_ids: vec!["not-a-uuid".into()],
                },
            )
            .await,
    );
    assert_eq!(named, ["product_ids"]);
}

#[tokio::test]
async fn drafts_and_request_ids_stay_with_their_vendor() {
    let server = ServerProcess::start("all", &[]);
    let shopper = client(&server);
    let category = shopper
        .catalog()
        .list_categories(ListCategoriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .categories
        .remove(0);
    let owner = vendor(&server, "owner@example.com").await;
    let draft = owner
        .catalog()
        .create_product(CreateProductRequest {
            product: Some(Product {
                status: ProductStatus::Draft as i32,
                ..new_product(&category.id)
            }),
            request_id: "same-key".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let hidden = shopper
        .catalog()
        .get_product(GetProductRequest {
            product_id: draft.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);

    // Another vendor's request with the same key creates their own product: keys are
    // per caller, so it neither replays nor reveals the first vendor's draft.
    let other = vendor(&server, "other@example.com").await;
    let theirs = other
        .catalog()
        .create_product(CreateProductRequest {
            product: Some(Product {
                display_name: "Other Sapota".into(),
                ..new_product(&category.id)
            }),
            request_id: "same-key".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_ne!(theirs.id, draft.id);

    // The owner's retry with a different body under the same key is refused.
    let reused = owner
        .catalog()
        .create_product(CreateProductRequest {
            product: Some(Product {
                display_name: "Something else".into(),
                ..new_product(&category.id)
            }),
            request_id: "same-key".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (reused.code(), fields(&reused)),
        (Code::InvalidArgument, vec!["request_id".into()])
    );

    // Vendors cannot review their own products.
    let self_review = other
        .catalog()
        .create_review(CreateReviewRequest {
            review: Some(Review {
                product_id: theirs.id.clone(),
                rating: 5,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(self_review.code(), Code::PermissionDenied);
}

fn money(amount: i64) -> Option<Money> {
    Some(Money {
        currency_code: "INR".into(),
        amount_minor: amount,
    })
}

async fn vendor(server: &ServerProcess, email: &str) -> Mandi {
    let mandi = client(server);
    sign_up_as(&mandi, email, Role::Vendor).await;
    mandi
}

async fn start_real() -> ServerProcess {
    let (redis, prefix) = mandi_testkit::redis_with_prefix().await;
    start_real_with_cache(&redis, &prefix).await
}

/// identity and catalog on real backends; the catalog's cache at `cache_url`.
async fn start_real_with_cache(cache_url: &str, prefix: &str) -> ServerProcess {
    let database = mandi_testkit::fresh_database().await;
    let (redis, _) = mandi_testkit::redis_with_prefix().await;
    let mongo = mandi_testkit::mongo_url();
    let mongo_database = format!("mandi_test_{}", uuid::Uuid::now_v7().simple());
    let catalog_file = repo_file("services/catalog/data/demo-catalog.json");
    let env = [
        ("MANDI_IDENTITY__DATABASE_URL", database.as_str()),
        ("MANDI_IDENTITY__REDIS_URL", redis.as_str()),
        ("MANDI_IDENTITY__REDIS_PREFIX", prefix),
        ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024"),
        ("MANDI_IDENTITY__ADMIN_EMAILS", "root@mandi.example"),
        ("MANDI_CATALOG__MONGO_URL", mongo.as_str()),
        ("MANDI_CATALOG__MONGO_DATABASE", mongo_database.as_str()),
        ("MANDI_CATALOG__REDIS_URL", cache_url),
        ("MANDI_CATALOG__REDIS_PREFIX", prefix),
        ("MANDI_CATALOG__SEED_FILE", catalog_file.as_str()),
    ];
    ServerProcess::start("identity,catalog", &env)
}

fn repo_file(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

fn new_product(category_id: &str) -> Product {
    Product {
        display_name: "Test Sapota".into(),
        description: "Sweet chikoo from the test farm".into(),
        category_id: category_id.into(),
        unit_of_sale: UnitOfSale::Kilogram as i32,
        price: money(9_000),
        status: ProductStatus::Active as i32,
        tags: vec!["seasonal".into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn vendors_own_their_products_on_mongodb_with_a_fresh_cache() {
    let server = start_real().await;
    let shopper = client(&server);
    let category = shopper
        .catalog()
        .list_categories(ListCategoriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .categories
        .into_iter()
        .find(|c| c.slug == "tropical")
        .unwrap();
    let seller = vendor(&server, "seller@example.com").await;
    let created = seller
        .catalog()
        .create_product(CreateProductRequest {
            product: Some(new_product(&category.id)),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!((created.version, created.slug.as_str()), (1, "test-sapota"));

    // Read it once so the cache holds version 1, then change the price.
    let id = created.id.clone();
    let get = || GetProductRequest {
        product_id: id.clone(),
    };
    assert_eq!(
        shopper
            .catalog()
            .get_product(get())
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
            .version,
        1
    );
    let mask = |paths: &[&str]| {
        Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
    };
    let updated = seller
        .catalog()
        .update_product(UpdateProductRequest {
            product: Some(Product {
                id: id.clone(),
                price: money(8_500),
                ..Default::default()
            }),
            update_mask: mask(&["price"]),
            expected_version: 1,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(
        (updated.version, updated.price.clone().unwrap().amount_minor),
        (2, 8_500)
    );
    let read = shopper
        .catalog()
        .get_product(get())
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(
        read.price.unwrap().amount_minor,
        8_500,
        "no stale read after the update"
    );

    // A retry of the same update (same request_id) answers with the product, not ABORTED.
    let retried_update = || UpdateProductRequest {
        product: Some(Product {
            id: id.clone(),
            display_name: "Test Sapota Premium".into(),
            ..Default::default()
        }),
        update_mask: mask(&["display_name"]),
        expected_version: 2,
        request_id: "update-once".into(),
    };
    let first = seller
        .catalog()
        .update_product(retried_update())
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let again = seller
        .catalog()
        .update_product(retried_update())
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!((first.version, again.version), (3, 3));

    let stale = seller
        .catalog()
        .update_product(UpdateProductRequest {
            product: Some(Product {
                id: id.clone(),
                price: money(1),
                ..Default::default()
            }),
            update_mask: mask(&["price"]),
            expected_version: 1,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    let rival = vendor(&server, "rival@example.com").await;
    let denied = rival
        .catalog()
        .update_product(UpdateProductRequest {
            product: Some(Product {
                id: id.clone(),
                display_name: "Mine now".into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
            expected_version: 3,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let bad = seller
        .catalog()
        .create_product(CreateProductRequest {
            product: Some(Product {
                display_name: String::new(),
                price: Some(Money {
                    currency_code: "USD".into(),
                    amount_minor: -1,
                }),
                category_id: uuid::Uuid::now_v7().to_string(),
                ..new_product(&category.id)
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let named = fields(&bad);
    assert!(
        named.contains(&"product.price.currency_code".to_owned()),
        "{named:?}"
    );

    let customer = client(&server);
    sign_up(&customer, "eater@example.com").await;
    let review = || CreateReviewRequest {
        review: Some(Review {
            product_id: id.clone(),
            rating: 4,
            title: "Sweet".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    customer.catalog().create_review(review()).await.unwrap();
    let again = customer
        .catalog()
        .create_review(review())
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let rated = shopper
        .catalog()
        .get_product(get())
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let rating = rated.rating.unwrap();
    assert_eq!((rating.count, rating.average_x100), (1, 400));

    let found = shopper
        .catalog()
        .search_products(SearchProductsRequest {
            query: "sapota".into(),
            filter: Some(ProductFilter {
                category_id: category.parent_id.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        found.products.first().map(|p| p.id.as_str()),
        Some(id.as_str())
    );
}

// Multi-threaded: the proxy's tasks must run while the test thread waits for the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_cached_in_redis_and_survive_a_cache_outage() {
    let (redis, prefix) = mandi_testkit::redis_with_prefix().await;
    let upstream: std::net::SocketAddr = "127.0.0.1:6379".parse().unwrap();
    let proxy = mandi_testkit::TcpProxy::start(upstream).await;
    let server = start_real_with_cache(&format!("redis://{}", proxy.addr), &prefix).await;
    let shopper = client(&server);
    let product = shopper
        .catalog()
        .search_products(search("alphonso mango"))
        .await
        .unwrap()
        .into_inner()
        .products
        .remove(0);
    let get = || GetProductRequest {
        product_id: product.id.clone(),
    };
    shopper.catalog().get_product(get()).await.unwrap();

    let key = format!("{prefix}product:{}", product.id);
    let mut redis = redis::Client::open(redis.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let cached: bool = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(cached, "GetProduct filled the cache at {key}");

    proxy.cut();
    for _ in 0..3 {
        let read = shopper
            .catalog()
            .get_product(get())
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            read.product.unwrap().id,
            product.id,
            "reads fall back to MongoDB"
        );
    }
}

#[tokio::test]
async fn the_catalog_starts_and_serves_with_its_cache_down() {
    let (_, prefix) = mandi_testkit::redis_with_prefix().await;
    // Nothing listens on port 1.
    let server = start_real_with_cache("redis://127.0.0.1:1", &prefix).await;
    let found = client(&server)
        .catalog()
        .search_products(search("alphonso mango"))
        .await
        .unwrap()
        .into_inner();
    let product = found.products.first().unwrap();
    let read = client(&server)
        .catalog()
        .get_product(GetProductRequest {
            product_id: product.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.product.unwrap().display_name, "Alphonso Mango");
}
