//! Proto ⇄ domain: requests are read once here, at the edge, into checked domain values;
//! payments, refunds and ledger entries go back out as proto messages.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::common::v1 as common;
use mandi_sdk::proto::mandi::payment::v1 as pb;
use uuid::Uuid;

use crate::domain::{
    Account, Card, Direction, FailureReason, FieldViolation, LedgerEntry, Money, Payment,
    PaymentError, PaymentMethod, PaymentStatus, Refund, RefundStatus,
};
use crate::payments::{Authorize, Instrument};

/// A required id.
pub(super) fn parse_id(value: &str, field: &str) -> Result<Uuid, PaymentError> {
    if value.is_empty() {
        return Err(PaymentError::invalid(field, "is required"));
    }
    Uuid::parse_str(value).map_err(|_| PaymentError::invalid(field, "must be a UUID"))
}

/// An optional id filter: empty means none.
pub(super) fn parse_optional_id(value: &str, field: &str) -> Result<Option<Uuid>, PaymentError> {
    if value.is_empty() {
        return Ok(None);
    }
    parse_id(value, field).map(Some)
}

/// An optional amount in `currency`: unset means "all of it"; set must be positive and in
/// the payment currency (checked again against the payment by the domain).
pub(super) fn optional_amount(
    money: Option<common::Money>,
    field: &str,
) -> Result<Option<i64>, PaymentError> {
    let Some(money) = money else {
        return Ok(None);
    };
    if money.amount_minor <= 0 {
        return Err(PaymentError::invalid(
            format!("{field}.amount_minor"),
            "must be positive",
        ));
    }
    Ok(Some(money.amount_minor))
}

fn required_money(money: Option<common::Money>, field: &str) -> Result<Money, FieldViolation> {
    let Some(money) = money else {
        return Err(FieldViolation::new(field, "is required"));
    };
    if money.currency_code.len() != 3
        || !money.currency_code.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(FieldViolation::new(
            format!("{field}.currency_code"),
            "must be an ISO 4217 code like INR",
        ));
    }
    if money.amount_minor <= 0 {
        return Err(FieldViolation::new(
            format!("{field}.amount_minor"),
            "must be positive",
        ));
    }
    Ok(Money::new(money.currency_code, money.amount_minor))
}

/// Reads AuthorizePayment, reporting every bad field; the card's expiry is checked
/// against `now`.
pub(super) fn authorize_request(
    request: pb::AuthorizePaymentRequest,
    now: DateTime<Utc>,
) -> Result<Authorize, PaymentError> {
    let mut violations = Vec::new();
    let mut id = |value: &str, field: &str| match parse_id(value, field) {
        Ok(id) => Some(id),
        Err(PaymentError::Invalid(mut v)) => {
            violations.append(&mut v);
            None
        }
        Err(_) => None,
    };
    let order_id = id(&request.order_id, "order_id");
    let user_id = id(&request.user_id, "user_id");
    let amount = required_money(request.amount, "amount")
        .map_err(|v| violations.push(v))
        .ok();
    let instrument = match (pb::PaymentMethod::try_from(request.method), request.card) {
        (Ok(pb::PaymentMethod::Card), Some(card)) => {
            match Card::parse(&card.token, card.exp_month, card.exp_year, now) {
                Ok(card) => Some(Instrument::Card(card)),
                Err(mut v) => {
                    violations.append(&mut v);
                    None
                }
            }
        }
        (Ok(pb::PaymentMethod::Card), None) => {
            violations.push(FieldViolation::new(
                "card",
                "is required for a card payment",
            ));
            None
        }
        (Ok(pb::PaymentMethod::CashOnDelivery), None) => Some(Instrument::CashOnDelivery),
        (Ok(pb::PaymentMethod::CashOnDelivery), Some(_)) => {
            violations.push(FieldViolation::new(
                "card",
                "must be unset for cash on delivery",
            ));
            None
        }
        _ => {
            violations.push(FieldViolation::new(
                "method",
                "must be PAYMENT_METHOD_CARD or PAYMENT_METHOD_CASH_ON_DELIVERY",
            ));
            None
        }
    };
    match (order_id, user_id, amount, instrument) {
        (Some(order_id), Some(user_id), Some(amount), Some(instrument))
            if violations.is_empty() =>
        {
            Ok(Authorize {
                order_id,
                user_id,
                amount,
                instrument,
            })
        }
        _ => Err(PaymentError::Invalid(violations)),
    }
}

