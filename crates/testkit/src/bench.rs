//! Load rounds for benchmarks: many callers for a fixed time, counting answers, wall time
//! and this process's CPU time (which other processes on a shared machine cannot skew).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One load round: requests answered, wall time, and CPU time this process used.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// Calls that succeeded.
    pub requests: u64,
    /// How long the round took.
    pub wall: Duration,
    /// CPU time (user + system) of this process during the round.
    pub cpu: Duration,
}

impl Run {
    /// Successful calls per second of wall time.
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }

    /// CPU microseconds per successful call.
    pub fn cpu_micros_per_request(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64
    }
}

/// Runs `concurrency` callers, each calling `call` back to back for `length`; `call`
/// answers whether the call succeeded.
pub async fn round<F, Fut>(concurrency: usize, length: Duration, call: F) -> Run
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let cpu_before = process_cpu();
    let started = Instant::now();
    let deadline = started + length;
    let callers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    if call().await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.expect("a load caller panicked");
    }
    Run {
        requests: done.load(Ordering::Relaxed),
        wall: started.elapsed(),
        cpu: process_cpu().saturating_sub(cpu_before),
    }
}

/// The median of `values` (the upper one of an even count); 0 for none.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// CPU time (user + system) this process has used, from /proc/self/stat; immune to other
/// processes on the shared machine, unlike wall-clock throughput.
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the file, 12 and 13 after the name; the
    // kernel counts them in USER_HZ ticks, 100 per second on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

// === PostgreSQL baselines ===

/// What the PostgreSQL bench helpers fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs one SQL statement on a fresh connection to `url` (for `CREATE DATABASE` and
/// `DROP DATABASE` through the admin database).
pub async fn execute(url: &str, sql: &str) -> Result<(), BoxError> {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await.map_err(|e| {
        format!("PostgreSQL is not reachable at {url} ({e}); start it with `make up`")
    })?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut connection)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(())
}

/// Runs pgbench against `url` (libpq takes a connection URI where the database name
/// goes) and returns its standard output.
pub fn pgbench(args: &[&str], url: &str) -> Result<String, BoxError> {
    let output = std::process::Command::new("pgbench")
        .args(args)
        .arg(url)
        .output()
        .map_err(|e| {
            format!("cannot run pgbench ({e}); install PostgreSQL's client tools (apt-get install postgresql-client)")
        })?;
    if !output.status.success() {
        return Err(format!(
            "pgbench {} failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The `tps = X` figure; where pgbench prints two (before PostgreSQL 14), the one
/// excluding connection set-up.
pub fn parse_tps(output: &str) -> Option<f64> {
    let lines: Vec<&str> = output
        .lines()
        .filter(|line| line.trim_start().starts_with("tps = "))
        .collect();
    let line = lines
        .iter()
        .find(|line| line.contains("excluding") || line.contains("without initial"))
        .or(lines.first())?;
    line.trim_start()
        .strip_prefix("tps = ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The `p` quantile (0..=1) of `sorted`; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// `d` in milliseconds.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Creates a database `mandi_bench_<uuid>` beside the test admin database, runs `run`
/// with its URL, and drops it whatever happened (FORCE ends connections a failed run left
/// behind).
pub fn with_scratch_database(
    runtime: &tokio::runtime::Runtime,
    run: impl FnOnce(&str) -> Result<(), BoxError>,
) -> Result<(), BoxError> {
    let admin = crate::postgres_admin_url();
    let name = format!("mandi_bench_{}", uuid::Uuid::now_v7().simple());
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    let url = format!("{base}/{name}");

    runtime.block_on(execute(&admin, &format!("CREATE DATABASE {name}")))?;
    let outcome = run(&url);
    let dropped = runtime.block_on(execute(
        &admin,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    ));
    outcome?;
    dropped?;
    Ok(())
}

/// A fixed linear congruential sequence, so a benchmark makes the same choices every run.
pub struct Lcg(pub u64);

impl Lcg {
    /// The sequence of client `client` (distinct per client, fixed across runs).
    pub fn for_client(client: usize) -> Self {
        Self(0x5eed_2026 ^ ((client as u64 + 1) * 0x9e37_79b9_7f4a_7c15))
    }

    /// The next number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}
