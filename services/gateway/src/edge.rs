//! The edge rules, in one place: which methods the gateway forwards at all, which need no
//! token, and which are internal or operator-only and refused at the edge unless the
//! caller's role allows them. The services apply their own, finer policies behind this;
//! the edge keeps internal calls (Reserve, Capture, admin RPCs) off the public internet
//! even if a service's own list had a gap.
//!
//! The lists follow the "Callers:" comments of the protos; `tests` checks every listed
//! method exists in the SDK's descriptor set and that the comments still agree.

use std::collections::HashMap;

use mandi_runtime::auth::Policy;
use mandi_runtime::auth::roles::{ADMIN, SERVICE};
use prost::Message as _;

/// Internal services only.
const INTERNAL: Policy = Policy::AnyRole(&[SERVICE]);
/// Operators only.
const ADMIN_ONLY: Policy = Policy::AnyRole(&[ADMIN]);
/// Operators and internal services.
const ADMIN_OR_INTERNAL: Policy = Policy::AnyRole(&[ADMIN, SERVICE]);

/// Edge policy by full method path. Every mandi method not listed needs a signed-in
/// caller (the service then decides whose data it may touch).
pub const RULES: &[(&str, Policy)] = &[
    // identity: signing up and in is public; everything about other users is not.
    (
        "/mandi.identity.v1.IdentityService/Register",
        Policy::Public,
    ),
    ("/mandi.identity.v1.IdentityService/Login", Policy::Public),
    ("/mandi.identity.v1.IdentityService/Refresh", Policy::Public),
    ("/mandi.identity.v1.IdentityService/Logout", Policy::Public),
    ("/mandi.identity.v1.IdentityService/GetJwks", Policy::Public),
    // Client credentials belong inside the mesh: no secret guessing from the internet.
    (
        "/mandi.identity.v1.IdentityService/IssueServiceToken",
        INTERNAL,
    ),
    (
        "/mandi.identity.v1.IdentityService/GetUser",
        ADMIN_OR_INTERNAL,
    ),
    ("/mandi.identity.v1.IdentityService/SetUserRole", ADMIN_ONLY),
    (
        "/mandi.identity.v1.IdentityService/RotateSigningKey",
        ADMIN_ONLY,
    ),
    // catalog: browsing is public, shaping the catalog is for operators.
    (
        "/mandi.catalog.v1.CatalogService/GetProduct",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/BatchGetProducts",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/ListProducts",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/SearchProducts",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/SuggestProducts",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/GetCategory",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/ListCategories",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/ListReviews",
        Policy::Public,
    ),
    (
        "/mandi.catalog.v1.CatalogService/CreateCategory",
        ADMIN_ONLY,
    ),
    (
        "/mandi.catalog.v1.CatalogService/UpdateCategory",
        ADMIN_ONLY,
    ),
    (
        "/mandi.catalog.v1.CatalogService/DeleteCategory",
        ADMIN_ONLY,
    ),
    // inventory: the storefront shows availability; stock and reservations are internal.
    (
        "/mandi.inventory.v1.InventoryService/GetAvailability",
        Policy::Public,
    ),
    (
        "/mandi.inventory.v1.InventoryService/BatchGetAvailability",
        Policy::Public,
    ),
    ("/mandi.inventory.v1.InventoryService/Reserve", INTERNAL),
    ("/mandi.inventory.v1.InventoryService/Commit", INTERNAL),
    ("/mandi.inventory.v1.InventoryService/Release", INTERNAL),
    (
        "/mandi.inventory.v1.InventoryService/CreateWarehouse",
        ADMIN_ONLY,
    ),
    (
        "/mandi.inventory.v1.InventoryService/GetWarehouse",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.inventory.v1.InventoryService/ListWarehouses",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.inventory.v1.InventoryService/ReceiveStock",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.inventory.v1.InventoryService/AdjustStock",
        ADMIN_ONLY,
    ),
    (
        "/mandi.inventory.v1.InventoryService/ListStockAdjustments",
        ADMIN_ONLY,
    ),
    (
        "/mandi.inventory.v1.InventoryService/WriteOffExpired",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.inventory.v1.InventoryService/ListBatches",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.inventory.v1.InventoryService/ListLowStock",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.inventory.v1.InventoryService/GetStockPolicy",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.inventory.v1.InventoryService/UpdateStockPolicy",
        ADMIN_ONLY,
    ),
    (
        "/mandi.inventory.v1.InventoryService/GetReservation",
        ADMIN_OR_INTERNAL,
    ),
    // cart: guests shop with a cart id; a token, when sent, must be valid (whose cart).
    ("/mandi.cart.v1.CartService/GetCart", Policy::Optional),
    ("/mandi.cart.v1.CartService/AddItem", Policy::Optional),
    (
        "/mandi.cart.v1.CartService/UpdateItemQuantity",
        Policy::Optional,
    ),
    ("/mandi.cart.v1.CartService/RemoveItem", Policy::Optional),
    ("/mandi.cart.v1.CartService/ClearCart", Policy::Optional),
    // order: only checkout creates orders.
    ("/mandi.order.v1.OrderService/CreateOrder", INTERNAL),
    // payment: money moves only through the saga and operators.
    (
        "/mandi.payment.v1.PaymentService/AuthorizePayment",
        INTERNAL,
    ),
    (
        "/mandi.payment.v1.PaymentService/CapturePayment",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.payment.v1.PaymentService/VoidPayment",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.payment.v1.PaymentService/RefundPayment",
        ADMIN_OR_INTERNAL,
    ),
    (
        "/mandi.payment.v1.PaymentService/ListLedgerEntries",
        ADMIN_ONLY,
    ),
    // notification: sending is for services.
    (
        "/mandi.notification.v1.NotificationService/SendNotification",
        INTERNAL,
    ),
    // shipping: quotes and slots are public; holds and shipments belong to checkout.
    (
        "/mandi.shipping.v1.ShippingService/GetShippingQuote",
        Policy::Public,
    ),
    (
        "/mandi.shipping.v1.ShippingService/ListDeliverySlots",
        Policy::Public,
    ),
    ("/mandi.shipping.v1.ShippingService/ReserveSlot", INTERNAL),
    ("/mandi.shipping.v1.ShippingService/ReleaseSlot", INTERNAL),
    (
        "/mandi.shipping.v1.ShippingService/CreateShipment",
        INTERNAL,
    ),
    (
        "/mandi.shipping.v1.ShippingService/AssignRider",
        ADMIN_OR_INTERNAL,
    ),
    ("/mandi.shipping.v1.ShippingService/CreateRider", ADMIN_ONLY),
    (
        "/mandi.shipping.v1.ShippingService/ListRiders",
        ADMIN_OR_INTERNAL,
    ),
    // Load balancers and uptime checks ask the health of the mesh through the edge.
    ("/grpc.health.v1.Health/Check", Policy::Public),
];

