//! Bad input at scale: 10,000 malformed and edge-case calls through the gateway of
//! `mandi-server --target=all`, covering every method of every service in the SDK's
//! descriptor set, as anonymous callers, shoppers, vendors, an operator and an internal
//! service. Messages come from `mandi_testkit::fuzz` (huge and odd strings, invalid UUIDs,
//! integer extremes, unknown enum numbers, broken timestamps and masks); a share of them
//! is then broken on the wire: truncated or garbage protobuf, wrong frame lengths, a
//! compressed flag without an encoding, two frames, no frame, bad base64, oversized bodies,
//! bad bearer tokens.
//!
//! Every answer must be a gRPC status a client can act on: OK, INVALID_ARGUMENT,
//! UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, RESOURCE_EXHAUSTED, or, for a
//! well-formed call refused because of the state it meets, FAILED_PRECONDITION and
//! ALREADY_EXISTS (random but well-formed calls do meet state: a cart already checked out,
//! an email already registered). Never INTERNAL, UNKNOWN, UNAVAILABLE or a hang, and the
//! server must still be healthy afterwards with no panic in its log.
//!
//! `MANDI_FUZZ_SEED` replays a run; `MANDI_FUZZ_CALLS` changes its size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::StreamExt as _;
use mandi_sdk::proto::mandi::identity::v1::Role;
use mandi_testkit::accounts::{sign_up, sign_up_as};
use mandi_testkit::fuzz::{self, Generator, Shape};
use mandi_testkit::http::request;
use prost::Message as _;
use rand::Rng as _;
use tonic::Code;

const ORIGIN: &str = "http://127.0.0.1:8080";
/// The gateway's size limit in this run: small, so oversized calls are cheap to make.
const MAX_REQUEST_BYTES: usize = 65_536;
const CONCURRENCY: usize = 12;

/// What one call was: which method, who called, and how its bytes were broken.
#[derive(Debug, Clone)]
struct Case {
    path: String,
    caller: usize,
    wire: Wire,
    seed: u64,
}

/// How a generated message is put on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Wire {
    /// The message as generated, grpc-web binary.
    Binary,
    /// The message as generated, grpc-web text (base64).
    Text,
    /// The encoded message cut short.
    Truncated,
    /// Random bytes for a message.
    Garbage,
    /// The encoded message with bytes flipped.
    Flipped,
    /// A frame header claiming more bytes than follow.
    ShortFrame,
    /// A frame header claiming fewer bytes than follow.
    LongFrame,
    /// The compressed flag with no grpc-encoding.
    Compressed,
    /// Two message frames for a unary call.
    TwoFrames,
    /// No frame at all.
    Empty,
    /// grpc-web text that is not base64.
    BadBase64,
    /// A message larger than the gateway's limit.
    Oversized,
    /// A well-formed message with a bearer token that is not one.
    BadToken,
}

impl Wire {
    fn pick(rng: &mut impl rand::Rng) -> Self {
        match rng.gen_range(0..100) {
            0..=44 => Self::Binary,
            45..=59 => Self::Text,
            60..=65 => Self::Truncated,
            66..=70 => Self::Garbage,
            71..=76 => Self::Flipped,
            77..=79 => Self::ShortFrame,
            80..=82 => Self::LongFrame,
            83..=85 => Self::Compressed,
            86..=88 => Self::TwoFrames,
            89..=90 => Self::Empty,
            91..=92 => Self::BadBase64,
            93..=94 => Self::Oversized,
            _ => Self::BadToken,
        }
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Status(i32),
    /// An HTTP answer without any grpc-status.
    Http(u16),
    /// No answer within the time limit.
    Hang,
}

fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut framed = vec![flag];
    framed.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(payload);
    framed
}

