//! Running a mix: the open model (arrivals at a fixed rate, whatever the answers take)
//! or the closed model (a fixed number of shoppers, each starting its next operation when
//! the last one ends), for a fixed time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::catalog::v1::ListProductsRequest;
use mandi_sdk::proto::mandi::inventory::v1::BatchGetAvailabilityRequest;
use tokio::sync::{Mutex, Semaphore};

use crate::mix::{Mix, Operation};
use crate::report::{Report, ReportHeader};
use crate::shop::{CheckoutMode, Product, Rng, Shop, Shopper};
use crate::stats::Recorder;

/// How load is offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// New operations arrive at `rate` per second, each by an idle shopper or a new one.
    Open {
        /// Arrivals per second.
        rate: f64,
    },
    /// `concurrency` shoppers, each doing one operation after another.
    Closed {
        /// Shoppers.
        concurrency: usize,
    },
}

/// A run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The endpoint of every service not in `service_endpoints`.
    pub endpoint: String,
    /// Per-service endpoints (short service name, URL), as the SDK builder takes them.
    pub service_endpoints: Vec<(String, String)>,
    /// What shoppers do.
    pub mix: Mix,
    /// Open or closed.
    pub load: Load,
    /// How long operations are started for.
    pub duration: Duration,
    /// Share of checkouts with a declined card, 0..=1.
    pub decline_rate: f64,
    /// Wait or watch checkouts.
    pub checkout_mode: CheckoutMode,
    /// Open model: operations running at once before arrivals are dropped.
    pub max_in_flight: usize,
    /// Seeds every shopper's choices.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            endpoint: "http://127.0.0.1:50051".into(),
            service_endpoints: Vec::new(),
            mix: Mix::default(),
            load: Load::Closed { concurrency: 8 },
            duration: Duration::from_secs(30),
            decline_rate: 0.0,
            checkout_mode: CheckoutMode::Wait,
            max_in_flight: 256,
            seed: 2026,
        }
    }
}

/// Answers still running this long after the end are abandoned (and not counted).
const DRAIN: Duration = Duration::from_secs(60);
/// Products looked at to find stocked ones.
const CATALOG_PAGES: usize = 10;

/// Runs `config` and reports what happened.
pub async fn run(config: &Config) -> anyhow::Result<Report> {
    if !(0.0..=1.0).contains(&config.decline_rate) {
        bail!(
            "the decline rate must be between 0 and 1, not {}",
            config.decline_rate
        );
    }
    let mut builder = Mandi::builder().endpoint(config.endpoint.clone());
    for (service, url) in &config.service_endpoints {
        if !mandi_sdk::SERVICES.contains(&service.as_str()) {
            bail!(
                "unknown service `{service}` in a service endpoint (one of {})",
                mandi_sdk::SERVICES.join(", ")
            );
        }
        builder = builder.service_endpoint(service.clone(), url.clone());
    }
    let probe = builder
        .clone()
        .connect_lazy()
        .context("the endpoint is not a valid URL")?;
    let (products, stocked) = discover(&probe).await?;
    let needs_stock = config
        .mix
        .weights()
        .any(|(op, _)| matches!(op, Operation::Cart | Operation::Checkout));
    if needs_stock && stocked.is_empty() {
        bail!(
            "no product in the catalog has stock, so carts and checkouts cannot run; stock some \
             (the embedded `mandi-server --target=all` stocks the demo catalog) or drop cart and \
             checkout from the mix"
        );
    }
    let recorder = Arc::new(Recorder::default());
    let shop = Arc::new(Shop {
        builder,
        products,
        stocked,
        decline_rate: config.decline_rate,
        checkout_mode: config.checkout_mode,
        recorder: recorder.clone(),
    });

    let started = Instant::now();
    let dropped = match config.load {
        Load::Closed { concurrency } => {
            closed(&shop, config, concurrency.max(1), started + config.duration).await?;
            0
        }
        Load::Open { rate } => {
            if !(rate.is_finite() && rate > 0.0) {
                bail!("the rate must be a positive number of operations per second");
            }
            open(&shop, config, rate, started + config.duration).await?
        }
    };
    let elapsed = started.elapsed();
    let (model, rate, concurrency) = match config.load {
        Load::Open { rate } => ("open", Some(rate), None),
        Load::Closed { concurrency } => ("closed", None, Some(concurrency)),
    };
    Ok(Report::build(
        ReportHeader {
            model: model.into(),
            rate,
            concurrency,
            mix: config.mix.to_map(),
            decline_rate: config.decline_rate,
            endpoint: config.endpoint.clone(),
            dropped_arrivals: dropped,
        },
        elapsed,
        recorder.snapshot(),
    ))
}

