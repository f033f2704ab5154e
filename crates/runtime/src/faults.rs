//! Fault injection flags, typed and off by default (after the OpenTelemetry demo's
//! feature flags): added latency and errors per gRPC method, a payment decline rate for
//! the sandbox gateway, and a publish failure rate for the event publisher.
//!
//! One process-wide [`Faults`] registry holds the current [`FaultSpec`]. The server puts
//! [`FaultLayer`] in its gRPC stack and serves `GET`/`PUT`/`DELETE /faults` on its admin
//! port; payment and the event publisher ask [`global`] at the point they would succeed.
//! A spec can also come from configuration (`MANDI_FAULTS__SPEC` JSON, or the file named
//! by `MANDI_FAULTS__FILE`, read again on SIGHUP).
//!
//! In the `prod` profile (`MANDI_PROFILE=prod`) all of it is refused unless
//! `MANDI_FAULTS__ENABLE=true`: a spec in the configuration stops start-up, and the admin
//! endpoint answers 403.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::routing::get;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tonic::body::Body;
use tower::{Layer, Service};

use crate::config::{ConfigError, Env};

/// The longest latency a fault may add: enough to outlast any deadline, short enough
/// that a mistyped value cannot hang a server for good.
pub const MAX_LATENCY: Duration = Duration::from_secs(60);

/// The error domain of injected failures, so a client (and a log reader) can tell them
/// from real ones.
pub const DOMAIN: &str = "mandi.faults";

/// What to break, and how often. Every rate is a probability in `0.0..=1.0`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Latency added before matching calls are handled.
    #[serde(default)]
    pub latency: Vec<LatencyFault>,
    /// Matching calls fail with a gRPC code instead of being handled.
    #[serde(default)]
    pub errors: Vec<ErrorFault>,
    /// Share of card authorizations the sandbox gateway declines (card declined).
    #[serde(default)]
    pub payment_decline_rate: f64,
    /// Share of event publishes that fail as if the broker were down.
    #[serde(default)]
    pub publish_failure_rate: f64,
}

/// Added latency for the calls `method` matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyFault {
    /// See [`MethodMatch`].
    pub method: String,
    /// Milliseconds to wait, at most [`MAX_LATENCY`].
    pub millis: u64,
    /// Share of matching calls delayed (default 1.0: all).
    #[serde(default = "always")]
    pub rate: f64,
}

/// An error answered instead of handling the calls `method` matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorFault {
    /// See [`MethodMatch`].
    pub method: String,
    /// The gRPC code by name (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, …), never `OK`.
    pub code: String,
    /// Share of matching calls failed.
    pub rate: f64,
}

fn always() -> f64 {
    1.0
}

/// Which calls a fault applies to: `*` (every mandi service, never health or
/// reflection), a service (`mandi.order.v1.OrderService`) or one method
/// (`/mandi.order.v1.OrderService/CreateOrder`).
#[derive(Debug, Clone, PartialEq)]
pub enum MethodMatch {
    /// Every call to a `mandi.` service.
    All,
    /// Every method of one service.
    Service(String),
    /// One method, by its full path.
    Method(String),
}

impl MethodMatch {
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self::All);
        }
        if let Some(path) = text.strip_prefix('/') {
            return match path.split_once('/') {
                Some((service, method))
                    if service.starts_with("mandi.")
                        && !method.is_empty()
                        && !method.contains('/') =>
                {
                    Ok(Self::Method(text.to_owned()))
                }
                _ => Err(format!(
                    "method {text:?} is not /mandi.<svc>.v1.<Service>/<Method>"
                )),
            };
        }
        if text.starts_with("mandi.") && !text.contains('/') {
            return Ok(Self::Service(text.to_owned()));
        }
        Err(format!(
            "method {text:?} is not *, a mandi service name or /<service>/<method>"
        ))
    }

    /// Whether the call to `path` (`/pkg.Service/Method`) matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::All => path.starts_with("/mandi."),
            Self::Service(service) => path
                .strip_prefix('/')
                .and_then(|p| p.split_once('/'))
                .is_some_and(|(s, _)| s == service),
            Self::Method(method) => path == method,
        }
    }
}

