//! The services the saga calls, only through `mandi-sdk` like any client: order,
//! inventory, payment, catalog and shipping with the checkout service identity (a token from identity's
//! IssueServiceToken, refreshed before it expires), cart and profile with the shopper's
//! own token (their `authorization`, forwarded). Every call is bounded by a deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mandi_sdk::{Mandi, ServiceLogin};
use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

/// The service name checkout signs in as.
pub const SERVICE_NAME: &str = "checkout";

/// Why a call did not give an answer to act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The peer did not answer in time, was unreachable, or asked to retry: trying the
    /// same (idempotent) call again may work.
    #[error("{service} did not answer: {reason}")]
    Transient {
        /// The service.
        service: &'static str,
        /// What happened.
        reason: String,
    },
    /// The peer answered with an error that a retry will not change.
    #[error("{service} refused: {status:?}: {message}", status = .status.code(), message = .status.message())]
    Refused {
        /// The service.
        service: &'static str,
        /// Its answer.
        status: Box<Status>,
    },
}

impl CallError {
    fn from_status(service: &'static str, status: Status) -> Self {
        match status.code() {
            Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Unknown
            | Code::Cancelled => CallError::Transient {
                service,
                reason: format!("{:?}: {}", status.code(), status.message()),
            },
            _ => CallError::Refused {
                service,
                status: Box::new(status),
            },
        }
    }

    /// The refusal's status, when the peer refused.
    pub fn refusal(&self) -> Option<&Status> {
        match self {
            CallError::Refused { status, .. } => Some(status),
            CallError::Transient { .. } => None,
        }
    }
}

/// Where each peer is; a missing one is a configuration error named by the caller.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// identity, for the service token.
    pub identity: String,
    /// order.
    pub order: String,
    /// inventory.
    pub inventory: String,
    /// payment.
    pub payment: String,
    /// cart.
    pub cart: String,
    /// profile.
    pub profile: String,
    /// catalog, for the products' weights and storage.
    pub catalog: String,
    /// shipping, for the delivery quote and the slot.
    pub shipping: String,
}

/// SDK clients of the peers, and the service token.
#[derive(Clone)]
pub struct Peers {
    /// Signed in as checkout: order, inventory, payment, catalog, shipping.
    login: Arc<ServiceLogin>,
    /// Sends no token of its own: cart and profile with the shopper's.
    shopper: Mandi,
    /// The deadline of every call.
    pub deadline: Duration,
}

impl Peers {
    /// Clients of `endpoints`, signing in as `checkout` with `secret`; each call may take
    /// `deadline`.
    pub fn new(
        endpoints: &Endpoints,
        secret: SecretString,
        deadline: Duration,
        tls: Option<tonic::transport::ClientTlsConfig>,
    ) -> Result<Self, mandi_sdk::SdkError> {
        let build = || {
            let mut builder = Mandi::builder()
                .endpoint(endpoints.identity.clone())
                .service_endpoint("order", endpoints.order.clone())
                .service_endpoint("inventory", endpoints.inventory.clone())
                .service_endpoint("payment", endpoints.payment.clone())
                .service_endpoint("cart", endpoints.cart.clone())
                .service_endpoint("profile", endpoints.profile.clone())
                .service_endpoint("catalog", endpoints.catalog.clone())
                .service_endpoint("shipping", endpoints.shipping.clone())
                .default_deadline(deadline)
                // The saga retries steps itself, within its budget, and records each try.
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
        Ok(Self {
            login: Arc::new(login),
            shopper: build()?,
            deadline,
        })
    }

    /// A client sending a fresh service token (see [`ServiceLogin`]), asked for within
    /// the call deadline.
    pub async fn service(&self) -> Result<&Mandi, CallError> {
        match tokio::time::timeout(self.deadline, self.login.client()).await {
            Ok(Ok(mandi)) => Ok(mandi),
            Ok(Err(status)) => Err(CallError::from_status("identity", status)),
            Err(_) => Err(CallError::Transient {
                service: "identity",
                reason: format!("no service token within {:?}", self.deadline),
            }),
        }
    }

    /// The client for calls made with the shopper's token.
    pub fn shopper(&self) -> &Mandi {
        &self.shopper
    }
}

/// A destination as the contracts carry it (order's CreateOrder, the checkout itself).
pub fn destination_to_proto(
    d: &crate::domain::Destination,
) -> mandi_sdk::proto::mandi::common::v1::DeliveryDestination {
    use mandi_sdk::proto::mandi::common::v1::{Address, DeliveryDestination, GeoPoint};
    DeliveryDestination {
        address: Some(Address {
            line1: d.line1.clone(),
            line2: d.line2.clone(),
            city: d.city.clone(),
            region: d.region.clone(),
            postal_code: d.postal_code.clone(),
            country_code: d.country_code.clone(),
            geo: d.geo.map(|(latitude_e6, longitude_e6)| GeoPoint {
                latitude_e6,
                longitude_e6,
            }),
        }),
        recipient_name: d.recipient_name.clone(),
        recipient_phone: d.recipient_phone.clone(),
        delivery_instructions: d.instructions.clone(),
    }
}

/// `message` as a request carrying `bearer` (the shopper's `authorization` value).
pub fn as_shopper<T>(message: T, bearer: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = MetadataValue::try_from(bearer) {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Awaits one call to `service`, giving up after `deadline`.
pub async fn call<T>(
    service: &'static str,
    deadline: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(deadline, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(CallError::from_status(service, status)),
        Err(_) => Err(CallError::Transient {
            service,
            reason: format!("no answer within {deadline:?}"),
        }),
    }
}
