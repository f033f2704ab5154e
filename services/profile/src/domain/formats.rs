//! Formats that depend on the country: postal codes (by the address's country) and phone
//! numbers (E.164, with the national rules of the calling codes mandi delivers to).

/// Checks `code` (already trimmed and upper case) against the postal code format of
/// `country` (ISO 3166-1 alpha-2, upper case). Countries without a known format take 2 to 10
/// letters, digits, spaces or hyphens.
pub fn validate_postal_code(country: &str, code: &str) -> Result<(), String> {
    let ok = match country {
        // PIN code: six digits, the first (the postal region) never 0.
        "IN" => code.len() == 6 && all_digits(code) && !code.starts_with('0'),
        // ZIP or ZIP+4.
        "US" => match code.split_once('-') {
            None => code.len() == 5 && all_digits(code),
            Some((zip, plus4)) => {
                zip.len() == 5 && all_digits(zip) && plus4.len() == 4 && all_digits(plus4)
            }
        },
        "GB" => is_uk_postcode(code),
        "DE" | "FR" => code.len() == 5 && all_digits(code),
        _ => {
            (2..=10).contains(&code.chars().count())
                && code.chars().any(|c| c.is_ascii_alphanumeric())
                && code
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        }
    };
    if ok {
        Ok(())
    } else {
        Err(match country {
            "IN" => "must be a 6-digit PIN code not starting with 0 (for example 560001)".into(),
            "US" => "must be a ZIP code: 5 digits or 5+4 digits (for example 94105-1804)".into(),
            "GB" => "must be a UK postcode (for example SW1A 1AA)".into(),
            "DE" | "FR" => "must be 5 digits".into(),
            _ => "must be 2 to 10 letters, digits, spaces or hyphens".into(),
        })
    }
}

/// A UK postcode: an outward code (`A9`, `A99`, `A9A`, `AA9`, `AA99`, `AA9A`), an
/// optional single space, and an inward code (`9AA`); or the special `GIR 0AA`.
fn is_uk_postcode(code: &str) -> bool {
    let compact: String = match code.split_once(' ') {
        Some((outward, inward)) if !inward.contains(' ') => format!("{outward}{inward}"),
        Some(_) => return false,
        None => code.to_owned(),
    };
    if compact == "GIR0AA" {
        return true;
    }
    let bytes = compact.as_bytes();
    if !(5..=7).contains(&bytes.len()) {
        return false;
    }
    let (outward, inward) = bytes.split_at(bytes.len() - 3);
    let inward_ok = inward[0].is_ascii_digit()
        && inward[1].is_ascii_uppercase()
        && inward[2].is_ascii_uppercase();
    let letter = |b: &u8| b.is_ascii_uppercase();
    let digit = |b: &u8| b.is_ascii_digit();
    let outward_ok = match outward {
        [a, b] => letter(a) && digit(b),
        [a, b, c] => {
            letter(a) && ((digit(b) && (digit(c) || letter(c))) || (letter(b) && digit(c)))
        }
        [a, b, c, d] => letter(a) && letter(b) && digit(c) && (digit(d) || letter(d)),
        _ => false,
    };
    inward_ok && outward_ok
}

/// Checks an E.164 phone number: `+`, then 8 to 15 digits not starting with 0. Numbers
/// with calling code 91 (India) must have 10 national digits starting with 6 to 9 (mobile);
/// with calling code 1 (NANP), 10 digits whose area code does not start with 0 or 1.
pub fn validate_phone(phone: &str) -> Result<(), String> {
    let e164 = "must be in E.164 form: + then 8 to 15 digits (for example +919812345678)";
    let Some(digits) = phone.strip_prefix('+') else {
        return Err(e164.into());
    };
    if !(8..=15).contains(&digits.len()) || !all_digits(digits) || digits.starts_with('0') {
        return Err(e164.into());
    }
    if let Some(national) = digits.strip_prefix("91") {
        let mobile = national.len() == 10 && national.starts_with(['6', '7', '8', '9']);
        if !mobile {
            return Err(
                "an Indian number must be +91 then 10 digits starting with 6, 7, 8 or 9".into(),
            );
        }
    } else if let Some(national) = digits.strip_prefix('1') {
        let nanp = national.len() == 10 && !national.starts_with(['0', '1']);
        if !nanp {
            return Err(
                "a +1 number must have 10 digits after +1 (for example +14155550123)".into(),
            );
        }
    }
    Ok(())
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}
