//! Who a user is, for notification: the email from identity's GetUser, the phone from
//! profile's GetProfile and the channels and marketing choice from GetPreferences, asked
//! through the SDK as the internal service `notification` (a token from identity's
//! IssueServiceToken, renewed before it expires); and who sells a product, from catalog's
//! GetProduct. [`StaticDirectory`] is the twin tests use.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mandi_sdk::proto::mandi::catalog::v1::GetProductRequest;
use mandi_sdk::proto::mandi::identity::v1::GetUserRequest;
use mandi_sdk::proto::mandi::notification::v1::Channel as ProtoChannel;
use mandi_sdk::proto::mandi::profile::v1::{GetPreferencesRequest, GetProfileRequest};
use mandi_sdk::{Mandi, ServiceLogin};
use secrecy::{ExposeSecret, SecretString};
use tonic::Code;
use uuid::Uuid;

use crate::domain::{ChannelKind, Contact, Preferences, Recipient};

/// The service name notification signs in as.
pub const SERVICE_NAME: &str = "notification";

/// Identity or profile did not answer usefully; the event is tried again later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} did not answer: {reason}")]
pub struct DirectoryUnavailable {
    /// identity or profile.
    pub service: &'static str,
    /// What happened.
    pub reason: String,
}

/// Looks users up.
pub trait Directory: Send + Sync + 'static {
    /// The user `id` with contact details and preferences; `None` when identity does not
    /// know them.
    fn lookup(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Recipient>, DirectoryUnavailable>> + Send;

    /// The vendor who sells `product`; `None` when catalog does not know it.
    fn vendor_of(
        &self,
        product: &str,
    ) -> impl Future<Output = Result<Option<Uuid>, DirectoryUnavailable>> + Send;
}

impl<D: Directory> Directory for Arc<D> {
    fn lookup(
        &self,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Recipient>, DirectoryUnavailable>> + Send {
        (**self).lookup(id)
    }

    fn vendor_of(
        &self,
        product: &str,
    ) -> impl Future<Output = Result<Option<Uuid>, DirectoryUnavailable>> + Send {
        (**self).vendor_of(product)
    }
}

/// Fixed users, and a switch to play an outage.
#[derive(Clone, Default)]
pub struct StaticDirectory {
    users: Arc<Mutex<HashMap<Uuid, Recipient>>>,
    vendors: Arc<Mutex<HashMap<String, Uuid>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl StaticDirectory {
    /// Adds or replaces `recipient`.
    pub fn insert(&self, recipient: Recipient) {
        if let Ok(mut users) = self.users.lock() {
            users.insert(recipient.user_id, recipient);
        }
    }

    /// Records that `vendor` sells `product`.
    pub fn sells(&self, vendor: Uuid, product: &str) {
        if let Ok(mut vendors) = self.vendors.lock() {
            vendors.insert(product.to_owned(), vendor);
        }
    }

    fn check(&self) -> Result<(), DirectoryUnavailable> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DirectoryUnavailable {
                service: "profile",
                reason: "down (test switch)".into(),
            });
        }
        Ok(())
    }

    /// Makes lookups fail (`true`) or work again.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Directory for StaticDirectory {
    async fn lookup(&self, id: Uuid) -> Result<Option<Recipient>, DirectoryUnavailable> {
        self.check()?;
        Ok(self.users.lock().ok().and_then(|u| u.get(&id).cloned()))
    }

    async fn vendor_of(&self, product: &str) -> Result<Option<Uuid>, DirectoryUnavailable> {
        self.check()?;
        Ok(self
            .vendors
            .lock()
            .ok()
            .and_then(|v| v.get(product).copied()))
    }
}

/// Identity, profile and catalog through the SDK.
pub struct SdkDirectory {
    /// Signed in as notification.
    login: ServiceLogin,
    timeout: Duration,
}

