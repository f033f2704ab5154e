//! The checkout saga's types and rules, without I/O or proto types: where a saga is
//! ([`State`]), the steps it runs forward and backward ([`Step`]), why it failed
//! ([`Failure`]), and the [`Saga`] record the store keeps after every step.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a saga is; the proto's `CheckoutState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    /// Accepted and priced; nothing created yet.
    Pending,
    /// The order exists.
    OrderCreated,
    /// Stock is held.
    InventoryReserved,
    /// A place in the delivery slot is held.
    SlotReserved,
    /// Payment secured (captured, or cash on delivery authorized).
    PaymentConfirmed,
    /// The order is PAID, the stock committed, the cart cleared. Terminal.
    Completed,
    /// A step failed for good; earlier steps are being undone.
    Compensating,
    /// Undone. Terminal.
    Failed,
}

impl State {
    /// Whether the saga has ended.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Completed | State::Failed)
    }

    /// Name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "PENDING",
            State::OrderCreated => "ORDER_CREATED",
            State::InventoryReserved => "INVENTORY_RESERVED",
            State::SlotReserved => "SLOT_RESERVED",
            State::PaymentConfirmed => "PAYMENT_CONFIRMED",
            State::Completed => "COMPLETED",
            State::Compensating => "COMPENSATING",
            State::Failed => "FAILED",
        }
    }
}

/// One forward step, in the order the saga runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Step {
    /// OrderService.CreateOrder (keyed by the checkout id).
    CreateOrder,
    /// InventoryService.Reserve (keyed by the order id).
    Reserve,
    /// ShippingService.ReserveSlot (keyed by the order id).
    ReserveSlot,
    /// OrderService.UpdateOrderStatus(PAYMENT_PENDING) then PaymentService.AuthorizePayment
    /// (key `{checkout_id}/authorize`).
    Authorize,
    /// PaymentService.CapturePayment (cards only; key `{checkout_id}/capture`).
    Capture,
    /// OrderService.UpdateOrderStatus(PAID).
    ConfirmOrder,
    /// InventoryService.Commit.
    Commit,
    /// CartService.ClearCart with the shopper's token.
    ClearCart,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 8] = [
        Step::CreateOrder,
        Step::Reserve,
        Step::ReserveSlot,
        Step::Authorize,
        Step::Capture,
        Step::ConfirmOrder,
        Step::Commit,
        Step::ClearCart,
    ];

    /// The name used in notes, logs and `MANDI_CHECKOUT__TEST_CRASH_AFTER`.
    pub fn name(self) -> &'static str {
        match self {
            Step::CreateOrder => "create_order",
            Step::Reserve => "reserve",
            Step::ReserveSlot => "reserve_slot",
            Step::Authorize => "authorize",
            Step::Capture => "capture",
            Step::ConfirmOrder => "confirm_order",
            Step::Commit => "commit",
            Step::ClearCart => "clear_cart",
        }
    }

    /// The step named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The state a saga enters once this step is done, if it changes.
    pub fn enters(self) -> Option<State> {
        match self {
            Step::CreateOrder => Some(State::OrderCreated),
            Step::Reserve => Some(State::InventoryReserved),
            Step::ReserveSlot => Some(State::SlotReserved),
            Step::Capture => Some(State::PaymentConfirmed),
            Step::ClearCart => Some(State::Completed),
            Step::Authorize | Step::ConfirmOrder | Step::Commit => None,
        }
    }
}

/// Why a saga failed; the proto's `FailureReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureReason {
    /// The cart was empty.
    CartEmpty,
    /// A product is no longer on sale.
    ProductUnavailable,
    /// The total differs from the one the shopper was shown.
    PriceChanged,
    /// Not enough stock.
    OutOfStock,
    /// The delivery slot filled up, closed, or cannot carry the cold chain the order needs.
    SlotUnavailable,
    /// The card was declined.
    PaymentDeclined,
    /// The gateway failed or timed out, or the card was not at hand to retry.
    PaymentFailed,
    /// A service stayed unreachable after all retries.
    ServiceUnavailable,
    /// Anything else.
    Internal,
}

