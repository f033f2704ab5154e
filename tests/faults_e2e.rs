//! Fault injection end to end.
//!
//! The flags on a running server: set through the admin port, seen by callers, refused in
//! the prod profile.
//!
//! The fault suite (`make test-faults`, ignored by plain `cargo test`): N concurrent
//! checkouts (`MANDI_FAULTS_CHECKOUTS`, default 500) with 20% of cards declined by the
//! payment fault flag, while the checkout orchestrator, order and payment are SIGKILLed
//! and restarted at random points, Kafka, PostgreSQL and Redis are cut at the network (a
//! relay in front of each: the machine's servers are shared and never stopped), and
//! publishes and inventory calls fail now and then. After recovery it checks the books
//! and that every event arrived and took effect once, and prints a summary.
//!
//! Layout, all on 127.0.0.1: an embedded mesh (identity, catalog, profile, shipping,
//! notification in memory), cart on Redis, inventory, order and payment each on their own
//! PostgreSQL database, checkout on PostgreSQL; a tansu broker of the suite's own. Every
//! server a test kills or cuts is reached through a [`Relay`] with a fixed address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use mandi_kafka::KafkaConfig;
use mandi_kafka::consumer::{ConsumedEvent, ConsumerSettings, EventHandler, HandlingError, Runner};
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::AddItemRequest;
use mandi_sdk::proto::mandi::catalog::v1::{ListCategoriesRequest, SearchProductsRequest};
use mandi_sdk::proto::mandi::checkout::v1::{
    CheckoutState, FailureReason, GetCheckoutRequest, StartCheckoutRequest, start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::{Address, DeliveryDestination};
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::inventory::v1::GetAvailabilityRequest;
use mandi_sdk::proto::mandi::notification::v1::ListDeliveriesRequest;
use mandi_sdk::proto::mandi::order::v1::{ListOrdersRequest, Order, OrderStatus};
use mandi_sdk::proto::mandi::payment::v1::{
    CardDetails, EntryDirection, ListLedgerEntriesRequest, ListPaymentsRequest, Payment,
    PaymentMethod, PaymentStatus,
};
use mandi_sdk::proto::mandi::shipping::v1::{ListShipmentsRequest, Shipment, ShipmentStatus};
use mandi_testkit::accounts::sign_up;
use mandi_testkit::http::request as http;
use mandi_testkit::mesh::{self, ADMIN_EMAIL};
use mandi_testkit::{Relay, ServerProcess};
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

const APPROVED: &str = "4242424242424242";

// === the flags on a running server ===

#[tokio::test]
async fn faults_set_on_a_running_server_delay_and_fail_its_calls_until_cleared() {
    let server = mesh::start("all", vec![]);
    let mandi = mesh::client(&server);
    let list = || {
        let mandi = mandi.clone();
        async move {
            mandi
                .catalog()
                .list_categories(ListCategoriesRequest::default())
                .await
        }
    };
    list().await.expect("no faults by default");

    let spec = r#"{"errors": [{"method": "/mandi.catalog.v1.CatalogService/ListCategories", "code": "UNAVAILABLE", "rate": 1.0}],
                   "latency": [{"method": "mandi.catalog.v1.CatalogService", "millis": 300}]}"#;
    let put = http(server.admin, "PUT", "/faults", &[], spec.as_bytes()).await;
    assert_eq!(put.status, 200, "{}", put.text());

    let started = Instant::now();
    let status = list().await.expect_err("an injected error");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        (info.domain.as_str(), info.reason.as_str()),
        ("mandi.faults", "INJECTED")
    );
    // Other methods of the service are slowed, not failed; health is never touched.
    mandi
        .catalog()
        .search_products(SearchProductsRequest {
            query: "mango".into(),
            ..Default::default()
        })
        .await
        .expect("only ListCategories fails");

    let view: serde_json::Value =
        serde_json::from_str(&http(server.admin, "GET", "/faults", &[], b"").await.text()).unwrap();
    assert_eq!(view["allowed"], true);
    // The SDK retries UNAVAILABLE a few times: each attempt is one injected error.
    let injected = |kind: &str| view["injected"][kind].as_u64().unwrap();
    assert!(injected("errors") >= 1, "{view}");
    assert!(injected("latency") > injected("errors"), "{view}");

    let bad = http(
        server.admin,
        "PUT",
        "/faults",
        &[],
        br#"{"errors": [{"method": "*", "code": "MAYBE", "rate": 1}]}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("MAYBE"), "{}", bad.text());

    let cleared = http(server.admin, "DELETE", "/faults", &[], b"").await;
    assert_eq!(cleared.status, 200);
    list().await.expect("faults cleared");
}

