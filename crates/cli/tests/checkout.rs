//! `mandi checkout` against the checkout saga in `mandi-server --target=all`: an admin
//! stocks a product, a shopper saves an address, fills the cart and checks out, watching
//! the steps; declined cards and short stock end with exit 5 and nothing charged; the
//! orders that result are listed, read, cancelled and advanced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use predicates::prelude::*;
use support::{ADMIN_EMAIL, Person, Shop, stderr, stdout};

/// Receives `dozens` of Alphonso Mango into a new warehouse, as the admin.
fn stock_mangoes(admin: &Person<'_>, dozens: &str) {
    admin.sign_up(ADMIN_EMAIL);
    let warehouse = admin.add_warehouse("BLR-N");
    admin.receive("alphonso-mango", dozens, &warehouse);
}

/// A signed-in shopper with a default address.
fn shopper<'a>(shop: &'a Shop) -> Person<'a> {
    let asha = shop.person("asha");
    asha.sign_up("asha@example.com");
    asha.mandi(&[
        "addresses",
        "add",
        "--line1",
        "12 MG Road",
        "--city",
        "Bengaluru",
        "--postal-code",
        "560001",
        "--recipient",
        "Asha Rao",
        "--phone",
        "+919812345678",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains("your default"));
    asha
}

/// A shop with `stock` dozen mangoes and a shopper with `wanted` dozen in the cart.
fn ready_to_check_out<'a>(shop: &'a Shop, stock: &str, wanted: &str) -> Person<'a> {
    stock_mangoes(&shop.person("admin"), stock);
    let asha = shopper(shop);
    asha.mandi(&["cart", "add", "alphonso-mango", wanted])
        .assert()
        .success();
    asha
}