/// The request body and content type for `case`.
fn body(case: &Case, input: &prost_reflect::MessageDescriptor) -> (Vec<u8>, &'static str) {
    let mut generator = Generator::new(
        case.seed,
        Shape {
            huge: 20_000,
            many: 40,
            depth: 4,
        },
    );
    let message = generator.message(input, 0).encode_to_vec();
    let rng = generator.rng();
    let binary = "application/grpc-web+proto";
    let text = "application/grpc-web-text";
    let framed = match case.wire {
        Wire::Binary | Wire::Text | Wire::BadToken | Wire::BadBase64 => frame(0, &message),
        Wire::Truncated => {
            let keep = if message.is_empty() {
                0
            } else {
                rng.gen_range(0..message.len())
            };
            // A field tag whose value is missing, when the message was empty already.
            let mut cut = message[..keep].to_vec();
            if cut.is_empty() {
                cut = vec![0x0a, 0x05, b'a'];
            }
            frame(0, &cut)
        }
        Wire::Garbage => {
            let len = rng.gen_range(1..200);
            let bytes: Vec<u8> = (0..len).map(|_| rng.r#gen::<u8>()).collect();
            frame(0, &bytes)
        }
        Wire::Flipped => {
            let mut bytes = message.clone();
            if bytes.is_empty() {
                bytes = vec![0xff; 3];
            }
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..bytes.len());
                bytes[at] ^= 1 << rng.gen_range(0..8);
            }
            frame(0, &bytes)
        }
        Wire::ShortFrame => {
            let mut framed = frame(0, &message);
            let claimed = u32::try_from(message.len() + rng.gen_range(1..1000)).unwrap();
            framed[1..5].copy_from_slice(&claimed.to_be_bytes());
            framed
        }
        Wire::LongFrame => {
            let mut framed = frame(0, &message);
            framed.extend_from_slice(&[0u8; 7]);
            framed
        }
        Wire::Compressed => frame(1, &message),
        Wire::TwoFrames => {
            let mut framed = frame(0, &message);
            framed.extend(frame(0, &message));
            framed
        }
        Wire::Empty => Vec::new(),
        Wire::Oversized => {
            // A string field past the limit: field 1 as length-delimited (the first
            // field of most requests is a string).
            let mut bytes = vec![0x0a];
            let len = MAX_REQUEST_BYTES + 10;
            let mut n = len;
            while n >= 0x80 {
                bytes.push(u8::try_from(n & 0x7f).unwrap() | 0x80);
                n >>= 7;
            }
            bytes.push(u8::try_from(n).unwrap());
            bytes.extend(std::iter::repeat_n(b'x', len));
            frame(0, &bytes)
        }
    };
    match case.wire {
        Wire::Text => (STANDARD.encode(&framed).into_bytes(), text),
        Wire::BadBase64 => {
            let mut encoded = STANDARD.encode(&framed).into_bytes();
            encoded.extend_from_slice(b"!@#$%^&*");
            encoded.insert(0, b'*');
            (encoded, text)
        }
        _ => (framed, binary),
    }
}

fn decode_text(text: &[u8]) -> Option<Vec<u8>> {
    let text: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, group) in text.chunks(4).enumerate() {
        if group.contains(&b'=') {
            out.extend(STANDARD.decode(&text[start..(i + 1) * 4]).ok()?);
            start = (i + 1) * 4;
        }
    }
    if start < text.len() {
        out.extend(STANDARD.decode(&text[start..]).ok()?);
    }
    Some(out)
}

/// The grpc-status of an answer: from its headers (trailers-only) or its trailers frame.
fn grpc_status(
    headers: &[(String, String)],
    body: &[u8],
    text: bool,
) -> (Option<i32>, Option<String>) {
    let find = |pairs: &[(String, String)]| {
        let code = pairs
            .iter()
            .find(|(n, _)| n == "grpc-status")
            .and_then(|(_, v)| v.parse().ok());
        let message = pairs
            .iter()
            .find(|(n, _)| n == "grpc-message")
            .map(|(_, v)| v.clone());
        (code, message)
    };
    let found = find(headers);
    if found.0.is_some() {
        return found;
    }
    let raw = if text {
        decode_text(body).unwrap_or_default()
    } else {
        body.to_vec()
    };
    let mut rest = raw.as_slice();
    let mut trailers = Vec::new();
    while rest.len() >= 5 {
        let length = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        let Some(payload) = rest.get(5..5 + length) else {
            break;
        };
        if rest[0] & 0x80 != 0 {
            for line in String::from_utf8_lossy(payload).split("\r\n") {
                if let Some((name, value)) = line.split_once(':') {
                    trailers.push((name.trim().to_lowercase(), value.trim().to_owned()));
                }
            }
        }
        rest = &rest[5 + length..];
    }
    find(&trailers)
}

