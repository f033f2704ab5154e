//! The payment use cases: authorize, capture, void and refund, each run once per
//! idempotency key through [`PaymentStore::execute`], with the gateway called while the
//! store holds the key and the payment, and every gateway call bounded by the configured
//! timeout.

mod work;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mandi_runtime::paging;
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{Card, GatewayError, MAX_REASON_CHARS, Money, PaymentError};
use crate::gateway::Gateway;
use crate::store::{Executed, PaymentStore, RequestKey};
use work::{AuthorizeWork, CaptureWork, RefundWork, VoidWork};

/// Longest request id kept.
const MAX_REQUEST_ID_CHARS: usize = 128;
/// Provider name of cash-on-delivery payments.
pub const COD_PROVIDER: &str = "cod";

/// What the use cases need from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Platform fee on captures, basis points (0..=10 000).
    pub fee_bps: u32,
    /// Longest wait for one gateway call.
    pub gateway_timeout: Duration,
    /// The marketplace currency; payments in another are refused.
    pub currency: String,
}

/// How the customer pays, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instrument {
    /// A card (the number never leaves this value but to the gateway).
    Card(Card),
    /// Cash to the rider.
    CashOnDelivery,
}

/// AuthorizePayment, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorize {
    /// The order.
    pub order_id: Uuid,
    /// The paying user.
    pub user_id: Uuid,
    /// Amount to hold.
    pub amount: Money,
    /// How.
    pub instrument: Instrument,
}

/// CapturePayment, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureRequest {
    /// The payment.
    pub payment_id: Uuid,
    /// Minor units to take; `None` takes the authorized amount.
    pub amount: Option<i64>,
}

/// VoidPayment, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoidRequest {
    /// The payment.
    pub payment_id: Uuid,
    /// Why, for the record.
    pub reason: String,
}

/// RefundPayment, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRequest {
    /// The payment.
    pub payment_id: Uuid,
    /// Minor units to return; `None` returns what is left.
    pub amount: Option<i64>,
    /// Why.
    pub reason: String,
}

/// Who sent a request and the idempotency key they gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller<'a> {
    /// The caller's subject (`service:checkout`, a user id): keys are scoped by it.
    pub subject: &'a str,
    /// The request's `request_id`; empty when none was sent.
    pub request_id: &'a str,
}

impl Caller<'_> {
    /// The scoped key and `arguments`' fingerprint under `method`; `required` refuses an
    /// empty request id.
    fn key(
        &self,
        method: &str,
        arguments: &impl Serialize,
        required: bool,
    ) -> Result<Option<RequestKey>, PaymentError> {
        if self.request_id.chars().count() > MAX_REQUEST_ID_CHARS {
            return Err(PaymentError::invalid(
                "request_id",
                format!("must be at most {MAX_REQUEST_ID_CHARS} characters"),
            ));
        }
        if self.request_id.is_empty() {
            return if required {
                Err(PaymentError::invalid("request_id", "is required"))
            } else {
                Ok(None)
            };
        }
        Ok(Some(RequestKey {
            key: format!("{}/{}", self.subject, self.request_id),
            fingerprint: format!("{method}:{}", paging::fingerprint(arguments)),
        }))
    }
}

/// What of an authorization request its fingerprint covers: everything but the card
/// number, of which only the last four digits and the expiry count (no hash of a card
/// number is ever kept).
#[derive(Serialize)]
struct AuthorizeFingerprint<'a> {
    order_id: Uuid,
    user_id: Uuid,
    amount: &'a Money,
    card: Option<(String, u32, i32)>,
}

impl<'a> From<&'a Authorize> for AuthorizeFingerprint<'a> {
    fn from(request: &'a Authorize) -> Self {
        Self {
            order_id: request.order_id,
            user_id: request.user_id,
            amount: &request.amount,
            card: match &request.instrument {
                Instrument::Card(card) => {
                    Some((card.number.last4(), card.expiry.month, card.expiry.year))
                }
                Instrument::CashOnDelivery => None,
            },
        }
    }
}

/// The payment use cases over a store and a gateway.
pub struct Payments<S, G> {
    store: Arc<S>,
    gateway: Arc<G>,
    settings: Settings,
}

