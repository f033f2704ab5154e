//! The run's report: a table for the terminal, `report.json` for machines and
//! `latency.svg`, a percentile plot drawn by hand (no plotting crate for a few lines).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::mix::Operation;
use crate::stats::{CURVE, Samples, percentile};

/// What a run did, as `report.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `open` (arrivals at a fixed rate) or `closed` (a fixed number of shoppers).
    pub model: String,
    /// Arrivals per second in the open model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Shoppers in the closed model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    /// The weights of the mix.
    pub mix: BTreeMap<String, u32>,
    /// Share of checkouts sent with a declined test card.
    pub decline_rate: f64,
    /// Where the calls went.
    pub endpoint: String,
    /// Wall time from the first call to the last answer, in seconds.
    pub elapsed_seconds: f64,
    /// Arrivals not started because `max_in_flight` were already running (open model).
    pub dropped_arrivals: u64,
    /// Every operation together.
    pub total: Totals,
    /// Per operation, by name.
    pub operations: BTreeMap<String, OperationReport>,
}

/// Counts over every operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed.
    pub errors: u64,
    /// Successful operations per second of wall time.
    pub per_second: f64,
}

/// One operation's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationReport {
    /// Operations that succeeded.
    pub ok: u64,
    /// Failures by gRPC code name (or by the unexpected outcome's name).
    pub errors: BTreeMap<String, u64>,
    /// Successful ends by label (checkout: completed, declined).
    pub outcomes: BTreeMap<String, u64>,
    /// Successful operations per second of wall time.
    pub per_second: f64,
    /// Latency of the successful operations, in milliseconds.
    pub latency_ms: Latency,
    /// `[percentile, milliseconds]` pairs through the percentiles of [`CURVE`].
    pub curve_ms: Vec<[f64; 2]>,
}

/// Latency summary in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1e3
}

// === impl Report ===

impl Report {
    /// Sums up `samples` over `elapsed`; `model` and the rest describe the run.
    pub fn build(
        header: ReportHeader,
        elapsed: Duration,
        samples: BTreeMap<Operation, Samples>,
    ) -> Self {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let mut operations = BTreeMap::new();
        let (mut ok_total, mut errors_total) = (0, 0);
        for (op, mut samples) in samples {
            samples.latencies_us.sort_unstable();
            let sorted = &samples.latencies_us;
            let ok = sorted.len() as u64;
            let errors: u64 = samples.errors.values().sum();
            ok_total += ok;
            errors_total += errors;
            let mean = if sorted.is_empty() {
                0.0
            } else {
                ms(sorted.iter().sum::<u64>()) / sorted.len() as f64
            };
            operations.insert(
                op.name().to_owned(),
                OperationReport {
                    ok,
                    errors: samples.errors,
                    outcomes: samples.outcomes,
                    per_second: ok as f64 / seconds,
                    latency_ms: Latency {
                        p50: ms(percentile(sorted, 50.0)),
                        p90: ms(percentile(sorted, 90.0)),
                        p99: ms(percentile(sorted, 99.0)),
                        max: ms(sorted.last().copied().unwrap_or(0)),
                        mean,
                    },
                    curve_ms: if sorted.is_empty() {
                        Vec::new()
                    } else {
                        CURVE
                            .iter()
                            .map(|p| [*p, ms(percentile(sorted, *p))])
                            .collect()
                    },
                },
            );
        }
        Report {
            model: header.model,
            rate: header.rate,
            concurrency: header.concurrency,
            mix: header.mix,
            decline_rate: header.decline_rate,
            endpoint: header.endpoint,
            elapsed_seconds: seconds,
            dropped_arrivals: header.dropped_arrivals,
            total: Totals {
                ok: ok_total,
                errors: errors_total,
                per_second: ok_total as f64 / seconds,
            },
            operations,
        }
    }