/// One method the gateway forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// Who may call it through the edge.
    pub policy: Policy,
    /// Server streaming: no overall call timeout, only one to the first response.
    pub streaming: bool,
    /// The short service name (`catalog` for `mandi.catalog.v1.CatalogService`), which
    /// picks the upstream; `health` for the health check.
    pub service: &'static str,
}

/// The methods the gateway forwards, by full path: every method of every mandi service in
/// the SDK's descriptor set, plus health checks. Anything else (reflection, made-up paths)
/// is UNIMPLEMENTED at the edge and never reaches a service.
#[derive(Debug, Clone)]
pub struct Methods {
    by_path: HashMap<String, Method>,
    /// The request type of each mandi method, for checking bodies at the edge.
    inputs: HashMap<String, prost_reflect::MessageDescriptor>,
}

impl Methods {
    /// Builds the table from the SDK's descriptor set and [`RULES`].
    pub fn from_sdk() -> anyhow::Result<Self> {
        let set = prost_types::FileDescriptorSet::decode(mandi_sdk::proto::FILE_DESCRIPTOR_SET)?;
        let rules: HashMap<&str, Policy> = RULES.iter().copied().collect();
        let mut by_path = HashMap::new();
        for file in &set.file {
            let package = file.package();
            let Some(short) = short_service_name(package) else {
                continue;
            };
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{package}.{}/{}", service.name(), method.name());
                    let policy = rules
                        .get(path.as_str())
                        .copied()
                        .unwrap_or(Policy::SignedIn);
                    by_path.insert(
                        path,
                        Method {
                            policy,
                            streaming: method.server_streaming(),
                            service: short,
                        },
                    );
                }
            }
        }
        by_path.insert(
            "/grpc.health.v1.Health/Check".to_owned(),
            Method {
                policy: Policy::Public,
                streaming: false,
                service: "health",
            },
        );
        let pool = prost_reflect::DescriptorPool::decode(mandi_sdk::proto::FILE_DESCRIPTOR_SET)?;
        let inputs = pool
            .services()
            .flat_map(|service| {
                service
                    .methods()
                    .map(|m| (format!("/{}/{}", service.full_name(), m.name()), m.input()))
                    .collect::<Vec<_>>()
            })
            .filter(|(path, _)| by_path.contains_key(path))
            .collect();
        Ok(Self { by_path, inputs })
    }

    /// The method at `path`, if the gateway forwards it.
    pub fn get(&self, path: &str) -> Option<&Method> {
        self.by_path.get(path)
    }

    /// The request message type of the method at `path`; `None` for health checks.
    pub fn input(&self, path: &str) -> Option<&prost_reflect::MessageDescriptor> {
        self.inputs.get(path)
    }

    /// The short names of the services that have methods (`catalog`, `cart`, ...).
    pub fn services(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .by_path
            .values()
            .map(|m| m.service)
            .filter(|s| *s != "health")
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every forwarded path.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.by_path.keys().map(String::as_str)
    }
}

