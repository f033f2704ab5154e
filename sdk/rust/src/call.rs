//! One call through a [`MandiChannel`](crate::MandiChannel): add the bearer token, set the
//! deadline, then send once or, for retry-safe calls, retry UNAVAILABLE with backoff. Generic
//! over the service underneath so tests can fake the wire.

use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt as _, Full};
use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;
use tower::{BoxError, Service, ServiceExt as _};

use crate::deadline::{self, GRPC_TIMEOUT};
use crate::methods::MethodInfo;
use crate::retry::{self, Verdict};
use crate::{CallPolicy, RetryPolicy};

/// Sends `request` through `inner` under `policy`. `bearer` is the `authorization` value of
/// the current token; `method` what the descriptor says about the RPC.
///
/// A deadline that passes before the response headers arrive becomes a DEADLINE_EXCEEDED
/// response, so generated clients report it as an ordinary `Status`.
pub(crate) async fn send<S>(
    inner: S,
    bearer: Option<HeaderValue>,
    policy: CallPolicy,
    method: MethodInfo,
    mut request: Request<Body>,
) -> Result<Response<Body>, BoxError>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone,
    S::Error: Into<BoxError>,
{
    // A caller that set its own authorization (another user, a service token) keeps it.
    if let Some(bearer) = bearer
        && !request.headers().contains_key(AUTHORIZATION)
    {
        request.headers_mut().insert(AUTHORIZATION, bearer);
    }
    crate::trace::inject(request.headers_mut());

    let budget = budget(request.headers_mut(), policy.default_deadline, method);
    let deadline = budget.map(|budget| Instant::now() + budget);
    let attempts = if method.retry_safe {
        policy.retry.max_attempts.max(1)
    } else {
        1
    };
    let exchange = async {
        if attempts > 1 {
            with_retries(inner, request, &policy.retry, attempts, deadline).await
        } else {
            attempt(inner, request).await
        }
    };

    let (Some(budget), Some(deadline)) = (budget, deadline) else {
        return exchange.await;
    };
    // The server enforces grpc-timeout too, but a server that never answers (or a connect
    // that hangs) must not hold the caller past its deadline.
    match tokio::time::timeout_at(deadline, exchange).await {
        // A tonic server whose grpc-timeout expires resets the stream (or answers CANCELLED),
        // which can beat our own timer by a hair; past the deadline it is the same event.
        Ok(outcome) if Instant::now() >= deadline && is_cancellation(&outcome) => {
            Ok(deadline_exceeded(budget))
        }
        Ok(outcome) => outcome,
        Err(_elapsed) => Ok(deadline_exceeded(budget)),
    }
}

fn deadline_exceeded(budget: Duration) -> Response<Body> {
    Status::deadline_exceeded(format!("no response within the {budget:?} deadline")).into_http()
}

/// Whether the call ended without an answer: a transport error (a reset stream among
/// them) or CANCELLED before any message.
fn is_cancellation(outcome: &Result<Response<Body>, BoxError>) -> bool {
    match outcome {
        Err(_) => true,
        Ok(response) => response
            .headers()
            .get("grpc-status")
            .is_some_and(|code| code.as_bytes() == b"1"),
    }
}

/// Returns how long the call may take: the caller's `grpc-timeout` when it set one (tonic's
/// `Request::set_timeout`), else `default`, which is then written into the header. Server
/// streams get no default: they live as long as the caller reads them.
fn budget(
    headers: &mut HeaderMap,
    default: Option<Duration>,
    method: MethodInfo,
) -> Option<Duration> {
    if let Some(value) = headers.get(GRPC_TIMEOUT) {
        return deadline::parse(value);
    }
    if method.server_streaming {
        return None;
    }
    let default = default?;
    headers.insert(GRPC_TIMEOUT, deadline::encode(default));
    Some(default)
}

/// Sends a retry-safe call up to `attempts` times while it fails with UNAVAILABLE.
async fn with_retries<S>(
    inner: S,
    request: Request<Body>,
    policy: &RetryPolicy,
    attempts: u32,
    deadline: Option<Instant>,
) -> Result<Response<Body>, BoxError>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone,
    S::Error: Into<BoxError>,
{
    let (mut parts, body) = request.into_parts();
    // Every attempt sends the same bytes, so the body is read once. Unary and
    // server-streaming requests are a single message; client streams are never retried.
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(status) => return Ok(status.into_http()),
    };

    let mut sent = 1;
    loop {
        let request = Request::from_parts(parts.clone(), Body::new(Full::new(body.clone())));
        let outcome = attempt(inner.clone(), request).await;
        let verdict = match &outcome {
            Ok(response) => retry::judge_response(response.status(), response.headers()),
            // The channel could not connect or send: nothing reached the server's handler.
            Err(_) => Verdict::Retry { pushback: None },
        };
        let Verdict::Retry { pushback } = verdict else {
            return outcome;
        };
        if sent >= attempts {
            return outcome;
        }
        let wait = pushback.unwrap_or_else(|| policy.backoff(sent));
        if let Some(deadline) = deadline
            && Instant::now() + wait >= deadline
        {
            // The server's UNAVAILABLE says more than the DEADLINE_EXCEEDED waiting would give.
            return outcome;
        }
        tracing::debug!(
            path = parts.uri.path(),
            attempt = sent,
            ?wait,
            error = outcome.as_ref().err().map(tracing::field::display),
            "unavailable; retrying",
        );
        tokio::time::sleep(wait).await;
        if let Some(deadline) = deadline {
            // Later attempts tell the server how much of the deadline is left.
            let left = deadline.saturating_duration_since(Instant::now());
            parts.headers.insert(GRPC_TIMEOUT, deadline::encode(left));
        }
        sent += 1;
    }
}

/// One attempt: waits for the service to be ready, then sends.
async fn attempt<S>(mut inner: S, request: Request<Body>) -> Result<Response<Body>, BoxError>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Error: Into<BoxError>,
{
    let ready = inner.ready().await.map_err(Into::into)?;
    ready.call(request).await.map_err(Into::into)
}

#[cfg(test)]
mod tests;