#[tokio::test]
async fn a_fault_file_is_read_at_start_and_again_on_sighup() {
    let file = std::env::temp_dir().join(format!("mandi-faults-{}.json", Uuid::now_v7()));
    std::fs::write(&file, r#"{"payment_decline_rate": 0.25}"#).unwrap();
    let server = mesh::start(
        "all",
        vec![("MANDI_FAULTS__FILE", file.display().to_string())],
    );
    let spec = async || -> serde_json::Value {
        let view = http(server.admin, "GET", "/faults", &[], b"").await;
        serde_json::from_str::<serde_json::Value>(&view.text()).unwrap()["spec"].clone()
    };
    assert_eq!(spec().await["payment_decline_rate"], 0.25);

    std::fs::write(&file, r#"{"publish_failure_rate": 0.5}"#).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let reloaded = wait_until(Duration::from_secs(10), async || {
        spec().await["publish_failure_rate"] == 0.5
    })
    .await;
    assert!(reloaded, "the spec after SIGHUP: {}", spec().await);
    assert_eq!(spec().await["payment_decline_rate"], 0.0);

    // A bad file is logged and the spec in force kept; the server keeps running.
    std::fs::write(&file, "{not json").unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(spec().await["publish_failure_rate"], 0.5);
    std::fs::remove_file(&file).unwrap();
}

#[tokio::test]
async fn the_prod_profile_refuses_faults_unless_explicitly_enabled() {
    // A spec in the configuration stops start-up with a clear error (exit 64).
    let output = std::process::Command::new(ServerProcess::binary())
        .args([
            "--target=all",
            "--listen=127.0.0.1:0",
            "--admin-listen=127.0.0.1:0",
        ])
        .arg("--gateway-listen=127.0.0.1:0")
        .env("MANDI_PROFILE", "prod")
        .env("MANDI_FAULTS__SPEC", r#"{"payment_decline_rate": 0.2}"#)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(64), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "fault injection is refused in the prod profile; set MANDI_FAULTS__ENABLE=true"
        ),
        "{stderr}"
    );

    // Running in prod, the admin endpoint refuses to set any.
    let prod = mesh::start("all", vec![("MANDI_PROFILE", "prod".to_owned())]);
    let refused = http(
        prod.admin,
        "PUT",
        "/faults",
        &[],
        br#"{"publish_failure_rate": 1.0}"#,
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("MANDI_FAULTS__ENABLE=true"),
        "{}",
        refused.text()
    );

    // Explicitly enabled, they apply.
    let enabled = mesh::start(
        "all",
        vec![
            ("MANDI_PROFILE", "prod".to_owned()),
            ("MANDI_FAULTS__ENABLE", "true".to_owned()),
        ],
    );
    let spec = br#"{"errors": [{"method": "*", "code": "INTERNAL", "rate": 1.0}]}"#;
    let put = http(enabled.admin, "PUT", "/faults", &[], spec).await;
    assert_eq!(put.status, 200, "{}", put.text());
    let status = mesh::client(&enabled)
        .catalog()
        .list_categories(ListCategoriesRequest::default())
        .await
        .expect_err("injected");
    assert_eq!(status.code(), Code::Internal);
}

// === the fault suite ===

/// A tansu broker of the suite's own (memory storage), advertised at a relay's address so
/// that cutting the relay takes the whole broker away from every client.
struct Broker {
    child: std::process::Child,
}

impl Broker {
    fn start(listen: SocketAddr, advertised: SocketAddr) -> Self {
        let binary =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/kafka/bin/tansu");
        assert!(
            binary.exists(),
            "{} is missing: run `make up` (scripts/ensure-kafka.sh installs it)",
            binary.display()
        );
        let child = std::process::Command::new(binary)
            .arg("broker")
            .args(["--listener-url", &format!("tcp://{listen}")])
            .args(["--advertised-listener-url", &format!("tcp://{advertised}")])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start tansu");
        let started = Instant::now();
        while std::net::TcpStream::connect(listen).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tansu did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `host:port` of a URL like `postgres://user@host:port/db` or `redis://host:port`.
fn authority(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap();
    host.to_socket_addrs()
        .unwrap()
        .next()
        .unwrap_or_else(|| panic!("{url} names no address"))
}

/// `url` with its `host:port` replaced by `via`.
fn through(url: &str, via: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, rest) = match rest.rsplit_once('@') {
        Some((user, rest)) => (format!("{user}@"), rest),
        None => (String::new(), rest),
    };
    let tail = rest.find(['/', '?']).map_or("", |at| &rest[at..]);
    format!("{scheme}://{user}{via}{tail}")
}

/// `url` (through the PostgreSQL relay) pointed straight at PostgreSQL again, for the
/// suite's own reads.
fn direct(url: &str) -> String {
    through(url, authority(&mandi_testkit::postgres_admin_url()))
}

/// A server the suite kills and restarts, always reached through its relay.
struct Killable {
    target: &'static str,
    env: Vec<(&'static str, String)>,
    relay: Relay,
    process: Option<ServerProcess>,
    kills: u64,
    /// Faults the killed processes had injected, summed before each kill.
    injected: BTreeMap<String, u64>,
}

impl Killable {
    /// Starts `target` behind `relay` (made before, so servers started earlier can be
    /// pointed at it).
    async fn start(target: &'static str, env: Vec<(&'static str, String)>, relay: Relay) -> Self {
        let process = spawn(target, env.clone()).await;
        relay.point_at(process.grpc);
        Self {
            target,
            env,
            relay,
            process: Some(process),
            kills: 0,
            injected: BTreeMap::new(),
        }
    }

    /// SIGKILL, a pause, and a new process on the same databases behind the same relay.
    async fn kill_and_restart(&mut self, pause: Duration) {
        if let Some(process) = &self.process {
            add_injected(&mut self.injected, process.admin).await;
        }
        // Dropping a ServerProcess kills it with SIGKILL.
        drop(self.process.take());
        self.kills += 1;
        tokio::time::sleep(pause).await;
        let process = spawn(self.target, self.env.clone()).await;
        self.relay.point_at(process.grpc);
        self.process = Some(process);
    }

