//! The gateway of `mandi-server --target=all`, as a browser and an app reach it: CORS
//! preflight, grpc-web in binary and text, a server stream (a checkout's progress)
//! through grpc-web, plain gRPC over h2c, the edge refusing internal methods, rate limits
//! in Redis with retry info, the size limit, and the storefront's files.
//!
//! grpc-web frames are built by hand here (1 flag byte, 4-byte big-endian length, the
//! message; flag 0x80 marks the trailers frame) so the tests check the wire format
//! browsers send, not a client library's idea of it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::AddItemRequest;
use mandi_sdk::proto::mandi::catalog::v1::{
    ListCategoriesRequest, ListCategoriesResponse, SearchProductsRequest,
};
use mandi_sdk::proto::mandi::checkout::v1::{
    CheckoutState, StartCheckoutRequest, WatchCheckoutRequest, WatchCheckoutResponse,
    start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::{Address as PostalAddress, DeliveryDestination};
use mandi_sdk::proto::mandi::inventory::v1::{
    GetAvailabilityRequest, GetAvailabilityResponse, ReserveRequest,
};
use mandi_sdk::proto::mandi::payment::v1::{CardDetails, PaymentMethod};
use mandi_sdk::proto::mandi::shipping::v1::ListDeliverySlotsRequest;
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::http::{HttpResponse, request};
use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

const ORIGIN: &str = "http://127.0.0.1:8080";
const APPROVED: &str = "4242424242424242";

fn start(extra: Vec<(&'static str, String)>) -> ServerProcess {
    mandi_testkit::mesh::start("all", extra)
}

fn gateway(server: &ServerProcess) -> SocketAddr {
    server.gateway.expect("--target=all runs the gateway")
}

/// An SDK client speaking plain gRPC (HTTP/2 without TLS) to the gateway.
fn through_gateway(server: &ServerProcess) -> Mandi {
    Mandi::builder()
        .endpoint(server.gateway_url())
        .connect_lazy()
        .unwrap()
}

// === grpc-web by hand ===

fn frame(message: &impl prost::Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&body);
    framed
}

/// A grpc-web answer: its messages and its status (from the trailers frame, or from the
/// headers of a trailers-only answer).
struct WebReply {
    http: HttpResponse,
    messages: Vec<Vec<u8>>,
    trailers: Vec<(String, String)>,
}

impl WebReply {
    fn status(&self) -> tonic::Status {
        let mut map = http::HeaderMap::new();
        for (name, value) in self.http.headers.iter().chain(self.trailers.iter()) {
            if name.starts_with("grpc-") {
                map.insert(
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
        }
        tonic::Status::from_header_map(&map).expect("a grpc-status in the trailers or headers")
    }

    fn code(&self) -> Code {
        self.status().code()
    }
}

fn split_frames(mut body: &[u8]) -> (Vec<Vec<u8>>, Vec<(String, String)>) {
    let (mut messages, mut trailers) = (Vec::new(), Vec::new());
    while body.len() >= 5 {
        let flag = body[0];
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let payload = &body[5..5 + length];
        if flag & 0x80 != 0 {
            for line in String::from_utf8_lossy(payload).split("\r\n") {
                if let Some((name, value)) = line.split_once(':') {
                    trailers.push((name.trim().to_lowercase(), value.trim().to_owned()));
                }
            }
        } else {
            messages.push(payload.to_vec());
        }
        body = &body[5 + length..];
    }
    (messages, trailers)
}

/// grpc-web-text answers are base64 per written chunk, each padded: decode piece by piece.
fn decode_text(text: &[u8]) -> Vec<u8> {
    let text: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, group) in text.chunks(4).enumerate() {
        if group.contains(&b'=') {
            out.extend(STANDARD.decode(&text[start..(i + 1) * 4]).unwrap());
            start = (i + 1) * 4;
        }
    }
    if start < text.len() {
        out.extend(STANDARD.decode(&text[start..]).unwrap());
    }
    out
}

async fn grpc_web(
    addr: SocketAddr,
    path: &str,
    message: &impl prost::Message,
    text: bool,
    token: Option<&str>,
) -> WebReply {
    let framed = frame(message);
    let (content_type, body) = if text {
        (
            "application/grpc-web-text",
            STANDARD.encode(&framed).into_bytes(),
        )
    } else {
        ("application/grpc-web+proto", framed)
    };
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("content-type", content_type),
        ("accept", content_type),
        ("x-grpc-web", "1"),
        ("origin", ORIGIN),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    let http = request(addr, "POST", path, &headers, &body).await;
    assert_eq!(http.status, 200, "{path}: {}", http.text());
    let raw = if text {
        decode_text(&http.body)
    } else {
        http.body.clone()
    };
    let (messages, trailers) = split_frames(&raw);
    WebReply {
        http,
        messages,
        trailers,
    }
}

// === tests ===

#[tokio::test]
async fn a_cors_preflight_allows_the_storefront_and_exposes_the_grpc_status() {
    let server = start(vec![]);
    let preflight = request(
        gateway(&server),
        "OPTIONS",
        "/mandi.catalog.v1.CatalogService/SearchProducts",
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-grpc-web,authorization",
            ),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 200);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(ORIGIN)
    );
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("x-grpc-web") && allowed.contains("authorization"));

    // The answer to the call itself lets the page read grpc-status and grpc-message,
    // with one allow-origin (the services' own CORS never doubles it).
    let reply = grpc_web(
        gateway(&server),
        "/mandi.catalog.v1.CatalogService/ListCategories",
        &ListCategoriesRequest::default(),
        false,
        None,
    )
    .await;
    let exposed = reply.http.header("access-control-expose-headers").unwrap();
    assert!(exposed.contains("grpc-status") && exposed.contains("grpc-message"));
    let origins: Vec<_> = reply
        .http
        .headers
        .iter()
        .filter(|(n, _)| n == "access-control-allow-origin")
        .collect();
    assert_eq!(origins.len(), 1, "{:?}", reply.http.headers);

    let stranger = request(
        gateway(&server),
        "OPTIONS",
        "/mandi.catalog.v1.CatalogService/SearchProducts",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    )
    .await;
    assert_eq!(stranger.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn grpc_web_binary_and_text_calls_reach_the_services() {
    let server = start(vec![]);
    for text in [false, true] {
        let reply = grpc_web(
            gateway(&server),
            "/mandi.catalog.v1.CatalogService/ListCategories",
            &ListCategoriesRequest::default(),
            text,
            None,
        )
        .await;
        assert_eq!(reply.code(), Code::Ok, "text={text}: {:?}", reply.status());
        assert_eq!(reply.messages.len(), 1);
        let categories = ListCategoriesResponse::decode(reply.messages[0].as_slice()).unwrap();
        assert!(
            categories.categories.iter().any(|c| c.slug == "fruits"),
            "text={text}: {categories:?}"
        );
        let content_type = reply.http.header("content-type").unwrap();
        assert!(content_type.starts_with(if text {
            "application/grpc-web-text"
        } else {
            "application/grpc-web"
        }));
    }

    // A service's own error travels back in the trailers, field named.
    let bad = grpc_web(
        gateway(&server),
        "/mandi.inventory.v1.InventoryService/GetAvailability",
        &GetAvailabilityRequest {
            product_id: "not-a-uuid".into(),
        },
        false,
        None,
    )
    .await;
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.status().message().contains("product_id"),
        "{:?}",
        bad.status()
    );
}