/// `catalog` for `mandi.catalog.v1`; `None` for packages without services of ours
/// (`mandi.common.v1`, `google.protobuf`).
fn short_service_name(package: &str) -> Option<&'static str> {
    let rest = package.strip_prefix("mandi.")?.strip_suffix(".v1")?;
    // The names live as long as the process: leaking the dozen short strings once keeps
    // `Method` `Copy` and free of lifetimes.
    match rest {
        "common" | "events" => None,
        name => Some(Box::leak(name.to_owned().into_boxed_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor_comments() -> HashMap<String, String> {
        let set =
            prost_types::FileDescriptorSet::decode(mandi_sdk::proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut comments = HashMap::new();
        for file in &set.file {
            let Some(info) = &file.source_code_info else {
                continue;
            };
            for location in &info.location {
                // [6, service index, 2, method index]: a method's leading comment.
                if let [6, s, 2, m] = location.path[..] {
                    let service = &file.service[s as usize];
                    let method = &service.method[m as usize];
                    let path = format!("/{}.{}/{}", file.package(), service.name(), method.name());
                    let text = location
                        .leading_comments()
                        .split_whitespace()
                        .collect::<Vec<_>>();
                    comments.insert(path, text.join(" "));
                }
            }
        }
        comments
    }

    #[test]
    fn every_listed_method_exists_in_the_sdk_descriptor_set() {
        let methods = Methods::from_sdk().unwrap();
        for (path, _) in RULES {
            assert!(methods.get(path).is_some(), "{path} is not an SDK method");
        }
    }

    #[test]
    fn methods_whose_callers_are_internal_only_are_refused_to_everyone_else() {
        let methods = Methods::from_sdk().unwrap();
        let comments = descriptor_comments();
        let mut checked = 0;
        for (path, comment) in &comments {
            if comment.contains("Callers: internal service only") {
                checked += 1;
                assert_eq!(methods.get(path).unwrap().policy, INTERNAL, "{path}");
            }
        }
        assert!(checked >= 6, "found only {checked} internal-only methods");
        for path in [
            "/mandi.inventory.v1.InventoryService/Reserve",
            "/mandi.payment.v1.PaymentService/AuthorizePayment",
            "/mandi.shipping.v1.ShippingService/ReserveSlot",
            "/mandi.shipping.v1.ShippingService/CreateShipment",
        ] {
            assert_eq!(methods.get(path).unwrap().policy, INTERNAL, "{path}");
        }
    }

    #[test]
    fn methods_for_admins_only_are_refused_to_shoppers() {
        let methods = Methods::from_sdk().unwrap();
        for (path, comment) in descriptor_comments() {
            if comment.ends_with("Callers: admin.") {
                let policy = methods.get(&path).unwrap().policy;
                assert_eq!(policy, ADMIN_ONLY, "{path}: {comment}");
            }
        }
    }

    #[test]
    fn public_methods_are_the_ones_the_protos_call_public() {
        let methods = Methods::from_sdk().unwrap();
        for (path, comment) in descriptor_comments() {
            let policy = methods.get(&path).unwrap().policy;
            if matches!(policy, Policy::Public | Policy::Optional)
                && !path.starts_with("/mandi.identity.")
            {
                assert!(comment.contains("Callers: public"), "{path}: {comment}");
            }
        }
    }

    #[test]
    fn streaming_methods_are_known_and_reflection_is_not_forwarded() {
        let methods = Methods::from_sdk().unwrap();
        assert!(
            methods
                .get("/mandi.checkout.v1.CheckoutService/WatchCheckout")
                .unwrap()
                .streaming
        );
        assert!(
            !methods
                .get("/mandi.catalog.v1.CatalogService/GetProduct")
                .unwrap()
                .streaming
        );
        assert!(
            methods
                .get("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
                .is_none()
        );
        assert!(methods.services().contains(&"catalog"));
        assert!(!methods.services().contains(&"common"));
    }
}
