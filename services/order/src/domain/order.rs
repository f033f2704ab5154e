//! What an order holds: items priced as they were when ordered, the destination and slot,
//! totals recomputed from the items, and the status history. [`NewOrder::place`] checks a
//! request's rules and builds the order in CREATED.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MAX_ITEMS, OrderError, OrderStatus, Violation};

/// An amount in integer minor units of a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// ISO 4217 code, upper case.
    pub currency: String,
    /// Amount in minor units.
    pub minor: i64,
}

impl Money {
    /// `minor` units of `currency`.
    pub fn new(currency: impl Into<String>, minor: i64) -> Self {
        Self {
            currency: currency.into(),
            minor,
        }
    }
}

/// How a product is priced and counted (the contract's UnitOfSale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Per kilogram; quantities in grams.
    Kilogram,
    /// Per 100 g; quantities in grams.
    HundredGrams,
    /// Per piece.
    Piece,
    /// Per bunch.
    Bunch,
    /// Per dozen.
    Dozen,
}

impl Unit {
    /// What a quantity is divided by before multiplying by the unit price.
    pub fn divisor(self) -> i128 {
        match self {
            Unit::Kilogram => 1000,
            Unit::HundredGrams => 100,
            Unit::Piece | Unit::Bunch | Unit::Dozen => 1,
        }
    }

    /// `unit_price * quantity / divisor`, rounded half up; `None` on overflow.
    pub fn line_total(self, unit_price_minor: i64, quantity: i64) -> Option<i64> {
        let divisor = self.divisor();
        let product = i128::from(unit_price_minor) * i128::from(quantity);
        let rounded = (product + divisor / 2) / divisor;
        i64::try_from(rounded).ok()
    }
}

/// How the customer pays, by the payment contract's enum name
/// (`PAYMENT_METHOD_CARD`), so new payment methods need no change here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod(pub String);

/// One product in an order, as it was when ordered, with its computed line total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    /// The product, as requested.
    #[serde(flatten)]
    pub item: Item,
    /// unit_price × quantity per the unit's rule, rounded half up.
    pub line_total: Money,
}

/// Where and to whom an order goes (the contract's DeliveryDestination).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Street line.
    pub line1: String,
    /// Second line; may be empty.
    pub line2: String,
    /// City.
    pub city: String,
    /// Region; may be empty.
    pub region: String,
    /// Postal code; may be empty.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country_code: String,
    /// Micro-degrees latitude and longitude, when known.
    pub geo: Option<(i64, i64)>,
    /// Receiving person.
    pub recipient_name: String,
    /// E.164 phone.
    pub recipient_phone: String,
    /// Notes for the rider.
    pub instructions: String,
}

/// The booked delivery slot (a reference to shipping's slot and its window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverySlot {
    /// Shipping's slot id.
    pub slot_id: String,
    /// Window start.
    pub start: DateTime<Utc>,
    /// Window end.
    pub end: DateTime<Utc>,
}

/// What an order costs; every amount in the order's one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of line totals.
    pub subtotal: Money,
    /// Delivery fee.
    pub delivery_fee: Money,
    /// Tax.
    pub tax: Money,
    /// Discount taken off.
    pub discount: Money,
    /// subtotal + delivery_fee + tax - discount.
    pub total: Money,
}

/// One entry of the status history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Status before; `None` for the creation entry.
    pub from: Option<OrderStatus>,
    /// Status after.
    pub to: OrderStatus,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// A user id or `service:{name}`.
    pub actor: String,
    /// Why; may be empty.
    pub reason: String,
}

/// A placed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// UUIDv7.
    pub id: Uuid,
    /// Ordering user.
    pub customer_id: Uuid,
    /// Creating checkout.
    pub checkout_id: String,
    /// Items in cart order.
    pub items: Vec<OrderItem>,
    /// Vendors of the items, each once, in item order.
    pub vendor_ids: Vec<Uuid>,
    /// Address snapshot.
    pub destination: Destination,
    /// Booked slot, if any.
    pub slot: Option<DeliverySlot>,
    /// Totals.
    pub totals: Totals,
    /// How the customer pays.
    pub payment_method: PaymentMethod,
    /// Settling payment; empty until known.
    pub payment_id: String,
    /// Delivering shipment; empty until known.
    pub shipment_id: String,
    /// Current status.
    pub status: OrderStatus,
    /// Why it was cancelled; empty unless cancelled.
    pub cancel_reason: String,
    /// Every change, oldest first, starting with creation.
    pub history: Vec<StatusChange>,
    /// 1 at creation, bumped by every change.
    pub version: i64,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
    /// Last change (UTC).
    pub updated_at: DateTime<Utc>,
}

