//! The gRPC side of the gateway: every call (already translated from grpc-web by the layer
//! in front) passes the edge rules, the rate limits and the size limit, then goes as bytes
//! to its service's upstream over a tonic `Channel`. Messages are decoded once only to
//! check them (`frame`); they are forwarded as the bytes that came in.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use mandi_runtime::auth::{Caller, Policy, TokenVerifier, VerifyError};
use mandi_runtime::errors;
use tonic::Code;
use tonic::body::Body;
use tonic::transport::Channel;
use tonic_types::{ErrorDetails, StatusExt as _};
use tower::{Service, ServiceExt as _};

use crate::edge::Methods;
use crate::frame;
use crate::ratelimit::{Decision, Limit, Quota, RateLimiter};

/// The ErrorInfo domain of the gateway's refusals.
pub const DOMAIN: &str = "mandi.gateway";

/// Request headers that describe one hop, not the call; never forwarded.
const HOP_HEADERS: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "content-length",
    // CORS is answered at the edge; an upstream seeing an origin would add its own
    // access-control headers and the browser would refuse the doubled values.
    "origin",
];

/// What the edge needs to decide and forward a call.
pub struct Edge {
    /// The forwarded methods and their rules.
    pub methods: Methods,
    /// A channel per short service name.
    pub upstreams: HashMap<&'static str, Channel>,
    /// Verifies access tokens with identity's keys.
    pub verifier: Arc<TokenVerifier>,
    /// Where quotas are kept.
    pub limiter: Arc<dyn RateLimiter>,
    /// Per client IP.
    pub ip_limit: Limit,
    /// Per signed-in user.
    pub user_limit: Limit,
    /// Largest request body, in bytes after grpc-web decoding.
    pub max_request_bytes: usize,
    /// Longest unary call (and wait for a stream's first response).
    pub call_timeout: Duration,
    /// Take the client IP from the first `x-forwarded-for` hop (behind a trusted proxy).
    pub trust_forwarded_for: bool,
}

/// The tower service of the edge; cheap to clone.
#[derive(Clone)]
pub struct EdgeService {
    edge: Arc<Edge>,
}

impl EdgeService {
    /// Serves calls with `edge`.
    pub fn new(edge: Arc<Edge>) -> Self {
        Self { edge }
    }
}

impl Service<Request<Body>> for EdgeService {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let edge = self.edge.clone();
        Box::pin(async move {
            Ok(match forward(&edge, request).await {
                Ok(response) => response,
                Err(status) => status.into_http(),
            })
        })
    }
}

async fn forward(edge: &Edge, request: Request<Body>) -> Result<Response<Body>, tonic::Status> {
    let path = request.uri().path().to_owned();
    let method = *edge.methods.get(&path).ok_or_else(|| {
        errors::status(
            Code::Unimplemented,
            format!("the gateway does not forward {path}"),
            DOMAIN,
            "UNKNOWN_METHOD",
        )
    })?;
    // Read from the request before any await: its body is not `Sync`.
    let token = bearer_token(&request).map(str::to_owned);
    let ip = client_ip(edge, &request);
    let caller = authorize(edge, method.policy, token.as_deref(), &path).await?;
    rate_limit(edge, ip, caller.as_ref()).await?;

    let (mut parts, body) = request.into_parts();
    // One message per call (no client streaming through grpc-web), so reading it whole
    // bounds memory by the limit and lets the limit refuse the call before any upstream
    // sees it.
    let bytes = match Limited::new(body, edge.max_request_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            return Err(errors::status(
                Code::ResourceExhausted,
                format!(
                    "request is larger than the gateway's limit of {} bytes",
                    edge.max_request_bytes
                ),
                DOMAIN,
                "REQUEST_TOO_LARGE",
            ));
        }
        Err(error) => {
            return Err(errors::status(
                Code::InvalidArgument,
                format!("cannot read the request body: {error}"),
                DOMAIN,
                "BAD_REQUEST_BODY",
            ));
        }
    };

    // A body that is not one message of the method's type is the caller's mistake;
    // forwarded, tonic would call it INTERNAL.
    let encoded = parts
        .headers
        .get("grpc-encoding")
        .is_some_and(|e| e != "identity");
    if let Err(bad) = frame::check(&bytes, edge.methods.input(&path), encoded) {
        return Err(errors::status(
            Code::InvalidArgument,
            bad.to_string(),
            DOMAIN,
            "MALFORMED_REQUEST",
        ));
    }

    for name in HOP_HEADERS {
        parts.headers.remove(*name);
    }
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() {
        append_forwarded_for(&mut parts.headers, peer.ip());
    }
    let timeout = deadline(&parts.headers, edge.call_timeout);
    if !method.streaming {
        // The service stops working on a call the gateway has given up on.
        if let Ok(value) = HeaderValue::from_str(&format!("{}m", timeout.as_millis())) {
            parts.headers.insert("grpc-timeout", value);
        }
    }
    // The channel adds its own scheme and authority; only the path travels.
    let path_only = http::Uri::builder()
        .path_and_query(path.as_str())
        .build()
        .map_err(|_| {
            errors::status(
                Code::InvalidArgument,
                "bad request path",
                DOMAIN,
                "BAD_PATH",
            )
        })?;
    parts.uri = path_only;
    let request = Request::from_parts(parts, Body::new(Full::new(bytes)));

    let channel = edge.upstreams.get(method.service).cloned().ok_or_else(|| {
        errors::status(
            Code::Unimplemented,
            format!(
                "no upstream is configured for the {} service",
                method.service
            ),
            DOMAIN,
            "NO_UPSTREAM",
        )
    })?;
    match tokio::time::timeout(timeout, channel.oneshot(request)).await {
        Ok(Ok(mut response)) => {
            let headers = response.headers_mut();
            let cors: Vec<http::HeaderName> = headers
                .keys()
                .filter(|name| name.as_str().starts_with("access-control-") || *name == "vary")
                .cloned()
                .collect();
            for name in cors {
                headers.remove(name);
            }
            Ok(response)
        }
        Ok(Err(error)) => {
            tracing::warn!(%path, error = %errors::error_chain(&error), "upstream unavailable");
            Err(errors::status(
                Code::Unavailable,
                format!("the {} service is unavailable, retry later", method.service),
                DOMAIN,
                "UPSTREAM_UNAVAILABLE",
            ))
        }
        Err(_) => Err(errors::status(
            Code::DeadlineExceeded,
            format!("no answer within {}ms", timeout.as_millis()),
            DOMAIN,
            "UPSTREAM_TIMEOUT",
        )),
    }
}

