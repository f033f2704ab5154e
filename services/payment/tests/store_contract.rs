//! One contract for the payment store, run through the payment use cases against the
//! in-memory twin and PostgreSQL (a fresh database per case). The PostgreSQL cases fail
//! when the server is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{authorize, by, card, checkout, inr, pay, payments};
use mandi_payment::domain::{
    Account, Direction, EntryFilter, FailureReason, Payment, PaymentError, PaymentFilter,
    PaymentMethod, PaymentStatus,
};
use mandi_payment::gateway::test_cards;
use mandi_payment::payments::{CaptureRequest, Instrument, RefundRequest, VoidRequest};
use mandi_payment::store::memory::MemoryStore;
use mandi_payment::store::postgres::PgStore;
use mandi_payment::store::{Change, PaymentStore, Subject, Work};
use mandi_runtime::events::InProcessPublisher;
use mandi_runtime::outbox::{OutboxStore, Relay};
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use uuid::Uuid;

const TIMEOUT: Duration = Duration::from_secs(5);

fn capture(payment: &Payment, amount: Option<i64>) -> CaptureRequest {
    CaptureRequest {
        payment_id: payment.id,
        amount,
    }
}

fn refund(payment: &Payment, amount: Option<i64>) -> RefundRequest {
    RefundRequest {
        payment_id: payment.id,
        amount,
        reason: "damaged on arrival".into(),
    }
}

/// The types of the unsent outbox events, oldest first.
async fn outbox_types(store: &impl OutboxStore) -> Vec<String> {
    store
        .pending(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            r.envelope
                .r#type
                .trim_start_matches("mandi.events.v1.")
                .to_owned()
        })
        .collect()
}

async fn card_payments_are_authorized_then_captured_into_a_balanced_journal<S: PaymentStore>(
    store: S,
) {
    let (payments, _) = payments(store, TIMEOUT);
    let order = Uuid::now_v7();

    let authorized = pay(
        &payments,
        checkout("a-1"),
        authorize(order, 10_000, card(test_cards::APPROVED)),
    )
    .await;
    assert_eq!(authorized.status, PaymentStatus::Authorized);
    assert_eq!(authorized.provider, "sandbox");
    assert!(authorized.provider_reference.starts_with("pi_sandbox_"));
    let stored_card = authorized.card.clone().unwrap();
    assert_eq!(stored_card.last4, "4242");
    assert!(stored_card.token.starts_with("tok_sandbox_"));
    assert_eq!(
        outbox_types(payments.store().as_ref()).await,
        Vec::<String>::new()
    );

    let captured = payments
        .capture(checkout("c-1"), capture(&authorized, Some(9_000)))
        .await
        .unwrap()
        .outcome
        .payment;
    assert_eq!(captured.status, PaymentStatus::Captured);
    assert_eq!(captured.captured_minor, 9_000);
    let stored = payments
        .store()
        .payment(authorized.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, captured);

    let entries = payments
        .store()
        .list_entries(&EntryFilter::default(), None, 100)
        .await
        .unwrap();
    let sides: Vec<_> = entries
        .iter()
        .map(|(_, e)| (e.account, e.direction, e.amount.minor))
        .collect();
    assert_eq!(
        sides,
        [
            (Account::GatewayClearing, Direction::Debit, 9_000),
            (Account::Sales, Direction::Credit, 8_775),
            (Account::PlatformFees, Direction::Credit, 225),
        ]
    );
    assert!(
        payments
            .store()
            .ledger_balances()
            .await
            .unwrap()
            .is_balanced()
    );
    assert_eq!(
        outbox_types(payments.store().as_ref()).await,
        ["PaymentConfirmed"]
    );
}

async fn a_retry_with_the_same_key_returns_the_stored_result_and_charges_once<S: PaymentStore>(
    store: S,
) {
    let (payments, gateway) = payments(store, TIMEOUT);
    let request = authorize(Uuid::now_v7(), 2_500, card(test_cards::APPROVED));

    let first = payments
        .authorize(checkout("k-1"), request.clone())
        .await
        .unwrap();
    let again = payments.authorize(checkout("k-1"), request).await.unwrap();

    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(again.outcome, first.outcome);
    assert_eq!(gateway.authorizations(), 1);
}

