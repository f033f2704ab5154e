//! The tonic service: who may call, request parsing, idempotency keys, and the mapping of
//! carts and errors to the contract.

mod convert;
mod status;

use std::sync::Arc;

use mandi_runtime::auth::{Caller, Policy, roles};
use mandi_runtime::errors;
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::cart::v1 as pb;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use convert::{cart_to_proto, empty_cart};
use status::to_status;

use crate::domain::{CartError, CartId};
use crate::peers::{Catalog, Inventory};
use crate::service::{Actor, CartService, Idempotency};
use crate::store::CartStore;

const DOMAIN: &str = "mandi.cart";

/// Longest request id kept.
const MAX_REQUEST_ID_CHARS: usize = 128;

/// Who may call each method: guests hold their cart id as their key, so everything but
/// the merge is open to them; a token, when sent, must be valid, since it picks the
/// user's cart over a guest's. Handlers narrow who may open which cart.
pub const POLICIES: &[(&str, Policy)] = &[
    ("GetCart", Policy::Optional),
    ("AddItem", Policy::Optional),
    ("UpdateItemQuantity", Policy::Optional),
    ("RemoveItem", Policy::Optional),
    ("ClearCart", Policy::Optional),
    ("MergeGuestCart", Policy::SignedIn),
];

/// Serves `mandi.cart.v1.CartService`.
pub struct CartGrpc<S, C, I> {
    service: Arc<CartService<S, C, I>>,
    currency: String,
}

impl<S, C, I> CartGrpc<S, C, I> {
    /// Serves `service`; empty carts show zero amounts in `currency`.
    pub fn new(service: Arc<CartService<S, C, I>>, currency: String) -> Self {
        Self { service, currency }
    }
}

/// The caller as the service sees it: a signed-in user (admins are users too), an
/// internal service, or a guest.
fn actor<T>(request: &Request<T>) -> Actor {
    match request.extensions().get::<Caller>() {
        None => Actor {
            user: None,
            privileged: false,
        },
        Some(caller) => Actor {
            user: (!caller.has_role(roles::SERVICE)).then(|| caller.subject.clone()),
            privileged: caller.has_role(roles::ADMIN) || caller.has_role(roles::SERVICE),
        },
    }
}

fn cart_id(value: &str) -> Result<Option<CartId>, Status> {
    match value {
        "" => Ok(None),
        value => CartId::parse("cart_id", value).map(Some).map_err(to_status),
    }
}

fn product_id(value: &str) -> Result<Uuid, Status> {
    if value.is_empty() {
        return Err(to_status(CartError::invalid("product_id", "is required")));
    }
    Uuid::parse_str(value).map_err(|_| {
        to_status(CartError::invalid(
            "product_id",
            "is not a product id (a UUID)",
        ))
    })
}

/// A request read at the edge: who calls, the cart it names, and its idempotency key.
struct Parsed<M> {
    actor: Actor,
    message: M,
    cart_id: Option<CartId>,
    key: Option<Idempotency>,
}

/// Reads the caller, the cart id (`cart_id` of the message) and the idempotency key
/// (`request_id`): scoped to the caller (or, for a guest, to the cart) so two callers'
/// keys never collide, with a fingerprint of the request without its key.
fn parse<M: prost::Message + Clone>(
    method: &str,
    request: Request<M>,
    cart_id_of: impl Fn(&M) -> &str,
    request_id_of: impl Fn(&mut M) -> &mut String,
) -> Result<Parsed<M>, Status> {
    let actor = actor(&request);
    let mut message = request.into_inner();
    let cart_id = cart_id(cart_id_of(&message))?;
    let request_id = std::mem::take(request_id_of(&mut message));
    if request_id.chars().count() > MAX_REQUEST_ID_CHARS {
        return Err(errors::invalid_argument(
            DOMAIN,
            [(
                "request_id",
                format!("must be at most {MAX_REQUEST_ID_CHARS} characters"),
            )],
        ));
    }
    let key = (!request_id.is_empty()).then(|| {
        let scope = match (&actor.user, &cart_id) {
            (Some(user), _) => format!("user:{user}"),
            (None, Some(cart)) => format!("cart:{cart}"),
            (None, None) => "guest".to_owned(),
        };
        Idempotency {
            key: format!("{scope}/{request_id}"),
            fingerprint: format!("{method}:{}", paging::fingerprint(&message.encode_to_vec())),
        }
    });
    Ok(Parsed {
        actor,
        message,
        cart_id,
        key,
    })
}

