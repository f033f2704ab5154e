//! Checkout reservations per second on real PostgreSQL, next to pgbench's tpcb-like
//! transactions per second measured in the same run on the same database (the machine is
//! shared and noisy: only the ratio travels).
//!
//! A checkout reservation is what the checkout service does for an order: `reserve` 1–3
//! lines of random products (FEFO, row locks on the products' batches), then `commit`.
//! 32 clients run them back to back for a fixed time against 50 products stocked in two
//! warehouses. Right after, pgbench runs its default tpcb-like script (five statements,
//! three updates, one transaction) with 32 clients on the same database for as long. Both
//! are small write transactions contending on hot rows, so the ratio says how close
//! reservations come to what this PostgreSQL does on a well-known write load.
//!
//! Needs PostgreSQL at `MANDI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `pgbench` on the PATH. Creates a
//! database `mandi_bench_<uuid>` and drops it at the end. Run with `make bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mandi_inventory::domain::{Location, NewBatch, NewWarehouse, ReservationLine, ReserveRequest};
use mandi_inventory::store::InventoryStore;
use mandi_inventory::store::postgres::PgStore;
use mandi_testkit::bench::{
    BoxError, Lcg, millis, parse_tps, percentile, pgbench, with_scratch_database,
};
use uuid::Uuid;

const CLIENTS: usize = 32;
/// The store's pool: one connection per client and two spare, so no client waits for a
/// connection (it would measure the pool, not PostgreSQL).
const POOL: u32 = CLIENTS as u32 + 2;
const DURATION: Duration = Duration::from_secs(10);
/// Not counted: connections open, caches and plans warm.
const WARM_UP: Duration = Duration::from_secs(2);
const PRODUCTS: usize = 50;
const WAREHOUSES: [&str; 2] = ["BLR-01", "BLR-02"];
/// Batches per product per warehouse, expiring 10, 20, 30… days out.
const BATCHES_PER_WAREHOUSE: usize = 3;
/// Far more than a run can reserve: a short line would end the measurement early.
const BATCH_QUANTITY: i64 = 1_000_000;
const PGBENCH_SCALE: u32 = 10;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    with_scratch_database(&runtime, |url| run(&runtime, url))
}

