//! Proto ⇄ domain: CreateOrder requests parsed once at the edge (every bad field named),
//! orders and statuses back to the contract's messages.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::common::v1 as common;
use mandi_sdk::proto::mandi::order::v1 as pb;
use mandi_sdk::proto::mandi::payment::v1::PaymentMethod as PbPaymentMethod;
use uuid::Uuid;

use crate::domain::{
    DeliverySlot, Destination, Item, Money, NewOrder, Order, OrderItem, OrderStatus, PaymentMethod,
    StatusChange, Unit, Violation,
};

/// Longest id of another service's resource (checkout, slot, payment, shipment) kept.
pub(crate) const MAX_REF_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 200;
const MAX_URL_CHARS: usize = 2048;
const MAX_INSTRUCTIONS_CHARS: usize = 500;
const MAX_RECIPIENT_CHARS: usize = 100;

pub(crate) fn status_to_proto(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Created => pb::OrderStatus::Created,
        OrderStatus::PaymentPending => pb::OrderStatus::PaymentPending,
        OrderStatus::Paid => pb::OrderStatus::Paid,
        OrderStatus::Packed => pb::OrderStatus::Packed,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::Delivered => pb::OrderStatus::Delivered,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        OrderStatus::Refunded => pb::OrderStatus::Refunded,
    }
}

/// The status a request field holds; `None` for UNSPECIFIED.
pub(super) fn status_from_proto(value: i32, field: &str) -> Result<Option<OrderStatus>, Violation> {
    let status = pb::OrderStatus::try_from(value)
        .map_err(|_| Violation::new(field, format!("{value} is not an OrderStatus")))?;
    Ok(match status {
        pb::OrderStatus::Unspecified => None,
        pb::OrderStatus::Created => Some(OrderStatus::Created),
        pb::OrderStatus::PaymentPending => Some(OrderStatus::PaymentPending),
        pb::OrderStatus::Paid => Some(OrderStatus::Paid),
        pb::OrderStatus::Packed => Some(OrderStatus::Packed),
        pb::OrderStatus::Shipped => Some(OrderStatus::Shipped),
        pb::OrderStatus::Delivered => Some(OrderStatus::Delivered),
        pb::OrderStatus::Cancelled => Some(OrderStatus::Cancelled),
        pb::OrderStatus::Refunded => Some(OrderStatus::Refunded),
    })
}

pub(crate) fn money_to_proto(money: &Money) -> common::Money {
    common::Money {
        currency_code: money.currency.clone(),
        amount_minor: money.minor,
    }
}

