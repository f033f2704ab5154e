//! The shoppers: each has its own SDK client (its own token), maybe a guest cart, maybe an
//! account with an address and an order, and does one operation at a time through
//! `mandi-sdk`, the way the CLI and the storefront do.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mandi_sdk::proto::mandi::cart::v1::{
    AddItemRequest, ClearCartRequest, MergeGuestCartRequest, RemoveItemRequest,
};
use mandi_sdk::proto::mandi::catalog::v1::{
    GetProductRequest, ListProductsRequest, SearchProductsRequest,
};
use mandi_sdk::proto::mandi::checkout::v1::{
    Checkout, CheckoutState, FailureReason, StartCheckoutRequest, WatchCheckoutRequest,
    start_checkout_request,
};
use mandi_sdk::proto::mandi::common::v1::Address as PostalAddress;
use mandi_sdk::proto::mandi::identity::v1::{LoginRequest, RegisterRequest, Role};
use mandi_sdk::proto::mandi::payment::v1::{CardDetails, PaymentMethod};
use mandi_sdk::proto::mandi::profile::v1::{Address, CreateAddressRequest};
use mandi_sdk::proto::mandi::shipping::v1::{ListShipmentsRequest, WatchShipmentRequest};
use mandi_sdk::{Mandi, MandiBuilder};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;
use uuid::Uuid;

use crate::mix::Operation;
use crate::stats::{Outcome, Recorder};

/// The sandbox's approved test card (services/payment/src/gateway.rs).
pub const APPROVED_CARD: &str = "4242424242424242";
/// The sandbox's declined test cards: card declined, insufficient funds, stolen, expired.
pub const DECLINED_CARDS: [&str; 4] = [
    "4000000000000002",
    "4000000000009995",
    "4000000000009979",
    "4000000000000069",
];
/// Every loadgen account's password.
const PASSWORD: &str = "loadgen shopper password";
/// What shoppers type into search: produce words, two of them misspelt (typo tolerance is
/// part of what search costs).
const QUERIES: [&str; 12] = [
    "mango", "apple", "tomato", "onion", "banana", "spinach", "almond", "rice", "potato", "orange",
    "tomatoe", "bananna",
];
/// How long a track waits for WatchShipment's first message.
const WATCH_FIRST: Duration = Duration::from_secs(10);

/// How a checkout learns its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    /// StartCheckout with `wait`: one call until the saga ends.
    Wait,
    /// StartCheckout, then WatchCheckout's stream until COMPLETED or FAILED.
    Watch,
}

/// A product shoppers can put in a cart.
#[derive(Debug, Clone)]
pub struct Product {
    /// Its id.
    pub id: String,
    /// The smallest quantity a cart line of it may hold.
    pub quantity: i64,
}

/// What every shopper shares: where to connect, the products, the recorder.
#[derive(Debug)]
pub struct Shop {
    /// Builds each shopper's own client (its own token).
    pub builder: MandiBuilder,
    /// Every product the catalog listed, for GetProduct.
    pub products: Vec<Product>,
    /// The products with stock, for carts.
    pub stocked: Vec<Product>,
    /// Share of checkouts paid with a declined card.
    pub decline_rate: f64,
    /// Wait or watch.
    pub checkout_mode: CheckoutMode,
    /// Where the samples go.
    pub recorder: Arc<Recorder>,
}

/// A small, fast, seedable generator (SplitMix64): the choices of a run are reproducible
/// from its seed, and no RNG crate is needed for this.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 for n = 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One shopper's session.
#[derive(Debug)]
pub struct Shopper {
    mandi: Mandi,
    rng: Rng,
    /// The guest cart's id; empty once signed in (the account's cart is implied).
    guest_cart: String,
    /// Products in the cart (one line each, of the product's smallest quantity).
    in_cart: Vec<String>,
    account: Option<Account>,
    last_order: Option<String>,
}

#[derive(Debug)]
struct Account {
    address_id: String,
}

// === impl Shopper ===

impl Shopper {
    /// A guest with a client of its own.
    pub fn new(shop: &Shop, seed: u64) -> Result<Self, mandi_sdk::SdkError> {
        Ok(Self {
            mandi: shop.builder.clone().connect_lazy()?,
            rng: Rng::new(seed),
            guest_cart: String::new(),
            in_cart: Vec::new(),
            account: None,
            last_order: None,
        })
    }

