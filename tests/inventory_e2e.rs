//! inventory end to end through the SDK: warehouses, batches, availability and FEFO
//! reservations on real PostgreSQL behind identity, and a quick reserve/commit on the
//! embedded default.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1::{
    CreateProductRequest, ListCategoriesRequest, Product, ProductStatus,
};
use mandi_sdk::proto::mandi::common::v1::Address;
use mandi_sdk::proto::mandi::common::v1::{Money, UnitOfSale};
use mandi_sdk::proto::mandi::identity::v1::Role;
use mandi_sdk::proto::mandi::inventory::v1::{
    CommitRequest, CreateWarehouseRequest, GetAvailabilityRequest, GetStockPolicyRequest,
    ListBatchesRequest, ListLowStockRequest, ReceiveStockRequest, ReleaseRequest, ReservationLine,
    ReservationStatus, ReserveRequest, StockPolicy, UpdateStockPolicyRequest, Warehouse,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::{sign_up, sign_up_as};
use mandi_testkit::mesh::{self, ADMIN_EMAIL, CHECKOUT_SECRET, client, service};
use mandi_testkit::status::bad_request_fields as fields;
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

const CATALOG_SECRET: &str = "catalog-secret-for-tests-01234";
const DAY: i64 = 86_400;

fn start(target: &str, extra: Vec<(&'static str, String)>) -> ServerProcess {
    // A catalog service identity too, beside the checkout one every test server has.
    let clients = (
        "MANDI_IDENTITY__SERVICE_CLIENTS",
        format!("checkout={CHECKOUT_SECRET},catalog={CATALOG_SECRET}"),
    );
    mesh::start(target, std::iter::once(clients).chain(extra).collect())
}

async fn start_real() -> ServerProcess {
    let mut env = mesh::real_identity().await;
    env.extend([
        (
            "MANDI_INVENTORY__DATABASE_URL",
            mandi_testkit::fresh_database().await,
        ),
        // Catalog is not started: only admins and services call here, so it is never
        // asked who owns a product.
        (
            "MANDI_INVENTORY__CATALOG_ENDPOINT",
            "http://127.0.0.1:9".to_owned(),
        ),
    ]);
    start("identity,inventory", env)
}

async fn admin(server: &ServerProcess) -> Mandi {
    let mandi = client(server);
    sign_up(&mandi, ADMIN_EMAIL).await;
    mandi
}

fn seconds_from_now(seconds: i64) -> prost_types::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    prost_types::Timestamp {
        seconds: now + seconds,
        nanos: 0,
    }
}

async fn create_warehouse(admin: &Mandi, code: &str) -> String {
    admin
        .inventory()
        .create_warehouse(CreateWarehouseRequest {
            warehouse: Some(Warehouse {
                code: code.into(),
                display_name: "Bengaluru North".into(),
                location: Some(Address {
                    line1: "1 Market Road".into(),
                    city: "Bengaluru".into(),
                    country_code: "IN".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .warehouse
        .unwrap()
        .id
}

fn receive(
    product: Uuid,
    warehouse: &str,
    quantity: i64,
    expires_in_days: i64,
) -> ReceiveStockRequest {
    ReceiveStockRequest {
        product_id: product.to_string(),
        warehouse_id: warehouse.into(),
        quantity,
        expire_time: Some(seconds_from_now(expires_in_days * DAY)),
        supplier_ref: format!("FARM-{expires_in_days}"),
        request_id: Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

fn reserve(order: Uuid, product: Uuid, quantity: i64) -> ReserveRequest {
    ReserveRequest {
        order_id: order.to_string(),
        lines: vec![ReservationLine {
            product_id: product.to_string(),
            quantity,
        }],
        allow_split_warehouses: true,
        ..Default::default()
    }
}

async fn available(mandi: &Mandi, product: Uuid) -> i64 {
    mandi
        .inventory()
        .get_availability(GetAvailabilityRequest {
            product_id: product.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .availability
        .unwrap()
        .available_quantity
}

#[tokio::test]
async fn checkout_reserves_first_expiring_stock_and_never_more_than_is_there() {
    // Arrange: a warehouse with two batches of one product, the later-expiring received
    // first.
    let server = start_real().await;
    let admin = admin(&server).await;
    let warehouse = create_warehouse(&admin, "BLR-01").await;
    let product = Uuid::now_v7();
    let later = admin
        .inventory()
        .receive_stock(receive(product, &warehouse, 40, 10))
        .await
        .unwrap()
        .into_inner()
        .batch
        .unwrap();
    let sooner = admin
        .inventory()
        .receive_stock(receive(product, &warehouse, 25, 3))
        .await
        .unwrap()
        .into_inner()
        .batch
        .unwrap();
    let public = client(&server);
    assert_eq!(available(&public, product).await, 65);

    // A customer may read availability but not hold stock; nor may a service other than
    // checkout and order.
    let customer = client(&server);
    sign_up(&customer, "shopper@example.com").await;
    let denied = customer
        .inventory()
        .reserve(reserve(Uuid::now_v7(), product, 1))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let catalog = service(&server, "catalog", CATALOG_SECRET).await;
    let denied = catalog
        .inventory()
        .reserve(reserve(Uuid::now_v7(), product, 1))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Act: checkout reserves 30, which needs the whole sooner batch and 5 of the later.
    let checkout = service(&server, "checkout", CHECKOUT_SECRET).await;
    let order = Uuid::now_v7();
    let reservation = checkout
        .inventory()
        .reserve(reserve(order, product, 30))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(reservation.status, ReservationStatus::Active as i32);
    let allocations: Vec<(String, i64)> = reservation.lines[0]
        .allocations
        .iter()
        .map(|a| (a.batch_id.clone(), a.quantity))
        .collect();
    assert_eq!(
        allocations,
        [(sooner.id.clone(), 25), (later.id.clone(), 5)],
        "FEFO takes the sooner-expiring batch first"
    );
    assert_eq!(available(&public, product).await, 35);

    // The same call again returns the same reservation and holds nothing more.
    let again = checkout
        .inventory()
        .reserve(reserve(order, product, 30))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(again, reservation);
    assert_eq!(available(&public, product).await, 35);

    // More than is left fails with the short product named, and holds nothing.
    let short = checkout
        .inventory()
        .reserve(reserve(Uuid::now_v7(), product, 36))
        .await
        .unwrap_err();
    assert_eq!(short.code(), Code::FailedPrecondition);
    let details = short.get_error_details();
    assert_eq!(details.error_info().unwrap().reason, "INSUFFICIENT_STOCK");
    let violations = &details.precondition_failure().unwrap().violations;
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].r#type, "INSUFFICIENT_STOCK");
    assert_eq!(violations[0].subject, format!("products/{product}"));
    assert_eq!(violations[0].description, "requested 36, available 35");
    assert_eq!(available(&public, product).await, 35);

    // Commit sells the stock: on-hand drops, availability stays down.
    let committed = checkout
        .inventory()
        .commit(CommitRequest {
            order_id: order.to_string(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(committed.status, ReservationStatus::Committed as i32);
    assert_eq!(available(&public, product).await, 35);
    let on_hand: i64 = admin
        .inventory()
        .list_batches(ListBatchesRequest {
            product_id: product.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .batches
        .iter()
        .map(|b| b.on_hand_quantity)
        .sum();
    assert_eq!(on_hand, 35);

    // Releasing another order gives its stock back.
    let other = Uuid::now_v7();
    checkout
        .inventory()
        .reserve(reserve(other, product, 10))
        .await
        .unwrap();
    assert_eq!(available(&public, product).await, 25);
    let released = checkout
        .inventory()
        .release(ReleaseRequest {
            order_id: other.to_string(),
            reason: "payment declined".into(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(released.status, ReservationStatus::Released as i32);
    assert_eq!(released.release_reason, "payment declined");
    assert_eq!(available(&public, product).await, 35);
}

/// The product ids ListLowStock returns on its first page.
async fn listed_low(mandi: &Mandi) -> Result<Vec<String>, tonic::Status> {
    let page = mandi
        .inventory()
        .list_low_stock(ListLowStockRequest {
            page_size: 200,
            page_token: String::new(),
        })
        .await?
        .into_inner();
    Ok(page.products.into_iter().map(|a| a.product_id).collect())
}

async fn low_stock(mandi: &Mandi, product: Uuid) -> bool {
    mandi
        .inventory()
        .get_availability(GetAvailabilityRequest {
            product_id: product.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .availability
        .unwrap()
        .low_stock
}

#[tokio::test]
async fn a_product_policy_overrides_the_default_low_stock_threshold() {
    // Arrange: 15 units, above the default threshold of 10.
    let server = start_real().await;
    let admin = admin(&server).await;
    let warehouse = create_warehouse(&admin, "POL-01").await;
    let product = Uuid::now_v7();
    admin
        .inventory()
        .receive_stock(receive(product, &warehouse, 15, 6))
        .await
        .unwrap();
    let public = client(&server);
    let defaults = admin
        .inventory()
        .get_stock_policy(GetStockPolicyRequest {
            product_id: product.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(
        (
            defaults.low_stock_threshold,
            defaults.expiry_warning_days,
            defaults.update_time
        ),
        (10, 3, None)
    );
    assert!(!low_stock(&public, product).await);
    assert!(
        !listed_low(&admin)
            .await
            .unwrap()
            .contains(&product.to_string())
    );

    // Act: raise the threshold to 20, leaving the expiry warning alone.
    let update = UpdateStockPolicyRequest {
        policy: Some(StockPolicy {
            product_id: product.to_string(),
            low_stock_threshold: 20,
            expiry_warning_days: 99,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["low_stock_threshold".into()],
        }),
        request_id: Uuid::now_v7().to_string(),
    };
    let updated = admin
        .inventory()
        .update_stock_policy(update.clone())
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();

    // Assert: the new threshold is kept and flips low_stock; the masked-out field is not.
    assert_eq!(updated.name, format!("stockPolicies/{product}"));
    assert_eq!(
        (updated.low_stock_threshold, updated.expiry_warning_days),
        (20, 3)
    );
    assert!(updated.update_time.is_some());
    let read = admin
        .inventory()
        .get_stock_policy(GetStockPolicyRequest {
            product_id: product.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .policy
        .unwrap();
    assert_eq!(read, updated);
    assert!(low_stock(&public, product).await);
    assert!(
        listed_low(&admin)
            .await
            .unwrap()
            .contains(&product.to_string())
    );

    // A customer may not change policies, and an output-only path is refused.
    let customer = client(&server);
    sign_up(&customer, "policy-shopper@example.com").await;
    let denied = customer
        .inventory()
        .update_stock_policy(update.clone())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(
        listed_low(&customer).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let output_only = admin
        .inventory()
        .update_stock_policy(UpdateStockPolicyRequest {
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["update_time".into()],
            }),
            request_id: String::new(),
            ..update
        })
        .await
        .unwrap_err();
    assert_eq!(
        (output_only.code(), fields(&output_only)),
        (Code::InvalidArgument, vec!["update_mask".into()])
    );
}

#[tokio::test]
async fn a_retried_receipt_creates_one_batch_and_a_reused_key_is_refused() {
    // Arrange
    let server = start_real().await;
    let admin = admin(&server).await;
    let warehouse = create_warehouse(&admin, "IDM-01").await;
    let product = Uuid::now_v7();
    let receipt = receive(product, &warehouse, 30, 5);

    // Act: the same receipt twice, then the same key with another quantity.
    let first = admin
        .inventory()
        .receive_stock(receipt.clone())
        .await
        .unwrap()
        .into_inner()
        .batch
        .unwrap();
    let retried = admin
        .inventory()
        .receive_stock(receipt.clone())
        .await
        .unwrap()
        .into_inner()
        .batch
        .unwrap();
    let reused = admin
        .inventory()
        .receive_stock(ReceiveStockRequest {
            quantity: 31,
            ..receipt
        })
        .await
        .unwrap_err();

    // Assert
    assert_eq!(retried.id, first.id);
    let batches = admin
        .inventory()
        .list_batches(ListBatchesRequest {
            product_id: product.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .batches;
    assert_eq!(batches.len(), 1);
    assert_eq!(available(&client(&server), product).await, 30);
    assert_eq!(
        (reused.code(), fields(&reused)),
        (Code::InvalidArgument, vec!["request_id".into()])
    );
}

#[tokio::test]
async fn bad_inventory_requests_name_the_field() {
    let server = start_real().await;
    let admin = admin(&server).await;
    let warehouse = create_warehouse(&admin, "DEL-01").await;
    let product = Uuid::now_v7();
    let checkout = service(&server, "checkout", CHECKOUT_SECRET).await;

    let zero = admin
        .inventory()
        .receive_stock(receive(product, &warehouse, 0, 5))
        .await
        .unwrap_err();
    assert_eq!(
        (zero.code(), fields(&zero)),
        (Code::InvalidArgument, vec!["quantity".into()])
    );
    let past = admin
        .inventory()
        .receive_stock(receive(product, &warehouse, 5, -1))
        .await
        .unwrap_err();
    assert_eq!(
        (past.code(), fields(&past)),
        (Code::InvalidArgument, vec!["expire_time".into()])
    );
    let unknown = admin
        .inventory()
        .receive_stock(receive(product, &Uuid::now_v7().to_string(), 5, 5))
        .await
        .unwrap_err();
    assert_eq!(
        (unknown.code(), fields(&unknown)),
        (Code::InvalidArgument, vec!["warehouse_id".into()])
    );
    let malformed = admin
        .inventory()
        .receive_stock(receive(product, "not-a-uuid", 5, 5))
        .await
        .unwrap_err();
    assert_eq!(
        (malformed.code(), fields(&malformed)),
        (Code::InvalidArgument, vec!["warehouse_id".into()])
    );
    let negative = checkout
        .inventory()
        .reserve(reserve(Uuid::now_v7(), product, -3))
        .await
        .unwrap_err();
    assert_eq!(
        (negative.code(), fields(&negative)),
        (Code::InvalidArgument, vec!["lines[0].quantity".into()])
    );
    let bad_order = checkout
        .inventory()
        .reserve(ReserveRequest {
            order_id: "order-7".into(),
            ..reserve(Uuid::now_v7(), product, 1)
        })
        .await
        .unwrap_err();
    assert_eq!(
        (bad_order.code(), fields(&bad_order)),
        (Code::InvalidArgument, vec!["order_id".into()])
    );
}

#[tokio::test]
async fn the_embedded_default_reserves_and_commits() {
    let server = start("all", vec![]);
    let admin = admin(&server).await;
    let warehouse = create_warehouse(&admin, "EMB-01").await;
    let product = Uuid::now_v7();
    admin
        .inventory()
        .receive_stock(receive(product, &warehouse, 12, 4))
        .await
        .unwrap();
    let checkout = service(&server, "checkout", CHECKOUT_SECRET).await;
    let order = Uuid::now_v7();

    checkout
        .inventory()
        .reserve(reserve(order, product, 5))
        .await
        .unwrap();
    let committed = checkout
        .inventory()
        .commit(CommitRequest {
            order_id: order.to_string(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();

    assert_eq!(committed.status, ReservationStatus::Committed as i32);
    assert_eq!(available(&client(&server), product).await, 7);
}

async fn vendor(server: &ServerProcess, email: &str) -> Mandi {
    let mandi = client(server);
    sign_up_as(&mandi, email, Role::Vendor).await;
    mandi
}

#[tokio::test]
async fn vendors_stock_only_their_own_products_on_the_embedded_default() {
    let server = start("all", vec![]);
    let admin = admin(&server).await;
    let warehouse = create_warehouse(&admin, "BLR-VENDOR").await;
    let category = client(&server)
        .catalog()
        .list_categories(ListCategoriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .categories
        .remove(0);
    let owner = vendor(&server, "owner@example.com").await;
    // A draft: hidden from anonymous callers, so inventory must ask as the vendor.
    let product = owner
        .catalog()
        .create_product(CreateProductRequest {
            product: Some(Product {
                display_name: "Vendor Sapota".into(),
                description: "Sweet chikoo from the vendor's farm".into(),
                category_id: category.id.clone(),
                unit_of_sale: UnitOfSale::Kilogram as i32,
                price: Some(Money {
                    currency_code: "INR".into(),
                    amount_minor: 9_000,
                }),
                status: ProductStatus::Draft as i32,
                ..Default::default()
            }),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let product_id: Uuid = product.id.parse().unwrap();

    let batch = owner
        .inventory()
        .receive_stock(receive(product_id, &warehouse, 20, 5))
        .await
        .unwrap()
        .into_inner()
        .batch
        .unwrap();
    assert_eq!(batch.product_id, product.id);
    let listed = owner
        .inventory()
        .list_batches(ListBatchesRequest {
            product_id: product.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .batches;
    assert_eq!(listed.len(), 1);

    // The owner raises their threshold above the 20 on hand: the product is now low, in
    // their own list and in nobody else's.
    owner
        .inventory()
        .update_stock_policy(UpdateStockPolicyRequest {
            policy: Some(StockPolicy {
                product_id: product.id.clone(),
                low_stock_threshold: 25,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["low_stock_threshold".into()],
            }),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    let low = |mandi: Mandi| async move {
        mandi
            .inventory()
            .list_low_stock(ListLowStockRequest::default())
            .await
            .unwrap()
            .into_inner()
            .products
            .into_iter()
            .map(|a| a.product_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(low(owner.clone()).await, vec![product.id.clone()]);

    let other = vendor(&server, "other@example.com").await;
    assert!(low(other.clone()).await.is_empty());
    let denied = other
        .inventory()
        .receive_stock(receive(product_id, &warehouse, 5, 5))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert_eq!(
        denied.get_error_details().error_info().unwrap().reason,
        "NOT_OWNER"
    );
    let unfiltered = other
        .inventory()
        .list_batches(ListBatchesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(unfiltered.code(), Code::PermissionDenied, "{unfiltered:?}");

    let customer = client(&server);
    sign_up(&customer, "shopper@example.com").await;
    let refused = customer
        .inventory()
        .receive_stock(receive(product_id, &warehouse, 5, 5))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
}
