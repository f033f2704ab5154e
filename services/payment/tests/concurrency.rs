//! The proofs that payments never charge twice and the books always balance: 100
//! concurrent duplicates of one authorization reach the gateway once, and a seeded random
//! run of concurrent captures and refunds leaves a balanced ledger in which no payment is
//! refunded beyond its capture. On real PostgreSQL (fails when it is missing) and, as a
//! check of the twin, in memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{authorize, by, card, checkout, pay, settings};
use mandi_payment::domain::{
    Account, Card, Direction, EntryFilter, GatewayError, Money, PaymentError, PaymentFilter,
    PaymentStatus,
};
use mandi_payment::gateway::{Authorization, Gateway, SandboxGateway, test_cards};
use mandi_payment::payments::{CaptureRequest, Instrument, Payments, RefundRequest};
use mandi_payment::store::PaymentStore;
use mandi_payment::store::memory::MemoryStore;
use mandi_payment::store::postgres::PgStore;
use tokio::sync::Barrier;
use uuid::Uuid;

const DUPLICATES: usize = 100;

/// The sandbox, slowed down so every duplicate arrives while the first is at the gateway,
/// counting the charges it is asked for.
struct SlowSandbox {
    sandbox: SandboxGateway,
    delay: Duration,
    charges: AtomicU64,
}

impl SlowSandbox {
    fn new(delay: Duration) -> Self {
        Self {
            sandbox: SandboxGateway::new(Duration::from_secs(60)),
            delay,
            charges: AtomicU64::new(0),
        }
    }
}

impl Gateway for SlowSandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn authorize(&self, card: &Card, amount: &Money) -> Result<Authorization, GatewayError> {
        self.charges.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.sandbox.authorize(card, amount).await
    }

    async fn capture(&self, reference: &str, amount: &Money) -> Result<(), GatewayError> {
        self.sandbox.capture(reference, amount).await
    }

    async fn void(&self, reference: &str) -> Result<(), GatewayError> {
        self.sandbox.void(reference).await
    }

    async fn refund(&self, reference: &str, amount: &Money) -> Result<String, GatewayError> {
        tokio::time::sleep(self.delay / 10).await;
        self.sandbox.refund(reference, amount).await
    }
}

fn use_cases<S: PaymentStore>(
    store: S,
    delay: Duration,
) -> (Payments<S, SlowSandbox>, Arc<SlowSandbox>) {
    let gateway = Arc::new(SlowSandbox::new(delay));
    (
        Payments::new(
            Arc::new(store),
            gateway.clone(),
            settings(Duration::from_secs(20)),
        ),
        gateway,
    )
}

async fn duplicates_charge_once<S: PaymentStore>(store: S) {
    let (payments, gateway) = use_cases(store, Duration::from_millis(300));
    let request = authorize(Uuid::now_v7(), 12_345, card(test_cards::APPROVED));
    let start = Arc::new(Barrier::new(DUPLICATES));

    let callers: Vec<_> = (0..DUPLICATES)
        .map(|_| {
            let (payments, request, start) = (payments.clone(), request.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                payments
                    .authorize(checkout("checkout-42/authorize"), request)
                    .await
            })
        })
        .collect();
    let mut results = Vec::new();
    for caller in callers {
        results.push(
            caller
                .await
                .unwrap()
                .expect("every duplicate gets the payment"),
        );
    }

    assert_eq!(
        gateway.charges.load(Ordering::SeqCst),
        1,
        "the gateway was charged more than once"
    );
    assert_eq!(results.iter().filter(|r| !r.replayed).count(), 1);
    let first = &results[0].outcome;
    assert!(
        results.iter().all(|r| r.outcome == *first),
        "callers got different results"
    );
    assert_eq!(first.payment.status, PaymentStatus::Authorized);
    let stored = payments
        .store()
        .list_payments(
            &PaymentFilter {
                order_id: Some(request.order_id),
                ..PaymentFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "one payment row");
    assert_eq!(stored[0], first.payment);
}

/// A fixed linear congruential sequence: the same run every time.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

const PAYMENTS: usize = 12;
const WORKERS: u64 = 8;
const STEPS: usize = 30;