    /// The last lines the running process logged, for failure messages.
    fn log_tail(&self) -> String {
        let log = self
            .process
            .as_ref()
            .map(ServerProcess::log)
            .unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    async fn injected(&self) -> BTreeMap<String, u64> {
        let mut total = self.injected.clone();
        if let Some(process) = &self.process {
            add_injected(&mut total, process.admin).await;
        }
        total
    }
}

async fn spawn(target: &'static str, env: Vec<(&'static str, String)>) -> ServerProcess {
    tokio::task::spawn_blocking(move || mesh::start(target, env))
        .await
        .unwrap()
}

async fn add_injected(total: &mut BTreeMap<String, u64>, admin: SocketAddr) {
    let view = http(admin, "GET", "/faults", &[], b"").await;
    let view: serde_json::Value = serde_json::from_str(&view.text()).unwrap();
    for (kind, count) in view["injected"].as_object().unwrap() {
        *total.entry(kind.clone()).or_default() += count.as_u64().unwrap();
    }
}

/// Every event read back from the suite's broker, by topic.
#[derive(Clone, Default)]
struct Topics(Arc<Mutex<Vec<ConsumedEvent>>>);

impl EventHandler for Topics {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// What the suite did and saw, for the summary.
#[derive(Default)]
struct Summary {
    faults: BTreeMap<String, u64>,
    checkouts: BTreeMap<String, usize>,
    /// One failure message per reason.
    examples: BTreeMap<String, String>,
    invariants: Vec<String>,
}

impl Summary {
    fn fault(&mut self, kind: &str, count: u64) {
        *self.faults.entry(kind.to_owned()).or_default() += count;
    }

    fn checked(&mut self, invariant: String) {
        self.invariants.push(invariant);
    }
}

fn request(request_id: &str) -> StartCheckoutRequest {
    StartCheckoutRequest {
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
            token: APPROVED.into(),
            exp_month: 12,
            exp_year: 2035,
        }),
        request_id: request_id.to_owned(),
        wait: false,
        ..Default::default()
    }
}

/// Whether a failed call may succeed when tried again: the server or its link was down.
fn transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::Internal
            | Code::DeadlineExceeded
            | Code::Cancelled
    )
}

/// Retries `call` while it fails transiently, for at most `budget`.
async fn retrying<T, F, Fut>(what: &str, budget: Duration, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Ok(value) => return value,
            Err(status) if transient(&status) && started.elapsed() < budget => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(status) => panic!("{what}: {status:?}"),
        }
    }
}

async fn wait_for(what: &str, budget: Duration, done: impl AsyncFnMut() -> bool) {
    assert!(wait_until(budget, done).await, "{what} within {budget:?}");
}

