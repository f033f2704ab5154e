//! One tracing span per call, tagged with a request id, and RED metrics per method.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::metrics::GrpcMetrics;

/// The header carrying a request id; taken from the caller or made here.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Adds a span, a request id and metrics to every call.
#[derive(Clone)]
pub struct ObserveLayer {
    metrics: Arc<GrpcMetrics>,
}

impl ObserveLayer {
    /// A layer recording into `metrics`.
    pub fn new(metrics: Arc<GrpcMetrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = ObserveService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ObserveService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service made by [`ObserveLayer`].
#[derive(Clone)]
pub struct ObserveService<S> {
    inner: S,
    metrics: Arc<GrpcMetrics>,
}

impl<S, B, RB> Service<Request<B>> for ObserveService<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
    B: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();

        // A caller's id is kept as sent; otherwise a UUIDv7 is made. Either way the header
        // value is built once and shared by the request and the response.
        let header = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.to_str().is_ok())
            .cloned()
            .unwrap_or_else(|| {
                let mut buffer = uuid::Uuid::encode_buffer();
                let id = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buffer);
                HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
            });
        request
            .headers_mut()
            .insert(REQUEST_ID_HEADER, header.clone());
        // The URI is shared, not copied: its path outlives the request moved below.
        let uri = request.uri().clone();
        // Exported under the method's name (`mandi.order.v1.OrderService/CreateOrder`, the
        // OpenTelemetry RPC convention), so a trace view reads as the calls it holds.
        let span = tracing::info_span!(
            "grpc",
            otel.name = uri.path().trim_start_matches('/'),
            otel.kind = "server",
            rpc.method = %uri.path(),
            request_id = header.to_str().unwrap_or_default(),
            rpc.grpc.status_code = tracing::field::Empty,
        );
        crate::telemetry::link_remote_parent(&span, request.headers());

        Box::pin(
            async move {
                let started = Instant::now();
                let result = inner.call(request).await;
                let code = match &result {
                    Ok(response) => grpc_code(response),
                    Err(_) => "INTERNAL",
                };
                let elapsed = started.elapsed();
                metrics.record(uri.path(), code, elapsed);
                tracing::Span::current().record("rpc.grpc.status_code", code);
                match &result {
                    Err(error) => tracing::error!(%error, "call failed in transport"),
                    Ok(_) => tracing::info!(
                        code,
                        elapsed_ms = elapsed.as_millis() as u64,
                        "call finished"
                    ),
                }
                result.map(|mut response| {
                    response.headers_mut().insert(REQUEST_ID_HEADER, header);
                    response
                })
            }
            .instrument(span),
        )
    }
}

/// The gRPC status of a response as far as its headers tell: errors returned by handlers
/// travel in the headers ("trailers-only"); a streamed success reports OK in trailers.
fn grpc_code<B>(response: &Response<B>) -> &'static str {
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    code_name(tonic::Code::from_i32(code))
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
