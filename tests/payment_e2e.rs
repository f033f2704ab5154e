//! payment end to end through the SDK: card and cash-on-delivery payments, declines, a
//! gateway time-out, refunds, idempotent retries and who may see what, on real PostgreSQL
//! behind identity and on the embedded default. No card number reaches the server's log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mandi_sdk::Mandi;
use mandi_sdk::proto::mandi::common::v1::Money;
use mandi_sdk::proto::mandi::payment::v1::{
    AuthorizePaymentRequest, CapturePaymentRequest, CardDetails, EntryDirection, FailureReason,
    GetPaymentRequest, LedgerAccount, ListLedgerEntriesRequest, ListPaymentsRequest, Payment,
    PaymentMethod, PaymentStatus, RefundPaymentRequest, VoidPaymentRequest,
};
use mandi_testkit::ServerProcess;
use mandi_testkit::accounts::sign_up;
use mandi_testkit::mesh::{self, ADMIN_EMAIL, checkout, client};
use mandi_testkit::status::bad_request_fields as fields;
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

const APPROVED: &str = "4242424242424242";
const INSUFFICIENT_FUNDS: &str = "4000000000009995";
const STOLEN: &str = "4000000000009979";
const TIMEOUT: &str = "4000000000000119";

fn start(target: &str, extra: Vec<(&'static str, String)>) -> ServerProcess {
    let payment = vec![
        ("MANDI_PAYMENT__GATEWAY_TIMEOUT", "300ms".to_owned()),
        ("MANDI_PAYMENT__FEE_BPS", "250".to_owned()),
        // Everything payment logs, to show that no card number is among it.
        ("MANDI_LOG__FILTER", "debug".to_owned()),
    ];
    mesh::start(target, payment.into_iter().chain(extra).collect())
}

async fn start_real() -> ServerProcess {
    let mut env = mesh::real_identity().await;
    env.push((
        "MANDI_PAYMENT__DATABASE_URL",
        mandi_testkit::fresh_database().await,
    ));
    start("identity,payment", env)
}

/// A customer account: its client and user id.
async fn customer(server: &ServerProcess, email: &str) -> (Mandi, String) {
    let mandi = client(server);
    let login = sign_up(&mandi, email).await;
    (mandi, login.user.unwrap().id)
}

fn inr(minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "INR".into(),
        amount_minor: minor,
    })
}

fn card(number: &str) -> Option<CardDetails> {
    Some(CardDetails {
        token: number.into(),
        exp_month: 12,
        exp_year: 2040,
    })
}

fn pay_by_card(user: &str, minor: i64, number: &str, request_id: &str) -> AuthorizePaymentRequest {
    AuthorizePaymentRequest {
        order_id: Uuid::now_v7().to_string(),
        user_id: user.into(),
        amount: inr(minor),
        method: PaymentMethod::Card.into(),
        card: card(number),
        request_id: request_id.into(),
    }
}

async fn authorize(checkout: &Mandi, request: AuthorizePaymentRequest) -> Payment {
    checkout
        .payment()
        .authorize_payment(request)
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap()
}

fn refund(payment: &Payment, minor: Option<i64>, request_id: &str) -> RefundPaymentRequest {
    RefundPaymentRequest {
        payment_id: payment.id.clone(),
        amount: minor.and_then(inr),
        reason: "damaged on arrival".into(),
        request_id: request_id.into(),
    }
}

fn reason(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}

fn amount(money: &Option<Money>) -> i64 {
    money.as_ref().map_or(0, |m| m.amount_minor)
}

