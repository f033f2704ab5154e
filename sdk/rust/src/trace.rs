//! Trace context on outgoing calls: the W3C `traceparent`/`tracestate` of the span a call
//! is made in, so the service called continues the caller's trace. Empty (nothing added)
//! when the caller records no OpenTelemetry trace.

use http::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Adds the current span's trace context to `headers`, unless they carry one already.
pub(crate) fn inject(headers: &mut HeaderMap) {
    if headers.contains_key("traceparent") {
        return;
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut Injector(headers));
    });
}

struct Injector<'a>(&'a mut HeaderMap);

impl opentelemetry::propagation::Injector for Injector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[test]
    fn a_call_made_in_a_traced_span_carries_its_trace_and_keeps_a_callers_own() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let _default = tracing::subscriber::set_default(subscriber);
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );

        let mut headers = HeaderMap::new();
        tracing::info_span!("checkout").in_scope(|| inject(&mut headers));
        let traceparent = headers["traceparent"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(traceparent.starts_with("00-"), "{traceparent}");

        let mut own = HeaderMap::new();
        own.insert("traceparent", HeaderValue::from_static("00-mine"));
        tracing::info_span!("checkout").in_scope(|| inject(&mut own));
        assert_eq!(own["traceparent"], "00-mine");
    }

    #[test]
    fn without_a_trace_nothing_is_added() {
        let mut headers = HeaderMap::new();
        inject(&mut headers);
        assert!(headers.is_empty());
    }
}
