//! [`Mandi`]: one handle to every mandi service, and [`MandiBuilder`] to configure it. All
//! service clients share the token, the call policy and, per endpoint, one connection.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use tonic::transport::{ClientTlsConfig, Endpoint};

use crate::proto::mandi::cart::v1::cart_service_client::CartServiceClient;
use crate::proto::mandi::catalog::v1::catalog_service_client::CatalogServiceClient;
use crate::proto::mandi::checkout::v1::checkout_service_client::CheckoutServiceClient;
use crate::proto::mandi::identity::v1::identity_service_client::IdentityServiceClient;
use crate::proto::mandi::inventory::v1::inventory_service_client::InventoryServiceClient;
use crate::proto::mandi::notification::v1::notification_service_client::NotificationServiceClient;
use crate::proto::mandi::order::v1::order_service_client::OrderServiceClient;
use crate::proto::mandi::payment::v1::payment_service_client::PaymentServiceClient;
use crate::proto::mandi::profile::v1::profile_service_client::ProfileServiceClient;
use crate::proto::mandi::shipping::v1::shipping_service_client::ShippingServiceClient;
use crate::{CallPolicy, MandiChannel, RetryPolicy, SdkError, TokenHandle};

/// Declares the services: per service, its short name (the accessor and the key of
/// [`MandiBuilder::service_endpoint`]) and its generated client. Adding one is one line.
macro_rules! services {
    ($($(#[$doc:meta])* $name:ident => $client:ty;)*) => {
        /// Short names of every service, as [`MandiBuilder::service_endpoint`] takes them.
        pub const SERVICES: &[&str] = &[$(stringify!($name)),*];

        /// The channel of each service.
        #[derive(Clone, Debug)]
        struct Channels {
            $($name: MandiChannel,)*
        }

        impl Channels {
            fn build(
                mut channel_for: impl FnMut(&'static str) -> Result<MandiChannel, SdkError>,
            ) -> Result<Self, SdkError> {
                Ok(Self { $($name: channel_for(stringify!($name))?,)* })
            }
        }

        impl Mandi {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> $client {
                    <$client>::new(self.channels.$name.clone())
                }
            )*
        }
    };
}

services! {
    /// A client of `mandi.identity.v1.IdentityService`: accounts, sign-in and tokens.
    identity => IdentityServiceClient<MandiChannel>;
    /// A client of `mandi.profile.v1.ProfileService`: profiles, addresses, preferences.
    profile => ProfileServiceClient<MandiChannel>;
    /// A client of `mandi.catalog.v1.CatalogService`: products, categories, reviews.
    catalog => CatalogServiceClient<MandiChannel>;
    /// A client of `mandi.inventory.v1.InventoryService`: warehouses, stock, reservations.
    inventory => InventoryServiceClient<MandiChannel>;
    /// A client of `mandi.cart.v1.CartService`: shoppers' and guests' carts.
    cart => CartServiceClient<MandiChannel>;
    /// A client of `mandi.order.v1.OrderService`: orders and their status.
    order => OrderServiceClient<MandiChannel>;
    /// A client of `mandi.payment.v1.PaymentService`: payments, refunds, the ledger.
    payment => PaymentServiceClient<MandiChannel>;
    /// A client of `mandi.checkout.v1.CheckoutService`: the checkout saga.
    checkout => CheckoutServiceClient<MandiChannel>;
    /// A client of `mandi.shipping.v1.ShippingService`: slots, shipments, riders.
    shipping => ShippingServiceClient<MandiChannel>;
    /// A client of `mandi.notification.v1.NotificationService`: messages to users.
    notification => NotificationServiceClient<MandiChannel>;
}

/// The entry point to every mandi service. Cheap to clone; clones share connections and
/// the token.
///
/// Each accessor (`identity()`, …) returns a new generated client over the shared channel.
#[derive(Clone, Debug)]
pub struct Mandi {
    channels: Channels,
    token: TokenHandle,
}

/// Configures a [`Mandi`]. Start with [`Mandi::builder`].
#[derive(Clone)]
pub struct MandiBuilder {
    endpoint: Option<String>,
    service_endpoints: BTreeMap<String, String>,
    tls: Option<ClientTlsConfig>,
    token: Option<String>,
    policy: CallPolicy,
    connect_timeout: Option<Duration>,
}

// === impl Mandi ===

impl Mandi {
    /// Starts configuring a client.
    pub fn builder() -> MandiBuilder {
        MandiBuilder {
            endpoint: None,
            service_endpoints: BTreeMap::new(),
            tls: None,
            token: None,
            policy: CallPolicy::default(),
            connect_timeout: None,
        }
    }

    /// Replaces the access token every service client sends (`None` signs out). Fails,
    /// keeping the old token, when the token cannot be sent as a header.
    pub fn set_token(&self, token: Option<String>) -> Result<(), SdkError> {
        self.token.set(token)
    }

    /// The token shared by every client of this `Mandi` and its clones.
    pub fn token_handle(&self) -> &TokenHandle {
        &self.token
    }
}

// === impl MandiBuilder ===

impl MandiBuilder {
    /// The endpoint of every service without its own, e.g. `http://127.0.0.1:50051` (the
    /// one binary) or the gateway's URL.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The endpoint of one service, by short name (see [`SERVICES`]), e.g.
    /// `service_endpoint("catalog", "http://catalog:50051")`.
    pub fn service_endpoint(mut self, service: impl Into<String>, url: impl Into<String>) -> Self {
        self.service_endpoints.insert(service.into(), url.into());
        self
    }

    /// TLS for `https://` endpoints; `http://` endpoints stay plaintext.
    pub fn tls(mut self, tls: ClientTlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The access token to start with; [`Mandi::set_token`] changes it later.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The deadline of calls that set none (default 10 s).
    pub fn default_deadline(mut self, deadline: Duration) -> Self {
        self.policy.default_deadline = Some(deadline);
        self
    }

    /// Leaves calls that set no deadline without one.
    pub fn no_default_deadline(mut self) -> Self {
        self.policy.default_deadline = None;
        self
    }

    /// How retry-safe calls are retried after UNAVAILABLE (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.policy.retry = retry;
        self
    }

    /// How long to wait for a TCP (and TLS) connection (default: no limit but the call's
    /// deadline).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Builds the client without connecting: each endpoint connects on its first call and
    /// reconnects after failures.
    pub fn connect_lazy(self) -> Result<Mandi, SdkError> {
        if let Some(name) = self
            .service_endpoints
            .keys()
            .find(|name| !SERVICES.contains(&name.as_str()))
        {
            return Err(SdkError::UnknownService {
                name: name.clone(),
                known: SERVICES.join(", "),
            });
        }
        if self.endpoint.is_none() {
            let missing: Vec<&str> = SERVICES
                .iter()
                .copied()
                .filter(|name| !self.service_endpoints.contains_key(*name))
                .collect();
            if !missing.is_empty() {
                return Err(SdkError::MissingEndpoint {
                    services: missing.join(", "),
                });
            }
        }

        let token = TokenHandle::new(self.token.clone())?;
        // One channel (one HTTP/2 connection) per distinct URL.
        let mut by_url: HashMap<String, MandiChannel> = HashMap::new();
        let channels = Channels::build(|service| {
            let url = self
                .service_endpoints
                .get(service)
                .or(self.endpoint.as_ref())
                .ok_or_else(|| SdkError::MissingEndpoint {
                    services: service.to_owned(),
                })?;
            if let Some(channel) = by_url.get(url) {
                return Ok(channel.clone());
            }
            let endpoint = self.endpoint_for(url)?;
            let channel = MandiChannel::new(endpoint.connect_lazy(), token.clone(), self.policy);
            by_url.insert(url.clone(), channel.clone());
            Ok(channel)
        })?;
        Ok(Mandi { channels, token })
    }

    fn endpoint_for(&self, url: &str) -> Result<Endpoint, SdkError> {
        let invalid = |source| SdkError::InvalidEndpoint {
            url: url.to_owned(),
            source,
        };
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(invalid)?
            .user_agent(concat!("mandi-sdk/", env!("CARGO_PKG_VERSION")))
            .map_err(invalid)?;
        let uri = endpoint.uri();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(SdkError::UnsupportedEndpoint {
                    url: url.to_owned(),
                });
            }
        };
        if uri.host().is_none_or(str::is_empty) {
            return Err(SdkError::UnsupportedEndpoint {
                url: url.to_owned(),
            });
        }
        if let Some(timeout) = self.connect_timeout {
            endpoint = endpoint.connect_timeout(timeout);
        }
        match (&self.tls, https) {
            (Some(tls), true) => endpoint
                .tls_config(tls.clone())
                .map_err(|source| SdkError::Tls {
                    url: url.to_owned(),
                    source,
                }),
            (None, true) => Err(SdkError::TlsRequired {
                url: url.to_owned(),
            }),
            (_, false) => Ok(endpoint),
        }
    }
}

impl fmt::Debug for MandiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token itself.
        f.debug_struct("MandiBuilder")
            .field("endpoint", &self.endpoint)
            .field("service_endpoints", &self.service_endpoints)
            .field("tls", &self.tls.is_some())
            .field("token", &self.token.is_some())
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests;
