//! GetCart of a 20-line cart through the whole server stack (auth, tracing, metrics, load
//! shedding, the cart service: one Redis GET, decoding, pricing, tax and the line checks)
//! beside a raw Redis GET of the same key, with the same concurrency, rounds interleaved
//! in the same run so the shared machine's noise hits both alike. Catalog and inventory
//! answer from in-process tables here, so the figure is the cart's own cost.
//!
//! A third row, GetCart without a cart, is the stack alone. Needs Redis
//! (`MANDI_TEST_REDIS_URL`, default redis://127.0.0.1:6379). Run with
//! `make bench`.

use std::sync::Arc;
use std::time::Duration;

use mandi_cart::domain::{LineCaps, Product, TaxRates, Unit};
use mandi_cart::grpc::{CartGrpc, POLICIES};
use mandi_cart::peers::fixed::{FixedCatalog, FixedInventory};
use mandi_cart::service::{Actor, CartService, Settings};
use mandi_cart::store::redis::RedisStore;
use mandi_runtime::auth::TokenVerifier;
use mandi_runtime::server::{Module, ServerConfig, serve};
use mandi_sdk::proto::mandi::cart::v1::GetCartRequest;
use mandi_sdk::proto::mandi::cart::v1::cart_service_client::CartServiceClient;
use mandi_sdk::proto::mandi::cart::v1::cart_service_server::CartServiceServer;
use mandi_testkit::bench::{Run, median, round};
use prost::Message as _;
use uuid::Uuid;

const LINES: usize = 20;
const CONCURRENCY: usize = 32;
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 5;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(get_cart_vs_raw_redis_get())
}

fn product(n: usize) -> Product {
    Product {
        id: Uuid::now_v7(),
        display_name: format!("Bench produce {n}"),
        image_url: format!("https://images.example.com/produce-{n}.jpg"),
        vendor_id: "vendor-bench".into(),
        category_id: "category-bench".into(),
        category_path: vec!["nuts".into(), "dry-fruits-nuts".into()],
        unit: if n.is_multiple_of(2) {
            Unit::Kilogram
        } else {
            Unit::Piece
        },
        price_minor: 4_000 + n as i64 * 150,
        currency: "INR".into(),
        min_quantity: 0,
        max_quantity: 0,
        quantity_step: 0,
        on_sale: true,
    }
}

async fn get_cart_vs_raw_redis_get() -> Result<(), BoxError> {
    let (url, prefix) = mandi_testkit::redis_with_prefix().await;
    let store = RedisStore::connect(&url, &prefix).await?;
    let (catalog, inventory) = (FixedCatalog::default(), FixedInventory::default());
    let settings = Settings {
        ttl: Duration::from_secs(3600),
        currency: "INR".into(),
        tax_rates: TaxRates::parse(mandi_cart::DEFAULT_TAX_RATES)?,
        caps: LineCaps::default(),
    };
    let service = Arc::new(CartService::new(
        Arc::new(store.clone()),
        catalog.clone(),
        inventory.clone(),
        settings,
    ));

    // A guest cart of 20 lines.
    let guest = Actor {
        user: None,
        privileged: false,
    };
    let mut cart_id = None;
    for n in 0..LINES {
        let product = product(n);
        catalog.set(product.id, product.clone());
        inventory.set(product.id, 100_000);
        let quantity = if product.unit == Unit::Kilogram {
            750
        } else {
            2
        };
        let cart = service
            .add(&guest, cart_id.as_ref(), product.id, quantity, None)
            .await?
            .ok_or("the first add stores the cart")?;
        cart_id = Some(cart.cart.id);
    }
    let cart_id = cart_id.ok_or("a cart was made")?;
    let key = store.cart_key(&cart_id);

    // The full mandi server on a free port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServerConfig::from_env(&mandi_runtime::config::Env::default())?;
    let verifier = Arc::new(TokenVerifier::new(Arc::new(|| {
        Box::pin(async { Ok(Vec::new()) })
    })));
    let module = Module::new(
        CartServiceServer::new(CartGrpc::new(service, "INR".into())),
        POLICIES,
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(
            &config,
            vec![module],
            verifier,
            listener,
            admin_listener,
            async {
                let _ = stop_rx.await;
            },
        )
        .await
    });

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await?;
    let client = CartServiceClient::new(channel);
    let request = GetCartRequest {
        cart_id: cart_id.to_string(),
    };
    let reply = client
        .clone()
        .get_cart(request.clone())
        .await?
        .into_inner()
        .cart
        .ok_or("GetCart answers with a cart")?;
    assert_eq!(reply.items.len(), LINES);
    assert!(reply.verified);
    let redis = redis::aio::ConnectionManager::new(redis::Client::open(url.as_str())?).await?;
    let stored: String = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut redis.clone())
        .await?;

    let get_cart = |request: GetCartRequest| {
        let client = client.clone();
        round(CONCURRENCY, ROUND, move || {
            let (mut client, request) = (client.clone(), request.clone());
            async move { client.get_cart(request).await.is_ok() }
        })
    };
    let raw_get = || {
        let (redis, key) = (redis.clone(), key.clone());
        round(CONCURRENCY, ROUND, move || {
            let (mut redis, key) = (redis.clone(), key.clone());
            async move {
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<String>>(&mut redis)
                    .await
                    .is_ok_and(|value| value.is_some())
            }
        })
    };

    // A guest without a cart id: the same stack answering an empty cart, with no Redis
    // and no pricing, to show the floor a GetCart stands on.
    let no_cart = GetCartRequest::default();

    // Warm all three, then alternate rounds.
    get_cart(request.clone()).await;
    get_cart(no_cart.clone()).await;
    raw_get().await;
    let (mut cart_runs, mut floor_runs, mut redis_runs) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        redis_runs.push(raw_get().await);
        cart_runs.push(get_cart(request.clone()).await);
        floor_runs.push(get_cart(no_cart.clone()).await);
    }
    let rps = |runs: &[Run]| median(runs.iter().map(Run::per_second));
    let cpu = |runs: &[Run]| median(runs.iter().map(Run::cpu_micros_per_request));
    println!(
        "GetCart, {LINES} lines, {CONCURRENCY} concurrent callers, median of {ROUNDS} × {ROUND:?}; \
         stored cart {} bytes, GetCart reply {} bytes",
        stored.len(),
        reply.encoded_len()
    );
    println!(
        "  raw Redis GET of the cart's key   {:>9.0} req/s   {:>6.1} µs CPU per request (this process)",
        rps(&redis_runs),
        cpu(&redis_runs)
    );
    println!(
        "  GetCart, full mandi stack         {:>9.0} req/s   {:>6.1} µs CPU per request (client + server)",
        rps(&cart_runs),
        cpu(&cart_runs)
    );
    println!(
        "  GetCart, no cart (stack floor)    {:>9.0} req/s   {:>6.1} µs CPU per request (client + server)",
        rps(&floor_runs),
        cpu(&floor_runs)
    );
    println!(
        "  ratio GetCart / raw GET           {:>9.2} by req/s   (GetCart / stack floor {:.2})",
        rps(&cart_runs) / rps(&redis_runs),
        rps(&cart_runs) / rps(&floor_runs)
    );

    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}
