//! Proto ⇄ domain: StartCheckoutRequest parsed once at the edge (every bad field named),
//! and a saga shown as a `Checkout`.

use mandi_sdk::proto::mandi::checkout::v1 as pb;
use mandi_sdk::proto::mandi::common::v1::Money;
use mandi_sdk::proto::mandi::inventory::v1::ShortLine;
use mandi_sdk::proto::mandi::payment::v1::PaymentMethod as PbMethod;
use uuid::Uuid;

use crate::domain::{Destination, Failure, FailureReason, PaymentMethod, Saga, State};
use crate::peers::destination_to_proto;
use crate::saga::{Card, DestinationChoice, NewCheckout};

/// Longest ids and references accepted.
const MAX_REF_CHARS: usize = 100;

/// Parses a StartCheckout request, or lists every bad field.
pub fn new_checkout(
    request: pb::StartCheckoutRequest,
) -> Result<NewCheckout, Vec<(String, String)>> {
    let mut bad: Vec<(String, String)> = Vec::new();
    let mut flag = |field: &str, why: &str| bad.push((field.to_owned(), why.to_owned()));
    let id = match Uuid::parse_str(&request.request_id) {
        Ok(id) if !id.is_nil() => Some(id),
        _ if request.request_id.is_empty() => {
            flag("request_id", "is required");
            None
        }
        _ => {
            flag("request_id", "must be a UUID");
            None
        }
    };
    if request.cart_id.chars().count() > MAX_REF_CHARS {
        flag("cart_id", "is too long");
    }
    if request.delivery_slot_id.chars().count() > MAX_REF_CHARS {
        flag("delivery_slot_id", "is too long");
    }
    let destination = match &request.destination {
        None => {
            flag(
                "destination",
                "address_id or inline_destination is required",
            );
            None
        }
        Some(pb::start_checkout_request::Destination::AddressId(id)) => {
            if id.is_empty() {
                flag("address_id", "must not be empty");
            }
            Some(DestinationChoice::Saved(id.clone()))
        }
        Some(pb::start_checkout_request::Destination::InlineDestination(d)) => {
            let address = d.address.clone().unwrap_or_default();
            for (value, field) in [
                (&address.line1, "inline_destination.address.line1"),
                (&address.city, "inline_destination.address.city"),
                (
                    &address.postal_code,
                    "inline_destination.address.postal_code",
                ),
                (
                    &address.country_code,
                    "inline_destination.address.country_code",
                ),
                (&d.recipient_name, "inline_destination.recipient_name"),
                (&d.recipient_phone, "inline_destination.recipient_phone"),
            ] {
                if value.trim().is_empty() {
                    flag(field, "is required");
                }
            }
            Some(DestinationChoice::Inline(Box::new(Destination {
                line1: address.line1,
                line2: address.line2,
                city: address.city,
                region: address.region,
                postal_code: address.postal_code,
                country_code: address.country_code,
                geo: address.geo.map(|g| (g.latitude_e6, g.longitude_e6)),
                recipient_name: d.recipient_name.clone(),
                recipient_phone: d.recipient_phone.clone(),
                instructions: d.delivery_instructions.clone(),
            })))
        }
    };
    let method = match PbMethod::try_from(request.payment_method) {
        Ok(PbMethod::Card) => Some(PaymentMethod::Card),
        Ok(PbMethod::CashOnDelivery) => Some(PaymentMethod::CashOnDelivery),
        _ => {
            flag("payment_method", "must be CARD or CASH_ON_DELIVERY");
            None
        }
    };
    let card = match (method, &request.card) {
        (Some(PaymentMethod::Card), None) => {
            flag("card", "is required for CARD");
            None
        }
        (Some(PaymentMethod::Card), Some(card)) => {
            if card.token.is_empty() {
                flag("card.token", "is required");
            }
            Some(Card {
                token: card.token.clone(),
                exp_month: card.exp_month,
                exp_year: card.exp_year,
            })
        }
        (Some(PaymentMethod::CashOnDelivery), Some(_)) => {
            flag("card", "must be unset for CASH_ON_DELIVERY");
            None
        }
        _ => None,
    };
    let expected_total = match &request.expected_total {
        Some(m) if m.currency_code.len() != 3 => {
            flag("expected_total.currency_code", "must be an ISO 4217 code");
            None
        }
        Some(m) if m.amount_minor < 0 => {
            flag("expected_total.amount_minor", "must not be negative");
            None
        }
        Some(m) => Some((m.currency_code.clone(), m.amount_minor)),
        None => None,
    };
    if !bad.is_empty() {
        return Err(bad);
    }
    let (Some(id), Some(destination), Some(method)) = (id, destination, method) else {
        return Err(vec![("request_id".into(), "is invalid".into())]);
    };
    let fingerprint = mandi_runtime::paging::fingerprint(&(
        &request.cart_id,
        format!("{destination:?}"),
        &request.delivery_slot_id,
        request.payment_method,
        card.as_ref().map(|c| {
            let last4: String = c.token.chars().rev().take(4).collect();
            (last4, c.exp_month, c.exp_year, c.token.len())
        }),
        &expected_total,
    ));
    Ok(NewCheckout {
        id,
        cart_id: request.cart_id,
        destination,
        slot_id: request.delivery_slot_id,
        method,
        card,
        expected_total,
        fingerprint,
    })
}

