//! Checkouts per second and their latency on real backends, next to pgbench's tpcb-like
//! transactions per second measured in the same run on the same PostgreSQL (the machine
//! is shared and noisy: only the ratio travels).
//!
//! Three `mandi-server` processes, as in the e2e suite: checkout on PostgreSQL; order,
//! inventory and payment on PostgreSQL; identity, catalog, cart, profile and shipping
//! embedded (every demo slot taking more orders than the run makes).
//! 16 shoppers, each signed in with a cart, loop for a fixed time: add one line to the
//! cart, then StartCheckout with `wait` (card, sandbox-approved) until COMPLETED. A
//! checkout is the whole saga: the delivery quote, CreateOrder, Reserve, ReserveSlot,
//! order PAYMENT_PENDING, Authorize, Capture, order PAID, Commit, ClearCart, each step
//! stored before and after it runs.
//! Latency is StartCheckout alone; the rate counts completed checkouts over wall time
//! (the cart adds included). Right after, pgbench runs its default tpcb-like script with
//! 16 clients for as long.
//!
//! Needs PostgreSQL at `MANDI_TEST_POSTGRES_URL`, `pgbench` on the PATH, and a release
//! `mandi-server` beside the bench binary (`make bench` builds it). Creates databases
//! `mandi_bench_<uuid>[_<service>]` and drops them at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::AddItemRequest;
use mandi_sdk::proto::mandi::catalog::v1::SearchProductsRequest;
use mandi_sdk::proto::mandi::checkout::v1::{
    CheckoutState, StartCheckoutRequest, start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::{Address, DeliveryDestination};
use mandi_sdk::proto::mandi::inventory::v1::{
    CreateWarehouseRequest, ReceiveStockRequest, Warehouse,
};
use mandi_sdk::proto::mandi::payment::v1::{CardDetails, PaymentMethod};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::bench::{
    BoxError, execute, millis, parse_tps, percentile, pgbench, with_scratch_database,
};
use tokio::sync::Mutex;
use uuid::Uuid;

const SHOPPERS: usize = 16;
const DURATION: Duration = Duration::from_secs(10);
/// Not counted: connections open, tokens issued, caches and plans warm.
const WARM_UP: Duration = Duration::from_secs(3);
const PGBENCH_SCALE: u32 = 10;
const SECRET: &str = "checkout-secret-for-the-bench-0123";
const ADMIN_EMAIL: &str = "root@mandi.example";

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    with_scratch_database(&runtime, |url| {
        let base = url
            .rsplit_once('/')
            .map_or(url, |(base, _)| base)
            .to_owned();
        let name = url.rsplit('/').next().unwrap_or("mandi_bench").to_owned();
        let services = ["order", "inventory", "payment", "checkout"];
        let admin = mandi_testkit::postgres_admin_url();
        for service in services {
            runtime.block_on(execute(
                &admin,
                &format!("CREATE DATABASE {name}_{service}"),
            ))?;
        }
        let databases: Vec<String> = services
            .iter()
            .map(|s| format!("{base}/{name}_{s}"))
            .collect();
        let outcome = run(&runtime, url, &databases);
        for service in services {
            runtime.block_on(execute(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name}_{service} WITH (FORCE)"),
            ))?;
        }
        outcome
    })
}

fn start(target: &str, extra: Vec<(&str, String)>) -> ServerProcess {
    let mut env = vec![
        ("MANDI_IDENTITY__ADMIN_EMAILS", ADMIN_EMAIL.to_owned()),
        (
            "MANDI_IDENTITY__SERVICE_CLIENTS",
            format!("checkout={SECRET}"),
        ),
        ("MANDI_CHECKOUT__CLIENT_SECRET", SECRET.to_owned()),
        ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024".to_owned()),
    ];
    env.extend(extra);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ServerProcess::start(target, &env)
}

