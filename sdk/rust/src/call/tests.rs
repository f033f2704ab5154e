//! The per-call pipeline against a scripted fake wire: a tower service that answers each
//! attempt from a script and records what it was sent.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt as _, Full};
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{BoxError, Service};

use super::send;
use crate::deadline;
use crate::methods::MethodInfo;
use crate::{CallPolicy, RetryPolicy};

const GET_JWKS: &str = "/mandi.identity.v1.IdentityService/GetJwks";
const LOGIN: &str = "/mandi.identity.v1.IdentityService/Login";

const SAFE: MethodInfo = MethodInfo {
    retry_safe: true,
    server_streaming: false,
};
const UNSAFE: MethodInfo = MethodInfo {
    retry_safe: false,
    server_streaming: false,
};

/// One scripted answer of the fake wire.
#[derive(Clone, Copy)]
enum Answer {
    /// A normal response; its status would follow in trailers.
    Ok,
    /// A trailers-only response with this code.
    Status(Code),
    /// UNAVAILABLE with a `grpc-retry-pushback-ms` header.
    Pushback(&'static str),
    /// The channel fails to connect.
    TransportError,
    /// No answer, ever.
    Hang,
}

/// What the fake saw of one attempt.
struct Seen {
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Clone, Default)]
struct Wire {
    script: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Wire {
    /// A wire that answers with `script`, then `Ok` forever.
    fn new(script: impl IntoIterator<Item = Answer>) -> Self {
        let wire = Self::default();
        wire.script.lock().expect("lock").extend(script);
        wire
    }

    fn service(
        &self,
    ) -> impl Service<Request<Body>, Response = Response<Body>, Error = BoxError> + Clone + use<>
    {
        let wire = self.clone();
        tower::service_fn(move |request: Request<Body>| {
            let wire = wire.clone();
            async move { wire.answer(request).await }
        })
    }

    async fn answer(&self, request: Request<Body>) -> Result<Response<Body>, BoxError> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes().to_vec();
        self.seen.lock().expect("lock").push(Seen {
            headers: parts.headers,
            body,
        });
        let next = self.script.lock().expect("lock").pop_front();
        match next.unwrap_or(Answer::Ok) {
            Answer::Ok => Ok(Response::new(Body::empty())),
            Answer::Status(code) => Ok(Status::new(code, "scripted").into_http()),
            Answer::Pushback(ms) => {
                let mut response = Status::unavailable("scripted").into_http::<Body>();
                response
                    .headers_mut()
                    .insert("grpc-retry-pushback-ms", HeaderValue::from_static(ms));
                Ok(response)
            }
            Answer::TransportError => Err("connection refused".into()),
            Answer::Hang => std::future::pending().await,
        }
    }

