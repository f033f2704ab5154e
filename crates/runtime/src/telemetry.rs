//! Logs (JSON or pretty) and traces through tracing-opentelemetry, with W3C trace context
//! taken from incoming calls. Spans always get OpenTelemetry ids (so trace context flows on
//! to the calls and events they cause, and JSON log lines written inside a span carry its
//! `trace_id` and `span_id`); they leave the process only when an OTLP endpoint is set.

use opentelemetry::trace::{SpanId, TraceContextExt as _, TraceId, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{ConfigError, Env};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for machines.
    Json,
    /// Human-readable lines, for terminals.
    Pretty,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            _ => Err("expected json or pretty".into()),
        }
    }
}

/// Logging and tracing settings.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `MANDI_LOG__FORMAT`: json or pretty (default pretty).
    pub format: LogFormat,
    /// `MANDI_LOG__FILTER`: an env-filter directive (default `info`).
    pub filter: String,
    /// `MANDI_OTLP__ENDPOINT`: OTLP/gRPC collector URL; no export when unset.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute of exported spans.
    pub service_name: String,
}

impl TelemetryConfig {
    /// Reads the settings from `env`.
    pub fn from_env(env: &Env, service_name: &str) -> Result<Self, ConfigError> {
        let filter = env.raw("MANDI_LOG__FILTER").unwrap_or("info").to_owned();
        EnvFilter::try_new(&filter).map_err(|e| ConfigError::Invalid {
            var: "MANDI_LOG__FILTER".into(),
            value: filter.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            format: env.get_or("MANDI_LOG__FORMAT", LogFormat::Pretty)?,
            filter,
            otlp_endpoint: env.get("MANDI_OTLP__ENDPOINT")?,
            service_name: service_name.to_owned(),
        })
    }
}

/// Flushes exported spans when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("cannot flush traces: {error}");
        }
    }
}

/// Installs the global subscriber. Call once, at start-up.
pub fn init(config: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(&config.filter)?;
    let fmt = match config.format {
        // Logs go to stderr: stdout is for the one "listening" line scripts read.
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .with_current_span(true)
            .map_event_format(WithTraceIds)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .compact()
            .boxed(),
    };
    let provider = match &config.otlp_endpoint {
        Some(endpoint) => otlp_provider(endpoint, &config.service_name)?,
        // No exporter: spans still get ids to propagate and to log, then are dropped.
        None => SdkTracerProvider::builder()
            .with_resource(resource(&config.service_name))
            .build(),
    };
    // Each output has its own filter: quiet logs must not silence exported traces.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("mandi"))
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()?;
    Ok(TelemetryGuard {
        provider: Some(provider),
    })
}

fn otlp_provider(endpoint: &str, service_name: &str) -> anyhow::Result<SdkTracerProvider> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(service_name))
        .build())
}

fn resource(service_name: &str) -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build()
}

/// The trace and span id of the current span, when it has a valid OpenTelemetry context.
fn current_ids() -> Option<(TraceId, SpanId)> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let ids = span.span_context();
    ids.is_valid().then(|| (ids.trace_id(), ids.span_id()))
}

/// Puts `trace_id` and `span_id` first in every JSON line written inside a traced span, so
/// a log search can jump to the trace and back (the JSON formatter knows only tracing's
/// own span ids).
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match (current_ids(), line.strip_prefix('{')) {
            (Some((trace_id, span_id)), Some(rest)) => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            _ => writer.write_str(&line),
        }
    }
}

/// Makes `span` a child of the caller's trace when the request carries `traceparent`.
pub fn link_remote_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    // Fails only when no OpenTelemetry layer is installed: nothing to link then.
    let _ = span.set_parent(parent);
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
