//! Observability of a running `mandi-server --target=all`, checked from outside as an
//! operator's tools see it: spans exported over OTLP to a collector in the test (one
//! checkout through the gateway is one trace, from the shopper's call to the event
//! consumers), Prometheus metrics on the admin port after traffic, the Grafana dashboards
//! in `k8s/observability` asking only for metrics the server exports, and JSON log lines
//! that carry the trace and span ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::AddItemRequest;
use mandi_sdk::proto::mandi::catalog::v1::{GetProductRequest, Product};
use mandi_sdk::proto::mandi::checkout::v1::{
    Checkout, CheckoutState, StartCheckoutRequest, start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::{Address as PostalAddress, DeliveryDestination};
use mandi_sdk::proto::mandi::identity::v1::GetJwksRequest;
use mandi_sdk::proto::mandi::identity::v1::identity_service_client::IdentityServiceClient;
use mandi_sdk::proto::mandi::inventory::v1::{ReservationLine, ReserveRequest};
use mandi_sdk::proto::mandi::payment::v1::{CardDetails, PaymentMethod};
use mandi_sdk::proto::mandi::shipping::v1::ListDeliverySlotsRequest;
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::mesh::{self, ADMIN_EMAIL};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::sync::mpsc;
use uuid::Uuid;

const APPROVED: &str = "4242424242424242";
const DECLINED: &str = "4000000000000002";

// === a collector ===

/// A collector that hands every exported span to the test.
struct Collector(mpsc::UnboundedSender<Span>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for resource_spans in request.into_inner().resource_spans {
            // The resource's service.name travels on each span, for the tests to read.
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .cloned();
            for scope in resource_spans.scope_spans {
                for mut span in scope.spans {
                    span.attributes.extend(service.clone());
                    let _ = self.0.send(span);
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts a collector on a free port: its OTLP URL and the spans it receives.
async fn collector() -> (String, mpsc::UnboundedReceiver<Span>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, spans) = mpsc::unbounded_channel();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(tx)))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (format!("http://{addr}"), spans)
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|value| match value {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh W3C trace id and parent span id, as a caller outside the mesh would send them.
fn caller_context() -> (String, String, String) {
    let trace_id = Uuid::now_v7().simple().to_string();
    // The random tail of a UUIDv7: 62 random bits, never all zero.
    let parent_id = Uuid::now_v7().simple().to_string()[16..].to_owned();
    let traceparent = format!("00-{trace_id}-{parent_id}-01");
    (trace_id, parent_id, traceparent)
}

// === a shop to check out in ===

fn bengaluru() -> PostalAddress {
    PostalAddress {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: "560001".into(),
        country_code: "IN".into(),
        ..Default::default()
    }
}

/// Stocks watermelon as the admin and returns it.
async fn stocked(server: &ServerProcess) -> Product {
    let admin = mesh::client(server);
    sign_up(&admin, ADMIN_EMAIL).await;
    let product = mandi_testkit::mesh::demo_product(&admin, "watermelon", "watermelon").await;
    mesh::stock(&admin, &product.id, 10 * product.min_quantity.max(1)).await;
    product
}

/// A signed-in shopper talking to the gateway with `product` in the cart.
async fn shopper(server: &ServerProcess, email: &str, product: &Product) -> Mandi {
    let shopper = Mandi::builder()
        .endpoint(server.gateway_url())
        .connect_lazy()
        .unwrap();
    sign_up(&shopper, email).await;
    shopper
        .cart()
        .add_item(AddItemRequest {
            product_id: product.id.clone(),
            quantity: product.min_quantity.max(1),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    shopper
}

/// Checks the shopper's cart out with `card`, waiting for the outcome, in the caller's
/// trace when `traceparent` is given.
async fn check_out(
    shopper: &Mandi,
    card: &str,
    traceparent: Option<&str>,
) -> Result<Checkout, tonic::Status> {
    let slot = shopper
        .shipping()
        .list_delivery_slots(ListDeliverySlotsRequest {
            destination: Some(bengaluru()),
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
    let mut request = tonic::Request::new(StartCheckoutRequest {
        destination: Some(start_checkout_request::Destination::InlineDestination(
            DeliveryDestination {
                address: Some(bengaluru()),
                recipient_name: "Asha Rao".into(),
                recipient_phone: "+919812345678".into(),
                delivery_instructions: String::new(),
            },
        )),
        delivery_slot_id: slot.id,
        payment_method: PaymentMethod::Card as i32,
        card: Some(CardDetails {
            token: card.into(),
            exp_month: 12,
            exp_year: 2035,
        }),
        request_id: Uuid::now_v7().to_string(),
        wait: true,
        ..Default::default()
    });
    if let Some(traceparent) = traceparent {
        request
            .metadata_mut()
            .insert("traceparent", traceparent.parse().unwrap());
    }
    let response = shopper.checkout().start_checkout(request).await?;
    Ok(response.into_inner().checkout.unwrap())
}

// === traces ===

#[tokio::test]
async fn calls_are_exported_as_spans_in_the_callers_trace() {
    let (endpoint, spans) = collector().await;
    let server = ServerProcess::start("all", &[("MANDI_OTLP__ENDPOINT", endpoint.as_str())]);
    let span = traced_get_jwks(server, spans).await;
    assert_eq!(
        attribute(&span, "service.name").as_deref(),
        Some("mandi-server")
    );
}

#[tokio::test]
async fn a_server_of_one_service_exports_its_spans_under_that_services_name() {
    let (endpoint, spans) = collector().await;
    let mut env = mesh::real_identity().await;
    env.push(("MANDI_OTLP__ENDPOINT", endpoint));
    let server = mesh::start("identity", env);
    let span = traced_get_jwks(server, spans).await;
    assert_eq!(
        attribute(&span, "service.name").as_deref(),
        Some("mandi-identity")
    );
}

/// Calls GetJwks on `server` in a trace of the test's, stops the server, and returns the
/// call's span after checking it joined that trace.
async fn traced_get_jwks(server: ServerProcess, mut spans: mpsc::UnboundedReceiver<Span>) -> Span {
    let (trace_id, parent_id, traceparent) = caller_context();
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(GetJwksRequest {});
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    IdentityServiceClient::new(channel)
        .get_jwks(request)
        .await
        .unwrap();

    // Stopping the server flushes the batch exporter.
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success());

    let wanted = "mandi.identity.v1.IdentityService/GetJwks";
    let span = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let span = spans.recv().await.expect("collector open");
            if span.name == wanted {
                return span;
            }
        }
    })
    .await
    .expect("a span for the GetJwks call reached the collector");
    assert_eq!(
        hex(&span.trace_id),
        trace_id,
        "the span joins the caller's trace"
    );
    assert_eq!(
        hex(&span.parent_span_id),
        parent_id,
        "a child of the caller's span"
    );
    assert_eq!(
        attribute(&span, "rpc.method").as_deref(),
        Some("/mandi.identity.v1.IdentityService/GetJwks")
    );
    assert_eq!(
        attribute(&span, "rpc.grpc.status_code").as_deref(),
        Some("OK")
    );
    assert!(attribute(&span, "request_id").is_some());
    span
}

/// The server spans of the RPCs one card checkout makes, from the shopper's StartCheckout
/// through the saga's calls (cart, catalog, shipping, order, stock, payment) to the calls
/// event consumers make, in no particular order.
const CHECKOUT_RPCS: &[&str] = &[
    "mandi.checkout.v1.CheckoutService/StartCheckout",
    "mandi.cart.v1.CartService/GetCart",
    "mandi.catalog.v1.CatalogService/BatchGetProducts",
    "mandi.shipping.v1.ShippingService/GetShippingQuote",
    "mandi.order.v1.OrderService/CreateOrder",
    "mandi.inventory.v1.InventoryService/Reserve",
    "mandi.shipping.v1.ShippingService/ReserveSlot",
    "mandi.payment.v1.PaymentService/AuthorizePayment",
    "mandi.payment.v1.PaymentService/CapturePayment",
    "mandi.order.v1.OrderService/UpdateOrderStatus",
    "mandi.inventory.v1.InventoryService/Commit",
    "mandi.cart.v1.CartService/ClearCart",
    // notification looks the shopper up to write to them
    "mandi.identity.v1.IdentityService/GetUser",
];

/// Spans nothing but a checkout makes (the test's own setup also reads carts and products).
const ONLY_IN_A_CHECKOUT: &[&str] = &[
    "checkout.saga",
    "mandi.order.v1.OrderService/CreateOrder",
    "mandi.inventory.v1.InventoryService/Reserve",
    "mandi.shipping.v1.ShippingService/ReserveSlot",
    "mandi.payment.v1.PaymentService/AuthorizePayment",
    "mandi.payment.v1.PaymentService/CapturePayment",
    "mandi.inventory.v1.InventoryService/Commit",
    "mandi.cart.v1.CartService/ClearCart",
    "process PaymentConfirmed",
    "process OrderCreated",
];

/// The events one checkout causes, as the consumer groups that process them.
const CHECKOUT_CONSUMERS: &[(&str, &str)] = &[
    ("process PaymentConfirmed", "shipping"),
    ("process PaymentConfirmed", "notification"),
    ("process OrderCreated", "notification"),
    ("process OrderCreated", "payment"),
    ("process OrderStatusChanged", "shipping"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_checkout_through_the_gateway_is_one_trace_from_the_shopper_to_the_consumers_on_the_process_bus()
 {
    one_checkout_is_one_trace(vec![], "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_checkout_through_the_gateway_is_one_trace_from_the_shopper_to_the_consumers_over_kafka()
 {
    let brokers =
        std::env::var("MANDI_TEST_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    // Fresh groups: they also read what earlier runs left on the topics (other traces).
    let prefix = format!("telemetry-e2e-{}-", Uuid::now_v7().simple());
    one_checkout_is_one_trace(
        vec![
            ("MANDI_KAFKA__BROKERS", brokers),
            ("MANDI_KAFKA__GROUP_PREFIX", prefix.clone()),
        ],
        &prefix,
    )
    .await;
}

/// Checks one card checkout out through the gateway of a server started with `extra`
/// (whose consumer groups are named `<group_prefix><service>`) and asserts the spans it
/// exports make one trace: every span expected, all connected, none of the saga's elsewhere.
async fn one_checkout_is_one_trace(extra: Vec<(&'static str, String)>, group_prefix: &str) {
    let over_kafka = !group_prefix.is_empty();
    let (endpoint, mut spans) = collector().await;
    let mut env = vec![("MANDI_OTLP__ENDPOINT", endpoint.clone())];
    env.extend(extra);
    let server = mesh::start("all", env);
    let product = stocked(&server).await;
    let shopper = shopper(&server, "traced-shopper@example.com", &product).await;
    let (trace_id, parent_id, traceparent) = caller_context();

    let checkout = check_out(&shopper, APPROVED, Some(&traceparent))
        .await
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );

    // Spans arrive in batches; wait for the consumers' (they run after the outbox relays),
    // then stop the server so the last batch is flushed.
    let mut received: Vec<Span> = Vec::new();
    let complete = |received: &[Span]| {
        CHECKOUT_CONSUMERS.iter().all(|(name, group)| {
            received.iter().any(|s| {
                hex(&s.trace_id) == trace_id
                    && s.name == *name
                    && attribute(s, "messaging.consumer.group.name")
                        == Some(format!("{group_prefix}{group}"))
            })
        })
    };
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while !complete(&received) {
            received.push(spans.recv().await.expect("collector open"));
        }
    })
    .await;
    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success());
    while let Ok(Some(span)) = tokio::time::timeout(Duration::from_secs(2), spans.recv()).await {
        received.push(span);
    }
    let names_in = |spans: &[&Span]| -> BTreeSet<String> {
        spans
            .iter()
            .map(|s| match attribute(s, "messaging.consumer.group.name") {
                Some(group) => format!("{} [{}]", s.name, group.trim_start_matches(group_prefix)),
                None => s.name.clone(),
            })
            .collect()
    };
    let trace: Vec<&Span> = received
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    let names = names_in(&trace);
    assert!(
        waited.is_ok(),
        "the consumer spans never arrived; the trace has {names:#?}"
    );

    // Every expected span is in the caller's trace...
    for rpc in CHECKOUT_RPCS {
        assert!(
            names.contains(*rpc),
            "no {rpc} span in the trace: {names:#?}"
        );
    }
    for (name, group) in CHECKOUT_CONSUMERS {
        let wanted = format!("{name} [{group}]");
        assert!(
            names.contains(&wanted),
            "no {wanted} span in the trace: {names:#?}"
        );
    }
    assert!(names.contains("checkout.saga"), "{names:#?}");
    assert!(names.contains("outbox.publish"), "{names:#?}");
    // ...and no span of those kinds went to another trace (this server saw one checkout).
    let elsewhere: Vec<&Span> = received
        .iter()
        .filter(|s| hex(&s.trace_id) != trace_id)
        .filter(|s| ONLY_IN_A_CHECKOUT.contains(&s.name.as_str()))
        // Over Kafka, fresh groups also consume earlier runs' events, in their own traces.
        .filter(|s| !(over_kafka && s.name.starts_with("process ")))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "spans of the checkout outside its trace: {:#?}",
        names_in(&elsewhere)
    );

    // The gateway passed the caller's traceparent on as it was: StartCheckout's server span
    // is the child of the caller's span, and every other span hangs off a span of the trace.
    let start = trace.iter().find(|s| s.name == CHECKOUT_RPCS[0]).unwrap();
    assert_eq!(hex(&start.parent_span_id), parent_id);
    let ids: BTreeSet<String> = trace.iter().map(|s| hex(&s.span_id)).collect();
    for span in &trace {
        let parent = hex(&span.parent_span_id);
        assert!(
            parent == parent_id || ids.contains(&parent),
            "{} hangs off a span that is not in the trace: {names:#?}",
            span.name
        );
    }
    println!("the checkout's trace: {names:#?}");
}

// === metrics ===

/// One sample of the Prometheus text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

fn parse_samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a value after the series");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').expect("label=value");
                    (key.to_owned(), value.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().expect("a number"),
            }
        })
        .collect()
}

/// The sum of the samples named `name` whose labels include `labels`.
fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(server: &ServerProcess) -> String {
    let response = mandi_testkit::http::request(server.admin, "GET", "/metrics", &[], b"").await;
    assert_eq!(response.status, 200);
    String::from_utf8(response.body).unwrap()
}

/// Traffic that touches every metric family: a card checkout that completes and one that
/// is declined, a reservation of more than is in stock, and product reads. Returns
/// the server's metrics once shipping has consumed the payment.
async fn traffic(server: &ServerProcess) -> String {
    let product = stocked(server).await;
    let paying = shopper(server, "paying-shopper@example.com", &product).await;
    let declined = shopper(server, "declined-shopper@example.com", &product).await;

    let done = check_out(&paying, APPROVED, None).await.unwrap();
    assert_eq!(done.state, CheckoutState::Completed as i32, "{done:?}");
    let refused = check_out(&declined, DECLINED, None).await.unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    // A reservation of more than is in stock, as the checkout service would ask for it.
    let short = mesh::checkout(server)
        .await
        .inventory()
        .reserve(ReserveRequest {
            order_id: Uuid::now_v7().to_string(),
            lines: vec![ReservationLine {
                product_id: product.id.clone(),
                quantity: 1_000_000,
            }],
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(short.code(), tonic::Code::FailedPrecondition, "{short:?}");
    // The same product twice (the second read at least comes from the cache), and one the
    // cache cannot have.
    for _ in 0..2 {
        paying
            .catalog()
            .get_product(GetProductRequest {
                product_id: product.id.clone(),
            })
            .await
            .unwrap();
    }
    let unknown = paying
        .catalog()
        .get_product(GetProductRequest {
            product_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);

    // Consumers run after the outbox relays: wait until shipping has taken the payment.
    let consumed = [
        ("group", "shipping"),
        ("event_type", "mandi.events.v1.PaymentConfirmed"),
        ("result", "handled"),
    ];
    for _ in 0..100 {
        let text = scrape(server).await;
        if sum(
            &parse_samples(&text),
            "mandi_events_consumed_total",
            &consumed,
        ) >= 1.0
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "shipping never consumed PaymentConfirmed:\n{}",
        scrape(server).await
    );
}

#[tokio::test]
async fn after_checkouts_the_metrics_show_calls_sagas_outbox_consumers_reservations_and_cache() {
    let server = mesh::start("all", vec![]);
    let samples = parse_samples(&traffic(&server).await);
    let at = |name: &str, labels: &[(&str, &str)]| sum(&samples, name, labels);

    // RED per method: calls by code, and their durations.
    let start = [
        ("service", "mandi.checkout.v1.CheckoutService"),
        ("method", "StartCheckout"),
    ];
    let handled = "mandi_grpc_server_handled_total";
    assert_eq!(at(handled, &[start[0], start[1], ("code", "OK")]), 1.0);
    assert_eq!(
        at(
            handled,
            &[start[0], start[1], ("code", "FAILED_PRECONDITION")]
        ),
        1.0,
        "the declined checkout"
    );
    assert_eq!(at("mandi_grpc_server_handling_seconds_count", &start), 2.0);
    assert!(at("mandi_grpc_server_handling_seconds_sum", &start) > 0.0);
    let reserve = [
        ("service", "mandi.inventory.v1.InventoryService"),
        ("method", "Reserve"),
    ];
    assert_eq!(at(handled, &[reserve[0], reserve[1], ("code", "OK")]), 2.0);
    assert_eq!(
        at(
            handled,
            &[reserve[0], reserve[1], ("code", "FAILED_PRECONDITION")]
        ),
        1.0,
        "the reservation of more than is in stock"
    );

    // Saga outcomes and the funnel.
    assert_eq!(
        at(
            "mandi_checkout_saga_outcomes_total",
            &[("outcome", "completed")]
        ),
        1.0
    );
    assert_eq!(
        at(
            "mandi_checkout_saga_outcomes_total",
            &[("outcome", "failed"), ("reason", "PaymentDeclined")]
        ),
        1.0
    );
    for step in ["create_order", "reserve", "reserve_slot"] {
        assert_eq!(
            at(
                "mandi_checkout_saga_steps_total",
                &[("step", step), ("result", "done")]
            ),
            2.0,
            "{step} was done by both checkouts"
        );
    }
    for step in ["authorize", "capture", "commit"] {
        assert_eq!(
            at(
                "mandi_checkout_saga_steps_total",
                &[("step", step), ("result", "done")]
            ),
            1.0,
            "{step}: only the approved card got past authorize"
        );
    }

    // Outbox: order and payment published, and nothing is left behind.
    for producer in ["order", "payment"] {
        let by = [("producer", producer)];
        let published = at("mandi_outbox_published_total", &by);
        assert!(published >= 1.0, "{producer} published {published}");
        assert_eq!(at("mandi_outbox_relay_delay_seconds_count", &by), published);
        assert!(
            samples
                .iter()
                .any(|s| s.name == "mandi_outbox_oldest_pending_age_seconds"
                    && s.labels.get("producer").map(String::as_str) == Some(producer)
                    && (0.0..60.0).contains(&s.value)),
            "{producer}'s outbox age is reported"
        );
        assert_eq!(at("mandi_outbox_publish_failures_total", &by), 0.0);
    }

    // Consumers: what each group took, how late, and how far behind it is.
    for group in ["shipping", "notification"] {
        let by = [("group", group)];
        assert!(
            at(
                "mandi_events_consumed_total",
                &[by[0], ("event_type", "mandi.events.v1.PaymentConfirmed")]
            ) >= 1.0,
            "{group} consumed PaymentConfirmed"
        );
        assert!(at("mandi_event_consume_delay_seconds_count", &by) >= 1.0);
        assert!(
            samples.iter().any(|s| s.name == "mandi_consumer_lag_events"
                && s.labels.get("group").map(String::as_str) == Some(group)
                && s.value >= 0.0),
            "{group}'s lag is reported"
        );
    }

    // Reservations: the two checkouts' holds, and the refused one.
    assert_eq!(
        at(
            "mandi_inventory_reservations_total",
            &[("result", "reserved")]
        ),
        2.0
    );
    assert_eq!(
        at(
            "mandi_inventory_reservations_total",
            &[("result", "insufficient_stock")]
        ),
        1.0
    );

    // Cache: a product read again was a hit; the unknown one a miss.
    let product_cache = |result| {
        at(
            "mandi_catalog_cache_lookups_total",
            &[("cache", "product"), ("result", result)],
        )
    };
    assert!(product_cache("hit") >= 1.0, "a product cache hit");
    assert!(product_cache("miss") >= 1.0, "a product cache miss");
}

// === dashboards ===

/// Every `expr` in a Grafana dashboard's JSON, wherever it is nested.
fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The metric names a PromQL expression reads: identifiers that start with `mandi_`.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("mandi_") {
        let preceded = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        if !preceded {
            names.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The sample names a server's `/metrics` can carry: from each `# TYPE` line, with the
/// suffixes its type adds.
fn exported_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
        match kind {
            "counter" => {
                names.insert(format!("{name}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

#[tokio::test]
async fn the_dashboards_ask_only_for_metrics_the_server_exports() {
    // A family is listed once it has a series: traffic makes them all.
    let server = mesh::start("all", vec![]);
    let exported = exported_names(&traffic(&server).await);
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../k8s/observability/dashboards"
    );
    let mut dashboards = 0;
    let mut queried = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        dashboards += 1;
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let mut found = Vec::new();
        exprs(&json, &mut found);
        assert!(!found.is_empty(), "{} has no queries", path.display());
        for expr in found {
            let names = metric_names(&expr);
            assert!(
                !names.is_empty(),
                "{}: {expr} reads no mandi metric",
                path.display()
            );
            for name in names {
                assert!(
                    exported.contains(&name),
                    "{}: {name} (in {expr}) is not exported; the server has {exported:#?}",
                    path.display()
                );
                queried.insert(name);
            }
        }
    }
    assert_eq!(dashboards, 2, "the RED overview and the checkout funnel");
    // The dashboards between them show every family the brief asks for.
    for wanted in [
        "mandi_grpc_server_handled_total",
        "mandi_grpc_server_handling_seconds_bucket",
        "mandi_checkout_saga_outcomes_total",
        "mandi_checkout_saga_steps_total",
        "mandi_outbox_oldest_pending_age_seconds",
        "mandi_consumer_lag_events",
        "mandi_inventory_reservations_total",
        "mandi_catalog_cache_lookups_total",
    ] {
        assert!(queried.contains(wanted), "no panel shows {wanted}");
    }
}

// === logs ===

#[tokio::test]
async fn json_log_lines_inside_a_call_carry_its_trace_and_span_ids() {
    let server = ServerProcess::start(
        "all",
        &[("MANDI_LOG__FORMAT", "json"), ("MANDI_LOG__FILTER", "info")],
    );
    let (trace_id, _, traceparent) = caller_context();
    let channel = tonic::transport::Endpoint::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(GetJwksRequest {});
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    IdentityServiceClient::new(channel)
        .get_jwks(request)
        .await
        .unwrap();
    // The line is written as the call ends; give the writer a moment.
    let mut log = String::new();
    for _ in 0..50 {
        log = server.log();
        if log.contains(&trace_id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut in_spans = 0;
    let mut ours = Vec::new();
    for line in log.lines() {
        let json: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        // Lines outside every span (start-up, shutdown) belong to no trace.
        if json.get("span").is_none() {
            continue;
        }
        in_spans += 1;
        let id = |key: &str| {
            json.get(key)
                .and_then(serde_json::Value::as_str)
                .unwrap_or_else(|| panic!("no {key} in a line written in a span: {line}"))
                .to_owned()
        };
        let (trace, span) = (id("trace_id"), id("span_id"));
        assert!(
            trace.len() == 32 && span.len() == 16,
            "W3C-sized ids in {line}"
        );
        if trace == trace_id {
            ours.push(json);
        }
    }
    assert!(in_spans > 0, "no log line inside a span:\n{log}");
    let finished = ours
        .iter()
        .find(|line| line["fields"]["message"] == "call finished")
        .unwrap_or_else(|| panic!("no line of the call in its trace:\n{log}"));
    assert_eq!(
        finished["span"]["rpc.method"],
        "/mandi.identity.v1.IdentityService/GetJwks"
    );
}