pub(crate) fn payment_method_to_proto(method: &PaymentMethod) -> i32 {
    PbPaymentMethod::from_str_name(&method.0).map_or(0, |m| m as i32)
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// An instant from a request field, as whole microseconds.
pub(super) fn from_timestamp(
    value: &prost_types::Timestamp,
    field: &str,
) -> Result<DateTime<Utc>, Violation> {
    DateTime::from_timestamp(
        value.seconds,
        u32::try_from(value.nanos).unwrap_or(u32::MAX),
    )
    .and_then(|at| DateTime::from_timestamp_micros(at.timestamp_micros()))
    .ok_or_else(|| Violation::new(field, "is not a valid timestamp"))
}

/// A UUID from a request field.
pub(super) fn parse_id(value: &str, field: &str) -> Result<Uuid, Violation> {
    if value.is_empty() {
        return Err(Violation::new(field, "is required"));
    }
    Uuid::parse_str(value).map_err(|_| Violation::new(field, "must be a UUID"))
}

/// Collects violations while parsing, so a request hears about every bad field at once.
#[derive(Default)]
pub(super) struct Violations(pub(super) Vec<Violation>);

impl Violations {
    pub(super) fn take<T>(&mut self, result: Result<T, Violation>) -> Option<T> {
        result.map_err(|v| self.0.push(v)).ok()
    }

    pub(super) fn check(&mut self, ok: bool, field: impl Into<String>, description: &str) {
        if !ok {
            self.0.push(Violation::new(field, description));
        }
    }

    pub(super) fn text(&mut self, value: &str, field: &str, required: bool, max: usize) {
        if required && value.trim().is_empty() {
            self.0.push(Violation::new(field, "is required"));
        } else if value.chars().count() > max {
            self.0.push(Violation::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    }
}

fn currency_ok(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

fn money_from(value: Option<&common::Money>, field: &str) -> Result<Money, Violation> {
    let value = value.ok_or_else(|| Violation::new(field, "is required"))?;
    if !currency_ok(&value.currency_code) {
        return Err(Violation::new(
            format!("{field}.currency_code"),
            "must be an ISO 4217 code like INR",
        ));
    }
    Ok(Money::new(value.currency_code.clone(), value.amount_minor))
}

fn unit_from(value: i32, field: &str) -> Result<Unit, Violation> {
    match common::UnitOfSale::try_from(value) {
        Ok(common::UnitOfSale::Kilogram) => Ok(Unit::Kilogram),
        Ok(common::UnitOfSale::HundredGrams) => Ok(Unit::HundredGrams),
        Ok(common::UnitOfSale::Piece) => Ok(Unit::Piece),
        Ok(common::UnitOfSale::Bunch) => Ok(Unit::Bunch),
        Ok(common::UnitOfSale::Dozen) => Ok(Unit::Dozen),
        Ok(common::UnitOfSale::Unspecified) => Err(Violation::new(field, "is required")),
        Err(_) => Err(Violation::new(
            field,
            format!("{value} is not a UnitOfSale"),
        )),
    }
}

fn unit_to_proto(unit: Unit) -> common::UnitOfSale {
    match unit {
        Unit::Kilogram => common::UnitOfSale::Kilogram,
        Unit::HundredGrams => common::UnitOfSale::HundredGrams,
        Unit::Piece => common::UnitOfSale::Piece,
        Unit::Bunch => common::UnitOfSale::Bunch,
        Unit::Dozen => common::UnitOfSale::Dozen,
    }
}

fn phone_ok(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

fn destination_from(
    value: Option<&common::DeliveryDestination>,
    found: &mut Violations,
) -> Destination {
    let Some(value) = value else {
        found.0.push(Violation::new("destination", "is required"));
        return Destination::default();
    };
    let Some(address) = &value.address else {
        found
            .0
            .push(Violation::new("destination.address", "is required"));
        return Destination::default();
    };
    found.text(
        &address.line1,
        "destination.address.line1",
        true,
        MAX_NAME_CHARS,
    );
    found.text(
        &address.line2,
        "destination.address.line2",
        false,
        MAX_NAME_CHARS,
    );
    found.text(
        &address.city,
        "destination.address.city",
        true,
        MAX_RECIPIENT_CHARS,
    );
    found.text(
        &address.region,
        "destination.address.region",
        false,
        MAX_RECIPIENT_CHARS,
    );
    found.text(
        &address.postal_code,
        "destination.address.postal_code",
        false,
        16,
    );
    found.check(
        address.country_code.len() == 2
            && address.country_code.bytes().all(|b| b.is_ascii_uppercase()),
        "destination.address.country_code",
        "must be an ISO 3166-1 alpha-2 code like IN",
    );
    found.text(
        &value.recipient_name,
        "destination.recipient_name",
        true,
        MAX_RECIPIENT_CHARS,
    );
    found.check(
        phone_ok(&value.recipient_phone),
        "destination.recipient_phone",
        "must be an E.164 number like +919812345678",
    );
    found.text(
        &value.delivery_instructions,
        "destination.delivery_instructions",
        false,
        MAX_INSTRUCTIONS_CHARS,
    );
    Destination {
        line1: address.line1.clone(),
        line2: address.line2.clone(),
        city: address.city.clone(),
        region: address.region.clone(),
        postal_code: address.postal_code.clone(),
        country_code: address.country_code.clone(),
        geo: address.geo.map(|g| (g.latitude_e6, g.longitude_e6)),
        recipient_name: value.recipient_name.clone(),
        recipient_phone: value.recipient_phone.clone(),
        instructions: value.delivery_instructions.clone(),
    }
}

fn slot_from(value: Option<&pb::BookedSlot>, found: &mut Violations) -> Option<DeliverySlot> {
    let value = value?;
    found.text(&value.slot_id, "delivery_slot.slot_id", true, MAX_REF_CHARS);
    let start = match &value.start_time {
        Some(t) => found.take(from_timestamp(t, "delivery_slot.start_time")),
        None => found.take(Err(Violation::new(
            "delivery_slot.start_time",
            "is required",
        ))),
    };
    let end = match &value.end_time {
        Some(t) => found.take(from_timestamp(t, "delivery_slot.end_time")),
        None => found.take(Err(Violation::new("delivery_slot.end_time", "is required"))),
    };
    Some(DeliverySlot {
        slot_id: value.slot_id.clone(),
        start: start?,
        end: end?,
    })
}

fn item_from(i: usize, item: &pb::OrderItem, found: &mut Violations) -> Option<Item> {
    let field = |name: &str| format!("items[{i}].{name}");
    let product_id = found.take(parse_id(&item.product_id, &field("product_id")));
    let vendor_id = found.take(parse_id(&item.vendor_id, &field("vendor_id")));
    found.text(
        &item.product_display_name,
        &field("product_display_name"),
        true,
        MAX_NAME_CHARS,
    );
    found.text(&item.image_url, &field("image_url"), false, MAX_URL_CHARS);
    let unit = found.take(unit_from(item.unit_of_sale, &field("unit_of_sale")));
    let unit_price = found.take(money_from(item.unit_price.as_ref(), &field("unit_price")));
    Some(Item {
        product_id: product_id?,
        name: item.product_display_name.clone(),
        image_url: item.image_url.clone(),
        vendor_id: vendor_id?,
        unit: unit?,
        quantity: item.quantity,
        unit_price: unit_price?,
    })
}

/// A CreateOrder request as a [`NewOrder`]; every malformed field is listed.
pub(super) fn new_order(request: &pb::CreateOrderRequest) -> Result<NewOrder, Vec<Violation>> {
    let mut found = Violations::default();
    let customer_id = found.take(parse_id(&request.user_id, "user_id"));
    found.text(&request.checkout_id, "checkout_id", true, MAX_REF_CHARS);
    let items: Vec<Option<Item>> = request
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| item_from(i, item, &mut found))
        .collect();
    let destination = destination_from(request.destination.as_ref(), &mut found);
    let slot = slot_from(request.delivery_slot.as_ref(), &mut found);
    let expected_total = found.take(money_from(
        request.expected_total.as_ref(),
        "expected_total",
    ));
    let currency = expected_total
        .as_ref()
        .map_or_else(String::new, |m| m.currency.clone());
    let mut optional_money = |value: Option<&common::Money>, field: &str| match value {
        None => Some(Money::new(currency.clone(), 0)),
        Some(value) => found.take(money_from(Some(value), field)),
    };
    let delivery_fee = optional_money(request.delivery_fee.as_ref(), "delivery_fee");
    let tax = optional_money(request.tax.as_ref(), "tax");
    let discount = optional_money(request.discount.as_ref(), "discount");
    let payment_method = match PbPaymentMethod::try_from(request.payment_method) {
        Ok(PbPaymentMethod::Unspecified) => {
            found
                .0
                .push(Violation::new("payment_method", "is required"));
            None
        }
        Ok(method) => Some(PaymentMethod(method.as_str_name().to_owned())),
        Err(_) => {
            found
                .0
                .push(Violation::new("payment_method", "is not a PaymentMethod"));
            None
        }
    };
    let parsed = (|| {
        Some(NewOrder {
            customer_id: customer_id?,
            checkout_id: request.checkout_id.clone(),
            items: items.into_iter().collect::<Option<Vec<_>>>()?,
            destination,
            slot,
            delivery_fee: delivery_fee?,
            tax: tax?,
            discount: discount?,
            expected_total: expected_total?,
            payment_method: payment_method?,
        })
    })();
    match parsed {
        Some(order) if found.0.is_empty() => Ok(order),
        _ => Err(found.0),
    }
}

fn item_to_proto(line: &OrderItem) -> pb::OrderItem {
    let item = &line.item;
    pb::OrderItem {
        product_id: item.product_id.to_string(),
        product_display_name: item.name.clone(),
        image_url: item.image_url.clone(),
        vendor_id: item.vendor_id.to_string(),
        unit_of_sale: unit_to_proto(item.unit) as i32,
        quantity: item.quantity,
        unit_price: Some(money_to_proto(&item.unit_price)),
        line_total: Some(money_to_proto(&line.line_total)),
    }
}

fn destination_to_proto(d: &Destination) -> common::DeliveryDestination {
    common::DeliveryDestination {
        address: Some(common::Address {
            line1: d.line1.clone(),
            line2: d.line2.clone(),
            city: d.city.clone(),
            region: d.region.clone(),
            postal_code: d.postal_code.clone(),
            country_code: d.country_code.clone(),
            geo: d.geo.map(|(latitude_e6, longitude_e6)| common::GeoPoint {
                latitude_e6,
                longitude_e6,
            }),
        }),
        recipient_name: d.recipient_name.clone(),
        recipient_phone: d.recipient_phone.clone(),
        delivery_instructions: d.instructions.clone(),
    }
}

fn change_to_proto(change: &StatusChange) -> pb::StatusChange {
    pb::StatusChange {
        from_status: change.from.map_or(0, |s| status_to_proto(s) as i32),
        to_status: status_to_proto(change.to) as i32,
        change_time: Some(timestamp(change.at)),
        actor: change.actor.clone(),
        reason: change.reason.clone(),
    }
}

/// The full order as the contract shows it.
pub(super) fn order_to_proto(order: &Order) -> pb::Order {
    pb::Order {
        name: format!("orders/{}", order.id),
        id: order.id.to_string(),
        user_id: order.customer_id.to_string(),
        checkout_id: order.checkout_id.clone(),
        items: order.items.iter().map(item_to_proto).collect(),
        destination: Some(destination_to_proto(&order.destination)),
        delivery_slot: order.slot.as_ref().map(|slot| pb::BookedSlot {
            slot_id: slot.slot_id.clone(),
            start_time: Some(timestamp(slot.start)),
            end_time: Some(timestamp(slot.end)),
        }),
        totals: Some(pb::OrderTotals {
            subtotal: Some(money_to_proto(&order.totals.subtotal)),
            delivery_fee: Some(money_to_proto(&order.totals.delivery_fee)),
            tax: Some(money_to_proto(&order.totals.tax)),
            total: Some(money_to_proto(&order.totals.total)),
            discount: Some(money_to_proto(&order.totals.discount)),
        }),
        payment_method: payment_method_to_proto(&order.payment_method),
        payment_id: order.payment_id.clone(),
        shipment_id: order.shipment_id.clone(),
        status: status_to_proto(order.status) as i32,
        status_history: order.history.iter().map(change_to_proto).collect(),
        cancel_reason: order.cancel_reason.clone(),
        create_time: Some(timestamp(order.created_at)),
        update_time: Some(timestamp(order.updated_at)),
        vendor_ids: order.vendor_ids.iter().map(Uuid::to_string).collect(),
        version: order.version,
    }
}
