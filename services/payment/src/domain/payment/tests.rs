#![allow(clippy::unwrap_used)]
use super::*;
use crate::domain::{CardBrand, now};

fn pending(method: PaymentMethod) -> Payment {
    Payment::pending(
        NewPayment {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            amount: Money::new("INR", 10_000),
            method,
        },
        "sandbox",
        now(),
    )
}

fn approved() -> Settlement {
    Settlement::Approved {
        reference: "pay_1".into(),
        card: Some(StoredCard {
            token: "tok_1".into(),
            brand: CardBrand::Visa,
            last4: "4242".into(),
        }),
    }
}

fn refused(reason: FailureReason) -> Settlement {
    Settlement::Refused {
        failure: Failure {
            reason,
            message: "no".into(),
        },
        card: None,
    }
}

fn authorized() -> Payment {
    pending(PaymentMethod::Card)
        .settle(approved(), now())
        .unwrap()
}

fn captured(amount: i64) -> Payment {
    authorized().capture(amount, now()).unwrap()
}

fn refund_of(payment: &Payment, minor: i64) -> Refund {
    Refund {
        id: Uuid::now_v7(),
        payment_id: payment.id,
        amount: payment.amount.with_minor(minor),
        reason: "damaged".into(),
        status: RefundStatus::Succeeded,
        provider_reference: "re_1".into(),
        failure_message: String::new(),
        created_at: now(),
        completed_at: Some(now()),
    }
}

fn status_of(result: Result<Payment, PaymentError>) -> Result<PaymentStatus, String> {
    result.map(|p| p.status).map_err(|e| e.to_string())
}

#[test]
fn an_approved_authorization_holds_the_card_and_a_refusal_ends_the_payment() {
    let payment = authorized();
    assert_eq!(payment.status, PaymentStatus::Authorized);
    assert_eq!(payment.card.as_ref().unwrap().last4, "4242");
    assert!(payment.authorized_at.is_some());

    let declined = pending(PaymentMethod::Card)
        .settle(refused(FailureReason::InsufficientFunds), now())
        .unwrap();
    assert_eq!(declined.status, PaymentStatus::Declined);
    let failed = pending(PaymentMethod::Card)
        .settle(refused(FailureReason::GatewayTimeout), now())
        .unwrap();
    assert_eq!(failed.status, PaymentStatus::Failed);
}

#[test]
fn only_a_pending_payment_is_settled() {
    let err = authorized().settle(approved(), now()).unwrap_err();
    assert!(
        matches!(
            err,
            PaymentError::WrongState {
                action: "authorize",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_capture_takes_at_most_the_authorized_amount() {
    let payment = authorized();
    assert_eq!(payment.plan_capture(None).unwrap(), Capture::Take(10_000));
    assert_eq!(
        payment.plan_capture(Some(9_500)).unwrap(),
        Capture::Take(9_500)
    );
    assert!(matches!(
        payment.plan_capture(Some(10_001)),
        Err(PaymentError::CaptureExceedsAuthorized { .. })
    ));
    assert!(matches!(
        payment.plan_capture(Some(0)),
        Err(PaymentError::Invalid(_))
    ));
    let captured = payment.capture(9_500, now()).unwrap();
    assert_eq!(captured.status, PaymentStatus::Captured);
    assert_eq!(captured.captured_minor, 9_500);
    assert_eq!(
        captured.plan_capture(None).unwrap(),
        Capture::AlreadyCaptured
    );
}

#[test]
fn declined_voided_and_refunded_payments_cannot_be_captured() {
    let declined = pending(PaymentMethod::Card)
        .settle(refused(FailureReason::InsufficientFunds), now())
        .unwrap();
    let err = declined.plan_capture(None).unwrap_err();
    assert!(
        err.to_string().contains("declined (insufficient funds"),
        "{err}"
    );
    let voided = authorized().void(now()).unwrap();
    assert!(voided.plan_capture(None).is_err());
    let mut refunded = captured(10_000);
    refunded = refunded
        .clone()
        .refund(refund_of(&refunded, 10_000), now())
        .unwrap();
    assert!(refunded.plan_capture(None).is_err());
    assert!(pending(PaymentMethod::Card).plan_capture(None).is_err());
}

#[test]
fn void_cancels_an_authorization_is_a_no_op_when_over_and_refuses_a_capture() {
    assert!(authorized().needs_void().unwrap());
    assert_eq!(
        status_of(authorized().void(now())),
        Ok(PaymentStatus::Voided)
    );
    let voided = authorized().void(now()).unwrap();
    assert!(!voided.needs_void().unwrap());
    let declined = pending(PaymentMethod::Card)
        .settle(refused(FailureReason::CardDeclined), now())
        .unwrap();
    assert!(!declined.needs_void().unwrap());
    let err = captured(100).needs_void().unwrap_err();
    assert!(err.to_string().contains("it is captured"), "{err}");
}

#[test]
fn refunds_move_a_payment_to_partially_refunded_then_refunded() {
    let payment = captured(10_000);
    let payment = payment
        .clone()
        .refund(refund_of(&payment, 4_000), now())
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(payment.refunded_minor, 4_000);
    assert_eq!(payment.plan_refund(None).unwrap(), 6_000);
    let payment = payment
        .clone()
        .refund(refund_of(&payment, 6_000), now())
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(payment.refunds.len(), 2);
    assert!(payment.plan_refund(Some(1)).is_err());
}

#[test]
fn a_refund_never_exceeds_what_is_left_of_the_capture() {
    let payment = captured(7_000);
    let err = payment.plan_refund(Some(7_001)).unwrap_err();
    assert!(
        matches!(&err, PaymentError::RefundExceedsCaptured { refundable, .. } if refundable.minor == 7_000),
        "{err}"
    );
    let payment = payment
        .clone()
        .refund(refund_of(&payment, 5_000), now())
        .unwrap();
    let err = payment
        .clone()
        .refund(refund_of(&payment, 2_001), now())
        .unwrap_err();
    assert!(err.to_string().contains("only 2000 INR"), "{err}");
    assert!(matches!(
        payment.plan_refund(Some(-5)),
        Err(PaymentError::Invalid(_))
    ));
}

#[test]
fn uncaptured_payments_cannot_be_refunded() {
    for payment in [
        pending(PaymentMethod::CashOnDelivery),
        authorized(),
        authorized().void(now()).unwrap(),
    ] {
        assert!(matches!(
            payment.plan_refund(None),
            Err(PaymentError::WrongState {
                action: "refund",
                ..
            })
        ));
    }
}

#[test]
fn live_payments_are_those_holding_or_having_taken_money() {
    let live: Vec<_> = PaymentStatus::ALL
        .into_iter()
        .filter(|s| s.is_live())
        .collect();
    assert!(live.contains(&PaymentStatus::Authorized));
    assert!(!live.contains(&PaymentStatus::Declined));
    assert!(!live.contains(&PaymentStatus::Voided));
    for status in PaymentStatus::ALL {
        assert_eq!(PaymentStatus::from_name(status.as_str()), Some(status));
    }
}
