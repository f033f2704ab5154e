//! mandi-gateway: the public edge. One HTTP/1.1 + HTTP/2 (h2c) port takes grpc-web
//! (binary and text, from browsers) and plain gRPC, checks each call against the edge
//! rules (`edge`), verifies its token, charges its rate limits (`ratelimit`), bounds its
//! size and time, and forwards it as bytes to its service (`proxy`), chosen by the service
//! name in the path. Everything else is the storefront's files (`web`).
//!
//! Under `--target=all` the upstream of every service is this process's own gRPC port: the
//! services then see exactly the calls they would see behind a gateway in Kubernetes, with
//! their own auth and limits, and the gateway stays one generic proxy instead of a second
//! router wired to each service.
#![forbid(unsafe_code)]

pub mod edge;
pub mod frame;
pub mod proxy;
pub mod ratelimit;
pub mod web;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body as AxumBody;
use http::{HeaderName, Method, Request};
use mandi_runtime::auth::TokenVerifier;
use mandi_runtime::config::{ConfigError, Env};
use secrecy::{ExposeSecret as _, SecretString};
use tower::{Layer as _, ServiceExt as _};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::edge::Methods;
use crate::proxy::{Edge, EdgeService};
use crate::ratelimit::memory::MemoryLimiter;
use crate::ratelimit::redis::RedisLimiter;
use crate::ratelimit::{Limit, RateLimiter};
use crate::web::WebRoot;

/// Where rate limits are kept. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Limits {
    /// In process memory: the embedded default, one gateway only.
    Memory,
    /// Redis, shared by every replica.
    Redis {
        /// `MANDI_GATEWAY__REDIS_URL`.
        url: SecretString,
        /// `MANDI_GATEWAY__REDIS_PREFIX` (default `mandi:gateway:`).
        prefix: String,
    },
}

/// Everything the gateway reads from configuration.
#[derive(Clone)]
pub struct GatewayConfig {
    /// `MANDI_GATEWAY__LISTEN` (or `--gateway-listen`): the public address (default
    /// 127.0.0.1:8080).
    pub listen: SocketAddr,
    /// `MANDI_GATEWAY__WEB_ROOT`: the storefront's built files (default `web/dist`).
    pub web_root: String,
    /// Upstream URL per short service name, from `MANDI_GATEWAY__UPSTREAM__<SERVICE>` or
    /// `MANDI_GATEWAY__DEFAULT_UPSTREAM`; services this process runs are left out and go
    /// to [`self_url`](Self::self_url).
    pub upstreams: HashMap<String, String>,
    /// This process's own gRPC URL; set by the server.
    pub self_url: Option<String>,
    /// Client TLS for `https://` upstreams; set by the server.
    pub upstream_tls: Option<tonic::transport::ClientTlsConfig>,
    /// `MANDI_GATEWAY__CORS_ORIGINS`, else `MANDI_SERVER__CORS_ORIGINS`, else the local
    /// storefront and Vite's dev server.
    pub cors_origins: Vec<String>,
    /// Rate limit store.
    pub limits: Limits,
    /// `MANDI_GATEWAY__IP_RATE_LIMIT`: calls per client IP (default `600/1m`).
    pub ip_limit: Limit,
    /// `MANDI_GATEWAY__USER_RATE_LIMIT`: calls per signed-in user (default `300/1m`).
    pub user_limit: Limit,
    /// `MANDI_GATEWAY__MAX_REQUEST_BYTES`: largest request message (default 262144).
    pub max_request_bytes: usize,
    /// `MANDI_GATEWAY__CALL_TIMEOUT`: longest unary call, and longest wait for a
    /// stream's first message (default 15s, 100ms..5m).
    pub call_timeout: Duration,
    /// `MANDI_GATEWAY__TRUST_FORWARDED_FOR`: take the client IP from `x-forwarded-for`
    /// (only behind a proxy that sets it; default false).
    pub trust_forwarded_for: bool,
}