#[test]
fn a_checkout_shows_each_step_and_places_a_paid_order() {
    let shop = Shop::start();
    let asha = ready_to_check_out(&shop, "10", "2");

    let placed = asha
        .mandi(&[
            "checkout",
            "--card",
            "4242 4242 4242 4242",
            "--exp",
            "12/39",
        ])
        .assert()
        .success();
    let text = stdout(&placed);
    for step in [
        "started",
        "created",
        "stock reserved",
        "captured",
        "placed: ₹",
    ] {
        assert!(text.contains(step), "{step:?} missing from:\n{text}");
    }
    assert!(
        !text.contains("4242 4242"),
        "the card number is not echoed:\n{text}"
    );

    let orders = asha.json(&["orders", "list"]);
    let order = &orders["orders"][0];
    assert_eq!(order["status"], "ORDER_STATUS_PAID");
    assert_eq!(order["items"][0]["quantity"], 2);
    let order_id = order["id"].as_str().unwrap().to_owned();
    asha.mandi(&["orders", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(order_id.as_str()))
        .stdout(predicate::str::contains("paid"));
    asha.mandi(&["orders", "get", &order_id])
        .assert()
        .success()
        .stdout(predicate::str::contains("Alphonso Mango"))
        .stdout(predicate::str::contains("2 dozen"))
        .stdout(predicate::str::contains("card"));
    asha.mandi(&["cart", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("your cart is empty"));

    // The order and payment notices reach the shopper (notification consumes the events).
    let mut notices = serde_json::Value::Null;
    for _ in 0..100 {
        notices = asha.json(&["notifications", "list"]);
        let templates: Vec<&str> = notices["deliveries"]
            .as_array()
            .map(|d| d.iter().filter_map(|d| d["template"].as_str()).collect())
            .unwrap_or_default();
        if templates.contains(&"order_placed") && templates.contains(&"payment_confirmed") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        notices.to_string().contains("payment_confirmed"),
        "no payment notice: {notices}"
    );
    asha.mandi(&["notifications", "list", "--template", "order_placed"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("order placed").or(predicate::str::contains("order_placed")),
        )
        .stdout(predicate::str::contains("sent"));

    // The admin packs it; the shopper can no longer cancel it.
    let admin = shop.person("admin");
    let packed = admin.json(&[
        "orders", "advance", &order_id, "packed", "--reason", "picked",
    ]);
    assert_eq!(packed["status"], "ORDER_STATUS_PACKED");
    let refused = asha
        .mandi(&["orders", "cancel", &order_id])
        .assert()
        .code(5);
    assert!(
        stderr(&refused).starts_with("error: cancel order"),
        "{}",
        stderr(&refused)
    );
    let illegal = admin
        .mandi(&["orders", "advance", &order_id, "created"])
        .assert()
        .code(5);
    assert!(stderr(&illegal).contains("PACKED"), "{}", stderr(&illegal));
}

#[test]
fn cash_on_delivery_orders_can_be_cancelled_by_the_shopper() {
    let shop = Shop::start();
    let asha = ready_to_check_out(&shop, "5", "1");
    let checkout = asha
        .mandi(&["--output", "json", "checkout", "--cod"])
        .assert()
        .success();
    // JSON mode: the steps go to stderr, the final checkout to stdout.
    let json: serde_json::Value = serde_json::from_str(&stdout(&checkout)).unwrap();
    assert_eq!(json["state"], "CHECKOUT_STATE_COMPLETED");
    assert_eq!(json["payment_method"], "PAYMENT_METHOD_CASH_ON_DELIVERY");
    assert!(
        stderr(&checkout).contains("started"),
        "{}",
        stderr(&checkout)
    );
    let order_id = json["order_id"].as_str().unwrap().to_owned();

    asha.mandi(&["orders", "cancel", &order_id, "--reason", "changed my mind"])
        .assert()
        .success()
        .stdout(predicate::str::contains("cancelled"))
        .stdout(predicate::str::contains("changed my mind"));
}

#[test]
fn a_declined_card_exits_5_and_charges_nothing() {
    let shop = Shop::start();
    let asha = ready_to_check_out(&shop, "5", "1");

    let declined = asha
        .mandi(&["checkout", "--card", "4000000000000002", "--exp", "12/39"])
        .assert()
        .code(5);
    let text = stderr(&declined);
    assert!(text.starts_with("error: checkout "), "{text}");
    assert!(text.contains("declined"), "{text}");
    assert!(text.contains("nothing was charged"), "{text}");
    assert!(stdout(&declined).contains("undo") || stdout(&declined).contains("released"));

    // The cart is still there, and the order is cancelled.
    asha.mandi(&["cart", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Alphonso Mango"));
    let orders = asha.json(&["orders", "list"]);
    assert_eq!(orders["orders"][0]["status"], "ORDER_STATUS_CANCELLED");
}

#[test]
fn short_stock_exits_5_naming_what_is_missing() {
    let shop = Shop::start();
    let asha = ready_to_check_out(&shop, "1", "3");
    let short = asha.mandi(&["checkout", "--cod"]).assert().code(5);
    let text = stderr(&short);
    assert!(text.contains("not enough stock"), "{text}");
    assert!(text.contains("available 1"), "{text}");
}

#[test]
fn checkout_input_errors_say_what_to_fix() {
    let shop = Shop::start();
    let nobody = shop.person("nobody");
    nobody.sign_up("nobody@example.com");
    // No saved address and no --address.
    let no_address = nobody.mandi(&["checkout", "--cod"]).assert().code(5);
    assert!(
        stderr(&no_address).contains("mandi addresses add"),
        "{}",
        stderr(&no_address)
    );

    let asha = shopper(&shop);
    let empty = asha.mandi(&["checkout", "--cod"]).assert().code(5);
    assert!(
        stderr(&empty).contains("cart is empty"),
        "{}",
        stderr(&empty)
    );
    let bad_expiry = asha
        .mandi(&["checkout", "--card", "4242424242424242", "--exp", "13/30"])
        .assert()
        .code(5);
    assert!(stderr(&bad_expiry).contains("exp: month must be 01 to 12"));
    let bad_card = asha
        .mandi(&["checkout", "--card", "4242-abcd", "--exp", "12/30"])
        .assert()
        .code(5);
    assert!(stderr(&bad_card).contains("card: expected the card number's digits"));
}