pub(super) fn status_filter(value: i32) -> Result<Option<PaymentStatus>, PaymentError> {
    let status = pb::PaymentStatus::try_from(value)
        .map_err(|_| PaymentError::invalid("status", "is not a payment status"))?;
    Ok(match status {
        pb::PaymentStatus::Unspecified => None,
        pb::PaymentStatus::Pending => Some(PaymentStatus::Pending),
        pb::PaymentStatus::Authorized => Some(PaymentStatus::Authorized),
        pb::PaymentStatus::Captured => Some(PaymentStatus::Captured),
        pb::PaymentStatus::PartiallyRefunded => Some(PaymentStatus::PartiallyRefunded),
        pb::PaymentStatus::Refunded => Some(PaymentStatus::Refunded),
        pb::PaymentStatus::Declined => Some(PaymentStatus::Declined),
        pb::PaymentStatus::Failed => Some(PaymentStatus::Failed),
        pb::PaymentStatus::Voided => Some(PaymentStatus::Voided),
    })
}

pub(super) fn account_filter(value: i32) -> Result<Option<Account>, PaymentError> {
    let account = pb::LedgerAccount::try_from(value)
        .map_err(|_| PaymentError::invalid("account", "is not a ledger account"))?;
    Ok(match account {
        pb::LedgerAccount::Unspecified => None,
        pb::LedgerAccount::GatewayClearing => Some(Account::GatewayClearing),
        pb::LedgerAccount::CashOnDelivery => Some(Account::CashOnDelivery),
        pb::LedgerAccount::Sales => Some(Account::Sales),
        pb::LedgerAccount::Refunds => Some(Account::Refunds),
        pb::LedgerAccount::PlatformFees => Some(Account::PlatformFees),
    })
}

pub(super) fn from_timestamp(
    value: Option<prost_types::Timestamp>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, PaymentError> {
    value
        .map(|t| {
            u32::try_from(t.nanos)
                .ok()
                .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
                .ok_or_else(|| PaymentError::invalid(field, "is not a valid timestamp"))
        })
        .transpose()
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default(),
    }
}

/// Money as the contract carries it.
pub(crate) fn money_to_proto(money: &Money) -> common::Money {
    common::Money {
        currency_code: money.currency.clone(),
        amount_minor: money.minor,
    }
}

pub(crate) fn method_to_proto(method: PaymentMethod) -> pb::PaymentMethod {
    match method {
        PaymentMethod::Card => pb::PaymentMethod::Card,
        PaymentMethod::CashOnDelivery => pb::PaymentMethod::CashOnDelivery,
    }
}

pub(crate) fn failure_reason_to_proto(reason: FailureReason) -> pb::FailureReason {
    match reason {
        FailureReason::CardDeclined => pb::FailureReason::CardDeclined,
        FailureReason::InsufficientFunds => pb::FailureReason::InsufficientFunds,
        FailureReason::ExpiredCard => pb::FailureReason::ExpiredCard,
        FailureReason::InvalidCard => pb::FailureReason::InvalidCard,
        FailureReason::StolenCard => pb::FailureReason::StolenCard,
        FailureReason::GatewayTimeout => pb::FailureReason::GatewayTimeout,
        FailureReason::GatewayError => pb::FailureReason::GatewayError,
    }
}

fn status_to_proto(status: PaymentStatus) -> pb::PaymentStatus {
    match status {
        PaymentStatus::Pending => pb::PaymentStatus::Pending,
        PaymentStatus::Authorized => pb::PaymentStatus::Authorized,
        PaymentStatus::Captured => pb::PaymentStatus::Captured,
        PaymentStatus::PartiallyRefunded => pb::PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded => pb::PaymentStatus::Refunded,
        PaymentStatus::Declined => pb::PaymentStatus::Declined,
        PaymentStatus::Failed => pb::PaymentStatus::Failed,
        PaymentStatus::Voided => pb::PaymentStatus::Voided,
    }
}

fn account_to_proto(account: Account) -> pb::LedgerAccount {
    match account {
        Account::GatewayClearing => pb::LedgerAccount::GatewayClearing,
        Account::CashOnDelivery => pb::LedgerAccount::CashOnDelivery,
        Account::Sales => pb::LedgerAccount::Sales,
        Account::Refunds => pb::LedgerAccount::Refunds,
        Account::PlatformFees => pb::LedgerAccount::PlatformFees,
    }
}

pub(super) fn refund_to_proto(refund: &Refund) -> pb::Refund {
    pb::Refund {
        name: format!("payments/{}/refunds/{}", refund.payment_id, refund.id),
        id: refund.id.to_string(),
        payment_id: refund.payment_id.to_string(),
        amount: Some(money_to_proto(&refund.amount)),
        reason: refund.reason.clone(),
        status: match refund.status {
            RefundStatus::Pending => pb::RefundStatus::Pending,
            RefundStatus::Succeeded => pb::RefundStatus::Succeeded,
            RefundStatus::Failed => pb::RefundStatus::Failed,
        }
        .into(),
        provider_reference: refund.provider_reference.clone(),
        failure_message: refund.failure_message.clone(),
        create_time: Some(timestamp(refund.created_at)),
        complete_time: refund.completed_at.map(timestamp),
    }
}

