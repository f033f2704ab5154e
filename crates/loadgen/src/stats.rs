//! Counting what happened: latencies of successful operations, errors by gRPC code,
//! outcomes (a checkout completed or declined), and the percentiles of it all.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tonic::Code;

use crate::mix::Operation;

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It did what it should; `label` names a notable end ("completed", "declined").
    Ok {
        /// A label counted under `outcomes` in the report; empty for none.
        label: &'static str,
    },
    /// An RPC failed with this code.
    Status(Code),
    /// Every RPC answered OK but the result was wrong (a checkout FAILED for a reason
    /// other than the decline it was sent to get); counted under this name.
    Unexpected(String),
}

/// The samples and counts of one operation.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Latencies of the operations that succeeded, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Errors by gRPC code name, or by the unexpected outcome's name.
    pub errors: BTreeMap<String, u64>,
    /// Successful ends by label.
    pub outcomes: BTreeMap<String, u64>,
}

/// Collects samples from every shopper at once.
#[derive(Debug, Default)]
pub struct Recorder {
    by_op: Mutex<BTreeMap<Operation, Samples>>,
}

impl Recorder {
    /// Records that `op` took `latency` and ended with `outcome`.
    pub fn record(&self, op: Operation, latency: Duration, outcome: Outcome) {
        let mut by_op = self
            .by_op
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let samples = by_op.entry(op).or_default();
        match outcome {
            Outcome::Ok { label } => {
                samples
                    .latencies_us
                    .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
                if !label.is_empty() {
                    *samples.outcomes.entry(label.to_owned()).or_default() += 1;
                }
            }
            Outcome::Status(code) => {
                *samples
                    .errors
                    .entry(code_name(code).to_owned())
                    .or_default() += 1;
            }
            Outcome::Unexpected(name) => *samples.errors.entry(name).or_default() += 1,
        }
    }

    /// Everything recorded so far, by operation.
    pub fn snapshot(&self) -> BTreeMap<Operation, Samples> {
        self.by_op
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The canonical upper-case name of a gRPC code, as grpcurl and the specs spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The nearest-rank `p`-th percentile (0..=100) of `sorted` ascending values: the
/// smallest value at least `p`% of the values are at or below; 0 for none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p.clamp(0.0, 100.0) / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

/// The percentiles the report's latency curve and plot are drawn through.
pub const CURVE: [f64; 12] = [
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.99, 100.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50);
        assert_eq!(percentile(&values, 90.0), 90);
        assert_eq!(percentile(&values, 99.0), 99);
        assert_eq!(percentile(&values, 100.0), 100);
        assert_eq!(percentile(&values, 0.0), 1);
        // Ten values: p99 is the largest, p50 the fifth.
        let ten: Vec<u64> = (1..=10).map(|v| v * 10).collect();
        assert_eq!(percentile(&ten, 99.0), 100);
        assert_eq!(percentile(&ten, 50.0), 50);
        assert_eq!(percentile(&ten, 51.0), 60);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn the_recorder_keeps_latencies_of_successes_and_counts_errors_by_code() {
        let recorder = Recorder::default();
        recorder.record(
            Operation::Checkout,
            Duration::from_millis(12),
            Outcome::Ok { label: "completed" },
        );
        recorder.record(
            Operation::Checkout,
            Duration::from_millis(3),
            Outcome::Ok { label: "declined" },
        );
        recorder.record(
            Operation::Checkout,
            Duration::from_millis(1),
            Outcome::Status(Code::Unavailable),
        );
        recorder.record(
            Operation::Checkout,
            Duration::from_millis(1),
            Outcome::Unexpected("CHECKOUT_FAILURE_REASON_OUT_OF_STOCK".into()),
        );
        recorder.record(
            Operation::Browse,
            Duration::from_micros(900),
            Outcome::Ok { label: "" },
        );

        let snapshot = recorder.snapshot();
        let checkout = &snapshot[&Operation::Checkout];
        assert_eq!(checkout.latencies_us, [12_000, 3_000]);
        assert_eq!(checkout.errors["UNAVAILABLE"], 1);
        assert_eq!(checkout.errors["CHECKOUT_FAILURE_REASON_OUT_OF_STOCK"], 1);
        assert_eq!(checkout.outcomes["completed"], 1);
        assert_eq!(checkout.outcomes["declined"], 1);
        assert!(snapshot[&Operation::Browse].outcomes.is_empty());
    }

    #[test]
    fn code_names_are_the_canonical_spelling() {
        assert_eq!(code_name(Code::Internal), "INTERNAL");
        assert_eq!(code_name(Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
    }
}
