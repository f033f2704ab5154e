//! Who may touch which stock: vendors only their own products (as the catalog reports
//! them), the reserving services and admins the reservations.

use chrono::Utc;
use mandi_runtime::auth::{Caller, caller, roles};
use mandi_runtime::errors;
use mandi_runtime::events::EventPublisher;
use mandi_sdk::proto::mandi::inventory::v1 as pb;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use super::convert::availability_to_proto;
use super::status::to_status;
use super::{DOMAIN, InventoryGrpc, RESERVING_SERVICES};
use crate::owners::ProductOwners;
use crate::store::InventoryStore;

impl<S, P, O: ProductOwners> InventoryGrpc<S, P, O> {
    /// Admins and services may manage any product's stock; anyone else (a vendor) only
    /// that of a product the catalog says is theirs. `product` is `None` when the request
    /// names no product, which only admins and services may send.
    pub(super) async fn authorize_product<T>(
        &self,
        request: &Request<T>,
        product: Option<Uuid>,
    ) -> Result<(), Status> {
        let caller: &Caller = caller(request)?;
        if is_privileged(caller) {
            return Ok(());
        }
        let Some(product) = product else {
            return Err(not_owner("vendors must name a product they own"));
        };
        let bearer = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let owner = self
            .owners
            .owner_of(product, bearer)
            .await
            .map_err(to_status)?;
        if owner.as_deref() == Some(caller.subject.as_str()) {
            return Ok(());
        }
        Err(not_owner(&format!(
            "only the vendor who owns product {product} or an admin may manage its stock"
        )))
    }
}

impl<S: InventoryStore, P: EventPublisher, O: ProductOwners> InventoryGrpc<S, P, O> {
    /// A vendor's low stock: their products (from the catalog) at or below threshold, in
    /// one page, since a vendor's products are few (at most `MAX_VENDOR_PRODUCTS`).
    pub(super) async fn vendor_low_stock(
        &self,
        request: &Request<pb::ListLowStockRequest>,
        vendor: &str,
    ) -> Result<Response<pb::ListLowStockResponse>, Status> {
        let bearer = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let ids = self
            .owners
            .products_of(vendor, bearer)
            .await
            .map_err(to_status)?;
        let levels = self
            .store
            .availability(&ids, Utc::now())
            .await
            .map_err(to_status)?;
        let thresholds = self.thresholds(&ids).await?;
        let products = levels
            .into_iter()
            .filter_map(|a| {
                let threshold = thresholds.of(a.product_id);
                (threshold > 0 && a.available <= threshold)
                    .then(|| availability_to_proto(a, threshold))
            })
            .collect();
        Ok(Response::new(pb::ListLowStockResponse {
            products,
            next_page_token: String::new(),
        }))
    }
}

pub(super) fn not_owner(message: &str) -> Status {
    errors::status(Code::PermissionDenied, message, DOMAIN, "NOT_OWNER")
}

/// Only admins and the reserving services may move reserved stock; the policy let any
/// service through, so the service's name is checked here.
pub(super) fn authorize_reservation<T>(request: &Request<T>) -> Result<(), Status> {
    let caller: &Caller = caller(request)?;
    if caller.has_role(roles::ADMIN)
        || RESERVING_SERVICES
            .iter()
            .any(|name| caller.is_service(name))
    {
        return Ok(());
    }
    Err(errors::status(
        Code::PermissionDenied,
        "only the checkout and order services or an admin may reserve, commit or release stock",
        DOMAIN,
        "NOT_A_RESERVING_SERVICE",
    ))
}

/// Admins and internal services manage any product's stock.
pub(super) fn is_privileged(caller: &Caller) -> bool {
    caller.has_role(roles::ADMIN) || caller.has_role(roles::SERVICE)
}
