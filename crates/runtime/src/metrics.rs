//! Prometheus metrics: rate, errors and duration (RED) per gRPC method, and the domain
//! metrics of [`domain`] (sagas, outbox, consumers, reservations, cache) beside them.

mod domain;

pub use domain::{
    cache_lookup, checkout_outcome, checkout_step, consumer_lag, event_consumed, reservation,
};
pub(crate) use domain::{outbox_failed, outbox_pass, outbox_published};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    service: String,
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    service: String,
    method: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~16 s
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// Metric handles by path, then by status code.
type Resolved = HashMap<String, Vec<(&'static str, Counter, Histogram)>>;

/// The gRPC metrics of one server, and the registry that exposes them.
pub struct GrpcMetrics {
    /// Services this server answers; other paths are counted as "unknown", so callers
    /// cannot grow the label sets without bound by calling made-up methods.
    known_services: HashSet<String>,
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    /// Handles already resolved per (path, code): the hot path then does one map lookup
    /// under a read lock instead of building label sets (three allocations) per call.
    resolved: RwLock<Resolved>,
}

impl GrpcMetrics {
    /// Registers the metrics in a fresh registry, for a server answering `known_services`.
    pub fn new(known_services: impl IntoIterator<Item = String>) -> Arc<Self> {
        let mut registry = Registry::with_prefix("mandi");
        let calls = Family::<CallLabels, Counter>::default();
        let latency: Family<MethodLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "grpc_server_handled",
            "gRPC calls completed, by method and status code",
            calls.clone(),
        );
        registry.register(
            "grpc_server_handling_seconds",
            "Time to the response headers of gRPC calls, by method",
            latency.clone(),
        );
        domain::register(&mut registry);
        Arc::new(Self {
            known_services: known_services.into_iter().collect(),
            registry,
            calls,
            latency,
            resolved: RwLock::new(HashMap::new()),
        })
    }

    /// Records one finished call. `path` is `/package.Service/Method`.
    pub fn record(&self, path: &str, code: &'static str, elapsed: Duration) {
        let cached = self
            .resolved
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .and_then(|codes| codes.iter().find(|(c, _, _)| *c == code))
            .map(|(_, calls, latency)| (calls.clone(), latency.clone()));
        let (calls, latency) = match cached {
            Some(handles) => handles,
            None => {
                let (calls, latency) = self.resolve(path, code);
                // Unknown paths all share one label set; don't remember each of them.
                if self.is_known(path) {
                    let mut resolved = self.resolved.write().unwrap_or_else(|p| p.into_inner());
                    let codes = resolved.entry(path.to_owned()).or_default();
                    if !codes.iter().any(|(c, _, _)| *c == code) {
                        codes.push((code, calls.clone(), latency.clone()));
                    }
                }
                (calls, latency)
            }
        };
        calls.inc();
        latency.observe(elapsed.as_secs_f64());
    }

    fn is_known(&self, path: &str) -> bool {
        self.known_services.contains(split_path(path).0)
    }

    /// The counter and histogram of a call's label sets.
    fn resolve(&self, path: &str, code: &str) -> (Counter, Histogram) {
        let (service, method) = match split_path(path) {
            (service, _) if !self.known_services.contains(service) => ("unknown", "unknown"),
            (service, _) if code == "UNIMPLEMENTED" => (service, "unknown"),
            known => known,
        };
        let calls = self
            .calls
            .get_or_create(&CallLabels {
                service: service.to_owned(),
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .clone();
        let latency = self
            .latency
            .get_or_create(&MethodLabels {
                service: service.to_owned(),
                method: method.to_owned(),
            })
            .clone();
        (calls, latency)
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "cannot encode metrics");
        }
        text
    }
}

fn split_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("unknown", "unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_per_method_and_code() {
        let metrics = GrpcMetrics::new(["mandi.identity.v1.IdentityService".to_owned()]);
        let path = "/mandi.identity.v1.IdentityService/Login";
        metrics.record(path, "OK", Duration::from_millis(3));
        metrics.record(path, "OK", Duration::from_millis(3));
        metrics.record(path, "UNAUTHENTICATED", Duration::from_millis(3));
        let text = metrics.render();
        assert!(text.contains(
            r#"mandi_grpc_server_handled_total{service="mandi.identity.v1.IdentityService",method="Login",code="OK"} 2"#
        ), "{text}");
        assert!(text.contains(r#"code="UNAUTHENTICATED"} 1"#), "{text}");
    }

    #[test]
    fn made_up_paths_share_one_unknown_label() {
        let metrics = GrpcMetrics::new(["mandi.identity.v1.IdentityService".to_owned()]);
        for n in 0..5 {
            metrics.record(&format!("/x{n}.Y/Z{n}"), "UNIMPLEMENTED", Duration::ZERO);
        }
        metrics.record(
            "/mandi.identity.v1.IdentityService/Nope",
            "UNIMPLEMENTED",
            Duration::ZERO,
        );
        let text = metrics.render();
        assert!(text.contains(
            r#"mandi_grpc_server_handled_total{service="unknown",method="unknown",code="UNIMPLEMENTED"} 5"#
        ), "{text}");
        assert!(!text.contains("x0.Y"), "{text}");
        assert!(
            text.contains(r#"service="mandi.identity.v1.IdentityService",method="unknown""#),
            "{text}"
        );
    }
}