pub(super) fn payment_to_proto(payment: &Payment) -> pb::Payment {
    let card = payment.card.as_ref();
    let failure = payment.failure.as_ref();
    pb::Payment {
        name: format!("payments/{}", payment.id),
        id: payment.id.to_string(),
        order_id: payment.order_id.to_string(),
        user_id: payment.user_id.to_string(),
        amount: Some(money_to_proto(&payment.amount)),
        captured_amount: Some(money_to_proto(&payment.captured())),
        refunded_amount: Some(money_to_proto(&payment.refunded())),
        method: method_to_proto(payment.method).into(),
        status: status_to_proto(payment.status).into(),
        provider: payment.provider.clone(),
        provider_reference: payment.provider_reference.clone(),
        card_last4: card.map(|c| c.last4.clone()).unwrap_or_default(),
        card_brand: card
            .map(|c| c.brand.as_str().to_owned())
            .unwrap_or_default(),
        failure_reason: failure
            .map(|f| failure_reason_to_proto(f.reason))
            .unwrap_or_default()
            .into(),
        failure_message: failure.map(|f| f.message.clone()).unwrap_or_default(),
        refunds: payment.refunds.iter().map(refund_to_proto).collect(),
        create_time: Some(timestamp(payment.created_at)),
        update_time: Some(timestamp(payment.updated_at)),
        authorize_time: payment.authorized_at.map(timestamp),
        capture_time: payment.captured_at.map(timestamp),
    }
}

pub(super) fn entry_to_proto(entry: &LedgerEntry) -> pb::LedgerEntry {
    pb::LedgerEntry {
        name: format!("ledgerEntries/{}", entry.id),
        id: entry.id.to_string(),
        journal_id: entry.journal_id.to_string(),
        account: account_to_proto(entry.account).into(),
        direction: match entry.direction {
            Direction::Debit => pb::EntryDirection::Debit,
            Direction::Credit => pb::EntryDirection::Credit,
        }
        .into(),
        amount: Some(money_to_proto(&entry.amount)),
        payment_id: entry.payment_id.to_string(),
        refund_id: entry.refund_id.map(|r| r.to_string()).unwrap_or_default(),
        order_id: entry.order_id.to_string(),
        description: entry.description.clone(),
        create_time: Some(timestamp(entry.created_at)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Datelike as _;

    use super::*;
    use crate::domain::now;

    fn card_request(token: &str) -> pb::AuthorizePaymentRequest {
        pb::AuthorizePaymentRequest {
            order_id: Uuid::now_v7().to_string(),
            user_id: Uuid::now_v7().to_string(),
            amount: Some(common::Money {
                currency_code: "INR".into(),
                amount_minor: 100,
            }),
            method: pb::PaymentMethod::Card.into(),
            card: Some(pb::CardDetails {
                token: token.into(),
                exp_month: 12,
                exp_year: now().year() + 1,
            }),
            request_id: "r-1".into(),
        }
    }

    fn fields(err: PaymentError) -> Vec<String> {
        match err {
            PaymentError::Invalid(v) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("not invalid: {other}"),
        }
    }

    #[test]
    fn a_bad_card_number_names_card_token() {
        let err = authorize_request(card_request("4242424242424241"), now()).unwrap_err();
        assert_eq!(fields(err), ["card.token"]);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let mut request = card_request("4242424242424242");
        request.order_id = "nope".into();
        request.amount = None;
        request.card.as_mut().unwrap().exp_month = 13;
        let err = authorize_request(request, now()).unwrap_err();
        assert_eq!(fields(err), ["order_id", "amount", "card.exp_month"]);
    }

    #[test]
    fn cash_on_delivery_takes_no_card_and_a_method_is_required() {
        let mut request = card_request("4242424242424242");
        request.method = pb::PaymentMethod::CashOnDelivery.into();
        assert_eq!(
            fields(authorize_request(request.clone(), now()).unwrap_err()),
            ["card"]
        );
        request.card = None;
        assert_eq!(
            authorize_request(request.clone(), now())
                .unwrap()
                .instrument,
            Instrument::CashOnDelivery
        );
        request.method = 0;
        assert_eq!(
            fields(authorize_request(request, now()).unwrap_err()),
            ["method"]
        );
    }
}
