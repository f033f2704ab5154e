//! The tonic service: per-method policies, request parsing, paging and the mapping of
//! inventory errors to gRPC statuses.

mod access;
mod convert;
#[cfg(test)]
mod fuzz;
mod idempotency;
mod policy;
mod status;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mandi_runtime::auth::{Caller, Policy, caller, roles};
use mandi_runtime::errors;
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::inventory::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use access::{authorize_reservation, is_privileged};
pub use convert::Currency;
use convert::{
    adjustment_reason, adjustment_to_proto, availability_to_proto, batch_status_filter,
    batch_to_proto, from_timestamp, new_warehouse, parse_id, parse_optional_id, reservation_lines,
    reservation_to_proto, unit_cost, warehouse_to_proto,
};
use idempotency::Idempotency;
use status::{paging_status, to_status};

use crate::domain::{
    AdjustmentFilter, BatchFilter, InventoryError, NewAdjustment, NewBatch, ReservationStatus,
    ReserveRequest,
};
use crate::owners::ProductOwners;
use crate::stock_watch::StockWatch;
use crate::store::InventoryStore;
use mandi_runtime::events::EventPublisher;

const DOMAIN: &str = "mandi.inventory";

/// Internal services allowed to hold, sell and give back stock; admins always may.
const RESERVING_SERVICES: &[&str] = &["checkout", "order"];

/// Most products one BatchGetAvailability may ask about.
const MAX_BATCH_PRODUCTS: usize = 200;

/// Longest release reason kept.
const MAX_RELEASE_REASON_CHARS: usize = 500;

const ADMIN: &[&str] = &[roles::ADMIN];
const ADMIN_OR_SERVICE: &[&str] = &[roles::ADMIN, roles::SERVICE];
/// Vendors get in too, but only to products they own (checked in the handler).
const ADMIN_SERVICE_OR_VENDOR: &[&str] = &[roles::ADMIN, roles::SERVICE, roles::VENDOR];
const ADMIN_OR_VENDOR: &[&str] = &[roles::ADMIN, roles::VENDOR];

