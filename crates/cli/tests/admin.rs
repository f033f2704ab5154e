//! An operator's commands through the real `mandi` binary: warehouses, receiving and
//! adjusting stock, low stock, moving orders; and a shopper refused them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use predicates::prelude::*;
use support::{ADMIN_EMAIL, Shop, stderr};

#[test]
fn an_admin_receives_adjusts_and_reads_stock() {
    let shop = Shop::start();
    shop.sign_up(ADMIN_EMAIL);
    shop.mandi(&["whoami"])
        .assert()
        .success()
        .stdout(predicate::str::contains("admin"));

    let admin = shop.person("me");
    let warehouse_id = admin.add_warehouse("BLR-N");
    shop.mandi(&["inventory", "warehouses", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("BLR-N"))
        .stdout(predicate::str::contains("Bengaluru North"));

    let text = admin.receive("alphonso-mango", "10", &warehouse_id);
    assert!(text.contains("10 dozen"), "{text}");
    let batch_id = text
        .lines()
        .find_map(|l| l.strip_prefix("batch"))
        .map(|rest| rest.trim().to_owned())
        .unwrap();

    shop.mandi(&["inventory", "stock", "alphonso-mango"])
        .assert()
        .success()
        .stdout(predicate::str::contains("10 dozen"));

    let adjusted = shop.json(&[
        "inventory",
        "adjust",
        &batch_id,
        "-3",
        "--reason",
        "spoiled",
    ]);
    assert_eq!(adjusted["batch"]["on_hand_quantity"], 7);
    assert_eq!(adjusted["adjustment"]["delta_quantity"], -3);
    assert_eq!(
        adjusted["adjustment"]["reason"],
        "ADJUSTMENT_REASON_SPOILED"
    );
    let stock = shop.json(&["inventory", "stock", "alphonso-mango"]);
    assert_eq!(stock["available_quantity"], 7);

    // Stock shows on the shopper's cart line now.
    shop.mandi(&["cart", "add", "alphonso-mango", "9"])
        .assert()
        .success()
        .stdout(predicate::str::contains("only 7 dozen in stock"));

    let zero = shop
        .mandi(&["inventory", "adjust", &batch_id, "0", "--reason", "lost"])
        .assert()
        .code(5);
    assert!(stderr(&zero).contains("delta: must not be 0"));

    shop.mandi(&["inventory", "low-stock"]).assert().success();
    let low = shop.json(&["inventory", "low-stock"]);
    assert!(low["products"].is_array(), "{low}");
}

#[test]
fn an_admin_moving_an_unknown_order_gets_not_found() {
    let shop = Shop::start();
    shop.sign_up(ADMIN_EMAIL);
    shop.mandi(&["orders", "list"]).assert().success();
    let missing = shop
        .mandi(&[
            "orders",
            "advance",
            "01a232e0-e3ae-745b-b8a4-000000000000",
            "packed",
            "--reason",
            "picked",
        ])
        .assert()
        .code(4);
    let text = stderr(&missing);
    assert!(text.starts_with("error: move order 01a232e0"), "{text}");
    assert!(text.contains("not found"), "{text}");
}

#[test]
fn a_shopper_is_refused_the_operators_commands() {
    let shop = Shop::start();
    shop.sign_up("shopper@example.com");
    let refused = shop.mandi(&["inventory", "low-stock"]).assert().code(3);
    let text = stderr(&refused);
    assert!(text.contains("not allowed"), "{text}");
    assert!(text.contains("admin"), "{text}");

    let refused = shop
        .mandi(&[
            "orders",
            "advance",
            "01a232e0-e3ae-745b-b8a4-000000000000",
            "packed",
        ])
        .assert()
        .code(3);
    let text = stderr(&refused);
    assert!(text.contains("not allowed"), "{text}");
}