impl<S: CartStore, C: Catalog, I: Inventory> CartGrpc<S, C, I> {
    fn reply(&self, actor: &Actor, cart: Option<crate::domain::PricedCart>) -> pb::Cart {
        match cart {
            Some(cart) => cart_to_proto(cart, &self.currency),
            None => empty_cart(actor.user.as_deref(), &self.currency),
        }
    }
}

#[tonic::async_trait]
impl<S: CartStore, C: Catalog, I: Inventory> pb::cart_service_server::CartService
    for CartGrpc<S, C, I>
{
    async fn get_cart(
        &self,
        request: Request<pb::GetCartRequest>,
    ) -> Result<Response<pb::GetCartResponse>, Status> {
        let actor = actor(&request);
        let cart_id = cart_id(&request.get_ref().cart_id)?;
        let cart = self
            .service
            .get(&actor, cart_id.as_ref())
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::GetCartResponse {
            cart: Some(self.reply(&actor, cart)),
        }))
    }

    async fn add_item(
        &self,
        request: Request<pb::AddItemRequest>,
    ) -> Result<Response<pb::AddItemResponse>, Status> {
        let p = parse("AddItem", request, |r| &r.cart_id, |r| &mut r.request_id)?;
        let product = product_id(&p.message.product_id)?;
        let cart = self
            .service
            .add(
                &p.actor,
                p.cart_id.as_ref(),
                product,
                p.message.quantity,
                p.key,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AddItemResponse {
            cart: Some(self.reply(&p.actor, cart)),
        }))
    }

    async fn update_item_quantity(
        &self,
        request: Request<pb::UpdateItemQuantityRequest>,
    ) -> Result<Response<pb::UpdateItemQuantityResponse>, Status> {
        let p = parse(
            "UpdateItemQuantity",
            request,
            |r| &r.cart_id,
            |r| &mut r.request_id,
        )?;
        let product = product_id(&p.message.product_id)?;
        let cart = self
            .service
            .set_quantity(
                &p.actor,
                p.cart_id.as_ref(),
                product,
                p.message.quantity,
                p.key,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateItemQuantityResponse {
            cart: Some(self.reply(&p.actor, cart)),
        }))
    }

    async fn remove_item(
        &self,
        request: Request<pb::RemoveItemRequest>,
    ) -> Result<Response<pb::RemoveItemResponse>, Status> {
        let p = parse("RemoveItem", request, |r| &r.cart_id, |r| &mut r.request_id)?;
        let product = product_id(&p.message.product_id)?;
        let cart = self
            .service
            .remove(&p.actor, p.cart_id.as_ref(), product, p.key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RemoveItemResponse {
            cart: Some(self.reply(&p.actor, cart)),
        }))
    }

    async fn clear_cart(
        &self,
        request: Request<pb::ClearCartRequest>,
    ) -> Result<Response<pb::ClearCartResponse>, Status> {
        let p = parse("ClearCart", request, |r| &r.cart_id, |r| &mut r.request_id)?;
        let cart = self
            .service
            .clear(&p.actor, p.cart_id.as_ref(), p.key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ClearCartResponse {
            cart: Some(self.reply(&p.actor, cart)),
        }))
    }

    async fn merge_guest_cart(
        &self,
        request: Request<pb::MergeGuestCartRequest>,
    ) -> Result<Response<pb::MergeGuestCartResponse>, Status> {
        // The merge names no cart of its own: the caller's is the target.
        let p = parse("MergeGuestCart", request, |_| "", |r| &mut r.request_id)?;
        let Some(user) = p.actor.user.as_deref() else {
            return Err(errors::status(
                Code::PermissionDenied,
                "only a signed-in shopper can merge a guest cart into their own",
                DOMAIN,
                "NOT_A_SHOPPER",
            ));
        };
        if p.message.guest_cart_id.is_empty() {
            return Err(to_status(CartError::invalid(
                "guest_cart_id",
                "is required",
            )));
        }
        let guest = CartId::parse("guest_cart_id", &p.message.guest_cart_id).map_err(to_status)?;
        let cart = self
            .service
            .merge(user, &guest, p.key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::MergeGuestCartResponse {
            cart: Some(cart_to_proto(cart, &self.currency)),
        }))
    }
}
