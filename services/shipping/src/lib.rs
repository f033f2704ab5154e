//! mandi-shipping: getting paid orders to the door. `domain` holds the rules (zones and
//! fees, slots and held places, shipments and proof of delivery, riders and how one is
//! chosen), `store` the storage port with its in-memory and PostgreSQL adapters, `service`
//! the use cases, `orders` the order service as shipping uses it, `events` what shipping
//! publishes and consumes, and `grpc` the service with live tracking; `module` builds it
//! for the server binary from configuration.
#![forbid(unsafe_code)]

pub mod domain;
pub mod events;
pub mod grpc;
pub mod orders;
pub mod service;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mandi_kafka::EventsConfig;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::outbox::Relay;
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::shipping::v1::shipping_service_server::ShippingServiceServer;
use mandi_sdk::{Mandi, ServiceLogin};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::{NearestAvailable, ZoneMap};
use crate::events::EventReactor;
use crate::grpc::ShippingGrpc;
use crate::orders::SdkOrders;
use crate::service::{Settings, Shipping};
use crate::store::ShippingStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgStore;

/// The name shipping signs in and publishes as.
pub const SERVICE_NAME: &str = "shipping";

/// The demo zones (Bengaluru, Mumbai, Delhi) used when no zones file is configured.
pub const DEMO_ZONES: &str = include_str!("../data/demo-zones.json");

/// Outbox records the relay reads per pass.
const RELAY_BATCH: usize = 100;

/// How often held places past their expiry are marked EXPIRED (they stop counting at
/// once; this only makes their status say so).
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// Where shipping keeps its data. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default.
    Memory,
    /// PostgreSQL.
    Real {
        /// `MANDI_SHIPPING__DATABASE_URL`.
        database_url: SecretString,
    },
}

/// Everything shipping reads from configuration.
#[derive(Clone)]
pub struct ShippingConfig {
    /// Storage backend.
    pub backends: Backends,
    /// `MANDI_SHIPPING__ZONES_FILE`: the delivery zones (JSON); the bundled demo zones
    /// when unset.
    pub zones: Arc<ZoneMap>,
    /// `MANDI_SHIPPING__HOLD_TTL`: how long a slot place is held by default (15m).
    pub hold_ttl: Duration,
    /// `MANDI_SHIPPING__AUTO_ASSIGN`: offer new shipments to the nearest rider (true).
    pub auto_assign: bool,
    /// `MANDI_SHIPPING__CLIENT_SECRET`: shipping's secret with identity, to call order.
    pub client_secret: Option<SecretString>,
    /// `MANDI_SHIPPING__IDENTITY_ENDPOINT` (or `MANDI_AUTH__IDENTITY_ENDPOINT`).
    pub identity_endpoint: Option<String>,
    /// `MANDI_SHIPPING__ORDER_ENDPOINT`.
    pub order_endpoint: Option<String>,
    /// TLS for calls to identity and order.
    pub peer_tls: Option<tonic::transport::ClientTlsConfig>,
    /// `MANDI_SHIPPING__PEER_TIMEOUT`: longest wait for identity or order (3s).
    pub peer_timeout: Duration,
    /// `MANDI_SHIPPING__OUTBOX_INTERVAL`: how often the relay looks for events (1s).
    pub outbox_interval: Duration,
    /// Where events go and come from.
    pub events: EventsConfig,
}