/// Applies the method's edge policy; the verified caller, if any, for per-user limits.
async fn authorize(
    edge: &Edge,
    policy: Policy,
    token: Option<&str>,
    path: &str,
) -> Result<Option<Caller>, tonic::Status> {
    let verified = match (token, policy) {
        // Anonymous callers of public methods never wait on a key fetch.
        (Some(token), Policy::Public) => Some(edge.verifier.verify_cached(token).await),
        (Some(token), _) => Some(edge.verifier.verify(token).await),
        (None, _) => None,
    };
    let claims = match (policy, verified) {
        (Policy::Public, Some(Ok(claims))) => return Ok(Some(claims.into())),
        (Policy::Public, _) | (Policy::Optional, None) => return Ok(None),
        (_, None) => {
            return Err(errors::status(
                Code::Unauthenticated,
                "sign in first: no access token",
                DOMAIN,
                "NO_TOKEN",
            ));
        }
        (_, Some(Err(VerifyError::KeysUnavailable(reason)))) => {
            tracing::warn!(%reason, "cannot verify access token");
            return Err(errors::status(
                Code::Unavailable,
                "cannot verify access tokens right now",
                DOMAIN,
                "KEYS_UNAVAILABLE",
            ));
        }
        (_, Some(Err(error))) => {
            return Err(errors::status(
                Code::Unauthenticated,
                error.to_string(),
                DOMAIN,
                "INVALID_TOKEN",
            ));
        }
        (_, Some(Ok(claims))) => claims,
    };
    let caller = Caller::from(claims);
    if let Policy::AnyRole(allowed) = policy
        && !allowed.iter().any(|role| caller.has_role(role))
    {
        return Err(errors::status(
            Code::PermissionDenied,
            format!(
                "{path} is not open to the public: it needs one of the roles {}",
                allowed.join(", ")
            ),
            DOMAIN,
            "EDGE_REFUSED",
        ));
    }
    Ok(Some(caller))
}

async fn rate_limit(
    edge: &Edge,
    ip: Option<IpAddr>,
    caller: Option<&Caller>,
) -> Result<(), tonic::Status> {
    let mut quotas = Vec::with_capacity(2);
    if let Some(ip) = ip {
        quotas.push(Quota {
            key: format!("ip:{ip}"),
            limit: edge.ip_limit,
        });
    }
    if let Some(caller) = caller {
        quotas.push(Quota {
            key: format!("user:{}", caller.subject),
            limit: edge.user_limit,
        });
    }
    if quotas.is_empty() {
        return Ok(());
    }
    match edge.limiter.check(&quotas).await {
        Ok(Decision::Allowed) => Ok(()),
        Ok(Decision::Limited { retry_after }) => {
            // Whole milliseconds, rounded up, so a client sleeping that long gets through.
            let retry_after = Duration::from_millis(
                u64::try_from(retry_after.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
            );
            let mut details = ErrorDetails::with_retry_info(Some(retry_after));
            details.set_error_info("RATE_LIMITED", DOMAIN, HashMap::new());
            Err(tonic::Status::with_error_details(
                Code::ResourceExhausted,
                format!(
                    "too many requests: retry in {:.1}s",
                    retry_after.as_secs_f64()
                ),
                details,
            ))
        }
        // A limiter outage must not take the shop down with it: let the call through
        // (the services still shed load) and say so in the logs.
        Err(error) => {
            tracing::warn!(%error, "rate limits not checked");
            Ok(())
        }
    }
}

fn bearer_token<B>(request: &Request<B>) -> Option<&str> {
    let value = request
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The client's address: the TCP peer, or behind a trusted proxy the first
/// `x-forwarded-for` hop.
fn client_ip<B>(edge: &Edge, request: &Request<B>) -> Option<IpAddr> {
    if edge.trust_forwarded_for
        && let Some(ip) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

fn append_forwarded_for(headers: &mut http::HeaderMap, ip: IpAddr) {
    let value = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {ip}"),
        None => ip.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("x-forwarded-for", value);
    }
}

/// The caller's `grpc-timeout`, capped at `max`.
fn deadline(headers: &http::HeaderMap, max: Duration) -> Duration {
    headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map_or(max, |asked| asked.min(max))
}

/// `grpc-timeout` is up to 8 digits and a unit: H, M, S, m (ms), u (µs), n (ns).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse_and_are_capped() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("12"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", HeaderValue::from_static("1H"));
        assert_eq!(
            deadline(&headers, Duration::from_secs(30)),
            Duration::from_secs(30)
        );
        headers.insert("grpc-timeout", HeaderValue::from_static("100m"));
        assert_eq!(
            deadline(&headers, Duration::from_secs(30)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn forwarded_for_appends_the_peer() {
        let mut headers = http::HeaderMap::new();
        append_forwarded_for(&mut headers, "10.0.0.1".parse().unwrap());
        append_forwarded_for(&mut headers, "10.0.0.2".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 10.0.0.2");
    }
}