/// Who may call each method. Reserve, Commit and Release are narrowed further in the
/// handler to the checkout and order services (see [`RESERVING_SERVICES`]); vendors'
/// calls are narrowed in the handler to products they own (see `authorize_product`).
pub const POLICIES: &[(&str, Policy)] = &[
    ("CreateWarehouse", Policy::AnyRole(ADMIN)),
    ("GetWarehouse", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("ListWarehouses", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("ReceiveStock", Policy::AnyRole(ADMIN_SERVICE_OR_VENDOR)),
    ("AdjustStock", Policy::AnyRole(ADMIN_OR_VENDOR)),
    ("ListStockAdjustments", Policy::AnyRole(ADMIN)),
    ("WriteOffExpired", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("ListBatches", Policy::AnyRole(ADMIN_SERVICE_OR_VENDOR)),
    ("GetAvailability", Policy::Public),
    ("BatchGetAvailability", Policy::Public),
    ("ListLowStock", Policy::AnyRole(ADMIN_OR_VENDOR)),
    ("GetStockPolicy", Policy::AnyRole(ADMIN_SERVICE_OR_VENDOR)),
    ("UpdateStockPolicy", Policy::AnyRole(ADMIN_OR_VENDOR)),
    ("Reserve", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("Commit", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("Release", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("GetReservation", Policy::AnyRole(ADMIN_OR_SERVICE)),
];

/// What the gRPC layer needs from configuration.
#[derive(Debug, Clone)]
pub struct GrpcSettings {
    /// Hold used when Reserve gives no TTL.
    pub default_ttl: Duration,
    /// `Availability.low_stock` is set at or below this; 0 disables it.
    pub low_stock_threshold: i64,
    /// Expiry warning lead time, in days, of products without their own policy.
    pub expiry_warning_days: i32,
    /// Currency of batch unit costs.
    pub currency: Currency,
}

/// Serves `mandi.inventory.v1.InventoryService`.
pub struct InventoryGrpc<S, P, O> {
    store: Arc<S>,
    settings: GrpcSettings,
    watch: StockWatch<S, P>,
    owners: O,
}

impl<S, P, O> InventoryGrpc<S, P, O> {
    /// Serves `store` with `settings`, publishing events through `watch` and asking
    /// `owners` whose products vendors may manage.
    pub fn new(store: Arc<S>, settings: GrpcSettings, watch: StockWatch<S, P>, owners: O) -> Self {
        Self {
            store,
            settings,
            watch,
            owners,
        }
    }
}

fn request_id(value: &str) -> Result<(), Status> {
    // Accepted and bounded for the RPCs whose natural key makes retries safe (order id,
    // expiry instant); see `idempotency` for those that record their keys.
    if value.len() > 128 {
        return Err(errors::invalid_argument(
            DOMAIN,
            [("request_id", "must be at most 128 characters")],
        ));
    }
    Ok(())
}

/// Reads a page token's position back: an instant in microseconds and an id.
fn cursor_position(at: i64, id: &str) -> Result<(DateTime<Utc>, Uuid), InventoryError> {
    let bad = || InventoryError::invalid("page_token", "is not a token this service issued");
    let at = DateTime::from_timestamp_micros(at).ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at, id))
}

/// Keeps the first `limit` items and returns the token for the rest (empty at the end).
fn next_token<T, K: serde::Serialize>(
    items: &mut Vec<T>,
    limit: usize,
    fingerprint: &str,
    key: impl Fn(&T) -> K,
) -> String {
    if items.len() <= limit {
        return String::new();
    }
    items.truncate(limit);
    items
        .last()
        .map(|last| paging::encode_token(&key(last), fingerprint))
        .unwrap_or_default()
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn proto_ttl(ttl: Option<prost_types::Duration>) -> Result<Option<Duration>, InventoryError> {
    let Some(ttl) = ttl else {
        return Ok(None);
    };
    if ttl.seconds < 0 || ttl.nanos < 0 {
        return Err(InventoryError::invalid(
            "ttl",
            "must be between 1 minute and 24 hours",
        ));
    }
    // Clamped first so absurd values fail validation instead of overflowing.
    let seconds = ttl.seconds.min(i64::from(i32::MAX));
    Ok(Some(
        Duration::seconds(seconds) + Duration::nanoseconds(i64::from(ttl.nanos)),
    ))
}

#[tonic::async_trait]
impl<S: InventoryStore, P: EventPublisher, O: ProductOwners>
    pb::inventory_service_server::InventoryService for InventoryGrpc<S, P, O>
{
    async fn create_warehouse(
        &self,
        request: Request<pb::CreateWarehouseRequest>,
    ) -> Result<Response<pb::CreateWarehouseResponse>, Status> {
        let subject = caller(&request)?.subject.clone();
        let req = request.into_inner();
        let idempotency =
            Idempotency::of("CreateWarehouse", &subject, &req.request_id, &req, |r| {
                r.request_id.clear()
            })?;
        if let Some(id) = self.already_done(&idempotency).await? {
            let warehouse = self
                .store
                .warehouse(id)
                .await
                .map_err(to_status)?
                .ok_or_else(|| to_status(InventoryError::NotFound(format!("warehouse {id}"))))?;
            return Ok(Response::new(pb::CreateWarehouseResponse {
                warehouse: Some(warehouse_to_proto(warehouse)),
            }));
        }
        let warehouse = new_warehouse(req.warehouse.unwrap_or_default())
            .into_warehouse(Utc::now())
            .map_err(|v| to_status(InventoryError::Invalid(v)))?;
        self.store
            .create_warehouse(&warehouse)
            .await
            .map_err(to_status)?;
        self.remember(idempotency, warehouse.id).await?;
        Ok(Response::new(pb::CreateWarehouseResponse {
            warehouse: Some(warehouse_to_proto(warehouse)),
        }))
    }

    async fn get_warehouse(
        &self,
        request: Request<pb::GetWarehouseRequest>,
    ) -> Result<Response<pb::GetWarehouseResponse>, Status> {
        let id = parse_id("warehouse_id", &request.get_ref().warehouse_id).map_err(to_status)?;
        let warehouse = self
            .store
            .warehouse(id)
            .await
            .map_err(to_status)?
            .ok_or_else(|| to_status(InventoryError::NotFound(format!("warehouse {id}"))))?;
        Ok(Response::new(pb::GetWarehouseResponse {
            warehouse: Some(warehouse_to_proto(warehouse)),
        }))
    }

    async fn list_warehouses(
        &self,
        request: Request<pb::ListWarehousesRequest>,
    ) -> Result<Response<pb::ListWarehousesResponse>, Status> {
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, 50, 200).map_err(paging_status)?;
        let fingerprint = paging::fingerprint(&"warehouses");
        let after: Option<String> =
            paging::decode_token(&req.page_token, &fingerprint).map_err(paging_status)?;
        let mut warehouses = self
            .store
            .list_warehouses(after.as_deref(), limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = next_token(&mut warehouses, limit, &fingerprint, |w| w.code.clone());
        Ok(Response::new(pb::ListWarehousesResponse {
            warehouses: warehouses.into_iter().map(warehouse_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn receive_stock(
        &self,
        request: Request<pb::ReceiveStockRequest>,
    ) -> Result<Response<pb::ReceiveStockResponse>, Status> {
        let product = parse_id("product_id", &request.get_ref().product_id).map_err(to_status)?;
        self.authorize_product(&request, Some(product)).await?;
        let subject = caller(&request)?.subject.clone();
        let req = request.into_inner();
        let idempotency = Idempotency::of("ReceiveStock", &subject, &req.request_id, &req, |r| {
            r.request_id.clear();
        })?;
        if let Some(id) = self.already_done(&idempotency).await? {
            let batch = self
                .store
                .batch(id)
                .await
                .map_err(to_status)?
                .ok_or_else(|| to_status(InventoryError::NotFound(format!("batch {id}"))))?;
            return Ok(Response::new(pb::ReceiveStockResponse {
                batch: Some(batch_to_proto(batch, &self.settings.currency, Utc::now())),
            }));
        }
        let product_id = parse_id("product_id", &req.product_id).map_err(to_status)?;
        let warehouse_id = parse_id("warehouse_id", &req.warehouse_id).map_err(to_status)?;
        let expires_at = match &req.expire_time {
            Some(at) => from_timestamp("expire_time", at).map_err(to_status)?,
            None => {
                return Err(to_status(InventoryError::invalid(
                    "expire_time",
                    "is required",
                )));
            }
        };
        let received_at = req
            .receive_time
            .as_ref()
            .map(|at| from_timestamp("receive_time", at))
            .transpose()
            .map_err(to_status)?;
        let unit_cost_minor =
            unit_cost(req.unit_cost, &self.settings.currency).map_err(to_status)?;
        let now = Utc::now();
        let batch = NewBatch {
            product_id,
            warehouse_id,
            quantity: req.quantity,
            received_at,
            expires_at,
            supplier_ref: req.supplier_ref,
            cold_chain: req.cold_chain,
            unit_cost_minor,
        }
        .into_batch(now)
        .map_err(|v| to_status(InventoryError::Invalid(v)))?;
        let before = self.watch.before(&[product_id]).await;
        self.store.receive_batch(&batch).await.map_err(to_status)?;
        self.remember(idempotency, batch.id).await?;
        // A delivery can bring a sold-out product back in stock.
        self.watch.after(before).await;
        Ok(Response::new(pb::ReceiveStockResponse {
            batch: Some(batch_to_proto(batch, &self.settings.currency, now)),
        }))
    }

    async fn adjust_stock(
        &self,
        request: Request<pb::AdjustStockRequest>,
    ) -> Result<Response<pb::AdjustStockResponse>, Status> {
        if !is_privileged(caller(&request)?) {
            let batch_id = parse_id("batch_id", &request.get_ref().batch_id).map_err(to_status)?;
            let batch = self
                .store
                .batch(batch_id)
                .await
                .map_err(to_status)?
                .ok_or_else(|| to_status(InventoryError::NotFound(format!("batch {batch_id}"))))?;
            self.authorize_product(&request, Some(batch.product_id))
                .await?;
        }
        let actor = caller(&request)?.subject.clone();
        let req = request.into_inner();
        let idempotency = Idempotency::of("AdjustStock", &actor, &req.request_id, &req, |r| {
            r.request_id.clear();
        })?;
        if let Some(id) = self.already_done(&idempotency).await? {
            let not_found = || to_status(InventoryError::NotFound(format!("adjustment {id}")));
            let adjustment = self
                .store
                .adjustment(id)
                .await
                .map_err(to_status)?
                .ok_or_else(not_found)?;
            let batch = self
                .store
                .batch(adjustment.batch_id)
                .await
                .map_err(to_status)?
                .ok_or_else(not_found)?;
            return Ok(Response::new(pb::AdjustStockResponse {
                batch: Some(batch_to_proto(batch, &self.settings.currency, Utc::now())),
                adjustment: Some(adjustment_to_proto(adjustment)),
            }));
        }
        let batch_id = parse_id("batch_id", &req.batch_id).map_err(to_status)?;
        let adjustment = NewAdjustment {
            batch_id,
            delta: req.delta_quantity,
            reason: adjustment_reason(req.reason).map_err(to_status)?,
            note: req.note,
            actor,
        };
        adjustment
            .validate()
            .map_err(|v| to_status(InventoryError::Invalid(v)))?;
        let now = Utc::now();
        // Spoilage and losses can take a product to its threshold or out of stock.
        let product = self
            .store
            .batch(batch_id)
            .await
            .map_err(to_status)?
            .map(|b| b.product_id);
        let before = self.watch.before(&Vec::from_iter(product)).await;
        let (batch, adjustment) = self
            .store
            .adjust_batch(&adjustment, now)
            .await
            .map_err(to_status)?;
        self.remember(idempotency, adjustment.id).await?;
        self.watch.after(before).await;
        Ok(Response::new(pb::AdjustStockResponse {
            batch: Some(batch_to_proto(batch, &self.settings.currency, now)),
            adjustment: Some(adjustment_to_proto(adjustment)),
        }))
    }

    async fn list_stock_adjustments(
        &self,
        request: Request<pb::ListStockAdjustmentsRequest>,
    ) -> Result<Response<pb::ListStockAdjustmentsResponse>, Status> {
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, 50, 200).map_err(paging_status)?;
        let filter = AdjustmentFilter {
            batch_id: parse_optional_id("batch_id", &req.batch_id).map_err(to_status)?,
            product_id: parse_optional_id("product_id", &req.product_id).map_err(to_status)?,
            warehouse_id: parse_optional_id("warehouse_id", &req.warehouse_id)
                .map_err(to_status)?,
            reason: match req.reason {
                0 => None,
                value => Some(adjustment_reason(value).map_err(to_status)?),
            },
        };
        let fingerprint = paging::fingerprint(&(
            &req.batch_id,
            &req.product_id,
            &req.warehouse_id,
            req.reason,
        ));
        let before: Option<(i64, String)> =
            paging::decode_token(&req.page_token, &fingerprint).map_err(paging_status)?;
        let before = before
            .map(|(at, id)| cursor_position(at, &id))
            .transpose()
            .map_err(to_status)?;
        let mut adjustments = self
            .store
            .list_adjustments(&filter, before, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = next_token(&mut adjustments, limit, &fingerprint, |a| {
            (micros(a.created_at), a.id.to_string())
        });
        Ok(Response::new(pb::ListStockAdjustmentsResponse {
            adjustments: adjustments.into_iter().map(adjustment_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn write_off_expired(
        &self,
        request: Request<pb::WriteOffExpiredRequest>,
    ) -> Result<Response<pb::WriteOffExpiredResponse>, Status> {
        let req = request.into_inner();
        request_id(&req.request_id)?;
        let warehouse_id =
            parse_optional_id("warehouse_id", &req.warehouse_id).map_err(to_status)?;
        let now = Utc::now();
        let as_of = match &req.as_of_time {
            Some(at) => from_timestamp("as_of_time", at).map_err(to_status)?,
            None => now,
        };
        if as_of > now {
            return Err(to_status(InventoryError::invalid(
                "as_of_time",
                "must not be in the future",
            )));
        }
        let adjustments = self
            .store
            .write_off_expired(as_of, warehouse_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::WriteOffExpiredResponse {
            adjustments: adjustments.into_iter().map(adjustment_to_proto).collect(),
        }))
    }

    async fn list_batches(
        &self,
        request: Request<pb::ListBatchesRequest>,
    ) -> Result<Response<pb::ListBatchesResponse>, Status> {
        let product =
            parse_optional_id("product_id", &request.get_ref().product_id).map_err(to_status)?;
        self.authorize_product(&request, product).await?;
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, 50, 200).map_err(paging_status)?;
        let filter = BatchFilter {
            product_id: parse_optional_id("product_id", &req.product_id).map_err(to_status)?,
            warehouse_id: parse_optional_id("warehouse_id", &req.warehouse_id)
                .map_err(to_status)?,
            status: batch_status_filter(req.status).map_err(to_status)?,
            expires_before: req
                .expire_before
                .as_ref()
                .map(|at| from_timestamp("expire_before", at))
                .transpose()
                .map_err(to_status)?,
        };
        let fingerprint = paging::fingerprint(&(
            &req.product_id,
            &req.warehouse_id,
            req.status,
            filter.expires_before.map(micros),
        ));
        let after: Option<(i64, i64, String)> =
            paging::decode_token(&req.page_token, &fingerprint).map_err(paging_status)?;
        let after = after
            .map(|(expires, received, id)| {
                let (expires, id) = cursor_position(expires, &id)?;
                let (received, _) = cursor_position(received, &id.to_string())?;
                Ok::<_, InventoryError>((expires, received, id))
            })
            .transpose()
            .map_err(to_status)?;
        let now = Utc::now();
        let mut batches = self
            .store
            .list_batches(&filter, now, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = next_token(&mut batches, limit, &fingerprint, |b| {
            (
                micros(b.expires_at),
                micros(b.received_at),
                b.id.to_string(),
            )
        });
        let currency = &self.settings.currency;
        Ok(Response::new(pb::ListBatchesResponse {
            batches: batches
                .into_iter()
                .map(|b| batch_to_proto(b, currency, now))
                .collect(),
            next_page_token,
        }))
    }

    async fn get_availability(
        &self,
        request: Request<pb::GetAvailabilityRequest>,
    ) -> Result<Response<pb::GetAvailabilityResponse>, Status> {
        let id = parse_id("product_id", &request.get_ref().product_id).map_err(to_status)?;
        let thresholds = self.thresholds(&[id]).await?;
        let availability = self
            .store
            .availability(&[id], Utc::now())
            .await
            .map_err(to_status)?
            .into_iter()
            .next()
            .map(|a| {
                let threshold = thresholds.of(a.product_id);
                availability_to_proto(a, threshold)
            });
        Ok(Response::new(pb::GetAvailabilityResponse { availability }))
    }

    async fn batch_get_availability(
        &self,
        request: Request<pb::BatchGetAvailabilityRequest>,
    ) -> Result<Response<pb::BatchGetAvailabilityResponse>, Status> {
        let req = request.into_inner();
        if req.product_ids.is_empty() || req.product_ids.len() > MAX_BATCH_PRODUCTS {
            return Err(errors::invalid_argument(
                DOMAIN,
                [(
                    "product_ids",
                    format!("must hold 1 to {MAX_BATCH_PRODUCTS} ids"),
                )],
            ));
        }
        let mut ids: Vec<Uuid> = Vec::with_capacity(req.product_ids.len());
        for (i, raw) in req.product_ids.iter().enumerate() {
            let id = parse_id(&format!("product_ids[{i}]"), raw).map_err(to_status)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let thresholds = self.thresholds(&ids).await?;
        let availabilities = self
            .store
            .availability(&ids, Utc::now())
            .await
            .map_err(to_status)?
            .into_iter()
            .map(|a| {
                let threshold = thresholds.of(a.product_id);
                availability_to_proto(a, threshold)
            })
            .collect();
        Ok(Response::new(pb::BatchGetAvailabilityResponse {
            availabilities,
        }))
    }

    async fn list_low_stock(
        &self,
        request: Request<pb::ListLowStockRequest>,
    ) -> Result<Response<pb::ListLowStockResponse>, Status> {
        let caller: Caller = caller(&request)?.clone();
        if !is_privileged(&caller) {
            return self.vendor_low_stock(&request, &caller.subject).await;
        }
        let req = request.into_inner();
        let limit = paging::page_size(req.page_size, 50, 200).map_err(paging_status)?;
        let fingerprint = paging::fingerprint(&"low-stock");
        let after: Option<String> =
            paging::decode_token(&req.page_token, &fingerprint).map_err(paging_status)?;
        let after = after
            .map(|raw| {
                Uuid::parse_str(&raw).map_err(|_| {
                    InventoryError::invalid("page_token", "is not a token this service issued")
                })
            })
            .transpose()
            .map_err(to_status)?;
        let mut low = self
            .store
            .list_low_stock(
                self.settings.low_stock_threshold,
                Utc::now(),
                after,
                limit + 1,
            )
            .await
            .map_err(to_status)?;
        let next_page_token =
            next_token(&mut low, limit, &fingerprint, |a| a.product_id.to_string());
        let ids: Vec<Uuid> = low.iter().map(|a| a.product_id).collect();
        let thresholds = self.thresholds(&ids).await?;
        let products = low
            .into_iter()
            .map(|a| {
                let threshold = thresholds.of(a.product_id);
                availability_to_proto(a, threshold)
            })
            .collect();
        Ok(Response::new(pb::ListLowStockResponse {
            products,
            next_page_token,
        }))
    }

    async fn get_stock_policy(
        &self,
        request: Request<pb::GetStockPolicyRequest>,
    ) -> Result<Response<pb::GetStockPolicyResponse>, Status> {
        let product = parse_id("product_id", &request.get_ref().product_id).map_err(to_status)?;
        self.authorize_product(&request, Some(product)).await?;
        Ok(Response::new(self.get_policy(request.into_inner()).await?))
    }

    async fn update_stock_policy(
        &self,
        request: Request<pb::UpdateStockPolicyRequest>,
    ) -> Result<Response<pb::UpdateStockPolicyResponse>, Status> {
        let product = parse_id(
            "policy.product_id",
            request
                .get_ref()
                .policy
                .as_ref()
                .map(|p| p.product_id.as_str())
                .unwrap_or_default(),
        )
        .map_err(to_status)?;
        self.authorize_product(&request, Some(product)).await?;
        let subject = caller(&request)?.subject.clone();
        Ok(Response::new(
            self.update_policy(&subject, request.into_inner()).await?,
        ))
    }

    async fn reserve(
        &self,
        request: Request<pb::ReserveRequest>,
    ) -> Result<Response<pb::ReserveResponse>, Status> {
        authorize_reservation(&request)?;
        let req = request.into_inner();
        request_id(&req.request_id)?;
        let order_id = parse_id("order_id", &req.order_id).map_err(to_status)?;
        let lines = reservation_lines(&req.lines).map_err(to_status)?;
        let ttl = proto_ttl(req.ttl)
            .map_err(to_status)?
            .unwrap_or(self.settings.default_ttl);
        // deliver_to is accepted but not used yet: allocation picks the warehouse whose
        // stock expires soonest, not the nearest one.
        let reserve = ReserveRequest::new(order_id, lines, req.allow_split_warehouses, Some(ttl))
            .map_err(|v| to_status(InventoryError::Invalid(v)))?;
        // Events describe changes: a repeated Reserve that returns the existing hold
        // publishes nothing.
        let existed = self
            .store
            .reservation(order_id)
            .await
            .map_err(to_status)?
            .is_some();
        let products: Vec<Uuid> = reserve.lines.iter().map(|l| l.product_id).collect();
        let before = self.watch.before(&products).await;
        let reserved = self.store.reserve(&reserve, Utc::now()).await;
        mandi_runtime::metrics::reservation(match &reserved {
            Ok(_) => "reserved",
            Err(InventoryError::InsufficientStock(_)) => "insufficient_stock",
            Err(InventoryError::ReservationExists { .. }) => "reservation_exists",
            Err(InventoryError::ReservationClosed { .. }) => "reservation_closed",
            Err(InventoryError::Invalid(_)) => "invalid",
            Err(_) => "error",
        });
        let reservation = reserved.map_err(to_status)?;
        if !existed {
            self.watch.events().reserved(&reservation).await;
            self.watch.after(before).await;
        }
        Ok(Response::new(pb::ReserveResponse {
            reservation: Some(reservation_to_proto(reservation)),
        }))
    }

    async fn commit(
        &self,
        request: Request<pb::CommitRequest>,
    ) -> Result<Response<pb::CommitResponse>, Status> {
        authorize_reservation(&request)?;
        let req = request.into_inner();
        request_id(&req.request_id)?;
        let order_id = parse_id("order_id", &req.order_id).map_err(to_status)?;
        let was = self.store.reservation(order_id).await.map_err(to_status)?;
        let reservation = self
            .store
            .commit(order_id, Utc::now())
            .await
            .map_err(to_status)?;
        if was.is_some_and(|r| r.status == ReservationStatus::Active) {
            self.watch.events().committed(&reservation).await;
        }
        Ok(Response::new(pb::CommitResponse {
            reservation: Some(reservation_to_proto(reservation)),
        }))
    }

    async fn release(
        &self,
        request: Request<pb::ReleaseRequest>,
    ) -> Result<Response<pb::ReleaseResponse>, Status> {
        authorize_reservation(&request)?;
        let req = request.into_inner();
        request_id(&req.request_id)?;
        let order_id = parse_id("order_id", &req.order_id).map_err(to_status)?;
        if req.reason.chars().count() > MAX_RELEASE_REASON_CHARS {
            return Err(to_status(InventoryError::invalid(
                "reason",
                format!("must be at most {MAX_RELEASE_REASON_CHARS} characters"),
            )));
        }
        let was = self.store.reservation(order_id).await.map_err(to_status)?;
        let holding = was.as_ref().is_some_and(|r| {
            matches!(
                r.status,
                ReservationStatus::Active | ReservationStatus::Committed
            )
        });
        let products: Vec<Uuid> = was
            .iter()
            .flat_map(|r| r.lines.iter().map(|l| l.product_id))
            .collect();
        let before = self.watch.before(&products).await;
        let reservation = self
            .store
            .release(order_id, req.reason.trim(), Utc::now())
            .await
            .map_err(to_status)?;
        if holding && let Some(released) = &reservation {
            self.watch.events().released(released).await;
            self.watch.after(before).await;
        }
        Ok(Response::new(pb::ReleaseResponse {
            reservation: reservation.map(reservation_to_proto),
        }))
    }

    async fn get_reservation(
        &self,
        request: Request<pb::GetReservationRequest>,
    ) -> Result<Response<pb::GetReservationResponse>, Status> {
        let order_id = parse_id("order_id", &request.get_ref().order_id).map_err(to_status)?;
        let reservation = self
            .store
            .reservation(order_id)
            .await
            .map_err(to_status)?
            .ok_or_else(|| {
                to_status(InventoryError::NotFound(format!(
                    "reservation of order {order_id}"
                )))
            })?;
        Ok(Response::new(pb::GetReservationResponse {
            reservation: Some(reservation_to_proto(reservation)),
        }))
    }
}