impl GatewayConfig {
    /// Reads the gateway's settings. `embedded`: the in-memory limiter unless a Redis URL
    /// is given, and every service in this process. `local` names the services this
    /// process runs (short names: `catalog`).
    pub fn from_env(env: &Env, embedded: bool, local: &[&str]) -> Result<Self, ConfigError> {
        let limits = match env.get::<String>("MANDI_GATEWAY__REDIS_URL")? {
            Some(url) => Limits::Redis {
                url: url.into(),
                prefix: env.get_or("MANDI_GATEWAY__REDIS_PREFIX", "mandi:gateway:".to_owned())?,
            },
            None if embedded => Limits::Memory,
            None => {
                return Err(ConfigError::Missing {
                    var: "MANDI_GATEWAY__REDIS_URL".into(),
                    hint: "a Redis URL such as redis://127.0.0.1:6379, for rate limits shared by every gateway".into(),
                });
            }
        };
        let methods = Methods::from_sdk().map_err(|e| ConfigError::Invalid {
            var: "the SDK's descriptor set".into(),
            value: String::new(),
            reason: e.to_string(),
        })?;
        let default_upstream: Option<String> = env.get("MANDI_GATEWAY__DEFAULT_UPSTREAM")?;
        let mut upstreams = HashMap::new();
        for service in methods.services() {
            let var = upstream_var(service);
            let explicit: Option<String> = env.get(&var)?;
            let url = match explicit {
                Some(url) => url,
                None if embedded || local.contains(&service) => continue,
                None => default_upstream.clone().ok_or_else(|| ConfigError::Missing {
                    var: var.clone(),
                    hint: format!(
                        "the {service} service's URL (or MANDI_GATEWAY__DEFAULT_UPSTREAM for every service)"
                    ),
                })?,
            };
            tonic::transport::Endpoint::from_shared(url.clone()).map_err(|_| {
                ConfigError::Invalid {
                    var: var.clone(),
                    value: url.clone(),
                    reason: "expected a URL like http://catalog:50051".into(),
                }
            })?;
            upstreams.insert(service.to_owned(), url);
        }
        let limit = |var: &str, default: &str| -> Result<Limit, ConfigError> {
            Limit::parse(env.raw(var).unwrap_or(default))
                .map_err(|reason| env.invalid(var, &reason))
        };
        let max_request_bytes: usize = env.get_or("MANDI_GATEWAY__MAX_REQUEST_BYTES", 262_144)?;
        if !(1024..=16 << 20).contains(&max_request_bytes) {
            return Err(env.invalid(
                "MANDI_GATEWAY__MAX_REQUEST_BYTES",
                "must be between 1024 and 16777216",
            ));
        }
        let cors_origins = match env.list("MANDI_GATEWAY__CORS_ORIGINS") {
            list if !list.is_empty() => list,
            _ => match env.list("MANDI_SERVER__CORS_ORIGINS") {
                list if !list.is_empty() => list,
                _ => [
                    "http://127.0.0.1:8080",
                    "http://localhost:8080",
                    "http://127.0.0.1:5173",
                    "http://localhost:5173",
                ]
                .map(str::to_owned)
                .to_vec(),
            },
        };
        for origin in &cors_origins {
            http::HeaderValue::from_str(origin).map_err(|_| {
                env.invalid(
                    "MANDI_GATEWAY__CORS_ORIGINS",
                    "an origin must be a header-safe URL like https://shop.example",
                )
            })?;
        }
        Ok(Self {
            listen: env.get_or(
                "MANDI_GATEWAY__LISTEN",
                SocketAddr::from(([127, 0, 0, 1], 8080)),
            )?,
            web_root: env.get_or("MANDI_GATEWAY__WEB_ROOT", "web/dist".to_owned())?,
            upstreams,
            self_url: None,
            upstream_tls: None,
            cors_origins,
            limits,
            ip_limit: limit("MANDI_GATEWAY__IP_RATE_LIMIT", "600/1m")?,
            user_limit: limit("MANDI_GATEWAY__USER_RATE_LIMIT", "300/1m")?,
            max_request_bytes,
            call_timeout: env.duration_within(
                "MANDI_GATEWAY__CALL_TIMEOUT",
                Duration::from_secs(15),
                Duration::from_millis(100),
                Duration::from_secs(300),
            )?,
            trust_forwarded_for: env.get_or("MANDI_GATEWAY__TRUST_FORWARDED_FOR", false)?,
        })
    }

    /// Every upstream URL the gateway will call, for choosing client TLS.
    pub fn upstream_urls(&self) -> Vec<&str> {
        self.upstreams
            .values()
            .map(String::as_str)
            .chain(self.self_url.as_deref())
            .collect()
    }
}

