//! The tonic service: per-method policies, requests parsed at the edge, access narrowed
//! per caller (see [`access`]), and order errors mapped to statuses in one place.

mod access;
pub(crate) mod convert;
#[cfg(test)]
mod fuzz;
mod status;

use mandi_runtime::auth::{Caller, Policy, caller, roles};
use mandi_runtime::errors;
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::order::v1 as pb;
use pb::order_service_server::OrderService;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use access::Viewer;
use convert::{MAX_REF_CHARS, Violations, from_timestamp, new_order, parse_id, status_from_proto};
use status::{paging_status, to_status};

use crate::domain::{MAX_REASON_CHARS, Order, OrderError, OrderFilter, OrderStatus, StatusUpdate};
use crate::orders::Orders;
use crate::store::{Cursor, OrderStore, RequestKey};

const DOMAIN: &str = "mandi.order";
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;
/// Longest request id kept.
const MAX_REQUEST_ID_CHARS: usize = 128;

const SERVICE: &[&str] = &[roles::SERVICE];
/// Delivery staff get in too, narrowed in the handler to pickup and delivery.
const STAFF_OR_DELIVERY: &[&str] = &[roles::ADMIN, roles::SERVICE, roles::DELIVERY];

/// Who may call each method; reads and cancels are narrowed per order in the handler.
pub const POLICIES: &[(&str, Policy)] = &[
    ("CreateOrder", Policy::AnyRole(SERVICE)),
    ("GetOrder", Policy::SignedIn),
    ("ListOrders", Policy::SignedIn),
    ("UpdateOrderStatus", Policy::AnyRole(STAFF_OR_DELIVERY)),
    ("CancelOrder", Policy::SignedIn),
];

/// Serves `mandi.order.v1.OrderService`.
pub struct OrderGrpc<S> {
    orders: Orders<S>,
}

impl<S> OrderGrpc<S> {
    /// Serves `orders`.
    pub fn new(orders: Orders<S>) -> Self {
        Self { orders }
    }
}

fn invalid(violations: impl IntoIterator<Item = crate::domain::Violation>) -> Status {
    errors::invalid_argument(
        DOMAIN,
        violations.into_iter().map(|v| (v.field, v.description)),
    )
}

/// The request's idempotency key, scoped by caller, with a fingerprint of the request
/// (request id cleared) under `method`; `None` without a request id.
fn request_key<M: prost::Message + Clone>(
    method: &str,
    caller: &Caller,
    request_id: &str,
    message: &M,
    clear: impl FnOnce(&mut M),
) -> Result<Option<RequestKey>, Status> {
    if request_id.chars().count() > MAX_REQUEST_ID_CHARS {
        return Err(invalid([crate::domain::Violation::new(
            "request_id",
            format!("must be at most {MAX_REQUEST_ID_CHARS} characters"),
        )]));
    }
    if request_id.is_empty() {
        return Ok(None);
    }
    let mut message = message.clone();
    clear(&mut message);
    Ok(Some(RequestKey {
        key: format!("{}/{request_id}", caller.subject),
        fingerprint: format!("{method}:{}", paging::fingerprint(&message.encode_to_vec())),
    }))
}

/// Hides orders a caller may not see behind NOT_FOUND, as if they did not exist.
fn visible(viewer: &Viewer, order: &Order) -> Result<pb::Order, Status> {
    viewer
        .view(order)
        .ok_or_else(|| to_status(OrderError::NotFound(order.id)))
}

/// The page of a listing: filters fingerprinted with the caller's scope so a token only
/// works for the query it came from.
#[derive(serde::Serialize)]
struct Query<'a> {
    filter: &'a OrderFilter,
    page_size: usize,
}

impl<S: OrderStore> OrderGrpc<S> {
    async fn move_order(
        &self,
        viewer: &Viewer,
        id: Uuid,
        mut update: StatusUpdate,
        request: Option<RequestKey>,
    ) -> Result<pb::Order, Status> {
        let order = self.orders.get(id).await.map_err(to_status)?;
        update.permit = viewer
            .permit(&order)
            .ok_or_else(|| to_status(OrderError::NotFound(id)))?;
        let order = self
            .orders
            .change(id, &update, request.as_ref())
            .await
            .map_err(to_status)?;
        // The caller may have moved it out of their sight (delivery: SHIPPED → DELIVERED):
        // they still get the result of their own change, without payment details.
        Ok(viewer.view(&order).unwrap_or_else(|| {
            let mut view = convert::order_to_proto(&order);
            view.payment_id.clear();
            view
        }))
    }
}

fn reason(value: &str) -> Result<String, Status> {
    let mut found = Violations::default();
    found.text(value, "reason", false, MAX_REASON_CHARS);
    if found.0.is_empty() {
        Ok(value.to_owned())
    } else {
        Err(invalid(found.0))
    }
}

