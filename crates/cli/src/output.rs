//! Printing results: aligned columns for people, JSON for scripts. JSON is the protobuf
//! message itself, decoded with the SDK's descriptor set (proto field names, enums by
//! name, timestamps in RFC 3339, every field present), so it follows the contract.

use std::sync::OnceLock;

use anyhow::{Context, Result};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// The descriptors of every mandi message, decoded once.
fn pool() -> Result<&'static DescriptorPool> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(mandi_sdk::proto::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| anyhow::anyhow!("the SDK's descriptor set does not decode: {e}"))
}

/// A message as JSON; `full_name` is its protobuf name, e.g. `mandi.cart.v1.Cart`.
pub fn to_json(message: &impl prost::Message, full_name: &str) -> Result<serde_json::Value> {
    let descriptor = pool()?
        .get_message_by_name(full_name)
        .with_context(|| format!("no message {full_name} in the SDK's descriptors"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .with_context(|| format!("cannot decode a {full_name}"))?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .with_context(|| format!("cannot encode a {full_name} as JSON"))
}

/// Prints JSON on one line per document, for `jq` and friends.
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// Columns aligned by their widest cell (in characters, so `₹` counts as one).
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one line per row after the header, no trailing spaces.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate().take(columns) {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(cell);
                if i + 1 < cells.len().min(columns) {
                    let pad = widths[i] - cell.chars().count();
                    out.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.trim_end().to_owned()
        };
        let mut text = line(&self.header);
        for row in &self.rows {
            text.push('\n');
            text.push_str(&line(row));
        }
        text
    }

    pub fn print(&self) {
        println!("{}", self.render());
    }
}

/// Label and value pairs, labels aligned: the table view of one resource.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in fields {
        println!("{label:<width$}  {value}");
    }
}

/// A timestamp as `2026-12-01 18:25 UTC`; `-` when unset.
pub fn format_time(time: Option<&prost_types::Timestamp>) -> String {
    time.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

/// A time window as `2026-12-01 07:00–09:00 UTC`, or with both dates when it crosses
/// midnight; `-` when the start is unset.
pub fn format_window(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> String {
    format_window_at(start, end, chrono::FixedOffset::east_opt(0), "UTC")
}

/// A time window at a UTC offset (`+05:30`), for people who read the clock where they are.
pub fn format_window_local(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
    offset: chrono::FixedOffset,
) -> String {
    format_window_at(start, end, Some(offset), &offset.to_string())
}

fn format_window_at(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
    offset: Option<chrono::FixedOffset>,
    zone: &str,
) -> String {
    let Some(offset) = offset else {
        return "-".to_owned();
    };
    let at = |t: Option<&prost_types::Timestamp>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
            .map(|t| t.with_timezone(&offset))
    };
    match (at(start), at(end)) {
        (Some(start), Some(end)) if start.date_naive() == end.date_naive() => format!(
            "{}–{} {zone}",
            start.format("%Y-%m-%d %H:%M"),
            end.format("%H:%M")
        ),
        (Some(start), Some(end)) => format!(
            "{} – {} {zone}",
            start.format("%Y-%m-%d %H:%M"),
            end.format("%Y-%m-%d %H:%M")
        ),
        (Some(start), None) => format!("{} {zone}", start.format("%Y-%m-%d %H:%M")),
        (None, _) => "-".to_owned(),
    }
}

/// The terminal's UTC offset now, or None when it is UTC (then local times add nothing).
pub fn local_offset() -> Option<chrono::FixedOffset> {
    let offset = *chrono::Local::now().offset();
    (offset.local_minus_utc() != 0).then_some(offset)
}

/// An enum value's name without its type prefix, lower case: `ORDER_STATUS_PAID` → `paid`.
pub fn enum_label(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
        .replace('_', " ")
}

#[cfg(test)]
mod tests {
    use mandi_sdk::proto::mandi::common::v1::Money;

    use super::*;

    #[test]
    fn columns_align_by_characters_not_bytes() {
        let mut table = Table::new(["NAME", "PRICE"]);
        table.row(vec!["Mango".into(), "₹1,200.00".into()]);
        table.row(vec!["Jackfruit".into(), "₹80.00".into()]);
        assert_eq!(
            table.render(),
            "NAME       PRICE\nMango      ₹1,200.00\nJackfruit  ₹80.00"
        );
    }

    #[test]
    fn json_uses_proto_field_names_and_keeps_defaults() {
        let money = Money {
            currency_code: "INR".into(),
            amount_minor: 12_550,
        };
        let json = to_json(&money, "mandi.common.v1.Money").unwrap();
        assert_eq!(
            json,
            serde_json::json!({"currency_code": "INR", "amount_minor": 12550})
        );
        let zero = to_json(&Money::default(), "mandi.common.v1.Money").unwrap();
        assert_eq!(zero["amount_minor"], 0);
    }

    #[test]
    fn enum_labels_drop_their_prefix() {
        assert_eq!(
            enum_label("ORDER_STATUS_PAYMENT_PENDING", "ORDER_STATUS_"),
            "payment pending"
        );
    }

    #[test]
    fn times_print_in_utc_minutes() {
        let time = prost_types::Timestamp {
            seconds: 1_764_613_500,
            nanos: 0,
        };
        assert_eq!(format_time(Some(&time)), "2025-12-01 18:25 UTC");
        assert_eq!(format_time(None), "-");
    }

    #[test]
    fn windows_print_the_date_once_unless_they_cross_midnight() {
        let at = |seconds| prost_types::Timestamp { seconds, nanos: 0 };
        // 2025-12-01 07:00 UTC.
        let seven = 1_764_572_400;
        assert_eq!(
            format_window(Some(&at(seven)), Some(&at(seven + 7_200))),
            "2025-12-01 07:00–09:00 UTC"
        );
        assert_eq!(
            format_window(Some(&at(seven + 16 * 3_600)), Some(&at(seven + 18 * 3_600))),
            "2025-12-01 23:00 – 2025-12-02 01:00 UTC"
        );
        assert_eq!(format_window(None, Some(&at(seven))), "-");
        let ist = chrono::FixedOffset::east_opt(330 * 60).unwrap();
        assert_eq!(
            format_window_local(Some(&at(seven - 19_800)), Some(&at(seven - 12_600)), ist),
            "2025-12-01 07:00–09:00 +05:30"
        );
    }
}