async fn the_same_key_with_a_different_request_is_refused<S: PaymentStore>(store: S) {
    let (payments, gateway) = payments(store, TIMEOUT);
    let order = Uuid::now_v7();
    payments
        .authorize(
            checkout("k-1"),
            authorize(order, 2_500, card(test_cards::APPROVED)),
        )
        .await
        .unwrap();

    let other_amount = payments
        .authorize(
            checkout("k-1"),
            authorize(order, 2_600, card(test_cards::APPROVED)),
        )
        .await
        .unwrap_err();
    let other_method = payments
        .capture(
            checkout("k-1"),
            CaptureRequest {
                payment_id: Uuid::now_v7(),
                amount: None,
            },
        )
        .await
        .unwrap_err();

    assert!(
        matches!(other_amount, PaymentError::KeyReused),
        "{other_amount}"
    );
    assert!(
        matches!(other_method, PaymentError::KeyReused),
        "{other_method}"
    );
    assert_eq!(gateway.authorizations(), 1);
}

async fn keys_are_scoped_by_caller<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);

    let ours = payments
        .authorize(
            by("service:checkout", "same"),
            authorize(Uuid::now_v7(), 100, Instrument::CashOnDelivery),
        )
        .await
        .unwrap();
    let theirs = payments
        .authorize(
            by("service:other", "same"),
            authorize(Uuid::now_v7(), 200, Instrument::CashOnDelivery),
        )
        .await
        .unwrap();

    assert!(!theirs.replayed);
    assert_ne!(ours.outcome.payment.id, theirs.outcome.payment.id);
}

async fn a_declined_card_is_stored_declined_and_the_order_may_try_again<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);
    let order = Uuid::now_v7();

    let declined = pay(
        &payments,
        checkout("a-1"),
        authorize(order, 10_000, card(test_cards::INSUFFICIENT_FUNDS)),
    )
    .await;
    let stolen = pay(
        &payments,
        checkout("a-2"),
        authorize(order, 10_000, card(test_cards::STOLEN)),
    )
    .await;
    let approved = pay(
        &payments,
        checkout("a-3"),
        authorize(order, 10_000, card(test_cards::APPROVED)),
    )
    .await;

    assert_eq!(declined.status, PaymentStatus::Declined);
    assert_eq!(
        declined.failure.as_ref().unwrap().reason,
        FailureReason::InsufficientFunds
    );
    assert_eq!(declined.card.as_ref().unwrap().last4, "9995");
    assert_eq!(stolen.failure.unwrap().reason, FailureReason::StolenCard);
    assert_eq!(approved.status, PaymentStatus::Authorized);
    let err = payments
        .capture(checkout("c-1"), capture(&declined, None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("declined (insufficient funds"),
        "{err}"
    );
    assert_eq!(
        outbox_types(payments.store().as_ref()).await,
        ["PaymentFailed", "PaymentFailed"]
    );
}