    /// Does `op` once and records it (and any signup or cart line it needed first).
    pub async fn act(&mut self, shop: &Shop, op: Operation) {
        match op {
            Operation::Browse => {
                let outcome = timed(self.browse(shop)).await;
                shop.recorder.record(op, outcome.0, outcome.1);
            }
            Operation::Search => {
                let outcome = timed(self.search()).await;
                shop.recorder.record(op, outcome.0, outcome.1);
            }
            Operation::Cart => {
                self.cart(shop).await;
            }
            Operation::Signup => {
                self.signup(shop).await;
            }
            Operation::Checkout => {
                if !self.signup(shop).await || (self.in_cart.is_empty() && !self.cart(shop).await) {
                    return;
                }
                let outcome = timed(self.checkout(shop)).await;
                let completed = outcome.1 == (Outcome::Ok { label: "completed" });
                shop.recorder.record(op, outcome.0, outcome.1);
                // Half the shoppers leave after paying and a new guest takes their place,
                // so guest carts keep coming as in a real shop.
                if completed && self.rng.chance(0.5) {
                    self.leave();
                }
            }
            Operation::Track => {
                if !self.signup(shop).await {
                    return;
                }
                let outcome = timed(self.track()).await;
                shop.recorder.record(op, outcome.0, outcome.1);
            }
        }
    }

    /// Ends the session: the next operation is a new guest's.
    fn leave(&mut self) {
        // Clearing a token cannot fail (only a malformed header can).
        let _ = self.mandi.set_token(None);
        self.account = None;
        self.guest_cart.clear();
        self.in_cart.clear();
        self.last_order = None;
    }

