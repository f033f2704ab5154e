//! Test servers the way every end-to-end test wants them: a bootstrap admin, a checkout
//! service identity, cheap password hashing, and clients of them through the SDK.

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::identity::v1::IssueServiceTokenRequest;

use crate::ServerProcess;

/// The email that registers as admin on a test server (the first to register).
pub const ADMIN_EMAIL: &str = "root@mandi.example";
/// The client secret of the `checkout` service identity on a test server.
pub const CHECKOUT_SECRET: &str = "checkout-secret-for-tests-0123";

/// Starts `mandi-server --target=<target>` with the bootstrap admin, the checkout service
/// client (and its secret for checkout itself) and cheap argon2 (the tests are not about its cost), then `extra`, which wins
/// over those.
pub fn start(target: &str, extra: Vec<(&'static str, String)>) -> ServerProcess {
    let common = vec![
        ("MANDI_IDENTITY__ADMIN_EMAILS", ADMIN_EMAIL.to_owned()),
        (
            "MANDI_IDENTITY__SERVICE_CLIENTS",
            format!("checkout={CHECKOUT_SECRET}"),
        ),
        // The same secret for the checkout service when this server runs it.
        ("MANDI_CHECKOUT__CLIENT_SECRET", CHECKOUT_SECRET.to_owned()),
        ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024".to_owned()),
    ];
    let env: Vec<(&str, String)> = common.into_iter().chain(extra).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ServerProcess::start(target, &env)
}

/// identity's real backends: a fresh PostgreSQL database and a Redis key prefix of its own.
pub async fn real_identity() -> Vec<(&'static str, String)> {
    let database = crate::fresh_database().await;
    let (redis, prefix) = crate::redis_with_prefix().await;
    vec![
        ("MANDI_IDENTITY__DATABASE_URL", database),
        ("MANDI_IDENTITY__REDIS_URL", redis),
        ("MANDI_IDENTITY__REDIS_PREFIX", prefix),
    ]
}

/// A client of `server` without a token.
pub fn client(server: &ServerProcess) -> Mandi {
    Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .expect("a server URL is a valid endpoint")
}

/// A client of `server` signed in as the internal service `name`.
pub async fn service(server: &ServerProcess, name: &str, secret: &str) -> Mandi {
    let mandi = client(server);
    let token = mandi
        .identity()
        .issue_service_token(IssueServiceTokenRequest {
            service_name: name.into(),
            client_secret: secret.into(),
        })
        .await
        .unwrap_or_else(|status| panic!("service token for {name}: {status:?}"))
        .into_inner()
        .access_token;
    mandi
        .set_token(Some(token))
        .expect("an access token is a valid header");
    mandi
}

/// A client of `server` signed in as the checkout service.
pub async fn checkout(server: &ServerProcess) -> Mandi {
    service(server, "checkout", CHECKOUT_SECRET).await
}

/// Receives `quantity` of `product_id` into a new warehouse (a code of its own), expiring
/// in a week, as `admin`.
pub async fn stock(admin: &Mandi, product_id: &str, quantity: i64) {
    use mandi_sdk::proto::mandi::common::v1::Address;
    use mandi_sdk::proto::mandi::inventory::v1::{
        CreateWarehouseRequest, ReceiveStockRequest, Warehouse,
    };
    let id = uuid::Uuid::now_v7().simple().to_string();
    let warehouse = admin
        .inventory()
        .create_warehouse(CreateWarehouseRequest {
            warehouse: Some(Warehouse {
                // The random tail of the id: codes are upper-case letters and digits.
                code: format!("W-{}", id[24..].to_uppercase()),
                display_name: "Bengaluru North".into(),
                location: Some(Address {
                    line1: "1 Market Road".into(),
                    city: "Bengaluru".into(),
                    country_code: "IN".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("create a warehouse: {status:?}"))
        .into_inner()
        .warehouse
        .expect("a created warehouse");
    let in_a_week = prost_types::Timestamp::from(
        std::time::SystemTime::now() + std::time::Duration::from_secs(7 * 86_400),
    );
    admin
        .inventory()
        .receive_stock(ReceiveStockRequest {
            product_id: product_id.to_owned(),
            warehouse_id: warehouse.id,
            quantity,
            expire_time: Some(in_a_week),
            supplier_ref: "FARM-7".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("receive stock of {product_id}: {status:?}"));
}

/// The demo delivery zones with every slot taking `capacity` orders, written to a file of
/// its own for `MANDI_SHIPPING__ZONES_FILE`: 1 to fill a slot with one booking, many for
/// tests that book more orders into one slot than the demo allows.
pub fn zones_file(capacity: u32) -> std::path::PathBuf {
    const DEMO: &str = include_str!("../../../services/shipping/data/demo-zones.json");
    const KEY: &str = "\"capacity\": ";
    let mut zones = String::with_capacity(DEMO.len());
    let mut rest = DEMO;
    while let Some(at) = rest.find(KEY) {
        let (head, tail) = rest.split_at(at + KEY.len());
        zones.push_str(head);
        zones.push_str(&capacity.to_string());
        rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    zones.push_str(rest);
    let path = std::env::temp_dir().join(format!("mandi-zones-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(&path, zones).expect("the temporary directory is writable");
    path
}

/// The demo-catalog product with `slug`, found by searching for `query`.
pub async fn demo_product(
    mandi: &Mandi,
    query: &str,
    slug: &str,
) -> mandi_sdk::proto::mandi::catalog::v1::Product {
    use mandi_sdk::proto::mandi::catalog::v1::SearchProductsRequest;
    mandi
        .catalog()
        .search_products(SearchProductsRequest {
            query: query.into(),
            page_size: 20,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("search {query:?}: {status:?}"))
        .into_inner()
        .products
        .into_iter()
        .find(|p| p.slug == slug)
        .unwrap_or_else(|| panic!("the demo catalog has {slug}"))
}