/// The proto state of `state`.
pub fn state_to_proto(state: State) -> pb::CheckoutState {
    match state {
        State::Pending => pb::CheckoutState::Pending,
        State::OrderCreated => pb::CheckoutState::OrderCreated,
        State::InventoryReserved => pb::CheckoutState::InventoryReserved,
        State::SlotReserved => pb::CheckoutState::SlotReserved,
        State::PaymentConfirmed => pb::CheckoutState::PaymentConfirmed,
        State::Completed => pb::CheckoutState::Completed,
        State::Compensating => pb::CheckoutState::Compensating,
        State::Failed => pb::CheckoutState::Failed,
    }
}

/// The domain state of a proto one; `None` for UNSPECIFIED and unknown ones.
pub fn state_from_proto(state: i32) -> Option<State> {
    Some(match pb::CheckoutState::try_from(state).ok()? {
        pb::CheckoutState::Pending => State::Pending,
        pb::CheckoutState::OrderCreated => State::OrderCreated,
        pb::CheckoutState::InventoryReserved => State::InventoryReserved,
        pb::CheckoutState::SlotReserved => State::SlotReserved,
        pb::CheckoutState::PaymentConfirmed => State::PaymentConfirmed,
        pb::CheckoutState::Completed => State::Completed,
        pb::CheckoutState::Compensating => State::Compensating,
        pb::CheckoutState::Failed => State::Failed,
        pb::CheckoutState::Unspecified => return None,
    })
}

/// The proto reason of `reason`.
pub fn reason_to_proto(reason: FailureReason) -> pb::FailureReason {
    match reason {
        FailureReason::CartEmpty => pb::FailureReason::CartEmpty,
        FailureReason::ProductUnavailable => pb::FailureReason::ProductUnavailable,
        FailureReason::PriceChanged => pb::FailureReason::PriceChanged,
        FailureReason::OutOfStock => pb::FailureReason::OutOfStock,
        FailureReason::SlotUnavailable => pb::FailureReason::SlotUnavailable,
        FailureReason::PaymentDeclined => pb::FailureReason::PaymentDeclined,
        FailureReason::PaymentFailed => pb::FailureReason::PaymentFailed,
        FailureReason::ServiceUnavailable => pb::FailureReason::ServiceUnavailable,
        FailureReason::Internal => pb::FailureReason::Internal,
    }
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn failure_to_proto(f: &Failure) -> pb::CheckoutFailure {
    pb::CheckoutFailure {
        reason: reason_to_proto(f.reason) as i32,
        message: f.message.clone(),
        short_lines: f
            .short_lines
            .iter()
            .map(|s| ShortLine {
                product_id: s.product_id.clone(),
                requested_quantity: s.requested,
                available_quantity: s.available,
            })
            .collect(),
        unavailable_product_ids: f.unavailable_product_ids.clone(),
        payment_failure_reason: f.payment_failure_reason,
        failed_state: state_to_proto(f.failed_state) as i32,
    }
}

/// `saga` as the contract shows it.
pub fn checkout_to_proto(saga: &Saga) -> pb::Checkout {
    let money = |amount: i64| {
        Some(Money {
            currency_code: saga.totals.currency.clone(),
            amount_minor: amount,
        })
    };
    pb::Checkout {
        name: format!("checkouts/{}", saga.id),
        id: saga.id.to_string(),
        user_id: saga.user_id.to_string(),
        cart_id: saga.cart_id.clone(),
        destination: Some(destination_to_proto(&saga.destination)),
        delivery_slot_id: saga.slot_id.clone(),
        payment_method: match saga.method {
            PaymentMethod::Card => PbMethod::Card,
            PaymentMethod::CashOnDelivery => PbMethod::CashOnDelivery,
        } as i32,
        card_last4: saga.card_last4.clone(),
        totals: Some(pb::CheckoutTotals {
            subtotal: money(saga.totals.subtotal),
            delivery_fee: money(saga.totals.delivery_fee),
            tax: money(saga.totals.tax),
            total: money(saga.totals.total()),
        }),
        state: state_to_proto(saga.state) as i32,
        order_id: saga.order_id.map(|id| id.to_string()).unwrap_or_default(),
        payment_id: saga.payment_id.clone().unwrap_or_default(),
        shipment_id: String::new(),
        failure: saga.failure.as_ref().map(failure_to_proto),
        steps: saga
            .timeline
            .iter()
            .map(|e| pb::CheckoutStep {
                state: state_to_proto(e.state) as i32,
                enter_time: Some(timestamp(e.at)),
                note: e.note.clone(),
            })
            .collect(),
        create_time: Some(timestamp(saga.created_at)),
        update_time: Some(timestamp(saga.updated_at)),
        complete_time: saga.completed_at.map(timestamp),
        order_status: saga.order_status,
        payment_status: saga.payment_status,
    }
}
