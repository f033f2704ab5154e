use mandi_sdk::proto::mandi::common::v1::Money;

use super::*;

fn cod(amount_minor: i64) -> Shipment {
    Shipment {
        id: "s1".into(),
        tracking_code: "MND-7K3Q9".into(),
        status: ShipmentStatus::OutForDelivery as i32,
        weight_grams: 2_500,
        cash_to_collect: Some(Money {
            currency_code: "INR".into(),
            amount_minor,
        }),
        ..Default::default()
    }
}

fn message(error: anyhow::Error) -> String {
    error
        .downcast_ref::<CliError>()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| format!("{error:#}"))
}

#[test]
fn delivery_codes_are_six_digits_as_read_out() {
    assert_eq!(parse_code("482913"), Ok("482913".to_owned()));
    assert_eq!(parse_code("482 913"), Ok("482913".to_owned()));
    assert_eq!(parse_code("48-29-13"), Ok("482913".to_owned()));
    for bad in ["48291", "4829134", "48291x", ""] {
        assert!(parse_code(bad).unwrap_err().contains("6 digits"), "{bad:?}");
    }
}

#[test]
fn cash_on_delivery_needs_the_cash_collected() {
    let shipment = cod(25_000);
    let missing = cash_collected(&shipment, ShipmentStatus::Delivered, None).unwrap_err();
    assert_eq!(
        message(missing),
        "cash: collect ₹250.00 at the door and pass --cash with the amount"
    );
    let given = cash_collected(&shipment, ShipmentStatus::Delivered, Some("250")).unwrap();
    assert_eq!(given.map(|m| m.amount_minor), Some(25_000));
    let bad = cash_collected(&shipment, ShipmentStatus::Delivered, Some("lots")).unwrap_err();
    assert!(message(bad).starts_with("cash: expected an amount"));
    // Only delivering asks for it.
    assert_eq!(
        cash_collected(&shipment, ShipmentStatus::PickedUp, None).unwrap(),
        None
    );
}

#[test]
fn a_paid_order_delivers_without_cash() {
    assert_eq!(
        cash_collected(&cod(0), ShipmentStatus::Delivered, None).unwrap(),
        None
    );
    assert_eq!(
        cash_collected(&Shipment::default(), ShipmentStatus::Delivered, None).unwrap(),
        None
    );
}

#[test]
fn the_work_list_shows_cold_chain_cash_and_what_to_accept() {
    let mut cold = cod(25_000);
    cold.cold_chain = true;
    cold.status = ShipmentStatus::Assigned as i32;
    let table = shipments_table(&[cold, cod(0)]).render();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[1].contains("assigned: accept?"), "{table}");
    assert!(lines[1].contains("COLD CHAIN"), "{table}");
    assert!(lines[1].contains("collect ₹250.00"), "{table}");
    assert!(lines[1].contains("2.5 kg"), "{table}");
    assert!(lines[2].contains("out for delivery"), "{table}");
    assert!(!lines[2].contains("collect"), "{table}");
}

#[test]
fn rider_statuses_and_vehicles_map_to_the_contract() {
    assert_eq!(
        rider_status(RiderStatusArg::Available),
        RiderStatus::Available
    );
    assert_eq!(rider_status(RiderStatusArg::OffDuty), RiderStatus::OffDuty);
    assert_eq!(vehicle(VehicleArg::ThreeWheeler), VehicleType::ThreeWheeler);
}