/// A gRPC code from its canonical name.
pub fn parse_code(name: &str) -> Option<tonic::Code> {
    use tonic::Code;
    Some(match name.trim().to_ascii_uppercase().as_str() {
        "CANCELLED" => Code::Cancelled,
        "UNKNOWN" => Code::Unknown,
        "INVALID_ARGUMENT" => Code::InvalidArgument,
        "DEADLINE_EXCEEDED" => Code::DeadlineExceeded,
        "NOT_FOUND" => Code::NotFound,
        "ALREADY_EXISTS" => Code::AlreadyExists,
        "PERMISSION_DENIED" => Code::PermissionDenied,
        "RESOURCE_EXHAUSTED" => Code::ResourceExhausted,
        "FAILED_PRECONDITION" => Code::FailedPrecondition,
        "ABORTED" => Code::Aborted,
        "OUT_OF_RANGE" => Code::OutOfRange,
        "UNIMPLEMENTED" => Code::Unimplemented,
        "INTERNAL" => Code::Internal,
        "UNAVAILABLE" => Code::Unavailable,
        "DATA_LOSS" => Code::DataLoss,
        "UNAUTHENTICATED" => Code::Unauthenticated,
        _ => return None,
    })
}

fn check_rate(what: &str, rate: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(format!("{what} {rate} is not between 0.0 and 1.0"))
    }
}

/// A [`FaultSpec`] checked once, with its matchers and codes parsed.
#[derive(Debug, Clone, Default)]
struct Compiled {
    spec: FaultSpec,
    latency: Vec<(MethodMatch, Duration, f64)>,
    errors: Vec<(MethodMatch, tonic::Code, f64)>,
}

impl FaultSpec {
    /// Parses a JSON spec and checks every value (unknown fields refused).
    pub fn from_json(text: &str) -> Result<Self, String> {
        let spec: Self = serde_json::from_str(text).map_err(|e| e.to_string())?;
        spec.compile()?;
        Ok(spec)
    }

    /// Whether this spec injects nothing.
    pub fn is_off(&self) -> bool {
        self.latency.is_empty()
            && self.errors.is_empty()
            && self.payment_decline_rate == 0.0
            && self.publish_failure_rate == 0.0
    }

    fn compile(&self) -> Result<Compiled, String> {
        check_rate("payment_decline_rate", self.payment_decline_rate)?;
        check_rate("publish_failure_rate", self.publish_failure_rate)?;
        let mut latency = Vec::new();
        for fault in &self.latency {
            check_rate("latency rate", fault.rate)?;
            let delay = Duration::from_millis(fault.millis);
            if delay > MAX_LATENCY {
                return Err(format!(
                    "latency {}ms is above the limit of {}ms",
                    fault.millis,
                    MAX_LATENCY.as_millis()
                ));
            }
            latency.push((MethodMatch::parse(&fault.method)?, delay, fault.rate));
        }
        let mut errors = Vec::new();
        for fault in &self.errors {
            check_rate("error rate", fault.rate)?;
            let code = parse_code(&fault.code).ok_or_else(|| {
                format!(
                    "code {:?} is not a gRPC code name other than OK (UNAVAILABLE, INTERNAL, …)",
                    fault.code
                )
            })?;
            errors.push((MethodMatch::parse(&fault.method)?, code, fault.rate));
        }
        Ok(Compiled {
            spec: self.clone(),
            latency,
            errors,
        })
    }
}

// === impl FaultsConfig ===

/// Whether faults may be set in this process, and the spec it starts with.
#[derive(Debug, Clone, Default)]
pub struct FaultsConfig {
    /// `MANDI_PROFILE` (default `dev`).
    pub profile: String,
    /// False in `prod` unless `MANDI_FAULTS__ENABLE=true`; `MANDI_FAULTS__ENABLE=false`
    /// turns them off anywhere.
    pub allowed: bool,
    /// `MANDI_FAULTS__SPEC` (JSON) or the contents of `MANDI_FAULTS__FILE`.
    pub initial: Option<FaultSpec>,
    /// `MANDI_FAULTS__FILE`, read again on SIGHUP.
    pub file: Option<String>,
}