fn run(runtime: &tokio::runtime::Runtime, url: &str, dbs: &[String]) -> Result<(), BoxError> {
    pgbench(&["-i", "-q", "-s", &PGBENCH_SCALE.to_string()], url)?;

    let zones = mandi_testkit::mesh::zones_file(1_000_000);
    let mesh = start(
        "all",
        vec![("MANDI_SHIPPING__ZONES_FILE", zones.display().to_string())],
    );
    let shop = start(
        "order,inventory,payment",
        vec![
            ("MANDI_AUTH__IDENTITY_ENDPOINT", mesh.url()),
            ("MANDI_ORDER__DATABASE_URL", dbs[0].clone()),
            ("MANDI_INVENTORY__DATABASE_URL", dbs[1].clone()),
            ("MANDI_INVENTORY__CATALOG_ENDPOINT", mesh.url()),
            ("MANDI_PAYMENT__DATABASE_URL", dbs[2].clone()),
        ],
    );
    let checkout = start(
        "checkout",
        vec![
            ("MANDI_CHECKOUT__DATABASE_URL", dbs[3].clone()),
            ("MANDI_AUTH__IDENTITY_ENDPOINT", mesh.url()),
            ("MANDI_CHECKOUT__CART_ENDPOINT", mesh.url()),
            ("MANDI_CHECKOUT__PROFILE_ENDPOINT", mesh.url()),
            ("MANDI_CHECKOUT__CATALOG_ENDPOINT", mesh.url()),
            ("MANDI_CHECKOUT__SHIPPING_ENDPOINT", mesh.url()),
            ("MANDI_CHECKOUT__ORDER_ENDPOINT", shop.url()),
            ("MANDI_CHECKOUT__INVENTORY_ENDPOINT", shop.url()),
            ("MANDI_CHECKOUT__PAYMENT_ENDPOINT", shop.url()),
        ],
    );
    let (timed, warm_up) = runtime.block_on(async {
        let admin = Mandi::builder()
            .endpoint(mesh.url())
            .service_endpoint("inventory", shop.url())
            .connect_lazy()?;
        sign_up(&admin, ADMIN_EMAIL).await;
        let product = admin
            .catalog()
            .search_products(SearchProductsRequest {
                query: "watermelon".into(),
                page_size: 20,
                ..Default::default()
            })
            .await?
            .into_inner()
            .products
            .into_iter()
            .find(|p| p.slug == "watermelon")
            .ok_or("the demo catalog has no watermelon")?;
        let quantity = product.min_quantity.max(1);
        stock(&admin, &product.id, 10_000_000).await?;
        let mut shoppers = Vec::new();
        for i in 0..SHOPPERS {
            let shopper = Mandi::builder()
                .endpoint(mesh.url())
                .service_endpoint("checkout", checkout.url())
                .connect_lazy()?;
            sign_up(
                &shopper,
                &format!("bench-{i}-{}@example.com", Uuid::now_v7().simple()),
            )
            .await;
            shoppers.push(Arc::new(shopper));
        }
        let warm = checkouts(&shoppers, &product.id, quantity, WARM_UP).await;
        let timed = checkouts(&shoppers, &product.id, quantity, DURATION).await;
        Ok::<_, BoxError>((timed, warm.latencies.len()))
    })?;
    drop(checkout);
    drop(shop);
    drop(mesh);

    let seconds = DURATION.as_secs().to_string();
    let clients = SHOPPERS.to_string();
    let output = pgbench(
        &["-c", &clients, "-j", "2", "-T", &seconds, "-M", "prepared"],
        url,
    )?;
    let tps = parse_tps(&output)
        .ok_or_else(|| format!("no `tps = ` line in pgbench output:\n{output}"))?;

    let wall = timed.wall.as_secs_f64();
    let per_second = timed.latencies.len() as f64 / wall;
    println!(
        "checkouts on real backends (3 servers, 4 PostgreSQL databases) vs pgbench tpcb-like, same run"
    );
    println!(
        "  setup: {SHOPPERS} shoppers, add a line then StartCheckout(wait) with an approved card, \
         {DURATION:?} (after {WARM_UP:?} warm-up, {warm_up} checkouts); \
         pgbench -s {PGBENCH_SCALE} -c {SHOPPERS} -j 2 -M prepared"
    );
    println!(
        "  checkouts completed        {per_second:>9.1} /s   {} in {wall:.1} s, {} failed{}   \
         p50 {:.1} ms   p99 {:.1} ms",
        timed.latencies.len(),
        timed.failed,
        timed
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        millis(percentile(&timed.latencies, 0.50)),
        millis(percentile(&timed.latencies, 0.99)),
    );
    println!("  pgbench tpcb-like          {tps:>9.0} tps");
    println!("  ratio checkouts / pgbench tps {:>8.4}", per_second / tps);
    Ok(())
}