/// Polls `done` until it holds (true) or `budget` ran out (false).
async fn wait_until(budget: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done().await {
        if started.elapsed() > budget {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the fault suite: run by `make test-faults` (and `make test`)"]
async fn checkouts_survive_killed_services_and_cut_backends_without_losing_anything() {
    let shoppers: usize = std::env::var("MANDI_FAULTS_CHECKOUTS")
        .ok()
        .map(|n| n.parse().expect("MANDI_FAULTS_CHECKOUTS is a number"))
        .unwrap_or(500);
    let started = Instant::now();
    let mut summary = Summary::default();

    // The backends, each behind a relay the suite cuts.
    let postgres = Relay::start(authority(&mandi_testkit::postgres_admin_url())).await;
    let (redis_url, redis_prefix) = mandi_testkit::redis_with_prefix().await;
    let redis = Relay::start(authority(&redis_url)).await;
    let kafka_listen = free_port();
    let kafka = Relay::start(kafka_listen).await;
    let _broker = Broker::start(kafka_listen, kafka.addr);
    let brokers = kafka.addr.to_string();
    let run = Uuid::now_v7().simple().to_string();
    let db = || async { through(&mandi_testkit::fresh_database().await, postgres.addr) };
    let (order_db, payment_db, inventory_db, checkout_db) =
        (db().await, db().await, db().await, db().await);
    let events = |group: &str| {
        vec![
            ("MANDI_KAFKA__BROKERS", brokers.clone()),
            ("MANDI_KAFKA__PARTITIONS", "3".to_owned()),
            (
                "MANDI_KAFKA__GROUP_PREFIX",
                format!("faults-{run}-{group}-"),
            ),
        ]
    };

    // The embedded mesh runs its own order and payment too: a group prefix of its own
    // keeps their consumers out of the real services' groups.
    let mut mesh_env = events("mesh");
    mesh_env.extend([
        (
            "MANDI_IDENTITY__MAX_FAILURES_PER_SOURCE",
            "1000000".to_owned(),
        ),
        (
            "MANDI_SHIPPING__ZONES_FILE",
            mesh::zones_file(shoppers as u32 * 2).display().to_string(),
        ),
    ]);
    // Shipping, in the mesh, reads paid orders from the real order service.
    let order_relay = Relay::start(free_port()).await;
    mesh_env.push(("MANDI_SHIPPING__ORDER_ENDPOINT", order_relay.url()));
    let core = mesh::start("all", mesh_env);
    let identity = |mut env: Vec<(&'static str, String)>| {
        env.push(("MANDI_AUTH__IDENTITY_ENDPOINT", core.url()));
        env
    };
    let mut inventory_env = identity(events("shop"));
    inventory_env.extend([
        ("MANDI_INVENTORY__DATABASE_URL", inventory_db.clone()),
        ("MANDI_INVENTORY__CATALOG_ENDPOINT", core.url()),
    ]);
    let inventory =
        Killable::start("inventory", inventory_env, Relay::start(free_port()).await).await;
    let mut order_env = identity(events("shop"));
    order_env.extend([
        ("MANDI_ORDER__DATABASE_URL", order_db.clone()),
        ("MANDI_ORDER__OUTBOX_INTERVAL", "100ms".to_owned()),
        // A tenth of publishes fail: the outbox must keep and resend them.
        (
            "MANDI_FAULTS__SPEC",
            r#"{"publish_failure_rate": 0.1}"#.to_owned(),
        ),
    ]);
    let mut order = Killable::start("order", order_env, order_relay).await;
    let mut payment_env = identity(events("shop"));
    payment_env.extend([
        ("MANDI_PAYMENT__DATABASE_URL", payment_db.clone()),
        ("MANDI_PAYMENT__OUTBOX_INTERVAL", "100ms".to_owned()),
        // In the configuration, so every restarted payment declines a fifth of cards too.
        (
            "MANDI_FAULTS__SPEC",
            r#"{"payment_decline_rate": 0.2, "publish_failure_rate": 0.1}"#.to_owned(),
        ),
    ]);
    let mut payment =
        Killable::start("payment", payment_env, Relay::start(free_port()).await).await;
    let cart_env = identity(vec![
        ("MANDI_CART__REDIS_URL", through(&redis_url, redis.addr)),
        ("MANDI_CART__REDIS_PREFIX", redis_prefix),
        ("MANDI_CART__CATALOG_ENDPOINT", core.url()),
        ("MANDI_CART__INVENTORY_ENDPOINT", inventory.relay.url()),
    ]);
    let cart = Killable::start("cart", cart_env, Relay::start(free_port()).await).await;
    let checkout_env = identity(vec![
        ("MANDI_CHECKOUT__DATABASE_URL", checkout_db.clone()),
        ("MANDI_CHECKOUT__CART_ENDPOINT", cart.relay.url()),
        ("MANDI_CHECKOUT__PROFILE_ENDPOINT", core.url()),
        ("MANDI_CHECKOUT__CATALOG_ENDPOINT", core.url()),
        ("MANDI_CHECKOUT__SHIPPING_ENDPOINT", core.url()),
        ("MANDI_CHECKOUT__ORDER_ENDPOINT", order.relay.url()),
        ("MANDI_CHECKOUT__INVENTORY_ENDPOINT", inventory.relay.url()),
        ("MANDI_CHECKOUT__PAYMENT_ENDPOINT", payment.relay.url()),
        ("MANDI_CHECKOUT__STEP_TIMEOUT", "5s".to_owned()),
        ("MANDI_CHECKOUT__LEASE", "10s".to_owned()),
        ("MANDI_CHECKOUT__RECOVERY_INTERVAL", "500ms".to_owned()),
        ("MANDI_CHECKOUT__RETRY_BACKOFF", "200ms".to_owned()),
    ]);
    let mut checkout =
        Killable::start("checkout", checkout_env, Relay::start(free_port()).await).await;
    // Inventory, never killed, gets its faults at run time through the admin port: a
    // little latency on every call and now and then a refused reservation.
    let inventory_faults = br#"{"latency": [{"method": "*", "millis": 5}],
        "errors": [{"method": "/mandi.inventory.v1.InventoryService/Reserve", "code": "UNAVAILABLE", "rate": 0.03}]}"#;
    let put = http(
        inventory.process.as_ref().unwrap().admin,
        "PUT",
        "/faults",
        &[],
        inventory_faults,
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.text());

    let admin = Mandi::builder()
        .endpoint(core.url())
        .service_endpoint("order", order.relay.url())
        .service_endpoint("inventory", inventory.relay.url())
        .service_endpoint("payment", payment.relay.url())
        .connect_lazy()
        .unwrap();
    sign_up(&admin, ADMIN_EMAIL).await;
    let product = mandi_testkit::mesh::demo_product(&admin, "watermelon", "watermelon").await;
    let quantity = product.min_quantity.max(1);
    // A tenth fewer lines than shoppers: some checkouts also meet an empty shelf.
    let received = (shoppers as i64 * 9 / 10).max(1) * quantity;
    mesh::stock(&admin, &product.id, received).await;

    let shopper_clients: Vec<Mandi> = futures::stream::iter((0..shoppers).map(|_| {
        let (core, cart, checkout, product_id) = (
            core.url(),
            cart.relay.url(),
            checkout.relay.url(),
            product.id.clone(),
        );
        async move {
            let shopper = Mandi::builder()
                .endpoint(core)
                .service_endpoint("cart", cart)
                .service_endpoint("checkout", checkout)
                .connect_lazy()
                .unwrap();
            sign_up(
                &shopper,
                &format!("shopper-{}@example.com", Uuid::now_v7().simple()),
            )
            .await;
            shopper
                .cart()
                .add_item(AddItemRequest {
                    product_id,
                    quantity,
                    request_id: Uuid::now_v7().to_string(),
                    ..Default::default()
                })
                .await
                .unwrap();
            shopper
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    let setup = started.elapsed();

    // The checkouts, each retried with its request id while the orchestrator is down.
    let runs = shopper_clients.iter().map(|shopper| {
        let id = Uuid::now_v7().to_string();
        async move {
            // Spread the starts over 20 seconds, so kills land at every step of some
            // sagas (a checkout killed before paying fails by design: card details are
            // never stored) while most run between faults.
            let delay = dice(0, 20_000);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let start = request(&id);
            retrying("StartCheckout", Duration::from_secs(120), || {
                let (shopper, start) = (shopper.clone(), start.clone());
                async move { shopper.checkout().start_checkout(start).await }
            })
            .await;
            let settle_started = Instant::now();
            loop {
                let checkout = retrying("GetCheckout", Duration::from_secs(120), || {
                    let shopper = shopper.clone();
                    let id = id.clone();
                    async move {
                        shopper
                            .checkout()
                            .get_checkout(GetCheckoutRequest { checkout_id: id })
                            .await
                    }
                })
                .await
                .into_inner()
                .checkout
                .unwrap();
                let state = CheckoutState::try_from(checkout.state).unwrap();
                if matches!(state, CheckoutState::Completed | CheckoutState::Failed) {
                    return checkout;
                }
                assert!(
                    settle_started.elapsed() < Duration::from_secs(240),
                    "checkout {id} stuck in {state:?}: {checkout:?}"
                );
                tokio::time::sleep(Duration::from_millis(1_500)).await;
            }
        }
    });
    let settled = std::sync::atomic::AtomicUsize::new(0);
    let runs = runs.map(|run| async {
        let checkout = run.await;
        settled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        checkout
    });
    let chaos = Chaos {
        order: &mut order,
        payment: &mut payment,
        checkout: &mut checkout,
        kafka: &kafka,
        postgres: &postgres,
        redis: &redis,
    };
    let (outcomes, done) = tokio::join!(
        futures::future::join_all(runs),
        chaos.run(&settled, shoppers)
    );
    for (kind, count) in done {
        summary.fault(&kind, count);
    }
    let checkout_time = started.elapsed() - setup;

    let mut completed = 0;
    for checkout in &outcomes {
        let outcome = match CheckoutState::try_from(checkout.state).unwrap() {
            CheckoutState::Completed => {
                completed += 1;
                assert_eq!(
                    checkout.payment_status,
                    PaymentStatus::Captured as i32,
                    "{checkout:?}"
                );
                "completed".to_owned()
            }
            _ => {
                let reason = checkout.failure.as_ref().map_or(0, |f| f.reason);
                let reason = FailureReason::try_from(reason).map_or_else(
                    |_| format!("reason {reason}"),
                    |r| r.as_str_name().to_owned(),
                );
                assert_ne!(
                    checkout.payment_status,
                    PaymentStatus::Captured as i32,
                    "{checkout:?}"
                );
                let example = checkout
                    .failure
                    .as_ref()
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                summary.examples.entry(reason.clone()).or_insert(example);
                format!("failed: {reason}")
            }
        };
        *summary.checkouts.entry(outcome).or_default() += 1;
    }
    assert!(
        completed > 0,
        "no checkout completed: {:?}",
        summary.checkouts
    );

    // Recovery: every server back, every relay mended; the books must now be right.
    let books = Books {
        admin: &admin,
        product_id: &product.id,
        received,
    };
    let orders = books.check(&mut summary).await;
    let paid: Vec<&Order> = orders.iter().filter(|o| paid_or_later(o.status)).collect();
    assert_eq!(
        paid.len(),
        completed,
        "one PAID order per completed checkout"
    );

    // Outboxes drained, and every row they sent is on the broker.
    let mut sent = HashSet::new();
    for (database, table, server) in [
        (&order_db, "order_outbox", &order),
        (&payment_db, "payment_outbox", &payment),
    ] {
        let database = database.clone();
        let mut pending: i64 = 0;
        let rows = {
            let table = table.to_owned();
            let mut ids: Vec<String> = Vec::new();
            let drained = wait_until(Duration::from_secs(60), async || {
                use sqlx::Connection as _;
                // The machine's PostgreSQL is shared: a moment without a free connection
                // is waited out like any other.
                let Ok(mut db) = sqlx::PgConnection::connect(&direct(&database)).await else {
                    return false;
                };
                let Ok(count) = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {table} WHERE sent_at IS NULL"
                )))
                .fetch_one(&mut db)
                .await
                else {
                    return false;
                };
                pending = count;
                if pending > 0 {
                    return false;
                }
                let Ok(envelopes) = sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(format!(
                    "SELECT envelope FROM {table}"
                )))
                .fetch_all(&mut db)
                .await
                else {
                    return false;
                };
                let _ = db.close().await;
                ids = envelopes
                    .iter()
                    .map(|bytes| {
                        use prost::Message as _;
                        EventEnvelope::decode(bytes.as_slice()).unwrap().event_id
                    })
                    .collect();
                true
            })
            .await;
            assert!(
                drained,
                "{table}: {pending} events still unsent after 60s; the server's log ends:\n{}",
                server.log_tail()
            );
            ids
        };
        summary.checked(format!("{table}: {} events, none left unsent", rows.len()));
        sent.extend(rows);
    }
    let topics = Topics::default();
    let config = KafkaConfig::new(brokers.clone(), format!("faults-{run}-reader"));
    let reader = Runner::new(
        &config,
        ConsumerSettings {
            group_id: format!("faults-{run}-reader"),
            topics: vec![
                "mandi.order.events.v1".to_owned(),
                "mandi.payment.events.v1".to_owned(),
            ],
            max_attempts: 1,
            first_backoff: Duration::from_millis(10),
        },
        topics.clone(),
    )
    .await
    .unwrap();
    let (stop_reader, reader_stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        reader
            .run(async {
                let _ = reader_stopped.await;
            })
            .await
    });
    wait_for(
        "every outbox event on Kafka",
        Duration::from_secs(90),
        async || {
            let seen: HashSet<String> = topics
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|e| e.envelope.event_id.clone())
                .collect();
            sent.iter().all(|id| seen.contains(id))
        },
    )
    .await;
    let _ = stop_reader.send(());
    let _ = reader.await;
    let consumed = topics.0.lock().unwrap().clone();
    summary.checked(format!(
        "all {} outbox events reached Kafka ({} records read, duplicates allowed)",
        sent.len(),
        consumed.len()
    ));
    let mut created_event: HashMap<String, String> = HashMap::new();
    let mut confirmed: HashSet<String> = HashSet::new();
    for event in &consumed {
        match &event.envelope.payload {
            Some(Payload::OrderCreated(created)) => {
                created_event.insert(created.order_id.clone(), event.envelope.event_id.clone());
            }
            Some(Payload::PaymentConfirmed(payment)) => {
                confirmed.insert(payment.order_id.clone());
            }
            _ => {}
        }
    }
    for order in &orders {
        assert!(
            created_event.contains_key(&order.id),
            "OrderCreated of {} on Kafka",
            order.id
        );
    }
    for order in &paid {
        assert!(
            confirmed.contains(&order.id),
            "PaymentConfirmed of {} on Kafka",
            order.id
        );
    }
    summary.checked(format!(
        "OrderCreated for all {} orders, PaymentConfirmed for all {} paid ones",
        orders.len(),
        paid.len()
    ));

    // Consumers: shipping made one shipment per paid order, notification one message per
    // event and channel, however often Kafka redelivered.
    let mut shipments = Vec::new();
    let all_shipped = wait_until(Duration::from_secs(90), async || {
        shipments = list_shipments(&admin).await;
        let live = shipments
            .iter()
            .filter(|s| s.status != ShipmentStatus::Cancelled as i32)
            .count();
        live >= paid.len()
    })
    .await;
    assert!(
        all_shipped,
        "{} shipments for {} paid orders within 90s",
        shipments.len(),
        paid.len()
    );
    let mut per_order: HashMap<&str, usize> = HashMap::new();
    // A shipment made before its order was cancelled is cancelled with it.
    for shipment in shipments
        .iter()
        .filter(|s| s.status != ShipmentStatus::Cancelled as i32)
    {
        *per_order.entry(shipment.order_id.as_str()).or_default() += 1;
    }
    for order in &orders {
        let expected = usize::from(paid_or_later(order.status));
        assert_eq!(
            per_order.get(order.id.as_str()).copied().unwrap_or(0),
            expected,
            "shipments of order {} ({:?}): {:?}; the order: {order:?}",
            order.id,
            OrderStatus::try_from(order.status),
            shipments
                .iter()
                .filter(|s| s.order_id == order.id)
                .collect::<Vec<_>>()
        );
    }
    summary.checked(format!(
        "shipping: exactly one shipment for each of {} paid orders, none for cancelled ones",
        paid.len()
    ));
    let mut deliveries = Vec::new();
    wait_for(
        "a notification for every order",
        Duration::from_secs(90),
        async || {
            deliveries = list_deliveries(&admin).await;
            let by_event: HashSet<&str> = deliveries.iter().map(|d| d.event_id.as_str()).collect();
            created_event
                .values()
                .all(|id| by_event.contains(id.as_str()))
        },
    )
    .await;
    let mut per_message: HashMap<(String, i32, String), usize> = HashMap::new();
    for delivery in deliveries.iter().filter(|d| !d.event_id.is_empty()) {
        *per_message
            .entry((
                delivery.event_id.clone(),
                delivery.channel,
                delivery.template.clone(),
            ))
            .or_default() += 1;
    }
    let doubled: Vec<_> = per_message.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "messages sent twice for one event: {doubled:?}"
    );
    summary.checked(format!(
        "notification: {} messages, one per event, channel and template; every order's placement told",
        per_message.len()
    ));

    for (name, server) in [
        ("inventory", &inventory),
        ("cart", &cart),
        ("order", &order),
        ("payment", &payment),
        ("checkout", &checkout),
    ] {
        for (kind, count) in server.injected().await {
            if count > 0 {
                summary.fault(&format!("{name} flag: {kind}"), count);
            }
        }
    }

    println!("\n=== fault suite: {shoppers} concurrent checkouts ===");
    println!(
        "time: setup {setup:.1?}, checkouts under faults {checkout_time:.1?}, total {:.1?}",
        started.elapsed()
    );
    println!("faults injected:");
    for (kind, count) in &summary.faults {
        println!("  {kind:<40} {count}");
    }
    println!("checkouts:");
    for (outcome, count) in &summary.checkouts {
        println!("  {outcome:<40} {count}");
    }
    for (reason, message) in &summary.examples {
        println!("  e.g. {reason}: {message}");
    }
    // Diagnostics: a server that dropped a connection for too many reset streams
    // (h2's rapid-reset guard) fails every call in flight on it.
    for (name, server) in [
        ("inventory", &inventory),
        ("cart", &cart),
        ("order", &order),
        ("payment", &payment),
        ("checkout", &checkout),
    ] {
        let log = server
            .process
            .as_ref()
            .map(ServerProcess::log)
            .unwrap_or_default();
        let hits = log.lines().filter(|l| l.contains("reached limit")).count();
        if hits > 0 {
            let first = log
                .lines()
                .find(|l| l.contains("reached limit"))
                .unwrap_or_default();
            println!("  note: {name} logged {hits} h2 reset-limit GOAWAYs, e.g. {first}");
        }
    }
    println!("invariants checked:");
    for invariant in &summary.invariants {
        println!("  ok  {invariant}");
    }
}