impl FaultsConfig {
    /// Reads the fault settings; a spec that does not parse, or any spec where faults are
    /// refused, is a configuration error naming its variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let profile: String = env.get_or("MANDI_PROFILE", "dev".to_owned())?;
        let enable: Option<bool> = env.get("MANDI_FAULTS__ENABLE")?;
        let allowed = match enable {
            Some(enable) => enable,
            None => profile != "prod",
        };
        let file: Option<String> = env.get("MANDI_FAULTS__FILE")?;
        let (var, text) = match (env.raw("MANDI_FAULTS__SPEC"), &file) {
            (Some(spec), _) => ("MANDI_FAULTS__SPEC", Some(spec.to_owned())),
            (None, Some(path)) => (
                "MANDI_FAULTS__FILE",
                Some(
                    std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?,
                ),
            ),
            (None, None) => ("", None),
        };
        let initial = match text {
            None => None,
            Some(text) => {
                let spec =
                    FaultSpec::from_json(&text).map_err(|reason| env.invalid(var, &reason))?;
                if !allowed && !spec.is_off() {
                    return Err(ConfigError::Invalid {
                        var: var.to_owned(),
                        value: text.trim().to_owned(),
                        reason: refusal(&profile),
                    });
                }
                Some(spec)
            }
        };
        Ok(Self {
            profile,
            allowed,
            initial,
            file,
        })
    }
}

fn refusal(profile: &str) -> String {
    if profile == "prod" {
        "fault injection is refused in the prod profile; set MANDI_FAULTS__ENABLE=true to allow it"
            .to_owned()
    } else {
        "fault injection is turned off (MANDI_FAULTS__ENABLE=false)".to_owned()
    }
}

// === impl Faults ===

/// How many faults were injected, by kind.
#[derive(Debug, Default)]
struct Counters {
    latency: AtomicU64,
    errors: AtomicU64,
    declines: AtomicU64,
    publish_failures: AtomicU64,
}

/// Injected faults so far, by kind (what `GET /faults` reports).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    /// Calls delayed.
    pub latency: u64,
    /// Calls failed.
    pub errors: u64,
    /// Card authorizations declined.
    pub declines: u64,
    /// Event publishes failed.
    pub publish_failures: u64,
}

/// The process's fault registry.
#[derive(Debug)]
pub struct Faults {
    profile: RwLock<String>,
    allowed: std::sync::atomic::AtomicBool,
    current: RwLock<Arc<Compiled>>,
    counters: Counters,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            profile: RwLock::new("dev".to_owned()),
            allowed: std::sync::atomic::AtomicBool::new(true),
            current: RwLock::default(),
            counters: Counters::default(),
        }
    }
}

/// Why a spec was not applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FaultsError {
    /// The profile refuses fault injection.
    #[error("{0}")]
    Refused(String),
    /// The spec has a bad value.
    #[error("invalid fault spec: {0}")]
    Invalid(String),
}

impl Faults {
    /// Applies the profile of `config` and its initial spec.
    pub fn configure(&self, config: &FaultsConfig) -> Result<(), FaultsError> {
        if let Ok(mut profile) = self.profile.write() {
            profile.clone_from(&config.profile);
        }
        self.allowed.store(config.allowed, Ordering::SeqCst);
        self.set(config.initial.clone().unwrap_or_default())
    }

