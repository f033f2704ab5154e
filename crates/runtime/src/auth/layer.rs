//! The tower layer that authenticates every call and applies its method's policy.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Layer, Service};

use super::{Caller, TokenVerifier, VerifyError};
use crate::errors;

/// The ErrorInfo domain of refusals made by this layer.
const DOMAIN: &str = "mandi.auth";

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Anyone; a valid token, when sent, still identifies the caller.
    Public,
    /// Anyone, but a token, when sent, must be valid (keys are fetched if needed): it
    /// decides whose data the call touches, so a signed-in caller is never taken for a
    /// guest (a cart).
    Optional,
    /// Any caller with a valid access token.
    SignedIn,
    /// Callers holding at least one of these roles.
    AnyRole(&'static [&'static str]),
}

/// Policies by full method path (`/mandi.identity.v1.IdentityService/Login`).
///
/// Health and reflection are public. A mandi method nobody listed requires a signed-in
/// caller: forgetting a policy must never open a method to the world.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    by_method: HashMap<String, Policy>,
}

impl Policies {
    /// Adds the policies of one service's methods (`service` is the full service name).
    pub fn add(&mut self, service: &str, methods: &[(&str, Policy)]) {
        for (method, policy) in methods {
            self.by_method
                .insert(format!("/{service}/{method}"), *policy);
        }
    }

    /// The policy for a request path.
    pub fn for_path(&self, path: &str) -> Policy {
        if path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.") {
            return Policy::Public;
        }
        self.by_method
            .get(path)
            .copied()
            .unwrap_or(Policy::SignedIn)
    }
}

/// Authenticates and authorizes calls; see the module docs.
#[derive(Clone)]
pub struct AuthLayer {
    policies: Arc<Policies>,
    verifier: Arc<TokenVerifier>,
}

impl AuthLayer {
    /// A layer applying `policies` with tokens checked by `verifier`.
    pub fn new(policies: Policies, verifier: Arc<TokenVerifier>) -> Self {
        Self {
            policies: Arc::new(policies),
            verifier,
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> Service<Request<Body>> for AuthService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The ready inner service must be the one called; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let policy = layer.policies.for_path(request.uri().path());
            let verified = match (bearer_token(&request), policy) {
                // Anonymous callers of public methods never wait on a key fetch.
                (Some(token), Policy::Public) => Some(layer.verifier.verify_cached(token).await),
                (Some(token), _) => Some(layer.verifier.verify(token).await),
                (None, _) => None,
            };
            match authorize(policy, verified) {
                Ok(Some(caller)) => {
                    request.extensions_mut().insert(caller);
                }
                Ok(None) => {}
                Err(status) => return Ok(status.into_http()),
            }
            inner.call(request).await
        })
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

/// Decides whether a call goes through, and as whom.
fn authorize(
    policy: Policy,
    verified: Option<Result<super::Claims, VerifyError>>,
) -> Result<Option<Caller>, Status> {
    let caller = match (policy, verified) {
        // A public method ignores a stale or broken token rather than failing the call.
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
        (_, Some(Ok(claims))) => Caller::from(claims),
    };
    match policy {
        Policy::AnyRole(allowed) if !allowed.iter().any(|role| caller.has_role(role)) => {
            Err(errors::status(
                Code::PermissionDenied,
                format!("this method needs one of the roles: {}", allowed.join(", ")),
                DOMAIN,
                "ROLE_REQUIRED",
            ))
        }
        _ => Ok(Some(caller)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Claims, roles};
    use super::*;
    use tonic::Code;

    fn claims(role: &str) -> Claims {
        Claims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "user-1".into(),
            iat: 0,
            exp: 0,
            roles: vec![role.into()],
            svc: None,
        }
    }

    #[test]
    fn unlisted_mandi_methods_need_a_signed_in_caller() {
        let policies = Policies::default();
        assert_eq!(
            policies.for_path("/mandi.x.v1.XService/Get"),
            Policy::SignedIn
        );
        assert_eq!(
            policies.for_path("/grpc.health.v1.Health/Check"),
            Policy::Public
        );
    }

    #[test]
    fn a_role_policy_refuses_other_roles() {
        let policy = Policy::AnyRole(&[roles::ADMIN]);
        let err = authorize(policy, Some(Ok(claims(roles::CUSTOMER)))).unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
        let ok = authorize(policy, Some(Ok(claims(roles::ADMIN)))).unwrap();
        assert_eq!(ok.map(|c| c.subject), Some("user-1".into()));
    }

    #[test]
    fn a_public_method_lets_a_bad_token_through_anonymously() {
        let bad = Some(Err(VerifyError::Malformed("x".into())));
        assert_eq!(authorize(Policy::Public, bad).unwrap(), None);
    }

    #[test]
    fn an_optional_method_takes_guests_but_refuses_a_bad_token() {
        assert_eq!(authorize(Policy::Optional, None).unwrap(), None);
        let bad = Some(Err(VerifyError::Malformed("x".into())));
        let err = authorize(Policy::Optional, bad).unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let ok = authorize(Policy::Optional, Some(Ok(claims(roles::CUSTOMER)))).unwrap();
        assert_eq!(ok.map(|c| c.subject), Some("user-1".into()));
    }

    #[test]
    fn a_signed_in_method_refuses_a_missing_token() {
        let err = authorize(Policy::SignedIn, None).unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let request = Request::builder()
            .header("authorization", "bearer abc")
            .body(())
            .unwrap();
        assert_eq!(bearer_token(&request), Some("abc"));
    }
}