/// A line inventory could not meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortLine {
    /// The product.
    pub product_id: String,
    /// Quantity asked for.
    pub requested: i64,
    /// Quantity available.
    pub available: i64,
}

/// Why a saga failed, for the shopper and for support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The reason.
    pub reason: FailureReason,
    /// Safe to show the shopper.
    pub message: String,
    /// For OutOfStock.
    pub short_lines: Vec<ShortLine>,
    /// For ProductUnavailable.
    pub unavailable_product_ids: Vec<String>,
    /// For PaymentDeclined / PaymentFailed: the payment's failure reason (proto number).
    pub payment_failure_reason: i32,
    /// The state the saga was in when the step failed.
    pub failed_state: State,
}

impl Failure {
    /// A failure with only a reason and a message, in `state`.
    pub fn new(reason: FailureReason, message: impl Into<String>, state: State) -> Self {
        Self {
            reason,
            message: message.into(),
            short_lines: Vec::new(),
            unavailable_product_ids: Vec::new(),
            payment_failure_reason: 0,
            failed_state: state,
        }
    }
}

/// How the shopper pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentMethod {
    /// A card: authorized, then captured at once.
    Card,
    /// Cash on delivery: authorized (agreed) now, captured when the rider collects.
    CashOnDelivery,
}

/// Amounts in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of the line totals.
    pub subtotal: i64,
    /// Delivery fee.
    pub delivery_fee: i64,
    /// Tax.
    pub tax: i64,
}

impl Totals {
    /// What the checkout charges.
    pub fn total(&self) -> i64 {
        self.subtotal + self.delivery_fee + self.tax
    }
}

/// One product checked out, as the cart priced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Catalog product id.
    pub product_id: String,
    /// Name at snapshot time.
    pub display_name: String,
    /// Main image.
    pub image_url: String,
    /// Vendor id.
    pub vendor_id: String,
    /// `mandi.common.v1.UnitOfSale` number.
    pub unit_of_sale: i32,
    /// Quantity in the product's quantity unit.
    pub quantity: i64,
    /// Price of one unit of sale, minor units.
    pub unit_price: i64,
    /// Line total, minor units.
    pub line_total: i64,
}

/// Where to deliver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Street line.
    pub line1: String,
    /// Second line.
    pub line2: String,
    /// City.
    pub city: String,
    /// Region or state.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO country code.
    pub country_code: String,
    /// Latitude and longitude in millionths of a degree, when known.
    pub geo: Option<(i64, i64)>,
    /// Who receives it.
    pub recipient_name: String,
    /// Their phone (E.164).
    pub recipient_phone: String,
    /// For the rider.
    pub instructions: String,
}

/// The delivery a checkout books: the slot's window as shipping listed it, and what the
/// slot hold is asked to carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Start of the slot (UTC).
    pub slot_start: DateTime<Utc>,
    /// End of the slot (UTC).
    pub slot_end: DateTime<Utc>,
    /// The delivery zone of the address.
    pub zone_id: String,
    /// Weight of the basket in grams.
    pub weight_grams: i64,
    /// Whether the order needs the cold chain: a chilled or frozen product, or (once stock
    /// is reserved) a batch that must stay cold.
    pub cold_chain: bool,
}

/// Grams assumed for one unit of a count-priced product whose catalog entry gives no
/// weight: enough that a basket of them is not quoted as weightless.
pub const DEFAULT_UNIT_GRAMS: i64 = 500;