/// `MANDI_GATEWAY__UPSTREAM__CATALOG` for `catalog`.
pub fn upstream_var(service: &str) -> String {
    format!("MANDI_GATEWAY__UPSTREAM__{}", service.to_ascii_uppercase())
}

/// A gateway ready to serve.
pub struct Gateway {
    edge: Arc<Edge>,
    web: WebRoot,
    cors: CorsLayer,
}

impl Gateway {
    /// Connects the rate limit store and makes a (lazy) channel per upstream.
    pub async fn build(
        config: GatewayConfig,
        verifier: Arc<TokenVerifier>,
    ) -> anyhow::Result<Self> {
        let methods = Methods::from_sdk().context("cannot read the SDK's descriptor set")?;
        let channel = |url: &str| -> anyhow::Result<tonic::transport::Channel> {
            let mut endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
                .with_context(|| format!("bad upstream URL {url}"))?
                .tcp_nodelay(true);
            if let Some(tls) = config
                .upstream_tls
                .clone()
                .filter(|_| url.starts_with("https://"))
            {
                endpoint = endpoint
                    .tls_config(tls)
                    .context("invalid client TLS configuration for the gateway's upstreams")?;
            }
            Ok(endpoint.connect_lazy())
        };
        let own = config.self_url.as_deref().map(channel).transpose()?;
        let mut upstreams = HashMap::new();
        for service in methods.services().into_iter().chain(["health"]) {
            let chosen = match config.upstreams.get(service) {
                Some(url) => Some(channel(url)?),
                None => own.clone(),
            };
            if let Some(chosen) = chosen {
                upstreams.insert(service, chosen);
            }
        }
        let limiter: Arc<dyn RateLimiter> = match &config.limits {
            Limits::Memory => Arc::new(MemoryLimiter::default()),
            Limits::Redis { url, prefix } => Arc::new(
                RedisLimiter::connect(url.expose_secret(), prefix)
                    .await
                    .context("cannot connect to the gateway's Redis (MANDI_GATEWAY__REDIS_URL)")?,
            ),
        };
        Ok(Self {
            edge: Arc::new(Edge {
                methods,
                upstreams,
                verifier,
                limiter,
                ip_limit: config.ip_limit,
                user_limit: config.user_limit,
                max_request_bytes: config.max_request_bytes,
                call_timeout: config.call_timeout,
                trust_forwarded_for: config.trust_forwarded_for,
            }),
            web: WebRoot::new(&config.web_root),
            cors: cors_layer(&config.cors_origins),
        })
    }

    /// Serves on `listener` until `shutdown` resolves, then finishes the calls in flight.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        // Translate grpc-web (binary or base64 text) to gRPC before the edge, and the
        // answers back, so the edge and the upstreams only ever see plain gRPC.
        let grpc = tonic_web::GrpcWebLayer::new().layer(EdgeService::new(self.edge));
        let web = self.web;
        let dispatch = tower::service_fn(move |request: Request<AxumBody>| {
            let grpc = grpc.clone();
            let web = web.clone();
            async move {
                if is_grpc(&request) {
                    let response = grpc.oneshot(request).await?;
                    Ok::<_, std::convert::Infallible>(response.map(AxumBody::new))
                } else {
                    Ok(web.serve(request.method(), request.uri().path()).await)
                }
            }
        });
        // Browsers send a preflight before a cross-origin grpc-web call; it is answered
        // here, in front of everything.
        let app = axum::Router::new().fallback_service(self.cors.layer(dispatch));
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("gateway server failed")
    }
}

/// gRPC and grpc-web calls carry an `application/grpc...` content type.
fn is_grpc<B>(request: &Request<B>) -> bool {
    request.method() == Method::POST
        && request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"))
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<http::HeaderValue> = origins
        .iter()
        .filter_map(|origin| http::HeaderValue::from_str(origin).ok())
        .collect();
    let header = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers([
            header("content-type"),
            header("authorization"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header("x-request-id"),
            header("traceparent"),
            // Connect-ES sends these on grpc-web calls.
            header("connect-protocol-version"),
            header("connect-timeout-ms"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            header("x-request-id"),
        ])
        .max_age(Duration::from_secs(3600))
}