fn paid_or_later(status: i32) -> bool {
    matches!(
        OrderStatus::try_from(status),
        Ok(OrderStatus::Paid | OrderStatus::Packed | OrderStatus::Shipped | OrderStatus::Delivered)
    )
}

/// The killable servers and the relays in front of the backends.
struct Chaos<'a> {
    order: &'a mut Killable,
    payment: &'a mut Killable,
    checkout: &'a mut Killable,
    kafka: &'a Relay,
    postgres: &'a Relay,
    redis: &'a Relay,
}

impl Chaos<'_> {
    /// Breaks something every one to three seconds until `settled` reaches `total` (or a
    /// minute passed), each kind at least once, one at a time so a server never restarts
    /// into a cut database; returns the counts.
    async fn run(
        self,
        settled: &std::sync::atomic::AtomicUsize,
        total: usize,
    ) -> BTreeMap<String, u64> {
        const KINDS: [&str; 6] = [
            "SIGKILL + restart checkout",
            "SIGKILL + restart order",
            "SIGKILL + restart payment",
            "Kafka unreachable (relay cut 5s)",
            "PostgreSQL refuses connections (relay cut 1.5s)",
            "Redis restart (relay cut 1.5s)",
        ];
        let mut counts = BTreeMap::new();
        let mut plan: Vec<usize> = (0..KINDS.len()).collect();
        let started = Instant::now();
        let mut round = 0;
        loop {
            let pause = dice(1_000, 3_000);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let all_done = settled.load(std::sync::atomic::Ordering::SeqCst) >= total;
            if round >= KINDS.len() && (all_done || started.elapsed() > Duration::from_secs(60)) {
                return counts;
            }
            let kind = if round < KINDS.len() {
                if round == 0 {
                    // Each kind once first, in a random order.
                    for i in (1..plan.len()).rev() {
                        plan.swap(i, dice(0, i as u64 + 1) as usize);
                    }
                }
                plan[round]
            } else {
                dice(0, KINDS.len() as u64) as usize
            };
            round += 1;
            let down = Duration::from_millis(dice(200, 1_500));
            match kind {
                0 => self.checkout.kill_and_restart(down).await,
                1 => self.order.kill_and_restart(down).await,
                2 => self.payment.kill_and_restart(down).await,
                3 => cut(self.kafka, Duration::from_secs(5)).await,
                4 => cut(self.postgres, Duration::from_millis(1_500)).await,
                _ => cut(self.redis, Duration::from_millis(1_500)).await,
            }
            *counts.entry(KINDS[kind].to_owned()).or_default() += 1;
        }
    }
}

