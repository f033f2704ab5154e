//! Reading the rich details of a gRPC error in assertions.

use tonic_types::StatusExt;

/// The fields an error's `BadRequest` details name, in order; empty without them.
pub fn bad_request_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}
