//! What `mandi` says and which exit code it ends with when something is wrong: every
//! message says what to do, none is a debug dump.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use assert_cmd::Command;
use predicates::prelude::*;
use support::{Shop, stderr};

/// The binary with a config of its own and no server behind the endpoint.
fn offline(dir: &tempfile::TempDir, args: &[&str]) -> Command {
    let mut command = Command::cargo_bin("mandi").unwrap();
    command
        .args(args)
        .env("MANDI_CONFIG", dir.path().join("config.toml"))
        .env_remove("MANDI_ENDPOINT")
        .env_remove("MANDI_TOKEN");
    command
}

/// Asserts a readable error: one `error:` line of prose, no Rust debug output.
fn assert_readable(text: &str) {
    assert!(text.starts_with("error: "), "{text}");
    for dump in [
        "Status {",
        "code:",
        "metadata",
        "MetadataMap",
        "source:",
        "panicked",
    ] {
        assert!(!text.contains(dump), "debug output {dump:?} in: {text}");
    }
}

#[test]
fn an_unknown_product_exits_4_and_says_how_to_find_one() {
    let shop = Shop::start();
    let by_slug = shop
        .mandi(&["cart", "add", "dragon-pearls", "1"])
        .assert()
        .code(4);
    let text = stderr(&by_slug);
    assert_readable(&text);
    assert!(
        text.contains("product \"dragon-pearls\" not found"),
        "{text}"
    );
    assert!(text.contains("mandi catalog search"), "{text}");

    let by_id = shop
        .mandi(&["catalog", "get", "01a232e0-e3ae-745b-b8a4-000000000000"])
        .assert()
        .code(4);
    let text = stderr(&by_id);
    assert_readable(&text);
    assert!(text.contains("not found"), "{text}");
}

#[test]
fn a_bad_quantity_exits_5_naming_quantity() {
    let shop = Shop::start();
    for quantity in ["0", "-2", "lots"] {
        let refused = shop
            .mandi(&["cart", "add", "alphonso-mango", quantity])
            .assert()
            .code(5);
        let text = stderr(&refused);
        assert_readable(&text);
        assert!(text.starts_with("error: quantity: "), "{quantity}: {text}");
    }
    let zero = shop
        .mandi(&["cart", "add", "alphonso-mango", "0"])
        .assert()
        .code(5);
    assert!(stderr(&zero).contains("quantity: must be greater than 0"));

    // Weights for a product sold by the dozen are refused here, ...
    let weight = shop
        .mandi(&["cart", "add", "alphonso-mango", "500g"])
        .assert()
        .code(5);
    assert!(
        stderr(&weight).contains("sold by the dozen"),
        "{}",
        stderr(&weight)
    );

    // ... and the server's field violation for a step it does not sell is shown as is:
    // Kesar Mango comes in steps of 250 g.
    let step = shop
        .mandi(&["cart", "add", "kesar-mango", "100g"])
        .assert()
        .code(5);
    let text = stderr(&step);
    assert_readable(&text);
    assert!(text.contains("quantity: "), "{text}");
    assert!(text.contains("250"), "{text}");
}

#[test]
fn commands_that_need_an_account_exit_3_with_the_login_hint() {
    let shop = Shop::start();
    for args in [
        vec!["whoami"],
        vec!["orders", "list"],
        vec!["orders", "get", "01a232e0-e3ae-745b-b8a4-000000000000"],
        vec!["checkout", "--address", "a", "--slot", "s", "--cod"],
        vec!["inventory", "low-stock"],
    ] {
        let refused = shop.mandi(&args).assert().code(3);
        let text = stderr(&refused);
        assert_readable(&text);
        assert!(
            text.contains("not logged in: run `mandi login"),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn a_token_the_server_refuses_exits_3_with_the_login_hint() {
    let shop = Shop::start();
    let refused = shop
        .mandi(&["--token", "not-a-jwt", "whoami"])
        .assert()
        .code(3);
    let text = stderr(&refused);
    assert_readable(&text);
    assert!(text.contains("run `mandi login` again"), "{text}");
}

#[test]
fn a_wrong_password_exits_3() {
    let shop = Shop::start();
    shop.sign_up("careful@example.com");
    let refused = shop
        .mandi(&[
            "login",
            "--email",
            "careful@example.com",
            "--password-stdin",
        ])
        .write_stdin("wrong horse\n")
        .assert()
        .code(3);
    let text = stderr(&refused);
    assert_readable(&text);
    assert!(text.contains("check both and try again"), "{text}");
}

#[test]
fn a_server_that_is_down_exits_6_and_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, note it, free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let down = offline(
        &dir,
        &["--endpoint", &endpoint, "catalog", "search", "mango"],
    )
    .assert()
    .code(6);
    let text = stderr(&down);
    assert_readable(&text);
    assert!(
        text.contains(&format!("cannot reach the mandi server at {endpoint}")),
        "{text}"
    );
    assert!(text.contains("--endpoint"), "{text}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    offline(&dir, &["cart", "add"]).assert().code(2);
    offline(&dir, &["checkout", "--address", "a", "--slot", "s"])
        .assert()
        .code(2);
    offline(
        &dir,
        &["--endpoint", "ftp://example.com", "catalog", "search", "x"],
    )
    .assert()
    .code(2)
    .stderr(predicate::str::contains("give an http:// URL"));
    // No terminal, no --password-stdin, no MANDI_PASSWORD.
    offline(&dir, &["login", "--email", "a@example.com"])
        .env_remove("MANDI_PASSWORD")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--password-stdin"));
}

#[test]
fn a_broken_config_file_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "endpont = \"http://x\"\n").unwrap();
    let broken = offline(&dir, &["cart", "show"]).assert().code(1);
    let text = stderr(&broken);
    assert!(text.contains("config.toml is not valid"), "{text}");
    assert!(text.contains("endpont"), "{text}");
}

#[test]
fn the_help_lists_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    offline(&dir, &["--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes:"))
        .stdout(predicate::str::contains("6  the server is unavailable"));
}

#[test]
fn completions_print_a_script_for_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    offline(&dir, &["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_mandi()"))
        .stdout(predicate::str::contains("checkout"));
    offline(&dir, &["completions", "zsh"])
        .assert()
        .success()
        .stdout(predicate::str::contains("#compdef mandi"));
}