/// One product of an order: what was ordered, at which price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Catalog product.
    pub product_id: Uuid,
    /// Name when ordered.
    pub name: String,
    /// Image link; may be empty.
    pub image_url: String,
    /// Selling vendor.
    pub vendor_id: Uuid,
    /// Unit of sale.
    pub unit: Unit,
    /// Quantity, > 0.
    pub quantity: i64,
    /// Price of one unit of sale.
    pub unit_price: Money,
}

/// A parsed CreateOrder request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Ordering user.
    pub customer_id: Uuid,
    /// Creating checkout.
    pub checkout_id: String,
    /// Items.
    pub items: Vec<Item>,
    /// Destination.
    pub destination: Destination,
    /// Slot, if booked.
    pub slot: Option<DeliverySlot>,
    /// Delivery fee.
    pub delivery_fee: Money,
    /// Tax.
    pub tax: Money,
    /// Discount (zero when none).
    pub discount: Money,
    /// What checkout computed.
    pub expected_total: Money,
    /// How the customer pays.
    pub payment_method: PaymentMethod,
}

impl NewOrder {
    /// Checks the order's rules and builds it in CREATED with id `id`, created by `actor`
    /// at `at`. Every broken rule is reported, each naming its field.
    pub fn place(self, id: Uuid, actor: &str, at: DateTime<Utc>) -> Result<Order, OrderError> {
        let mut violations = Vec::new();
        let currency = self.expected_total.currency.clone();
        if self.items.is_empty() || self.items.len() > MAX_ITEMS {
            violations.push(Violation::new(
                "items",
                format!("must hold 1 to {MAX_ITEMS} items"),
            ));
        }
        let mut items = Vec::with_capacity(self.items.len());
        let mut vendor_ids: Vec<Uuid> = Vec::new();
        let mut subtotal: i64 = 0;
        for (i, item) in self.items.into_iter().enumerate() {
            if items
                .iter()
                .any(|seen: &OrderItem| seen.item.product_id == item.product_id)
            {
                violations.push(Violation::new(
                    format!("items[{i}].product_id"),
                    "appears more than once",
                ));
            }
            if item.quantity <= 0 {
                violations.push(Violation::new(
                    format!("items[{i}].quantity"),
                    "must be greater than 0",
                ));
            }
            if item.unit_price.minor < 0 {
                violations.push(Violation::new(
                    format!("items[{i}].unit_price.amount_minor"),
                    "must not be negative",
                ));
            }
            if item.unit_price.currency != currency {
                violations.push(Violation::new(
                    format!("items[{i}].unit_price.currency_code"),
                    format!("must be {currency}, the currency of expected_total"),
                ));
            }
            let Some(line) = item.unit.line_total(item.unit_price.minor, item.quantity) else {
                violations.push(Violation::new(
                    format!("items[{i}].quantity"),
                    "line total is out of range",
                ));
                continue;
            };
            subtotal = subtotal.saturating_add(line);
            if !vendor_ids.contains(&item.vendor_id) {
                vendor_ids.push(item.vendor_id);
            }
            items.push(OrderItem {
                line_total: Money::new(currency.clone(), line),
                item,
            });
        }
        for (field, money) in [
            ("delivery_fee", &self.delivery_fee),
            ("tax", &self.tax),
            ("discount", &self.discount),
        ] {
            if money.minor < 0 {
                violations.push(Violation::new(
                    format!("{field}.amount_minor"),
                    "must not be negative",
                ));
            }
            if money.currency != currency {
                violations.push(Violation::new(
                    format!("{field}.currency_code"),
                    format!("must be {currency}, the currency of expected_total"),
                ));
            }
        }
        let charged = subtotal
            .saturating_add(self.delivery_fee.minor)
            .saturating_add(self.tax.minor);
        if self.discount.minor > charged {
            violations.push(Violation::new(
                "discount.amount_minor",
                "must not exceed subtotal + delivery_fee + tax",
            ));
        }
        let total = charged.saturating_sub(self.discount.minor);
        if violations.is_empty() && total != self.expected_total.minor {
            violations.push(Violation::new(
                "expected_total",
                format!(
                    "is {} but the order totals {total} {currency} (subtotal {subtotal} + \
                     delivery_fee {} + tax {} - discount {})",
                    self.expected_total.minor,
                    self.delivery_fee.minor,
                    self.tax.minor,
                    self.discount.minor
                ),
            ));
        }
        if let Some(slot) = &self.slot
            && slot.end <= slot.start
        {
            violations.push(Violation::new(
                "delivery_slot.end_time",
                "must be after start_time",
            ));
        }
        if !violations.is_empty() {
            return Err(OrderError::Invalid(violations));
        }
        Ok(Order {
            id,
            customer_id: self.customer_id,
            checkout_id: self.checkout_id,
            items,
            vendor_ids,
            destination: self.destination,
            slot: self.slot,
            totals: Totals {
                subtotal: Money::new(currency.clone(), subtotal),
                delivery_fee: self.delivery_fee,
                tax: self.tax,
                discount: self.discount,
                total: Money::new(currency, total),
            },
            payment_method: self.payment_method,
            payment_id: String::new(),
            shipment_id: String::new(),
            status: OrderStatus::Created,
            cancel_reason: String::new(),
            history: vec![StatusChange {
                from: None,
                to: OrderStatus::Created,
                at,
                actor: actor.to_owned(),
                reason: String::new(),
            }],
            version: 1,
            created_at: at,
            updated_at: at,
        })
    }
}