#[tonic::async_trait]
impl<S: OrderStore> OrderService for OrderGrpc<S> {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::CreateOrderResponse>, Status> {
        let caller = caller(&request)?.clone();
        let message = request.into_inner();
        let parsed = new_order(&message);
        let key = request_key("CreateOrder", &caller, &message.request_id, &message, |m| {
            m.request_id.clear();
        })?;
        let (new, key) = match (parsed, key) {
            (Ok(new), Some(key)) => (new, key),
            (parsed, key) => {
                let mut violations = parsed.err().unwrap_or_default();
                if key.is_none() {
                    violations.push(crate::domain::Violation::new("request_id", "is required"));
                }
                return Err(invalid(violations));
            }
        };
        let order = self
            .orders
            .create(new, &key, &caller.subject)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateOrderResponse {
            order: Some(convert::order_to_proto(&order)),
        }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let viewer = Viewer::of(caller(&request)?);
        let id = parse_id(&request.get_ref().order_id, "order_id").map_err(|v| invalid([v]))?;
        let order = self.orders.get(id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(visible(&viewer, &order)?),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let viewer = Viewer::of(caller(&request)?);
        let message = request.into_inner();
        let mut found = Violations::default();
        let optional_id = |value: &str, field: &str| {
            (!value.is_empty())
                .then(|| parse_id(value, field))
                .transpose()
        };
        let customer_id = found
            .take(optional_id(&message.user_id, "user_id"))
            .flatten();
        let vendor_id = found
            .take(optional_id(&message.vendor_id, "vendor_id"))
            .flatten();
        let mut statuses = Vec::new();
        for (i, value) in message.statuses.iter().enumerate() {
            let field = format!("statuses[{i}]");
            match found.take(status_from_proto(*value, &field)) {
                Some(Some(status)) if !statuses.contains(&status) => statuses.push(status),
                Some(None) => found.check(false, field, "must not be ORDER_STATUS_UNSPECIFIED"),
                _ => {}
            }
        }
        let created_from = message
            .create_time_start
            .as_ref()
            .and_then(|t| found.take(from_timestamp(t, "create_time_start")));
        let created_before = message
            .create_time_end
            .as_ref()
            .and_then(|t| found.take(from_timestamp(t, "create_time_end")));
        let page_size = found.take(
            paging::page_size(message.page_size, DEFAULT_PAGE, MAX_PAGE)
                .map_err(|e| crate::domain::Violation::new(e.field, e.description)),
        );
        if !found.0.is_empty() {
            return Err(invalid(found.0));
        }
        let page_size = page_size.unwrap_or(DEFAULT_PAGE);
        let filter = viewer.scope(OrderFilter {
            customer_id,
            vendor_id,
            statuses,
            created_from,
            created_before,
        })?;
        let fingerprint = paging::fingerprint(&Query {
            filter: &filter,
            page_size,
        });
        let after: Option<Cursor> =
            paging::decode_token(&message.page_token, &fingerprint).map_err(paging_status)?;
        let mut orders = self
            .orders
            .store()
            .list(&filter, after, page_size + 1)
            .await
            .map_err(|e| to_status(e.into()))?;
        let next_page_token = if orders.len() > page_size {
            orders.truncate(page_size);
            orders
                .last()
                .map(|last| paging::encode_token(&Cursor::after(last), &fingerprint))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListOrdersResponse {
            orders: orders.iter().filter_map(|o| viewer.view(o)).collect(),
            next_page_token,
        }))
    }

    async fn update_order_status(
        &self,
        request: Request<pb::UpdateOrderStatusRequest>,
    ) -> Result<Response<pb::UpdateOrderStatusResponse>, Status> {
        let caller = caller(&request)?.clone();
        let message = request.into_inner();
        let mut found = Violations::default();
        let id = found.take(parse_id(&message.order_id, "order_id"));
        let to = found.take(status_from_proto(message.status, "status"));
        if to == Some(None) {
            found.check(false, "status", "is required");
        }
        let expected_status = found
            .take(status_from_proto(
                message.expected_status,
                "expected_status",
            ))
            .flatten();
        found.check(
            message.expected_version >= 0,
            "expected_version",
            "must not be negative",
        );
        found.text(&message.reason, "reason", false, MAX_REASON_CHARS);
        found.text(&message.payment_id, "payment_id", false, MAX_REF_CHARS);
        found.text(&message.shipment_id, "shipment_id", false, MAX_REF_CHARS);
        let key = found.take(
            request_key(
                "UpdateOrderStatus",
                &caller,
                &message.request_id,
                &message,
                |m| {
                    m.request_id.clear();
                },
            )
            .map_err(|_| {
                crate::domain::Violation::new(
                    "request_id",
                    format!("must be at most {MAX_REQUEST_ID_CHARS} characters"),
                )
            }),
        );
        let (Some(id), Some(Some(to)), Some(key)) = (id, to, key) else {
            return Err(invalid(found.0));
        };
        if !found.0.is_empty() {
            return Err(invalid(found.0));
        }
        let mut update = StatusUpdate::new(
            to,
            caller.subject.clone(),
            crate::domain::Permit::Staff,
            message.reason.clone(),
        );
        update.expected_status = expected_status;
        update.expected_version =
            (message.expected_version > 0).then_some(message.expected_version);
        update.payment_id = Some(message.payment_id.clone());
        update.shipment_id = Some(message.shipment_id.clone());
        let order = self
            .move_order(&Viewer::of(&caller), id, update, key)
            .await?;
        Ok(Response::new(pb::UpdateOrderStatusResponse {
            order: Some(order),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let caller = caller(&request)?.clone();
        let message = request.into_inner();
        let id = parse_id(&message.order_id, "order_id").map_err(|v| invalid([v]))?;
        let reason = reason(&message.reason)?;
        let key = request_key("CancelOrder", &caller, &message.request_id, &message, |m| {
            m.request_id.clear();
        })?;
        let update = StatusUpdate::new(
            OrderStatus::Cancelled,
            caller.subject.clone(),
            crate::domain::Permit::Customer,
            reason,
        );
        let order = self
            .move_order(&Viewer::of(&caller), id, update, key)
            .await?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(order),
        }))
    }
}
