//! The card gateway port and the sandbox gateway that behaves like a real one: it tokenizes
//! the card, answers with approvals and declines by test card number, and never answers
//! for one number, so the caller's timeout decides.
//!
//! Sandbox test cards (any future expiry):
//!
//! | number | outcome |
//! |---|---|
//! | 4242 4242 4242 4242 | approved (Visa) |
//! | 5555 5555 5555 4444 | approved (Mastercard) |
//! | 4000 0000 0000 0002 | declined: card declined |
//! | 4000 0000 0000 9995 | declined: insufficient funds |
//! | 4000 0000 0000 9979 | declined: stolen card |
//! | 4000 0000 0000 0069 | declined: expired card |
//! | 4000 0000 0000 0119 | never answers (the service's gateway timeout applies) |
//! | any other Luhn-valid number | declined: invalid card |

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uuid::Uuid;

use crate::domain::{Card, FailureReason, GatewayError, Money, StoredCard};

/// What the gateway said to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// Funds are held.
    Approved {
        /// The gateway's payment id.
        reference: String,
        /// The card's token, brand and last four.
        card: StoredCard,
    },
    /// The issuer refused.
    Declined {
        /// Why.
        reason: FailureReason,
        /// The gateway's message.
        message: String,
        /// The card's token, brand and last four.
        card: StoredCard,
    },
}

/// A card payment provider. Implementations never log or keep the card number.
pub trait Gateway: Send + Sync + 'static {
    /// The provider's name as stored on payments ("sandbox").
    fn name(&self) -> &'static str;

    /// Holds `amount` on `card`.
    fn authorize(
        &self,
        card: &Card,
        amount: &Money,
    ) -> impl Future<Output = Result<Authorization, GatewayError>> + Send;

    /// Takes `amount` (at most what was held) of the authorization `reference`.
    fn capture(
        &self,
        reference: &str,
        amount: &Money,
    ) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// Releases the hold `reference`.
    fn void(&self, reference: &str) -> impl Future<Output = Result<(), GatewayError>> + Send;

    /// Returns `amount` of the captured payment `reference`; the refund's reference.
    fn refund(
        &self,
        reference: &str,
        amount: &Money,
    ) -> impl Future<Output = Result<String, GatewayError>> + Send;
}

/// Test card numbers and what the sandbox does with them.
pub mod test_cards {
    /// Approved (Visa).
    pub const APPROVED: &str = "4242424242424242";
    /// Approved (Mastercard).
    pub const APPROVED_MASTERCARD: &str = "5555555555554444";
    /// Declined: card declined.
    pub const DECLINED: &str = "4000000000000002";
    /// Declined: insufficient funds.
    pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
    /// Declined: stolen card.
    pub const STOLEN: &str = "4000000000009979";
    /// Declined: expired card.
    pub const EXPIRED: &str = "4000000000000069";
    /// The gateway never answers.
    pub const TIMEOUT: &str = "4000000000000119";
}

/// A gateway in process that answers like a real one, by test card number.
#[derive(Debug)]
pub struct SandboxGateway {
    hang: Duration,
    authorizations: AtomicU64,
}

impl SandboxGateway {
    /// A sandbox that, for the time-out card, waits `hang` (longer than the service's
    /// gateway timeout) before failing.
    pub fn new(hang: Duration) -> Self {
        Self {
            hang,
            authorizations: AtomicU64::new(0),
        }
    }

    /// Authorizations asked of this gateway so far (each one a charge attempt).
    pub fn authorizations(&self) -> u64 {
        self.authorizations.load(Ordering::SeqCst)
    }
}

fn sandbox_id(prefix: &str) -> String {
    format!("{prefix}_sandbox_{}", Uuid::now_v7().simple())
}

