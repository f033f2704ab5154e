//! Building `tonic::Status` values with rich details (AIP-193): every error carries an
//! `ErrorInfo {reason, domain}`, and bad input carries `BadRequest` field violations.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

// A status travels in HTTP/2 headers (grpc-message, grpc-status-details-bin), and a peer
// refuses a header block past its limit (16 KiB in hyper): a message echoing a huge input,
// or hundreds of violations, would turn a plain INVALID_ARGUMENT into a broken stream
// (UNAVAILABLE through the gateway). These bounds keep every status under 10 KiB even
// when each character is four bytes, percent-encoded.

/// Longest status message, in characters.
const MAX_MESSAGE_CHARS: usize = 240;
/// Most field violations listed; the message says how many more there were.
const MAX_VIOLATIONS: usize = 10;
/// Longest field path or description of one violation, in characters.
const MAX_VIOLATION_CHARS: usize = 100;

/// `text` cut to `max` characters, an ellipsis marking the cut.
fn clip(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut clipped: String = text.chars().take(max.saturating_sub(1)).collect();
    clipped.push('…');
    clipped
}

/// A status with an `ErrorInfo` naming the reason (UPPER_SNAKE_CASE) and the domain
/// (`mandi.<svc>`).
pub fn status(code: Code, message: impl Into<String>, domain: &str, reason: &str) -> Status {
    let details = ErrorDetails::with_error_info(reason, domain, std::collections::HashMap::new());
    Status::with_error_details(code, clip(message.into(), MAX_MESSAGE_CHARS), details)
}

/// INVALID_ARGUMENT listing every bad field with what is wrong with it.
pub fn invalid_argument<F, D>(domain: &str, violations: impl IntoIterator<Item = (F, D)>) -> Status
where
    F: Into<String>,
    D: Into<String>,
{
    let mut violations: Vec<FieldViolation> = violations
        .into_iter()
        .map(|(field, description)| {
            FieldViolation::new(
                clip(field.into(), MAX_VIOLATION_CHARS),
                clip(description.into(), MAX_VIOLATION_CHARS),
            )
        })
        .collect();
    let more = violations.len().saturating_sub(MAX_VIOLATIONS);
    violations.truncate(MAX_VIOLATIONS);
    let mut message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    let message = clip(message, MAX_MESSAGE_CHARS);
    let mut details = ErrorDetails::with_bad_request(violations);
    details.set_error_info("INVALID_ARGUMENT", domain, std::collections::HashMap::new());
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// INTERNAL with a generic message; the cause is logged here and never sent to the caller.
pub fn internal(domain: &str, cause: &(dyn std::error::Error + 'static)) -> Status {
    tracing::error!(domain, error = %error_chain(cause), "internal error");
    status(Code::Internal, "internal error", domain, "INTERNAL")
}

/// UNAVAILABLE for a dependency that is down; the cause is logged, not leaked.
pub fn unavailable(domain: &str, cause: &(dyn std::error::Error + 'static)) -> Status {
    tracing::warn!(domain, error = %error_chain(cause), "dependency unavailable");
    status(
        Code::Unavailable,
        "a dependency is unavailable, retry later",
        domain,
        "DEPENDENCY_UNAVAILABLE",
    )
}

/// An error and its sources joined by ": ", for logs.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_each_field() {
        let status = invalid_argument("mandi.test", [("email", "is not an email address")]);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "email: is not an email address");
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations[0].field, "email");
        assert_eq!(
            details.error_info().map(|i| i.domain.as_str()),
            Some("mandi.test")
        );
    }

    #[test]
    fn a_flood_of_long_violations_stays_small_enough_for_http2_headers() {
        let huge = "🍋".repeat(2_000);
        let status = invalid_argument(
            "mandi.test",
            (0..50).map(|i| (format!("items[{i}].note"), format!("{huge:?} is too long"))),
        );
        let bad = status.get_error_details().bad_request().unwrap().clone();
        assert_eq!(bad.field_violations.len(), MAX_VIOLATIONS);
        assert_eq!(bad.field_violations[0].field, "items[0].note");
        assert!(status.message().ends_with('…'), "{}", status.message());
        let response = status.clone().into_http::<String>();
        let size: usize = response
            .headers()
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len())
            .sum();
        assert!(size < 10 * 1024, "{size} bytes of headers");

        let long = status_of_len(100_000);
        assert_eq!(long.message().chars().count(), MAX_MESSAGE_CHARS);
    }

    fn status_of_len(len: usize) -> Status {
        status(Code::Unauthenticated, "k".repeat(len), "mandi.test", "X")
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let cause = std::io::Error::other("password=hunter2 in connection string");
        let status = internal("mandi.test", &cause);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