async fn stock(admin: &Mandi, product_id: &str, quantity: i64) -> Result<(), BoxError> {
    let warehouse = admin
        .inventory()
        .create_warehouse(CreateWarehouseRequest {
            warehouse: Some(Warehouse {
                code: "W-BENCH".into(),
                display_name: "Bench".into(),
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
        .await?
        .into_inner()
        .warehouse
        .ok_or("no warehouse")?;
    let in_a_week = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64
        + 7 * 86_400;
    admin
        .inventory()
        .receive_stock(ReceiveStockRequest {
            product_id: product_id.to_owned(),
            warehouse_id: warehouse.id,
            quantity,
            expire_time: Some(prost_types::Timestamp {
                seconds: in_a_week,
                nanos: 0,
            }),
            supplier_ref: "BENCH".into(),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// What the shoppers did in one timed phase.
#[derive(Default)]
struct Checkouts {
    latencies: Vec<Duration>,
    failed: u64,
    first_error: Option<String>,
    wall: Duration,
}

async fn checkouts(
    shoppers: &[Arc<Mandi>],
    product_id: &str,
    quantity: i64,
    run: Duration,
) -> Checkouts {
    let total = Arc::new(Mutex::new(Checkouts::default()));
    let started = Instant::now();
    let deadline = started + run;
    let tasks: Vec<_> = shoppers
        .iter()
        .cloned()
        .map(|shopper| {
            let total = total.clone();
            let product_id = product_id.to_owned();
            tokio::spawn(async move {
                let mut mine = Checkouts::default();
                while Instant::now() < deadline {
                    let outcome = one(&shopper, &product_id, quantity).await;
                    match outcome {
                        Ok(latency) => mine.latencies.push(latency),
                        Err(error) => {
                            mine.failed += 1;
                            mine.first_error.get_or_insert(error);
                        }
                    }
                }
                let mut total = total.lock().await;
                total.latencies.extend(mine.latencies);
                total.failed += mine.failed;
                if total.first_error.is_none() {
                    total.first_error = mine.first_error;
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let mut total = std::mem::take(&mut *total.lock().await);
    total.wall = started.elapsed();
    total.latencies.sort();
    total
}

/// Adds a line and checks out; the latency of the checkout alone.
async fn one(shopper: &Mandi, product_id: &str, quantity: i64) -> Result<Duration, String> {
    shopper
        .cart()
        .add_item(AddItemRequest {
            cart_id: String::new(),
            product_id: product_id.to_owned(),
            quantity,
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .map_err(|s| format!("add item: {:?} {}", s.code(), s.message()))?;
    let request = StartCheckoutRequest {
        destination: Some(start_checkout_request::Destination::InlineDestination(
            DeliveryDestination {
                address: Some(Address {
                    line1: "12 MG Road".into(),
                    city: "Bengaluru".into(),
                    postal_code: "560001".into(),
                    country_code: "IN".into(),
                    ..Default::default()
                }),
                recipient_name: "Asha Rao".into(),
                recipient_phone: "+919812345678".into(),
                delivery_instructions: String::new(),
            },
        )),
        payment_method: PaymentMethod::Card as i32,
        card: Some(CardDetails {
            token: "4242424242424242".into(),
            exp_month: 12,
            exp_year: 2035,
        }),
        request_id: Uuid::now_v7().to_string(),
        wait: true,
        ..Default::default()
    };
    let started = Instant::now();
    let reply = shopper
        .checkout()
        .start_checkout(request)
        .await
        .map_err(|s| format!("checkout: {:?} {}", s.code(), s.message()))?;
    let latency = started.elapsed();
    let state = reply
        .into_inner()
        .checkout
        .map(|c| c.state)
        .unwrap_or_default();
    if state == CheckoutState::Completed as i32 {
        Ok(latency)
    } else {
        Err(format!("checkout ended in state {state}"))
    }
}
