//! The gRPC server every mandi service runs in: health, reflection, grpc-web with CORS,
//! auth, tracing, limits, metrics and graceful shutdown, around the services of the
//! modules it is given.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::get;
use http::{HeaderName, Method, StatusCode};
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{AuthLayer, Policies, Policy, TokenVerifier};
use crate::config::{ConfigError, Env};
use crate::faults::{FaultLayer, FaultsConfig};
use crate::metrics::GrpcMetrics;
use crate::observe::ObserveLayer;
use crate::shed::ShedLayer;
use crate::tls::TlsMaterial;

/// Services every server runs besides its modules'.
const INFRASTRUCTURE_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// One service as the server sees it: its gRPC routes, who may call each method, and any
/// routes it adds to the admin HTTP port.
pub struct Module {
    /// Full protobuf service name, for health (`mandi.identity.v1.IdentityService`).
    pub service_name: &'static str,
    register: Box<dyn FnOnce(&mut RoutesBuilder) + Send>,
    policies: &'static [(&'static str, Policy)],
    admin: axum::Router,
}

impl Module {
    /// Wraps a generated tonic server with its per-method policies.
    pub fn new<S>(service: S, policies: &'static [(&'static str, Policy)]) -> Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        Self {
            service_name: S::NAME,
            register: Box::new(move |routes: &mut RoutesBuilder| {
                routes.add_service(service);
            }),
            policies,
            admin: axum::Router::new(),
        }
    }

    /// Adds HTTP routes served on the admin port (for example a JWKS document).
    pub fn with_admin_routes(mut self, routes: axum::Router) -> Self {
        self.admin = self.admin.merge(routes);
        self
    }
}

/// Listener and limit settings of the server.
#[derive(Debug)]
pub struct ServerConfig {
    /// `MANDI_LISTEN`: gRPC and grpc-web address (default 127.0.0.1:50051).
    pub listen: SocketAddr,
    /// `MANDI_ADMIN_LISTEN`: metrics and JWKS HTTP address (default 127.0.0.1:9090).
    pub admin_listen: SocketAddr,
    /// `MANDI_SERVER__REQUEST_TIMEOUT`: longest time a call may take (default 30s).
    pub request_timeout: Duration,
    /// `MANDI_SERVER__CONCURRENCY_LIMIT`: calls in flight before shedding load (default 1024).
    pub concurrency_limit: usize,
    /// `MANDI_SERVER__CORS_ORIGINS`: browser origins allowed to call through grpc-web.
    pub cors_origins: Vec<String>,
    /// `MANDI_SERVER__DRAIN_DELAY`: time between reporting NOT_SERVING and closing (default 0s).
    pub drain_delay: Duration,
    /// TLS, when `MANDI_TLS__CERT_FILE` is set (see [`TlsMaterial::from_env`]).
    pub tls: Option<TlsMaterial>,
    /// Fault injection: allowed or not by profile, and a spec to start with.
    pub faults: FaultsConfig,
}

impl ServerConfig {
    /// Reads the settings from `env`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let cors_origins = match env.list("MANDI_SERVER__CORS_ORIGINS") {
            list if list.is_empty() => vec![
                "http://127.0.0.1:8080".to_owned(),
                "http://localhost:8080".to_owned(),
            ],
            list => list,
        };
        for origin in &cors_origins {
            http::HeaderValue::from_str(origin).map_err(|_| ConfigError::Invalid {
                var: "MANDI_SERVER__CORS_ORIGINS".into(),
                value: origin.clone(),
                reason: "an origin must be a header-safe URL like https://shop.example".into(),
            })?;
        }
        Ok(Self {
            listen: env.get_or("MANDI_LISTEN", SocketAddr::from(([127, 0, 0, 1], 50051)))?,
            admin_listen: env.get_or(
                "MANDI_ADMIN_LISTEN",
                SocketAddr::from(([127, 0, 0, 1], 9090)),
            )?,
            request_timeout: env
                .duration_or("MANDI_SERVER__REQUEST_TIMEOUT", Duration::from_secs(30))?,
            concurrency_limit: env.get_or("MANDI_SERVER__CONCURRENCY_LIMIT", 1024)?,
            cors_origins,
            drain_delay: env.duration_or("MANDI_SERVER__DRAIN_DELAY", Duration::ZERO)?,
            tls: TlsMaterial::from_env(env)?,
            faults: FaultsConfig::from_env(env)?,
        })
    }
}

