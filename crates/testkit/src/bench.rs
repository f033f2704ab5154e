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
