//! A shopper's session through the real `mandi` binary against `mandi-server
//! --target=all`: account, catalog, guest cart merged on login, totals, orders, JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::os::unix::fs::PermissionsExt;

use predicates::prelude::*;
use support::{Shop, stdout};

#[test]
fn register_login_and_whoami_show_the_account() {
    let shop = Shop::start();
    shop.mandi(&[
        "register",
        "--name",
        "Asha Rao",
        "--email",
        "asha@example.com",
        "--password-stdin",
    ])
    .write_stdin("correct horse\n")
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "registered Asha Rao <asha@example.com> as customer",
    ));

    let login = shop.login("asha@example.com");
    assert!(
        login.contains("logged in as Asha Rao <asha@example.com> (customer)"),
        "{login}"
    );

    shop.mandi(&["whoami"])
        .assert()
        .success()
        .stdout(predicate::str::contains("asha@example.com"))
        .stdout(predicate::str::contains("customer"));
}

#[test]
fn the_config_file_keeps_the_session_with_0600_permissions() {
    let shop = Shop::start();
    shop.sign_up("priya@example.com");

    let path = shop.config_path();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} has mode {mode:o}", path.display());
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("[session]") && text.contains("access_token"),
        "{text}"
    );
    assert!(
        !text.contains("correct horse"),
        "the password is never stored"
    );

    shop.mandi(&["logout"])
        .assert()
        .success()
        .stdout(predicate::str::contains("logged out priya@example.com"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("access_token"), "{text}");
    shop.mandi(&["whoami"]).assert().code(3);
}

