//! Helpers shared by payment's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::Datelike as _;
use mandi_payment::domain::Payment;
use mandi_payment::domain::{Card, Money, now};
use mandi_payment::gateway::{Gateway, SandboxGateway};
use mandi_payment::payments::{Authorize, Caller, Instrument, Payments, Settings};
use mandi_payment::store::PaymentStore;
use uuid::Uuid;

/// The caller every test request comes from, unless a test says otherwise.
pub const CHECKOUT: &str = "service:checkout";
/// Platform fee in the tests: 2.5 %.
pub const FEE_BPS: u32 = 250;

pub fn settings(gateway_timeout: Duration) -> Settings {
    Settings {
        fee_bps: FEE_BPS,
        gateway_timeout,
        currency: "INR".into(),
    }
}

/// The use cases over `store` with a sandbox whose time-out card hangs for a minute and
/// a gateway timeout of `timeout`.
pub fn payments<S: PaymentStore>(
    store: S,
    timeout: Duration,
) -> (Payments<S, SandboxGateway>, Arc<SandboxGateway>) {
    let gateway = Arc::new(SandboxGateway::new(Duration::from_secs(60)));
    (
        Payments::new(Arc::new(store), gateway.clone(), settings(timeout)),
        gateway,
    )
}

pub fn inr(minor: i64) -> Money {
    Money::new("INR", minor)
}

pub fn card(number: &str) -> Instrument {
    Instrument::Card(Card::parse(number, 12, now().year() + 2, now()).unwrap())
}

pub fn authorize(order_id: Uuid, minor: i64, instrument: Instrument) -> Authorize {
    Authorize {
        order_id,
        user_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
        amount: inr(minor),
        instrument,
    }
}

pub fn by<'a>(subject: &'a str, request_id: &'a str) -> Caller<'a> {
    Caller {
        subject,
        request_id,
    }
}

pub fn checkout(request_id: &str) -> Caller<'_> {
    by(CHECKOUT, request_id)
}

/// Authorizes `request` and returns the payment.
pub async fn pay<S: PaymentStore, G: Gateway>(
    payments: &Payments<S, G>,
    caller: Caller<'_>,
    request: Authorize,
) -> Payment {
    payments
        .authorize(caller, request)
        .await
        .unwrap()
        .outcome
        .payment
}
