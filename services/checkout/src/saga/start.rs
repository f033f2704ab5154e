//! Starting a checkout: what can be checked without side effects is checked here (the
//! cart is the caller's and not empty, the address exists and is delivered to, the slot
//! is open), the cart is priced with shipping's quote for delivery, and the saga stored
//! before it runs. A repeated start returns the stored saga.

use std::sync::Arc;
use std::time::Duration;

use mandi_sdk::proto::mandi::cart::v1::{Cart, GetCartRequest};
use mandi_sdk::proto::mandi::profile::v1::GetAddressRequest;
use tonic::Code;
use uuid::Uuid;

use super::{Card, CheckoutError, Orchestrator, lock, now};
use crate::domain::{
    Destination, Failure, FailureReason, Line, PaymentMethod, Request, Saga, State, Totals,
};
use crate::peers::{CallError, as_shopper, call};
use crate::store::{CheckoutStore, Created};

/// Where the shopper wants delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationChoice {
    /// A saved address of theirs (ProfileService).
    Saved(String),
    /// Given inline.
    Inline(Box<Destination>),
}

/// A StartCheckout request, parsed.
#[derive(Debug, Clone)]
pub struct NewCheckout {
    /// The checkout id (request_id).
    pub id: Uuid,
    /// The cart; empty means the caller's.
    pub cart_id: String,
    /// Where to deliver.
    pub destination: DestinationChoice,
    /// Chosen delivery slot; empty means the earliest open one.
    pub slot_id: String,
    /// How to pay.
    pub method: PaymentMethod,
    /// The card, for card payments.
    pub card: Option<Card>,
    /// The total the shopper was shown.
    pub expected_total: Option<(String, i64)>,
    /// Fingerprint of everything above but the id.
    pub fingerprint: String,
}

impl<S: CheckoutStore> Orchestrator<S> {
    /// Starts (or finds) checkout `new` for `user`, whose `authorization` is `bearer`, and
    /// runs it in the background.
    pub async fn start(
        self: &Arc<Self>,
        new: NewCheckout,
        user: Uuid,
        bearer: String,
    ) -> Result<Saga, CheckoutError> {
        if let Some(existing) = self.store.get(new.id).await? {
            return self.existing(existing, new, user, bearer);
        }
        let cart = self.cart(&new.cart_id, &bearer).await?;
        if cart.user_id != user.to_string() {
            return Err(CheckoutError::NotFound("cart"));
        }
        if cart.items.is_empty() {
            return Err(CheckoutError::CartEmpty);
        }
        let destination = match &new.destination {
            DestinationChoice::Inline(d) => (**d).clone(),
            DestinationChoice::Saved(id) => self.address(id, &bearer).await?,
        };
        // The order needs both; a saved address may lack them.
        let mut missing = Vec::new();
        for (value, what) in [
            (&destination.recipient_name, "a recipient name"),
            (&destination.recipient_phone, "a recipient phone"),
        ] {
            if value.trim().is_empty() {
                missing.push((
                    "address_id".to_owned(),
                    format!("the saved address has no {what}; add one or give the address inline"),
                ));
            }
        }
        if !missing.is_empty() {
            return Err(CheckoutError::Invalid(missing));
        }
        let (lines, mut totals) = price(&cart);
        let priced = self
            .price_delivery(
                &destination,
                &lines,
                mandi_sdk::proto::mandi::common::v1::Money {
                    currency_code: totals.currency.clone(),
                    amount_minor: totals.subtotal,
                },
                &new.slot_id,
            )
            .await?;
        totals.delivery_fee = priced.fee;
        let at = now();
        let card_last4 = new
            .card
            .as_ref()
            .map(|c| {
                let start = c.token.len().saturating_sub(4);
                c.token.get(start..).unwrap_or_default().to_owned()
            })
            .unwrap_or_default();
        let mut saga = Saga::pending(
            Request {
                id: new.id,
                user_id: user,
                cart_id: cart.id.clone(),
                request_fingerprint: new.fingerprint.clone(),
                destination,
                slot_id: priced.slot_id,
                delivery: Some(priced.delivery),
                method: new.method,
                card_last4,
                lines,
                totals,
            },
            at,
        );
        if let Some(failure) = self.refusal(&cart, &saga, &new) {
            // Nothing was created: the checkout ends at once, failed.
            saga.failure = Some(failure.clone());
            saga.enter(State::Failed, failure.message, at);
        }
        let saga = match self
            .store
            .create(&saga, self.owner, self.lease_until())
            .await?
        {
            Created::New(saga) => {
                if matches!(saga.state, State::Failed) {
                    super::count_outcome(&saga);
                }
                saga
            }
            Created::Existing(existing) => return self.existing(existing, new, user, bearer),
        };
        if !saga.state.is_terminal() {
            if let Some(card) = new.card {
                lock(&self.cards).insert(saga.id, card);
            }
            lock(&self.bearers).insert(saga.id, bearer);
            self.spawn(saga.id);
        }
        let _ = self.changes.send(Arc::new(saga.clone()));
        Ok(saga)
    }

    /// A start repeated for `existing`: the same request gets the same checkout (and, if
    /// this process runs it and lost the card, the card again); another is refused.
    fn existing(
        self: &Arc<Self>,
        existing: Saga,
        new: NewCheckout,
        user: Uuid,
        bearer: String,
    ) -> Result<Saga, CheckoutError> {
        if existing.user_id != user || existing.request_fingerprint != new.fingerprint {
            return Err(CheckoutError::RequestReused);
        }
        if !existing.state.is_terminal() {
            if let Some(card) = new.card
                && !existing.has_done(crate::domain::Step::Authorize)
            {
                lock(&self.cards).entry(existing.id).or_insert(card);
            }
            lock(&self.bearers).entry(existing.id).or_insert(bearer);
        }
        Ok(existing)
    }

