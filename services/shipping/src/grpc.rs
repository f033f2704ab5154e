//! The tonic service: per-method policies, who may see and change what, request parsing
//! at the edge, idempotency keys, paging, live tracking and the mapping of shipping
//! errors to gRPC statuses.

mod access;
pub(crate) mod convert;
#[cfg(test)]
mod fuzz;
mod status;
mod watch;

use chrono::{DateTime, Duration, Utc};
use mandi_runtime::auth::{Policy, caller, roles};
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::shipping::v1 as pb;
use mandi_sdk::proto::mandi::shipping::v1::shipping_service_server::ShippingService;
use prost::Message;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use access::{actor_of, may_see, riding_as, shows_code};
use convert::*;
use status::{paging_status, to_status};

use crate::domain::{
    NewHold, NewShipment, QuoteRequest, RiderFilter, ShipmentFilter, ShippingError, StatusUpdate,
    Violations, now,
};
use crate::service::{MAX_LISTING_DAYS, Shipping};
use crate::store::ShippingStore;

const DOMAIN: &str = "mandi.shipping";

const ADMIN: &[&str] = &[roles::ADMIN];
const SERVICE: &[&str] = &[roles::SERVICE];
const ADMIN_OR_SERVICE: &[&str] = &[roles::ADMIN, roles::SERVICE];
const DELIVERY: &[&str] = &[roles::DELIVERY];