#[test]
fn catalog_search_shows_the_demo_alphonso_mango() {
    let shop = Shop::start();
    shop.mandi(&["catalog", "search", "alphonso"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Alphonso Mango"))
        .stdout(predicate::str::contains("₹"))
        .stdout(predicate::str::contains("/dozen"))
        .stdout(predicate::str::contains("alphonso-mango"));

    // By slug and by id, the same product.
    let by_slug = shop.json(&["catalog", "get", "alphonso-mango"]);
    assert_eq!(by_slug["display_name"], "Alphonso Mango");
    let id = by_slug["id"].as_str().unwrap().to_owned();
    shop.mandi(&["catalog", "get", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("Alphonso Mango"))
        .stdout(predicate::str::contains("alphonso-mango"));
}

#[test]
fn a_guest_cart_is_remembered_and_merged_on_login() {
    let shop = Shop::start();
    shop.mandi(&[
        "register",
        "--name",
        "Guest",
        "--email",
        "guest@example.com",
        "--password-stdin",
    ])
    .write_stdin("correct horse\n")
    .assert()
    .success();

    // Logged out: a guest cart, its id kept in the config file.
    shop.mandi(&["cart", "add", "alphonso-mango", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Alphonso Mango"))
        .stdout(predicate::str::contains("guest cart"));
    shop.mandi(&["cart", "add", "kesar-mango", "1.5kg"])
        .assert()
        .success();
    let config = std::fs::read_to_string(shop.config_path()).unwrap();
    assert!(config.contains("guest_cart_id"), "{config}");
    shop.mandi(&["cart", "show"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1.5 kg"));

    let login = shop.login("guest@example.com");
    assert!(
        login.contains("merged your guest cart: 2 products"),
        "{login}"
    );
    let config = std::fs::read_to_string(shop.config_path()).unwrap();
    assert!(!config.contains("guest_cart_id"), "{config}");

    // The account's cart holds both lines with their totals: 2 dozen at ₹1,200.00 and
    // 1.5 kg at ₹220.00/kg.
    let show = shop.mandi(&["cart", "show"]).assert().success();
    let text = stdout(&show);
    for expected in [
        "Alphonso Mango",
        "2 dozen",
        "₹1,200.00/dozen",
        "₹2,400.00",
        "Kesar Mango",
        "1.5 kg",
        "₹330.00",
        "subtotal",
        "₹2,730.00",
        "total",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(!text.contains("guest cart"), "{text}");

    let cart = shop.json(&["cart", "show"]);
    assert_eq!(cart["item_count"], 2);
    assert_eq!(cart["totals"]["total"]["amount_minor"], 273_000);
    assert_eq!(cart["totals"]["total"]["currency_code"], "INR");
    assert!(!cart["user_id"].as_str().unwrap().is_empty());
}

#[test]
fn cart_remove_drops_the_line() {
    let shop = Shop::start();
    shop.sign_up("remover@example.com");
    shop.mandi(&["cart", "add", "alphonso-mango", "1"])
        .assert()
        .success();
    shop.mandi(&["cart", "add", "watermelon", "2"])
        .assert()
        .success();

    shop.mandi(&["cart", "remove", "alphonso-mango"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Watermelon"))
        .stdout(predicate::str::contains("Alphonso").not());
    shop.mandi(&["cart", "remove", "watermelon"])
        .assert()
        .success()
        .stdout(predicate::str::contains("your cart is empty"));
}

#[test]
fn json_output_parses_as_the_protobuf_messages() {
    let shop = Shop::start();
    let search = shop.json(&["catalog", "search", "mango"]);
    let products = search["products"].as_array().unwrap();
    assert!(
        products.iter().any(|p| p["slug"] == "alphonso-mango"),
        "{search}"
    );
    let mango = products
        .iter()
        .find(|p| p["slug"] == "alphonso-mango")
        .unwrap();
    assert_eq!(mango["unit_of_sale"], "UNIT_OF_SALE_DOZEN");
    assert!(mango["price"]["amount_minor"].as_i64().unwrap() > 0);

    shop.sign_up("json@example.com");
    let me = shop.json(&["whoami"]);
    assert_eq!(me["email"], "json@example.com");
    assert_eq!(me["role"], "ROLE_CUSTOMER");
    let cart = shop.json(&["cart", "add", "watermelon", "1"]);
    assert_eq!(cart["items"][0]["quantity"], 1);
    assert_eq!(cart["items"][0]["product_display_name"], "Watermelon");
    let orders = shop.json(&["orders", "list"]);
    assert_eq!(orders["orders"], serde_json::json!([]));
}

#[test]
fn orders_list_for_a_new_shopper_says_there_are_none() {
    let shop = Shop::start();
    shop.sign_up("fresh@example.com");
    shop.mandi(&["orders", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("no orders yet"));
    shop.mandi(&["orders", "list", "--status", "paid", "--status", "packed"])
        .assert()
        .success();
}

/// Rewrites the stored session's fields.
fn edit_session(shop: &Shop, edit: impl FnOnce(&mut toml::Table)) {
    let path = shop.config_path();
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(config["session"].as_table_mut().unwrap());
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
}

fn stored_session(shop: &Shop) -> Option<toml::Table> {
    let text = std::fs::read_to_string(shop.config_path()).unwrap();
    let config: toml::Table = toml::from_str(&text).unwrap();
    config.get("session").and_then(|s| s.as_table()).cloned()
}

#[test]
fn an_expired_access_token_is_renewed_with_the_refresh_token() {
    let shop = Shop::start();
    shop.sign_up("renew@example.com");
    let before = stored_session(&shop).unwrap();
    edit_session(&shop, |session| {
        session.insert("expires_at".into(), 0.into());
    });

    shop.mandi(&["whoami"])
        .assert()
        .success()
        .stdout(predicate::str::contains("renew@example.com"));
    let after = stored_session(&shop).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(after["expires_at"].as_integer().unwrap() > now, "{after:?}");
    assert_ne!(
        after["refresh_token"], before["refresh_token"],
        "refresh tokens rotate"
    );
}

#[test]
fn a_session_the_server_no_longer_accepts_asks_to_log_in_again() {
    let shop = Shop::start();
    shop.sign_up("stale@example.com");
    edit_session(&shop, |session| {
        session.insert("expires_at".into(), 0.into());
        session.insert("refresh_token".into(), "revoked".into());
    });

    let refused = shop.mandi(&["whoami"]).assert().code(3);
    let text = support::stderr(&refused);
    assert!(
        text.contains("your session expired: run `mandi login"),
        "{text}"
    );
    assert!(
        stored_session(&shop).is_none(),
        "the dead session is forgotten"
    );
}

#[test]
fn the_endpoint_and_password_can_come_from_the_config_file_and_environment() {
    let shop = Shop::start();
    let path = shop.config_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("endpoint = \"{}\"\n", shop.server.url())).unwrap();

    shop.mandi(&["register", "--name", "Env", "--email", "env@example.com"])
        .env_remove("MANDI_ENDPOINT")
        .env("MANDI_PASSWORD", support::PASSWORD)
        .assert()
        .success();
    shop.mandi(&["login", "--email", "env@example.com"])
        .env_remove("MANDI_ENDPOINT")
        .env("MANDI_PASSWORD", support::PASSWORD)
        .assert()
        .success();
    shop.mandi(&["whoami"])
        .env_remove("MANDI_ENDPOINT")
        .assert()
        .success()
        .stdout(predicate::str::contains("env@example.com"));
    // The config keeps its endpoint beside the session.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&shop.server.url()), "{text}");

    // A token from the environment wins over the stored session.
    shop.mandi(&["whoami"])
        .env("MANDI_TOKEN", "not-a-jwt")
        .assert()
        .code(3);
}