/// A number in `low..high` for the chaos schedule: xorshift seeded by the clock (the
/// schedule needs variety, not quality).
fn dice(low: u64, high: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    low + x % (high - low)
}

async fn cut(relay: &Relay, period: Duration) {
    relay.cut();
    tokio::time::sleep(period).await;
    relay.restore();
}

/// The books of the shop, checked against what was received.
struct Books<'a> {
    admin: &'a Mandi,
    product_id: &'a str,
    received: i64,
}

impl Books<'_> {
    /// Checks stock, order states, captures and the ledger; returns every order.
    async fn check(&self, summary: &mut Summary) -> Vec<Order> {
        let admin = self.admin;
        let orders: Vec<Order> = pages(|page_token| async move {
            let page = retrying("ListOrders", Duration::from_secs(30), || {
                let mut client = admin.order();
                let request = ListOrdersRequest {
                    page_size: 200,
                    page_token: page_token.clone(),
                    ..Default::default()
                };
                async move { client.list_orders(request).await }
            })
            .await
            .into_inner();
            (page.orders, page.next_page_token)
        })
        .await;
        let mut sold = 0;
        for order in &orders {
            if paid_or_later(order.status) {
                sold += order
                    .items
                    .iter()
                    .filter(|i| i.product_id == self.product_id)
                    .map(|i| i.quantity)
                    .sum::<i64>();
            } else {
                assert_eq!(
                    order.status,
                    OrderStatus::Cancelled as i32,
                    "order {} is left in a non-terminal state: {order:?}",
                    order.id
                );
            }
        }
        summary.checked(format!(
            "all {} orders PAID or CANCELLED: none left between states",
            orders.len()
        ));
        let availability = admin
            .inventory()
            .get_availability(GetAvailabilityRequest {
                product_id: self.product_id.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .availability
            .unwrap();
        assert_eq!(
            self.received,
            availability.available_quantity + availability.reserved_quantity + sold,
            "stock conserved: received = available + reserved + sold ({availability:?}, sold {sold})"
        );
        assert_eq!(availability.reserved_quantity, 0, "no hold is left behind");
        summary.checked(format!(
            "stock conserved: received {} = available {} + reserved 0 + sold {sold}",
            self.received, availability.available_quantity
        ));

        let payments: Vec<Payment> = pages(|page_token| async move {
            let page = retrying("ListPayments", Duration::from_secs(30), || {
                let mut client = admin.payment();
                let request = ListPaymentsRequest {
                    page_size: 200,
                    page_token: page_token.clone(),
                    ..Default::default()
                };
                async move { client.list_payments(request).await }
            })
            .await
            .into_inner();
            (page.payments, page.next_page_token)
        })
        .await;
        let status_of: HashMap<&str, i32> =
            orders.iter().map(|o| (o.id.as_str(), o.status)).collect();
        let mut captures: HashMap<&str, usize> = HashMap::new();
        for payment in &payments {
            let status = PaymentStatus::try_from(payment.status).unwrap();
            let order_status = status_of.get(payment.order_id.as_str()).copied();
            if matches!(
                status,
                PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
            ) {
                assert!(
                    order_status.is_some_and(paid_or_later),
                    "a capture without a PAID order: {payment:?}"
                );
                *captures.entry(payment.order_id.as_str()).or_default() += 1;
            }
            if order_status == Some(OrderStatus::Cancelled as i32) {
                assert!(
                    !matches!(
                        status,
                        PaymentStatus::Captured
                            | PaymentStatus::Authorized
                            | PaymentStatus::Pending
                    ),
                    "nothing is held or charged for a cancelled order: {payment:?}"
                );
            }
        }
        let paid = orders.iter().filter(|o| paid_or_later(o.status));
        let mut paid_count = 0;
        for order in paid {
            paid_count += 1;
            assert_eq!(
                captures.get(order.id.as_str()).copied().unwrap_or(0),
                1,
                "a PAID order has exactly one capture: {}",
                order.id
            );
        }
        summary.checked(format!(
            "{paid_count} PAID orders with exactly one capture each; no capture without a PAID order; nothing held for a cancelled one ({} payments)",
            payments.len()
        ));

        let entries = pages(|page_token| async move {
            let page = retrying("ListLedgerEntries", Duration::from_secs(30), || {
                let mut client = admin.payment();
                let request = ListLedgerEntriesRequest {
                    page_size: 200,
                    page_token: page_token.clone(),
                    ..Default::default()
                };
                async move { client.list_ledger_entries(request).await }
            })
            .await
            .into_inner();
            (page.entries, page.next_page_token)
        })
        .await;
        let mut per_journal: HashMap<String, i64> = HashMap::new();
        for entry in &entries {
            let amount = entry.amount.as_ref().unwrap().amount_minor;
            let signed = if entry.direction == EntryDirection::Debit as i32 {
                amount
            } else {
                -amount
            };
            *per_journal.entry(entry.journal_id.clone()).or_default() += signed;
        }
        for (journal, balance) in &per_journal {
            assert_eq!(*balance, 0, "journal {journal} balances");
        }
        summary.checked(format!(
            "ledger balanced: {} journals, {} entries",
            per_journal.len(),
            entries.len()
        ));
        orders
    }
}

/// Every item of a paged list.
async fn pages<T, F, Fut>(mut page: F) -> Vec<T>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = (Vec<T>, String)>,
{
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await;
        all.extend(items);
        if next.is_empty() {
            return all;
        }
        token = next;
    }
}

async fn list_shipments(admin: &Mandi) -> Vec<Shipment> {
    pages(|page_token| async move {
        let page = retrying("ListShipments", Duration::from_secs(30), || {
            let mut client = admin.shipping();
            let request = ListShipmentsRequest {
                page_size: 200,
                page_token: page_token.clone(),
                ..Default::default()
            };
            async move { client.list_shipments(request).await }
        })
        .await
        .into_inner();
        (page.shipments, page.next_page_token)
    })
    .await
}

async fn list_deliveries(
    admin: &Mandi,
) -> Vec<mandi_sdk::proto::mandi::notification::v1::Delivery> {
    pages(|page_token| async move {
        let page = retrying("ListDeliveries", Duration::from_secs(30), || {
            let mut client = admin.notification();
            let request = ListDeliveriesRequest {
                page_size: 200,
                page_token: page_token.clone(),
                ..Default::default()
            };
            async move { client.list_deliveries(request).await }
        })
        .await
        .into_inner();
        (page.deliveries, page.next_page_token)
    })
    .await
}
