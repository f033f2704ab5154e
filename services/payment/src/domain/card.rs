//! Cards: a number that passed the Luhn check and never prints, an expiry that has not
//! passed, and what is kept after the gateway saw the card (its token, brand and last four
//! digits, never the number).

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use super::FieldViolation;

/// Shortest and longest card numbers (ISO/IEC 7812).
const MIN_DIGITS: usize = 12;
const MAX_DIGITS: usize = 19;
/// Furthest a card's expiry may lie ahead.
const MAX_YEARS_AHEAD: i32 = 25;

/// A card number that passed the Luhn check. It has no `Display`, its `Debug` shows only
/// the last four digits, and it is not `Serialize`: it cannot reach a log or a row by
/// accident.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Checks `digits` (digits only, 12 to 19 of them, Luhn-valid); `field` names the
    /// request field in the violation.
    pub fn parse(digits: &str, field: &str) -> Result<Self, FieldViolation> {
        if digits.is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit())
            || !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len())
        {
            return Err(FieldViolation::new(
                field,
                format!("must be a card number of {MIN_DIGITS} to {MAX_DIGITS} digits"),
            ));
        }
        if !luhn_valid(digits) {
            return Err(FieldViolation::new(
                field,
                "is not a valid card number (Luhn check failed)",
            ));
        }
        Ok(Self(digits.to_owned()))
    }

    /// The digits, for the gateway only.
    pub fn expose_digits(&self) -> &str {
        &self.0
    }

    /// The last four digits.
    pub fn last4(&self) -> String {
        self.0[self.0.len() - 4..].to_owned()
    }

    /// The brand the number's prefix belongs to.
    pub fn brand(&self) -> CardBrand {
        CardBrand::of(&self.0)
    }
}

impl std::fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardNumber(****{})", self.last4())
    }
}

/// Whether `digits` (ASCII digits only) pass the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A card's expiry month; the card is valid through the month's last day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiry {
    /// 1..=12.
    pub month: u32,
    /// Four digits.
    pub year: i32,
}

impl Expiry {
    /// Checks a month and year that have not passed at `now`; violations name
    /// `card.exp_month` and `card.exp_year`.
    pub fn parse(month: i32, year: i32, now: DateTime<Utc>) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        match month {
            0 => violations.push(FieldViolation::new("card.exp_month", "is required")),
            1..=12 => {}
            _ => violations.push(FieldViolation::new(
                "card.exp_month",
                "must be a month from 1 to 12",
            )),
        }
        let this_year = now.year();
        match year {
            0 => violations.push(FieldViolation::new("card.exp_year", "is required")),
            y if !(1000..=9999).contains(&y) => violations.push(FieldViolation::new(
                "card.exp_year",
                "must be a four-digit year",
            )),
            y if y < this_year => violations.push(FieldViolation::new(
                "card.exp_year",
                format!("the card expired in {y}"),
            )),
            y if y > this_year + MAX_YEARS_AHEAD => violations.push(FieldViolation::new(
                "card.exp_year",
                format!("must be at most {MAX_YEARS_AHEAD} years ahead"),
            )),
            _ => {}
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        let month = month.unsigned_abs();
        if year == this_year && month < now.month() {
            return Err(vec![FieldViolation::new(
                "card.exp_month",
                format!("the card expired in {month:02}/{year}"),
            )]);
        }
        Ok(Self { month, year })
    }
}

/// A card as sent for authorization. Its `Debug` hides the number (see [`CardNumber`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The number.
    pub number: CardNumber,
    /// The expiry.
    pub expiry: Expiry,
}

impl Card {
    /// Checks a card's number (`card.token`) and expiry, reporting every bad field.
    pub fn parse(
        number: &str,
        exp_month: i32,
        exp_year: i32,
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<FieldViolation>> {
        let number = CardNumber::parse(number, "card.token");
        let expiry = Expiry::parse(exp_month, exp_year, now);
        match (number, expiry) {
            (Ok(number), Ok(expiry)) => Ok(Self { number, expiry }),
            (number, expiry) => Err(number
                .err()
                .into_iter()
                .chain(expiry.err().into_iter().flatten())
                .collect()),
        }
    }
}

/// Card networks, as told by the number's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CardBrand {
    /// Visa (4…).
    Visa,
    /// Mastercard (51–55, 2221–2720).
    Mastercard,
    /// American Express (34, 37).
    Amex,
    /// RuPay (60, 65, 81, 82, 508).
    Rupay,
    /// Anything else.
    Unknown,
}

