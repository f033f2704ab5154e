#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const ORDER: &str = "/mandi.order.v1.OrderService/CreateOrder";

fn spec(json: &str) -> FaultSpec {
    FaultSpec::from_json(json).unwrap()
}

#[test]
fn nothing_is_injected_by_default() {
    let faults = Faults::default();
    assert!(faults.spec().is_off());
    for _ in 0..100 {
        assert!(!faults.decline_payment());
        assert!(!faults.fail_publish());
        assert_eq!(faults.for_call(ORDER), (None, None));
    }
    assert_eq!(faults.injected(), Injected::default());
}

#[test]
fn matchers_take_everything_a_service_or_one_method_and_never_health() {
    let all = MethodMatch::parse("*").unwrap();
    assert!(all.matches(ORDER));
    assert!(!all.matches("/grpc.health.v1.Health/Check"));
    let service = MethodMatch::parse("mandi.order.v1.OrderService").unwrap();
    assert!(service.matches(ORDER));
    assert!(!service.matches("/mandi.order.v1.OrderServiceX/CreateOrder"));
    let method = MethodMatch::parse(ORDER).unwrap();
    assert!(method.matches(ORDER));
    assert!(!method.matches("/mandi.order.v1.OrderService/GetOrder"));
    for bad in [
        "",
        "/x",
        "/mandi.order.v1.OrderService/",
        "grpc.health.v1.Health",
    ] {
        assert!(MethodMatch::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn bad_specs_are_refused_with_what_is_wrong() {
    let cases = [
        (
            r#"{"payment_decline_rate": 1.5}"#,
            "payment_decline_rate 1.5",
        ),
        (
            r#"{"errors": [{"method": "*", "code": "NOPE", "rate": 1}]}"#,
            "\"NOPE\" is not a gRPC code",
        ),
        (
            r#"{"errors": [{"method": "*", "code": "OK", "rate": 1}]}"#,
            "\"OK\" is not a gRPC code",
        ),
        (
            r#"{"latency": [{"method": "*", "millis": 61000}]}"#,
            "above the limit",
        ),
        (
            r#"{"latency": [{"method": "nope", "millis": 5}]}"#,
            "\"nope\"",
        ),
        (r#"{"publish_failure": 1}"#, "unknown field"),
    ];
    for (json, expected) in cases {
        let err = FaultSpec::from_json(json).unwrap_err();
        assert!(err.contains(expected), "{json}: {err}");
    }
}

#[test]
fn a_set_spec_delays_and_fails_matching_calls_and_counts_them() {
    let faults = Faults::default();
    faults
        .set(spec(
            r#"{"latency": [{"method": "mandi.order.v1.OrderService", "millis": 250}],
                "errors": [{"method": "/mandi.order.v1.OrderService/CreateOrder", "code": "unavailable", "rate": 1.0}],
                "payment_decline_rate": 1.0, "publish_failure_rate": 1.0}"#,
        ))
        .unwrap();

    assert_eq!(
        faults.for_call(ORDER),
        (
            Some(Duration::from_millis(250)),
            Some(tonic::Code::Unavailable)
        )
    );
    assert_eq!(
        faults.for_call("/mandi.order.v1.OrderService/GetOrder"),
        (Some(Duration::from_millis(250)), None)
    );
    assert_eq!(
        faults.for_call("/mandi.payment.v1.PaymentService/Authorize"),
        (None, None)
    );
    assert!(faults.decline_payment());
    assert!(faults.fail_publish());
    assert_eq!(
        faults.injected(),
        Injected {
            latency: 2,
            errors: 1,
            declines: 1,
            publish_failures: 1
        }
    );

    faults.set(FaultSpec::default()).unwrap();
    assert_eq!(faults.for_call(ORDER), (None, None));
}

#[test]
fn a_rate_applies_to_about_that_share_of_calls() {
    let faults = Faults::default();
    faults
        .set(spec(r#"{"payment_decline_rate": 0.2}"#))
        .unwrap();
    let declined = (0..10_000).filter(|_| faults.decline_payment()).count();
    assert!((1_600..=2_400).contains(&declined), "{declined} of 10000");
}

#[test]
fn the_prod_profile_refuses_faults_unless_enabled() {
    let refused = FaultsConfig::from_env(&Env::from_pairs([
        ("MANDI_PROFILE", "prod"),
        ("MANDI_FAULTS__SPEC", r#"{"payment_decline_rate": 0.5}"#),
    ]))
    .unwrap_err()
    .to_string();
    assert!(refused.starts_with("MANDI_FAULTS__SPEC="), "{refused}");
    assert!(
        refused.contains("refused in the prod profile; set MANDI_FAULTS__ENABLE=true"),
        "{refused}"
    );

    let prod = FaultsConfig::from_env(&Env::from_pairs([("MANDI_PROFILE", "prod")])).unwrap();
    assert!(!prod.allowed);
    let faults = Faults::default();
    faults.configure(&prod).unwrap();
    let err = faults
        .set(spec(r#"{"publish_failure_rate": 1.0}"#))
        .unwrap_err();
    assert!(matches!(err, FaultsError::Refused(_)), "{err}");
    assert!(!faults.fail_publish());
    // Off is always allowed.
    faults.set(FaultSpec::default()).unwrap();

    let enabled = FaultsConfig::from_env(&Env::from_pairs([
        ("MANDI_PROFILE", "prod"),
        ("MANDI_FAULTS__ENABLE", "true"),
        ("MANDI_FAULTS__SPEC", r#"{"publish_failure_rate": 1.0}"#),
    ]))
    .unwrap();
    faults.configure(&enabled).unwrap();
    assert!(faults.fail_publish());
}

#[test]
fn a_bad_spec_in_the_environment_names_its_variable() {
    let err = FaultsConfig::from_env(&Env::from_pairs([(
        "MANDI_FAULTS__SPEC",
        r#"{"errors": [{"method": "*", "code": "SOMETIMES", "rate": 1}]}"#,
    )]))
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("MANDI_FAULTS__SPEC="), "{err}");
    assert!(err.contains("SOMETIMES"), "{err}");
    let dev = FaultsConfig::from_env(&Env::default()).unwrap();
    assert!(dev.allowed && dev.initial.is_none());
}

#[tokio::test]
async fn the_layer_answers_an_injected_error_without_calling_the_handler() {
    use tower::ServiceExt as _;
    // The only test that touches the process-wide registry, on a method no other uses.
    const PATH: &str = "/mandi.faults.v1.TestService/Break";
    global()
        .set(spec(
            r#"{"errors": [{"method": "/mandi.faults.v1.TestService/Break", "code": "DEADLINE_EXCEEDED", "rate": 1}],
                "latency": [{"method": "/mandi.faults.v1.TestService/Break", "millis": 50}]}"#,
        ))
        .unwrap();
    let called = Arc::new(AtomicU64::new(0));
    let seen = called.clone();
    let handler = tower::service_fn(move |_: Request<Body>| {
        seen.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, std::convert::Infallible>(Response::new(Body::empty())) }
    });
    let service = FaultLayer.layer(handler);

    let started = std::time::Instant::now();
    let response = service
        .clone()
        .oneshot(Request::post(PATH).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(response.headers()["grpc-status"], "4");
    assert_eq!(called.load(Ordering::SeqCst), 0);

    let passed = service
        .oneshot(
            Request::post("/mandi.faults.v1.TestService/Other")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(passed.headers().get("grpc-status").is_none());
    assert_eq!(called.load(Ordering::SeqCst), 1);
    global().set(FaultSpec::default()).unwrap();
}