/// The whole story, on whichever server it is given.
async fn payments_end_to_end(server: &ServerProcess) {
    let checkout = checkout(server).await;
    let admin = client(server);
    sign_up(&admin, ADMIN_EMAIL).await;
    let (asha, asha_id) = customer(server, &format!("asha-{}@mandi.example", Uuid::now_v7())).await;
    let (_ravi, ravi_id) =
        customer(server, &format!("ravi-{}@mandi.example", Uuid::now_v7())).await;

    // A card payment: authorized, then captured in part (a lighter bag of mangoes).
    let request = pay_by_card(&asha_id, 10_000, APPROVED, "checkout-1/authorize");
    let held = authorize(&checkout, request.clone()).await;
    assert_eq!(held.status(), PaymentStatus::Authorized);
    assert_eq!(
        (held.card_last4.as_str(), held.card_brand.as_str()),
        ("4242", "visa")
    );
    assert_eq!(held.provider, "sandbox");

    // The same request again: the same payment, no second charge.
    let retried = authorize(&checkout, request.clone()).await;
    assert_eq!(retried, held);
    // The same key with another amount is refused, saying so.
    let mut changed = request.clone();
    changed.amount = inr(10_001);
    let reused = checkout
        .payment()
        .authorize_payment(changed)
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::FailedPrecondition);
    assert!(
        reused.message().contains("request_id was already used"),
        "{}",
        reused.message()
    );
    assert_eq!(reason(&reused), "REQUEST_ID_REUSED");

    let captured = checkout
        .payment()
        .capture_payment(CapturePaymentRequest {
            payment_id: held.id.clone(),
            amount: inr(9_000),
            request_id: "checkout-1/capture".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(captured.status(), PaymentStatus::Captured);
    assert_eq!(amount(&captured.captured_amount), 9_000);

    // Refunds: a part, a refusal above what is left, then the rest.
    let partial = admin
        .payment()
        .refund_payment(refund(&held, Some(3_000), "refund-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        partial.payment.as_ref().unwrap().status(),
        PaymentStatus::PartiallyRefunded
    );
    assert_eq!(amount(&partial.refund.as_ref().unwrap().amount), 3_000);
    let too_much = admin
        .payment()
        .refund_payment(refund(&held, Some(6_001), "refund-2"))
        .await
        .unwrap_err();
    assert_eq!(too_much.code(), Code::FailedPrecondition);
    assert_eq!(reason(&too_much), "REFUND_EXCEEDS_CAPTURED");
    assert!(
        too_much.message().contains("only 6000 INR"),
        "{}",
        too_much.message()
    );
    let rest = admin
        .payment()
        .refund_payment(refund(&held, None, "refund-3"))
        .await
        .unwrap()
        .into_inner();
    let refunded = rest.payment.unwrap();
    assert_eq!(refunded.status(), PaymentStatus::Refunded);
    assert_eq!(amount(&refunded.refunded_amount), 9_000);
    assert_eq!(refunded.refunds.len(), 2);

    // The ledger: one capture journal and two refund journals, each balanced.
    let entries = admin
        .payment()
        .list_ledger_entries(ListLedgerEntriesRequest {
            payment_id: held.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let sum = |direction: EntryDirection| -> i64 {
        entries
            .iter()
            .filter(|e| e.direction() == direction)
            .map(|e| amount(&e.amount))
            .sum()
    };
    assert_eq!(entries.len(), 3 + 2 + 2);
    assert_eq!(sum(EntryDirection::Debit), sum(EntryDirection::Credit));
    let fees: i64 = entries
        .iter()
        .filter(|e| e.account() == LedgerAccount::PlatformFees)
        .map(|e| amount(&e.amount))
        .sum();
    assert_eq!(fees, 225);

    // A declined card: the payment says why; capturing it is refused, saying declined.
    let declined = authorize(
        &checkout,
        pay_by_card(&asha_id, 5_000, INSUFFICIENT_FUNDS, "checkout-2/authorize"),
    )
    .await;
    assert_eq!(declined.status(), PaymentStatus::Declined);
    assert_eq!(declined.failure_reason(), FailureReason::InsufficientFunds);
    let capture_declined = checkout
        .payment()
        .capture_payment(CapturePaymentRequest {
            payment_id: declined.id.clone(),
            amount: None,
            request_id: "checkout-2/capture".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(capture_declined.code(), Code::FailedPrecondition);
    assert_eq!(reason(&capture_declined), "PAYMENT_DECLINED");
    assert!(
        capture_declined.message().contains("declined"),
        "{}",
        capture_declined.message()
    );
    let stolen = authorize(
        &checkout,
        pay_by_card(&asha_id, 5_000, STOLEN, "checkout-3/authorize"),
    )
    .await;
    assert_eq!(stolen.failure_reason(), FailureReason::StolenCard);

    // The gateway never answers: after the 300ms gateway timeout the payment is FAILED.
    let timed_out = authorize(
        &checkout,
        pay_by_card(&asha_id, 5_000, TIMEOUT, "checkout-4/authorize"),
    )
    .await;
    assert_eq!(timed_out.status(), PaymentStatus::Failed);
    assert_eq!(timed_out.failure_reason(), FailureReason::GatewayTimeout);

    // Cash on delivery: agreed at once, collected on delivery.
    let cod = authorize(
        &checkout,
        AuthorizePaymentRequest {
            order_id: Uuid::now_v7().to_string(),
            user_id: ravi_id.clone(),
            amount: inr(40_000),
            method: PaymentMethod::CashOnDelivery.into(),
            card: None,
            request_id: "checkout-5/authorize".into(),
        },
    )
    .await;
    assert_eq!(
        (cod.status(), cod.provider.as_str()),
        (PaymentStatus::Authorized, "cod")
    );
    assert!(cod.card_last4.is_empty());
    let collected = checkout
        .payment()
        .capture_payment(CapturePaymentRequest {
            payment_id: cod.id.clone(),
            amount: None,
            request_id: "delivered-5".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(collected.status(), PaymentStatus::Captured);
    assert_eq!(amount(&collected.captured_amount), 40_000);

    // A customer reads their own payments only.
    let own = asha
        .payment()
        .get_payment(GetPaymentRequest {
            payment_id: held.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    assert_eq!(own.id, held.id);
    let theirs = asha
        .payment()
        .get_payment(GetPaymentRequest {
            payment_id: cod.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::PermissionDenied);
    let listed = asha
        .payment()
        .list_payments(ListPaymentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .payments;
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|p| p.user_id == asha_id));
    assert_eq!(listed[0].id, timed_out.id, "newest first");
    let snooping = asha
        .payment()
        .list_payments(ListPaymentsRequest {
            user_id: ravi_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(snooping.code(), Code::PermissionDenied);
    let everyone = admin
        .payment()
        .list_payments(ListPaymentsRequest {
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(everyone.payments.len(), 3);
    assert!(!everyone.next_page_token.is_empty());
    let next = admin
        .payment()
        .list_payments(ListPaymentsRequest {
            page_size: 3,
            page_token: everyone.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Five payments in all: three, then the last two and no further token.
    assert_eq!(next.payments.len(), 2);
    assert!(next.next_page_token.is_empty());
    assert!(next.payments.iter().all(|p| !everyone.payments.contains(p)));
    let other_filter = admin
        .payment()
        .list_payments(ListPaymentsRequest {
            status: PaymentStatus::Captured.into(),
            page_token: everyone.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&other_filter), ["page_token"]);
    let negative = admin
        .payment()
        .list_ledger_entries(ListLedgerEntriesRequest {
            page_size: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&negative), ["page_size"]);

    // Customers neither take payments, nor refund, nor read the ledger.
    let customer_pays = asha
        .payment()
        .authorize_payment(pay_by_card(&asha_id, 100, APPROVED, "self"))
        .await
        .unwrap_err();
    assert_eq!(customer_pays.code(), Code::PermissionDenied);
    let customer_refunds = asha
        .payment()
        .refund_payment(refund(&held, Some(1), "x"))
        .await
        .unwrap_err();
    assert_eq!(customer_refunds.code(), Code::PermissionDenied);
    let customer_ledger = asha
        .payment()
        .list_ledger_entries(ListLedgerEntriesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(customer_ledger.code(), Code::PermissionDenied);

    // Bad input is INVALID_ARGUMENT naming the field, before any gateway call.
    let bad_number = checkout
        .payment()
        .authorize_payment(pay_by_card(&asha_id, 100, "4242424242424241", "bad-1"))
        .await
        .unwrap_err();
    assert_eq!(bad_number.code(), Code::InvalidArgument);
    assert_eq!(fields(&bad_number), ["card.token"]);
    assert!(
        bad_number.message().contains("Luhn"),
        "{}",
        bad_number.message()
    );
    let mut expired = pay_by_card(&asha_id, 100, APPROVED, "bad-2");
    expired.card.as_mut().unwrap().exp_year = 2020;
    let expired = checkout
        .payment()
        .authorize_payment(expired)
        .await
        .unwrap_err();
    assert_eq!(fields(&expired), ["card.exp_year"]);
    let mut no_key = pay_by_card(&asha_id, 100, APPROVED, "");
    no_key.amount = inr(-5);
    let no_key = checkout
        .payment()
        .authorize_payment(no_key)
        .await
        .unwrap_err();
    assert_eq!(fields(&no_key), ["amount.amount_minor"]);

    // Void after capture is refused: refund instead.
    let void_captured = checkout
        .payment()
        .void_payment(VoidPaymentRequest {
            payment_id: collected.id.clone(),
            reason: "changed mind".into(),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(void_captured.code(), Code::FailedPrecondition);

    // No card number anywhere in what the server logged.
    let log = server.log();
    assert!(
        log.contains("card authorization failed"),
        "the log was not captured"
    );
    for number in [
        APPROVED,
        INSUFFICIENT_FUNDS,
        STOLEN,
        TIMEOUT,
        "4242424242424241",
    ] {
        assert!(!log.contains(number), "{number} is in the server log");
    }
}

/// Concurrent duplicates of one authorization through the server get one payment.
async fn concurrent_duplicates_get_one_payment(server: &ServerProcess) {
    let checkout = checkout(server).await;
    let request = pay_by_card(
        &Uuid::now_v7().to_string(),
        2_000,
        APPROVED,
        "checkout-race/authorize",
    );
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (checkout, request) = (checkout.clone(), request.clone());
            tokio::spawn(async move { authorize(&checkout, request).await })
        })
        .collect();
    let mut payments = Vec::new();
    for call in calls {
        payments.push(call.await.unwrap());
    }
    assert!(
        payments.iter().all(|p| *p == payments[0]),
        "different results"
    );
    let stored = checkout
        .payment()
        .list_payments(ListPaymentsRequest {
            order_id: request.order_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payments;
    assert_eq!(stored, [payments[0].clone()]);
}

#[tokio::test]
async fn payments_on_postgresql_behind_identity() {
    let server = start_real().await;
    payments_end_to_end(&server).await;
    concurrent_duplicates_get_one_payment(&server).await;
}

#[tokio::test]
async fn payments_on_the_embedded_default() {
    let server = start("all", vec![]);
    payments_end_to_end(&server).await;
}