    fn attempts(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    fn header(&self, attempt: usize, name: &str) -> Option<String> {
        let seen = self.seen.lock().expect("lock");
        let value = seen.get(attempt)?.headers.get(name)?;
        Some(value.to_str().expect("ascii header").to_owned())
    }
}

fn request(path: &str) -> Request<Body> {
    Request::builder()
        .uri(format!("http://mandi.test{path}"))
        .body(Body::new(Full::from(b"\0\0\0\0\x02hi".to_vec())))
        .expect("valid request")
}

fn fast_policy() -> CallPolicy {
    CallPolicy {
        default_deadline: Some(Duration::from_secs(10)),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
    }
}

fn code_of(response: &Response<Body>) -> Code {
    let header = response.headers().get("grpc-status");
    header.map_or(Code::Ok, |value| {
        Code::from(
            value
                .to_str()
                .expect("ascii")
                .parse::<i32>()
                .expect("number"),
        )
    })
}

async fn call(wire: &Wire, method: MethodInfo, request: Request<Body>) -> Response<Body> {
    send(wire.service(), None, fast_policy(), method, request)
        .await
        .expect("a response")
}

#[tokio::test]
async fn unavailable_twice_then_success_takes_three_attempts() {
    let wire = Wire::new([
        Answer::Status(Code::Unavailable),
        Answer::Status(Code::Unavailable),
    ]);

    let response = call(&wire, SAFE, request(GET_JWKS)).await;

    assert_eq!(code_of(&response), Code::Ok);
    assert_eq!(wire.attempts(), 3);
}

#[tokio::test]
async fn transport_errors_are_retried_like_unavailable() {
    let wire = Wire::new([Answer::TransportError, Answer::TransportError]);

    let response = call(&wire, SAFE, request(GET_JWKS)).await;

    assert_eq!(code_of(&response), Code::Ok);
    assert_eq!(wire.attempts(), 3);
}

#[tokio::test]
async fn a_call_that_is_not_retry_safe_is_sent_once() {
    let wire = Wire::new([Answer::Status(Code::Unavailable)]);

    let response = call(&wire, UNSAFE, request(LOGIN)).await;

    assert_eq!(code_of(&response), Code::Unavailable);
    assert_eq!(wire.attempts(), 1);
}

#[tokio::test]
async fn invalid_argument_is_never_retried() {
    let wire = Wire::new([Answer::Status(Code::InvalidArgument)]);

    let response = call(&wire, SAFE, request(GET_JWKS)).await;

    assert_eq!(code_of(&response), Code::InvalidArgument);
    assert_eq!(wire.attempts(), 1);
}

#[tokio::test]
async fn retries_stop_at_max_attempts_with_the_last_unavailable() {
    let wire = Wire::new([Answer::Status(Code::Unavailable); 5]);

    let response = call(&wire, SAFE, request(GET_JWKS)).await;

    assert_eq!(code_of(&response), Code::Unavailable);
    assert_eq!(wire.attempts(), 3);
}

#[tokio::test]
async fn the_last_transport_error_is_returned_when_attempts_run_out() {
    let wire = Wire::new([Answer::TransportError; 3]);

    let outcome = send(wire.service(), None, fast_policy(), SAFE, request(GET_JWKS)).await;

    assert!(outcome.is_err());
    assert_eq!(wire.attempts(), 3);
}

#[tokio::test]
async fn a_policy_of_one_attempt_turns_retries_off() {
    let wire = Wire::new([Answer::Status(Code::Unavailable)]);
    let policy = CallPolicy {
        retry: RetryPolicy::none(),
        ..fast_policy()
    };

    let response = send(wire.service(), None, policy, SAFE, request(GET_JWKS))
        .await
        .expect("a response");

    assert_eq!(code_of(&response), Code::Unavailable);
    assert_eq!(wire.attempts(), 1);
}

#[tokio::test]
async fn every_attempt_sends_the_same_body() {
    let wire = Wire::new([Answer::TransportError, Answer::Status(Code::Unavailable)]);

    call(&wire, SAFE, request(GET_JWKS)).await;

    let seen = wire.seen.lock().expect("lock");
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.body == b"\0\0\0\0\x02hi"));
}

#[tokio::test]
async fn a_pushback_past_the_deadline_returns_the_unavailable_at_once() {
    let wire = Wire::new([Answer::Pushback("60000")]);
    let policy = CallPolicy {
        default_deadline: Some(Duration::from_millis(500)),
        ..fast_policy()
    };

    let response = send(wire.service(), None, policy, SAFE, request(GET_JWKS))
        .await
        .expect("a response");

    assert_eq!(code_of(&response), Code::Unavailable);
    assert_eq!(wire.attempts(), 1);
}

#[tokio::test]
async fn a_negative_pushback_stops_retries() {
    let wire = Wire::new([Answer::Pushback("-1")]);

    let response = call(&wire, SAFE, request(GET_JWKS)).await;

    assert_eq!(code_of(&response), Code::Unavailable);
    assert_eq!(wire.attempts(), 1);
}

#[tokio::test]
async fn the_bearer_token_is_added() {
    let wire = Wire::new([]);
    let bearer = HeaderValue::from_static("Bearer abc");

    send(
        wire.service(),
        Some(bearer),
        fast_policy(),
        SAFE,
        request(GET_JWKS),
    )
    .await
    .expect("a response");

    assert_eq!(
        wire.header(0, "authorization").as_deref(),
        Some("Bearer abc")
    );
}

#[tokio::test]
async fn an_authorization_header_set_by_the_caller_is_kept() {
    let wire = Wire::new([]);
    let mut request = request(GET_JWKS);
    request
        .headers_mut()
        .insert("authorization", HeaderValue::from_static("Bearer mine"));
    let bearer = HeaderValue::from_static("Bearer shared");

    send(wire.service(), Some(bearer), fast_policy(), SAFE, request)
        .await
        .expect("a response");

    assert_eq!(
        wire.header(0, "authorization").as_deref(),
        Some("Bearer mine")
    );
}

#[tokio::test]
async fn without_a_token_no_authorization_is_sent() {
    let wire = Wire::new([]);

    call(&wire, SAFE, request(GET_JWKS)).await;

    assert_eq!(wire.header(0, "authorization"), None);
}