async fn call(
    addr: SocketAddr,
    case: &Case,
    input: &prost_reflect::MessageDescriptor,
    tokens: &[Option<String>],
) -> (Outcome, Option<String>) {
    let (body, content_type) = body(case, input);
    let bearer = match case.wire {
        Wire::BadToken => Some(
            [
                "Bearer",
                "Bearer not.a.jwt",
                "Basic dXNlcjpwYXNz",
                "Bearer eyJhbGciOiJub25lIn0.e30.",
            ][usize::try_from(case.seed % 4).unwrap()]
            .to_owned(),
        ),
        _ => tokens[case.caller].as_ref().map(|t| format!("Bearer {t}")),
    };
    let mut headers = vec![
        ("content-type", content_type),
        ("accept", content_type),
        ("x-grpc-web", "1"),
        ("origin", ORIGIN),
        // Streams answer within this, so a watch on a real resource cannot hang the run.
        ("grpc-timeout", "3S"),
    ];
    if let Some(bearer) = &bearer {
        headers.push(("authorization", bearer.as_str()));
    }
    let answer = tokio::time::timeout(
        Duration::from_secs(30),
        request(addr, "POST", &case.path, &headers, &body),
    )
    .await;
    let Ok(http) = answer else {
        return (Outcome::Hang, None);
    };
    let text = content_type.contains("text");
    match grpc_status(&http.headers, &http.body, text) {
        (Some(code), message) => (Outcome::Status(code), message),
        (None, _) => (Outcome::Http(http.status), Some(http.text())),
    }
}

/// Which codes an answer may carry. OK only for well-formed bytes: a broken frame or
/// message must never be taken for a call.
fn acceptable(wire: Wire, outcome: &Outcome) -> bool {
    let Outcome::Status(code) = outcome else {
        return false;
    };
    let code = Code::from_i32(*code);
    let refusals = [
        Code::InvalidArgument,
        Code::Unauthenticated,
        Code::PermissionDenied,
        Code::NotFound,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::AlreadyExists,
    ];
    match wire {
        // A token that is not one never passes, whatever the method (public methods
        // ignore a bad token only where the service allows it: they answer normally).
        Wire::Binary | Wire::Text | Wire::BadToken => code == Code::Ok || refusals.contains(&code),
        // A cut or flipped message may still be a valid message (protobuf has no
        // checksum): what it must never be is an INTERNAL.
        Wire::Truncated | Wire::Flipped | Wire::Garbage | Wire::LongFrame => {
            code == Code::Ok || refusals.contains(&code)
        }
        // Never taken for a call: no message, two messages, a frame cut short or
        // compressed without an encoding.
        Wire::Empty | Wire::TwoFrames | Wire::ShortFrame | Wire::Compressed | Wire::BadBase64 => {
            refusals.contains(&code)
        }
        // The edge judges the caller before it reads a body: a refused caller hears
        // that first.
        Wire::Oversized => [
            Code::ResourceExhausted,
            Code::Unauthenticated,
            Code::PermissionDenied,
        ]
        .contains(&code),
    }
}