impl ShippingConfig {
    /// Reads shipping's settings; `embedded` selects the in-memory backend.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                database_url: env
                    .require::<String>(
                        "MANDI_SHIPPING__DATABASE_URL",
                        "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/shipping",
                    )?
                    .into(),
            }
        };
        let zones_json = match env.get::<String>("MANDI_SHIPPING__ZONES_FILE")? {
            Some(path) if !path.trim().is_empty() => {
                std::fs::read_to_string(&path).map_err(|e| {
                    env.invalid(
                        "MANDI_SHIPPING__ZONES_FILE",
                        &format!("cannot read {path}: {e}"),
                    )
                })?
            }
            _ => DEMO_ZONES.to_owned(),
        };
        let zones = ZoneMap::from_json(&zones_json)
            .map_err(|e| env.invalid("MANDI_SHIPPING__ZONES_FILE", &e))?;
        let client_secret: Option<String> = if embedded {
            env.get("MANDI_SHIPPING__CLIENT_SECRET")?
        } else {
            Some(env.require(
                "MANDI_SHIPPING__CLIENT_SECRET",
                "shipping's secret, as registered with identity in \
                 MANDI_IDENTITY__SERVICE_CLIENTS=shipping=<secret>",
            )?)
        };
        if client_secret.as_ref().is_some_and(|s| s.len() < 16) {
            return Err(env.invalid(
                "MANDI_SHIPPING__CLIENT_SECRET",
                "must be at least 16 characters",
            ));
        }
        let identity_endpoint = match env.get("MANDI_SHIPPING__IDENTITY_ENDPOINT")? {
            Some(url) => Some(url),
            None => env.get("MANDI_AUTH__IDENTITY_ENDPOINT")?,
        };
        Ok(Self {
            backends,
            zones: Arc::new(zones),
            hold_ttl: env.duration_within(
                "MANDI_SHIPPING__HOLD_TTL",
                Duration::from_secs(15 * 60),
                Duration::from_secs(60),
                Duration::from_secs(3600),
            )?,
            auto_assign: env.get_or("MANDI_SHIPPING__AUTO_ASSIGN", true)?,
            client_secret: client_secret.map(SecretString::from),
            identity_endpoint,
            order_endpoint: env.get("MANDI_SHIPPING__ORDER_ENDPOINT")?,
            peer_tls: None,
            peer_timeout: env.duration_within(
                "MANDI_SHIPPING__PEER_TIMEOUT",
                Duration::from_secs(3),
                Duration::from_millis(50),
                Duration::from_secs(60),
            )?,
            outbox_interval: env.duration_within(
                "MANDI_SHIPPING__OUTBOX_INTERVAL",
                Duration::from_secs(1),
                Duration::from_millis(10),
                Duration::from_secs(60),
            )?,
            events: EventsConfig::from_env(env)?,
        })
    }

    /// The use cases' share of the configuration.
    pub fn settings(&self) -> Settings {
        Settings {
            zones: self.zones.clone(),
            default_hold: chrono::Duration::from_std(self.hold_ttl)
                .unwrap_or(chrono::Duration::minutes(15)),
            auto_assign: self.auto_assign,
        }
    }
}

/// For `--target=all`: when `MANDI_SHIPPING__CLIENT_SECRET` is unset, sets it to a random
/// secret and registers it with identity, so the embedded shipping signs in as `shipping`.
pub fn embed_client_secret(env: &mut Env) -> Result<(), ConfigError> {
    env.embed_service_secret(SERVICE_NAME, "MANDI_SHIPPING__CLIENT_SECRET")
}

/// Builds shipping with its configured backend and starts its outbox relay, its hold
/// sweeper and its event consumer.
pub async fn module(config: ShippingConfig) -> anyhow::Result<Module> {
    match &config.backends {
        Backends::Memory => build(MemoryStore::default(), &config).await,
        Backends::Real { database_url } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open shipping's PostgreSQL database")?;
            build(store, &config).await
        }
    }
}

