//! `request_id` idempotency (AIP-155): a key scoped by caller, a fingerprint of the
//! request, and the resource the first call made, so a retry gets the original result and
//! a reused key with another request is refused.

use mandi_runtime::errors;
use mandi_runtime::paging;
use tonic::Status;
use uuid::Uuid;

use super::status::to_status;
use super::{DOMAIN, InventoryGrpc};
use crate::domain::{InventoryError, RequestRecord};
use crate::store::InventoryStore;

/// Longest request id kept.
const MAX_REQUEST_ID_CHARS: usize = 128;

/// One request's idempotency key (if it carries one) and fingerprint.
pub(super) struct Idempotency {
    key: Option<String>,
    fingerprint: String,
}

impl Idempotency {
    /// Scopes `request_id` by `subject` (`{subject}/{request_id}`) so two callers cannot
    /// collide, and fingerprints `message` (with its request id cleared) under `method`.
    pub(super) fn of<M: prost::Message + Clone>(
        method: &str,
        subject: &str,
        request_id: &str,
        message: &M,
        clear_request_id: impl FnOnce(&mut M),
    ) -> Result<Self, Status> {
        if request_id.chars().count() > MAX_REQUEST_ID_CHARS {
            return Err(errors::invalid_argument(
                DOMAIN,
                [(
                    "request_id",
                    format!("must be at most {MAX_REQUEST_ID_CHARS} characters"),
                )],
            ));
        }
        let mut message = message.clone();
        clear_request_id(&mut message);
        Ok(Self {
            key: (!request_id.is_empty()).then(|| format!("{subject}/{request_id}")),
            fingerprint: request_fingerprint(method, &message.encode_to_vec()),
        })
    }
}

/// The method and a hash of its arguments, so a reused idempotency key is recognised.
fn request_fingerprint(method: &str, arguments: &impl serde::Serialize) -> String {
    format!("{method}:{}", paging::fingerprint(arguments))
}

// === impl InventoryGrpc ===

impl<S: InventoryStore, P, O> InventoryGrpc<S, P, O> {
    /// The resource an earlier call with the same key and request made; `None` when the
    /// key is new or absent. The same key with a different request is INVALID_ARGUMENT.
    pub(super) async fn already_done(&self, request: &Idempotency) -> Result<Option<Uuid>, Status> {
        let Some(key) = &request.key else {
            return Ok(None);
        };
        match self.store.recall_request(key).await.map_err(to_status)? {
            None => Ok(None),
            Some(record) if record.fingerprint == request.fingerprint => Ok(Some(record.target)),
            Some(_) => Err(to_status(InventoryError::invalid(
                "request_id",
                "was already used for a different request",
            ))),
        }
    }

    /// Records what a keyed request made; the first record of a key wins.
    pub(super) async fn remember(&self, request: Idempotency, target: Uuid) -> Result<(), Status> {
        let Some(key) = request.key else {
            return Ok(());
        };
        self.store
            .remember_request(&RequestRecord {
                key,
                fingerprint: request.fingerprint,
                target,
            })
            .await
            .map_err(to_status)
    }
}