#[tokio::test]
async fn ten_thousand_malformed_calls_through_the_gateway_get_only_client_errors() {
    let server = mandi_testkit::mesh::start(
        "all",
        vec![
            // The run is one client address and a few users making thousands of calls.
            ("MANDI_GATEWAY__IP_RATE_LIMIT", "10000000/1m".into()),
            ("MANDI_GATEWAY__USER_RATE_LIMIT", "10000000/1m".into()),
            // A panic's log says where.
            ("RUST_BACKTRACE", "1".into()),
            (
                "MANDI_GATEWAY__MAX_REQUEST_BYTES",
                MAX_REQUEST_BYTES.to_string(),
            ),
        ],
    );
    let gateway = server.gateway.expect("--target=all runs the gateway");

    // Callers: anonymous, a shopper, a vendor, the operator, the checkout service.
    let direct = mandi_testkit::mesh::client(&server);
    let customer = sign_up(&direct, "fuzz-customer@example.com")
        .await
        .access_token;
    let vendor = sign_up_as(&direct, "fuzz-vendor@example.com", Role::Vendor)
        .await
        .access_token;
    let admin = sign_up(&direct, mandi_testkit::mesh::ADMIN_EMAIL)
        .await
        .access_token;
    let service = mandi_testkit::mesh::checkout(&server)
        .await
        .token_handle()
        .get()
        .unwrap();
    let tokens = vec![
        None,
        Some(customer),
        Some(vendor),
        Some(admin),
        Some(service),
    ];

    let pool = fuzz::pool();
    let methods: Vec<(String, prost_reflect::MessageDescriptor)> = pool
        .services()
        .filter(|s| s.full_name().starts_with("mandi."))
        .flat_map(|s| {
            s.methods()
                .map(|m| (format!("/{}/{}", s.full_name(), m.name()), m.input()))
                .collect::<Vec<_>>()
        })
        .collect();
    // `MANDI_FUZZ_ONLY=CreateOrder` narrows a replay to the methods whose path has it.
    let only = std::env::var("MANDI_FUZZ_ONLY").unwrap_or_default();
    let methods: Vec<_> = methods
        .into_iter()
        .filter(|(path, _)| path.contains(&only))
        .collect();

    let total: usize = std::env::var("MANDI_FUZZ_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("MANDI_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    println!(
        "bad input: {total} calls over {} methods, seed {seed} (MANDI_FUZZ_SEED replays)",
        methods.len()
    );
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let cases: Vec<(Case, usize)> = (0..total)
        .map(|i| {
            // Round robin over methods, so every method is hit about equally.
            let method = i % methods.len();
            (
                Case {
                    path: methods[method].0.clone(),
                    caller: rng.gen_range(0..tokens.len()),
                    wire: Wire::pick(&mut rng),
                    seed: rng.r#gen(),
                },
                method,
            )
        })
        .collect();

    let started = Instant::now();
    let results: Vec<(Case, Outcome, Option<String>)> = futures::stream::iter(cases)
        .map(|(case, method)| {
            let input = methods[method].1.clone();
            let tokens = &tokens;
            async move {
                let (outcome, message) = call(gateway, &case, &input, tokens).await;
                (case, outcome, message)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();

    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_wire: BTreeMap<(Wire, String), usize> = BTreeMap::new();
    let mut bad = Vec::new();
    let mut hit: std::collections::BTreeSet<&str> = Default::default();
    for (case, outcome, message) in &results {
        let label = match outcome {
            Outcome::Status(code) => format!("{:?}", Code::from_i32(*code)),
            Outcome::Http(status) => format!("http {status}"),
            Outcome::Hang => "hang".to_owned(),
        };
        *by_code.entry(label.clone()).or_default() += 1;
        *by_wire.entry((case.wire, label)).or_default() += 1;
        hit.insert(case.path.as_str());
        if !acceptable(case.wire, outcome) {
            bad.push((case, outcome, message));
        }
    }
    println!(
        "{} calls in {:.1}s ({:.0}/s)",
        results.len(),
        elapsed.as_secs_f64(),
        results.len() as f64 / elapsed.as_secs_f64()
    );
    for (code, count) in &by_code {
        println!("  {code:<20} {count:>6}");
    }
    for ((wire, code), count) in &by_wire {
        println!("  {wire:<12?} {code:<20} {count:>6}");
    }
    assert_eq!(results.len(), total);
    assert_eq!(hit.len(), methods.len(), "every method was called");
    if only.is_empty() {
        assert!(methods.len() > 50, "only {} methods", methods.len());
    }

    for (case, outcome, message) in bad.iter().take(25) {
        println!("UNEXPECTED {outcome:?} {message:?} for {case:?}");
    }
    let log = server.log();
    for line in log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .take(10)
    {
        println!("server: {line}");
    }

    // The server is alive and healthy, and it never panicked.
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Endpoint::from_shared(server.url())
            .unwrap()
            .connect()
            .await
            .expect("the server still accepts connections"),
    );
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health answers after the run")
        .into_inner()
        .status;
    assert_eq!(
        serving,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    assert!(
        !log.contains("panicked"),
        "the server panicked:\n{}",
        log.lines()
            .skip_while(|l| !l.contains("panicked"))
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );

    assert!(
        bad.is_empty(),
        "{} of {total} calls got an answer a client cannot act on (first ones above; seed {seed})",
        bad.len()
    );
}

/// What the run above found in shipping, pinned: a hold ttl past chrono's range and a
/// listing window at the end of time are refused by field, not a panic.
#[tokio::test]
async fn absurd_durations_and_instants_are_invalid_arguments_not_panics() {
    use mandi_sdk::proto::mandi::shipping::v1::{ListDeliverySlotsRequest, ReserveSlotRequest};
    let server = mandi_testkit::mesh::start("all", vec![]);
    let checkout = mandi_testkit::mesh::checkout(&server).await;
    let hold = checkout
        .shipping()
        .reserve_slot(ReserveSlotRequest {
            slot_id: "blr-central/2030-01-01T09:00".into(),
            order_id: uuid::Uuid::now_v7().to_string(),
            ttl: Some(prost_types::Duration {
                seconds: i64::MAX,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(hold.code(), Code::InvalidArgument, "{hold:?}");
    assert_eq!(mandi_testkit::status::bad_request_fields(&hold), ["ttl"]);

    let end_of_time = prost_types::Timestamp {
        seconds: 8_210_266_876_799,
        nanos: 0,
    };
    let listing = checkout
        .shipping()
        .list_delivery_slots(ListDeliverySlotsRequest {
            destination: Some(mandi_sdk::proto::mandi::common::v1::Address {
                line1: "12 MG Road".into(),
                city: "Bengaluru".into(),
                postal_code: "560001".into(),
                country_code: "IN".into(),
                ..Default::default()
            }),
            start_time: Some(end_of_time),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(listing.code(), Code::InvalidArgument, "{listing:?}");
    assert_eq!(
        mandi_testkit::status::bad_request_fields(&listing),
        ["start_time"]
    );
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

/// Also found by the run: a cart id the cart service never issued was UNAVAILABLE ("a
/// dependency is unavailable") from checkout; it is the caller's bad field.
#[tokio::test]
async fn a_cart_id_the_cart_service_never_issued_is_the_callers_bad_field() {
    use mandi_sdk::proto::mandi::checkout::v1::{StartCheckoutRequest, start_checkout_request};
    use mandi_sdk::proto::mandi::common::v1::{Address, DeliveryDestination};
    use mandi_sdk::proto::mandi::payment::v1::{CardDetails, PaymentMethod};
    let server = mandi_testkit::mesh::start("all", vec![]);
    let shopper = mandi_testkit::mesh::client(&server);
    sign_up(&shopper, "made-up-cart@example.com").await;
    let refused = shopper
        .checkout()
        .start_checkout(StartCheckoutRequest {
            cart_id: "not-a-cart-id".into(),
            destination: Some(start_checkout_request::Destination::InlineDestination(
                DeliveryDestination {
                    address: Some(Address {
                        line1: "12 MG Road".into(),
                        city: "Bengaluru".into(),
                        postal_code: "560001".into(),
                        country_code: "IN".into(),
                        ..Default::default()
                    }),
                    recipient_name: "Asha Rao".into(),
                    recipient_phone: "+919812345678".into(),
                    delivery_instructions: String::new(),
                },
            )),
            delivery_slot_id: "blr-central/2030-01-01T09:00".into(),
            payment_method: PaymentMethod::Card as i32,
            card: Some(CardDetails {
                token: "4242424242424242".into(),
                exp_month: 12,
                exp_year: 2035,
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(
        mandi_testkit::status::bad_request_fields(&refused),
        ["cart_id"]
    );
}
