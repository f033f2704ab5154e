//! The four changes as [`Work`] for the store: each reads the locked state, decides by the
//! domain's rules, calls the gateway when money moves, and returns everything to write.

use uuid::Uuid;

use super::{
    Authorize, COD_PROVIDER, CaptureRequest, Instrument, Payments, RefundRequest, VoidRequest,
};
use crate::domain::{
    Capture, Failure, FailureReason, GatewayError, NewPayment, Payment, PaymentError,
    PaymentMethod, Refund, RefundStatus, Settlement, StoredCard, capture_journal, now,
    refund_journal,
};
use crate::events;
use crate::gateway::{Authorization, Gateway};
use crate::store::{Change, PaymentStore, Subject, Work};

/// The payment in `current`, or NOT_FOUND.
fn the_payment(current: Vec<Payment>, id: Uuid) -> Result<Payment, PaymentError> {
    current
        .into_iter()
        .next()
        .ok_or_else(|| PaymentError::NotFound(format!("payment {id}")))
}

/// Creates a payment for an order with no live one and authorizes it: a card at the
/// gateway (a time-out or error settles it FAILED), cash at once.
pub(super) struct AuthorizeWork<'a, S, G> {
    pub(super) use_cases: &'a Payments<S, G>,
    pub(super) request: Authorize,
}

impl<S: PaymentStore, G: Gateway> AuthorizeWork<'_, S, G> {
    async fn settle(&self) -> Settlement {
        let Instrument::Card(card) = &self.request.instrument else {
            return Settlement::Approved {
                reference: String::new(),
                card: None,
            };
        };
        let gateway = &self.use_cases.gateway;
        match self
            .use_cases
            .call(gateway.authorize(card, &self.request.amount))
            .await
        {
            Ok(Authorization::Approved { reference, card }) => Settlement::Approved {
                reference,
                card: Some(card),
            },
            Ok(Authorization::Declined {
                reason,
                message,
                card,
            }) => Settlement::Refused {
                failure: Failure { reason, message },
                card: Some(card),
            },
            Err(error) => {
                tracing::warn!(
                    %error,
                    order_id = %self.request.order_id,
                    last4 = %card.number.last4(),
                    "card authorization failed"
                );
                let reason = match error {
                    GatewayError::Timeout(_) => FailureReason::GatewayTimeout,
                    GatewayError::Failed(_) => FailureReason::GatewayError,
                };
                Settlement::Refused {
                    failure: Failure {
                        reason,
                        message: error.to_string(),
                    },
                    card: Some(StoredCard {
                        token: String::new(),
                        brand: card.number.brand(),
                        last4: card.number.last4(),
                    }),
                }
            }
        }
    }
}

impl<S: PaymentStore, G: Gateway> Work for AuthorizeWork<'_, S, G> {
    fn subject(&self) -> Subject {
        Subject::Order(self.request.order_id)
    }

    async fn decide(self, current: Vec<Payment>) -> Result<Change, PaymentError> {
        if let Some(live) = current.iter().find(|p| p.status.is_live()) {
            return Err(PaymentError::AlreadyPaid {
                order_id: live.order_id,
                payment_id: live.id,
                status: live.status,
            });
        }
        let (method, provider) = match self.request.instrument {
            Instrument::Card(_) => (PaymentMethod::Card, self.use_cases.gateway.name()),
            Instrument::CashOnDelivery => (PaymentMethod::CashOnDelivery, COD_PROVIDER),
        };
        let pending = Payment::pending(
            NewPayment {
                order_id: self.request.order_id,
                user_id: self.request.user_id,
                amount: self.request.amount.clone(),
                method,
            },
            provider,
            now(),
        );
        let payment = pending.settle(self.settle().await, now())?;
        let events = match (payment.failure.is_some(), method) {
            (true, _) => vec![events::failed(&payment)],
            (false, PaymentMethod::CashOnDelivery) => {
                vec![events::confirmed(&payment, payment.amount.minor)]
            }
            (false, PaymentMethod::Card) => Vec::new(),
        };
        Ok(Change {
            events,
            ..Change::unchanged(payment)
        })
    }
}

