//! The server around the services: reflection through grpcurl (the README's own lines),
//! health, metrics, the JWKS document, grpc-web with CORS, shutdown and bad configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::identity::v1::GetJwksRequest;
use mandi_testkit::ServerProcess;
use mandi_testkit::http::request;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn readme_grpcurl_block() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- grpcurl-check:start -->")
        .expect("README marks its grpcurl block");
    let end = readme.find("<!-- grpcurl-check:end -->").unwrap();
    readme[start..end]
        .lines()
        .filter(|line| !line.starts_with("```") && !line.starts_with("<!--"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_grpcurl_lines_list_describe_register_and_login() {
    let grpcurl = repo_root().join("tools/bin/grpcurl");
    assert!(
        grpcurl.exists(),
        "{} is missing: run `make tools`",
        grpcurl.display()
    );
    let server = ServerProcess::start("all", &[]);
    let script = readme_grpcurl_block().replace("127.0.0.1:50051", &server.grpc.to_string());
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .current_dir(repo_root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "README grpcurl lines failed:\n{stdout}\n{stderr}"
    );
    for expected in [
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
        "mandi.identity.v1.IdentityService",
        // describe shows the contract's comments
        "Creates a user account.",
        "\"accessToken\"",
        "\"email\": \"asha@example.com\"",
        "\"role\": \"ROLE_CUSTOMER\"",
        "mandi.catalog.v1.CatalogService",
        "\"slug\": \"fruits\"",
        "\"displayName\": \"Alphonso Mango\"",
        "Yelakki Banana (Organic)",
        "mandi.profile.v1.ProfileService",
        "mandi.cart.v1.CartService",
        "mandi.order.v1.OrderService",
        "mandi.checkout.v1.CheckoutService",
        // a guest with no cart sees an empty, verified one
        "\"verified\": true",
        "mandi.shipping.v1.ShippingService",
        // delivery slots and a quote for an address in the demo zones
        "blr-central-",
        "\"serviceable\": true",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[tokio::test]
async fn health_reports_serving_for_each_service() {
    let server = ServerProcess::start("all", &[]);
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "mandi.identity.v1.IdentityService"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}

#[tokio::test]
async fn the_admin_port_serves_metrics_and_the_same_keys_as_get_jwks() {
    let server = ServerProcess::start("all", &[]);
    let mandi = Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap();
    let keys = mandi
        .identity()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;

    let jwks = request(server.admin, "GET", "/.well-known/jwks.json", &[], b"").await;
    assert_eq!(jwks.status, 200);
    let document: serde_json::Value = serde_json::from_slice(&jwks.body).unwrap();
    let published = &document["keys"][0];
    assert_eq!(published["kid"], keys[0].kid.as_str());
    assert_eq!(published["x"], keys[0].x.as_str());
    assert_eq!(published["alg"], "EdDSA");

    let metrics = request(server.admin, "GET", "/metrics", &[], b"")
        .await
        .text();
    assert!(
        metrics.contains(
            r#"mandi_grpc_server_handled_total{service="mandi.identity.v1.IdentityService",method="GetJwks",code="OK"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("mandi_grpc_server_handling_seconds_bucket"),
        "{metrics}"
    );
}

#[tokio::test]
async fn browsers_call_through_grpc_web_from_an_allowed_origin() {
    let server = ServerProcess::start("all", &[]);
    let path = "/mandi.identity.v1.IdentityService/GetJwks";
    let preflight = request(
        server.grpc,
        "OPTIONS",
        path,
        &[
            ("origin", "http://localhost:8080"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-grpc-web,authorization",
            ),
        ],
        b"",
    )
    .await;
    assert!(preflight.status < 300, "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://localhost:8080")
    );

    // An empty GetJwksRequest in one grpc-web frame: flag 0, length 0.
    let call = request(
        server.grpc,
        "POST",
        path,
        &[
            ("origin", "http://localhost:8080"),
            ("content-type", "application/grpc-web+proto"),
            ("x-grpc-web", "1"),
        ],
        &[0, 0, 0, 0, 0],
    )
    .await;
    assert_eq!(call.status, 200, "{call:?}");
    assert_eq!(
        call.header("access-control-allow-origin"),
        Some("http://localhost:8080")
    );
    assert!(
        call.text().contains("grpc-status:0"),
        "trailer frame: {:?}",
        call.text()
    );
    assert!(
        call.text().contains("Ed25519"),
        "the key set is in the data frame"
    );

    let foreign = request(
        server.grpc,
        "OPTIONS",
        path,
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    )
    .await;
    assert_eq!(foreign.header("access-control-allow-origin"), None);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let server = ServerProcess::start("all", &[("MANDI_LOG__FILTER", "info")]);
    let log_before = server.log();
    assert!(log_before.contains("mandi-server started"), "{log_before}");
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn bad_configuration_exits_64_naming_the_variable() {
    for (env, expected) in [
        (
            ("MANDI_SERVER__REQUEST_TIMEOUT", "soon"),
            "MANDI_SERVER__REQUEST_TIMEOUT=\"soon\"",
        ),
        (
            ("MANDI_TARGET", "identity"),
            "MANDI_IDENTITY__DATABASE_URL must be set",
        ),
        (("MANDI_TARGET", "warp-drive"), "unknown target"),
    ] {
        let output = Command::new(ServerProcess::binary())
            .env(env.0, env.1)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{env:?}: {stderr}");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
}

async fn health_status(server: &ServerProcess, service: &str) -> i32 {
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status
}

#[tokio::test]
async fn on_sigterm_health_turns_not_serving_before_the_server_closes() {
    let server = ServerProcess::start("all", &[("MANDI_SERVER__DRAIN_DELAY", "2s")]);
    let service = "mandi.identity.v1.IdentityService";
    assert_eq!(
        health_status(&server, service).await,
        ServingStatus::Serving as i32
    );
    server.send_sigterm();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        health_status(&server, service).await,
        ServingStatus::NotServing as i32
    );
    assert_eq!(
        health_status(&server, "").await,
        ServingStatus::NotServing as i32
    );
    let ready = request(server.admin, "GET", "/readyz", &[], b"").await;
    assert_eq!(ready.status, 503);
    let status = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn every_response_carries_the_request_id_given_or_a_new_one() {
    let server = ServerProcess::start("all", &[]);
    let path = "/mandi.identity.v1.IdentityService/GetJwks";
    let grpc_web = [
        ("content-type", "application/grpc-web+proto"),
        ("x-grpc-web", "1"),
    ];
    let mut with_id = grpc_web.to_vec();
    with_id.push(("x-request-id", "req-from-client-42"));
    let echoed = request(server.grpc, "POST", path, &with_id, &[0, 0, 0, 0, 0]).await;
    assert_eq!(echoed.header("x-request-id"), Some("req-from-client-42"));
    let fresh = request(server.grpc, "POST", path, &grpc_web, &[0, 0, 0, 0, 0]).await;
    let id = fresh.header("x-request-id").expect("a request id is made");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn calls_beyond_the_concurrency_limit_are_shed_with_unavailable() {
    // One call at a time, and logins made slow by a heavy password hash.
    let server = ServerProcess::start(
        "all",
        &[
            ("MANDI_SERVER__CONCURRENCY_LIMIT", "1"),
            ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "65536"),
            ("MANDI_IDENTITY__ARGON2_ITERATIONS", "4"),
        ],
    );
    let mandi = Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap();
    let logins = (0..6).map(|i| {
        let mandi = mandi.clone();
        async move {
            mandi
                .identity()
                .login(mandi_sdk::proto::mandi::identity::v1::LoginRequest {
                    email: format!("nobody{i}@example.com"),
                    password: "whatever you like".into(),
                })
                .await
                .unwrap_err()
                .code()
        }
    });
    let codes = futures::future::join_all(logins).await;
    assert!(codes.contains(&tonic::Code::Unavailable), "{codes:?}");
    assert!(codes.contains(&tonic::Code::Unauthenticated), "{codes:?}");
    let metrics = request(server.admin, "GET", "/metrics", &[], b"")
        .await
        .text();
    assert!(
        metrics.contains(r#"method="Login",code="UNAVAILABLE"}"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_config_file_sets_what_the_environment_leaves_unset() {
    let file = std::env::temp_dir().join(format!("mandi-{}.env", uuid::Uuid::now_v7().simple()));
    std::fs::write(
        &file,
        "# identity settings\nMANDI_IDENTITY__ACCESS_TTL=2m\nMANDI_IDENTITY__ARGON2_MEMORY_KIB=1024\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let server = ServerProcess::start("all", &[("MANDI_CONFIG_FILE", path.as_str())]);
    let mandi = Mandi::builder()
        .endpoint(server.url())
        .connect_lazy()
        .unwrap();
    let login = mandi_testkit::accounts::sign_up(&mandi, "asha@example.com").await;
    assert_eq!(login.expires_in, 120);

    std::fs::write(&file, "MANDI_SERVER__CONCURRENCY_LIMIT=lots\n").unwrap();
    let output = Command::new(ServerProcess::binary())
        .env("MANDI_CONFIG_FILE", &path)
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("MANDI_SERVER__CONCURRENCY_LIMIT=\"lots\""),
        "{stderr}"
    );
}

#[test]
fn the_sdk_example_runs_against_a_live_server() {
    let example = ServerProcess::binary()
        .with_file_name("examples")
        .join("register_and_login");
    assert!(
        example.exists(),
        "{} is missing: run `cargo build -p mandi-sdk --examples` (make test does)",
        example.display()
    );
    let server = ServerProcess::start("all", &[("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024")]);
    let output = Command::new(example)
        .env("MANDI_ENDPOINT", server.url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("registered"), "{stdout}");
}

#[test]
fn inventory_without_catalog_must_be_told_where_catalog_is() {
    let output = Command::new(ServerProcess::binary())
        .env("MANDI_TARGET", "inventory")
        .env(
            "MANDI_INVENTORY__DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/unused",
        )
        .env("MANDI_AUTH__IDENTITY_ENDPOINT", "http://127.0.0.1:1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("MANDI_INVENTORY__CATALOG_ENDPOINT must be set"),
        "{stderr}"
    );
}

#[test]
fn checkout_alone_must_be_told_where_its_peers_are() {
    let run = |peers: &[(&str, &str)]| {
        let output = Command::new(ServerProcess::binary())
            .env("MANDI_TARGET", "checkout")
            .env(
                "MANDI_CHECKOUT__CLIENT_SECRET",
                "checkout-secret-0123456789",
            )
            .env(
                "MANDI_CHECKOUT__DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/unused",
            )
            .env("MANDI_AUTH__IDENTITY_ENDPOINT", "http://127.0.0.1:1")
            .envs(peers.iter().copied())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(64));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = run(&[("MANDI_CHECKOUT__CLIENT_SECRET", "")]);
    assert!(stderr.contains("MANDI_CHECKOUT__CLIENT_SECRET"), "{stderr}");
    // Identity defaults to MANDI_AUTH__IDENTITY_ENDPOINT; order is the first peer missing.
    let stderr = run(&[]);
    assert!(
        stderr.contains("MANDI_CHECKOUT__ORDER_ENDPOINT must be set"),
        "{stderr}"
    );
    let stderr = run(&[
        ("MANDI_CHECKOUT__ORDER_ENDPOINT", "http://127.0.0.1:1"),
        ("MANDI_CHECKOUT__INVENTORY_ENDPOINT", "http://127.0.0.1:1"),
        ("MANDI_CHECKOUT__PAYMENT_ENDPOINT", "http://127.0.0.1:1"),
        ("MANDI_CHECKOUT__CART_ENDPOINT", "http://127.0.0.1:1"),
    ]);
    assert!(
        stderr.contains("MANDI_CHECKOUT__PROFILE_ENDPOINT must be set"),
        "{stderr}"
    );
}
