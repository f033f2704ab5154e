//! The services this binary can run, and how each is built from configuration
//! (after Grafana Loki's module map, simplified: no service depends on another's
//! in-process state; they talk over gRPC through the SDK).

use mandi_runtime::config::{ConfigError, Env};
use mandi_runtime::server::Module;
use mandi_runtime::tls::TlsMaterial;

/// One service the binary can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// mandi.identity.v1.IdentityService
    Identity,
    /// mandi.profile.v1.ProfileService
    Profile,
    /// mandi.catalog.v1.CatalogService
    Catalog,
    /// mandi.inventory.v1.InventoryService
    Inventory,
    /// mandi.cart.v1.CartService
    Cart,
    /// mandi.order.v1.OrderService
    Order,
    /// mandi.payment.v1.PaymentService
    Payment,
    /// mandi.checkout.v1.CheckoutService
    Checkout,
    /// mandi.notification.v1.NotificationService
    Notification,
    /// mandi.shipping.v1.ShippingService
    Shipping,
    /// The public edge: grpc-web and gRPC routed to the services, and the storefront.
    Gateway,
}

/// Every implemented target, in start order.
pub const ALL: &[Target] = &[
    Target::Identity,
    Target::Profile,
    Target::Catalog,
    Target::Inventory,
    Target::Cart,
    Target::Order,
    Target::Payment,
    Target::Checkout,
    Target::Notification,
    Target::Shipping,
    // Last: it fronts the others.
    Target::Gateway,
];

impl Target {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Target::Identity => "identity",
            Target::Profile => "profile",
            Target::Catalog => "catalog",
            Target::Inventory => "inventory",
            Target::Cart => "cart",
            Target::Order => "order",
            Target::Payment => "payment",
            Target::Checkout => "checkout",
            Target::Notification => "notification",
            Target::Shipping => "shipping",
            Target::Gateway => "gateway",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        ALL.iter().copied().find(|t| t.name() == name)
    }
}

/// What `--target` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The services to run.
    pub targets: Vec<Target>,
    /// `all`: the whole mesh in one process on in-memory storage.
    pub embedded: bool,
}

/// Parses `all` or a comma list of target names.
pub fn select(spec: &str) -> Result<Selection, ConfigError> {
    if spec.trim() == "all" {
        return Ok(Selection {
            targets: ALL.to_vec(),
            embedded: true,
        });
    }
    let mut targets = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let target = Target::parse(name).ok_or_else(|| ConfigError::Invalid {
            var: "--target (MANDI_TARGET)".into(),
            value: name.to_owned(),
            reason: format!(
                "unknown target; known: all, {}",
                ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
            ),
        })?;
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    if targets.is_empty() {
        return Err(ConfigError::Missing {
            var: "--target (MANDI_TARGET)".into(),
            hint: "name at least one service, or all".into(),
        });
    }
    Ok(Selection {
        targets,
        embedded: false,
    })
}

/// A target's configuration, read and checked before any port is bound.
pub enum Prepared {
    /// identity's settings.
    Identity(mandi_identity::IdentityConfig),
    /// profile's settings.
    Profile(mandi_profile::ProfileConfig),
    /// catalog's settings.
    Catalog(mandi_catalog::CatalogConfig),
    /// inventory's settings.
    Inventory(mandi_inventory::InventoryConfig),
    /// cart's settings.
    Cart(mandi_cart::CartConfig),
    /// order's settings.
    Order(mandi_order::OrderConfig),
    /// payment's settings.
    Payment(mandi_payment::PaymentConfig),
    /// checkout's settings.
    Checkout(mandi_checkout::CheckoutConfig),
    /// notification's settings.
    Notification(mandi_notification::NotificationConfig),
    /// shipping's settings.
    Shipping(mandi_shipping::ShippingConfig),
    /// the gateway's settings (served on its own port, not a gRPC module).
    Gateway(mandi_gateway::GatewayConfig),
}

