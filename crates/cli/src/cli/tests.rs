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

#[test]
fn delivery_slots_take_a_saved_address_or_a_postal_code() {
    let cli = parse(&["delivery", "slots", "--days", "3", "--cold-chain"]).unwrap();
    match cli.command {
        Command::Delivery(DeliveryCommand::Slots(args)) => {
            assert_eq!(args.days, 3);
            assert!(args.cold_chain);
            assert_eq!(args.destination.address, None);
            assert_eq!(args.destination.postal_code, None);
        }
        other => panic!("{other:?}"),
    }
    let cli = parse(&["delivery", "slots", "--postal-code", "560001"]).unwrap();
    match cli.command {
        Command::Delivery(DeliveryCommand::Slots(args)) => {
            assert_eq!(args.destination.postal_code.as_deref(), Some("560001"));
            assert_eq!(args.destination.country, "IN");
            assert_eq!(args.days, 7);
        }
        other => panic!("{other:?}"),
    }
    let both = parse(&[
        "delivery",
        "slots",
        "--address",
        "a1",
        "--postal-code",
        "560001",
    ])
    .unwrap_err();
    assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
    // A country alone says nothing about where.
    assert!(parse(&["delivery", "slots", "--country", "IN"]).is_err());
}

#[test]
fn delivery_track_takes_any_of_order_shipment_or_tracking_code() {
    let cli = parse(&["delivery", "track", "MND-7K3Q9"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::Delivery(DeliveryCommand::Track { shipment }) if shipment == "MND-7K3Q9"
    ));
    assert_eq!(parse(&["delivery", "track"]).unwrap_err().exit_code(), 2);
}

#[test]
fn rider_deliver_takes_the_code_and_the_cash() {
    let cli = parse(&[
        "rider",
        "deliver",
        "s1",
        "--code",
        "482913",
        "--cash",
        "250",
        "--at",
        "12.97,77.59",
    ])
    .unwrap();
    match cli.command {
        Command::Rider(RiderCommand::Deliver {
            shipment,
            code,
            cash,
        }) => {
            assert_eq!(shipment.shipment, "s1");
            assert_eq!(shipment.at.as_deref(), Some("12.97,77.59"));
            assert_eq!(code.as_deref(), Some("482913"));
            assert_eq!(cash.as_deref(), Some("250"));
        }
        other => panic!("{other:?}"),
    }
    // A failed attempt says why.
    assert!(parse(&["rider", "fail", "s1"]).is_err());
    assert!(parse(&["rider", "fail", "s1", "--note", "nobody home"]).is_ok());
}

#[test]
fn rider_location_accepts_negative_degrees_and_a_rider_id() {
    let cli = parse(&["rider", "location", "-12.5", "-77.25", "--rider", "r1"]).unwrap();
    match cli.command {
        Command::Rider(RiderCommand::Location {
            latitude,
            longitude,
            rider,
        }) => {
            assert_eq!(latitude, "-12.5");
            assert_eq!(longitude, "-77.25");
            assert_eq!(rider.rider.as_deref(), Some("r1"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rider_status_and_shipment_filters_spell_in_kebab_case() {
    let cli = parse(&["rider", "status", "off-duty"]).unwrap();
    assert!(matches!(
        cli.command,
        Command::Rider(RiderCommand::Status {
            status: RiderStatusArg::OffDuty,
            ..
        })
    ));
    let cli = parse(&["rider", "shipments", "--status", "out-for-delivery"]).unwrap();
    match cli.command {
        Command::Rider(RiderCommand::Shipments { status, all }) => {
            assert_eq!(status, vec![ShipmentStatusArg::OutForDelivery]);
            assert!(!all);
        }
        other => panic!("{other:?}"),
    }
    assert!(parse(&["rider", "status", "asleep"]).is_err());
    assert!(parse(&["rider", "shipments", "--all", "--status", "pending"]).is_err());
}

#[test]
fn rider_add_needs_a_user_name_and_phone() {
    let cli = parse(&[
        "rider",
        "add",
        "--user",
        "u1",
        "--name",
        "Ravi",
        "--phone",
        "+919800000001",
        "--cold-chain",
        "--zone",
        "blr-north",
        "--zone",
        "blr-east",
    ])
    .unwrap();
    match cli.command {
        Command::Rider(RiderCommand::Add(args)) => {
            assert_eq!(args.vehicle, VehicleArg::Motorcycle);
            assert_eq!(args.max_load, "20kg");
            assert!(args.cold_chain);
            assert_eq!(args.zones, vec!["blr-north", "blr-east"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(parse(&["rider", "add", "--user", "u1"]).is_err());
}