impl SdkDirectory {
    /// Asks identity, profile and catalog at their `endpoints`, signing in with
    /// `secret`; every call bounded by `timeout`.
    pub fn new(
        endpoints: &Endpoints,
        secret: SecretString,
        timeout: Duration,
        tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> Result<Self, mandi_sdk::SdkError> {
        let build = || {
            let mut builder = Mandi::builder()
                .endpoint(endpoints.identity.clone())
                .service_endpoint("profile", endpoints.profile.clone())
                .service_endpoint("catalog", endpoints.catalog.clone())
                .default_deadline(timeout)
                // A failed lookup retries the whole event, with the consumer's backoff.
                .retry(mandi_sdk::RetryPolicy::none());
            if let Some(tls) = &tls {
                builder = builder.tls(tls.clone());
            }
            builder.connect_lazy()
        };
        let login = ServiceLogin::new(
            build()?,
            build()?,
            SERVICE_NAME,
            secret.expose_secret().to_owned(),
        );
        Ok(Self { login, timeout })
    }

    /// The client with a fresh service token.
    async fn signed_in(&self) -> Result<&Mandi, DirectoryUnavailable> {
        tokio::time::timeout(self.timeout, self.login.client())
            .await
            .map_err(|_| DirectoryUnavailable {
                service: "identity",
                reason: format!("no service token within {:?}", self.timeout),
            })?
            .map_err(|status| DirectoryUnavailable {
                service: "identity",
                reason: format!("{:?}: {}", status.code(), status.message()),
            })
    }
}

impl Directory for SdkDirectory {
    async fn lookup(&self, id: Uuid) -> Result<Option<Recipient>, DirectoryUnavailable> {
        let mandi = self.signed_in().await?;
        let user_id = id.to_string();
        let Some(user) = ask(
            "identity",
            self.timeout,
            mandi.identity().get_user(GetUserRequest {
                user_id: user_id.clone(),
            }),
        )
        .await?
        .and_then(|r| r.user) else {
            return Ok(None);
        };
        // A user who never saved a profile has no phone; preferences default.
        let phone = ask(
            "profile",
            self.timeout,
            mandi.profile().get_profile(GetProfileRequest {
                user_id: user_id.clone(),
            }),
        )
        .await?
        .and_then(|r| r.profile)
        .map(|p| p.phone)
        .filter(|p| !p.trim().is_empty());
        let preferences = ask(
            "profile",
            self.timeout,
            mandi
                .profile()
                .get_preferences(GetPreferencesRequest { user_id }),
        )
        .await?
        .and_then(|r| r.preferences)
        .map(|p| Preferences {
            channels: p
                .notification_channels
                .iter()
                .filter_map(|c| channel_from_proto(*c))
                .collect(),
            marketing_opt_in: p.marketing_opt_in,
        })
        .unwrap_or_default();
        Ok(Some(Recipient {
            user_id: id,
            contact: Contact {
                email: Some(user.email).filter(|e| !e.trim().is_empty()),
                phone,
            },
            preferences,
        }))
    }

    async fn vendor_of(&self, product: &str) -> Result<Option<Uuid>, DirectoryUnavailable> {
        let mandi = self.signed_in().await?;
        let found = ask(
            "catalog",
            self.timeout,
            mandi.catalog().get_product(GetProductRequest {
                product_id: product.to_owned(),
            }),
        )
        .await?;
        Ok(found
            .and_then(|r| r.product)
            .and_then(|p| Uuid::parse_str(&p.vendor_id).ok()))
    }
}

/// Where the peers are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// identity: service tokens and users' email.
    pub identity: String,
    /// profile: phones and preferences.
    pub profile: String,
    /// catalog: who sells a product.
    pub catalog: String,
}

/// The channel a profile preference names; `None` for unspecified or unknown values.
pub fn channel_from_proto(value: i32) -> Option<ChannelKind> {
    match ProtoChannel::try_from(value).ok()? {
        ProtoChannel::Email => Some(ChannelKind::Email),
        ProtoChannel::Sms => Some(ChannelKind::Sms),
        ProtoChannel::Push => Some(ChannelKind::Push),
        ProtoChannel::Whatsapp => Some(ChannelKind::WhatsApp),
        ProtoChannel::Unspecified => None,
    }
}

/// One call to `service` within `timeout`: `Ok(None)` for NOT_FOUND and
/// INVALID_ARGUMENT, unavailable for
/// anything else that is not an answer (including refusals: a misconfigured secret heals
/// only by retrying after it is fixed, and the event is kept until then or dead-lettered).
async fn ask<T>(
    service: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<Option<T>, DirectoryUnavailable> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(Some(response.into_inner())),
        // An id the peer cannot parse (a product id from an event) names nothing either.
        Ok(Err(status)) if matches!(status.code(), Code::NotFound | Code::InvalidArgument) => {
            Ok(None)
        }
        Ok(Err(status)) => Err(DirectoryUnavailable {
            service,
            reason: format!("{:?}: {}", status.code(), status.message()),
        }),
        Err(_) => Err(DirectoryUnavailable {
            service,
            reason: format!("no answer within {timeout:?}"),
        }),
    }
}
