//! Security checks against `mandi-server --target=all`, through the gateway and straight
//! to the services: forged, expired and confused access tokens are UNAUTHENTICATED; callers
//! reaching past their role or into someone else's data are PERMISSION_DENIED (or
//! NOT_FOUND where a service hides what exists); guessing a password is throttled and the
//! right password waits out the window too.
//!
//! Tokens are forged with identity's real signing key, read from its PostgreSQL database:
//! a token that differs from a valid one in a single respect (expiry, audience, issuer,
//! algorithm, key id) is refused for that respect alone, and a control token made the same
//! way is accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::{AddItemRequest, GetCartRequest};
use mandi_sdk::proto::mandi::catalog::v1::{
    CreateProductRequest, ListCategoriesRequest, Product, ProductStatus, UpdateProductRequest,
};
use mandi_sdk::proto::mandi::checkout::v1::{
    CheckoutState, StartCheckoutRequest, start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::{
    Address, DeliveryDestination, GeoPoint, Money, UnitOfSale,
};
use mandi_sdk::proto::mandi::identity::v1::{
    GetCurrentUserRequest, GetJwksRequest, LoginRequest, RegisterRequest, Role, SetUserRoleRequest,
};
use mandi_sdk::proto::mandi::inventory::v1::ReceiveStockRequest;
use mandi_sdk::proto::mandi::order::v1::{GetOrderRequest, ListOrdersRequest};
use mandi_sdk::proto::mandi::payment::v1::{
    CapturePaymentRequest, CardDetails, GetPaymentRequest, ListPaymentsRequest, PaymentMethod,
};
use mandi_sdk::proto::mandi::shipping::v1::{
    CreateRiderRequest, GetShipmentRequest, ListDeliverySlotsRequest, ListShipmentsRequest, Rider,
    RiderStatus, UpdateRiderRequest, VehicleType,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::{PASSWORD, sign_in, sign_up, sign_up_as};
use mandi_testkit::mesh::{self, ADMIN_EMAIL};
use serde_json::json;
use sqlx::Connection as _;
use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A client of `url` sending `token` as its bearer token.
fn with_token(url: &str, token: &str) -> Mandi {
    let mandi = Mandi::builder().endpoint(url).connect_lazy().unwrap();
    mandi.set_token(Some(token.to_owned())).unwrap();
    mandi
}

/// The direct gRPC port and the gateway (plain gRPC over h2c): both must refuse.
fn doors(server: &ServerProcess) -> [(&'static str, String); 2] {
    [("service", server.url()), ("gateway", server.gateway_url())]
}

/// identity on its real backends (its signing keys in PostgreSQL, where the test reads
/// them), and a standalone gateway in front of it verifying tokens with identity's keys.
async fn identity_behind_a_gateway() -> (ServerProcess, ServerProcess, String) {
    let env = mesh::real_identity().await;
    let database_url = env[0].1.clone();
    let identity = mesh::start("identity", env);
    let (redis, prefix) = mandi_testkit::redis_with_prefix().await;
    let gateway = ServerProcess::start(
        "gateway",
        &[
            ("MANDI_AUTH__IDENTITY_ENDPOINT", identity.url().as_str()),
            ("MANDI_GATEWAY__DEFAULT_UPSTREAM", identity.url().as_str()),
            ("MANDI_GATEWAY__REDIS_URL", redis.as_str()),
            ("MANDI_GATEWAY__REDIS_PREFIX", prefix.as_str()),
        ],
    );
    (identity, gateway, database_url)
}

fn part(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// identity's active signing key, from its database: the key id and an EdDSA encoder.
async fn signing_key(database_url: &str) -> (String, EncodingKey) {
    let mut connection = sqlx::PgConnection::connect(database_url).await.unwrap();
    let (kid, seed): (String, Vec<u8>) = sqlx::query_as(
        "SELECT kid, seed FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&mut connection)
    .await
    .expect("identity has made a signing key");
    let seed: [u8; 32] = seed.try_into().unwrap();
    (kid, ed_key(&seed))
}

fn ed_key(seed: &[u8; 32]) -> EncodingKey {
    let der = ed25519_dalek::SigningKey::from_bytes(seed)
        .to_pkcs8_der()
        .unwrap();
    EncodingKey::from_ed_der(der.as_bytes())
}

fn sign(
    alg: Algorithm,
    kid: Option<&str>,
    claims: &serde_json::Value,
    key: &EncodingKey,
) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

#[tokio::test]
async fn forged_expired_and_confused_tokens_are_unauthenticated_everywhere() {
    let (server, edge, database_url) = identity_behind_a_gateway().await;
    let shopper = mesh::client(&server);
    let login = sign_up(&shopper, "victim@example.com").await;
    let user_id = login.user.clone().unwrap().id;
    let (kid, key) = signing_key(&database_url).await;
    let jwks = shopper
        .identity()
        .get_jwks(GetJwksRequest {})
        .await
        .unwrap()
        .into_inner();
    let published = jwks
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .expect("kid in JWKS");
    let public_raw = URL_SAFE_NO_PAD.decode(&published.x).unwrap();

    let claims = |changes: serde_json::Value| {
        let mut claims = json!({
            "iss": "mandi-identity",
            "aud": "mandi",
            "sub": user_id,
            "iat": now(),
            "exp": now() + 600,
            "roles": ["customer"],
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };
    let valid = claims(json!({}));
    let mut stranger_seed = [7u8; 32];
    stranger_seed[0] = 42;
    let stranger = ed_key(&stranger_seed);

    // Control: a token forged exactly like the rest, but right in every respect, passes;
    // so each refusal below is for the one thing that differs.
    let control = sign(Algorithm::EdDSA, Some(&kid), &valid, &key);
    let doors = [("identity", server.url()), ("gateway", edge.gateway_url())];
    for (door, url) in doors.clone() {
        let me = with_token(&url, &control)
            .identity()
            .get_current_user(GetCurrentUserRequest {})
            .await
            .unwrap_or_else(|s| panic!("{door}: the control token is refused: {s:?}"))
            .into_inner();
        assert_eq!(me.user.unwrap().id, user_id);
    }

    // The real token with its claims edited to make the shopper an admin, signature kept.
    let mut pieces: Vec<String> = login.access_token.split('.').map(str::to_owned).collect();
    let mut payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&pieces[1]).unwrap()).unwrap();
    payload["roles"] = json!(["admin"]);
    pieces[1] = part(&payload);
    let tampered = pieces.join(".");

    let unsigned = format!(
        "{}.{}.",
        part(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
        part(&valid)
    );
    let unsigned_uppercase = format!(
        "{}.{}.",
        part(&json!({"alg": "NONE", "typ": "JWT", "kid": kid})),
        part(&valid)
    );
    // An EdDSA signature presented as RS256: the header is what a confused verifier reads.
    let eddsa_signature = sign(Algorithm::EdDSA, Some(&kid), &valid, &key)
        .rsplit('.')
        .next()
        .unwrap()
        .to_owned();
    let rs256 = format!(
        "{}.{}.{eddsa_signature}",
        part(&json!({"alg": "RS256", "typ": "JWT", "kid": kid})),
        part(&valid)
    );
    let forged: Vec<(&str, String)> = vec![
        (
            "expired an hour ago",
            sign(
                Algorithm::EdDSA,
                Some(&kid),
                &claims(json!({"iat": now() - 7200, "exp": now() - 3600})),
                &key,
            ),
        ),
        (
            "signed with another key under identity's kid",
            sign(Algorithm::EdDSA, Some(&kid), &valid, &stranger),
        ),
        ("alg none", unsigned),
        ("alg NONE", unsigned_uppercase),
        (
            "HS256 keyed with the JWKS public key bytes",
            sign(
                Algorithm::HS256,
                Some(&kid),
                &valid,
                &EncodingKey::from_secret(&public_raw),
            ),
        ),
        (
            "HS256 keyed with the JWKS x text",
            sign(
                Algorithm::HS256,
                Some(&kid),
                &valid,
                &EncodingKey::from_secret(published.x.as_bytes()),
            ),
        ),
        ("RS256 header on an EdDSA signature", rs256),
        (
            "wrong audience",
            sign(
                Algorithm::EdDSA,
                Some(&kid),
                &claims(json!({"aud": "another-app"})),
                &key,
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::EdDSA,
                Some(&kid),
                &claims(json!({"iss": "evil-identity"})),
                &key,
            ),
        ),
        (
            "no expiry",
            sign(
                Algorithm::EdDSA,
                Some(&kid),
                &claims(json!({"exp": null})),
                &key,
            ),
        ),
        ("claims tampered to admin", tampered),
        (
            "a kid identity never published",
            sign(
                Algorithm::EdDSA,
                Some(&Uuid::now_v7().simple().to_string()),
                &valid,
                &key,
            ),
        ),
        ("no kid", sign(Algorithm::EdDSA, None, &valid, &key)),
        ("not a JWT", "hello.world.again".to_owned()),
    ];

    // identity's own auth layer (the one every service runs), and the gateway's edge
    // check, which refuses before routing: cart and order are judged there too.
    let mut refused = 0;
    for (what, token) in &forged {
        for (door, url) in doors.clone() {
            let mandi = with_token(&url, token);
            let me = mandi
                .identity()
                .get_current_user(GetCurrentUserRequest {})
                .await;
            let mut calls = vec![("GetCurrentUser", me.map(|_| ()).map_err(|s| s.code()))];
            if door == "gateway" {
                let cart = mandi.cart().get_cart(GetCartRequest::default()).await;
                let orders = mandi
                    .order()
                    .list_orders(ListOrdersRequest::default())
                    .await;
                calls.push(("GetCart", cart.map(|_| ()).map_err(|s| s.code())));
                calls.push(("ListOrders", orders.map(|_| ()).map_err(|s| s.code())));
            }
            for (rpc, code) in calls {
                assert_eq!(
                    code,
                    Err(Code::Unauthenticated),
                    "{what} at the {door}, {rpc}"
                );
                refused += 1;
            }
        }
    }
    println!(
        "security: {} forged tokens refused {refused} times (identity and the gateway)",
        forged.len()
    );
}

// === role escalation ===

fn address() -> Address {
    Address {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: "560001".into(),
        country_code: "IN".into(),
        ..Default::default()
    }
}

async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..100 {
        if let Some(found) = probe().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} never came");
}

/// Asserts every call was refused with `wanted` and says which was not.
fn all_refused(wanted: &[Code], results: Vec<(&str, Result<(), tonic::Status>)>) {
    for (what, result) in results {
        match result {
            Ok(()) => panic!("{what} was allowed"),
            Err(status) => assert!(
                wanted.contains(&status.code()),
                "{what}: wanted one of {wanted:?}, got {status:?}"
            ),
        }
    }
}

fn unit<T>(result: Result<T, tonic::Status>) -> Result<(), tonic::Status> {
    result.map(|_| ())
}

#[tokio::test]
async fn callers_cannot_reach_past_their_role_or_into_other_peoples_data() {
    let server = mesh::start("all", vec![("MANDI_INVENTORY__DEMO_STOCK", "true".into())]);
    let admin = mesh::client(&server);
    sign_up(&admin, ADMIN_EMAIL).await;

    // Alice checks out; Mallory, another shopper, then goes after Alice's data.
    let alice = mesh::client(&server);
    let alice_id = sign_up(&alice, "alice@example.com").await.user.unwrap().id;
    let mallory_login = sign_up(&mesh::client(&server), "mallory@example.com").await;
    let mallory_id = mallory_login.user.unwrap().id;
    let product = mandi_testkit::mesh::demo_product(&alice, "watermelon", "watermelon").await;
    let quantity = product.min_quantity.max(1);
    mesh::stock(&admin, &product.id, 10 * quantity).await;
    alice
        .cart()
        .add_item(AddItemRequest {
            product_id: product.id.clone(),
            quantity,
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    let cart_id = alice
        .cart()
        .get_cart(GetCartRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap()
        .id;
    let slot = alice
        .shipping()
        .list_delivery_slots(ListDeliverySlotsRequest {
            destination: Some(address()),
            page_size: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .slots
        .into_iter()
        .find(|s| s.available)
        .expect("an open slot");
    let checkout = alice
        .checkout()
        .start_checkout(StartCheckoutRequest {
            destination: Some(start_checkout_request::Destination::InlineDestination(
                DeliveryDestination {
                    address: Some(address()),
                    recipient_name: "Alice".into(),
                    recipient_phone: "+919812345678".into(),
                    delivery_instructions: String::new(),
                },
            )),
            delivery_slot_id: slot.id,
            payment_method: PaymentMethod::Card.into(),
            card: Some(CardDetails {
                token: "4242424242424242".into(),
                exp_month: 12,
                exp_year: 2035,
            }),
            request_id: Uuid::now_v7().to_string(),
            wait: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .checkout
        .unwrap();
    assert_eq!(
        checkout.state,
        CheckoutState::Completed as i32,
        "{checkout:?}"
    );
    let order_id = checkout.order_id.clone();
    let payment_id = alice
        .payment()
        .list_payments(ListPaymentsRequest {
            order_id: order_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payments
        .first()
        .expect("alice's payment")
        .id
        .clone();
    let shipment_id = eventually("alice's shipment", || {
        let alice = alice.clone();
        let order_id = order_id.clone();
        async move {
            alice
                .shipping()
                .list_shipments(ListShipmentsRequest {
                    order_id,
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .shipments
                .first()
                .map(|s| s.id.clone())
        }
    })
    .await;

    // A rider, and two vendors with a product each.
    let rider = mesh::client(&server);
    let rider_user = sign_up(&rider, "rider@example.com").await.user.unwrap().id;
    admin
        .identity()
        .set_user_role(SetUserRoleRequest {
            user_id: rider_user.clone(),
            role: Role::Delivery.into(),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    sign_in(&rider, "rider@example.com").await;
    let rider_profile = admin
        .shipping()
        .create_rider(CreateRiderRequest {
            rider: Some(Rider {
                user_id: rider_user,
                display_name: "Ravi".into(),
                phone: "+919800000001".into(),
                vehicle_type: VehicleType::Motorcycle.into(),
                zone_ids: vec!["blr-central".into()],
                ..Default::default()
            }),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .rider
        .unwrap();
    let category = admin
        .catalog()
        .list_categories(ListCategoriesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .categories
        .into_iter()
        .find(|c| c.slug == "tropical")
        .unwrap();
    let owner = mesh::client(&server);
    sign_up_as(&owner, "owner-vendor@example.com", Role::Vendor).await;
    let rival = mesh::client(&server);
    sign_up_as(&rival, "rival-vendor@example.com", Role::Vendor).await;
    let owned = owner
        .catalog()
        .create_product(CreateProductRequest {
            product: Some(Product {
                display_name: "Owner Sapota".into(),
                description: "Sweet chikoo".into(),
                category_id: category.id.clone(),
                unit_of_sale: UnitOfSale::Kilogram as i32,
                price: Some(Money {
                    currency_code: "INR".into(),
                    amount_minor: 9_000,
                }),
                status: ProductStatus::Active as i32,
                ..Default::default()
            }),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();

    // Mallory through both doors: the service's own policy and the gateway's edge rules.
    let mut checked = 0;
    for (door, url) in doors(&server) {
        let mallory = with_token(&url, &mallory_login.access_token);
        // Operator and internal RPCs.
        let escalations = vec![
            (
                "SetUserRole to admin on herself",
                unit(
                    mallory
                        .identity()
                        .set_user_role(SetUserRoleRequest {
                            user_id: mallory_id.clone(),
                            role: Role::Admin.into(),
                            request_id: Uuid::now_v7().to_string(),
                        })
                        .await,
                ),
            ),
            (
                "ReceiveStock",
                unit(
                    mallory
                        .inventory()
                        .receive_stock(ReceiveStockRequest {
                            product_id: product.id.clone(),
                            warehouse_id: Uuid::now_v7().to_string(),
                            quantity: 1000,
                            request_id: Uuid::now_v7().to_string(),
                            ..Default::default()
                        })
                        .await,
                ),
            ),
            (
                "CapturePayment of alice's payment",
                unit(
                    mallory
                        .payment()
                        .capture_payment(CapturePaymentRequest {
                            payment_id: payment_id.clone(),
                            request_id: Uuid::now_v7().to_string(),
                            ..Default::default()
                        })
                        .await,
                ),
            ),
            (
                "CreateRider for herself",
                unit(
                    mallory
                        .shipping()
                        .create_rider(CreateRiderRequest {
                            rider: Some(Rider {
                                user_id: mallory_id.clone(),
                                display_name: "Mallory".into(),
                                phone: "+919800000002".into(),
                                vehicle_type: VehicleType::Bicycle.into(),
                                zone_ids: vec!["blr-central".into()],
                                ..Default::default()
                            }),
                            request_id: Uuid::now_v7().to_string(),
                        })
                        .await,
                ),
            ),
            (
                "ListOrders of alice",
                unit(
                    mallory
                        .order()
                        .list_orders(ListOrdersRequest {
                            user_id: alice_id.clone(),
                            ..Default::default()
                        })
                        .await,
                ),
            ),
            (
                "ListPayments of alice",
                unit(
                    mallory
                        .payment()
                        .list_payments(ListPaymentsRequest {
                            user_id: alice_id.clone(),
                            ..Default::default()
                        })
                        .await,
                ),
            ),
        ];
        checked += escalations.len();
        all_refused(&[Code::PermissionDenied], escalations);

        // Reading alice's things by id: refused, or hidden as if they did not exist.
        let reads = vec![
            (
                "GetOrder of alice's order",
                unit(
                    mallory
                        .order()
                        .get_order(GetOrderRequest {
                            order_id: order_id.clone(),
                        })
                        .await,
                ),
            ),
            (
                "GetCart of alice's cart",
                unit(
                    mallory
                        .cart()
                        .get_cart(GetCartRequest {
                            cart_id: cart_id.clone(),
                        })
                        .await,
                ),
            ),
            (
                "GetShipment of alice's shipment",
                unit(
                    mallory
                        .shipping()
                        .get_shipment(GetShipmentRequest {
                            shipment_id: shipment_id.clone(),
                        })
                        .await,
                ),
            ),
            (
                "GetPayment of alice's payment",
                unit(
                    mallory
                        .payment()
                        .get_payment(GetPaymentRequest {
                            payment_id: payment_id.clone(),
                        })
                        .await,
                ),
            ),
        ];
        for (what, result) in &reads {
            let code = result.as_ref().map_err(tonic::Status::code);
            println!("security: {door}: mallory's {what}: {code:?}");
        }
        checked += reads.len();
        all_refused(&[Code::PermissionDenied, Code::NotFound], reads);

        // The rider may move their own status and position, nothing else.
        let rider_at_door = with_token(&url, &rider.token_handle().get().unwrap());
        let mut rider_edits = Vec::new();
        for (field, value) in [
            (
                "zone_ids",
                Rider {
                    zone_ids: vec!["blr-north".into(), "blr-south".into()],
                    ..Default::default()
                },
            ),
            (
                "max_load_grams",
                Rider {
                    max_load_grams: 1_000_000,
                    ..Default::default()
                },
            ),
            (
                "display_name",
                Rider {
                    display_name: "Admin".into(),
                    ..Default::default()
                },
            ),
            (
                "vehicle_type",
                Rider {
                    vehicle_type: VehicleType::Van.into(),
                    ..Default::default()
                },
            ),
        ] {
            let result = rider_at_door
                .shipping()
                .update_rider(UpdateRiderRequest {
                    rider: Some(Rider {
                        id: rider_profile.id.clone(),
                        ..value
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec![field.into()],
                    }),
                    request_id: String::new(),
                })
                .await;
            rider_edits.push((field, unit(result)));
        }
        checked += rider_edits.len();
        all_refused(&[Code::PermissionDenied], rider_edits);
        // ... while status and location are theirs to change.
        rider_at_door
            .shipping()
            .update_rider(UpdateRiderRequest {
                rider: Some(Rider {
                    id: rider_profile.id.clone(),
                    status: RiderStatus::Available.into(),
                    last_location: Some(GeoPoint {
                        latitude_e6: 12_970_000,
                        longitude_e6: 77_600_000,
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".into(), "last_location".into()],
                }),
                request_id: String::new(),
            })
            .await
            .unwrap_or_else(|s| panic!("{door}: the rider's own status: {s:?}"));

        // A vendor editing a rival's product.
        let rival_at_door = with_token(&url, &rival.token_handle().get().unwrap());
        let edit = rival_at_door
            .catalog()
            .update_product(UpdateProductRequest {
                product: Some(Product {
                    id: owned.id.clone(),
                    price: Some(Money {
                        currency_code: "INR".into(),
                        amount_minor: 1,
                    }),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["price".into()],
                }),
                expected_version: owned.version,
                request_id: Uuid::now_v7().to_string(),
            })
            .await;
        checked += 1;
        all_refused(
            &[Code::PermissionDenied],
            vec![("a rival vendor's UpdateProduct", unit(edit))],
        );
    }
    println!("security: {checked} escalation attempts refused");
}

#[tokio::test]
async fn guessing_a_password_is_throttled_and_the_right_one_waits_out_the_window() {
    // Attempts are counted in Redis, as in production.
    let mut env = mesh::real_identity().await;
    env.push(("MANDI_IDENTITY__THROTTLE_WINDOW", "4s".into()));
    env.push(("MANDI_IDENTITY__MAX_FAILURES_PER_ACCOUNT", "5".into()));
    let server = mesh::start("identity", env);
    let shopper = mesh::client(&server);
    shopper
        .identity()
        .register(RegisterRequest {
            name: "Brute Target".into(),
            email: "target@example.com".into(),
            password: PASSWORD.into(),
            role: Role::Customer as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let login = |password: &str| {
        let shopper = shopper.clone();
        let request = LoginRequest {
            email: "target@example.com".into(),
            password: password.into(),
        };
        async move { shopper.identity().login(request).await }
    };

    for attempt in 1..=5 {
        let wrong = login(&format!("guess-{attempt}")).await.unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated, "attempt {attempt}");
    }
    let throttled = login("guess-6").await.unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted, "{throttled:?}");
    let retry = throttled
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("a retry hint");
    assert!(
        retry >= Duration::from_secs(1) && retry <= Duration::from_secs(4),
        "{retry:?}"
    );
    // The right password does not get through a throttled account either.
    let right = login(PASSWORD).await.unwrap_err();
    assert_eq!(right.code(), Code::ResourceExhausted, "{right:?}");

    // Once the window has passed (the hint is rounded down to whole seconds), the right
    // password works again.
    tokio::time::sleep(retry + Duration::from_secs(1)).await;
    let back = login(PASSWORD)
        .await
        .expect("the owner signs in after the window");
    assert!(!back.into_inner().access_token.is_empty());
}
