//! Money and quantities as people read them: `₹1,234.50` from integer minor units, and
//! `1.5 kg` or `2 dozen` from a product's unit of sale; `500g`/`1.5kg` parsed back.

use mandi_sdk::proto::mandi::common::v1::{Money, UnitOfSale};

/// `₹1,234.50` (INR groups by lakh: `₹1,23,456.00`), `$12.00`, or `CHF 12.00` for a
/// currency without a symbol here. Minor units are never passed through a float.
pub fn format_money(money: &Money) -> String {
    let code = money.currency_code.to_ascii_uppercase();
    let digits = minor_digits(&code);
    let negative = money.amount_minor < 0;
    let amount = money.amount_minor.unsigned_abs();
    let scale = 10u64.pow(digits);
    let whole = group(amount / scale, code == "INR");
    let number = if digits == 0 {
        whole
    } else {
        format!(
            "{whole}.{:0width$}",
            amount % scale,
            width = digits as usize
        )
    };
    let sign = if negative { "-" } else { "" };
    match symbol(&code) {
        Some(symbol) => format!("{sign}{symbol}{number}"),
        None => format!("{sign}{code} {number}"),
    }
}

/// Money that may be unset on the wire.
pub fn format_optional(money: Option<&Money>) -> String {
    money.map(format_money).unwrap_or_else(|| "-".to_owned())
}

fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "INR" => "₹",
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        _ => return None,
    })
}

/// Digits after the decimal point of a currency (ISO 4217), two unless listed.
fn minor_digits(code: &str) -> u32 {
    match code {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" => 0,
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
        _ => 2,
    }
}

/// Thousands separators; Indian style groups the first three digits, then pairs.
fn group(value: u64, indian: bool) -> String {
    let digits = value.to_string();
    let bytes = digits.as_bytes();
    let mut out = String::new();
    let len = bytes.len();
    for (i, digit) in bytes.iter().enumerate() {
        let left = len - i;
        if i > 0 {
            let comma = if indian {
                left == 3 || (left > 3 && (left - 3).is_multiple_of(2))
            } else {
                left.is_multiple_of(3)
            };
            if comma {
                out.push(',');
            }
        }
        out.push(char::from(*digit));
    }
    out
}

/// Whether quantities of this unit count grams.
fn by_weight(unit: UnitOfSale) -> bool {
    matches!(unit, UnitOfSale::Kilogram | UnitOfSale::HundredGrams)
}

/// A quantity in the product's unit: `250 g`, `1.5 kg`, `2 pieces`, `1 dozen`.
pub fn format_quantity(quantity: i64, unit: UnitOfSale) -> String {
    if by_weight(unit) {
        if quantity.abs() >= 1000 {
            let kg = quantity / 1000;
            let grams = (quantity % 1000).abs();
            let fraction = format!("{grams:03}");
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                format!("{kg} kg")
            } else {
                format!("{kg}.{fraction} kg")
            }
        } else {
            format!("{quantity} g")
        }
    } else {
        let (one, many) = unit_names(unit);
        format!("{quantity} {}", if quantity == 1 { one } else { many })
    }
}

fn unit_names(unit: UnitOfSale) -> (&'static str, &'static str) {
    match unit {
        UnitOfSale::Piece => ("piece", "pieces"),
        UnitOfSale::Bunch => ("bunch", "bunches"),
        UnitOfSale::Dozen => ("dozen", "dozen"),
        _ => ("unit", "units"),
    }
}

/// A unit price: `₹120.00/kg`, `₹40.00/100 g`, `₹600.00/dozen`.
pub fn format_unit_price(price: Option<&Money>, unit: UnitOfSale) -> String {
    let per = match unit {
        UnitOfSale::Kilogram => "kg",
        UnitOfSale::HundredGrams => "100 g",
        UnitOfSale::Piece => "piece",
        UnitOfSale::Bunch => "bunch",
        UnitOfSale::Dozen => "dozen",
        UnitOfSale::Unspecified => return format_optional(price),
    };
    format!("{}/{per}", format_optional(price))
}

/// A quantity as typed: a whole number (the product's own quantity unit), or for
/// weight-priced products grams or kilograms with a suffix (`500g`, `1.5kg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityInput {
    /// A number without a unit.
    Plain(i64),
    /// A weight, converted to grams.
    Grams(i64),
}

/// Parses a quantity; errors say what is wrong, for a message naming `quantity`.
pub fn parse_quantity(text: &str) -> Result<QuantityInput, String> {
    let text = text.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = text.strip_suffix("kg") {
        (n.trim(), Some(1000))
    } else if let Some(n) = text.strip_suffix('g') {
        (n.trim(), Some(1))
    } else {
        (text.as_str(), None)
    };
    let value = match scale {
        None => number
            .strip_prefix('+')
            .unwrap_or(number)
            .parse::<i64>()
            .map_err(|_| format!("expected a whole number, `500g` or `1.5kg`, got {text:?}"))?,
        Some(scale) => parse_scaled(number, scale)
            .ok_or_else(|| format!("expected a weight like `500g` or `1.5kg`, got {text:?}"))?,
    };
    if value <= 0 {
        return Err("must be greater than 0".to_owned());
    }
    Ok(match scale {
        None => QuantityInput::Plain(value),
        Some(_) => QuantityInput::Grams(value),
    })
}

/// `1.5` with scale 1000 → 1500; more decimals than the scale allows → None.
fn parse_scaled(number: &str, scale: i64) -> Option<i64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let places = scale.ilog10() as usize;
    if fraction.len() > places || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let padded = format!("{fraction:0<places$}");
    let fraction: i64 = if padded.is_empty() {
        0
    } else {
        padded.parse().ok()?
    };
    whole.checked_mul(scale)?.checked_add(fraction)
}

/// The quantity to send for a product of `unit`: weights only for weight-priced products.
pub fn quantity_for(input: QuantityInput, unit: UnitOfSale) -> Result<i64, String> {
    match input {
        QuantityInput::Plain(n) => Ok(n),
        QuantityInput::Grams(g) if by_weight(unit) => Ok(g),
        QuantityInput::Grams(_) => Err(format!(
            "this product is sold by the {}, give a whole number",
            unit_names(unit).0
        )),
    }
}

/// An amount as typed (`250`, `250.50`, `₹1,250`) in `currency_code`'s minor units; no
/// float on the way. Errors say what is wrong, for a message naming the flag.
pub fn parse_amount(text: &str, currency_code: &str) -> Result<Money, String> {
    let code = currency_code.to_ascii_uppercase();
    let trimmed = text.trim();
    let without_symbol = symbol(&code)
        .and_then(|s| trimmed.strip_prefix(s))
        .or_else(|| trimmed.strip_prefix(code.as_str()))
        .unwrap_or(trimmed)
        .trim();
    let number: String = without_symbol.chars().filter(|c| *c != ',').collect();
    let digits = minor_digits(&code);
    let invalid = || {
        format!(
            "expected an amount like 250 or 250.{:0<width$}, got {text:?}",
            "",
            width = digits as usize
        )
    };
    if !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(invalid());
    }
    let amount_minor = parse_scaled(&number, 10i64.pow(digits)).ok_or_else(invalid)?;
    Ok(Money {
        currency_code: code,
        amount_minor,
    })
}

#[cfg(test)]
mod tests;