    async fn cart(&self, cart_id: &str, bearer: &str) -> Result<Cart, CheckoutError> {
        let request = as_shopper(
            GetCartRequest {
                cart_id: cart_id.to_owned(),
            },
            bearer,
        );
        match call(
            "cart",
            self.peers.deadline,
            self.peers.shopper().cart().get_cart(request),
        )
        .await
        {
            Ok(reply) => reply.cart.ok_or(CheckoutError::NotFound("cart")),
            Err(error) => Err(not_found_or(error, "cart", "cart_id")),
        }
    }

    async fn address(&self, id: &str, bearer: &str) -> Result<Destination, CheckoutError> {
        let request = as_shopper(
            GetAddressRequest {
                address_id: id.to_owned(),
            },
            bearer,
        );
        let reply = call(
            "profile",
            self.peers.deadline,
            self.peers.shopper().profile().get_address(request),
        )
        .await
        .map_err(|error| not_found_or(error, "address", "address_id"))?;
        let address = reply.address.ok_or(CheckoutError::NotFound("address"))?;
        let postal = address.postal_address.unwrap_or_default();
        Ok(Destination {
            line1: postal.line1,
            line2: postal.line2,
            city: postal.city,
            region: postal.region,
            postal_code: postal.postal_code,
            country_code: postal.country_code,
            geo: postal.geo.map(|g| (g.latitude_e6, g.longitude_e6)),
            recipient_name: address.recipient_name,
            recipient_phone: address.recipient_phone,
            instructions: address.delivery_instructions,
        })
    }
}

/// The cart's lines and totals, delivery not priced yet.
fn price(cart: &Cart) -> (Vec<Line>, Totals) {
    let amount = |m: &Option<mandi_sdk::proto::mandi::common::v1::Money>| {
        m.as_ref().map_or(0, |m| m.amount_minor)
    };
    let lines = cart
        .items
        .iter()
        .map(|i| Line {
            product_id: i.product_id.clone(),
            display_name: i.product_display_name.clone(),
            image_url: i.image_url.clone(),
            vendor_id: i.vendor_id.clone(),
            unit_of_sale: i.unit_of_sale,
            quantity: i.quantity,
            unit_price: amount(&i.unit_price),
            line_total: amount(&i.line_total),
        })
        .collect();
    let totals = cart.totals.clone().unwrap_or_default();
    let currency = totals
        .total
        .as_ref()
        .map(|m| m.currency_code.clone())
        .unwrap_or_default();
    (
        lines,
        Totals {
            currency,
            subtotal: amount(&totals.subtotal),
            delivery_fee: 0,
            tax: amount(&totals.tax),
        },
    )
}

impl<S: CheckoutStore> Orchestrator<S> {
    /// Why the cart cannot be checked out as it is, if it cannot.
    fn refusal(&self, cart: &Cart, saga: &Saga, new: &NewCheckout) -> Option<Failure> {
        let unavailable: Vec<String> = cart
            .items
            .iter()
            .filter(|i| i.check.as_ref().is_some_and(|c| c.unavailable))
            .map(|i| i.product_id.clone())
            .collect();
        if !unavailable.is_empty() {
            let mut failure = Failure::new(
                FailureReason::ProductUnavailable,
                format!(
                    "{} product(s) in the cart are no longer on sale",
                    unavailable.len()
                ),
                State::Pending,
            );
            failure.unavailable_product_ids = unavailable;
            return Some(failure);
        }
        if cart
            .items
            .iter()
            .any(|i| i.check.as_ref().is_some_and(|c| c.price_changed))
        {
            return Some(Failure::new(
                FailureReason::PriceChanged,
                "prices changed since the products were added; review the cart",
                State::Pending,
            ));
        }
        if let Some((currency, amount)) = &new.expected_total
            && (*currency != saga.totals.currency || *amount != saga.totals.total())
        {
            return Some(Failure::new(
                FailureReason::PriceChanged,
                format!(
                    "the total is now {} {} (expected {} {})",
                    saga.totals.total(),
                    saga.totals.currency,
                    amount,
                    currency
                ),
                State::Pending,
            ));
        }
        None
    }

    /// Waits for the outcome of `saga` when asked to, up to `within`.
    pub async fn outcome(&self, saga: Saga, within: Duration) -> Result<Saga, CheckoutError> {
        let saga = if saga.state.is_terminal() {
            saga
        } else {
            self.wait(saga.id, within).await?.unwrap_or(saga)
        };
        match (&saga.state, &saga.failure) {
            (State::Failed, Some(failure)) => Err(CheckoutError::Failed(Box::new(failure.clone()))),
            _ => Ok(saga),
        }
    }
}

/// A peer's refusal to look up `what` (named by the request's `field`): not found (or
/// not the caller's) is NOT_FOUND, and an id the peer finds malformed is the caller's bad
/// `field`, not a dependency failing.
fn not_found_or(error: CallError, what: &'static str, field: &str) -> CheckoutError {
    match error.refusal().map(|s| s.code()) {
        Some(Code::NotFound | Code::PermissionDenied) => CheckoutError::NotFound(what),
        Some(Code::InvalidArgument) => CheckoutError::Invalid(vec![(
            field.to_owned(),
            format!("is not a valid {what} id"),
        )]),
        _ => CheckoutError::Peer(error),
    }
}
