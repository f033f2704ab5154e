//! `request_id` idempotency (AIP-155): a key scoped by caller, a fingerprint of the
//! request, and what the first call made or changed, so a retry gets the original result
//! and a reused key with another request is refused.

use mandi_runtime::paging;
use mandi_sdk::proto::mandi::profile::v1 as pb;
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
    /// Scopes the request's `request_id` (a UUID, or empty for none) by `subject`
    /// (`{subject}/{request_id}`) so two callers cannot collide, and fingerprints the
    /// request (with its request id cleared) under its method.
    pub(super) fn of<M: Keyed>(subject: &str, request: &M) -> Result<Self, Status> {
        let request_id = request.request_id();
        if !request_id.is_empty() && Uuid::parse_str(request_id).is_err() {
            return Err(to_status(ProfileError::invalid(
                "request_id",
                "must be a UUID",
            )));
        }
        let key = (!request_id.is_empty()).then(|| format!("{subject}/{request_id}"));
        let mut message = request.clone();
        message.clear_request_id();
        Ok(Self {
            key,
            fingerprint: format!(
                "{}:{}",
                M::METHOD,
                paging::fingerprint(&message.encode_to_vec())
            ),
        })
    }
}

/// A mutation that carries an idempotency key.
pub(super) trait Keyed: prost::Message + Clone {
    /// The RPC's name, part of the fingerprint.
    const METHOD: &'static str;
    /// The key as sent.
    fn request_id(&self) -> &str;
    /// Clears the key, so the fingerprint covers the rest of the request.
    fn clear_request_id(&mut self);
}

macro_rules! keyed {
    ($($message:ident => $method:literal),* $(,)?) => {
        $(impl Keyed for pb::$message {
            const METHOD: &'static str = $method;
            fn request_id(&self) -> &str {
                &self.request_id
            }
            fn clear_request_id(&mut self) {
                self.request_id.clear();
            }
        })*
    };
}

keyed!(
    UpdateProfileRequest => "UpdateProfile",
    CreateAddressRequest => "CreateAddress",
    UpdateAddressRequest => "UpdateAddress",
    DeleteAddressRequest => "DeleteAddress",
    SetDefaultAddressRequest => "SetDefaultAddress",
    UpdatePreferencesRequest => "UpdatePreferences",
);

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
