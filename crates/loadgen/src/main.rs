//! `mandi-loadgen`: offers a shopper mix to a mandi mesh and reports what it answered.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use mandi_loadgen::{CheckoutMode, Config, Load, Mix, parse_duration};

/// Load a mandi mesh with shoppers and report throughput, latency percentiles and errors.
#[derive(Debug, Parser)]
#[command(name = "mandi-loadgen", version)]
struct Args {
    /// The endpoint of every service (a `mandi-server --target=all`, or the gateway).
    #[arg(long, env = "MANDI_ENDPOINT", default_value = "http://127.0.0.1:50051")]
    endpoint: String,
    /// A service's own endpoint, `service=URL` (repeatable), like the SDK builder's.
    #[arg(long = "service-endpoint", value_name = "SERVICE=URL", value_parser = service_endpoint)]
    service_endpoints: Vec<(String, String)>,
    /// Weights per operation (browse, search, cart, checkout, track).
    #[arg(long, default_value = "browse=10,search=4,cart=3,checkout=1,track=1")]
    mix: Mix,
    /// Open model: operations started per second, whatever the answers take.
    #[arg(long, conflicts_with = "concurrency")]
    rate: Option<f64>,
    /// Closed model: shoppers each doing one operation after another (the default, 8).
    #[arg(long)]
    concurrency: Option<usize>,
    /// How long to start operations for (500ms, 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: std::time::Duration,
    /// Share of checkouts paid with one of the sandbox's declined test cards (0..=1).
    #[arg(long, default_value_t = 0.0)]
    decline_rate: f64,
    /// How a checkout waits for its end: StartCheckout's `wait`, or WatchCheckout.
    #[arg(long, value_enum, default_value_t = Mode::Wait)]
    checkout_mode: Mode,
    /// Open model: operations running at once before arrivals are dropped (and counted).
    #[arg(long, default_value_t = 256)]
    max_in_flight: usize,
    /// Seeds every choice, so two runs make the same ones.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Where report.json and latency.svg go.
    #[arg(long, default_value = "loadgen-report")]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Wait,
    Watch,
}

fn service_endpoint(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(service, url)| (service.trim().to_owned(), url.trim().to_owned()))
        .filter(|(service, url)| !service.is_empty() && !url.is_empty())
        .ok_or_else(|| {
            format!("`{s}` is not SERVICE=URL (for example catalog=http://127.0.0.1:50052)")
        })
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mandi-loadgen: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let load = match args.rate {
        Some(rate) => Load::Open { rate },
        None => Load::Closed {
            concurrency: args.concurrency.unwrap_or(8),
        },
    };
    let config = Config {
        endpoint: args.endpoint,
        service_endpoints: args.service_endpoints,
        mix: args.mix,
        load,
        duration: args.duration,
        decline_rate: args.decline_rate,
        checkout_mode: match args.checkout_mode {
            Mode::Wait => CheckoutMode::Wait,
            Mode::Watch => CheckoutMode::Watch,
        },
        max_in_flight: args.max_in_flight,
        seed: args.seed,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(mandi_loadgen::run(&config))?;
    print!("{}", report.table());
    let (json, svg) = report
        .write(&args.out)
        .with_context(|| format!("cannot write the report into {}", args.out.display()))?;
    println!("report: {}  plot: {}", json.display(), svg.display());
    Ok(())
}