#[tokio::test]
async fn plain_grpc_over_h2c_goes_through_the_same_port() {
    let server = start(vec![]);
    let mandi = through_gateway(&server);
    sign_up(&mandi, "h2c@example.com").await;
    let products = mandi
        .catalog()
        .search_products(SearchProductsRequest {
            query: "alphonso".into(),
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .products;
    assert!(products.iter().any(|p| p.slug == "alphonso-mango"));
}

#[tokio::test]
async fn internal_methods_are_refused_at_the_edge_unless_a_service_calls() {
    let server = start(vec![]);
    let reserve = ReserveRequest {
        order_id: Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let path = "/mandi.inventory.v1.InventoryService/Reserve";

    let anonymous = grpc_web(gateway(&server), path, &reserve, false, None).await;
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let shopper = mandi_testkit::mesh::client(&server);
    let login = sign_up(&shopper, "edge@example.com").await;
    let customer = grpc_web(
        gateway(&server),
        path,
        &reserve,
        false,
        Some(&login.access_token),
    )
    .await;
    let status = customer.status();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        status.get_error_details().error_info().unwrap().domain,
        "mandi.gateway"
    );

    // The checkout service's token passes the edge; inventory itself then judges the
    // (empty) request.
    let checkout = mandi_testkit::mesh::checkout(&server).await;
    let token = checkout.token_handle().get().unwrap();
    let service = grpc_web(gateway(&server), path, &reserve, false, Some(&token)).await;
    let status = service.status();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_ne!(
        status.get_error_details().error_info().unwrap().domain,
        "mandi.gateway"
    );

    // Paths outside the contracts (reflection among them) never reach a service.
    let reflection = grpc_web(
        gateway(&server),
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        &ListCategoriesRequest::default(),
        false,
        None,
    )
    .await;
    assert_eq!(reflection.code(), Code::Unimplemented);
}

#[tokio::test]
async fn the_rate_limit_in_redis_refuses_with_retry_info() {
    let (url, prefix) = mandi_testkit::redis_with_prefix().await;
    let server = start(vec![
        ("MANDI_GATEWAY__REDIS_URL", url),
        ("MANDI_GATEWAY__REDIS_PREFIX", prefix),
        ("MANDI_GATEWAY__IP_RATE_LIMIT", "3/1m".into()),
    ]);
    for _ in 0..3 {
        let ok = grpc_web(
            gateway(&server),
            "/mandi.catalog.v1.CatalogService/ListCategories",
            &ListCategoriesRequest::default(),
            false,
            None,
        )
        .await;
        assert_eq!(ok.code(), Code::Ok, "{:?}", ok.status());
    }
    let limited = grpc_web(
        gateway(&server),
        "/mandi.catalog.v1.CatalogService/ListCategories",
        &ListCategoriesRequest::default(),
        false,
        None,
    )
    .await;
    let status = limited.status();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let retry = status
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo with a delay");
    // One call's share of a minute, less the time the three calls took.
    assert!(
        retry > Duration::from_secs(15) && retry <= Duration::from_secs(20),
        "{retry:?}"
    );
    // The same limit holds for plain gRPC from the same address.
    let err = through_gateway(&server)
        .catalog()
        .list_categories(ListCategoriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn an_oversized_request_is_refused_before_any_service_sees_it() {
    let server = start(vec![("MANDI_GATEWAY__MAX_REQUEST_BYTES", "1024".into())]);
    let huge = SearchProductsRequest {
        query: "mango ".repeat(400),
        ..Default::default()
    };
    for text in [false, true] {
        let reply = grpc_web(
            gateway(&server),
            "/mandi.catalog.v1.CatalogService/SearchProducts",
            &huge,
            text,
            None,
        )
        .await;
        let status = reply.status();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("1024 bytes"), "{status:?}");
    }
}

#[tokio::test]
async fn the_storefront_is_served_at_the_root_with_app_routes_and_a_note_when_unbuilt() {
    let root = std::env::temp_dir().join(format!("mandi-web-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(root.join("assets")).unwrap();
    std::fs::write(
        root.join("index.html"),
        "<!doctype html><title>mandi</title>",
    )
    .unwrap();
    std::fs::write(root.join("assets/app-1234.js"), "export {}").unwrap();
    let server = start(vec![(
        "MANDI_GATEWAY__WEB_ROOT",
        root.to_string_lossy().into_owned(),
    )]);
    let index = request(gateway(&server), "GET", "/", &[], b"").await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains("<title>mandi</title>"));
    assert!(
        index
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let script = request(gateway(&server), "GET", "/assets/app-1234.js", &[], b"").await;
    assert_eq!(script.status, 200);
    assert!(
        script
            .header("cache-control")
            .unwrap()
            .contains("immutable")
    );
    let route = request(gateway(&server), "GET", "/orders/123", &[], b"").await;
    assert_eq!(route.status, 200);
    assert!(route.text().contains("<title>mandi</title>"));
    let missing = request(gateway(&server), "GET", "/assets/gone.js", &[], b"").await;
    assert_eq!(missing.status, 404);
    let escape = request(gateway(&server), "GET", "/../Cargo.toml", &[], b"").await;
    assert_eq!(escape.status, 404);
    drop(server);
    std::fs::remove_dir_all(&root).unwrap();

    let unbuilt = start(vec![(
        "MANDI_GATEWAY__WEB_ROOT",
        "/nonexistent/web/dist".into(),
    )]);
    let note = request(gateway(&unbuilt), "GET", "/", &[], b"").await;
    assert_eq!(note.status, 503);
    assert!(note.text().contains("make web"), "{}", note.text());
}

/// `make run`'s promise: the embedded default has demo stock, so a new shopper checks out
/// through the gateway alone, and watches the saga over grpc-web until it completes.
#[tokio::test]
async fn a_shopper_checks_out_demo_stock_and_watches_it_through_grpc_web() {
    let server = start(vec![("MANDI_INVENTORY__DEMO_STOCK", "true".into())]);
    let shopper = through_gateway(&server);
    let watermelon = mandi_testkit::mesh::demo_product(&shopper, "watermelon", "watermelon").await;

    // The demo stock arrives in the background right after start.
    let mut available = 0;
    for _ in 0..100 {
        let reply = grpc_web(
            gateway(&server),
            "/mandi.inventory.v1.InventoryService/GetAvailability",
            &GetAvailabilityRequest {
                product_id: watermelon.id.clone(),
            },
            true,
            None,
        )
        .await;
        available = GetAvailabilityResponse::decode(reply.messages[0].as_slice())
            .unwrap()
            .availability
            .unwrap()
            .available_quantity;
        if available > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(available > 0, "no demo stock of watermelon");

    let login = sign_up(&shopper, "demo-shopper@example.com").await;
    shopper
        .cart()
        .add_item(AddItemRequest {
            product_id: watermelon.id.clone(),
            quantity: watermelon.min_quantity.max(1),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    let address = PostalAddress {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: "560001".into(),
        country_code: "IN".into(),
        ..Default::default()
    };
    // Delivery slots are public, through the gateway like the rest.
    let slot = shopper
        .shipping()
        .list_delivery_slots(ListDeliverySlotsRequest {
            destination: Some(address.clone()),
            page_size: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .slots
        .into_iter()
        .find(|slot| slot.available)
        .expect("an open delivery slot in the demo zones");
    let start = StartCheckoutRequest {
        destination: Some(start_checkout_request::Destination::InlineDestination(
            DeliveryDestination {
                address: Some(address),
                recipient_name: "Asha Rao".into(),
                recipient_phone: "+919812345678".into(),
                delivery_instructions: String::new(),
            },
        )),
        delivery_slot_id: slot.id,
        payment_method: PaymentMethod::Card as i32,
        card: Some(CardDetails {
            token: APPROVED.into(),
            exp_month: 12,
            exp_year: 2035,
        }),
        request_id: Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let checkout_id = start.request_id.clone();
    shopper.checkout().start_checkout(start).await.unwrap();

    for text in [false, true] {
        let watch = grpc_web(
            gateway(&server),
            "/mandi.checkout.v1.CheckoutService/WatchCheckout",
            &WatchCheckoutRequest {
                checkout_id: checkout_id.clone(),
            },
            text,
            Some(&login.access_token),
        )
        .await;
        assert_eq!(watch.code(), Code::Ok, "{:?}", watch.status());
        let states: Vec<CheckoutState> = watch
            .messages
            .iter()
            .map(|m| {
                let message = WatchCheckoutResponse::decode(m.as_slice()).unwrap();
                CheckoutState::try_from(message.checkout.unwrap().state).unwrap()
            })
            .collect();
        assert_eq!(
            states.last(),
            Some(&CheckoutState::Completed),
            "text={text}: {states:?}"
        );
    }
}

/// `--target=gateway` as in Kubernetes: its own process, rate limits in Redis, the
/// services behind configured upstreams (here one mesh process for all of them).
#[tokio::test]
async fn a_standalone_gateway_routes_to_its_configured_upstreams() {
    let mesh = start(vec![]);
    let (url, prefix) = mandi_testkit::redis_with_prefix().await;
    let edge = ServerProcess::start(
        "gateway",
        &[
            ("MANDI_AUTH__IDENTITY_ENDPOINT", mesh.url().as_str()),
            ("MANDI_GATEWAY__DEFAULT_UPSTREAM", mesh.url().as_str()),
            ("MANDI_GATEWAY__UPSTREAM__CATALOG", mesh.url().as_str()),
            ("MANDI_GATEWAY__REDIS_URL", url.as_str()),
            ("MANDI_GATEWAY__REDIS_PREFIX", prefix.as_str()),
        ],
    );
    let reply = grpc_web(
        gateway(&edge),
        "/mandi.catalog.v1.CatalogService/ListCategories",
        &ListCategoriesRequest::default(),
        true,
        None,
    )
    .await;
    assert_eq!(reply.code(), Code::Ok, "{:?}", reply.status());
    // Tokens are verified at the edge with identity's keys, fetched over the upstream.
    let mandi = Mandi::builder()
        .endpoint(edge.gateway_url())
        .connect_lazy()
        .unwrap();
    sign_up(&mandi, "edge-shopper@example.com").await;
    let me = mandi
        .identity()
        .get_current_user(mandi_sdk::proto::mandi::identity::v1::GetCurrentUserRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(format!("{me:?}").contains("edge-shopper@example.com"));
}

#[test]
fn a_standalone_gateway_without_upstreams_or_redis_exits_64_naming_the_variable() {
    for (env, expected) in [
        (
            vec![("MANDI_AUTH__IDENTITY_ENDPOINT", "http://127.0.0.1:1")],
            "MANDI_GATEWAY__REDIS_URL",
        ),
        (
            vec![
                ("MANDI_AUTH__IDENTITY_ENDPOINT", "http://127.0.0.1:1"),
                ("MANDI_GATEWAY__REDIS_URL", "redis://127.0.0.1:6379"),
            ],
            "MANDI_GATEWAY__UPSTREAM__",
        ),
    ] {
        let output = std::process::Command::new(ServerProcess::binary())
            .arg("--target=gateway")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(64), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}