/// The order client, signed in as shipping.
fn order_client(config: &ShippingConfig) -> anyhow::Result<SdkOrders> {
    let missing = |var: &str, hint: &str| ConfigError::Missing {
        var: var.into(),
        hint: hint.into(),
    };
    let identity = config.identity_endpoint.clone().ok_or_else(|| {
        missing(
            "MANDI_SHIPPING__IDENTITY_ENDPOINT",
            "the identity service's URL, for shipping's service token",
        )
    })?;
    let order = config.order_endpoint.clone().ok_or_else(|| {
        missing(
            "MANDI_SHIPPING__ORDER_ENDPOINT",
            "the order service's URL, to read paid orders and move them along",
        )
    })?;
    let secret = config.client_secret.clone().ok_or_else(|| {
        missing(
            "MANDI_SHIPPING__CLIENT_SECRET",
            "shipping's secret, as registered with identity",
        )
    })?;
    let build = || {
        let mut builder = Mandi::builder()
            .endpoint(identity.clone())
            .service_endpoint("order", order.clone())
            .default_deadline(config.peer_timeout)
            // A failed call retries the whole event, with the consumer's backoff.
            .retry(mandi_sdk::RetryPolicy::none());
        if let Some(tls) = &config.peer_tls {
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
    Ok(SdkOrders::new(login))
}

async fn build<S: ShippingStore>(store: S, config: &ShippingConfig) -> anyhow::Result<Module> {
    let store = Arc::new(store);
    let publisher = config
        .events
        .publisher(SERVICE_NAME)
        .context("cannot create shipping's event publisher")?;
    Relay::new(store.clone(), publisher, RELAY_BATCH).spawn(config.outbox_interval);
    let shipping = Shipping::new(store.clone(), config.settings(), Arc::new(NearestAvailable));
    spawn_sweeper(store);
    let reactor = EventReactor::new(shipping.clone(), order_client(config)?);
    // The consumer lives as long as the process: never aborted.
    let _consumer = config
        .events
        .consume(events::consumer_settings(), reactor)
        .await
        .context("cannot start shipping's event consumer")?;
    Ok(Module::new(
        ShippingServiceServer::new(ShippingGrpc::new(shipping)),
        grpc::POLICIES,
    ))
}

fn spawn_sweeper<S: ShippingStore>(store: Arc<S>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        loop {
            tick.tick().await;
            match store.expire_holds(domain::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "slot holds expired"),
                Err(error) => tracing::warn!(%error, "cannot expire slot holds"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A PaymentConfirmed for `order_id`, by card.
    fn payment_confirmed(
        order_id: uuid::Uuid,
    ) -> mandi_sdk::proto::mandi::events::v1::EventEnvelope {
        use mandi_sdk::proto::mandi::common::v1::Money;
        use mandi_sdk::proto::mandi::events::v1::PaymentConfirmed;
        use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
        mandi_runtime::events::envelope(
            "payment",
            "payment",
            uuid::Uuid::now_v7().to_string(),
            |meta| {
                Payload::PaymentConfirmed(PaymentConfirmed {
                    event_id: meta.event_id,
                    occur_time: Some(meta.occur_time),
                    order_id: order_id.to_string(),
                    amount: Some(Money {
                        currency_code: "INR".into(),
                        amount_minor: 50_000,
                    }),
                    method: 1,
                    ..Default::default()
                })
            },
        )
    }

    #[tokio::test]
    async fn a_payment_confirmed_after_its_order_was_cancelled_makes_no_shipment() {
        use crate::domain::Destination;
        use crate::orders::{MemoryOrders, PaidOrder};
        let config = ShippingConfig::from_env(&Env::default(), true).unwrap();
        let store = Arc::new(MemoryStore::default());
        let shipping = Shipping::new(store.clone(), config.settings(), Arc::new(NearestAvailable));
        let orders = MemoryOrders::default();
        let order = || PaidOrder {
            user_id: uuid::Uuid::now_v7(),
            destination: Destination {
                line1: "12 MG Road".into(),
                city: "Bengaluru".into(),
                postal_code: "560001".into(),
                country_code: "IN".into(),
                recipient_name: "Asha Rao".into(),
                recipient_phone: "+919812345678".into(),
                ..Default::default()
            },
            slot_id: None,
            grams_by_weight: 0,
            cancelled: false,
        };
        let (kept, cancelled) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        orders.insert(kept, order());
        orders.insert(cancelled, order());
        // The cancellation's event was handled first: it found no shipment to cancel.
        orders.cancel(cancelled);
        let reactor = EventReactor::new(shipping, orders);

        // An order still on is shipped: here refused only for want of the slot hold
        // checkout would have made, so past the point a cancelled order stops at.
        let shipped = reactor.react(&payment_confirmed(kept)).await;
        assert!(
            matches!(shipped, Err(crate::domain::ShippingError::NoHold(id)) if id == kept),
            "{shipped:?}"
        );
        // Cancelled first: nothing to ship, and the event is done with.
        reactor.react(&payment_confirmed(cancelled)).await.unwrap();
        assert!(store.shipment_of_order(cancelled).await.unwrap().is_none());
    }

    /// Orders whose order is cancelled as soon as shipping has read it once: the
    /// cancellation's event is handled while the shipment is being made.
    struct CancelledWhileShipping(crate::orders::MemoryOrders, uuid::Uuid);

    impl crate::orders::Orders for CancelledWhileShipping {
        async fn paid_order(
            &self,
            order_id: uuid::Uuid,
        ) -> Result<Option<crate::orders::PaidOrder>, crate::domain::ShippingError> {
            let order = self.0.paid_order(order_id).await;
            self.0.cancel(self.1);
            order
        }

        async fn advance(
            &self,
            order_id: uuid::Uuid,
            step: crate::orders::OrderStep,
            shipment_id: uuid::Uuid,
            key: &str,
        ) -> Result<(), crate::domain::ShippingError> {
            self.0.advance(order_id, step, shipment_id, key).await
        }
    }

    #[tokio::test]
    async fn an_order_cancelled_while_its_shipment_is_made_leaves_no_live_shipment() {
        use crate::domain::{Destination, NewHold, ShipmentStatus};
        use crate::orders::{MemoryOrders, PaidOrder};
        let config = ShippingConfig::from_env(&Env::default(), true).unwrap();
        let store = Arc::new(MemoryStore::default());
        let shipping = Shipping::new(store.clone(), config.settings(), Arc::new(NearestAvailable));
        let order_id = uuid::Uuid::now_v7();
        let now = domain::now();
        let slot = config
            .zones
            .zone("blr-central")
            .unwrap()
            .slots_between(
                now + chrono::Duration::hours(3),
                now + chrono::Duration::days(2),
            )
            .remove(0);
        let hold = NewHold {
            order_id,
            weight_grams: 1_000,
            cold_chain: false,
            ttl: chrono::Duration::minutes(15),
        };
        shipping.reserve(&slot.id, hold, now).await.unwrap();
        let orders = MemoryOrders::default();
        orders.insert(
            order_id,
            PaidOrder {
                user_id: uuid::Uuid::now_v7(),
                destination: Destination {
                    postal_code: "560001".into(),
                    country_code: "IN".into(),
                    ..Default::default()
                },
                slot_id: Some(slot.id.clone()),
                grams_by_weight: 0,
                cancelled: false,
            },
        );
        let reactor = EventReactor::new(shipping, CancelledWhileShipping(orders, order_id));
        reactor.react(&payment_confirmed(order_id)).await.unwrap();
        let shipment = store.shipment_of_order(order_id).await.unwrap().unwrap();
        assert_eq!(shipment.status, ShipmentStatus::Cancelled);
    }

    #[test]
    fn real_mode_names_the_missing_database_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = ShippingConfig::from_env(&env, false).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_SHIPPING__DATABASE_URL"),
            "{err}"
        );
    }

    #[test]
    fn defaults_hold_places_for_fifteen_minutes_on_the_demo_zones() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = ShippingConfig::from_env(&env, true).unwrap();
        assert_eq!(config.hold_ttl, Duration::from_secs(900));
        assert!(config.auto_assign);
        assert!(config.zones.zone("blr-central").is_some());
    }

    #[test]
    fn a_hold_ttl_outside_a_minute_to_an_hour_is_refused() {
        let env = Env::from_pairs([("MANDI_SHIPPING__HOLD_TTL", "10s")]);
        let err = ShippingConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_SHIPPING__HOLD_TTL"),
            "{err}"
        );
    }

    #[test]
    fn a_zones_file_that_does_not_parse_is_refused_with_the_variable_named() {
        let dir = std::env::temp_dir().join(format!("zones-{}.json", uuid::Uuid::now_v7()));
        std::fs::write(&dir, "{\"zones\": []}").unwrap();
        let env = Env::from_pairs([("MANDI_SHIPPING__ZONES_FILE", dir.to_str().unwrap())]);
        let err = ShippingConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_SHIPPING__ZONES_FILE"),
            "{err}"
        );
        let _ = std::fs::remove_file(dir);
    }
}
