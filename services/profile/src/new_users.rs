//! Profiles made when identity announces a new account (UserRegistered), with the name
//! the user registered under, so a profile exists before the user first opens it. A
//! profile that already exists is left alone, so a repeated event or one that arrives
//! after the user's own first write changes nothing.

use std::sync::Arc;

use chrono::Utc;
use mandi_kafka::consumer::{ConsumedEvent, EventHandler, HandlingError};
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use uuid::Uuid;

use crate::domain::{MAX_DISPLAY_NAME_CHARS, ProfileError, ProfilePatch};
use crate::store::{ProfileStore, StoreError};

/// Handles identity's events for profile.
pub struct NewUsers<S>(pub Arc<S>);

impl<S: ProfileStore> EventHandler for NewUsers<S> {
    async fn handle(&self, event: &ConsumedEvent) -> Result<(), HandlingError> {
        let Some(Payload::UserRegistered(registered)) = &event.envelope.payload else {
            return Ok(());
        };
        let user_id = Uuid::parse_str(&registered.user_id).map_err(|_| {
            HandlingError::Reject(format!("user id {:?} is not a UUID", registered.user_id))
        })?;
        let failed = |error: ProfileError| match error {
            ProfileError::Store(StoreError::Unavailable(_)) => {
                HandlingError::Retry(error.to_string())
            }
            other => HandlingError::Reject(other.to_string()),
        };
        if self.0.profile(user_id).await.map_err(failed)?.is_some() {
            return Ok(());
        }
        let patch = ProfilePatch {
            display_name: Some(
                registered
                    .display_name
                    .chars()
                    .take(MAX_DISPLAY_NAME_CHARS)
                    .collect(),
            ),
            ..ProfilePatch::default()
        };
        self.0
            .update_profile(user_id, &patch, Utc::now())
            .await
            .map_err(failed)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mandi_runtime::events::envelope;
    use mandi_sdk::proto::mandi::events::v1::UserRegistered;

    use super::*;
    use crate::store::memory::MemoryStore;

    fn registered(user_id: &str, name: &str) -> ConsumedEvent {
        let envelope = envelope("identity", "user", user_id, |meta| {
            Payload::UserRegistered(UserRegistered {
                event_id: meta.event_id,
                occur_time: Some(meta.occur_time),
                user_id: user_id.into(),
                display_name: name.into(),
                email: "asha@example.com".into(),
                role: 1,
            })
        });
        ConsumedEvent {
            topic: "mandi.identity.events.v1".into(),
            partition: 0,
            offset: 1,
            key: user_id.into(),
            envelope,
            headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_new_account_gets_a_profile_with_its_name_once() {
        let store = Arc::new(MemoryStore::default());
        let handler = NewUsers(store.clone());
        let user = Uuid::now_v7();
        handler
            .handle(&registered(&user.to_string(), "Asha Rao"))
            .await
            .unwrap();
        assert_eq!(
            store.profile(user).await.unwrap().unwrap().display_name,
            "Asha Rao"
        );

        // The user renames themselves; a redelivered event changes nothing.
        let rename = ProfilePatch {
            display_name: Some("Asha R.".into()),
            ..ProfilePatch::default()
        };
        store
            .update_profile(user, &rename, Utc::now())
            .await
            .unwrap();
        handler
            .handle(&registered(&user.to_string(), "Asha Rao"))
            .await
            .unwrap();
        assert_eq!(
            store.profile(user).await.unwrap().unwrap().display_name,
            "Asha R."
        );
    }

    #[tokio::test]
    async fn a_malformed_user_id_is_rejected_for_the_dead_letter_topic() {
        let handler = NewUsers(Arc::new(MemoryStore::default()));
        let err = handler
            .handle(&registered("not-a-uuid", "X"))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlingError::Reject(_)), "{err}");
    }
}