/// Reads the configuration of every selected target.
pub fn prepare(env: &Env, selection: &Selection) -> Result<Vec<Prepared>, ConfigError> {
    let mut env = env.clone();
    if selection.embedded && selection.targets.contains(&Target::Checkout) {
        // The embedded checkout signs in with a secret made for this process.
        mandi_checkout::embed_client_secret(&mut env)?;
    }
    if selection.embedded && selection.targets.contains(&Target::Notification) {
        // So does the embedded notification, to look users up in identity and profile.
        mandi_notification::embed_client_secret(&mut env)?;
    }
    if selection.embedded && selection.targets.contains(&Target::Shipping) {
        // And shipping, to read paid orders and move them along.
        mandi_shipping::embed_client_secret(&mut env)?;
    }
    let env = &env;
    selection
        .targets
        .iter()
        .map(|target| match target {
            Target::Identity => Ok(Prepared::Identity(
                mandi_identity::IdentityConfig::from_env(env, selection.embedded)?,
            )),
            Target::Profile => Ok(Prepared::Profile(mandi_profile::ProfileConfig::from_env(
                env,
                selection.embedded,
            )?)),
            Target::Catalog => Ok(Prepared::Catalog(mandi_catalog::CatalogConfig::from_env(
                env,
                selection.embedded,
            )?)),
            Target::Inventory => Ok(Prepared::Inventory(
                mandi_inventory::InventoryConfig::from_env(env, selection.embedded)?,
            )),
            Target::Cart => Ok(Prepared::Cart(mandi_cart::CartConfig::from_env(
                env,
                selection.embedded,
            )?)),
            Target::Order => Ok(Prepared::Order(mandi_order::OrderConfig::from_env(
                env,
                selection.embedded,
            )?)),
            Target::Payment => Ok(Prepared::Payment(mandi_payment::PaymentConfig::from_env(
                env,
                selection.embedded,
            )?)),
            Target::Checkout => Ok(Prepared::Checkout(
                mandi_checkout::CheckoutConfig::from_env(env, selection.embedded)?,
            )),
            Target::Notification => Ok(Prepared::Notification(
                mandi_notification::NotificationConfig::from_env(env, selection.embedded)?,
            )),
            Target::Shipping => Ok(Prepared::Shipping(
                mandi_shipping::ShippingConfig::from_env(env, selection.embedded)?,
            )),
            Target::Gateway => {
                let local: Vec<&str> = selection.targets.iter().map(|t| t.name()).collect();
                Ok(Prepared::Gateway(mandi_gateway::GatewayConfig::from_env(
                    env,
                    selection.embedded,
                    &local,
                )?))
            }
        })
        .collect()
}

/// Refuses a selection whose services need another one that neither runs here nor has
/// an endpoint configured (inventory asks catalog who owns a product; cart asks catalog
/// for prices and inventory for stock; checkout calls identity, order, inventory,
/// payment, cart, profile, catalog and shipping).
pub fn check_dependencies(selection: &Selection, prepared: &[Prepared]) -> Result<(), ConfigError> {
    let runs = |target| selection.targets.contains(&target);
    for p in prepared {
        let needs: &[(bool, Target, &str, &str)] = match p {
            Prepared::Inventory(config) => &[(
                config.catalog_endpoint.is_none(),
                Target::Catalog,
                "MANDI_INVENTORY__CATALOG_ENDPOINT",
                "the catalog service's URL, to check which vendor owns a product",
            )],
            Prepared::Cart(config) => &[
                (
                    config.catalog_endpoint.is_none(),
                    Target::Catalog,
                    "MANDI_CART__CATALOG_ENDPOINT",
                    "the catalog service's URL, to price cart lines",
                ),
                (
                    config.inventory_endpoint.is_none(),
                    Target::Inventory,
                    "MANDI_CART__INVENTORY_ENDPOINT",
                    "the inventory service's URL, to check stock of cart lines",
                ),
            ],
            Prepared::Checkout(config) => {
                let peer = |target: Target| {
                    (
                        config.endpoint(target.name()).is_none(),
                        target,
                        target.name(),
                    )
                };
                let missing = [
                    peer(Target::Identity),
                    peer(Target::Order),
                    peer(Target::Inventory),
                    peer(Target::Payment),
                    peer(Target::Cart),
                    peer(Target::Profile),
                    peer(Target::Catalog),
                    peer(Target::Shipping),
                ]
                .into_iter()
                .find(|(unset, target, _)| *unset && !runs(*target));
                if let Some((_, _, name)) = missing {
                    return Err(ConfigError::Missing {
                        var: mandi_checkout::endpoint_var(name),
                        hint: format!("the {name} service's URL, for the checkout saga"),
                    });
                }
                &[]
            }
            Prepared::Shipping(config) => &[
                (
                    config.identity_endpoint.is_none(),
                    Target::Identity,
                    "MANDI_SHIPPING__IDENTITY_ENDPOINT",
                    "the identity service's URL, for shipping's service token",
                ),
                (
                    config.order_endpoint.is_none(),
                    Target::Order,
                    "MANDI_SHIPPING__ORDER_ENDPOINT",
                    "the order service's URL, to read paid orders and move them along",
                ),
            ],
            Prepared::Notification(config) => &[
                (
                    config.identity_endpoint.is_none(),
                    Target::Identity,
                    "MANDI_NOTIFICATION__IDENTITY_ENDPOINT",
                    "the identity service's URL, for users' email addresses",
                ),
                (
                    config.profile_endpoint.is_none(),
                    Target::Profile,
                    "MANDI_NOTIFICATION__PROFILE_ENDPOINT",
                    "the profile service's URL, for phones and channel preferences",
                ),
                (
                    config.catalog_endpoint.is_none(),
                    Target::Catalog,
                    "MANDI_NOTIFICATION__CATALOG_ENDPOINT",
                    "the catalog service's URL, for the vendor of a product",
                ),
            ],
            _ => &[],
        };
        if let Some((_, _, var, hint)) = needs
            .iter()
            .find(|(unset, target, ..)| *unset && !runs(*target))
        {
            return Err(ConfigError::Missing {
                var: (*var).into(),
                hint: (*hint).into(),
            });
        }
    }
    Ok(())
}

