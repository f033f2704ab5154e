use clap::{CommandFactory, Parser};

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("mandi").chain(args.iter().copied()))
}

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn global_flags_go_anywhere_and_default_to_table() {
    let cli = parse(&[
        "cart",
        "show",
        "--output",
        "json",
        "--endpoint",
        "http://x:1",
    ])
    .unwrap();
    assert_eq!(cli.global.output, OutputFormat::Json);
    assert_eq!(cli.global.endpoint.as_deref(), Some("http://x:1"));
    assert!(matches!(cli.command, Command::Cart(CartCommand::Show)));
    let cli = parse(&["-o", "table", "whoami"]).unwrap();
    assert_eq!(cli.global.output, OutputFormat::Table);
}

#[test]
fn cart_add_takes_a_product_and_a_raw_quantity() {
    let cli = parse(&["cart", "add", "alphonso-mango", "-1"]).unwrap();
    match cli.command {
        Command::Cart(CartCommand::Add { product, quantity }) => {
            assert_eq!(product, "alphonso-mango");
            // Validated by the command (exit 5 naming `quantity`), not by clap (exit 2).
            assert_eq!(quantity, "-1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn checkout_needs_exactly_one_payment_method() {
    let card = parse(&[
        "checkout",
        "--address",
        "a",
        "--slot",
        "s",
        "--card",
        "4242424242424242",
        "--exp",
        "12/30",
    ])
    .unwrap();
    match card.command {
        Command::Checkout(args) => {
            assert_eq!(args.card.as_deref(), Some("4242424242424242"));
            assert_eq!(args.exp.as_deref(), Some("12/30"));
            assert!(!args.cod);
        }
        other => panic!("{other:?}"),
    }
    assert!(parse(&["checkout", "--address", "a", "--slot", "s", "--cod"]).is_ok());
    let neither = parse(&["checkout", "--address", "a", "--slot", "s"]).unwrap_err();
    assert_eq!(neither.exit_code(), 2);
    let both = parse(&[
        "checkout",
        "--address",
        "a",
        "--slot",
        "s",
        "--cod",
        "--card",
        "4242",
        "--exp",
        "1/30",
    ])
    .unwrap_err();
    assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
    let no_expiry = parse(&[
        "checkout",
        "--address",
        "a",
        "--slot",
        "s",
        "--card",
        "4242",
    ]);
    assert!(no_expiry.is_err());
}

#[test]
fn orders_advance_spells_statuses_in_kebab_case() {
    let cli = parse(&[
        "orders",
        "advance",
        "o1",
        "payment-pending",
        "--reason",
        "x",
    ])
    .unwrap();
    match cli.command {
        Command::Orders(OrdersCommand::Advance { id, status, reason }) => {
            assert_eq!(id, "o1");
            assert_eq!(status, OrderStatusArg::PaymentPending);
            assert_eq!(reason, "x");
        }
        other => panic!("{other:?}"),
    }
    assert!(parse(&["orders", "advance", "o1", "teleported"]).is_err());
}

#[test]
fn inventory_adjust_accepts_negative_deltas() {
    let cli = parse(&["inventory", "adjust", "b1", "-500", "--reason", "spoiled"]).unwrap();
    match cli.command {
        Command::Inventory(InventoryCommand::Adjust(args)) => {
            assert_eq!(args.delta, "-500");
            assert_eq!(args.reason, AdjustReasonArg::Spoiled);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn usage_errors_exit_with_2() {
    assert_eq!(parse(&["cart", "add"]).unwrap_err().exit_code(), 2);
    assert_eq!(parse(&["fly"]).unwrap_err().exit_code(), 2);
    assert_eq!(parse(&["-o", "yaml", "whoami"]).unwrap_err().exit_code(), 2);
}

#[test]
fn the_help_documents_the_exit_codes() {
    let help = Cli::command().render_long_help().to_string();
    for line in [
        "3  not logged in",
        "4  not found",
        "5  refused",
        "6  the server is unavailable",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
}