async fn an_order_with_a_live_payment_takes_no_second_one<S: PaymentStore>(store: S) {
    let (payments, gateway) = payments(store, TIMEOUT);
    let order = Uuid::now_v7();
    let first = pay(
        &payments,
        checkout("a-1"),
        authorize(order, 500, card(test_cards::APPROVED)),
    )
    .await;

    let err = payments
        .authorize(
            checkout("a-2"),
            authorize(order, 500, card(test_cards::APPROVED)),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(err, PaymentError::AlreadyPaid { payment_id, .. } if payment_id == first.id),
        "{err}"
    );
    assert_eq!(gateway.authorizations(), 1);
    // The refused request stored nothing under its key: it may be sent again later.
    let voided = payments
        .void(
            checkout("v-1"),
            VoidRequest {
                payment_id: first.id,
                reason: "out of stock".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(voided.outcome.payment.status, PaymentStatus::Voided);
    let retried = payments
        .authorize(
            checkout("a-2"),
            authorize(order, 500, card(test_cards::APPROVED)),
        )
        .await
        .unwrap();
    assert!(!retried.replayed);
    assert_eq!(retried.outcome.payment.status, PaymentStatus::Authorized);
}

async fn cash_on_delivery_is_confirmed_at_once_and_captured_into_the_cash_account<
    S: PaymentStore,
>(
    store: S,
) {
    let (payments, gateway) = payments(store, TIMEOUT);

    let agreed = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 40_000, Instrument::CashOnDelivery),
    )
    .await;
    assert_eq!(agreed.status, PaymentStatus::Authorized);
    assert_eq!(
        (agreed.method, agreed.provider.as_str()),
        (PaymentMethod::CashOnDelivery, "cod")
    );
    assert!(agreed.card.is_none());
    assert_eq!(gateway.authorizations(), 0);
    assert_eq!(
        outbox_types(payments.store().as_ref()).await,
        ["PaymentConfirmed"]
    );

    let collected = payments
        .capture(by("service:order", "deliver-1"), capture(&agreed, None))
        .await
        .unwrap()
        .outcome
        .payment;

    assert_eq!(collected.status, PaymentStatus::Captured);
    assert_eq!(collected.captured_minor, 40_000);
    let cash = payments
        .store()
        .list_entries(
            &EntryFilter {
                account: Some(Account::CashOnDelivery),
                ..EntryFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(cash.len(), 1);
    assert_eq!(cash[0].1.direction, Direction::Debit);
    // Confirmed once, when agreed; collecting the cash announces nothing new.
    assert_eq!(
        outbox_types(payments.store().as_ref()).await,
        ["PaymentConfirmed"]
    );
}

async fn refunds_are_partial_or_full_and_never_exceed_the_capture<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);
    let paid = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 10_000, card(test_cards::APPROVED)),
    )
    .await;
    payments
        .capture(checkout("c-1"), capture(&paid, Some(8_000)))
        .await
        .unwrap();

    let partial = payments
        .refund(checkout("r-1"), refund(&paid, Some(3_000)))
        .await
        .unwrap();
    let too_much = payments
        .refund(checkout("r-2"), refund(&paid, Some(5_001)))
        .await
        .unwrap_err();
    let rest = payments
        .refund(checkout("r-3"), refund(&paid, None))
        .await
        .unwrap();
    let after_all = payments
        .refund(checkout("r-4"), refund(&paid, Some(1)))
        .await
        .unwrap_err();

    assert_eq!(
        partial.outcome.payment.status,
        PaymentStatus::PartiallyRefunded
    );
    assert_eq!(partial.outcome.refund.as_ref().unwrap().amount, inr(3_000));
    assert!(
        matches!(&too_much, PaymentError::RefundExceedsCaptured { refundable, .. } if refundable.minor == 5_000),
        "{too_much}"
    );
    assert_eq!(rest.outcome.refund.as_ref().unwrap().amount, inr(5_000));
    let stored = payments.store().payment(paid.id).await.unwrap().unwrap();
    assert_eq!(stored.status, PaymentStatus::Refunded);
    assert_eq!(
        (stored.captured_minor, stored.refunded_minor),
        (8_000, 8_000)
    );
    assert_eq!(stored.refunds.len(), 2);
    assert!(matches!(
        after_all,
        PaymentError::WrongState {
            action: "refund",
            ..
        }
    ));
    let balance = payments.store().ledger_balances().await.unwrap();
    assert!(balance.is_balanced(), "{balance:?}");
    assert_eq!(balance.journals, 3);
    assert_eq!(
        outbox_types(payments.store().as_ref()).await,
        ["PaymentConfirmed", "PaymentRefunded", "PaymentRefunded"]
    );
}

async fn a_timed_out_authorization_is_failed_with_gateway_timeout<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, Duration::from_millis(200));

    let started = std::time::Instant::now();
    let failed = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 700, card(test_cards::TIMEOUT)),
    )
    .await;

    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(failed.status, PaymentStatus::Failed);
    let failure = failed.failure.unwrap();
    assert_eq!(failure.reason, FailureReason::GatewayTimeout);
    assert!(
        failure.message.contains("did not answer"),
        "{}",
        failure.message
    );
    assert_eq!(
        outbox_types(payments.store().as_ref()).await,
        ["PaymentFailed"]
    );
}

/// A change that fails after reading: nothing of it may be written.
struct Refuses(Uuid);

impl Work for Refuses {
    fn subject(&self) -> Subject {
        Subject::Payment(self.0)
    }

    async fn decide(self, _current: Vec<Payment>) -> Result<Change, PaymentError> {
        Err(PaymentError::invalid("amount", "refused by the test"))
    }
}

async fn a_failed_change_writes_nothing_and_leaves_its_key_free<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);
    let paid = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 900, Instrument::CashOnDelivery),
    )
    .await;
    let before = outbox_types(payments.store().as_ref()).await;
    let key = mandi_payment::store::RequestKey {
        key: "service:checkout/x-1".into(),
        fingerprint: "CapturePayment:abc".into(),
    };

    let err = payments
        .store()
        .execute(Some(&key), Refuses(paid.id))
        .await
        .unwrap_err();

    assert!(matches!(err, PaymentError::Invalid(_)));
    assert_eq!(outbox_types(payments.store().as_ref()).await, before);
    assert_eq!(
        payments.store().payment(paid.id).await.unwrap().unwrap(),
        paid
    );
    let captured = payments
        .capture(checkout("x-1"), capture(&paid, None))
        .await
        .unwrap();
    assert!(!captured.replayed);
}