    async fn browse(&mut self, shop: &Shop) -> Result<&'static str, Failure> {
        let listed = self
            .mandi
            .catalog()
            .list_products(ListProductsRequest {
                page_size: 20,
                ..Default::default()
            })
            .await?
            .into_inner()
            .products;
        // A product from anywhere in the catalog, not only the first page.
        let id = match shop.products.get(self.rng.below(shop.products.len())) {
            Some(product) => product.id.clone(),
            None => match listed.first() {
                Some(product) => product.id.clone(),
                None => return Ok("empty catalog"),
            },
        };
        self.mandi
            .catalog()
            .get_product(GetProductRequest { product_id: id })
            .await?;
        Ok("")
    }

    async fn search(&mut self) -> Result<&'static str, Failure> {
        let query = QUERIES[self.rng.below(QUERIES.len())];
        self.mandi
            .catalog()
            .search_products(SearchProductsRequest {
                query: query.into(),
                page_size: 20,
                ..Default::default()
            })
            .await?;
        Ok("")
    }

    /// Adds a stocked product not yet in the cart (a full cart first drops one line, as a
    /// shopper changing their mind: adding to a line would soon pass its maximum); whether
    /// it went in.
    async fn cart(&mut self, shop: &Shop) -> bool {
        let fresh: Vec<&Product> = shop
            .stocked
            .iter()
            .filter(|p| !self.in_cart.contains(&p.id))
            .collect();
        let (product, drop_first) = match fresh.get(self.rng.below(fresh.len())) {
            Some(product) => ((*product).clone(), false),
            None => match shop.stocked.get(self.rng.below(shop.stocked.len())) {
                Some(product) => (product.clone(), true),
                None => {
                    shop.recorder.record(
                        Operation::Cart,
                        Duration::ZERO,
                        Outcome::Unexpected("NO_STOCKED_PRODUCT".into()),
                    );
                    return false;
                }
            },
        };
        let guest = self.account.is_none();
        let (latency, outcome) = timed(self.add(product, drop_first)).await;
        let ok = matches!(outcome, Outcome::Ok { .. });
        let outcome = match outcome {
            Outcome::Ok { .. } => Outcome::Ok {
                label: if guest { "guest" } else { "signed-in" },
            },
            other => other,
        };
        shop.recorder.record(Operation::Cart, latency, outcome);
        ok
    }

    async fn add(&mut self, product: Product, drop_first: bool) -> Result<&'static str, Failure> {
        if drop_first {
            self.mandi
                .cart()
                .remove_item(RemoveItemRequest {
                    cart_id: self.guest_cart.clone(),
                    product_id: product.id.clone(),
                    request_id: Uuid::now_v7().to_string(),
                })
                .await?;
            self.in_cart.retain(|id| *id != product.id);
        }
        let reply = self
            .mandi
            .cart()
            .add_item(AddItemRequest {
                cart_id: self.guest_cart.clone(),
                product_id: product.id.clone(),
                quantity: product.quantity,
                request_id: Uuid::now_v7().to_string(),
            })
            .await?
            .into_inner();
        if self.account.is_none()
            && let Some(cart) = reply.cart
        {
            self.guest_cart = cart.id;
        }
        self.in_cart.push(product.id);
        Ok("")
    }

    /// Registers, signs in, saves an address and merges the guest cart, unless already
    /// signed in; whether the shopper is signed in now.
    async fn signup(&mut self, shop: &Shop) -> bool {
        if self.account.is_some() {
            return true;
        }
        let (latency, outcome) = timed(self.register()).await;
        let ok = matches!(outcome, Outcome::Ok { .. });
        shop.recorder.record(Operation::Signup, latency, outcome);
        ok
    }

    async fn register(&mut self) -> Result<&'static str, Failure> {
        let email = format!("loadgen-{}@example.com", Uuid::now_v7().simple());
        self.mandi
            .identity()
            .register(RegisterRequest {
                name: "Load Shopper".into(),
                email: email.clone(),
                password: PASSWORD.into(),
                role: Role::Customer as i32,
                ..Default::default()
            })
            .await?;
        let login = self
            .mandi
            .identity()
            .login(LoginRequest {
                email,
                password: PASSWORD.into(),
            })
            .await?
            .into_inner();
        self.mandi
            .set_token(Some(login.access_token))
            .map_err(|e| Failure::Unexpected(format!("TOKEN_NOT_A_HEADER: {e}")))?;
        let address = self
            .mandi
            .profile()
            .create_address(CreateAddressRequest {
                address: Some(Address {
                    label: "Home".into(),
                    postal_address: Some(bengaluru()),
                    recipient_name: "Asha Rao".into(),
                    recipient_phone: "+919812345678".into(),
                    ..Default::default()
                }),
                make_default: true,
                request_id: Uuid::now_v7().to_string(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .address
            .ok_or_else(|| Failure::Unexpected("ADDRESS_MISSING_IN_REPLY".into()))?;
        let label = if self.guest_cart.is_empty() {
            "new"
        } else {
            self.mandi
                .cart()
                .merge_guest_cart(MergeGuestCartRequest {
                    guest_cart_id: std::mem::take(&mut self.guest_cart),
                    request_id: Uuid::now_v7().to_string(),
                })
                .await?;
            "merged guest cart"
        };
        self.account = Some(Account {
            address_id: address.id,
        });
        Ok(label)
    }

    async fn checkout(&mut self, shop: &Shop) -> Result<&'static str, Failure> {
        let address_id = self
            .account
            .as_ref()
            .map(|a| a.address_id.clone())
            .unwrap_or_default();
        let declined = self.rng.chance(shop.decline_rate);
        let card = if declined {
            DECLINED_CARDS[self.rng.below(DECLINED_CARDS.len())]
        } else {
            APPROVED_CARD
        };
        let wait = shop.checkout_mode == CheckoutMode::Wait;
        let answer = self
            .mandi
            .checkout()
            .start_checkout(StartCheckoutRequest {
                destination: Some(start_checkout_request::Destination::AddressId(address_id)),
                payment_method: PaymentMethod::Card as i32,
                card: Some(CardDetails {
                    token: card.into(),
                    exp_month: 12,
                    exp_year: 2035,
                }),
                request_id: Uuid::now_v7().to_string(),
                wait,
                ..Default::default()
            })
            .await;
        // With `wait` a failed saga answers as an error: FAILED_PRECONDITION whose
        // ErrorInfo reason says why.
        let started = match answer {
            Ok(reply) => reply.into_inner().checkout,
            Err(status) => {
                let reason = status.get_details_error_info().map(|info| info.reason);
                if status.code() == Code::FailedPrecondition {
                    if declined && reason.as_deref() == Some("PAYMENT_DECLINED") {
                        return Ok("declined");
                    }
                    self.start_over().await;
                    // The code, and why: out of stock and a full slot read differently.
                    return Err(Failure::Unexpected(format!(
                        "FAILED_PRECONDITION:{}",
                        reason.as_deref().unwrap_or("NO_REASON")
                    )));
                }
                return Err(status.into());
            }
        }
        .ok_or_else(|| Failure::Unexpected("CHECKOUT_MISSING_IN_REPLY".into()))?;
        // A wait answers within the call's deadline: a saga still running by then is
        // followed to its end like an unwaited one.
        let running = !matches!(
            CheckoutState::try_from(started.state),
            Ok(CheckoutState::Completed | CheckoutState::Failed)
        );
        let end = if running {
            self.watch_checkout(started).await?
        } else {
            started
        };
        let state = CheckoutState::try_from(end.state).unwrap_or(CheckoutState::Unspecified);
        let reason = end
            .failure
            .as_ref()
            .and_then(|f| FailureReason::try_from(f.reason).ok())
            .unwrap_or(FailureReason::Unspecified);
        match (state, declined, reason) {
            (CheckoutState::Completed, false, _) => {
                self.in_cart.clear();
                self.last_order = Some(end.order_id);
                Ok("completed")
            }
            // A declined card leaves the cart for the next try.
            (CheckoutState::Failed, true, FailureReason::PaymentDeclined) => Ok("declined"),
            _ => {
                self.start_over().await;
                Err(Failure::Unexpected(format!(
                    "{}:{}",
                    state.as_str_name(),
                    reason.as_str_name()
                )))
            }
        }
    }

    /// Empties the cart after a checkout failed for a reason other than the decline it
    /// was sent to get, rather than repeat whatever went wrong.
    async fn start_over(&mut self) {
        // Best effort: a cart left full only makes the next checkout's cart bigger.
        let _ = self
            .mandi
            .cart()
            .clear_cart(ClearCartRequest::default())
            .await;
        self.in_cart.clear();
    }

    async fn watch_checkout(&mut self, started: Checkout) -> Result<Checkout, Failure> {
        let mut stream = self
            .mandi
            .checkout()
            .watch_checkout(WatchCheckoutRequest {
                checkout_id: started.id.clone(),
            })
            .await?
            .into_inner();
        let mut last = started;
        while let Some(update) = stream.message().await? {
            if let Some(checkout) = update.checkout {
                let done = matches!(
                    CheckoutState::try_from(checkout.state),
                    Ok(CheckoutState::Completed | CheckoutState::Failed)
                );
                last = checkout;
                if done {
                    break;
                }
            }
        }
        Ok(last)
    }

    async fn track(&mut self) -> Result<&'static str, Failure> {
        let shipments = self
            .mandi
            .shipping()
            .list_shipments(ListShipmentsRequest {
                order_id: self.last_order.clone().unwrap_or_default(),
                page_size: 10,
                ..Default::default()
            })
            .await?
            .into_inner()
            .shipments;
        // Shipping makes the shipment from PaymentConfirmed, a moment after checkout.
        let Some(shipment) = shipments.into_iter().next() else {
            return Ok("no shipment yet");
        };
        let mut stream = self
            .mandi
            .shipping()
            .watch_shipment(WatchShipmentRequest {
                shipment_id: shipment.id,
            })
            .await?
            .into_inner();
        match tokio::time::timeout(WATCH_FIRST, stream.message()).await {
            Ok(Ok(Some(_))) => Ok("watched"),
            Ok(Ok(None)) => Err(Failure::Unexpected("TRACK_STREAM_ENDED_EMPTY".into())),
            Ok(Err(status)) => Err(status.into()),
            Err(_) => Err(Status::deadline_exceeded("no first WatchShipment message").into()),
        }
    }
}

