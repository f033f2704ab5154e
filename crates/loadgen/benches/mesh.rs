//! The mesh run of `make bench`: the whole mesh as Kubernetes runs it, one
//! `mandi-server --target=<service>` process per service on its real backends (the
//! PostgreSQL, Redis, MongoDB-wire and Kafka servers `make up` starts), measured in one
//! table (and `mesh.json`):
//!
//! - time from spawning each process to grpc.health answering SERVING;
//! - each process's resident memory (VmRSS) idle, and its peak under load: mandi-loadgen's
//!   default shopper mix (16 shoppers, 20% declined cards) through the gateway;
//! - catalog GetProduct beside a bare tonic echo service (a process of this bench
//!   answering the same GetProductResponse bytes) at the same concurrency, rounds
//!   interleaved so the shared machine's noise hits both alike: only the ratio travels;
//! - the gateway-vs-direct and checkouts-vs-pgbench ratios, read from the outputs of the
//!   gateway and checkout benches `make bench` ran just before (their code measures them;
//!   this table only gathers them).
//!
//! Needs a release `mandi-server` beside the bench binary (`make bench` builds it) and
//! the test servers. Creates databases `mandi_test_<uuid>` and drops them at the end.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mandi_loadgen::{Config, Load, Mix};
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1::catalog_service_client::CatalogServiceClient;
use mandi_sdk::proto::mandi::catalog::v1::{
    GetProductRequest, GetProductResponse, ListProductsRequest,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::bench::{BoxError, Run, execute, median, round};
use serde_json::json;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Set in the environment of the echo process this bench starts of itself.
const ECHO_ENV: &str = "MANDI_MESH_BENCH_ECHO";
const ECHO_PATH: &str = "/mandi.bench.v1.Echo/GetProduct";
const ADMIN_EMAIL: &str = "root@mandi.example";
const SECRET: &str = "service-secret-for-the-mesh-bench";
const CONCURRENCY: usize = 32;
const ROUND: Duration = Duration::from_secs(3);
const ROUNDS: usize = 5;
const SHOPPERS: usize = 16;
const LOAD: Duration = Duration::from_secs(20);
const DECLINE_RATE: f64 = 0.2;
/// Every service, in start order: each one's peers are up before it.
const SERVICES: [&str; 11] = [
    "identity",
    "catalog",
    "profile",
    "inventory",
    "cart",
    "order",
    "payment",
    "shipping",
    "checkout",
    "notification",
    "gateway",
];
/// Those keeping their state in PostgreSQL, each in a database of its own.
const ON_POSTGRES: [&str; 8] = [
    "identity",
    "profile",
    "inventory",
    "order",
    "payment",
    "shipping",
    "checkout",
    "notification",
];

fn main() -> Result<(), BoxError> {
    if std::env::var_os(ECHO_ENV).is_some() {
        return echo::serve();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut databases = BTreeMap::new();
    for service in ON_POSTGRES {
        databases.insert(service, runtime.block_on(mandi_testkit::fresh_database()));
    }
    let outcome = run(&runtime, &databases);
    let admin = mandi_testkit::postgres_admin_url();
    for url in databases.values() {
        let name = url.rsplit('/').next().unwrap_or_default();
        runtime.block_on(execute(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ))?;
    }
    outcome
}

/// One service's process and what it measured.
struct Service {
    name: &'static str,
    process: ServerProcess,
    ready: Duration,
    idle_kib: u64,
    peak_kib: u64,
}

fn run(
    runtime: &tokio::runtime::Runtime,
    databases: &BTreeMap<&str, String>,
) -> Result<(), BoxError> {
    // Lazy SDK channels spawn their connection tasks on this runtime.
    let _runtime = runtime.enter();
    let mut mesh: Vec<Service> = Vec::new();
    let zones = mandi_testkit::mesh::zones_file(1_000_000);
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    for name in SERVICES {
        let env = environment(name, &mesh, databases, &zones, &run_id)?;
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let spawned = Instant::now();
        let process = ServerProcess::start(name, &env);
        runtime.block_on(serving(&process))?;
        mesh.push(Service {
            name,
            process,
            ready: spawned.elapsed(),
            idle_kib: 0,
            peak_kib: 0,
        });
    }
    let url = |mesh: &[Service], name: &str| {
        mesh.iter()
            .find(|s| s.name == name)
            .map(|s| s.process.url())
            .unwrap_or_default()
    };
    let mut direct = Mandi::builder().endpoint(url(&mesh, "identity"));
    for service in &mesh {
        if service.name != "gateway" {
            direct = direct.service_endpoint(service.name, service.process.url());
        }
    }
    let admin = direct.connect_lazy()?;
    let product = runtime.block_on(stock_everything(&admin))?;

    // Idle: every process up, nothing asked of it yet beyond the stocking.
    std::thread::sleep(Duration::from_secs(2));
    for service in &mut mesh {
        service.idle_kib = rss_kib(service.process.pid());
        service.peak_kib = service.idle_kib;
    }

    let (catalog_rate, echo_rate) =
        runtime.block_on(echo_vs_catalog(&url(&mesh, "catalog"), &product))?;

    let gateway = mesh
        .iter()
        .find(|s| s.name == "gateway")
        .map(|s| s.process.gateway_url())
        .ok_or("the mesh has no gateway")?;
    let config = Config {
        endpoint: gateway.clone(),
        mix: Mix::default(),
        load: Load::Closed {
            concurrency: SHOPPERS,
        },
        duration: LOAD,
        decline_rate: DECLINE_RATE,
        ..Config::default()
    };
    let pids: Vec<u32> = mesh.iter().map(|s| s.process.pid()).collect();
    let (report, peaks) = runtime.block_on(async {
        let sampler = tokio::spawn(sample_peaks(pids, LOAD));
        let report = mandi_loadgen::run(&config).await;
        let peaks = sampler.await.unwrap_or_default();
        (report, peaks)
    });
    let report = report.map_err(|e| format!("the load run failed: {e:#}"))?;
    for (service, peak) in mesh.iter_mut().zip(peaks) {
        service.peak_kib = service.peak_kib.max(peak);
    }

    let out = out_dir();
    let gateway_figures = read_gateway(&out.join("gateway.txt"));
    let checkout_figures = read_checkouts(&out.join("checkouts.txt"));
    let (table, figures) = table(
        &mesh,
        (catalog_rate, echo_rate),
        &gateway_figures,
        &checkout_figures,
        &report,
    );
    print!("{table}");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("mesh.json"),
        serde_json::to_string_pretty(&figures)? + "\n",
    )?;
    report.write(&out.join("mesh-load"))?;
    println!(
        "figures: {}  load report: {}",
        out.join("mesh.json").display(),
        out.join("mesh-load").join("report.json").display()
    );
    Ok(())
}

/// Where `make bench` leaves the bench outputs: `MANDI_BENCH_OUT`, else `<target>/bench`.
fn out_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MANDI_BENCH_OUT") {
        return PathBuf::from(dir);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("bench")))
        .unwrap_or_else(|| PathBuf::from("target/bench"))
}