async fn voiding_releases_an_authorization_and_is_refused_after_capture<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);
    let held = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 900, card(test_cards::APPROVED)),
    )
    .await;
    let void = |payment_id| VoidRequest {
        payment_id,
        reason: "out of stock".into(),
    };

    let voided = payments
        .void(checkout(""), void(held.id))
        .await
        .unwrap()
        .outcome
        .payment;
    let again = payments
        .void(checkout(""), void(held.id))
        .await
        .unwrap()
        .outcome
        .payment;
    let capture_after = payments
        .capture(checkout("c-1"), capture(&held, None))
        .await
        .unwrap_err();

    assert_eq!(voided.status, PaymentStatus::Voided);
    assert_eq!(again, voided);
    assert!(
        matches!(capture_after, PaymentError::WrongState { .. }),
        "{capture_after}"
    );
    let other = pay(
        &payments,
        checkout("a-2"),
        authorize(Uuid::now_v7(), 900, card(test_cards::APPROVED)),
    )
    .await;
    payments
        .capture(checkout("c-2"), capture(&other, None))
        .await
        .unwrap();
    let err = payments
        .void(checkout(""), void(other.id))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("it is captured"), "{err}");
    let missing = payments
        .void(checkout(""), void(Uuid::now_v7()))
        .await
        .unwrap_err();
    assert!(matches!(missing, PaymentError::NotFound(_)), "{missing}");
}

async fn payments_list_newest_first_by_filter_and_page<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);
    let mut made = Vec::new();
    for i in 0..5 {
        let payment = payments
            .authorize(
                checkout(&format!("a-{i}")),
                authorize(Uuid::now_v7(), 100 + i, Instrument::CashOnDelivery),
            )
            .await
            .unwrap()
            .outcome
            .payment;
        made.push(payment);
    }
    payments
        .capture(checkout("c-0"), capture(&made[0], None))
        .await
        .unwrap();

    let store = payments.store();
    let first = store
        .list_payments(&PaymentFilter::default(), None, 3)
        .await
        .unwrap();
    let last = first.last().unwrap();
    let rest = store
        .list_payments(
            &PaymentFilter::default(),
            Some((last.created_at, last.id)),
            3,
        )
        .await
        .unwrap();
    let captured = store
        .list_payments(
            &PaymentFilter {
                status: Some(PaymentStatus::Captured),
                ..PaymentFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    let by_order = store
        .list_payments(
            &PaymentFilter {
                order_id: Some(made[3].order_id),
                ..PaymentFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    let strangers = store
        .list_payments(
            &PaymentFilter {
                user_id: Some(Uuid::now_v7()),
                ..PaymentFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();

    let ids = |ps: &[Payment]| ps.iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids(&first), [made[4].id, made[3].id, made[2].id]);
    assert_eq!(ids(&rest), [made[1].id, made[0].id]);
    assert_eq!(ids(&captured), [made[0].id]);
    assert_eq!(ids(&by_order), [made[3].id]);
    assert!(strangers.is_empty());
}

async fn the_relay_publishes_the_outbox_in_order_and_marks_it_sent<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);
    let paid = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 10_000, card(test_cards::APPROVED)),
    )
    .await;
    payments
        .capture(checkout("c-1"), capture(&paid, None))
        .await
        .unwrap();
    payments
        .refund(checkout("r-1"), refund(&paid, Some(1_000)))
        .await
        .unwrap();
    payments
        .refund(checkout("r-2"), refund(&paid, None))
        .await
        .unwrap();
    let publisher = InProcessPublisher::default();
    let mut events = publisher.subscribe();
    let relay = Relay::new(payments.store().clone(), publisher, 2);

    let pass = relay.drain().await.unwrap();

    assert_eq!(pass.published, 3);
    assert!(payments.store().pending(10).await.unwrap().is_empty());
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        assert_eq!(event.topic, "mandi.payment.events.v1");
        assert_eq!(event.key, paid.id.to_string());
        seen.push(event.envelope.payload.unwrap());
    }
    assert!(
        matches!(&seen[0], Payload::PaymentConfirmed(c) if c.amount.as_ref().unwrap().amount_minor == 10_000)
    );
    assert!(matches!(&seen[1], Payload::PaymentRefunded(r) if !r.fully_refunded));
    assert!(
        matches!(&seen[2], Payload::PaymentRefunded(r) if r.fully_refunded && r.amount.as_ref().unwrap().amount_minor == 9_000)
    );
    assert_eq!(relay.drain().await.unwrap().published, 0);
}