fn bengaluru() -> PostalAddress {
    PostalAddress {
        line1: "12 MG Road".into(),
        city: "Bengaluru".into(),
        postal_code: "560001".into(),
        country_code: "IN".into(),
        ..Default::default()
    }
}

/// Why an operation failed.
#[derive(Debug)]
enum Failure {
    /// An RPC failed.
    Rpc(Status),
    /// Every RPC answered but the result was wrong; its name for the report.
    Unexpected(String),
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Failure::Rpc(status)
    }
}

/// Runs `call`, timing it, and maps its end to an outcome.
async fn timed(call: impl Future<Output = Result<&'static str, Failure>>) -> (Duration, Outcome) {
    let started = Instant::now();
    let result = call.await;
    let latency = started.elapsed();
    let outcome = match result {
        Ok(label) => Outcome::Ok { label },
        Err(Failure::Rpc(status)) => Outcome::Status(status.code()),
        Err(Failure::Unexpected(name)) => Outcome::Unexpected(name),
    };
    (latency, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rng_is_reproducible_and_chance_follows_its_probability() {
        let a: Vec<u64> = {
            let mut rng = Rng::new(7);
            (0..5).map(|_| rng.next_u64()).collect()
        };
        let mut rng = Rng::new(7);
        assert_eq!(a, (0..5).map(|_| rng.next_u64()).collect::<Vec<_>>());
        let mut rng = Rng::new(1);
        let hits = (0..10_000).filter(|_| rng.chance(0.2)).count();
        assert!((1_800..2_200).contains(&hits), "{hits}");
        assert!(!(0..1_000).any(|_| rng.chance(0.0)));
        assert!((0..1_000).all(|_| rng.below(3) < 3));
    }
}