/// The environment of `name`'s process: its backends, and the URLs of the peers already
/// running.
fn environment(
    name: &str,
    mesh: &[Service],
    databases: &BTreeMap<&str, String>,
    zones: &Path,
    run_id: &str,
) -> Result<Vec<(String, String)>, BoxError> {
    let peer = |peer: &str| -> Result<String, BoxError> {
        mesh.iter()
            .find(|s| s.name == peer)
            .map(|s| s.process.url())
            .ok_or_else(|| format!("{name} starts before its peer {peer}").into())
    };
    let upper = name.to_ascii_uppercase();
    let mut env: Vec<(String, String)> = vec![
        // The limits are not what is measured here.
        ("MANDI_SERVER__CONCURRENCY_LIMIT".into(), "100000".into()),
        (
            "MANDI_KAFKA__BROKERS".into(),
            std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into()),
        ),
        (
            "MANDI_KAFKA__GROUP_PREFIX".into(),
            format!("mesh-bench-{run_id}-"),
        ),
    ];
    if let Some(url) = databases.get(name) {
        env.push((format!("MANDI_{upper}__DATABASE_URL"), url.clone()));
    }
    if matches!(name, "identity" | "catalog" | "cart" | "gateway") {
        env.push((
            format!("MANDI_{upper}__REDIS_URL"),
            mandi_testkit::redis_url(),
        ));
        env.push((
            format!("MANDI_{upper}__REDIS_PREFIX"),
            format!("mandi:test:{run_id}:{name}:"),
        ));
    }
    if name != "identity" {
        env.push(("MANDI_AUTH__IDENTITY_ENDPOINT".into(), peer("identity")?));
    }
    if matches!(name, "checkout" | "shipping" | "notification") {
        env.push((format!("MANDI_{upper}__CLIENT_SECRET"), SECRET.into()));
    }
    let mut peers = |var: &str, of: &str| -> Result<(), BoxError> {
        env.push((var.to_owned(), peer(of)?));
        Ok(())
    };
    match name {
        "identity" => {
            env.push(("MANDI_IDENTITY__ADMIN_EMAILS".into(), ADMIN_EMAIL.into()));
            env.push((
                "MANDI_IDENTITY__SERVICE_CLIENTS".into(),
                format!("checkout={SECRET},shipping={SECRET},notification={SECRET}"),
            ));
            // Shoppers sign up during the load; argon2's cost is not what is measured.
            env.push(("MANDI_IDENTITY__ARGON2_MEMORY_KIB".into(), "1024".into()));
        }
        "catalog" => {
            env.push((
                "MANDI_CATALOG__MONGO_URL".into(),
                mandi_testkit::mongo_url(),
            ));
            env.push((
                "MANDI_CATALOG__MONGO_DATABASE".into(),
                format!("mandi_test_{run_id}"),
            ));
            let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../services/catalog/data/demo-catalog.json");
            env.push((
                "MANDI_CATALOG__SEED_FILE".into(),
                seed.display().to_string(),
            ));
        }
        "inventory" => peers("MANDI_INVENTORY__CATALOG_ENDPOINT", "catalog")?,
        "cart" => {
            peers("MANDI_CART__CATALOG_ENDPOINT", "catalog")?;
            peers("MANDI_CART__INVENTORY_ENDPOINT", "inventory")?;
        }
        "shipping" => {
            peers("MANDI_SHIPPING__IDENTITY_ENDPOINT", "identity")?;
            peers("MANDI_SHIPPING__ORDER_ENDPOINT", "order")?;
            env.push((
                "MANDI_SHIPPING__ZONES_FILE".into(),
                zones.display().to_string(),
            ));
        }
        "checkout" => {
            for of in [
                "identity",
                "order",
                "inventory",
                "payment",
                "cart",
                "profile",
                "catalog",
                "shipping",
            ] {
                peers(
                    &format!("MANDI_CHECKOUT__{}_ENDPOINT", of.to_ascii_uppercase()),
                    of,
                )?;
            }
        }
        "notification" => {
            peers("MANDI_NOTIFICATION__IDENTITY_ENDPOINT", "identity")?;
            peers("MANDI_NOTIFICATION__PROFILE_ENDPOINT", "profile")?;
            peers("MANDI_NOTIFICATION__CATALOG_ENDPOINT", "catalog")?;
        }
        "gateway" => {
            for of in &SERVICES[..SERVICES.len() - 1] {
                peers(
                    &format!("MANDI_GATEWAY__UPSTREAM__{}", of.to_ascii_uppercase()),
                    of,
                )?;
            }
            env.push((
                "MANDI_GATEWAY__IP_RATE_LIMIT".into(),
                "1000000000/1s".into(),
            ));
            env.push((
                "MANDI_GATEWAY__USER_RATE_LIMIT".into(),
                "1000000000/1s".into(),
            ));
        }
        _ => {}
    }
    Ok(env)
}