async fn ledger_entries_list_in_posting_order_by_filter_and_page<S: PaymentStore>(store: S) {
    let (payments, _) = payments(store, TIMEOUT);
    let paid = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 10_000, card(test_cards::APPROVED)),
    )
    .await;
    payments
        .capture(checkout("c-1"), capture(&paid, None))
        .await
        .unwrap();
    let cash = pay(
        &payments,
        checkout("a-2"),
        authorize(Uuid::now_v7(), 2_000, Instrument::CashOnDelivery),
    )
    .await;
    payments
        .capture(checkout("c-2"), capture(&cash, None))
        .await
        .unwrap();
    let refunded = payments
        .refund(checkout("r-1"), refund(&paid, Some(500)))
        .await
        .unwrap();
    let store = payments.store();
    let all = EntryFilter::default();

    let everything = store.list_entries(&all, None, 100).await.unwrap();
    let first = store.list_entries(&all, None, 4).await.unwrap();
    let rest = store
        .list_entries(&all, Some(first[3].0), 100)
        .await
        .unwrap();
    let of_card = EntryFilter {
        payment_id: Some(paid.id),
        ..EntryFilter::default()
    };
    let card_entries = store.list_entries(&of_card, None, 100).await.unwrap();
    let refund_journal = refunded.outcome.payment.refunds[0].id;
    let by_journal = EntryFilter {
        journal_id: Some(card_entries.last().unwrap().1.journal_id),
        ..EntryFilter::default()
    };
    let journal = store.list_entries(&by_journal, None, 100).await.unwrap();
    let fees = EntryFilter {
        account: Some(Account::PlatformFees),
        ..EntryFilter::default()
    };
    let later = EntryFilter {
        start: Some(everything[5].1.created_at),
        end: Some(everything[7].1.created_at + chrono::Duration::seconds(1)),
        ..EntryFilter::default()
    };

    assert_eq!(everything.len(), 3 + 3 + 2);
    let positions: Vec<i64> = everything.iter().map(|(p, _)| *p).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(first.len() + rest.len(), everything.len());
    assert_eq!(rest[0], everything[4]);
    assert_eq!(card_entries.len(), 5);
    assert!(
        card_entries
            .iter()
            .all(|(_, e)| e.order_id == paid.order_id)
    );
    assert_eq!(journal.len(), 2);
    assert!(
        journal
            .iter()
            .all(|(_, e)| e.refund_id == Some(refund_journal))
    );
    assert_eq!(journal[0].1.direction, Direction::Debit);
    assert_eq!(journal[0].1.description, "refund: damaged on arrival");
    assert_eq!(store.list_entries(&fees, None, 100).await.unwrap().len(), 2);
    assert!(store.list_entries(&later, None, 100).await.unwrap().len() >= 3);
}

/// One `#[tokio::test]` per adapter for each contract case.
macro_rules! store_contract {
    ($($case:ident),* $(,)?) => {
        mod memory_store {
            $(#[tokio::test] async fn $case() { super::$case(super::MemoryStore::default()).await; })*
        }
        mod postgres_store {
            $(#[tokio::test] async fn $case() {
                let url = mandi_testkit::fresh_database().await;
                super::$case(super::PgStore::connect(&url).await.expect("connect to PostgreSQL")).await;
            })*
        }
    };
}

store_contract!(
    card_payments_are_authorized_then_captured_into_a_balanced_journal,
    a_retry_with_the_same_key_returns_the_stored_result_and_charges_once,
    the_same_key_with_a_different_request_is_refused,
    keys_are_scoped_by_caller,
    a_declined_card_is_stored_declined_and_the_order_may_try_again,
    an_order_with_a_live_payment_takes_no_second_one,
    cash_on_delivery_is_confirmed_at_once_and_captured_into_the_cash_account,
    refunds_are_partial_or_full_and_never_exceed_the_capture,
    a_timed_out_authorization_is_failed_with_gateway_timeout,
    a_failed_change_writes_nothing_and_leaves_its_key_free,
    voiding_releases_an_authorization_and_is_refused_after_capture,
    payments_list_newest_first_by_filter_and_page,
    the_relay_publishes_the_outbox_in_order_and_marks_it_sent,
    ledger_entries_list_in_posting_order_by_filter_and_page,
);

