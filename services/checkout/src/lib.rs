//! mandi-checkout: the saga that turns a cart into a paid order. `domain` holds the saga
//! and its rules, `store` the storage port with its in-memory and PostgreSQL adapters,
//! `peers` the SDK clients of order, inventory, payment, cart, profile, catalog, shipping
//! and identity,
//! `saga` the orchestrator (steps, compensation, recovery), `grpc` the service; `module`
//! builds it for the server binary and starts the recovery loop.
#![forbid(unsafe_code)]

pub mod domain;
pub mod grpc;
pub mod peers;
pub mod saga;
pub mod store;

use std::time::Duration;

use anyhow::Context as _;
use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_sdk::proto::mandi::checkout::v1::checkout_service_server::CheckoutServiceServer;
use secrecy::{ExposeSecret, SecretString};

use crate::domain::Step;
use crate::grpc::CheckoutGrpc;
use crate::peers::{Endpoints, Peers};
use crate::saga::{Orchestrator, Settings};
use crate::store::CheckoutStore;
use crate::store::memory::MemoryStore;
use crate::store::postgres::PgStore;

/// The peers checkout calls, by the short name of their endpoint variable.
pub const PEERS: [&str; 8] = [
    "identity",
    "order",
    "inventory",
    "payment",
    "cart",
    "profile",
    "catalog",
    "shipping",
];

/// Where sagas are kept. The URL may hold a password: it stays secret.
#[derive(Clone)]
pub enum Backends {
    /// In process memory: the embedded default (nothing survives a restart).
    Memory,
    /// PostgreSQL.
    Real {
        /// `MANDI_CHECKOUT__DATABASE_URL`.
        database_url: SecretString,
    },
}

/// Everything checkout reads from configuration.
#[derive(Clone)]
pub struct CheckoutConfig {
    /// Storage backend.
    pub backends: Backends,
    /// `MANDI_CHECKOUT__CLIENT_SECRET`: the secret identity knows checkout by
    /// (`MANDI_IDENTITY__SERVICE_CLIENTS=checkout=<secret>`). The server fills in a random
    /// one, registered with its own identity, under `--target=all`.
    pub client_secret: SecretString,
    /// `MANDI_CHECKOUT__<PEER>_ENDPOINT` for each of [`PEERS`]; the server fills in its own
    /// URL for the peers it runs.
    pub endpoints: [Option<String>; PEERS.len()],
    /// Client TLS for `https://` peer endpoints; set by the server.
    pub peer_tls: Option<tonic::transport::ClientTlsConfig>,
    /// The orchestrator's behaviour.
    pub settings: Settings,
    /// `MANDI_CHECKOUT__STEP_TIMEOUT`: deadline of each call a step makes (default 5s).
    pub step_timeout: Duration,
    /// `MANDI_CHECKOUT__WAIT_LIMIT`: longest a StartCheckout with `wait` waits (default 60s).
    pub wait_limit: Duration,
}

