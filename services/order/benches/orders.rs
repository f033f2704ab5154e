//! Order creations per second on real PostgreSQL, outbox included, next to pgbench's
//! tpcb-like transactions per second measured in the same run on the same database (the
//! machine is shared and noisy: only the ratio travels).
//!
//! An order creation is what checkout's CreateOrder costs the store: the domain check and
//! totals of 1–3 items, then one transaction inserting the order row (its unique request
//! key guarding duplicates), its creation history entry and its OrderCreated event in the
//! outbox. 32 clients create fresh orders back to back for a fixed time while the outbox
//! relay publishes and marks the events sent every 100 ms, as in the server. Right after,
//! pgbench runs its default tpcb-like script (five statements, three updates, one
//! transaction) with 32 clients on the same database for as long.
//!
//! Needs PostgreSQL at `MANDI_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `pgbench` on the PATH. Creates a
//! database `mandi_bench_<uuid>` and drops it at the end. Run with `make bench`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mandi_order::domain::{Destination, Item, Money, NewOrder, PaymentMethod, Unit};
use mandi_order::orders::Orders;
use mandi_order::store::RequestKey;
use mandi_order::store::postgres::PgStore;
use mandi_runtime::events::{EventPublisher, PublishError};
use mandi_runtime::outbox::Relay;
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use mandi_testkit::bench::{
    BoxError, Lcg, millis, parse_tps, percentile, pgbench, with_scratch_database,
};
use uuid::Uuid;

const CLIENTS: usize = 32;
/// One connection per client, one for the relay's lock and two spare, so no client waits
/// for a connection (it would measure the pool, not PostgreSQL).
const POOL: u32 = CLIENTS as u32 + 3;
const DURATION: Duration = Duration::from_secs(10);
/// Not counted: connections open, caches and plans warm.
const WARM_UP: Duration = Duration::from_secs(2);
const RELAY_INTERVAL: Duration = Duration::from_millis(100);
const PGBENCH_SCALE: u32 = 10;

fn main() -> Result<(), BoxError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    with_scratch_database(&runtime, |url| run(&runtime, url))
}

/// Counts what the relay publishes (a broker that always answers at once).
#[derive(Default)]
struct Counting(AtomicUsize);

