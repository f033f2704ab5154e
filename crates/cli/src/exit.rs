//! What a failed command tells the user and the exit code it ends with: gRPC statuses
//! become a sentence saying what to do, with the field violations the server sent.

use std::fmt;

use tonic::Code;
use tonic_types::StatusExt;

/// The exit codes `mandi` documents in `--help` and the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Anything not covered below.
    Other = 1,
    /// Bad flags or arguments (clap uses 2 for its own errors too).
    Usage = 2,
    /// Not logged in, the session expired, or the caller may not do this.
    Unauthenticated = 3,
    /// The thing named does not exist.
    NotFound = 4,
    /// The server (or the CLI) refused: invalid input, failed precondition, conflict.
    Refused = 5,
    /// The server could not be reached or did not answer in time.
    Unavailable = 6,
}

/// An error that knows its exit code. Attach one to an `anyhow::Error` chain with
/// `CliError::new(..).into()`; `main` looks for it, anything else exits with 1.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }

    /// Local validation of an argument, worded like the server's field violations.
    pub fn invalid(field: &str, problem: impl fmt::Display) -> Self {
        Self::new(Exit::Refused, format!("{field}: {problem}"))
    }

    pub fn not_logged_in() -> Self {
        Self::new(
            Exit::Unauthenticated,
            "not logged in: run `mandi login --email <you@example.com>`",
        )
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// The exit code of a gRPC status.
pub fn exit_for(code: Code) -> Exit {
    match code {
        Code::Unauthenticated | Code::PermissionDenied => Exit::Unauthenticated,
        Code::NotFound => Exit::NotFound,
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::AlreadyExists
        | Code::Aborted
        | Code::OutOfRange
        | Code::ResourceExhausted => Exit::Refused,
        Code::Unavailable | Code::DeadlineExceeded => Exit::Unavailable,
        _ => Exit::Other,
    }
}

/// Turns a failed call into an error that says what went wrong and what to do. `action`
/// names the call ("add to cart"); `endpoint` is where the server was expected.
pub fn from_status(status: &tonic::Status, action: &str, endpoint: &str) -> CliError {
    let exit = exit_for(status.code());
    let message = match status.code() {
        Code::Unavailable if is_transport_failure(status) => format!(
            "{action}: cannot reach the mandi server at {endpoint}: is it running? (`make run` \
             starts one; point elsewhere with --endpoint or MANDI_ENDPOINT)"
        ),
        Code::Unavailable => format!(
            "{action}: the server is unavailable ({}); try again shortly",
            status.message()
        ),
        Code::DeadlineExceeded => {
            format!("{action}: the server at {endpoint} did not answer in time; try again shortly")
        }
        Code::Unauthenticated => format!(
            "{action}: {}: run `mandi login` again",
            describe(status, "your session is missing or expired")
        ),
        Code::PermissionDenied => format!(
            "{action}: not allowed: {} (log in with an account that may do this)",
            describe(status, "permission denied")
        ),
        Code::InvalidArgument => format!("{action}: {}", violations(status)),
        Code::Unimplemented => format!(
            "{action}: the server at {endpoint} does not run this service yet; point \
             --endpoint at a mandi-server that does"
        ),
        _ => format!("{action}: {}", describe(status, "failed")),
    };
    CliError::new(exit, message)
}

/// The status message, or `fallback` when the server sent none.
fn describe(status: &tonic::Status, fallback: &str) -> String {
    let message = status.message().trim();
    if message.is_empty() {
        fallback.to_owned()
    } else {
        message.to_owned()
    }
}

/// The BadRequest field violations as `field: problem; ...`, else the message.
fn violations(status: &tonic::Status) -> String {
    let listed: Vec<String> = status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        describe(status, "invalid input")
    } else {
        listed.join("; ")
    }
}

/// Whether the status came from the client's own transport (no connection) rather than
/// from a server that answered: tonic keeps the transport error as the source, and such
/// statuses carry no `ErrorInfo`.
fn is_transport_failure(status: &tonic::Status) -> bool {
    std::error::Error::source(status).is_some()
        || (status.get_details_error_info().is_none()
            && ["transport", "connect", "tcp", "dns"]
                .iter()
                .any(|hint| status.message().contains(hint)))
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn field_violations_are_listed_by_field() {
        let details = ErrorDetails::with_bad_request(vec![FieldViolation::new(
            "quantity",
            "must be a multiple of 250",
        )]);
        let status =
            tonic::Status::with_error_details(Code::InvalidArgument, "quantity: bad", details);
        let error = from_status(&status, "add to cart", "http://x");
        assert_eq!(error.exit, Exit::Refused);
        assert_eq!(
            error.message,
            "add to cart: quantity: must be a multiple of 250"
        );
    }

    #[test]
    fn a_refused_connection_says_where_the_server_was_expected() {
        let status = tonic::Status::unavailable("error trying to connect: tcp connect error");
        let error = from_status(&status, "search", "http://127.0.0.1:1");
        assert_eq!(error.exit, Exit::Unavailable);
        assert!(
            error
                .message
                .contains("cannot reach the mandi server at http://127.0.0.1:1")
        );
    }

    #[test]
    fn a_server_that_answers_unavailable_is_not_called_unreachable() {
        let details = ErrorDetails::with_error_info(
            "DEPENDENCY_UNAVAILABLE",
            "mandi.cart",
            std::collections::HashMap::new(),
        );
        let status = tonic::Status::with_error_details(
            Code::Unavailable,
            "a dependency is unavailable, retry later",
            details,
        );
        let error = from_status(&status, "add to cart", "http://x");
        assert_eq!(error.exit, Exit::Unavailable);
        assert_eq!(
            error.message,
            "add to cart: the server is unavailable (a dependency is unavailable, retry later); \
             try again shortly"
        );
    }

    #[test]
    fn codes_map_to_the_documented_exits() {
        assert_eq!(exit_for(Code::Unauthenticated), Exit::Unauthenticated);
        assert_eq!(exit_for(Code::PermissionDenied), Exit::Unauthenticated);
        assert_eq!(exit_for(Code::NotFound), Exit::NotFound);
        assert_eq!(exit_for(Code::FailedPrecondition), Exit::Refused);
        assert_eq!(exit_for(Code::Unavailable), Exit::Unavailable);
        assert_eq!(exit_for(Code::Internal), Exit::Other);
    }
}