impl<S, G> Clone for Payments<S, G> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            gateway: self.gateway.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<S: PaymentStore, G: Gateway> Payments<S, G> {
    /// Use cases over `store` and `gateway`.
    pub fn new(store: Arc<S>, gateway: Arc<G>, settings: Settings) -> Self {
        Self {
            store,
            gateway,
            settings,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Creates and authorizes a payment: a card through the gateway, cash at once.
    pub async fn authorize(
        &self,
        caller: Caller<'_>,
        request: Authorize,
    ) -> Result<Executed, PaymentError> {
        let key = caller.key(
            "AuthorizePayment",
            &AuthorizeFingerprint::from(&request),
            true,
        )?;
        if request.amount.currency != self.settings.currency {
            return Err(PaymentError::invalid(
                "amount.currency_code",
                format!("must be {}", self.settings.currency),
            ));
        }
        self.store
            .execute(
                key.as_ref(),
                AuthorizeWork {
                    use_cases: self,
                    request,
                },
            )
            .await
    }

    /// Captures an authorized payment, in full or in part.
    pub async fn capture(
        &self,
        caller: Caller<'_>,
        request: CaptureRequest,
    ) -> Result<Executed, PaymentError> {
        let key = caller.key("CapturePayment", &request, true)?;
        self.store
            .execute(
                key.as_ref(),
                CaptureWork {
                    use_cases: self,
                    request,
                },
            )
            .await
    }

    /// Voids an authorized payment.
    pub async fn void(
        &self,
        caller: Caller<'_>,
        request: VoidRequest,
    ) -> Result<Executed, PaymentError> {
        if request.reason.chars().count() > MAX_REASON_CHARS {
            return Err(PaymentError::invalid(
                "reason",
                format!("must be at most {MAX_REASON_CHARS} characters"),
            ));
        }
        let key = caller.key("VoidPayment", &request, false)?;
        self.store
            .execute(
                key.as_ref(),
                VoidWork {
                    use_cases: self,
                    request,
                },
            )
            .await
    }

    /// Refunds part or all of a captured payment.
    pub async fn refund(
        &self,
        caller: Caller<'_>,
        request: RefundRequest,
    ) -> Result<Executed, PaymentError> {
        let reason = request.reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(PaymentError::invalid(
                "reason",
                format!("is required, at most {MAX_REASON_CHARS} characters"),
            ));
        }
        let key = caller.key("RefundPayment", &request, true)?;
        self.store
            .execute(
                key.as_ref(),
                RefundWork {
                    use_cases: self,
                    request,
                },
            )
            .await
    }

    /// One gateway call, bounded by the configured timeout.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, GatewayError>>,
    ) -> Result<T, GatewayError> {
        let timeout = self.settings.gateway_timeout;
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(GatewayError::Timeout(timeout)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::Datelike as _;

    use super::*;
    use crate::domain::now;

    fn by_card(number: &str) -> Authorize {
        Authorize {
            order_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            amount: Money::new("INR", 100),
            instrument: Instrument::Card(Card::parse(number, 12, now().year() + 1, now()).unwrap()),
        }
    }

    fn key_of(request: &Authorize) -> RequestKey {
        let caller = Caller {
            subject: "service:checkout",
            request_id: "r-1",
        };
        caller
            .key(
                "AuthorizePayment",
                &AuthorizeFingerprint::from(request),
                true,
            )
            .unwrap()
            .unwrap()
    }

    #[test]
    fn keys_are_scoped_by_caller_and_fingerprinted_by_method_and_arguments() {
        let request = by_card("4242424242424242");
        let key = key_of(&request);
        assert_eq!(key.key, "service:checkout/r-1");
        assert!(key.fingerprint.starts_with("AuthorizePayment:"));
        let mut more = request.clone();
        more.amount.minor += 1;
        assert_ne!(key_of(&more).fingerprint, key.fingerprint);
    }

    #[test]
    fn the_fingerprint_holds_no_card_number_nor_a_hash_of_one() {
        // Two numbers with the same last four digits and expiry fingerprint alike: only
        // those are in the fingerprint.
        let visa = key_of(&by_card("4242424242424242"));
        let other = key_of(&by_card("4000056655024242"));
        assert_eq!(visa.fingerprint, other.fingerprint);
        assert!(!visa.fingerprint.contains("424242424242"));
    }

    #[test]
    fn a_request_id_is_required_where_the_contract_says_and_bounded() {
        let caller = |request_id| Caller {
            subject: "service:checkout",
            request_id,
        };
        let missing = caller("").key("CapturePayment", &1, true).unwrap_err();
        assert!(matches!(&missing, PaymentError::Invalid(v) if v[0].field == "request_id"));
        assert_eq!(caller("").key("VoidPayment", &1, false).unwrap(), None);
        let long = "x".repeat(MAX_REQUEST_ID_CHARS + 1);
        assert!(caller(&long).key("VoidPayment", &1, false).is_err());
    }
}