/// Polls grpc.health until the server's overall status is SERVING.
async fn serving(process: &ServerProcess) -> Result<(), BoxError> {
    let channel = tonic::transport::Endpoint::from_shared(process.url())?.connect_lazy();
    let mut health = HealthClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if matches!(status, Ok(s) if s == ServingStatus::Serving as i32) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not report SERVING within 60 s ({status:?}); its log:\n{}",
                process.url(),
                process.log()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Signs the admin up and stocks every product the catalog lists; the one GetProduct is
/// measured on.
async fn stock_everything(admin: &Mandi) -> Result<String, BoxError> {
    sign_up(admin, ADMIN_EMAIL).await;
    let products = admin
        .catalog()
        .list_products(ListProductsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await?
        .into_inner()
        .products;
    for product in &products {
        mandi_testkit::mesh::stock(admin, &product.id, 100_000_000).await;
    }
    products
        .first()
        .map(|p| p.id.clone())
        .ok_or_else(|| "the seeded catalog is empty".into())
}

/// Resident memory of `pid` in KiB (VmRSS), 0 when unreadable.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The highest VmRSS of each of `pids`, sampled every 200 ms for `length`.
async fn sample_peaks(pids: Vec<u32>, length: Duration) -> Vec<u64> {
    let mut peaks = vec![0; pids.len()];
    let deadline = Instant::now() + length;
    while Instant::now() < deadline {
        for (peak, pid) in peaks.iter_mut().zip(&pids) {
            *peak = (*peak).max(rss_kib(*pid));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    peaks
}

/// GetProduct calls per second on catalog and on the echo, median of interleaved rounds.
async fn echo_vs_catalog(catalog: &str, product_id: &str) -> Result<(f64, f64), BoxError> {
    let request = GetProductRequest {
        product_id: product_id.to_owned(),
    };
    let channel = tonic::transport::Endpoint::from_shared(catalog.to_owned())?
        .connect()
        .await?;
    let catalog = CatalogServiceClient::new(channel);
    let reply = catalog
        .clone()
        .get_product(request.clone())
        .await?
        .into_inner();
    let process = EchoProcess::start(&reply)?;
    let echo_channel = tonic::transport::Endpoint::from_shared(process.url.clone())?
        .connect()
        .await?;
    let echo = echo::Client::new(echo_channel);
    if echo.clone().get_product(request.clone()).await? != reply {
        return Err("the echo does not answer catalog's GetProductResponse".into());
    }
    let (mut via_catalog, mut via_echo): (Vec<Run>, Vec<Run>) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (client, req) = (echo.clone(), request.clone());
        via_echo.push(
            round(CONCURRENCY, ROUND, move || {
                let (mut client, req) = (client.clone(), req.clone());
                async move { client.get_product(req).await.is_ok() }
            })
            .await,
        );
        let (client, req) = (catalog.clone(), request.clone());
        via_catalog.push(
            round(CONCURRENCY, ROUND, move || {
                let (mut client, req) = (client.clone(), req.clone());
                async move { client.get_product(req).await.is_ok() }
            })
            .await,
        );
    }
    Ok((
        median(via_catalog.iter().map(Run::per_second)),
        median(via_echo.iter().map(Run::per_second)),
    ))
}

/// Figures another bench printed: (mandi, baseline, ratio).
type Ratio = Option<(f64, f64, f64)>;

/// The first number in `text` after `after`.
fn number_after(text: &str, after: &str) -> Option<f64> {
    let rest = &text[text.find(after)? + after.len()..];
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let rest = &rest[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The gateway bench's line: `... (grpc-web, HTTP/1.1) X/s vs direct gRPC Y/s ... ratio R`.
fn read_gateway(path: &Path) -> Ratio {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with("gateway:"))?;
    Some((
        number_after(line, "HTTP/1.1)")?,
        number_after(line, "direct gRPC")?,
        number_after(line, "ratio")?,
    ))
}

/// The checkout bench's lines: checkouts completed, pgbench tps and their ratio (each
/// line starts with its label; the setup line above them names pgbench too).
fn read_checkouts(path: &Path) -> Ratio {
    let text = std::fs::read_to_string(path).ok()?;
    let figure = |label: &str| {
        text.lines()
            .map(str::trim_start)
            .find(|line| line.starts_with(label))
            .and_then(|line| number_after(line, label))
    };
    Some((
        figure("checkouts completed")?,
        figure("pgbench tpcb-like")?,
        figure("ratio checkouts / pgbench tps")?,
    ))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The one table, and the same figures as JSON.
fn table(
    mesh: &[Service],
    (catalog, echo): (f64, f64),
    gateway: &Ratio,
    checkouts: &Ratio,
    load: &mandi_loadgen::Report,
) -> (String, serde_json::Value) {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mesh: {} mandi-server processes, one per service, on PostgreSQL, Redis, MongoDB wire and Kafka (same run)",
        mesh.len()
    );
    let _ = writeln!(
        out,
        "  {:<44} {:>12} {:>14} {:>8}",
        "figure", "mandi", "baseline", "ratio"
    );
    let _ = writeln!(
        out,
        "  {:<44} {:>10.0}/s {:>12.0}/s {:>8.3}   concurrency {CONCURRENCY}, median of {ROUNDS} interleaved {}s rounds",
        "catalog GetProduct vs bare tonic echo",
        catalog,
        echo,
        catalog / echo.max(1.0),
        ROUND.as_secs()
    );
    let missing = "not measured: make bench runs its bench first";
    match gateway {
        Some((via, direct, ratio)) => {
            let _ = writeln!(
                out,
                "  {:<44} {via:>10.0}/s {direct:>12.0}/s {ratio:>8.3}   from the gateway bench (GetAvailability)",
                "gateway (grpc-web) vs direct gRPC"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  {:<44} {missing} (gateway)",
                "gateway (grpc-web) vs direct gRPC"
            );
        }
    }
    match checkouts {
        Some((rate, tps, ratio)) => {
            let _ = writeln!(
                out,
                "  {:<44} {rate:>10.1}/s {tps:>10.0} tps {ratio:>8.4}   from the checkout bench",
                "checkouts vs pgbench tpcb-like"
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  {:<44} {missing} (checkouts)",
                "checkouts vs pgbench tpcb-like"
            );
        }
    }
    let completed = load
        .operations
        .get("checkout")
        .and_then(|c| c.outcomes.get("completed"))
        .copied()
        .unwrap_or(0);
    let errors: BTreeMap<&str, u64> = load
        .operations
        .values()
        .flat_map(|op| op.errors.iter())
        .fold(BTreeMap::new(), |mut all, (code, n)| {
            *all.entry(code.as_str()).or_default() += n;
            all
        });
    let _ = writeln!(
        out,
        "  load: mandi-loadgen default mix, {SHOPPERS} shoppers through the gateway for {} s, {:.0}% declined cards: {:.1} ops/s, {:.1} checkouts completed/s, errors {:?}",
        LOAD.as_secs(),
        DECLINE_RATE * 100.0,
        load.total.per_second,
        completed as f64 / load.elapsed_seconds.max(1e-9),
        errors
    );
    let _ = writeln!(
        out,
        "  {:<14} {:>16} {:>14} {:>15}",
        "service", "start→SERVING ms", "idle RSS MiB", "load RSS MiB"
    );
    let mut services = serde_json::Map::new();
    for service in mesh {
        let _ = writeln!(
            out,
            "  {:<14} {:>16.0} {:>14.1} {:>15.1}",
            service.name,
            service.ready.as_secs_f64() * 1e3,
            mib(service.idle_kib),
            mib(service.peak_kib)
        );
        services.insert(
            service.name.into(),
            json!({
                "start_to_serving_ms": service.ready.as_secs_f64() * 1e3,
                "idle_rss_kib": service.idle_kib,
                "load_rss_kib": service.peak_kib,
            }),
        );
    }
    let (idle, peak) = mesh
        .iter()
        .fold((0, 0), |(i, p), s| (i + s.idle_kib, p + s.peak_kib));
    let _ = writeln!(
        out,
        "  {:<14} {:>16} {:>14.1} {:>15.1}",
        "all",
        "",
        mib(idle),
        mib(peak)
    );
    let ratio = |r: &Ratio| {
        r.map(|(mandi, baseline, ratio)| json!({"mandi": mandi, "baseline": baseline, "ratio": ratio}))
    };
    let figures = json!({
        "catalog_get_product_vs_echo": {
            "catalog_per_second": catalog,
            "echo_per_second": echo,
            "ratio": catalog / echo.max(1.0),
            "concurrency": CONCURRENCY,
            "rounds": ROUNDS,
            "round_seconds": ROUND.as_secs(),
        },
        "gateway_vs_direct": ratio(gateway),
        "checkouts_vs_pgbench": ratio(checkouts),
        "load": {
            "shoppers": SHOPPERS,
            "seconds": LOAD.as_secs(),
            "decline_rate": DECLINE_RATE,
            "ops_per_second": load.total.per_second,
            "checkouts_completed": completed,
            "errors": errors,
        },
        "services": services,
    });
    (out, figures)
}

/// The echo: this bench binary again, serving one canned answer.
struct EchoProcess {
    child: std::process::Child,
    url: String,
}

impl EchoProcess {
    /// Starts the echo answering `reply`.
    fn start(reply: &GetProductResponse) -> Result<Self, BoxError> {
        use prost::Message as _;
        use std::fmt::Write as _;
        use std::io::BufRead as _;
        let hex = reply
            .encode_to_vec()
            .iter()
            .fold(String::new(), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            });
        let mut child = std::process::Command::new(std::env::current_exe()?)
            .env(ECHO_ENV, hex)
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no echo stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .ok_or_else(|| format!("the echo process said `{line}`"))?;
        Ok(Self {
            child,
            url: format!("http://{addr}"),
        })
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare tonic unary service with no layers, no store and no auth: the floor a mandi
/// service's GetProduct is compared with. It answers every call with the GetProductResponse
/// catalog gave (hex-encoded in its environment), so both send the same bytes.
mod echo {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use tonic::codegen::{Body, BoxFuture, Service, StdError, http};
    use tonic::server::{Grpc, NamedService, UnaryService};
    use tonic::transport::Channel;
    use tonic_prost::ProstCodec;

    use super::{BoxError, ECHO_ENV, ECHO_PATH, GetProductRequest, GetProductResponse};

    /// Serves on 127.0.0.1 (a free port, printed as `listening <addr>`) until killed.
    pub fn serve() -> Result<(), BoxError> {
        use prost::Message as _;
        let hex = std::env::var(ECHO_ENV)?;
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16))
            .collect::<Result<_, _>>()?;
        let echo = Echo {
            reply: Arc::new(GetProductResponse::decode(bytes.as_slice())?),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            println!("listening {}", listener.local_addr()?);
            // No Nagle, as mandi-server's listener: small answers go out at once.
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            tonic::transport::Server::builder()
                .add_service(echo)
                .serve_with_incoming(incoming)
                .await?;
            Ok(())
        })
    }

    /// Answers GetProduct with `reply`.
    #[derive(Clone)]
    struct Echo {
        reply: Arc<GetProductResponse>,
    }

    impl NamedService for Echo {
        const NAME: &'static str = "mandi.bench.v1.Echo";
    }

    impl<B> Service<http::Request<B>> for Echo
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        type Response = http::Response<tonic::body::Body>;
        type Error = Infallible;
        type Future = BoxFuture<Self::Response, Self::Error>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<B>) -> Self::Future {
            let unary = Unary(self.reply.clone());
            Box::pin(async move {
                let mut grpc =
                    Grpc::new(ProstCodec::<GetProductResponse, GetProductRequest>::default());
                Ok(grpc.unary(unary, request).await)
            })
        }
    }

    struct Unary(Arc<GetProductResponse>);

    impl UnaryService<GetProductRequest> for Unary {
        type Response = GetProductResponse;
        type Future = BoxFuture<tonic::Response<GetProductResponse>, tonic::Status>;

        fn call(&mut self, _: tonic::Request<GetProductRequest>) -> Self::Future {
            let reply = (*self.0).clone();
            Box::pin(async move { Ok(tonic::Response::new(reply)) })
        }
    }

    /// A client of the echo, as a generated one would be.
    #[derive(Clone)]
    pub struct Client {
        grpc: tonic::client::Grpc<Channel>,
    }

    impl Client {
        pub fn new(channel: Channel) -> Self {
            Self {
                grpc: tonic::client::Grpc::new(channel),
            }
        }

        pub async fn get_product(
            &mut self,
            request: GetProductRequest,
        ) -> Result<GetProductResponse, tonic::Status> {
            self.grpc
                .ready()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            let path = http::uri::PathAndQuery::from_static(ECHO_PATH);
            let codec = ProstCodec::<GetProductRequest, GetProductResponse>::default();
            Ok(self
                .grpc
                .unary(tonic::Request::new(request), path, codec)
                .await?
                .into_inner())
        }
    }
}