/// What one line weighs in grams: weight-priced quantities are grams already; counted
/// ones are units of `unit_weight_grams` each ([`DEFAULT_UNIT_GRAMS`] when unknown).
/// `unit_of_sale` is the `mandi.common.v1.UnitOfSale` number (1 KILOGRAM, 2 HUNDRED_GRAMS).
pub fn line_grams(unit_of_sale: i32, quantity: i64, unit_weight_grams: i64) -> i64 {
    match unit_of_sale {
        1 | 2 => quantity.max(0),
        _ => {
            let unit = if unit_weight_grams > 0 {
                unit_weight_grams
            } else {
                DEFAULT_UNIT_GRAMS
            };
            quantity.max(0).saturating_mul(unit)
        }
    }
}

/// One state entered, for the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The state entered (or kept, for notes about retries).
    pub state: State,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Detail; may be empty.
    pub note: String,
}

/// A step that was started and whose outcome is not recorded yet: after a crash, the
/// recovery knows the call may have been made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Running {
    /// The step.
    pub step: Step,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
}

/// A checkout saga as stored after every step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saga {
    /// The checkout id: the StartCheckout request_id.
    pub id: Uuid,
    /// The shopper.
    pub user_id: Uuid,
    /// The cart checked out.
    pub cart_id: String,
    /// A fingerprint of the request that started it, so the same id with another request
    /// is refused.
    pub request_fingerprint: String,
    /// Where to deliver.
    pub destination: Destination,
    /// The delivery slot: the shopper's choice, or the earliest open one when they made
    /// none.
    pub slot_id: String,
    /// The slot's window and what is carried; sagas stored before shipping existed have
    /// none.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// How the shopper pays.
    pub method: PaymentMethod,
    /// Last four digits of the card; empty for cash on delivery.
    pub card_last4: String,
    /// The lines as priced at start.
    pub lines: Vec<Line>,
    /// What it charges.
    pub totals: Totals,
    /// Where it is.
    pub state: State,
    /// Steps done, in order.
    pub done: Vec<Step>,
    /// Steps whose call was made at least once (recorded before the first call).
    pub started: Vec<Step>,
    /// The step started and not yet recorded as done or failed.
    pub running: Option<Running>,
    /// Compensations done (named by the forward step they undo).
    pub undone: Vec<Step>,
    /// The order, once created.
    pub order_id: Option<Uuid>,
    /// The order's status as last seen (`mandi.order.v1.OrderStatus` number).
    pub order_status: i32,
    /// The payment, once authorization answered.
    pub payment_id: Option<String>,
    /// The payment's status as last seen (`mandi.payment.v1.PaymentStatus` number).
    pub payment_status: i32,
    /// Why it failed.
    pub failure: Option<Failure>,
    /// Every state entered, oldest first.
    pub timeline: Vec<Entry>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// Bumped by every stored change; the store refuses a change made from an old version.
    pub version: i64,
}

/// What a checkout was asked to do, fixed when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The checkout id.
    pub id: Uuid,
    /// The shopper.
    pub user_id: Uuid,
    /// The cart.
    pub cart_id: String,
    /// Fingerprint of the StartCheckout request.
    pub request_fingerprint: String,
    /// Where to deliver.
    pub destination: Destination,
    /// The delivery slot.
    pub slot_id: String,
    /// The slot's window and what is carried.
    pub delivery: Option<Delivery>,
    /// How the shopper pays.
    pub method: PaymentMethod,
    /// Last four digits of the card; empty for cash on delivery.
    pub card_last4: String,
    /// The lines as priced.
    pub lines: Vec<Line>,
    /// What it charges.
    pub totals: Totals,
}

impl Saga {
    /// A new saga for `request`, PENDING since `at`, nothing done yet.
    pub fn pending(request: Request, at: DateTime<Utc>) -> Self {
        let Request {
            id,
            user_id,
            cart_id,
            request_fingerprint,
            destination,
            slot_id,
            delivery,
            method,
            card_last4,
            lines,
            totals,
        } = request;
        let mut saga = Self {
            id,
            user_id,
            cart_id,
            request_fingerprint,
            destination,
            slot_id,
            delivery,
            method,
            card_last4,
            lines,
            totals,
            state: State::Pending,
            done: Vec::new(),
            started: Vec::new(),
            running: None,
            undone: Vec::new(),
            order_id: None,
            order_status: 0,
            payment_id: None,
            payment_status: 0,
            failure: None,
            timeline: Vec::new(),
            created_at: at,
            updated_at: at,
            completed_at: None,
            version: 0,
        };
        saga.enter(State::Pending, "cart priced", at);
        saga
    }