impl CardBrand {
    fn of(digits: &str) -> Self {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok());
        match (prefix(1), prefix(2), prefix(3), prefix(4)) {
            (Some(4), ..) => Self::Visa,
            (_, Some(51..=55), ..) | (.., Some(2221..=2720)) => Self::Mastercard,
            (_, Some(34 | 37), ..) => Self::Amex,
            (_, Some(60 | 65 | 81 | 82), ..) | (_, _, Some(508), _) => Self::Rupay,
            _ => Self::Unknown,
        }
    }

    /// The name kept and shown (`visa`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visa => "visa",
            Self::Mastercard => "mastercard",
            Self::Amex => "amex",
            Self::Rupay => "rupay",
            Self::Unknown => "unknown",
        }
    }

    /// The brand named `name`; unknown names are [`CardBrand::Unknown`].
    pub fn from_name(name: &str) -> Self {
        match name {
            "visa" => Self::Visa,
            "mastercard" => Self::Mastercard,
            "amex" => Self::Amex,
            "rupay" => Self::Rupay,
            _ => Self::Unknown,
        }
    }
}

/// What is kept of a card once the gateway has seen it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCard {
    /// The gateway's token for the card.
    pub token: String,
    /// The network.
    pub brand: CardBrand,
    /// Last four digits.
    pub last4: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone as _;

    use super::*;

    fn june_2026() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_luhn_check_accepts_test_cards_and_refuses_a_changed_digit() {
        for number in [
            "4242424242424242",
            "5555555555554444",
            "4000000000009995",
            "4000000000009979",
            "4000000000000119",
            "378282246310005",
        ] {
            assert!(luhn_valid(number), "{number}");
        }
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid("4000000000009990"));
    }

    #[test]
    fn a_number_failing_luhn_is_refused_naming_the_field() {
        let err = CardNumber::parse("4242424242424241", "card.token").unwrap_err();
        assert_eq!(err.field, "card.token");
        assert!(err.description.contains("Luhn"), "{}", err.description);
    }

    #[test]
    fn letters_or_too_few_digits_are_not_a_card_number() {
        for bad in ["4242-4242-4242-4242", "42424242", "tok_visa", ""] {
            assert_eq!(
                CardNumber::parse(bad, "card.token").unwrap_err().field,
                "card.token"
            );
        }
    }

    #[test]
    fn debug_of_a_card_shows_only_the_last_four_digits() {
        let card = Card::parse("4242424242424242", 12, 2030, june_2026()).unwrap();
        let shown = format!("{card:?}");
        assert!(!shown.contains("4242424242424242"), "{shown}");
        assert!(shown.contains("****4242"), "{shown}");
    }

    #[test]
    fn a_card_is_valid_through_its_expiry_month() {
        assert!(Expiry::parse(6, 2026, june_2026()).is_ok());
        let err = Expiry::parse(5, 2026, june_2026()).unwrap_err();
        assert_eq!(err[0].field, "card.exp_month");
        assert!(err[0].description.contains("expired in 05/2026"));
        let err = Expiry::parse(12, 2025, june_2026()).unwrap_err();
        assert_eq!(err[0].field, "card.exp_year");
    }

    #[test]
    fn a_missing_or_impossible_expiry_names_each_field() {
        let fields = |month, year| {
            Expiry::parse(month, year, june_2026())
                .unwrap_err()
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(0, 0), ["card.exp_month", "card.exp_year"]);
        assert_eq!(fields(13, 2030), ["card.exp_month"]);
        assert_eq!(fields(1, 30), ["card.exp_year"]);
        assert_eq!(fields(1, 2090), ["card.exp_year"]);
    }

    #[test]
    fn a_bad_number_and_a_bad_expiry_are_reported_together() {
        let err = Card::parse("1234", 0, 2030, june_2026()).unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["card.token", "card.exp_month"]);
    }

    #[test]
    fn brands_follow_the_number_prefix() {
        let brand = |n: &str| CardNumber::parse(n, "card.token").unwrap().brand();
        assert_eq!(brand("4242424242424242"), CardBrand::Visa);
        assert_eq!(brand("5555555555554444"), CardBrand::Mastercard);
        assert_eq!(brand("2223003122003222"), CardBrand::Mastercard);
        assert_eq!(brand("378282246310005"), CardBrand::Amex);
        assert_eq!(brand("6074827700000007"), CardBrand::Rupay);
    }
}