/// Every stored value of every payment table as text, to search for a card number.
async fn every_stored_value(store: &PgStore) -> String {
    let mut dump = String::new();
    for table in [
        "payments",
        "refunds",
        "ledger_entries",
        "idempotency_keys",
        "payment_outbox",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text FROM {table} t"
        )))
        .fetch_all(store.pool())
        .await
        .unwrap();
        dump.push_str(&rows.join("\n"));
    }
    dump
}

#[tokio::test]
async fn no_stored_row_holds_a_card_number() {
    let url = mandi_testkit::fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    let (payments, _) = payments(store.clone(), Duration::from_millis(200));
    for (i, number) in [
        test_cards::APPROVED,
        test_cards::INSUFFICIENT_FUNDS,
        test_cards::TIMEOUT,
    ]
    .into_iter()
    .enumerate()
    {
        let paid = payments
            .authorize(
                checkout(&format!("a-{i}")),
                authorize(Uuid::now_v7(), 1_000, card(number)),
            )
            .await
            .unwrap()
            .outcome
            .payment;
        if paid.status == PaymentStatus::Authorized {
            payments
                .capture(checkout("c"), capture(&paid, None))
                .await
                .unwrap();
            payments
                .refund(checkout("r"), refund(&paid, None))
                .await
                .unwrap();
        }
    }

    let dump = every_stored_value(&store).await;

    assert!(dump.contains("4242"), "the last four digits are kept");
    for number in [
        test_cards::APPROVED,
        test_cards::INSUFFICIENT_FUNDS,
        test_cards::TIMEOUT,
    ] {
        assert!(!dump.contains(number), "{number} was stored");
        assert!(
            !dump.contains(&number[..12]),
            "the first digits of {number} were stored"
        );
    }
}

#[tokio::test]
async fn ledger_entries_cannot_be_changed_or_deleted() {
    let url = mandi_testkit::fresh_database().await;
    let store = PgStore::connect(&url).await.unwrap();
    let (payments, _) = payments(store.clone(), TIMEOUT);
    let paid = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 1_000, Instrument::CashOnDelivery),
    )
    .await;
    payments
        .capture(checkout("c-1"), capture(&paid, None))
        .await
        .unwrap();

    let update = sqlx::query("UPDATE ledger_entries SET amount_minor = amount_minor + 1")
        .execute(store.pool())
        .await;
    let delete = sqlx::query("DELETE FROM ledger_entries")
        .execute(store.pool())
        .await;

    assert!(update.unwrap_err().to_string().contains("never changed"));
    assert!(delete.is_err());
    assert!(store.ledger_balances().await.unwrap().is_balanced());
}

#[tokio::test]
async fn events_committed_before_a_crash_are_published_after_the_restart() {
    let url = mandi_testkit::fresh_database().await;
    let before = PgStore::connect(&url).await.unwrap();
    let (payments, _) = payments(before, TIMEOUT);
    let agreed = pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 1_000, Instrument::CashOnDelivery),
    )
    .await;
    // The process dies after the commit, before any relay ran.
    drop(payments);

    let after = PgStore::connect(&url).await.unwrap();
    let publisher = InProcessPublisher::default();
    let mut events = publisher.subscribe();
    let pass = Relay::new(after, publisher, 10).drain().await.unwrap();

    assert_eq!(pass.published, 1);
    let event = events.try_recv().unwrap();
    assert_eq!(event.key, agreed.id.to_string());
    assert!(matches!(
        event.envelope.payload,
        Some(Payload::PaymentConfirmed(_))
    ));
}

#[tokio::test]
async fn one_replica_relays_at_a_time_and_another_takes_over_when_it_goes() {
    let url = mandi_testkit::fresh_database().await;
    let first = PgStore::connect(&url).await.unwrap();
    let second = PgStore::connect(&url).await.unwrap();
    let (payments, _) = payments(first.clone(), TIMEOUT);
    pay(
        &payments,
        checkout("a-1"),
        authorize(Uuid::now_v7(), 1_000, Instrument::CashOnDelivery),
    )
    .await;

    assert_eq!(first.pending(10).await.unwrap().len(), 1);
    assert!(
        second.pending(10).await.unwrap().is_empty(),
        "two relays at once"
    );

    drop(payments);
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if second.pending(10).await.unwrap().len() == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nobody took over the relay"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
