//! `request_id` idempotency (AIP-155): a key scoped by caller, a fingerprint of the
//! request, and what the first call made or changed, so a retry gets the original result
//! and a reused key with another request is refused.

use mandi_runtime::paging;
use tonic::Status;
use uuid::Uuid;

use super::ProfileGrpc;
use super::status::to_status;
use crate::domain::{ProfileError, RequestRecord};
use crate::store::ProfileStore;

/// One request's idempotency key (if it carries one) and fingerprint.
pub(super) struct Idempotency {
    key: Option<String>,
    fingerprint: String,
}

impl Idempotency {
    /// Scopes `request_id` (a UUID, or empty for none) by `subject`
    /// (`{subject}/{request_id}`) so two callers cannot collide, and fingerprints
    /// `message` (with its request id cleared) under `method`.
    pub(super) fn of<M: prost::Message + Clone>(
        method: &str,
        subject: &str,
        request_id: &str,
        message: &M,
        clear_request_id: impl FnOnce(&mut M),
    ) -> Result<Self, Status> {
        if !request_id.is_empty() && Uuid::parse_str(request_id).is_err() {
            return Err(to_status(ProfileError::invalid(
                "request_id",
                "must be a UUID",
            )));
        }
        let mut message = message.clone();
        clear_request_id(&mut message);
        Ok(Self {
            key: (!request_id.is_empty()).then(|| format!("{subject}/{request_id}")),
            fingerprint: format!("{method}:{}", paging::fingerprint(&message.encode_to_vec())),
        })
    }
}

/// What an earlier call with the same key did.
pub(super) enum Replay {
    /// The key is new or absent: do the work.
    New,
    /// The first call made or changed this (a user or address id), or left nothing.
    Done(Option<Uuid>),
}

// === impl ProfileGrpc ===

impl<S: ProfileStore> ProfileGrpc<S> {
    /// What an earlier call with the same key and request did. The same key with a
    /// different request is INVALID_ARGUMENT naming `request_id`.
    pub(super) async fn replay(&self, request: &Idempotency) -> Result<Replay, Status> {
        let Some(key) = &request.key else {
            return Ok(Replay::New);
        };
        match self.store.recall_request(key).await.map_err(to_status)? {
            None => Ok(Replay::New),
            Some(record) if record.fingerprint == request.fingerprint => {
                Ok(Replay::Done(record.target))
            }
            Some(_) => Err(to_status(ProfileError::invalid(
                "request_id",
                "was already used for a different request",
            ))),
        }
    }

    /// Records what a keyed request did; the first record of a key wins.
    pub(super) async fn remember(
        &self,
        request: Idempotency,
        target: Option<Uuid>,
    ) -> Result<(), Status> {
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
