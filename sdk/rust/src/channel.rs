//! [`MandiChannel`]: the transport every generated client runs on. It wraps a tonic
//! `Channel` and, per call, adds the bearer token, a default deadline and retries.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tonic::body::Body;
use tonic::transport::Channel;
use tower::{BoxError, Service};

use crate::{RetryPolicy, TokenHandle, call, methods};

/// What every call through a [`MandiChannel`] gets unless the caller says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallPolicy {
    /// Deadline of calls that set none (`tonic::Request::set_timeout` sets one). Server
    /// streams get none by default. `None` leaves calls without a deadline.
    pub default_deadline: Option<Duration>,
    /// How retry-safe calls are retried after UNAVAILABLE.
    pub retry: RetryPolicy,
}

impl Default for CallPolicy {
    /// A 10 s default deadline and the default [`RetryPolicy`].
    fn default() -> Self {
        Self {
            default_deadline: Some(Duration::from_secs(10)),
            retry: RetryPolicy::default(),
        }
    }
}

/// A tonic `Channel` that adds `authorization: Bearer <token>`, a default `grpc-timeout`
/// and retries to every call. Cheap to clone; clones share the connection and the token.
///
/// Use it as the transport of any generated client:
/// `IdentityServiceClient::new(channel)`.
#[derive(Clone, Debug)]
pub struct MandiChannel {
    inner: Channel,
    token: TokenHandle,
    policy: CallPolicy,
}

// === impl MandiChannel ===

impl MandiChannel {
    /// Wraps `channel`; calls send the token `token` holds at the time of each call.
    pub fn new(channel: Channel, token: TokenHandle, policy: CallPolicy) -> Self {
        Self {
            inner: channel,
            token,
            policy,
        }
    }

    /// The token shared by this channel and its clones.
    pub fn token_handle(&self) -> &TokenHandle {
        &self.token
    }

    /// The policy applied to calls.
    pub fn policy(&self) -> &CallPolicy {
        &self.policy
    }
}

impl Service<Request<Body>> for MandiChannel {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Each attempt waits for a clone of the channel to be ready inside the call's
        // future, which retries need anyway; readiness here would only be thrown away.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let method = methods::lookup(request.uri().path());
        Box::pin(call::send(
            self.inner.clone(),
            self.token.header(),
            self.policy,
            method,
            request,
        ))
    }
}