impl Gateway for SandboxGateway {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn authorize(&self, card: &Card, _amount: &Money) -> Result<Authorization, GatewayError> {
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        let digits = card.number.expose_digits();
        let stored = StoredCard {
            token: sandbox_id("tok"),
            brand: card.number.brand(),
            last4: card.number.last4(),
        };
        let declined = |reason, message: &str| {
            Ok(Authorization::Declined {
                reason,
                message: message.to_owned(),
                card: stored.clone(),
            })
        };
        match digits {
            // A decline injected by the fault flags (`payment_decline_rate`) turns an
            // approval into the plain card-declined answer, as a real issuer would.
            test_cards::APPROVED | test_cards::APPROVED_MASTERCARD
                if mandi_runtime::faults::global().decline_payment() =>
            {
                declined(FailureReason::CardDeclined, "your card was declined")
            }
            test_cards::APPROVED | test_cards::APPROVED_MASTERCARD => Ok(Authorization::Approved {
                reference: sandbox_id("pi"),
                card: stored,
            }),
            test_cards::DECLINED => declined(FailureReason::CardDeclined, "your card was declined"),
            test_cards::INSUFFICIENT_FUNDS => declined(
                FailureReason::InsufficientFunds,
                "your card has insufficient funds",
            ),
            test_cards::STOLEN => declined(
                FailureReason::StolenCard,
                "your card was declined: reported stolen",
            ),
            test_cards::EXPIRED => declined(FailureReason::ExpiredCard, "your card has expired"),
            test_cards::TIMEOUT => {
                tokio::time::sleep(self.hang).await;
                Err(GatewayError::Failed("the sandbox gave up waiting".into()))
            }
            _ => declined(
                FailureReason::InvalidCard,
                "your card number is not a known card",
            ),
        }
    }

    async fn capture(&self, _reference: &str, _amount: &Money) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn void(&self, _reference: &str) -> Result<(), GatewayError> {
        Ok(())
    }

    async fn refund(&self, _reference: &str, _amount: &Money) -> Result<String, GatewayError> {
        Ok(sandbox_id("re"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Datelike as _;

    use super::*;
    use crate::domain::{CardBrand, now};

    fn card(number: &str) -> Card {
        Card::parse(number, 12, now().year() + 2, now()).unwrap()
    }

    fn inr(minor: i64) -> Money {
        Money::new("INR", minor)
    }

    #[tokio::test]
    async fn the_approved_test_card_is_held_and_tokenized() {
        let sandbox = SandboxGateway::new(Duration::from_secs(1));
        let answer = sandbox
            .authorize(&card(test_cards::APPROVED), &inr(100))
            .await;
        let Ok(Authorization::Approved { reference, card }) = answer else {
            panic!("expected an approval, got {answer:?}");
        };
        assert!(reference.starts_with("pi_sandbox_"));
        assert!(card.token.starts_with("tok_sandbox_"));
        assert_eq!((card.brand, card.last4.as_str()), (CardBrand::Visa, "4242"));
        assert!(!card.token.contains(test_cards::APPROVED));
        assert_eq!(sandbox.authorizations(), 1);
    }

    #[tokio::test]
    async fn decline_cards_are_declined_with_their_reason() {
        let sandbox = SandboxGateway::new(Duration::from_secs(1));
        for (number, expected) in [
            (test_cards::DECLINED, FailureReason::CardDeclined),
            (
                test_cards::INSUFFICIENT_FUNDS,
                FailureReason::InsufficientFunds,
            ),
            (test_cards::STOLEN, FailureReason::StolenCard),
            (test_cards::EXPIRED, FailureReason::ExpiredCard),
            ("4111111111111111", FailureReason::InvalidCard),
        ] {
            let answer = sandbox.authorize(&card(number), &inr(100)).await.unwrap();
            let Authorization::Declined { reason, card, .. } = answer else {
                panic!("{number} was not declined: {answer:?}");
            };
            assert_eq!(reason, expected, "{number}");
            assert_eq!(card.last4, &number[12..]);
        }
    }

    #[tokio::test]
    async fn the_timeout_card_outlasts_a_shorter_deadline() {
        let sandbox = SandboxGateway::new(Duration::from_secs(30));
        let timeout_card = card(test_cards::TIMEOUT);
        let answer = tokio::time::timeout(
            Duration::from_millis(50),
            sandbox.authorize(&timeout_card, &inr(100)),
        )
        .await;
        assert!(answer.is_err(), "the sandbox answered: {answer:?}");
    }

    #[tokio::test]
    async fn sandbox_captures_voids_and_refunds_succeed() {
        let sandbox = SandboxGateway::new(Duration::from_secs(1));
        sandbox.capture("pi_1", &inr(100)).await.unwrap();
        sandbox.void("pi_1").await.unwrap();
        assert!(
            sandbox
                .refund("pi_1", &inr(50))
                .await
                .unwrap()
                .starts_with("re_sandbox_")
        );
    }
}
