//! Profiles and preferences: singletons per user, read as empty or defaults until written.

use mandi_runtime::auth::Caller;
use mandi_sdk::proto::mandi::profile::v1 as pb;
use tonic::Status;
use uuid::Uuid;

use super::ProfileGrpc;
use super::access::{Access, target_user};
use super::convert::{preference_values, preferences_to_proto, profile_to_proto, profile_values};
use super::idempotency::{Idempotency, Replay};
use super::status::to_status;
use crate::domain::{self, Preferences, PreferencesPatch, Profile, ProfilePatch, UpdateMask};
use crate::store::ProfileStore;

/// The paths of an update mask; a missing mask is an empty one.
pub(super) fn mask_paths(mask: Option<prost_types::FieldMask>) -> Vec<String> {
    mask.map(|m| m.paths).unwrap_or_default()
}

// === impl ProfileGrpc ===

impl<S: ProfileStore> ProfileGrpc<S> {
    /// The user's stored profile, or an empty one.
    async fn profile_of(&self, user_id: Uuid) -> Result<Profile, Status> {
        Ok(self
            .store
            .profile(user_id)
            .await
            .map_err(to_status)?
            .unwrap_or_else(|| Profile::empty(user_id)))
    }

    /// The user's stored preferences, or the defaults.
    async fn preferences_of(&self, user_id: Uuid) -> Result<Preferences, Status> {
        Ok(self
            .store
            .preferences(user_id)
            .await
            .map_err(to_status)?
            .unwrap_or_else(|| Preferences::defaults(user_id)))
    }

    pub(super) async fn get_profile(
        &self,
        caller: &Caller,
        request: pb::GetProfileRequest,
    ) -> Result<pb::GetProfileResponse, Status> {
        let user = target_user(caller, "user_id", &request.user_id, Access::Read)?;
        let profile = self.profile_of(user).await?;
        Ok(pb::GetProfileResponse {
            profile: Some(profile_to_proto(profile)),
        })
    }

    pub(super) async fn update_profile(
        &self,
        caller: &Caller,
        request: pb::UpdateProfileRequest,
    ) -> Result<pb::UpdateProfileResponse, Status> {
        let idempotency = Idempotency::of(&caller.subject, &request)?;
        let values = request.profile.unwrap_or_default();
        let user = target_user(caller, "profile.id", &values.id, Access::Write)?;
        let profile = match self.replay(&idempotency).await? {
            Replay::Done(_) => self.profile_of(user).await?,
            Replay::New => {
                let mask = UpdateMask::parse(
                    &mask_paths(request.update_mask),
                    ProfilePatch::UPDATABLE,
                    ProfilePatch::OUTPUT_ONLY,
                )
                .map_err(to_status)?;
                let patch =
                    ProfilePatch::new(&mask, profile_values(user, values)).map_err(to_status)?;
                let profile = self
                    .store
                    .update_profile(user, &patch, domain::now())
                    .await
                    .map_err(to_status)?;
                self.remember(idempotency, Some(user)).await?;
                profile
            }
        };
        Ok(pb::UpdateProfileResponse {
            profile: Some(profile_to_proto(profile)),
        })
    }

    pub(super) async fn get_preferences(
        &self,
        caller: &Caller,
        request: pb::GetPreferencesRequest,
    ) -> Result<pb::GetPreferencesResponse, Status> {
        let user = target_user(caller, "user_id", &request.user_id, Access::Read)?;
        let preferences = self.preferences_of(user).await?;
        Ok(pb::GetPreferencesResponse {
            preferences: Some(preferences_to_proto(preferences)),
        })
    }

    pub(super) async fn update_preferences(
        &self,
        caller: &Caller,
        request: pb::UpdatePreferencesRequest,
    ) -> Result<pb::UpdatePreferencesResponse, Status> {
        let idempotency = Idempotency::of(&caller.subject, &request)?;
        let user = target_user(caller, "user_id", &request.user_id, Access::Write)?;
        let preferences = match self.replay(&idempotency).await? {
            Replay::Done(_) => self.preferences_of(user).await?,
            Replay::New => {
                let mask = UpdateMask::parse(
                    &mask_paths(request.update_mask),
                    PreferencesPatch::UPDATABLE,
                    PreferencesPatch::OUTPUT_ONLY,
                )
                .map_err(to_status)?;
                let values = preference_values(request.preferences.unwrap_or_default());
                let patch = PreferencesPatch::new(&mask, values).map_err(to_status)?;
                let preferences = self
                    .store
                    .update_preferences(user, &patch, domain::now())
                    .await
                    .map_err(to_status)?;
                self.remember(idempotency, Some(user)).await?;
                preferences
            }
        };
        Ok(pb::UpdatePreferencesResponse {
            preferences: Some(preferences_to_proto(preferences)),
        })
    }
}