#[tokio::test]
async fn the_default_deadline_is_sent_as_grpc_timeout() {
    let wire = Wire::new([]);

    call(&wire, UNSAFE, request(LOGIN)).await;

    assert_eq!(wire.header(0, "grpc-timeout").as_deref(), Some("10000m"));
}

#[tokio::test]
async fn a_deadline_set_by_the_caller_is_kept() {
    let wire = Wire::new([]);
    let mut request = request(LOGIN);
    request
        .headers_mut()
        .insert("grpc-timeout", HeaderValue::from_static("250m"));

    call(&wire, UNSAFE, request).await;

    assert_eq!(wire.header(0, "grpc-timeout").as_deref(), Some("250m"));
}

#[tokio::test]
async fn server_streams_get_no_default_deadline() {
    let wire = Wire::new([]);
    let stream = MethodInfo {
        retry_safe: true,
        server_streaming: true,
    };

    call(
        &wire,
        stream,
        request("/mandi.order.v1.OrderService/WatchOrder"),
    )
    .await;

    assert_eq!(wire.header(0, "grpc-timeout"), None);
}

#[tokio::test]
async fn later_attempts_carry_the_time_left() {
    let wire = Wire::new([Answer::Status(Code::Unavailable)]);
    // A backoff of whole milliseconds, so the time left shows in the millisecond header.
    let policy = CallPolicy {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(40),
            ..fast_policy().retry
        },
        ..fast_policy()
    };

    send(wire.service(), None, policy, SAFE, request(GET_JWKS))
        .await
        .expect("a response");

    let timeout = |attempt| {
        let text = wire.header(attempt, "grpc-timeout").expect("grpc-timeout");
        deadline::parse(&HeaderValue::try_from(text).expect("header")).expect("valid")
    };
    assert_eq!(timeout(0), Duration::from_secs(10));
    assert!(timeout(1) < Duration::from_secs(10), "{:?}", timeout(1));
}

#[tokio::test]
async fn a_server_that_never_answers_gives_deadline_exceeded() {
    let wire = Wire::new([Answer::Hang]);
    let policy = CallPolicy {
        default_deadline: Some(Duration::from_millis(50)),
        ..fast_policy()
    };

    let response = tokio::time::timeout(
        Duration::from_secs(5),
        send(wire.service(), None, policy, SAFE, request(GET_JWKS)),
    )
    .await
    .expect("the deadline ends the call")
    .expect("a response");

    assert_eq!(code_of(&response), Code::DeadlineExceeded);
    assert_eq!(wire.attempts(), 1);
}

#[tokio::test]
async fn a_server_cancelling_at_the_deadline_reads_as_deadline_exceeded() {
    let policy = CallPolicy {
        default_deadline: Some(Duration::from_millis(20)),
        ..fast_policy()
    };
    let slow_cancel = tower::service_fn(|_request: Request<Body>| async {
        tokio::time::sleep(Duration::from_millis(40)).await;
        Ok::<_, BoxError>(Status::cancelled("Timeout expired").into_http())
    });
    let deadline_race = tower::service_fn(|_request: Request<Body>| async {
        // Answers past the deadline from inside the timed future, as a tonic server whose
        // timer fires in the same tick as ours does.
        std::thread::sleep(Duration::from_millis(40));
        Ok::<_, BoxError>(Status::cancelled("Timeout expired").into_http())
    });

    let reset = tower::service_fn(|_request: Request<Body>| async {
        std::thread::sleep(Duration::from_millis(40));
        Err::<Response<Body>, BoxError>("stream reset: CANCEL".into())
    });

    let raced = send(deadline_race, None, policy, UNSAFE, request(LOGIN))
        .await
        .expect("a response");
    let late = send(slow_cancel, None, policy, UNSAFE, request(LOGIN))
        .await
        .expect("a response");
    let reset = send(reset, None, policy, UNSAFE, request(LOGIN))
        .await
        .expect("a response");

    assert_eq!(code_of(&raced), Code::DeadlineExceeded);
    assert_eq!(code_of(&late), Code::DeadlineExceeded);
    assert_eq!(code_of(&reset), Code::DeadlineExceeded);
}

#[tokio::test]
async fn a_cancelled_before_the_deadline_stays_cancelled() {
    let wire = Wire::new([Answer::Status(Code::Cancelled)]);

    let response = call(&wire, UNSAFE, request(LOGIN)).await;

    assert_eq!(code_of(&response), Code::Cancelled);
}