    /// Whether `step` is done.
    pub fn has_done(&self, step: Step) -> bool {
        self.done.contains(&step)
    }

    /// Whether `step` is undone.
    pub fn has_undone(&self, step: Step) -> bool {
        self.undone.contains(&step)
    }

    /// Enters `state` with `note`, at `now`.
    pub fn enter(&mut self, state: State, note: impl Into<String>, now: DateTime<Utc>) {
        self.state = state;
        self.timeline.push(Entry {
            state,
            at: now,
            note: note.into(),
        });
        if state.is_terminal() {
            self.completed_at = Some(now);
        }
    }

    /// Adds a note about the current state (a retry, a skipped step).
    pub fn note(&mut self, note: impl Into<String>, now: DateTime<Utc>) {
        self.timeline.push(Entry {
            state: self.state,
            at: now,
            note: note.into(),
        });
    }

    /// The next forward step, or `None` when every step is done. Capture is skipped for
    /// cash on delivery (the rider collects).
    pub fn next_step(&self) -> Option<Step> {
        Step::ALL.into_iter().find(|step| {
            let skipped = *step == Step::Capture && self.method == PaymentMethod::CashOnDelivery;
            !(self.has_done(*step) || skipped)
        })
    }

    /// Records `step` as done, entering the state it leads to.
    pub fn finish(&mut self, step: Step, note: impl Into<String>, now: DateTime<Utc>) {
        self.running = None;
        if !self.has_done(step) {
            self.done.push(step);
        }
        let note = note.into();
        match step.enters() {
            // Cash on delivery is confirmed once authorized: there is no capture.
            None if step == Step::Authorize && self.method == PaymentMethod::CashOnDelivery => {
                self.enter(State::PaymentConfirmed, note, now);
            }
            Some(state) => self.enter(state, note, now),
            None if !note.is_empty() => self.note(note, now),
            None => {}
        }
    }

    /// Starts compensating for `failure`.
    pub fn fail(&mut self, failure: Failure, now: DateTime<Utc>) {
        self.running = None;
        let message = failure.message.clone();
        self.failure = Some(failure);
        self.enter(State::Compensating, message, now);
    }

    /// The compensations still to run, latest step first: refund or void the payment,
    /// release the slot, release the stock, cancel the order. Steps never done need no
    /// undoing; a hold that may exist (its step started) is released all the same.
    pub fn to_undo(&self) -> Vec<Step> {
        let mut undo = Vec::new();
        let started = |step: Step| self.has_done(step) || self.started.contains(&step);
        if self.payment_id.is_some() || started(Step::Authorize) {
            undo.push(Step::Authorize);
        }
        if started(Step::ReserveSlot) {
            undo.push(Step::ReserveSlot);
        }
        if started(Step::Reserve) {
            undo.push(Step::Reserve);
        }
        // Started without an order id: the order may exist with its answer lost.
        if self.order_id.is_some() || started(Step::CreateOrder) {
            undo.push(Step::CreateOrder);
        }
        undo.retain(|step| !self.has_undone(*step));
        undo
    }
}

/// A checkout listing's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckoutFilter {
    /// Only this user's.
    pub user_id: Option<Uuid>,
    /// Only in these states; empty means any.
    pub states: Vec<State>,
    /// Only last changed before this instant.
    pub updated_before: Option<DateTime<Utc>>,
}

/// A deterministic UUID for `purpose` of checkout `id`, for downstream keys that must be
/// UUIDs: the same checkout and purpose always give the same key, so a retried call after
/// a crash is applied once.
pub fn derived_key(id: Uuid, purpose: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(id.as_bytes())
        .chain_update(purpose.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests;
