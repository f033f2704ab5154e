//! The `grpc-timeout` request header: how a client tells the server (and every proxy on the
//! way) how long it will wait. Format per the gRPC HTTP/2 spec: at most 8 digits and a unit.

use std::time::Duration;

use http::HeaderValue;

/// The header's name.
pub(crate) const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The largest value the spec allows: 8 digits.
const MAX_VALUE: u128 = 99_999_999;

/// Encodes `timeout` in milliseconds (`10000m` for ten seconds), rounding up so the server
/// never gets less time than the client waits; durations past ~27 hours use coarser units.
pub(crate) fn encode(timeout: Duration) -> HeaderValue {
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 4] = [
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (nanos_per_unit, unit) in units {
        let value = nanos.div_ceil(nanos_per_unit);
        if value <= MAX_VALUE {
            return format_value(value, unit);
        }
    }
    // Over 11,000 years: the largest value is as good as forever.
    format_value(MAX_VALUE, 'H')
}

fn format_value(value: u128, unit: char) -> HeaderValue {
    // Digits and an ASCII letter always make a valid header value; the fallback is never
    // taken but keeps this free of panics.
    HeaderValue::try_from(format!("{value}{unit}")).unwrap_or(HeaderValue::from_static("1H"))
}

/// Parses a `grpc-timeout` value; `None` when it does not follow the spec.
pub(crate) fn parse(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?;
    let split = text.len().checked_sub(1)?;
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    let timeout = match unit {
        "H" => Duration::from_secs(value * 3600),
        "M" => Duration::from_secs(value * 60),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    };
    Some(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_seconds_is_sent_as_milliseconds() {
        assert_eq!(encode(Duration::from_secs(10)), "10000m");
    }

    #[test]
    fn sub_millisecond_remainders_round_up() {
        assert_eq!(encode(Duration::from_micros(1500)), "2m");
        assert_eq!(encode(Duration::from_nanos(1)), "1m");
    }

    #[test]
    fn long_timeouts_switch_to_coarser_units() {
        assert_eq!(encode(Duration::from_secs(200_000)), "200000S");
        assert_eq!(encode(Duration::from_secs(100_000_000 * 60)), "1666667H");
    }

    #[test]
    fn every_unit_of_the_spec_parses() {
        let cases = [
            ("2H", Duration::from_secs(7200)),
            ("3M", Duration::from_secs(180)),
            ("4S", Duration::from_secs(4)),
            ("5m", Duration::from_millis(5)),
            ("6u", Duration::from_micros(6)),
            ("7n", Duration::from_nanos(7)),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse(&HeaderValue::from_static(text)),
                Some(expected),
                "{text}"
            );
        }
    }

    #[test]
    fn values_outside_the_spec_do_not_parse() {
        for text in ["", "m", "123456789m", "10x", "-1S", "1.5S", "10"] {
            assert_eq!(parse(&HeaderValue::from_static(text)), None, "{text:?}");
        }
    }

    #[test]
    fn encoded_values_parse_back_to_at_least_the_original() {
        for timeout in [
            Duration::from_millis(1),
            Duration::from_millis(1234),
            Duration::from_secs(86_400 * 2),
        ] {
            let parsed = parse(&encode(timeout)).expect("encoded value parses");
            assert!(parsed >= timeout, "{timeout:?} -> {parsed:?}");
        }
    }
}