/// Who may call each method; the handlers narrow further to the ordering user, the
/// assigned rider or the rider themself.
pub const POLICIES: &[(&str, Policy)] = &[
    ("GetShippingQuote", Policy::Public),
    ("ListDeliverySlots", Policy::Public),
    ("ReserveSlot", Policy::AnyRole(SERVICE)),
    ("ReleaseSlot", Policy::AnyRole(SERVICE)),
    ("CreateShipment", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("GetShipment", Policy::SignedIn),
    ("ListShipments", Policy::SignedIn),
    ("AssignRider", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("UpdateShipmentStatus", Policy::SignedIn),
    ("WatchShipment", Policy::SignedIn),
    ("CreateRider", Policy::AnyRole(ADMIN)),
    ("GetRider", Policy::SignedIn),
    ("ListRiders", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("UpdateRider", Policy::SignedIn),
    ("AcceptShipment", Policy::AnyRole(DELIVERY)),
    ("RejectShipment", Policy::AnyRole(DELIVERY)),
];

/// Default and largest page of ListDeliverySlots, ListShipments and ListRiders.
const PAGE: (usize, usize) = (50, 200);

/// Serves `mandi.shipping.v1.ShippingService`.
pub struct ShippingGrpc<S> {
    shipping: Shipping<S>,
}

impl<S: ShippingStore> ShippingGrpc<S> {
    /// Serves the `shipping` use cases.
    pub fn new(shipping: Shipping<S>) -> Self {
        Self { shipping }
    }

    /// Runs a keyed mutation once per `{caller}/{request_id}`: a repeat with the same
    /// request gets the stored response, with another request INVALID_ARGUMENT.
    async fn once<M, R, F>(
        &self,
        subject: &str,
        method: &str,
        request_id: &str,
        message: &M,
        run: F,
    ) -> Result<R, Status>
    where
        M: Message + Clone,
        R: Message + Default,
        F: std::future::Future<Output = Result<R, Status>>,
    {
        if request_id.is_empty() {
            return run.await;
        }
        let key = format!("{subject}/{method}/{request_id}");
        let fingerprint = fingerprint(message);
        let store = self.shipping.store();
        if let Some((stored, response)) = store.remembered(&key).await.map_err(to_status)? {
            if stored != fingerprint {
                return Err(to_status(ShippingError::invalid(
                    "request_id",
                    "was already used with a different request",
                )));
            }
            return R::decode(response.as_slice()).map_err(|e| {
                to_status(ShippingError::Store(crate::store::StoreError::Corrupt(
                    e.to_string(),
                )))
            });
        }
        let response = run.await?;
        store
            .remember(&key, &fingerprint, &response.encode_to_vec())
            .await
            .map_err(to_status)?;
        Ok(response)
    }
}

/// A hash of a request's bytes; callers clear the request id first.
fn fingerprint<M: Message>(message: &M) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(message.encode_to_vec())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn page_size(requested: i32) -> Result<usize, Status> {
    paging::page_size(requested, PAGE.0, PAGE.1).map_err(paging_status)
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

/// A required id of a request, or INVALID_ARGUMENT naming `field`.
fn required_id(value: &str, field: &str) -> Result<Uuid, Status> {
    parse_id(value, field).map_err(|v| to_status(ShippingError::Invalid(vec![v])))
}

fn finish(found: Violations) -> Result<(), Status> {
    found.finish().map_err(to_status)
}

/// The listing window of a slots request: from `start_time` (now when unset) to
/// `end_time` (7 days later when unset), at most 14 days.
fn window(
    request: &pb::ListDeliverySlotsRequest,
    now: DateTime<Utc>,
    found: &mut Violations,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = request
        .start_time
        .as_ref()
        .and_then(|t| found.take(instant(t, "start_time")))
        .unwrap_or(now)
        .max(now - Duration::days(1));
    let to = request
        .end_time
        .as_ref()
        .and_then(|t| found.take(instant(t, "end_time")))
        .unwrap_or(from + Duration::days(7));
    found.check(to > from, "end_time", "must be after start_time");
    found.check(
        to - from <= Duration::days(MAX_LISTING_DAYS),
        "end_time",
        "must be at most 14 days after start_time",
    );
    (from, to)
}

type WatchStream = watch::WatchStream;

#[tonic::async_trait]
impl<S: ShippingStore> ShippingService for ShippingGrpc<S> {
    async fn get_shipping_quote(
        &self,
        request: Request<pb::GetShippingQuoteRequest>,
    ) -> Result<Response<pb::GetShippingQuoteResponse>, Status> {
        let message = request.into_inner();
        let mut found = Violations::default();
        let (postal_code, country_code, geo) =
            address_key(message.destination.as_ref(), "destination", &mut found);
        found.check(message.weight_grams > 0, "weight_grams", "must be positive");
        let subtotal = message.order_subtotal.as_ref().map(|m| m.amount_minor);
        found.check(
            subtotal.is_none_or(|s| s >= 0),
            "order_subtotal.amount_minor",
            "must not be negative",
        );
        finish(found)?;
        let quote_request = QuoteRequest {
            postal_code,
            country_code,
            geo,
            weight_grams: message.weight_grams,
            cold_chain: message.cold_chain,
            subtotal_minor: subtotal,
        };
        let slot_id = Some(message.slot_id.trim()).filter(|s| !s.is_empty());
        match self.shipping.quote(&quote_request, slot_id, now()).await {
            Ok(priced) => Ok(Response::new(pb::GetShippingQuoteResponse {
                serviceable: true,
                zone_id: priced.zone_id,
                fee: Some(mandi_sdk::proto::mandi::common::v1::Money {
                    currency_code: priced.quote.currency.clone(),
                    amount_minor: priced.quote.fee_minor,
                }),
                free_delivery_threshold: priced.quote.free_above_minor.map(|minor| {
                    mandi_sdk::proto::mandi::common::v1::Money {
                        currency_code: priced.quote.currency.clone(),
                        amount_minor: minor,
                    }
                }),
                estimated_delivery_time: priced.estimated_delivery.map(timestamp),
            })),
            Err(ShippingError::Unserviceable { .. }) => {
                Ok(Response::new(pb::GetShippingQuoteResponse::default()))
            }
            Err(error) => Err(to_status(error)),
        }
    }

    async fn list_delivery_slots(
        &self,
        request: Request<pb::ListDeliverySlotsRequest>,
    ) -> Result<Response<pb::ListDeliverySlotsResponse>, Status> {
        let message = request.into_inner();
        let now = now();
        let mut found = Violations::default();
        let (postal_code, country_code, geo) =
            address_key(message.destination.as_ref(), "destination", &mut found);
        let (from, to) = window(&message, now, &mut found);
        let limit = page_size(message.page_size)?;
        finish(found)?;
        let zone = self
            .shipping
            .zones()
            .locate(&postal_code, &country_code, geo)
            .map_err(to_status)?
            .id
            .clone();
        let filters = (&zone, from, to, message.cold_chain_required);
        let fingerprint = paging::fingerprint(&filters);
        let after: Option<DateTime<Utc>> =
            paging::decode_token(&message.page_token, &fingerprint).map_err(paging_status)?;
        let mut slots: Vec<_> = self
            .shipping
            .slots(&zone, from, to, message.cold_chain_required, now)
            .await
            .map_err(to_status)?
            .into_iter()
            .filter(|v| after.is_none_or(|a| v.slot.start > a))
            .take(limit + 1)
            .collect();
        let next_page_token = next_token(&mut slots, limit, &fingerprint, |v| v.slot.start);
        Ok(Response::new(pb::ListDeliverySlotsResponse {
            slots: slots.iter().map(slot_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn reserve_slot(
        &self,
        request: Request<pb::ReserveSlotRequest>,
    ) -> Result<Response<pb::ReserveSlotResponse>, Status> {
        let subject = caller(&request)?.subject.clone();
        let message = request.into_inner();
        let mut found = Violations::default();
        found.check(!message.slot_id.trim().is_empty(), "slot_id", "is required");
        let order_id = found.take(parse_id(&message.order_id, "order_id"));
        let ttl = match &message.ttl {
            None => self.shipping.default_hold(),
            // Out of TimeDelta's range is as wrong as any other value outside the bounds.
            Some(ttl) => Duration::try_seconds(ttl.seconds).unwrap_or(Duration::MAX),
        };
        found.check(
            (Duration::minutes(1)..=Duration::hours(1)).contains(&ttl),
            "ttl",
            "must be between 1 minute and 1 hour",
        );
        found.check(
            message.weight_grams >= 0,
            "weight_grams",
            "must not be negative",
        );
        finish(found)?;
        let Some(order_id) = order_id else {
            return Err(Status::internal("order id checked above"));
        };
        let mut keyed = message.clone();
        keyed.request_id.clear();
        self.once(
            &subject,
            "ReserveSlot",
            &message.request_id,
            &keyed,
            async {
                let now = now();
                let hold = NewHold {
                    order_id,
                    weight_grams: message.weight_grams,
                    cold_chain: message.cold_chain,
                    ttl,
                };
                let hold = self
                    .shipping
                    .reserve(message.slot_id.trim(), hold, now)
                    .await
                    .map_err(to_status)?;
                let slot = self
                    .shipping
                    .zones()
                    .slot(&hold.slot_id)
                    .map_err(to_status)?;
                let view = self
                    .shipping
                    .slot_view(slot, now)
                    .await
                    .map_err(to_status)?;
                Ok(pb::ReserveSlotResponse {
                    reservation: Some(hold_to_proto(&hold, &view, now)),
                })
            },
        )
        .await
        .map(Response::new)
    }

    async fn release_slot(
        &self,
        request: Request<pb::ReleaseSlotRequest>,
    ) -> Result<Response<pb::ReleaseSlotResponse>, Status> {
        let message = request.into_inner();
        let mut found = Violations::default();
        let order_id = found.take(parse_id(&message.order_id, "order_id"));
        finish(found)?;
        let Some(order_id) = order_id else {
            return Err(Status::internal("order id checked above"));
        };
        let now = now();
        let reservation = match self
            .shipping
            .release(order_id, now)
            .await
            .map_err(to_status)?
        {
            None => None,
            Some(hold) => {
                let slot = self
                    .shipping
                    .zones()
                    .slot(&hold.slot_id)
                    .map_err(to_status)?;
                let view = self
                    .shipping
                    .slot_view(slot, now)
                    .await
                    .map_err(to_status)?;
                Some(hold_to_proto(&hold, &view, now))
            }
        };
        Ok(Response::new(pb::ReleaseSlotResponse { reservation }))
    }

    async fn create_shipment(
        &self,
        request: Request<pb::CreateShipmentRequest>,
    ) -> Result<Response<pb::CreateShipmentResponse>, Status> {
        let actor = actor_of(caller(&request)?)?;
        let subject = caller(&request)?.subject.clone();
        let message = request.into_inner();
        let mut found = Violations::default();
        let order_id = found.take(parse_id(&message.order_id, "order_id"));
        let user_id = found.take(parse_id(&message.user_id, "user_id"));
        let warehouse_id = found.take(parse_optional_id(&message.warehouse_id, "warehouse_id"));
        let destination = destination(message.destination.as_ref(), &mut found);
        found.check(message.weight_grams > 0, "weight_grams", "must be positive");
        finish(found)?;
        let (Some(order_id), Some(user_id)) = (order_id, user_id) else {
            return Err(Status::internal("ids checked above"));
        };
        let new = NewShipment {
            order_id,
            user_id,
            destination,
            warehouse_id: warehouse_id.flatten(),
            weight_grams: message.weight_grams,
            cold_chain: message.cold_chain,
            cash_to_collect: due(message.cash_to_collect.as_ref(), "INR"),
        };
        let mut keyed = message.clone();
        keyed.request_id.clear();
        self.once(
            &subject,
            "CreateShipment",
            &message.request_id,
            &keyed,
            async {
                let shipment = self
                    .shipping
                    .create_shipment(new, None, &actor, now())
                    .await
                    .map_err(to_status)?;
                Ok(pb::CreateShipmentResponse {
                    shipment: Some(shipment_to_proto(&shipment, actor.is_staff())),
                })
            },
        )
        .await
        .map(Response::new)
    }

    async fn get_shipment(
        &self,
        request: Request<pb::GetShipmentRequest>,
    ) -> Result<Response<pb::GetShipmentResponse>, Status> {
        let caller = caller(&request)?.clone();
        let id = required_id(&request.get_ref().shipment_id, "shipment_id")?;
        let shipment = self.shipping.shipment(id).await.map_err(to_status)?;
        let rider = riding_as(&self.shipping, &caller).await?;
        may_see(&caller, rider.as_ref(), &shipment)?;
        Ok(Response::new(pb::GetShipmentResponse {
            shipment: Some(shipment_to_proto(&shipment, shows_code(&caller, &shipment))),
        }))
    }

    async fn list_shipments(
        &self,
        request: Request<pb::ListShipmentsRequest>,
    ) -> Result<Response<pb::ListShipmentsResponse>, Status> {
        let caller = caller(&request)?.clone();
        let message = request.into_inner();
        let mut found = Violations::default();
        let mut filter = ShipmentFilter {
            order_id: found
                .take(parse_optional_id(&message.order_id, "order_id"))
                .flatten(),
            user_id: found
                .take(parse_optional_id(&message.user_id, "user_id"))
                .flatten(),
            rider_id: found
                .take(parse_optional_id(&message.rider_id, "rider_id"))
                .flatten(),
            statuses: message
                .statuses
                .iter()
                .filter_map(|s| found.take(shipment_status(*s, "statuses")))
                .collect(),
            slot_from: message
                .slot_start_time
                .as_ref()
                .and_then(|t| found.take(instant(t, "slot_start_time"))),
            slot_to: message
                .slot_end_time
                .as_ref()
                .and_then(|t| found.take(instant(t, "slot_end_time"))),
        };
        let limit = page_size(message.page_size)?;
        finish(found)?;
        access::narrow(&self.shipping, &caller, &mut filter).await?;
        let fingerprint = paging::fingerprint(&filter);
        let after: Option<(DateTime<Utc>, Uuid)> =
            paging::decode_token(&message.page_token, &fingerprint).map_err(paging_status)?;
        let mut shipments = self
            .shipping
            .list(&filter, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = next_token(&mut shipments, limit, &fingerprint, |s| {
            (s.slot.start, s.id)
        });
        Ok(Response::new(pb::ListShipmentsResponse {
            shipments: shipments
                .iter()
                .map(|s| shipment_to_proto(s, shows_code(&caller, s)))
                .collect(),
            next_page_token,
        }))
    }

    async fn assign_rider(
        &self,
        request: Request<pb::AssignRiderRequest>,
    ) -> Result<Response<pb::AssignRiderResponse>, Status> {
        let actor = actor_of(caller(&request)?)?;
        let subject = caller(&request)?.subject.clone();
        let message = request.into_inner();
        let mut found = Violations::default();
        let shipment_id = found.take(parse_id(&message.shipment_id, "shipment_id"));
        let rider_id = found.take(parse_optional_id(&message.rider_id, "rider_id"));
        finish(found)?;
        let Some(shipment_id) = shipment_id else {
            return Err(Status::internal("id checked above"));
        };
        let mut keyed = message.clone();
        keyed.request_id.clear();
        self.once(
            &subject,
            "AssignRider",
            &message.request_id,
            &keyed,
            async {
                let shipment = self
                    .shipping
                    .assign(shipment_id, rider_id.flatten(), &actor, now())
                    .await
                    .map_err(to_status)?;
                Ok(pb::AssignRiderResponse {
                    shipment: Some(shipment_to_proto(&shipment, actor.is_staff())),
                })
            },
        )
        .await
        .map(Response::new)
    }

    async fn update_shipment_status(
        &self,
        request: Request<pb::UpdateShipmentStatusRequest>,
    ) -> Result<Response<pb::UpdateShipmentStatusResponse>, Status> {
        let caller = caller(&request)?.clone();
        let actor = actor_of(&caller)?;
        let message = request.into_inner();
        let mut found = Violations::default();
        let shipment_id = found.take(parse_id(&message.shipment_id, "shipment_id"));
        let to = found.take(shipment_status(message.status, "status"));
        let location = message
            .location
            .as_ref()
            .and_then(|g| found.take(geo(g, "location")));
        found.check(
            message.note.chars().count() <= 500,
            "note",
            "must be at most 500 characters",
        );
        if to == Some(crate::domain::ShipmentStatus::DeliveryFailed) {
            found.check(
                !message.note.trim().is_empty(),
                "note",
                "is required for DELIVERY_FAILED",
            );
        }
        let eta = message
            .estimated_delivery_time
            .as_ref()
            .and_then(|t| found.take(instant(t, "estimated_delivery_time")));
        let cash_collected = cash(message.cash_collected.as_ref(), &mut found);
        finish(found)?;
        let (Some(shipment_id), Some(to)) = (shipment_id, to) else {
            return Err(Status::internal("fields checked above"));
        };
        let shipment = self
            .shipping
            .shipment(shipment_id)
            .await
            .map_err(to_status)?;
        access::may_move(&self.shipping, &caller, &shipment).await?;
        let update = StatusUpdate {
            to,
            location,
            note: message.note.trim().to_owned(),
            eta,
            cash_collected,
            delivery_code: Some(message.delivery_code.clone()).filter(|c| !c.is_empty()),
        };
        let mut keyed = message.clone();
        keyed.request_id.clear();
        self.once(
            &caller.subject,
            "UpdateShipmentStatus",
            &message.request_id,
            &keyed,
            async {
                let shipment = self
                    .shipping
                    .update_status(shipment_id, update, &actor, now())
                    .await
                    .map_err(to_status)?;
                Ok(pb::UpdateShipmentStatusResponse {
                    shipment: Some(shipment_to_proto(&shipment, shows_code(&caller, &shipment))),
                })
            },
        )
        .await
        .map(Response::new)
    }

    type WatchShipmentStream = WatchStream;

    async fn watch_shipment(
        &self,
        request: Request<pb::WatchShipmentRequest>,
    ) -> Result<Response<Self::WatchShipmentStream>, Status> {
        let caller = caller(&request)?.clone();
        let id = required_id(&request.get_ref().shipment_id, "shipment_id")?;
        // Subscribed before the first read, so no change falls between the two.
        let changes = self.shipping.subscribe();
        let shipment = self.shipping.shipment(id).await.map_err(to_status)?;
        let rider = riding_as(&self.shipping, &caller).await?;
        may_see(&caller, rider.as_ref(), &shipment)?;
        let code = shows_code(&caller, &shipment);
        Ok(Response::new(watch::stream(
            self.shipping.clone(),
            shipment,
            changes,
            code,
        )))
    }

    async fn create_rider(
        &self,
        request: Request<pb::CreateRiderRequest>,
    ) -> Result<Response<pb::CreateRiderResponse>, Status> {
        let subject = caller(&request)?.subject.clone();
        let message = request.into_inner();
        let mut found = Violations::default();
        let new = new_rider(message.rider.as_ref(), &mut found);
        finish(found)?;
        let Some(new) = new else {
            return Err(Status::internal("rider checked above"));
        };
        let mut keyed = message.clone();
        keyed.request_id.clear();
        self.once(
            &subject,
            "CreateRider",
            &message.request_id,
            &keyed,
            async {
                let rider = self
                    .shipping
                    .create_rider(new, now())
                    .await
                    .map_err(to_status)?;
                Ok(pb::CreateRiderResponse {
                    rider: Some(rider_to_proto(&rider)),
                })
            },
        )
        .await
        .map(Response::new)
    }

    async fn get_rider(
        &self,
        request: Request<pb::GetRiderRequest>,
    ) -> Result<Response<pb::GetRiderResponse>, Status> {
        let caller = caller(&request)?.clone();
        let id = required_id(&request.get_ref().rider_id, "rider_id")?;
        let rider = self.shipping.rider(id).await.map_err(to_status)?;
        access::may_see_rider(&caller, &rider)?;
        Ok(Response::new(pb::GetRiderResponse {
            rider: Some(rider_to_proto(&rider)),
        }))
    }

    async fn list_riders(
        &self,
        request: Request<pb::ListRidersRequest>,
    ) -> Result<Response<pb::ListRidersResponse>, Status> {
        let message = request.into_inner();
        let limit = page_size(message.page_size)?;
        let filter = RiderFilter {
            status: rider_status(message.status),
            zone_id: Some(message.zone_id.trim().to_owned()).filter(|z| !z.is_empty()),
            cold_chain: message.cold_chain,
        };
        let fingerprint = paging::fingerprint(&filter);
        let after: Option<(String, Uuid)> =
            paging::decode_token(&message.page_token, &fingerprint).map_err(paging_status)?;
        let mut riders = self
            .shipping
            .riders(&filter, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = next_token(&mut riders, limit, &fingerprint, |r| {
            (r.display_name.clone(), r.id)
        });
        Ok(Response::new(pb::ListRidersResponse {
            riders: riders.iter().map(rider_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_rider(
        &self,
        request: Request<pb::UpdateRiderRequest>,
    ) -> Result<Response<pb::UpdateRiderResponse>, Status> {
        let caller = caller(&request)?.clone();
        let message = request.into_inner();
        let mut found = Violations::default();
        let rider = message.rider.clone().unwrap_or_default();
        let id = found.take(parse_id(&rider.id, "rider.id"));
        let paths = message
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default();
        let patch = rider_patch(&rider, &paths, &mut found);
        finish(found)?;
        let Some(id) = id else {
            return Err(Status::internal("id checked above"));
        };
        let current = self.shipping.rider(id).await.map_err(to_status)?;
        access::may_change_rider(&caller, &current, &patch)?;
        let mut keyed = message.clone();
        keyed.request_id.clear();
        self.once(
            &caller.subject,
            "UpdateRider",
            &message.request_id,
            &keyed,
            async {
                let rider = self
                    .shipping
                    .update_rider(id, patch, now())
                    .await
                    .map_err(to_status)?;
                Ok(pb::UpdateRiderResponse {
                    rider: Some(rider_to_proto(&rider)),
                })
            },
        )
        .await
        .map(Response::new)
    }

    async fn accept_shipment(
        &self,
        request: Request<pb::AcceptShipmentRequest>,
    ) -> Result<Response<pb::AcceptShipmentResponse>, Status> {
        let caller = caller(&request)?.clone();
        let id = required_id(&request.get_ref().shipment_id, "shipment_id")?;
        let rider = access::own_rider(&self.shipping, &caller).await?;
        let shipment = self
            .shipping
            .accept(id, rider.id, now())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AcceptShipmentResponse {
            shipment: Some(shipment_to_proto(&shipment, false)),
        }))
    }

    async fn reject_shipment(
        &self,
        request: Request<pb::RejectShipmentRequest>,
    ) -> Result<Response<pb::RejectShipmentResponse>, Status> {
        let caller = caller(&request)?.clone();
        let actor = actor_of(&caller)?;
        let message = request.into_inner();
        let mut found = Violations::default();
        let id = found.take(parse_id(&message.shipment_id, "shipment_id"));
        found.check(
            message.reason.chars().count() <= 500,
            "reason",
            "must be at most 500 characters",
        );
        finish(found)?;
        let Some(id) = id else {
            return Err(Status::internal("id checked above"));
        };
        let rider = access::own_rider(&self.shipping, &caller).await?;
        let shipment = self
            .shipping
            .reject(id, rider.id, &message.reason, &actor, now())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RejectShipmentResponse {
            shipment: Some(shipment_to_proto(&shipment, false)),
        }))
    }
}
