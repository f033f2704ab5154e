//! A shopper's visit end to end through the SDK and `mandi-server`: sign up, save
//! addresses and pick the default (profile), fill a guest cart, sign in, merge it, read
//! the totals (cart). Once on the embedded default, once with profile on real PostgreSQL
//! and the cart on real Redis in a second server that reaches the first over gRPC; and a
//! cart that still answers, unverified, when inventory is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::cart::v1::{
    AddItemRequest, Cart, CartItem, GetCartRequest, MergeGuestCartRequest,
    UpdateItemQuantityRequest,
};
use mandi_sdk::proto::mandi::catalog::v1::Product;
use mandi_sdk::proto::mandi::common::v1::Address as PostalAddress;
use mandi_sdk::proto::mandi::profile::v1::{
    Address, CreateAddressRequest, ListAddressesRequest, SetDefaultAddressRequest,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::{sign_in, sign_up};
use mandi_testkit::mesh::ADMIN_EMAIL;
use mandi_testkit::status::bad_request_fields as fields;
use tonic::Code;
use uuid::Uuid;

fn start(target: &str, extra: Vec<(&'static str, String)>) -> ServerProcess {
    mandi_testkit::mesh::start(target, extra)
}

/// The embedded mesh: identity, catalog (with the demo data), inventory and the rest.
fn start_embedded() -> ServerProcess {
    start("all", vec![])
}

/// Profile on real PostgreSQL and cart on real Redis, in their own server, which checks
/// tokens with and prices carts through `mesh` over gRPC.
async fn start_real_beside(mesh: &ServerProcess) -> ServerProcess {
    let profile_db = mandi_testkit::fresh_database().await;
    let (redis, prefix) = mandi_testkit::redis_with_prefix().await;
    start(
        "profile,cart",
        vec![
            ("MANDI_AUTH__IDENTITY_ENDPOINT", mesh.url()),
            ("MANDI_PROFILE__DATABASE_URL", profile_db),
            ("MANDI_CART__REDIS_URL", redis),
            ("MANDI_CART__REDIS_PREFIX", prefix),
            ("MANDI_CART__CATALOG_ENDPOINT", mesh.url()),
            ("MANDI_CART__INVENTORY_ENDPOINT", mesh.url()),
        ],
    )
}

/// A client of `mesh`, with profile and cart at `shop` when given.
fn client(mesh: &ServerProcess, shop: Option<&ServerProcess>) -> Mandi {
    let mut builder = Mandi::builder().endpoint(mesh.url());
    if let Some(shop) = shop {
        builder = builder
            .service_endpoint("profile", shop.url())
            .service_endpoint("cart", shop.url());
    }
    builder.connect_lazy().unwrap()
}

fn home(label: &str, line1: &str) -> Address {
    Address {
        label: label.into(),
        postal_address: Some(PostalAddress {
            line1: line1.into(),
            city: "Bengaluru".into(),
            postal_code: "560001".into(),
            country_code: "IN".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn add(mandi: &Mandi, cart_id: &str, product: &Product, quantity: i64) -> Cart {
    mandi
        .cart()
        .add_item(AddItemRequest {
            cart_id: cart_id.into(),
            product_id: product.id.clone(),
            quantity,
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap()
}

fn item<'a>(cart: &'a Cart, product: &Product) -> &'a CartItem {
    cart.items
        .iter()
        .find(|i| i.product_id == product.id)
        .unwrap_or_else(|| panic!("{} is in the cart", product.slug))
}

fn amount(money: &Option<mandi_sdk::proto::mandi::common::v1::Money>) -> i64 {
    money.as_ref().unwrap().amount_minor
}

/// The whole visit, against whichever servers `shopper` and `admin` talk to.
async fn shopper_visit(shopper: Mandi, guest: Mandi, admin: Mandi) {
    let email = format!("asha-{}@example.com", Uuid::now_v7().simple());
    sign_up(&shopper, &email).await;

    // Profile: two addresses; the first becomes the default, then the shopper picks the other.
    let office = shopper
        .profile()
        .create_address(CreateAddressRequest {
            address: Some(home("Office", "12 MG Road")),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .address
        .unwrap();
    assert!(office.is_default, "a first address is the default");
    let house = shopper
        .profile()
        .create_address(CreateAddressRequest {
            address: Some(home("Home", "4 Temple Street")),
            request_id: Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .address
        .unwrap();
    assert!(!house.is_default);
    shopper
        .profile()
        .set_default_address(SetDefaultAddressRequest {
            address_id: house.id.clone(),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap();
    let addresses = shopper
        .profile()
        .list_addresses(ListAddressesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .addresses;
    assert_eq!(addresses.len(), 2);
    assert_eq!(addresses[0].id, house.id, "the default comes first");
    assert!(addresses[0].is_default && !addresses[1].is_default);

    // Stock for the mangoes, so merging can be capped by it.
    let mango = mandi_testkit::mesh::demo_product(&guest, "alphonso mango", "alphonso-mango").await;
    let cashews = mandi_testkit::mesh::demo_product(&guest, "cashews", "cashew-w240").await;
    mandi_testkit::mesh::stock(&admin, &mango.id, 3).await;
    mandi_testkit::mesh::stock(&admin, &cashews.id, 5_000).await;

    // The shopper already has a dozen mangoes in their own cart.
    let own = add(&shopper, "", &mango, 1).await;
    assert_eq!(own.user_id.len(), 36);

    // As a guest: a new guest cart, its id the guest's key.
    let guest_cart = add(&guest, "", &mango, 2).await;
    assert!(guest_cart.user_id.is_empty());
    assert_eq!(guest_cart.id.len(), 22);
    let guest_cart = add(&guest, &guest_cart.id, &cashews, 500).await;
    assert_eq!(guest_cart.item_count, 2);

    // Sign in again (a new session) and merge.
    sign_in(&shopper, &email).await;
    let merged = shopper
        .cart()
        .merge_guest_cart(MergeGuestCartRequest {
            guest_cart_id: guest_cart.id.clone(),
            request_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert_eq!(merged.id, own.id);
    assert_eq!(
        item(&merged, &mango).quantity,
        3,
        "1 + 2 dozen, and 3 are in stock"
    );
    assert_eq!(item(&merged, &cashews).quantity, 500);
    let gone = guest
        .cart()
        .get_cart(GetCartRequest {
            cart_id: guest_cart.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    // Totals: 3 dozen at ₹1200.00 zero-rated; 500 g of cashews at ₹110.00 per 100 g at 5%.
    let cart = shopper
        .cart()
        .get_cart(GetCartRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert!(cart.verified, "{:?}", cart.verification_notes);
    let mango_line = item(&cart, &mango);
    assert_eq!(amount(&mango_line.line_total), 360_000);
    assert_eq!(mango_line.tax_rate_bps, 0);
    let cashew_line = item(&cart, &cashews);
    assert_eq!(amount(&cashew_line.line_total), 55_000);
    assert_eq!(cashew_line.tax_rate_bps, 500);
    assert_eq!(amount(&cashew_line.line_tax), 2_750);
    let totals = cart.totals.as_ref().unwrap();
    assert_eq!(amount(&totals.subtotal), 415_000);
    assert_eq!(amount(&totals.tax), 2_750);
    assert_eq!(amount(&totals.total), 417_750);
    assert_eq!(totals.total.as_ref().unwrap().currency_code, "INR");
    let check = mango_line.check.as_ref().unwrap();
    assert!(check.price_verified && check.stock_verified && !check.stock_short);
    assert_eq!(check.available_quantity, 3);

    // One dozen more than there is: the cart takes it and flags the line short.
    let cart = shopper
        .cart()
        .update_item_quantity(UpdateItemQuantityRequest {
            product_id: mango.id.clone(),
            quantity: 4,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert!(item(&cart, &mango).check.as_ref().unwrap().stock_short);
    assert_eq!(cart.attention_count, 1);
}

async fn admin_of(mesh: &ServerProcess) -> Mandi {
    let admin = client(mesh, None);
    sign_up(&admin, ADMIN_EMAIL).await;
    admin
}

#[tokio::test]
async fn a_shopper_visit_on_the_embedded_default() {
    let mesh = start_embedded();
    let admin = admin_of(&mesh).await;
    shopper_visit(client(&mesh, None), client(&mesh, None), admin).await;
}

#[tokio::test]
async fn a_shopper_visit_with_profile_on_postgres_and_the_cart_on_redis() {
    let mesh = start_embedded();
    let shop = start_real_beside(&mesh).await;
    let admin = admin_of(&mesh).await;
    shopper_visit(
        client(&mesh, Some(&shop)),
        client(&mesh, Some(&shop)),
        admin,
    )
    .await;
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named() {
    let mesh = start_embedded();
    let guest = client(&mesh, None);
    let melon = mandi_testkit::mesh::demo_product(&guest, "watermelon", "watermelon").await;
    let refused = |request: AddItemRequest| {
        let guest = guest.clone();
        async move { guest.cart().add_item(request).await.unwrap_err() }
    };
    for quantity in [0, -3, 51] {
        let err = refused(AddItemRequest {
            product_id: melon.id.clone(),
            quantity,
            ..Default::default()
        })
        .await;
        assert_eq!(err.code(), Code::InvalidArgument, "{quantity}: {err:?}");
        assert_eq!(fields(&err), ["quantity"]);
    }
    let err = refused(AddItemRequest {
        product_id: Uuid::now_v7().to_string(),
        quantity: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(err.code(), Code::NotFound);
    let err = refused(AddItemRequest {
        product_id: "melon".into(),
        quantity: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(fields(&err), ["product_id"]);
    let err = refused(AddItemRequest {
        cart_id: "not-a-cart".into(),
        product_id: melon.id.clone(),
        quantity: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(fields(&err), ["cart_id"]);

    // Another shopper's cart is theirs alone.
    let owner = client(&mesh, None);
    sign_up(&owner, "owner@example.com").await;
    let cart = add(&owner, "", &melon, 1).await;
    let intruder = client(&mesh, None);
    sign_up(&intruder, "intruder@example.com").await;
    let err = intruder
        .cart()
        .get_cart(GetCartRequest { cart_id: cart.id })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn with_inventory_down_the_cart_answers_unverified_and_says_why() {
    let mesh = start_embedded();
    let (redis, prefix) = mandi_testkit::redis_with_prefix().await;
    let shop = start(
        "cart",
        vec![
            ("MANDI_AUTH__IDENTITY_ENDPOINT", mesh.url()),
            ("MANDI_CART__REDIS_URL", redis),
            ("MANDI_CART__REDIS_PREFIX", prefix),
            ("MANDI_CART__CATALOG_ENDPOINT", mesh.url()),
            // Nothing listens here.
            (
                "MANDI_CART__INVENTORY_ENDPOINT",
                "http://127.0.0.1:9".to_owned(),
            ),
            ("MANDI_CART__PEER_TIMEOUT", "300ms".to_owned()),
        ],
    );
    let guest = client(&mesh, Some(&shop));
    let okra = mandi_testkit::mesh::demo_product(&guest, "bhindi", "bhindi").await;
    let cart = add(&guest, "", &okra, 500).await;
    assert!(!cart.verified);
    assert_eq!(cart.verification_notes.len(), 1);
    assert!(cart.verification_notes[0].starts_with("inventory unavailable"));
    let check = item(&cart, &okra).check.clone().unwrap();
    assert!(check.price_verified && !check.stock_verified && !check.stock_short);
    assert!(amount(&cart.totals.unwrap().total) > 0);
}
