use super::*;

fn money(code: &str, amount_minor: i64) -> Money {
    Money {
        currency_code: code.into(),
        amount_minor,
    }
}

#[test]
fn rupees_print_with_symbol_paise_and_lakh_grouping() {
    assert_eq!(format_money(&money("INR", 123_450)), "₹1,234.50");
    assert_eq!(format_money(&money("INR", 5)), "₹0.05");
    assert_eq!(format_money(&money("INR", 0)), "₹0.00");
    assert_eq!(format_money(&money("INR", 12_345_600)), "₹1,23,456.00");
    assert_eq!(
        format_money(&money("INR", 1_234_567_890)),
        "₹1,23,45,678.90"
    );
}

#[test]
fn other_currencies_group_by_thousands_and_know_their_decimals() {
    assert_eq!(format_money(&money("USD", 123_456_789)), "$1,234,567.89");
    assert_eq!(format_money(&money("eur", 100)), "€1.00");
    assert_eq!(format_money(&money("JPY", 1500)), "¥1,500");
    assert_eq!(format_money(&money("KWD", 1500)), "KWD 1.500");
    assert_eq!(format_money(&money("CHF", 99)), "CHF 0.99");
}

#[test]
fn negative_amounts_keep_their_sign_in_front() {
    assert_eq!(format_money(&money("INR", -1250)), "-₹12.50");
    assert_eq!(
        format_money(&money("INR", i64::MIN)).chars().next(),
        Some('-')
    );
}

#[test]
fn unset_money_prints_a_dash() {
    assert_eq!(format_optional(None), "-");
}

#[test]
fn quantities_read_in_the_products_unit() {
    assert_eq!(format_quantity(250, UnitOfSale::Kilogram), "250 g");
    assert_eq!(format_quantity(1500, UnitOfSale::Kilogram), "1.5 kg");
    assert_eq!(format_quantity(2000, UnitOfSale::HundredGrams), "2 kg");
    assert_eq!(format_quantity(1250, UnitOfSale::Kilogram), "1.25 kg");
    assert_eq!(format_quantity(1, UnitOfSale::Piece), "1 piece");
    assert_eq!(format_quantity(3, UnitOfSale::Bunch), "3 bunches");
    assert_eq!(format_quantity(2, UnitOfSale::Dozen), "2 dozen");
}

#[test]
fn unit_prices_name_their_unit() {
    let price = money("INR", 12_000);
    assert_eq!(
        format_unit_price(Some(&price), UnitOfSale::Kilogram),
        "₹120.00/kg"
    );
    assert_eq!(
        format_unit_price(Some(&price), UnitOfSale::HundredGrams),
        "₹120.00/100 g"
    );
    assert_eq!(format_unit_price(None, UnitOfSale::Dozen), "-/dozen");
}

#[test]
fn quantities_parse_as_counts_grams_or_kilograms() {
    assert_eq!(parse_quantity("2"), Ok(QuantityInput::Plain(2)));
    assert_eq!(parse_quantity("+3"), Ok(QuantityInput::Plain(3)));
    assert_eq!(parse_quantity("500g"), Ok(QuantityInput::Grams(500)));
    assert_eq!(parse_quantity("1.5kg"), Ok(QuantityInput::Grams(1500)));
    assert_eq!(parse_quantity("0.25 KG"), Ok(QuantityInput::Grams(250)));
    assert_eq!(parse_quantity(".5kg"), Ok(QuantityInput::Grams(500)));
}

#[test]
fn zero_negative_and_garbage_quantities_are_refused() {
    assert_eq!(
        parse_quantity("0"),
        Err("must be greater than 0".to_owned())
    );
    assert_eq!(
        parse_quantity("-1"),
        Err("must be greater than 0".to_owned())
    );
    assert!(parse_quantity("two").unwrap_err().contains("whole number"));
    assert!(parse_quantity("1.2345kg").unwrap_err().contains("weight"));
    assert!(parse_quantity("1.5g").unwrap_err().contains("weight"));
    assert!(parse_quantity("kg").unwrap_err().contains("weight"));
}

#[test]
fn weights_are_only_for_weight_priced_products() {
    assert_eq!(
        quantity_for(QuantityInput::Grams(500), UnitOfSale::Kilogram),
        Ok(500)
    );
    assert_eq!(
        quantity_for(QuantityInput::Plain(2), UnitOfSale::Dozen),
        Ok(2)
    );
    assert!(
        quantity_for(QuantityInput::Grams(500), UnitOfSale::Dozen)
            .unwrap_err()
            .contains("sold by the dozen")
    );
}

#[test]
fn amounts_parse_into_minor_units_of_the_currency() {
    let inr = |minor| Money {
        currency_code: "INR".into(),
        amount_minor: minor,
    };
    assert_eq!(parse_amount("250", "INR"), Ok(inr(25_000)));
    assert_eq!(parse_amount("250.5", "inr"), Ok(inr(25_050)));
    assert_eq!(parse_amount("₹1,250.75", "INR"), Ok(inr(125_075)));
    assert_eq!(parse_amount("INR 10", "INR"), Ok(inr(1_000)));
    assert_eq!(parse_amount("500", "JPY").map(|m| m.amount_minor), Ok(500));
}

#[test]
fn bad_amounts_say_the_format() {
    for bad in ["-5", "2.505", "lots", "", "1.2.3", "+3"] {
        let error = parse_amount(bad, "INR").unwrap_err();
        assert!(error.contains("250.00"), "{bad:?}: {error}");
    }
}