/// Which orders a listing returns; filters combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderFilter {
    /// Only this customer's.
    pub customer_id: Option<Uuid>,
    /// Only orders holding this vendor's products.
    pub vendor_id: Option<Uuid>,
    /// Only these statuses; empty means any.
    pub statuses: Vec<OrderStatus>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
}

impl OrderFilter {
    /// Whether `order` passes the filter.
    pub fn matches(&self, order: &Order) -> bool {
        self.customer_id.is_none_or(|c| order.customer_id == c)
            && self.vendor_id.is_none_or(|v| order.vendor_ids.contains(&v))
            && (self.statuses.is_empty() || self.statuses.contains(&order.status))
            && self.created_from.is_none_or(|t| order.created_at >= t)
            && self.created_before.is_none_or(|t| order.created_at < t)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn inr(minor: i64) -> Money {
        Money::new("INR", minor)
    }

    fn new_order(expected_total: i64) -> NewOrder {
        NewOrder {
            customer_id: Uuid::now_v7(),
            checkout_id: "co-1".into(),
            items: vec![
                Item {
                    product_id: Uuid::now_v7(),
                    name: "Alphonso mango".into(),
                    image_url: String::new(),
                    vendor_id: Uuid::now_v7(),
                    unit: Unit::Kilogram,
                    quantity: 1500,
                    unit_price: inr(33_333),
                },
                Item {
                    product_id: Uuid::now_v7(),
                    name: "Coriander".into(),
                    image_url: String::new(),
                    vendor_id: Uuid::now_v7(),
                    unit: Unit::Bunch,
                    quantity: 2,
                    unit_price: inr(1_000),
                },
            ],
            destination: Destination::default(),
            slot: None,
            delivery_fee: inr(4_000),
            tax: inr(500),
            discount: inr(1_000),
            expected_total: inr(expected_total),
            payment_method: PaymentMethod("PAYMENT_METHOD_CARD".into()),
        }
    }

    #[test]
    fn totals_are_recomputed_with_half_up_rounding_and_the_discount_taken_off() {
        // 333.33/kg × 1.5 kg = 499.995 → 500.00; + 2 × 10.00 = 520.00 subtotal.
        let order = new_order(52_000 + 4_000 + 500 - 1_000)
            .place(Uuid::now_v7(), "service:checkout", Utc::now())
            .unwrap();
        assert_eq!(order.items[0].line_total, inr(50_000));
        assert_eq!(order.totals.subtotal, inr(52_000));
        assert_eq!(order.totals.total, inr(55_500));
        assert_eq!(order.status, OrderStatus::Created);
        assert_eq!(order.vendor_ids.len(), 2);
        assert_eq!(order.history.len(), 1);
    }

    #[test]
    fn a_total_other_than_the_computed_one_names_expected_total() {
        let err = new_order(1)
            .place(Uuid::now_v7(), "a", Utc::now())
            .unwrap_err();
        let OrderError::Invalid(violations) = err else {
            panic!("expected Invalid");
        };
        assert_eq!(violations[0].field, "expected_total");
    }

    #[test]
    fn every_broken_rule_is_reported_with_its_field() {
        let mut order = new_order(55_500);
        order.items[1].quantity = 0;
        order.items[1].product_id = order.items[0].product_id;
        order.tax = Money::new("EUR", -1);
        let OrderError::Invalid(violations) =
            order.place(Uuid::now_v7(), "a", Utc::now()).unwrap_err()
        else {
            panic!("expected Invalid");
        };
        let fields: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items[1].product_id",
                "items[1].quantity",
                "tax.amount_minor",
                "tax.currency_code"
            ]
        );
    }
}