impl CheckoutConfig {
    /// Reads checkout's settings; `embedded` selects the in-memory backend.
    pub fn from_env(env: &Env, embedded: bool) -> Result<Self, ConfigError> {
        let backends = if embedded {
            Backends::Memory
        } else {
            Backends::Real {
                database_url: env
                    .require::<String>(
                        "MANDI_CHECKOUT__DATABASE_URL",
                        "a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/checkout",
                    )?
                    .into(),
            }
        };
        let client_secret: String = env.require(
            "MANDI_CHECKOUT__CLIENT_SECRET",
            "checkout's secret, as registered with identity in \
             MANDI_IDENTITY__SERVICE_CLIENTS=checkout=<secret>",
        )?;
        if client_secret.len() < 16 {
            return Err(env.invalid(
                "MANDI_CHECKOUT__CLIENT_SECRET",
                "must be at least 16 characters",
            ));
        }
        let mut endpoints: [Option<String>; PEERS.len()] = Default::default();
        for (slot, peer) in endpoints.iter_mut().zip(PEERS) {
            *slot = env.get(&endpoint_var(peer))?;
        }
        // Identity is where this process checks tokens too, unless told otherwise.
        if endpoints[0].is_none() {
            endpoints[0] = env.get("MANDI_AUTH__IDENTITY_ENDPOINT")?;
        }
        let step_timeout = env.duration_within(
            "MANDI_CHECKOUT__STEP_TIMEOUT",
            Duration::from_secs(5),
            Duration::from_millis(50),
            Duration::from_secs(120),
        )?;
        let lease = env.duration_within(
            "MANDI_CHECKOUT__LEASE",
            Duration::from_secs(30),
            Duration::from_secs(1),
            Duration::from_secs(3600),
        )?;
        if lease < step_timeout * 2 {
            return Err(env.invalid(
                "MANDI_CHECKOUT__LEASE",
                "must be at least twice MANDI_CHECKOUT__STEP_TIMEOUT",
            ));
        }
        let attempts: u32 = env.get_or("MANDI_CHECKOUT__STEP_ATTEMPTS", 3)?;
        if !(1..=20).contains(&attempts) {
            return Err(env.invalid("MANDI_CHECKOUT__STEP_ATTEMPTS", "must be between 1 and 20"));
        }
        let crash_after = match env.raw("MANDI_CHECKOUT__TEST_CRASH_AFTER") {
            None | Some("") => None,
            Some(name) => Some(Step::parse(name).ok_or_else(|| {
                env.invalid(
                    "MANDI_CHECKOUT__TEST_CRASH_AFTER",
                    &format!("expected one of {}", Step::ALL.map(Step::name).join(", ")),
                )
            })?),
        };
        let settings = Settings {
            attempts,
            backoff: env.duration_within(
                "MANDI_CHECKOUT__RETRY_BACKOFF",
                Duration::from_millis(200),
                Duration::from_millis(1),
                Duration::from_secs(60),
            )?,
            lease,
            recovery_interval: env.duration_within(
                "MANDI_CHECKOUT__RECOVERY_INTERVAL",
                Duration::from_secs(5),
                Duration::from_millis(100),
                Duration::from_secs(3600),
            )?,
            reservation_ttl: env.duration_within(
                "MANDI_CHECKOUT__RESERVATION_TTL",
                Duration::from_secs(15 * 60),
                Duration::from_secs(60),
                Duration::from_secs(86_400),
            )?,
            crash_after,
        };
        Ok(Self {
            backends,
            client_secret: SecretString::from(client_secret),
            endpoints,
            peer_tls: None,
            settings,
            step_timeout,
            wait_limit: env.duration_within(
                "MANDI_CHECKOUT__WAIT_LIMIT",
                Duration::from_secs(60),
                Duration::from_secs(1),
                Duration::from_secs(600),
            )?,
        })
    }

    /// The endpoint of `peer` (one of [`PEERS`]).
    pub fn endpoint(&self, peer: &str) -> Option<&str> {
        PEERS
            .iter()
            .position(|p| *p == peer)
            .and_then(|i| self.endpoints[i].as_deref())
    }

    /// Sets the endpoint of `peer` unless one is configured; returns it.
    pub fn endpoint_or(&mut self, peer: &str, url: &str) -> Option<String> {
        let i = PEERS.iter().position(|p| *p == peer)?;
        Some(
            self.endpoints[i]
                .get_or_insert_with(|| url.to_owned())
                .clone(),
        )
    }
}

/// For `--target=all`: when `MANDI_CHECKOUT__CLIENT_SECRET` is unset, sets it to a
/// random secret and registers it with identity (`MANDI_IDENTITY__SERVICE_CLIENTS`), so
/// the embedded checkout signs in as `checkout` out of the box. A checkout entry already
/// in the service clients without the secret beside it is a configuration error.
pub fn embed_client_secret(env: &mut Env) -> Result<(), ConfigError> {
    env.embed_service_secret("checkout", "MANDI_CHECKOUT__CLIENT_SECRET")
}

/// `MANDI_CHECKOUT__<PEER>_ENDPOINT`.
pub fn endpoint_var(peer: &str) -> String {
    format!("MANDI_CHECKOUT__{}_ENDPOINT", peer.to_ascii_uppercase())
}

/// Builds checkout with its configured backend and starts its recovery loop.
pub async fn module(config: CheckoutConfig) -> anyhow::Result<Module> {
    // Peers first: a configuration error is reported before the database is opened.
    let peers = peers(&config)?;
    match &config.backends {
        Backends::Memory => Ok(build(MemoryStore::default(), peers, &config)),
        Backends::Real { database_url } => {
            let store = PgStore::connect(database_url.expose_secret())
                .await
                .context("cannot open checkout's PostgreSQL database")?;
            Ok(build(store, peers, &config))
        }
    }
}

/// The SDK clients of checkout's peers, as configured.
pub fn peers(config: &CheckoutConfig) -> Result<Peers, ConfigError> {
    let endpoint = |peer: &str| {
        config
            .endpoint(peer)
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::Missing {
                var: endpoint_var(peer),
                hint: format!("the {peer} service's URL, for the checkout saga"),
            })
    };
    let endpoints = Endpoints {
        identity: endpoint("identity")?,
        order: endpoint("order")?,
        inventory: endpoint("inventory")?,
        payment: endpoint("payment")?,
        cart: endpoint("cart")?,
        profile: endpoint("profile")?,
        catalog: endpoint("catalog")?,
        shipping: endpoint("shipping")?,
    };
    let secret = config.client_secret.clone();
    Peers::new(
        &endpoints,
        secret,
        config.step_timeout,
        config.peer_tls.clone(),
    )
    .map_err(|error| ConfigError::Invalid {
        var: "MANDI_CHECKOUT__*_ENDPOINT".into(),
        value: endpoints.identity.clone(),
        reason: error.to_string(),
    })
}