fn run(runtime: &tokio::runtime::Runtime, url: &str) -> Result<(), BoxError> {
    // pgbench's tables first, so that its load phase (bulk insert, vacuum) is over before
    // anything is timed.
    pgbench(&["-i", "-q", "-s", &PGBENCH_SCALE.to_string()], url)?;

    let checkout = runtime.block_on(async {
        let store = Arc::new(PgStore::connect_with(url, POOL).await?);
        let products = stock_up(&store).await?;
        let _ = checkouts(&store, &products, WARM_UP).await?;
        checkouts(&store, &products, DURATION).await
    })?;

    let seconds = DURATION.as_secs().to_string();
    let clients = CLIENTS.to_string();
    let output = pgbench(
        &["-c", &clients, "-j", "2", "-T", &seconds, "-M", "prepared"],
        url,
    )?;
    let tps = parse_tps(&output)
        .ok_or_else(|| format!("no `tps = ` line in pgbench output:\n{output}"))?;

    let wall = checkout.wall.as_secs_f64();
    let per_second = checkout.completed as f64 / wall;
    println!("inventory reservations on PostgreSQL vs pgbench tpcb-like, same database, same run");
    println!(
        "  setup: {PRODUCTS} products × {} warehouses × {BATCHES_PER_WAREHOUSE} batches, \
         1–3 lines of 1–3 units per order, {CLIENTS} clients, pool {POOL}, {DURATION:?} each \
         (after {WARM_UP:?} warm-up); pgbench -s {PGBENCH_SCALE} -c {CLIENTS} -j 2 -M prepared",
        WAREHOUSES.len()
    );
    println!(
        "  checkout reservations (reserve + commit) {:>9.0} /s   {} in {:.1} s, {} failed{}",
        per_second,
        checkout.completed,
        wall,
        checkout.failed,
        checkout
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!(
        "  reserves                                 {:>9.0} /s   p50 {:.2} ms   p99 {:.2} ms",
        checkout.reserve.len() as f64 / wall,
        millis(percentile(&checkout.reserve, 0.50)),
        millis(percentile(&checkout.reserve, 0.99)),
    );
    println!(
        "  commits                                  {:>9.0} /s   p50 {:.2} ms   p99 {:.2} ms",
        checkout.commit.len() as f64 / wall,
        millis(percentile(&checkout.commit, 0.50)),
        millis(percentile(&checkout.commit, 0.99)),
    );
    println!("  pgbench tpcb-like                        {tps:>9.0} tps");
    println!(
        "  ratio checkout reservations / pgbench tps {:>8.2}",
        per_second / tps
    );
    Ok(())
}

// === setup ===

fn now() -> DateTime<Utc> {
    // PostgreSQL keeps microseconds; a finer `now` would not read back equal.
    DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap_or_else(Utc::now)
}

/// Two warehouses and plenty of stock for each product; returns the product ids.
async fn stock_up(store: &PgStore) -> Result<Vec<Uuid>, BoxError> {
    let at = now();
    let mut warehouses = Vec::new();
    for code in WAREHOUSES {
        let warehouse = NewWarehouse {
            code: code.into(),
            name: format!("Bengaluru {code}"),
            location: Location {
                line1: "1 Market Road".into(),
                city: "Bengaluru".into(),
                country_code: "IN".into(),
                ..Location::default()
            },
            cold_storage: false,
        }
        .into_warehouse(at)
        .map_err(|v| format!("bad warehouse: {v:?}"))?;
        store.create_warehouse(&warehouse).await?;
        warehouses.push(warehouse.id);
    }
    let products: Vec<Uuid> = (0..PRODUCTS).map(|_| Uuid::now_v7()).collect();
    for &product in &products {
        for &warehouse in &warehouses {
            for n in 0..BATCHES_PER_WAREHOUSE {
                let batch = NewBatch {
                    product_id: product,
                    warehouse_id: warehouse,
                    quantity: BATCH_QUANTITY,
                    received_at: None,
                    expires_at: at + chrono::Duration::days(10 * (n as i64 + 1)),
                    supplier_ref: "FARM-7".into(),
                    cold_chain: false,
                    unit_cost_minor: None,
                }
                .into_batch(at)
                .map_err(|v| format!("bad batch: {v:?}"))?;
                store.receive_batch(&batch).await?;
            }
        }
    }
    Ok(products)
}

// === the load ===

/// What the clients did in one timed phase.
struct Checkouts {
    completed: u64,
    failed: u64,
    first_error: Option<String>,
    reserve: Vec<Duration>,
    commit: Vec<Duration>,
    wall: Duration,
}

/// `CLIENTS` tasks reserving and committing fresh orders until `run` is up.
async fn checkouts(
    store: &Arc<PgStore>,
    products: &[Uuid],
    run: Duration,
) -> Result<Checkouts, BoxError> {
    let products: Arc<[Uuid]> = products.into();
    let started = Instant::now();
    let deadline = started + run;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (store, products) = (store.clone(), products.clone());
            tokio::spawn(async move {
                let mut random = Lcg::for_client(client);
                let mut done = Checkouts {
                    completed: 0,
                    failed: 0,
                    first_error: None,
                    reserve: Vec::new(),
                    commit: Vec::new(),
                    wall: Duration::ZERO,
                };
                while Instant::now() < deadline {
                    let order = Uuid::now_v7();
                    let lines = order_lines(&mut random, &products);
                    let outcome = async {
                        let request = ReserveRequest::new(order, lines, true, None)
                            .map_err(|v| format!("bad request: {v:?}"))?;
                        let one = Instant::now();
                        store.reserve(&request, now()).await?;
                        done.reserve.push(one.elapsed());
                        let one = Instant::now();
                        store.commit(order, now()).await?;
                        done.commit.push(one.elapsed());
                        Ok::<_, BoxError>(())
                    }
                    .await;
                    match outcome {
                        Ok(()) => done.completed += 1,
                        Err(error) => {
                            done.failed += 1;
                            done.first_error.get_or_insert_with(|| error.to_string());
                        }
                    }
                }
                done
            })
        })
        .collect();
    let mut total = Checkouts {
        completed: 0,
        failed: 0,
        first_error: None,
        reserve: Vec::new(),
        commit: Vec::new(),
        wall: Duration::ZERO,
    };
    for client in clients {
        let done = client.await?;
        total.completed += done.completed;
        total.failed += done.failed;
        total.first_error = total.first_error.or(done.first_error);
        total.reserve.extend(done.reserve);
        total.commit.extend(done.commit);
    }
    total.wall = started.elapsed();
    total.reserve.sort();
    total.commit.sort();
    Ok(total)
}

/// 1–3 lines of distinct products, 1–3 units each.
fn order_lines(random: &mut Lcg, products: &[Uuid]) -> Vec<ReservationLine> {
    let count = random.below(3) + 1;
    let mut lines: Vec<ReservationLine> = Vec::with_capacity(count);
    while lines.len() < count {
        let product_id = products[random.below(products.len())];
        if lines.iter().all(|line| line.product_id != product_id) {
            lines.push(ReservationLine {
                product_id,
                quantity: random.below(3) as i64 + 1,
            });
        }
    }
    lines
}