/// Lists the catalog and asks inventory which products have stock for a cart line.
async fn discover(mandi: &Mandi) -> anyhow::Result<(Vec<Product>, Vec<Product>)> {
    let mut products = Vec::new();
    let mut page_token = String::new();
    for _ in 0..CATALOG_PAGES {
        let page = mandi
            .catalog()
            .list_products(ListProductsRequest {
                page_size: 100,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .context("cannot list the catalog (is the server up?)")?
            .into_inner();
        products.extend(page.products.into_iter().map(|p| {
            let quantity = smallest_line(&p);
            Product { id: p.id, quantity }
        }));
        page_token = page.next_page_token;
        if page_token.is_empty() {
            break;
        }
    }
    let mut stocked = Vec::new();
    for chunk in products.chunks(200) {
        let availabilities = mandi
            .inventory()
            .batch_get_availability(BatchGetAvailabilityRequest {
                product_ids: chunk.iter().map(|p| p.id.clone()).collect(),
            })
            .await
            .context("cannot read stock from inventory")?
            .into_inner()
            .availabilities;
        stocked.extend(
            chunk
                .iter()
                .filter(|p| {
                    availabilities
                        .iter()
                        .any(|a| a.product_id == p.id && a.available_quantity >= p.quantity)
                })
                .cloned(),
        );
    }
    Ok((products, stocked))
}

/// The smallest quantity a cart line of `product` may hold: its minimum, else one step
/// (0 means 50 g for weight-priced products and 1 for counted ones, as catalog.proto says).
pub fn smallest_line(product: &mandi_sdk::proto::mandi::catalog::v1::Product) -> i64 {
    use mandi_sdk::proto::mandi::common::v1::UnitOfSale;
    if product.min_quantity > 0 {
        return product.min_quantity;
    }
    if product.quantity_step > 0 {
        return product.quantity_step;
    }
    match UnitOfSale::try_from(product.unit_of_sale) {
        Ok(UnitOfSale::Kilogram | UnitOfSale::HundredGrams) => 50,
        _ => 1,
    }
}

async fn closed(
    shop: &Arc<Shop>,
    config: &Config,
    concurrency: usize,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut tasks = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        let seed = config.seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut shopper = Shopper::new(shop, seed).context("cannot build an SDK client")?;
        let mut rng = Rng::new(seed.rotate_left(17));
        let shop = shop.clone();
        let mix = config.mix.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                shopper.act(&shop, mix.pick(rng.next_u64())).await;
            }
        }));
    }
    let drain = tokio::time::sleep_until((deadline + DRAIN).into());
    tokio::pin!(drain);
    for task in tasks {
        tokio::select! {
            _ = task => {}
            _ = &mut drain => break,
        }
    }
    Ok(())
}

/// Returns how many arrivals were dropped.
async fn open(
    shop: &Arc<Shop>,
    config: &Config,
    rate: f64,
    deadline: Instant,
) -> anyhow::Result<u64> {
    let slots = config.max_in_flight.max(1);
    let in_flight = Arc::new(Semaphore::new(slots));
    let idle: Arc<Mutex<Vec<Shopper>>> = Arc::default();
    let dropped = Arc::new(AtomicU64::new(0));
    let mut rng = Rng::new(config.seed);
    let mut shoppers_made = 0u64;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    // Late ticks fire at once: the offered rate holds even when the scheduler lags.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        let tick = ticks.tick().await;
        if tick.into_std() >= deadline {
            break;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let reused = idle.lock().await.pop();
        let shopper = match reused {
            Some(shopper) => shopper,
            None => {
                shoppers_made += 1;
                let seed = config.seed ^ shoppers_made.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                Shopper::new(shop, seed).context("cannot build an SDK client")?
            }
        };
        let op = config.mix.pick(rng.next_u64());
        let shop = shop.clone();
        let idle = idle.clone();
        tokio::spawn(async move {
            let mut shopper = shopper;
            shopper.act(&shop, op).await;
            idle.lock().await.push(shopper);
            drop(permit);
        });
    }
    // Every permit back means every operation answered.
    let all = u32::try_from(slots).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN, in_flight.acquire_many(all)).await;
    Ok(dropped.load(Ordering::Relaxed))
}
