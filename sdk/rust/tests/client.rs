//! `Mandi` against a real tonic server on 127.0.0.1:0 serving a scripted fake of the
//! identity service: retries, token and deadline as they cross the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mandi_sdk::proto::mandi::identity::v1::identity_service_server::{
    IdentityService, IdentityServiceServer,
};
use mandi_sdk::proto::mandi::identity::v1::*;
use mandi_sdk::{Mandi, RetryPolicy};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Response, Status};

/// What the fake server saw of one call.
#[derive(Clone, Debug)]
struct Seen {
    method: &'static str,
    authorization: Option<String>,
    grpc_timeout: Option<String>,
}

/// The fake's state: codes to fail with, per method, and every call seen.
#[derive(Default)]
struct State {
    failures: Mutex<HashMap<&'static str, VecDeque<Code>>>,
    seen: Mutex<Vec<Seen>>,
}

impl State {
    /// Makes the next calls of `method` fail with `codes`, in order.
    fn fail(&self, method: &'static str, codes: impl IntoIterator<Item = Code>) {
        self.failures
            .lock()
            .expect("lock")
            .entry(method)
            .or_default()
            .extend(codes);
    }

    fn attempts(&self, method: &str) -> usize {
        let seen = self.seen.lock().expect("lock");
        seen.iter().filter(|s| s.method == method).count()
    }

    fn last(&self, method: &str) -> Seen {
        let seen = self.seen.lock().expect("lock");
        let last = seen.iter().rev().find(|s| s.method == method);
        last.cloned().expect("the method was called")
    }

    /// Records the call, then fails it when the script says so.
    fn enter<T>(&self, method: &'static str, request: &Request<T>) -> Result<(), Status> {
        let header = |name| {
            let value = request.metadata().get(name)?;
            value.to_str().ok().map(str::to_owned)
        };
        self.seen.lock().expect("lock").push(Seen {
            method,
            authorization: header("authorization"),
            grpc_timeout: header("grpc-timeout"),
        });
        let mut failures = self.failures.lock().expect("lock");
        match failures.get_mut(method).and_then(VecDeque::pop_front) {
            Some(code) => Err(Status::new(code, "scripted failure")),
            None => Ok(()),
        }
    }
}

struct FakeIdentity(Arc<State>);

fn user(name: &str, email: &str) -> User {
    User {
        id: "0190aaaa-0000-7000-8000-000000000001".into(),
        name: name.into(),
        resource_name: "users/0190aaaa-0000-7000-8000-000000000001".into(),
        email: email.into(),
        role: Role::Customer as i32,
        ..Default::default()
    }
}

#[tonic::async_trait]
impl IdentityService for FakeIdentity {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        self.0.enter("Register", &request)?;
        let request = request.into_inner();
        Ok(Response::new(RegisterResponse {
            user: Some(user(&request.name, &request.email)),
        }))
    }

    async fn login(
        &self,
        request: Request<LoginRequest>,
    ) -> Result<Response<LoginResponse>, Status> {
        self.0.enter("Login", &request)?;
        let request = request.into_inner();
        Ok(Response::new(LoginResponse {
            access_token: format!("token-for-{}", request.email),
            refresh_token: "refresh".into(),
            expires_in: 900,
            user: Some(user("Asha", &request.email)),
        }))
    }

    async fn refresh(
        &self,
        _: Request<RefreshRequest>,
    ) -> Result<Response<RefreshResponse>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }

    async fn logout(&self, _: Request<LogoutRequest>) -> Result<Response<LogoutResponse>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }

    async fn get_current_user(
        &self,
        request: Request<GetCurrentUserRequest>,
    ) -> Result<Response<GetCurrentUserResponse>, Status> {
        self.0.enter("GetCurrentUser", &request)?;
        if request.metadata().get("authorization").is_none() {
            return Err(Status::unauthenticated("no token"));
        }
        Ok(Response::new(GetCurrentUserResponse {
            user: Some(user("Asha", "asha@example.com")),
        }))
    }

    async fn get_user(
        &self,
        request: Request<GetUserRequest>,
    ) -> Result<Response<GetUserResponse>, Status> {
        self.0.enter("GetUser", &request)?;
        // Slow on purpose: the deadline tests wait for it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok(Response::new(GetUserResponse { user: None }))
    }

    async fn set_user_role(
        &self,
        request: Request<SetUserRoleRequest>,
    ) -> Result<Response<SetUserRoleResponse>, Status> {
        self.0.enter("SetUserRole", &request)?;
        Ok(Response::new(SetUserRoleResponse {
            user: Some(user("Asha", "asha@example.com")),
        }))
    }

    async fn get_jwks(
        &self,
        request: Request<GetJwksRequest>,
    ) -> Result<Response<GetJwksResponse>, Status> {
        self.0.enter("GetJwks", &request)?;
        Ok(Response::new(GetJwksResponse {
            keys: vec![Jwk {
                kid: "k1".into(),
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: "AAAA".into(),
                alg: "EdDSA".into(),
                r#use: "sig".into(),
            }],
        }))
    }

    async fn issue_service_token(
        &self,
        _: Request<IssueServiceTokenRequest>,
    ) -> Result<Response<IssueServiceTokenResponse>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }

    async fn rotate_signing_key(
        &self,
        _: Request<RotateSigningKeyRequest>,
    ) -> Result<Response<RotateSigningKeyResponse>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }
}

/// Starts the fake on a free port; returns its URL and state.
async fn spawn_fake() -> (String, Arc<State>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let state = Arc::new(State::default());
    let service = IdentityServiceServer::new(FakeIdentity(state.clone()));
    tokio::spawn(
        Server::builder()
            .add_service(service)
            .serve_with_incoming(TcpIncoming::from(listener)),
    );
    (url, state)
}