    /// Replaces the current spec. Turning faults off is always allowed.
    pub fn set(&self, spec: FaultSpec) -> Result<(), FaultsError> {
        if !spec.is_off() && !self.allowed.load(Ordering::SeqCst) {
            let profile = self.profile.read().map(|p| p.clone()).unwrap_or_default();
            return Err(FaultsError::Refused(refusal(&profile)));
        }
        let compiled = spec.compile().map_err(FaultsError::Invalid)?;
        if !spec.is_off() {
            tracing::warn!(spec = ?spec, "fault injection on");
        }
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(compiled),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(compiled),
        }
        Ok(())
    }

    /// The current spec.
    pub fn spec(&self) -> FaultSpec {
        self.compiled().spec.clone()
    }

    /// Faults injected so far.
    pub fn injected(&self) -> Injected {
        let c = &self.counters;
        Injected {
            latency: c.latency.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            declines: c.declines.load(Ordering::Relaxed),
            publish_failures: c.publish_failures.load(Ordering::Relaxed),
        }
    }

    fn compiled(&self) -> Arc<Compiled> {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether the sandbox gateway should decline this authorization.
    pub fn decline_payment(&self) -> bool {
        let hit = roll(self.compiled().spec.payment_decline_rate);
        if hit {
            self.counters.declines.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Whether this publish should fail as if the broker were down.
    pub fn fail_publish(&self) -> bool {
        let hit = roll(self.compiled().spec.publish_failure_rate);
        if hit {
            self.counters
                .publish_failures
                .fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// The latency to add to, and the error to answer, a call to `path`.
    fn for_call(&self, path: &str) -> (Option<Duration>, Option<tonic::Code>) {
        let compiled = self.compiled();
        let delay = compiled
            .latency
            .iter()
            .filter(|(m, _, rate)| m.matches(path) && roll(*rate))
            .map(|(_, delay, _)| *delay)
            .max();
        let code = compiled
            .errors
            .iter()
            .find(|(m, _, rate)| m.matches(path) && roll(*rate))
            .map(|(_, code, _)| *code);
        if delay.is_some() {
            self.counters.latency.fetch_add(1, Ordering::Relaxed);
        }
        if code.is_some() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        (delay, code)
    }
}

fn roll(rate: f64) -> bool {
    rate > 0.0 && (rate >= 1.0 || rand::random::<f64>() < rate)
}

/// The process's registry: off until configured.
pub fn global() -> &'static Faults {
    static GLOBAL: OnceLock<Faults> = OnceLock::new();
    GLOBAL.get_or_init(Faults::default)
}

/// Configures [`global`] from `config`, and when a spec file is named, reads it again on
/// every SIGHUP (a bad file is logged and the current spec kept).
pub fn install(config: &FaultsConfig) -> Result<(), FaultsError> {
    global().configure(config)?;
    if let Some(path) = config.file.clone() {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hangups) => {
                tokio::spawn(async move {
                    while hangups.recv().await.is_some() {
                        reload(&path);
                    }
                });
            }
            Err(error) => tracing::warn!(%error, "cannot listen for SIGHUP: no fault reload"),
        }
    }
    Ok(())
}

fn reload(path: &str) {
    let spec = std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|text| FaultSpec::from_json(&text));
    match spec.map(|spec| global().set(spec).map_err(|e| e.to_string())) {
        Ok(Ok(())) => tracing::info!(path, "fault spec reloaded"),
        Ok(Err(error)) | Err(error) => {
            tracing::error!(path, %error, "fault spec not reloaded; keeping the current one");
        }
    }
}

// === admin routes ===

/// What `GET /faults` answers.
#[derive(Debug, Serialize, Deserialize)]
pub struct FaultsView {
    /// The process's profile.
    pub profile: String,
    /// Whether faults may be set.
    pub allowed: bool,
    /// The current spec.
    pub spec: FaultSpec,
    /// Faults injected so far.
    pub injected: Injected,
}

fn view() -> FaultsView {
    let faults = global();
    FaultsView {
        profile: faults.profile.read().map(|p| p.clone()).unwrap_or_default(),
        allowed: faults.allowed.load(Ordering::SeqCst),
        spec: faults.spec(),
        injected: faults.injected(),
    }
}

/// `GET /faults` (the spec and counts), `PUT /faults` (a JSON [`FaultSpec`] replaces the
/// current one: 400 when invalid, 403 when the profile refuses) and `DELETE /faults`
/// (all off).
pub fn admin_routes() -> axum::Router {
    axum::Router::new().route(
        "/faults",
        get(|| async { Json(view()) })
            .put(|body: String| async move {
                let applied = FaultSpec::from_json(&body)
                    .map_err(FaultsError::Invalid)
                    .and_then(|spec| global().set(spec));
                match applied {
                    Ok(()) => (StatusCode::OK, Json(serde_json::json!(view()))),
                    Err(error) => {
                        let status = match error {
                            FaultsError::Refused(_) => StatusCode::FORBIDDEN,
                            FaultsError::Invalid(_) => StatusCode::BAD_REQUEST,
                        };
                        (
                            status,
                            Json(serde_json::json!({ "error": error.to_string() })),
                        )
                    }
                }
            })
            .delete(|| async {
                // Off is always allowed, so this cannot fail.
                let _ = global().set(FaultSpec::default());
                Json(view())
            }),
    )
}

// === impl FaultLayer ===

/// Delays or fails gRPC calls as the [`global`] spec says.
#[derive(Debug, Clone, Default)]
pub struct FaultLayer;

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FaultService { inner }
    }
}

/// The service made by [`FaultLayer`].
#[derive(Debug, Clone)]
pub struct FaultService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for FaultService<S>
where
    S: Service<Request<B>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (delay, code) = global().for_call(request.uri().path());
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if let Some(code) = code {
                let status = crate::errors::status(code, "injected fault", DOMAIN, "INJECTED");
                return Ok(status.into_http());
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests;