/// Points services at this process (`self_url`) for the peers it runs itself, over the
/// server's own TLS when it has one.
pub fn point_at_self(
    prepared: &mut [Prepared],
    self_url: &str,
    tls: Option<&TlsMaterial>,
) -> Result<(), ConfigError> {
    let client_tls = |endpoints: &[&str]| -> Result<_, ConfigError> {
        match tls {
            Some(tls) if endpoints.iter().any(|e| e.starts_with("https://")) => {
                Ok(Some(tls.client_config()?))
            }
            _ => Ok(None),
        }
    };
    for target in prepared {
        match target {
            Prepared::Inventory(config) => {
                let endpoint = config
                    .catalog_endpoint
                    .get_or_insert_with(|| self_url.to_owned());
                config.catalog_tls = client_tls(&[endpoint])?;
            }
            Prepared::Cart(config) => {
                let catalog = config
                    .catalog_endpoint
                    .get_or_insert_with(|| self_url.to_owned())
                    .clone();
                let inventory = config
                    .inventory_endpoint
                    .get_or_insert_with(|| self_url.to_owned());
                config.peer_tls = client_tls(&[&catalog, inventory])?;
            }
            Prepared::Checkout(config) => {
                let endpoints: Vec<String> = mandi_checkout::PEERS
                    .iter()
                    .filter_map(|peer| config.endpoint_or(peer, self_url))
                    .collect();
                let endpoints: Vec<&str> = endpoints.iter().map(String::as_str).collect();
                config.peer_tls = client_tls(&endpoints)?;
            }
            Prepared::Shipping(config) => {
                let identity = config
                    .identity_endpoint
                    .get_or_insert_with(|| self_url.to_owned())
                    .clone();
                let order = config
                    .order_endpoint
                    .get_or_insert_with(|| self_url.to_owned());
                config.peer_tls = client_tls(&[&identity, order])?;
            }
            Prepared::Notification(config) => {
                let identity = config
                    .identity_endpoint
                    .get_or_insert_with(|| self_url.to_owned())
                    .clone();
                let profile = config
                    .profile_endpoint
                    .get_or_insert_with(|| self_url.to_owned())
                    .clone();
                let catalog = config
                    .catalog_endpoint
                    .get_or_insert_with(|| self_url.to_owned());
                config.peer_tls = client_tls(&[&identity, &profile, catalog])?;
            }
            Prepared::Gateway(config) => {
                config.self_url = Some(self_url.to_owned());
                config.upstream_tls = client_tls(&config.upstream_urls())?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Takes the gateway's settings out of `prepared`: it serves its own port, beside the
/// gRPC modules.
pub fn take_gateway(prepared: &mut Vec<Prepared>) -> Option<mandi_gateway::GatewayConfig> {
    let at = prepared
        .iter()
        .position(|p| matches!(p, Prepared::Gateway(_)))?;
    match prepared.remove(at) {
        Prepared::Gateway(config) => Some(config),
        _ => None,
    }
}

/// Connects the backends and builds the services.
pub async fn build(prepared: Vec<Prepared>) -> anyhow::Result<Vec<Module>> {
    let mut modules = Vec::with_capacity(prepared.len());
    for target in prepared {
        modules.push(match target {
            Prepared::Identity(config) => mandi_identity::module(config).await?,
            Prepared::Profile(config) => mandi_profile::module(config).await?,
            Prepared::Catalog(config) => mandi_catalog::module(config).await?,
            Prepared::Inventory(config) => mandi_inventory::module(config).await?,
            Prepared::Cart(config) => mandi_cart::module(config).await?,
            Prepared::Order(config) => mandi_order::module(config).await?,
            Prepared::Payment(config) => mandi_payment::module(config).await?,
            Prepared::Checkout(config) => mandi_checkout::module(config).await?,
            Prepared::Notification(config) => mandi_notification::module(config).await?,
            Prepared::Shipping(config) => mandi_shipping::module(config).await?,
            // Built by the caller after take_gateway; never a gRPC module.
            Prepared::Gateway(_) => continue,
        });
    }
    Ok(modules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_every_target_embedded() {
        let all = select("all").unwrap();
        assert!(all.embedded);
        assert_eq!(all.targets, ALL);
    }

    #[test]
    fn a_comma_list_runs_real_backends() {
        let some = select("identity, identity").unwrap();
        assert!(!some.embedded);
        assert_eq!(some.targets, [Target::Identity]);
    }

    #[test]
    fn an_unknown_target_lists_the_known_ones() {
        let err = select("identity,warp-drive").unwrap_err().to_string();
        assert!(err.contains("\"warp-drive\""), "{err}");
        assert!(
            err.contains(
                "known: all, identity, profile, catalog, inventory, cart, order, payment, checkout, notification, shipping, gateway"
            ),
            "{err}"
        );
    }
}