async fn random_captures_and_refunds_keep_the_books_balanced<S: PaymentStore>(store: S) {
    let (payments, _) = use_cases(store, Duration::from_millis(2));
    let mut seed = Lcg(0x5eed_2026_0007);
    let mut ids = Vec::new();
    for i in 0..PAYMENTS {
        let amount = 1_000 + i64::try_from(seed.below(50_000)).unwrap();
        let instrument = if i % 3 == 0 {
            Instrument::CashOnDelivery
        } else {
            card(test_cards::APPROVED)
        };
        let key = format!("a-{i}");
        let paid = pay(
            &payments,
            checkout(&key),
            authorize(Uuid::now_v7(), amount, instrument),
        )
        .await;
        ids.push((paid.id, amount));
    }

    // Each worker captures (in part or in full, the first to get there wins) and refunds
    // random amounts, some beyond what is left; retries reuse keys on purpose.
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (payments, ids) = (payments.clone(), ids.clone());
            tokio::spawn(async move {
                let mut rng = Lcg(0xface_0000 + worker);
                let mut refused = 0;
                for step in 0..STEPS {
                    let (payment_id, amount) =
                        ids[usize::try_from(rng.below(PAYMENTS as u64)).unwrap()];
                    let subject = format!("service:worker-{worker}");
                    let key = format!("{step}-{}", rng.below(3));
                    let result = if rng.below(4) == 0 {
                        let take = (rng.below(2) == 0)
                            .then(|| amount - i64::try_from(rng.below(500)).unwrap());
                        payments
                            .capture(
                                by(&subject, &format!("c-{payment_id}")),
                                CaptureRequest {
                                    payment_id,
                                    amount: take,
                                },
                            )
                            .await
                    } else {
                        let give = (rng.below(5) != 0).then(|| {
                            1 + i64::try_from(rng.below(u64::try_from(amount / 3).unwrap()))
                                .unwrap()
                        });
                        payments
                            .refund(
                                by(&subject, &key),
                                RefundRequest {
                                    payment_id,
                                    amount: give,
                                    reason: format!("step {step}"),
                                },
                            )
                            .await
                    };
                    match result {
                        Ok(_) => {}
                        Err(
                            PaymentError::RefundExceedsCaptured { .. }
                            | PaymentError::WrongState { .. }
                            | PaymentError::KeyReused,
                        ) => refused += 1,
                        Err(other) => panic!("unexpected failure: {other}"),
                    }
                }
                refused
            })
        })
        .collect();
    let mut refused = 0;
    for worker in workers {
        refused += worker.await.unwrap();
    }

    let store = payments.store();
    let balance = store.ledger_balances().await.unwrap();
    assert!(balance.is_balanced(), "{balance:?}");
    assert!(
        refused > 0 && refused < WORKERS as usize * STEPS,
        "a run that tests nothing: {refused} refused"
    );
    let entries = store
        .list_entries(&EntryFilter::default(), None, 10_000)
        .await
        .unwrap();
    let mut refunded_in_ledger: HashMap<Uuid, i64> = HashMap::new();
    for (_, entry) in &entries {
        if entry.account == Account::Refunds && entry.direction == Direction::Debit {
            *refunded_in_ledger.entry(entry.payment_id).or_default() += entry.amount.minor;
        }
    }
    let mut refunds = 0;
    for (id, amount) in ids {
        let payment = store.payment(id).await.unwrap().unwrap();
        assert!(payment.captured_minor <= amount);
        assert!(
            payment.refunded_minor <= payment.captured_minor,
            "{payment:?}"
        );
        let sum: i64 = payment.refunds.iter().map(|r| r.amount.minor).sum();
        assert_eq!(sum, payment.refunded_minor);
        assert_eq!(
            refunded_in_ledger.get(&id).copied().unwrap_or_default(),
            sum
        );
        if payment.refunded_minor == payment.captured_minor && payment.captured_minor > 0 {
            assert_eq!(payment.status, PaymentStatus::Refunded);
        }
        refunds += payment.refunds.len();
    }
    assert!(refunds > 0, "no refund went through");
}

#[tokio::test]
async fn a_hundred_concurrent_duplicates_charge_the_gateway_once_on_postgres() {
    let url = mandi_testkit::fresh_database().await;
    duplicates_charge_once(PgStore::connect_with(&url, 32).await.unwrap()).await;
}

#[tokio::test]
async fn a_hundred_concurrent_duplicates_charge_the_gateway_once_in_memory() {
    duplicates_charge_once(MemoryStore::default()).await;
}

#[tokio::test]
async fn a_random_run_of_captures_and_refunds_balances_the_ledger_on_postgres() {
    let url = mandi_testkit::fresh_database().await;
    random_captures_and_refunds_keep_the_books_balanced(
        PgStore::connect_with(&url, 16).await.unwrap(),
    )
    .await;
}

#[tokio::test]
async fn a_random_run_of_captures_and_refunds_balances_the_ledger_in_memory() {
    random_captures_and_refunds_keep_the_books_balanced(MemoryStore::default()).await;
}