/// A URL where nothing listens.
async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    drop(listener);
    url
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    }
}

fn client(url: &str) -> Mandi {
    Mandi::builder()
        .endpoint(url)
        .retry(fast_retries())
        .connect_lazy()
        .expect("valid config")
}

#[tokio::test]
async fn get_jwks_failing_unavailable_twice_succeeds_on_the_third_attempt() {
    let (url, state) = spawn_fake().await;
    state.fail("GetJwks", [Code::Unavailable, Code::Unavailable]);

    let jwks = client(&url).identity().get_jwks(GetJwksRequest {}).await;

    assert_eq!(jwks.expect("jwks").into_inner().keys.len(), 1);
    assert_eq!(state.attempts("GetJwks"), 3);
}

#[tokio::test]
async fn login_failing_unavailable_is_attempted_once() {
    let (url, state) = spawn_fake().await;
    state.fail("Login", [Code::Unavailable]);

    let login = client(&url)
        .identity()
        .login(LoginRequest {
            email: "asha@example.com".into(),
            password: "correct horse".into(),
        })
        .await;

    assert_eq!(login.expect_err("unavailable").code(), Code::Unavailable);
    assert_eq!(state.attempts("Login"), 1);
}

#[tokio::test]
async fn set_user_role_is_retried_because_it_carries_a_request_id() {
    let (url, state) = spawn_fake().await;
    state.fail("SetUserRole", [Code::Unavailable]);

    let result = client(&url)
        .identity()
        .set_user_role(SetUserRoleRequest {
            user_id: "u1".into(),
            role: Role::Vendor as i32,
            request_id: "0190aaaa-0000-7000-8000-0000000000ff".into(),
        })
        .await;

    assert!(result.is_ok(), "{result:?}");
    assert_eq!(state.attempts("SetUserRole"), 2);
}

#[tokio::test]
async fn invalid_argument_is_not_retried() {
    let (url, state) = spawn_fake().await;
    state.fail("GetJwks", [Code::InvalidArgument]);

    let jwks = client(&url).identity().get_jwks(GetJwksRequest {}).await;

    assert_eq!(jwks.expect_err("invalid").code(), Code::InvalidArgument);
    assert_eq!(state.attempts("GetJwks"), 1);
}

#[tokio::test]
async fn a_token_set_after_login_is_sent_by_existing_and_new_clients() {
    let (url, state) = spawn_fake().await;
    let mandi = client(&url);
    let mut earlier = mandi.identity();
    let login = mandi
        .identity()
        .login(LoginRequest {
            email: "asha@example.com".into(),
            password: "correct horse".into(),
        })
        .await
        .expect("login")
        .into_inner();
    assert_eq!(state.last("Login").authorization, None);

    mandi
        .set_token(Some(login.access_token))
        .expect("valid token");
    let from_earlier = earlier.get_current_user(GetCurrentUserRequest {}).await;
    let from_new = mandi
        .clone()
        .identity()
        .get_current_user(GetCurrentUserRequest {})
        .await;

    assert!(from_earlier.is_ok() && from_new.is_ok());
    assert_eq!(
        state.last("GetCurrentUser").authorization.as_deref(),
        Some("Bearer token-for-asha@example.com")
    );
    assert_eq!(state.attempts("GetCurrentUser"), 2);
}

#[tokio::test]
async fn the_server_sees_the_default_deadline() {
    let (url, state) = spawn_fake().await;

    client(&url)
        .identity()
        .get_jwks(GetJwksRequest {})
        .await
        .expect("jwks");

    assert_eq!(
        state.last("GetJwks").grpc_timeout.as_deref(),
        Some("10000m")
    );
}

#[tokio::test]
async fn a_deadline_set_on_the_request_replaces_the_default() {
    let (url, state) = spawn_fake().await;
    let mut request = Request::new(GetJwksRequest {});
    request.set_timeout(Duration::from_millis(1500));

    client(&url)
        .identity()
        .get_jwks(request)
        .await
        .expect("jwks");

    let sent = state.last("GetJwks").grpc_timeout.expect("grpc-timeout");
    assert_ne!(sent, "10000m");
    assert!(sent.starts_with("1500"), "{sent}");
}

#[tokio::test]
async fn a_slow_server_gives_deadline_exceeded_at_the_deadline() {
    let (url, _state) = spawn_fake().await;
    let mandi = Mandi::builder()
        .endpoint(&url)
        .default_deadline(Duration::from_millis(200))
        .connect_lazy()
        .expect("valid config");
    let started = Instant::now();

    let result = mandi
        .identity()
        .get_user(GetUserRequest {
            user_id: "u1".into(),
        })
        .await;

    assert_eq!(result.expect_err("too slow").code(), Code::DeadlineExceeded);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_is_down_gives_unavailable_after_the_retries() {
    let url = dead_url().await;

    let result = client(&url).identity().get_jwks(GetJwksRequest {}).await;

    assert_eq!(
        result.expect_err("nothing listens").code(),
        Code::Unavailable
    );
}

#[tokio::test]
async fn a_service_endpoint_override_wins_over_the_default() {
    let (url, state) = spawn_fake().await;
    let mandi = Mandi::builder()
        .endpoint(dead_url().await)
        .service_endpoint("identity", &url)
        .retry(fast_retries())
        .connect_lazy()
        .expect("valid config");

    let jwks = mandi.identity().get_jwks(GetJwksRequest {}).await;

    assert!(jwks.is_ok(), "{jwks:?}");
    assert_eq!(state.attempts("GetJwks"), 1);
}
