//! The record headers every mandi event carries: its id, type and time, and the W3C trace
//! context (`traceparent`, `tracestate`) of the span that published it.

use rdkafka::message::{Header, Headers, OwnedHeaders};

/// Header with the envelope's event id.
pub const EVENT_ID: &str = "mandi-event-id";
/// Header with the payload's protobuf type name.
pub const EVENT_TYPE: &str = "mandi-event-type";
/// Header with the occurrence time, RFC 3339 UTC.
pub const OCCUR_TIME: &str = "mandi-occur-time";

/// Headers from name-value pairs.
pub(crate) fn owned(pairs: &[(&str, &str)]) -> OwnedHeaders {
    pairs
        .iter()
        .fold(OwnedHeaders::new(), |headers, (key, value)| {
            headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            })
        })
}

/// The headers of a record as text pairs (values that are not UTF-8 are skipped).
pub fn pairs(headers: Option<&impl Headers>) -> Vec<(String, String)> {
    let Some(headers) = headers else {
        return Vec::new();
    };
    headers
        .iter()
        .filter_map(|h| {
            let value = std::str::from_utf8(h.value?).ok()?;
            Some((h.key.to_owned(), value.to_owned()))
        })
        .collect()
}