impl EventPublisher for Counting {
    async fn publish(&self, _: &str, _: &str, _: EventEnvelope) -> Result<(), PublishError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn run(runtime: &tokio::runtime::Runtime, url: &str) -> Result<(), BoxError> {
    // pgbench's tables first, so that its load phase (bulk insert, vacuum) is over before
    // anything is timed.
    pgbench(&["-i", "-q", "-s", &PGBENCH_SCALE.to_string()], url)?;

    let published = Arc::new(Counting::default());
    let created = runtime.block_on(async {
        let store = Arc::new(PgStore::connect_with(url, POOL).await?);
        let relay = Relay::new(store.clone(), published.clone(), 500).spawn(RELAY_INTERVAL);
        let orders = Orders::new(store);
        let warm = creations(&orders, WARM_UP).await;
        let timed = creations(&orders, DURATION).await;
        relay.abort();
        Ok::<_, BoxError>((timed, warm.latencies.len()))
    })?;
    let (created, warm_up_orders) = created;

    let seconds = DURATION.as_secs().to_string();
    let clients = CLIENTS.to_string();
    let output = pgbench(
        &["-c", &clients, "-j", "2", "-T", &seconds, "-M", "prepared"],
        url,
    )?;
    let tps = parse_tps(&output)
        .ok_or_else(|| format!("no `tps = ` line in pgbench output:\n{output}"))?;

    let wall = created.wall.as_secs_f64();
    let per_second = created.latencies.len() as f64 / wall;
    println!(
        "order creations on PostgreSQL (with outbox) vs pgbench tpcb-like, same database, same run"
    );
    println!(
        "  setup: 1–3 items per order, {CLIENTS} clients, pool {POOL}, relay every \
         {RELAY_INTERVAL:?}, {DURATION:?} each (after {WARM_UP:?} warm-up); \
         pgbench -s {PGBENCH_SCALE} -c {CLIENTS} -j 2 -M prepared"
    );
    println!(
        "  order creations                {per_second:>9.0} /s   {} in {wall:.1} s, {} failed{}   \
         p50 {:.2} ms   p99 {:.2} ms",
        created.latencies.len(),
        created.failed,
        created
            .first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        millis(percentile(&created.latencies, 0.50)),
        millis(percentile(&created.latencies, 0.99)),
    );
    let written = warm_up_orders + created.latencies.len();
    let relayed = published.0.load(Ordering::Relaxed);
    println!(
        "  OrderCreated events relayed    {relayed:>9} of {written} written (warm-up \
         included), {} behind when the load stopped",
        written.saturating_sub(relayed)
    );
    println!("  pgbench tpcb-like              {tps:>9.0} tps");
    println!(
        "  ratio order creations / pgbench tps {:>6.2}",
        per_second / tps
    );
    Ok(())
}

/// What the clients did in one timed phase.
#[derive(Default)]
struct Creations {
    latencies: Vec<Duration>,
    failed: u64,
    first_error: Option<String>,
    wall: Duration,
}

/// `CLIENTS` tasks creating fresh orders until `run` is up.
async fn creations(orders: &Orders<PgStore>, run: Duration) -> Creations {
    let started = Instant::now();
    let deadline = started + run;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let orders = orders.clone();
            tokio::spawn(async move {
                let mut random = Lcg::for_client(client);
                let mut done = Creations::default();
                while Instant::now() < deadline {
                    let (order, key) = order(&mut random);
                    let one = Instant::now();
                    match orders.create(order, &key, "service:checkout").await {
                        Ok(_) => done.latencies.push(one.elapsed()),
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
    let mut total = Creations::default();
    for client in clients {
        match client.await {
            Ok(done) => {
                total.latencies.extend(done.latencies);
                total.failed += done.failed;
                total.first_error = total.first_error.or(done.first_error);
            }
            Err(error) => {
                total.failed += 1;
                total.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
    total.wall = started.elapsed();
    total.latencies.sort();
    total
}

/// A fresh order of 1–3 items (1–3 kg at 20.00–120.00 per kg) and its request key.
fn order(random: &mut Lcg) -> (NewOrder, RequestKey) {
    let inr = |minor| Money::new("INR", minor);
    let items: Vec<Item> = (0..random.below(3) + 1)
        .map(|_| Item {
            product_id: Uuid::now_v7(),
            name: "Tomato".into(),
            image_url: String::new(),
            vendor_id: Uuid::now_v7(),
            unit: Unit::Kilogram,
            quantity: (random.below(3) as i64 + 1) * 1000,
            unit_price: inr((random.below(6) as i64 + 1) * 2_000),
        })
        .collect();
    let subtotal: i64 = items
        .iter()
        .map(|item| item.unit_price.minor * item.quantity / 1000)
        .sum();
    let checkout_id = Uuid::now_v7().to_string();
    let key = RequestKey {
        key: format!("service:checkout/{checkout_id}"),
        fingerprint: format!("CreateOrder:{checkout_id}"),
    };
    let order = NewOrder {
        customer_id: Uuid::now_v7(),
        checkout_id,
        items,
        destination: Destination {
            line1: "1 Market Road".into(),
            city: "Bengaluru".into(),
            country_code: "IN".into(),
            recipient_name: "Asha".into(),
            recipient_phone: "+919812345678".into(),
            ..Destination::default()
        },
        slot: None,
        delivery_fee: inr(4_000),
        tax: inr(0),
        discount: inr(0),
        expected_total: inr(subtotal + 4_000),
        payment_method: PaymentMethod("PAYMENT_METHOD_CARD".into()),
    };
    (order, key)
}
