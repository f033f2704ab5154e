//! Signing in as an internal service: a client that carries a service token from
//! identity's IssueServiceToken, asked for on first use and again before it runs out.

use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tonic::Status;

use crate::Mandi;
use crate::proto::mandi::identity::v1::IssueServiceTokenRequest;

/// A client signed in as one internal service.
pub struct ServiceLogin {
    signed_in: Mandi,
    anonymous: Mandi,
    service_name: String,
    secret: String,
    refresh_at: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for ServiceLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceLogin")
            .field("service_name", &self.service_name)
            .finish_non_exhaustive()
    }
}

impl ServiceLogin {
    /// Signs `signed_in` in as `service_name` with `secret`, asking identity through
    /// `anonymous` (a client to the same endpoints that sends no token).
    pub fn new(
        signed_in: Mandi,
        anonymous: Mandi,
        service_name: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self {
            signed_in,
            anonymous,
            service_name: service_name.into(),
            secret: secret.into(),
            refresh_at: Mutex::new(None),
        }
    }

    /// The client with a fresh service token: issued on first use and again once a fifth
    /// of its lifetime is left (at least 10s before it expires).
    pub async fn client(&self) -> Result<&Mandi, Status> {
        let mut refresh_at = self.refresh_at.lock().await;
        if refresh_at.is_none_or(|at| Instant::now() >= at) {
            let issued = self
                .anonymous
                .identity()
                .issue_service_token(IssueServiceTokenRequest {
                    service_name: self.service_name.clone(),
                    client_secret: self.secret.clone(),
                })
                .await?
                .into_inner();
            self.signed_in
                .set_token(Some(issued.access_token))
                .map_err(|e| Status::internal(format!("unusable service token: {e}")))?;
            let lifetime = Duration::from_secs(u64::try_from(issued.expires_in).unwrap_or(0));
            let early = (lifetime / 5).max(Duration::from_secs(10));
            *refresh_at = Some(Instant::now() + lifetime.saturating_sub(early));
        }
        Ok(&self.signed_in)
    }
}