/// Takes an authorized payment's money (the gateway for cards) and posts the journal.
pub(super) struct CaptureWork<'a, S, G> {
    pub(super) use_cases: &'a Payments<S, G>,
    pub(super) request: CaptureRequest,
}

impl<S: PaymentStore, G: Gateway> Work for CaptureWork<'_, S, G> {
    fn subject(&self) -> Subject {
        Subject::Payment(self.request.payment_id)
    }

    async fn decide(self, current: Vec<Payment>) -> Result<Change, PaymentError> {
        let payment = the_payment(current, self.request.payment_id)?;
        let amount = match payment.plan_capture(self.request.amount)? {
            Capture::AlreadyCaptured => return Ok(Change::unchanged(payment)),
            Capture::Take(amount) => amount,
        };
        let card = payment.method == PaymentMethod::Card;
        if card {
            let gateway = &self.use_cases.gateway;
            self.use_cases
                .call(gateway.capture(
                    &payment.provider_reference,
                    &payment.amount.with_minor(amount),
                ))
                .await
                .map_err(PaymentError::Gateway)?;
        }
        let at = now();
        let payment = payment.capture(amount, at)?;
        let entries = capture_journal(&payment, amount, self.use_cases.settings.fee_bps, at);
        // Cash on delivery was confirmed when it was agreed; a card when it is captured.
        let events = if card {
            vec![events::confirmed(&payment, amount)]
        } else {
            Vec::new()
        };
        Ok(Change {
            entries,
            events,
            ..Change::unchanged(payment)
        })
    }
}

/// Releases an authorization; a payment already over is returned as it is.
pub(super) struct VoidWork<'a, S, G> {
    pub(super) use_cases: &'a Payments<S, G>,
    pub(super) request: VoidRequest,
}

impl<S: PaymentStore, G: Gateway> Work for VoidWork<'_, S, G> {
    fn subject(&self) -> Subject {
        Subject::Payment(self.request.payment_id)
    }

    async fn decide(self, current: Vec<Payment>) -> Result<Change, PaymentError> {
        let payment = the_payment(current, self.request.payment_id)?;
        if !payment.needs_void()? {
            return Ok(Change::unchanged(payment));
        }
        if payment.method == PaymentMethod::Card {
            let gateway = &self.use_cases.gateway;
            self.use_cases
                .call(gateway.void(&payment.provider_reference))
                .await
                .map_err(PaymentError::Gateway)?;
        }
        tracing::info!(payment_id = %payment.id, reason = %self.request.reason, "payment voided");
        Ok(Change::unchanged(payment.void(now())?))
    }
}

/// Returns money of a captured payment and posts the reversing journal.
pub(super) struct RefundWork<'a, S, G> {
    pub(super) use_cases: &'a Payments<S, G>,
    pub(super) request: RefundRequest,
}

impl<S: PaymentStore, G: Gateway> Work for RefundWork<'_, S, G> {
    fn subject(&self) -> Subject {
        Subject::Payment(self.request.payment_id)
    }

    async fn decide(self, current: Vec<Payment>) -> Result<Change, PaymentError> {
        let payment = the_payment(current, self.request.payment_id)?;
        let amount = payment
            .amount
            .with_minor(payment.plan_refund(self.request.amount)?);
        let created_at = now();
        let provider_reference = match payment.method {
            PaymentMethod::Card => {
                let gateway = &self.use_cases.gateway;
                self.use_cases
                    .call(gateway.refund(&payment.provider_reference, &amount))
                    .await
                    .map_err(PaymentError::Gateway)?
            }
            PaymentMethod::CashOnDelivery => String::new(),
        };
        let at = now();
        let refund = Refund {
            id: Uuid::now_v7(),
            payment_id: payment.id,
            amount,
            reason: self.request.reason.trim().to_owned(),
            status: RefundStatus::Succeeded,
            provider_reference,
            failure_message: String::new(),
            created_at,
            completed_at: Some(at),
        };
        let payment = payment.refund(refund.clone(), at)?;
        let entries = refund_journal(&payment, &refund, at);
        let events = vec![events::refunded(&payment, &refund)];
        Ok(Change {
            payment,
            new_refund: Some(refund),
            entries,
            events,
        })
    }
}