    /// The terminal table: throughput, p50/p90/p99 and errors by code per operation.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let load = match (self.rate, self.concurrency) {
            (Some(rate), _) => format!("open model, {rate} arrivals/s"),
            (None, Some(n)) => format!("closed model, {n} shoppers"),
            _ => self.model.clone(),
        };
        let _ = writeln!(
            out,
            "mandi-loadgen: {load} against {} for {:.1} s, decline rate {:.0}%",
            self.endpoint,
            self.elapsed_seconds,
            self.decline_rate * 100.0
        );
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>9} {:>9} {:>9} {:>9}  errors by code / outcomes",
            "operation", "ok", "ok/s", "p50 ms", "p90 ms", "p99 ms"
        );
        for (name, op) in &self.operations {
            let mut notes: Vec<String> =
                op.errors.iter().map(|(c, n)| format!("{c} {n}")).collect();
            notes.extend(op.outcomes.iter().map(|(o, n)| format!("{o} {n}")));
            let _ = writeln!(
                out,
                "{name:<10} {:>8} {:>9.1} {:>9.2} {:>9.2} {:>9.2}  {}",
                op.ok,
                op.per_second,
                op.latency_ms.p50,
                op.latency_ms.p90,
                op.latency_ms.p99,
                if notes.is_empty() {
                    "-".to_owned()
                } else {
                    notes.join(", ")
                }
            );
        }
        let _ = writeln!(
            out,
            "{:<10} {:>8} {:>9.1}  errors {}{}",
            "total",
            self.total.ok,
            self.total.per_second,
            self.total.errors,
            if self.dropped_arrivals > 0 {
                format!(
                    ", {} arrivals dropped (too many in flight)",
                    self.dropped_arrivals
                )
            } else {
                String::new()
            }
        );
        out
    }

    /// Writes `report.json` and `latency.svg` into `dir` (created if missing); their paths.
    pub fn write(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join("report.json");
        let body = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&json, body + "\n")?;
        let svg = dir.join("latency.svg");
        std::fs::write(&svg, self.svg())?;
        Ok((json, svg))
    }

    /// Latency by percentile, one line per operation, on a log scale of milliseconds: the
    /// median and the tail are both readable on one plot.
    pub fn svg(&self) -> String {
        const W: f64 = 840.0;
        const H: f64 = 420.0;
        const LEFT: f64 = 70.0;
        const RIGHT: f64 = 230.0;
        const TOP: f64 = 40.0;
        const BOTTOM: f64 = 50.0;
        const COLORS: [&str; 6] = [
            "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d",
        ];
        let values = self
            .operations
            .values()
            .flat_map(|op| op.curve_ms.iter().map(|[_, v]| *v))
            .filter(|v| *v > 0.0);
        let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (lo_exp, hi_exp) = if lo > hi {
            (-1, 1)
        } else {
            let lo = lo.log10().floor() as i32;
            (lo, (hi.log10().ceil() as i32).max(lo + 1))
        };
        let plot_w = W - LEFT - RIGHT;
        let plot_h = H - TOP - BOTTOM;
        // Percentiles spread like a latency-by-percentile chart: 0, 90, 99, 99.9, 99.99
        // equally spaced by the number of nines.
        let x_of = |p: f64| {
            let nines = -((100.0 - p).max(0.01) / 100.0).log10();
            LEFT + nines / 4.0 * plot_w
        };
        let y_of = |v: f64| {
            let v = v.max(10f64.powi(lo_exp));
            TOP + plot_h - (v.log10() - f64::from(lo_exp)) / f64::from(hi_exp - lo_exp) * plot_h
        };
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{LEFT}" y="22" font-size="14">mandi-loadgen: latency by percentile ({:.0} ok/s over {:.0} s)</text>"#,
            self.total.per_second, self.elapsed_seconds
        );
        for exp in lo_exp..=hi_exp {
            let y = y_of(10f64.powi(exp));
            let label = if exp < 0 {
                format!("{}", 10f64.powi(exp))
            } else {
                format!("{}", 10u64.pow(exp.unsigned_abs()))
            };
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label} ms</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0
            );
        }
        for (p, label) in [
            (0.0, "p0"),
            (90.0, "p90"),
            (99.0, "p99"),
            (99.9, "p99.9"),
            (99.99, "p99.99"),
        ] {
            let x = x_of(p);
            let _ = writeln!(
                svg,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 18.0
            );
        }
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##
        );
        for (i, (name, op)) in self.operations.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let points: Vec<String> = op
                .curve_ms
                .iter()
                .map(|[p, v]| format!("{:.1},{:.1}", x_of(*p), y_of(*v)))
                .collect();
            if !points.is_empty() {
                let _ = writeln!(
                    svg,
                    r#"<polyline data-operation="{name}" fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                    points.join(" ")
                );
            }
            let y = TOP + 14.0 + i as f64 * 18.0;
            let x = LEFT + plot_w + 12.0;
            let _ = writeln!(
                svg,
                r#"<rect x="{x}" y="{:.1}" width="12" height="4" fill="{color}"/><text x="{:.1}" y="{y:.1}">{name} p99 {:.1} ms</text>"#,
                y - 5.0,
                x + 16.0,
                op.latency_ms.p99
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// What the run was, for the report.
#[derive(Debug, Clone, Default)]
pub struct ReportHeader {
    /// `open` or `closed`.
    pub model: String,
    /// Open model arrivals per second.
    pub rate: Option<f64>,
    /// Closed model shoppers.
    pub concurrency: Option<usize>,
    /// The mix's weights.
    pub mix: BTreeMap<String, u32>,
    /// Share of declined cards.
    pub decline_rate: f64,
    /// Where the calls went.
    pub endpoint: String,
    /// Arrivals dropped in the open model.
    pub dropped_arrivals: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Outcome, Recorder};

    fn sample_report() -> Report {
        let recorder = Recorder::default();
        for ms in 1..=100 {
            recorder.record(
                Operation::Browse,
                Duration::from_millis(ms),
                Outcome::Ok { label: "" },
            );
        }
        recorder.record(
            Operation::Checkout,
            Duration::from_millis(40),
            Outcome::Ok { label: "completed" },
        );
        recorder.record(
            Operation::Checkout,
            Duration::from_millis(2),
            Outcome::Status(tonic::Code::Unavailable),
        );
        Report::build(
            ReportHeader {
                model: "closed".into(),
                concurrency: Some(4),
                mix: crate::Mix::default().to_map(),
                decline_rate: 0.2,
                endpoint: "http://127.0.0.1:50051".into(),
                ..Default::default()
            },
            Duration::from_secs(10),
            recorder.snapshot(),
        )
    }

    #[test]
    fn a_report_sums_up_throughput_percentiles_and_errors() {
        let report = sample_report();
        let browse = &report.operations["browse"];
        assert_eq!(browse.ok, 100);
        assert!((browse.per_second - 10.0).abs() < 1e-9);
        assert_eq!(browse.latency_ms.p50, 50.0);
        assert_eq!(browse.latency_ms.p90, 90.0);
        assert_eq!(browse.latency_ms.p99, 99.0);
        assert_eq!(browse.latency_ms.max, 100.0);
        assert!((browse.latency_ms.mean - 50.5).abs() < 1e-9);
        let checkout = &report.operations["checkout"];
        assert_eq!(checkout.ok, 1);
        assert_eq!(checkout.errors["UNAVAILABLE"], 1);
        assert_eq!(checkout.outcomes["completed"], 1);
        assert_eq!(report.total.ok, 101);
        assert_eq!(report.total.errors, 1);
        let table = report.table();
        assert!(table.contains("closed model, 4 shoppers"), "{table}");
        assert!(table.contains("UNAVAILABLE 1, completed 1"), "{table}");
    }

    #[test]
    fn writing_a_report_leaves_json_that_reads_back_and_a_plot_per_operation() {
        let report = sample_report();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nested/out");
        let (json, svg) = report.write(&out).unwrap();

        let back: Report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(back, report);
        let raw: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(raw["operations"]["browse"]["latency_ms"]["p99"], 99.0);
        assert_eq!(raw["concurrency"], 4);
        assert!(raw.get("rate").is_none(), "no rate in the closed model");

        let plot = std::fs::read_to_string(&svg).unwrap();
        assert!(plot.starts_with("<svg"), "{plot}");
        assert!(plot.trim_end().ends_with("</svg>"));
        assert_eq!(plot.matches("<polyline").count(), 2);
        assert!(plot.contains(r#"data-operation="browse""#));
        assert!(plot.contains(r#"data-operation="checkout""#));
        // Axis labels from 1 ms to 100 ms cover the samples.
        assert!(
            plot.contains(">1 ms<") && plot.contains(">100 ms<"),
            "{plot}"
        );
    }

    #[test]
    fn an_empty_run_still_writes_a_valid_plot() {
        let report = Report::build(
            ReportHeader::default(),
            Duration::from_secs(1),
            BTreeMap::new(),
        );
        let svg = report.svg();
        assert!(svg.contains("</svg>"));
        assert_eq!(report.total.ok, 0);
    }
}