fn build<S: CheckoutStore>(store: S, peers: Peers, config: &CheckoutConfig) -> Module {
    let orchestrator = Orchestrator::new(store, peers, config.settings.clone());
    // The loop lives as long as the process; its first round resumes what a previous
    // process left unfinished.
    orchestrator.spawn_recovery();
    let service = CheckoutServiceServer::new(CheckoutGrpc::new(orchestrator, config.wait_limit));
    Module::new(service, grpc::POLICIES)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn real_mode_names_the_missing_database_url() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = CheckoutConfig::from_env(&env, false).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_CHECKOUT__DATABASE_URL"),
            "{err}"
        );
    }

    const SECRET: (&str, &str) = ("MANDI_CHECKOUT__CLIENT_SECRET", "0123456789abcdef");

    #[test]
    fn the_client_secret_is_required_and_long() {
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let err = CheckoutConfig::from_env(&env, true).err().unwrap();
        assert!(
            err.to_string().contains("MANDI_CHECKOUT__CLIENT_SECRET"),
            "{err}"
        );
        let env = Env::from_pairs([("MANDI_CHECKOUT__CLIENT_SECRET", "short")]);
        let err = CheckoutConfig::from_env(&env, true).err().unwrap();
        assert!(err.to_string().contains("at least 16"), "{err}");
    }

    #[test]
    fn defaults_retry_each_step_three_times_within_a_thirty_second_lease() {
        let env = Env::from_pairs([SECRET]);
        let config = CheckoutConfig::from_env(&env, true).unwrap();
        assert_eq!(config.settings.attempts, 3);
        assert_eq!(config.settings.lease, Duration::from_secs(30));
        assert_eq!(config.step_timeout, Duration::from_secs(5));
        assert_eq!(config.settings.crash_after, None);
    }

    #[test]
    fn a_lease_shorter_than_two_step_timeouts_is_refused() {
        let env = Env::from_pairs([
            SECRET,
            ("MANDI_CHECKOUT__STEP_TIMEOUT", "10s"),
            ("MANDI_CHECKOUT__LEASE", "15s"),
        ]);
        let err = CheckoutConfig::from_env(&env, true).err().unwrap();
        assert!(err.to_string().contains("MANDI_CHECKOUT__LEASE"), "{err}");
    }

    #[test]
    fn an_unknown_crash_point_lists_the_steps() {
        let env = Env::from_pairs([SECRET, ("MANDI_CHECKOUT__TEST_CRASH_AFTER", "teleport")]);
        let err = CheckoutConfig::from_env(&env, true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("create_order, reserve, reserve_slot, authorize"),
            "{err}"
        );
    }

    #[test]
    fn the_embedded_secret_is_registered_with_identity_beside_other_clients() {
        let mut env =
            Env::from_pairs([("MANDI_IDENTITY__SERVICE_CLIENTS", "order=0123456789abcdef")]);
        embed_client_secret(&mut env).unwrap();
        let secret = env.raw("MANDI_CHECKOUT__CLIENT_SECRET").unwrap().to_owned();
        assert_eq!(secret.len(), 40);
        assert_eq!(
            env.list("MANDI_IDENTITY__SERVICE_CLIENTS"),
            [
                "order=0123456789abcdef".to_owned(),
                format!("checkout={secret}")
            ]
        );
        let mut configured = Env::from_pairs([(
            "MANDI_IDENTITY__SERVICE_CLIENTS",
            "checkout=0123456789abcdef",
        )]);
        let err = embed_client_secret(&mut configured)
            .unwrap_err()
            .to_string();
        assert!(err.contains("MANDI_CHECKOUT__CLIENT_SECRET"), "{err}");
    }

    #[test]
    fn shipping_is_a_peer_with_its_own_endpoint_variable() {
        let env = Env::from_pairs([
            SECRET,
            ("MANDI_CHECKOUT__SHIPPING_ENDPOINT", "http://shipping:50051"),
        ]);
        let config = CheckoutConfig::from_env(&env, true).unwrap();
        assert_eq!(config.endpoint("shipping"), Some("http://shipping:50051"));
        assert_eq!(config.endpoint("catalog"), None);
    }

    #[test]
    fn a_missing_peer_is_named() {
        let env = Env::from_pairs([SECRET]);
        let config = CheckoutConfig::from_env(&env, true).unwrap();
        let err = peers(&config).err().unwrap().to_string();
        assert!(err.contains("MANDI_CHECKOUT__IDENTITY_ENDPOINT"), "{err}");
    }
}
