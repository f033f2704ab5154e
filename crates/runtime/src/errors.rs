//! Building `tonic::Status` values with rich details (AIP-193): every error carries an
//! `ErrorInfo {reason, domain}`, and bad input carries `BadRequest` field violations.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// A status with an `ErrorInfo` naming the reason (UPPER_SNAKE_CASE) and the domain
/// (`mandi.<svc>`).
pub fn status(code: Code, message: impl Into<String>, domain: &str, reason: &str) -> Status {
    let details = ErrorDetails::with_error_info(reason, domain, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}

/// INVALID_ARGUMENT listing every bad field with what is wrong with it.
pub fn invalid_argument<F, D>(domain: &str, violations: impl IntoIterator<Item = (F, D)>) -> Status
where
    F: Into<String>,
    D: Into<String>,
{
    let violations: Vec<FieldViolation> = violations
        .into_iter()
        .map(|(field, description)| FieldViolation::new(field, description))
        .collect();
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
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
    fn internal_errors_do_not_leak_their_cause() {
        let cause = std::io::Error::other("password=hunter2 in connection string");
        let status = internal("mandi.test", &cause);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