/// Runs `modules` until `shutdown` resolves, then reports NOT_SERVING, drains and returns.
pub async fn serve(
    config: &ServerConfig,
    modules: Vec<Module>,
    verifier: Arc<TokenVerifier>,
    grpc_listener: tokio::net::TcpListener,
    admin_listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    crate::faults::install(&config.faults).context("cannot apply the fault spec")?;
    let (health, health_service) = tonic_health::server::health_reporter();
    let service_names: Vec<&'static str> = modules.iter().map(|m| m.service_name).collect();
    let metrics = GrpcMetrics::new(
        service_names
            .iter()
            .copied()
            .chain(INFRASTRUCTURE_SERVICES.iter().copied())
            .map(str::to_owned),
    );
    for name in &service_names {
        health
            .set_service_status(*name, ServingStatus::Serving)
            .await;
    }
    health.set_service_status("", ServingStatus::Serving).await;

    let mut policies = Policies::default();
    let mut routes = reflection_routes(&service_names)?;
    routes.add_service(health_service);
    let ready = Arc::new(AtomicBool::new(true));
    let mut admin_router =
        admin_routes(metrics.clone(), ready.clone()).merge(crate::faults::admin_routes());
    for module in modules {
        policies.add(module.service_name, module.policies);
        (module.register)(&mut routes);
        admin_router = admin_router.merge(module.admin);
    }

    let mut builder = tonic::transport::Server::builder()
        .accept_http1(true)
        .timeout(config.request_timeout);
    if let Some(tls) = &config.tls {
        builder = builder
            .tls_config(tls.server_config())
            .context("invalid TLS configuration")?;
    }
    let grpc = builder
        // Browsers send a CORS preflight before any grpc-web call; answer it first.
        .layer(cors_layer(&config.cors_origins))
        // Translate grpc-web (HTTP/1.1, base64 or binary) to gRPC for everything inside.
        .layer(tonic_web::GrpcWebLayer::new())
        // One span and request id per call, and RED metrics, including refused calls.
        .layer(ObserveLayer::new(metrics))
        // Refuse work beyond the limit at once (UNAVAILABLE) instead of queueing it.
        .layer(ShedLayer::new(config.concurrency_limit))
        // Injected latency and errors (off unless set), seen by metrics like real ones.
        .layer(FaultLayer)
        // Innermost: handlers only ever see authenticated, authorized calls.
        .layer(AuthLayer::new(policies, verifier))
        .add_routes(routes.routes());

    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
    let drain_delay = config.drain_delay;
    let grpc_shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: reporting NOT_SERVING");
        ready.store(false, Ordering::SeqCst);
        for name in &service_names {
            health
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        tokio::time::sleep(drain_delay).await;
    };
    let mut admin_stopped = stopped_rx.clone();
    let admin = tokio::spawn(async move {
        axum::serve(admin_listener, admin_router)
            .with_graceful_shutdown(async move {
                let _ = admin_stopped.wait_for(|stopped| *stopped).await;
            })
            .await
    });
    let result = grpc
        .serve_with_incoming_shutdown(
            // Small gRPC messages must not wait for Nagle's algorithm.
            TcpIncoming::from(grpc_listener).with_nodelay(Some(true)),
            grpc_shutdown,
        )
        .await;
    let _ = stopped_tx.send(true);
    admin.await.context("admin server panicked")??;
    result.context("gRPC server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// A future that resolves on SIGTERM or SIGINT (Ctrl-C). The handlers are installed
/// here, before the future is first polled, so a signal sent as soon as the server says
/// it listens is never lost.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

/// Reflection v1 and v1alpha over every mandi contract, advertising only the services this
/// process serves (grpcurl 1.8 and many tools still speak only v1alpha).
fn reflection_routes(served: &[&'static str]) -> anyhow::Result<RoutesBuilder> {
    let configure = || {
        let advertised = served
            .iter()
            .copied()
            .chain(INFRASTRUCTURE_SERVICES.iter().copied());
        advertised.fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(mandi_sdk::proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                // google.rpc error details, so grpcurl can print BadRequest and ErrorInfo.
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET),
            |builder, name| builder.with_service_name(name),
        )
    };
    let v1 = configure()
        .build_v1()
        .context("cannot build reflection v1")?;
    let v1alpha = configure()
        .build_v1alpha()
        .context("cannot build reflection v1alpha")?;
    let mut routes = RoutesBuilder::default();
    routes.add_service(v1).add_service(v1alpha);
    Ok(routes)
}

fn admin_routes(metrics: Arc<GrpcMetrics>, ready: Arc<AtomicBool>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(move || async move { metrics.render() }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || async move {
                if ready.load(Ordering::SeqCst) {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
                }
            }),
        )
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<http::HeaderValue> = origins
        .iter()
        .filter_map(|origin| http::HeaderValue::from_str(origin).ok())
        .collect();
    let header = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header("content-type"),
            header("authorization"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header("grpc-timeout"),
            header("x-request-id"),
            header("traceparent"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            header("x-request-id"),
        ])
        .max_age(Duration::from_secs(3600))
}
