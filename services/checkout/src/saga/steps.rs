//! Each step's calls and each compensation's, over the SDK. Every call is keyed so that
//! repeating it (after a timeout or a crash) applies it once: the order by the checkout id,
//! stock and the slot by the order id, payments by `{checkout_id}/authorize|capture|void|refund`, order
//! status changes and the cart by UUIDs derived from the checkout id.

use mandi_sdk::proto::mandi::cart::v1::ClearCartRequest;
use mandi_sdk::proto::mandi::common::v1::Money;
use mandi_sdk::proto::mandi::inventory::v1::{
    CommitRequest, ReleaseRequest, ReservationLine, ReserveRequest,
};
use mandi_sdk::proto::mandi::order::v1::{
    BookedSlot, CancelOrderRequest, CreateOrderRequest, OrderItem, OrderStatus,
    UpdateOrderStatusRequest,
};
use mandi_sdk::proto::mandi::payment::v1::{
    AuthorizePaymentRequest, CapturePaymentRequest, CardDetails, GetPaymentRequest,
    ListPaymentsRequest, Payment, PaymentMethod as PbMethod, PaymentStatus, RefundPaymentRequest,
    VoidPaymentRequest,
};
use mandi_sdk::proto::mandi::shipping::v1::{ReleaseSlotRequest, ReserveSlotRequest};
use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt as _;
use uuid::Uuid;

use super::{Orchestrator, payment_failure};
use crate::domain::{
    Failure, FailureReason, PaymentMethod, Saga, ShortLine, State, Step, derived_key,
};
use crate::peers::{CallError, as_shopper, call, destination_to_proto};
use crate::store::CheckoutStore;

/// A step's outcome: a note when done, or the failure to compensate.
type Outcome = Result<Result<String, Failure>, CallError>;

impl<S: CheckoutStore> Orchestrator<S> {
    /// Makes `step`'s calls.
    pub(super) async fn perform(&self, saga: &mut Saga, step: Step) -> Outcome {
        match step {
            Step::CreateOrder => self.create_order(saga).await,
            Step::Reserve => self.reserve(saga).await,
            Step::ReserveSlot => self.reserve_slot(saga).await,
            Step::Authorize => self.authorize(saga).await,
            Step::Capture => self.capture(saga).await,
            Step::ConfirmOrder => self.confirm_order(saga).await,
            Step::Commit => self.commit(saga).await,
            Step::ClearCart => self.clear_cart(saga).await,
        }
    }

    fn money(&self, saga: &Saga, amount: i64) -> Option<Money> {
        Some(Money {
            currency_code: saga.totals.currency.clone(),
            amount_minor: amount,
        })
    }

    fn order_id(saga: &Saga) -> String {
        saga.order_id.map(|id| id.to_string()).unwrap_or_default()
    }

    async fn create_order(&self, saga: &mut Saga) -> Outcome {
        let request = CreateOrderRequest {
            user_id: saga.user_id.to_string(),
            checkout_id: saga.id.to_string(),
            items: saga
                .lines
                .iter()
                .map(|l| OrderItem {
                    product_id: l.product_id.clone(),
                    product_display_name: l.display_name.clone(),
                    image_url: l.image_url.clone(),
                    vendor_id: l.vendor_id.clone(),
                    unit_of_sale: l.unit_of_sale,
                    quantity: l.quantity,
                    unit_price: self.money(saga, l.unit_price),
                    line_total: None,
                })
                .collect(),
            destination: Some(destination_to_proto(&saga.destination)),
            delivery_slot: saga.delivery.as_ref().map(|d| BookedSlot {
                slot_id: saga.slot_id.clone(),
                start_time: Some(timestamp(d.slot_start)),
                end_time: Some(timestamp(d.slot_end)),
            }),
            delivery_fee: self.money(saga, saga.totals.delivery_fee),
            tax: self.money(saga, saga.totals.tax),
            expected_total: self.money(saga, saga.totals.total()),
            payment_method: pb_method(saga.method) as i32,
            request_id: saga.id.to_string(),
            discount: None,
        };
        let mandi = self.peers.service().await?;
        let created = call(
            "order",
            self.peers.deadline,
            mandi.order().create_order(request),
        )
        .await?;
        let Some(order) = created.order else {
            return Err(missing("order", "the created order"));
        };
        saga.order_id = Uuid::parse_str(&order.id).ok();
        saga.order_status = order.status;
        Ok(Ok(format!("order {} created", order.id)))
    }

    async fn reserve(&self, saga: &mut Saga) -> Outcome {
        let request = ReserveRequest {
            order_id: Self::order_id(saga),
            lines: saga
                .lines
                .iter()
                .map(|l| ReservationLine {
                    product_id: l.product_id.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            allow_split_warehouses: true,
            ttl: Some(prost_types::Duration {
                seconds: i64::try_from(self.settings.reservation_ttl.as_secs()).unwrap_or(900),
                nanos: 0,
            }),
            deliver_to: None,
            request_id: String::new(),
        };
        let mandi = self.peers.service().await?;
        match call(
            "inventory",
            self.peers.deadline,
            mandi.inventory().reserve(request),
        )
        .await
        {
            Ok(reply) => {
                // A batch that must stay cold makes the whole delivery cold-chain, whatever
                // the catalog says of the product.
                let cold_batch = reply.reservation.iter().any(|r| {
                    r.lines
                        .iter()
                        .flat_map(|l| &l.allocations)
                        .any(|a| a.cold_chain)
                });
                if let Some(delivery) = saga.delivery.as_mut()
                    && cold_batch
                    && !delivery.cold_chain
                {
                    delivery.cold_chain = true;
                    return Ok(Ok("stock reserved; a batch needs the cold chain".into()));
                }
                Ok(Ok("stock reserved".into()))
            }
            Err(error) => match error.refusal() {
                Some(status) if status.code() == Code::FailedPrecondition => {
                    let short = short_lines(status);
                    if short.is_empty() {
                        return Err(error);
                    }
                    let mut failure = Failure::new(
                        FailureReason::OutOfStock,
                        format!(
                            "not enough stock for {} of the lines ({})",
                            short.len(),
                            short
                                .iter()
                                .map(|s| format!(
                                    "{}: requested {}, available {}",
                                    s.product_id, s.requested, s.available
                                ))
                                .collect::<Vec<_>>()
                                .join("; ")
                        ),
                        State::OrderCreated,
                    );
                    failure.short_lines = short;
                    Ok(Err(failure))
                }
                _ => Err(error),
            },
        }
    }

    async fn reserve_slot(&self, saga: &mut Saga) -> Outcome {
        // A saga stored before shipping existed books no slot.
        let Some(delivery) = saga.delivery.clone() else {
            return Ok(Ok("no delivery slot to book".into()));
        };
        // Held as long as the stock, within what shipping allows.
        let ttl = self
            .settings
            .reservation_ttl
            .clamp(Duration::from_secs(60), Duration::from_secs(3600));
        let request = ReserveSlotRequest {
            slot_id: saga.slot_id.clone(),
            order_id: Self::order_id(saga),
            cold_chain: delivery.cold_chain,
            ttl: Some(prost_types::Duration {
                seconds: i64::try_from(ttl.as_secs()).unwrap_or(900),
                nanos: 0,
            }),
            request_id: derived_key(saga.id, "reserve-slot").to_string(),
            weight_grams: delivery.weight_grams,
        };
        let mandi = self.peers.service().await?;
        match call(
            "shipping",
            self.peers.deadline,
            mandi.shipping().reserve_slot(request),
        )
        .await
        {
            Ok(_) => Ok(Ok(format!("delivery slot {} held", saga.slot_id))),
            Err(error) => match error.refusal() {
                Some(status)
                    if status.code() == Code::FailedPrecondition
                        && status
                            .get_details_error_info()
                            .is_some_and(|info| info.reason == "SLOT_UNAVAILABLE") =>
                {
                    Ok(Err(Failure::new(
                        FailureReason::SlotUnavailable,
                        format!(
                            "the delivery slot is no longer available ({}); choose another",
                            status.message()
                        ),
                        saga.state,
                    )))
                }
                _ => Err(error),
            },
        }
    }

    async fn authorize(&self, saga: &mut Saga) -> Outcome {
        let mandi = self.peers.service().await?;
        let order_id = Self::order_id(saga);
        if saga.method == PaymentMethod::Card && saga.order_status == OrderStatus::Created as i32 {
            let updated = call(
                "order",
                self.peers.deadline,
                mandi.order().update_order_status(UpdateOrderStatusRequest {
                    order_id: order_id.clone(),
                    status: OrderStatus::PaymentPending as i32,
                    reason: "card authorization started".into(),
                    request_id: derived_key(saga.id, "payment-pending").to_string(),
                    ..Default::default()
                }),
            )
            .await?;
            if let Some(order) = updated.order {
                saga.order_status = order.status;
            }
        }
        let card = self.card(saga.id);
        let payment = match (saga.method, card) {
            (PaymentMethod::Card, None) => {
                // After a restart the card is gone (it is never stored): an authorization
                // made before the crash is found by order; without one the saga cannot pay.
                match self.payment_of_order(&order_id).await? {
                    Some(payment) => payment,
                    None => {
                        return Ok(Err(payment_failure(
                            FailureReason::PaymentFailed,
                            0,
                            "the card details are not kept across a restart of checkout; \
                             nothing was charged, start a new checkout"
                                .into(),
                            saga.state,
                        )));
                    }
                }
            }
            (method, card) => {
                let request = AuthorizePaymentRequest {
                    order_id: order_id.clone(),
                    user_id: saga.user_id.to_string(),
                    amount: self.money(saga, saga.totals.total()),
                    method: pb_method(method) as i32,
                    card: card.map(|c| CardDetails {
                        token: c.token,
                        exp_month: c.exp_month,
                        exp_year: c.exp_year,
                    }),
                    request_id: format!("{}/authorize", saga.id),
                };
                let reply = call(
                    "payment",
                    self.peers.deadline,
                    mandi.payment().authorize_payment(request),
                )
                .await?;
                reply
                    .payment
                    .ok_or_else(|| missing("payment", "the payment"))?
            }
        };
        saga.payment_id = Some(payment.id.clone());
        saga.payment_status = payment.status;
        match PaymentStatus::try_from(payment.status).unwrap_or(PaymentStatus::Unspecified) {
            PaymentStatus::Authorized | PaymentStatus::Captured => {
                lock_forget_card(self, saga.id);
                Ok(Ok(format!("payment {} authorized", payment.id)))
            }
            PaymentStatus::Declined => {
                lock_forget_card(self, saga.id);
                Ok(Err(payment_failure(
                    FailureReason::PaymentDeclined,
                    payment.failure_reason,
                    format!("payment declined: {}", decline_text(&payment)),
                    saga.state,
                )))
            }
            PaymentStatus::Failed => {
                lock_forget_card(self, saga.id);
                Ok(Err(payment_failure(
                    FailureReason::PaymentFailed,
                    payment.failure_reason,
                    format!("payment failed: {}", decline_text(&payment)),
                    saga.state,
                )))
            }
            status => Err(CallError::Transient {
                service: "payment",
                reason: format!("payment is {}", status.as_str_name()),
            }),
        }
    }

    /// The latest payment of `order_id`, if any.
    async fn payment_of_order(&self, order_id: &str) -> Result<Option<Payment>, CallError> {
        let mandi = self.peers.service().await?;
        let listed = call(
            "payment",
            self.peers.deadline,
            mandi.payment().list_payments(ListPaymentsRequest {
                order_id: order_id.to_owned(),
                page_size: 10,
                ..Default::default()
            }),
        )
        .await?;
        Ok(listed.payments.into_iter().next())
    }

    async fn capture(&self, saga: &mut Saga) -> Outcome {
        let mandi = self.peers.service().await?;
        let reply = call(
            "payment",
            self.peers.deadline,
            mandi.payment().capture_payment(CapturePaymentRequest {
                payment_id: saga.payment_id.clone().unwrap_or_default(),
                amount: None,
                request_id: format!("{}/capture", saga.id),
            }),
        )
        .await;
        let payment = match reply {
            Ok(reply) => reply
                .payment
                .ok_or_else(|| missing("payment", "the payment"))?,
            Err(error) => match error.refusal() {
                Some(status) if status.code() == Code::FailedPrecondition => {
                    return Ok(Err(Failure::new(
                        FailureReason::PaymentFailed,
                        format!("payment could not be captured: {}", status.message()),
                        saga.state,
                    )));
                }
                _ => return Err(error),
            },
        };
        saga.payment_status = payment.status;
        if payment.status == PaymentStatus::Captured as i32 {
            Ok(Ok(format!("payment {} captured", payment.id)))
        } else {
            Ok(Err(payment_failure(
                FailureReason::PaymentFailed,
                payment.failure_reason,
                format!("payment could not be captured: {}", decline_text(&payment)),
                saga.state,
            )))
        }
    }

    async fn confirm_order(&self, saga: &mut Saga) -> Outcome {
        let mandi = self.peers.service().await?;
        let reply = call(
            "order",
            self.peers.deadline,
            mandi.order().update_order_status(UpdateOrderStatusRequest {
                order_id: Self::order_id(saga),
                status: OrderStatus::Paid as i32,
                reason: match saga.method {
                    PaymentMethod::Card => "payment captured".into(),
                    PaymentMethod::CashOnDelivery => "cash on delivery agreed".into(),
                },
                payment_id: saga.payment_id.clone().unwrap_or_default(),
                request_id: derived_key(saga.id, "paid").to_string(),
                ..Default::default()
            }),
        )
        .await;
        match reply {
            Ok(reply) => {
                if let Some(order) = reply.order {
                    saga.order_status = order.status;
                }
                Ok(Ok("order paid".into()))
            }
            Err(error) => match error.refusal() {
                // The shopper cancelled the order meanwhile: the payment is given back.
                Some(status) if status.code() == Code::FailedPrecondition => Ok(Err(Failure::new(
                    FailureReason::Internal,
                    "the order was cancelled before it was confirmed; the payment is returned",
                    saga.state,
                ))),
                _ => Err(error),
            },
        }
    }

    async fn commit(&self, saga: &mut Saga) -> Outcome {
        let mandi = self.peers.service().await?;
        let reply = call(
            "inventory",
            self.peers.deadline,
            mandi.inventory().commit(CommitRequest {
                order_id: Self::order_id(saga),
                request_id: String::new(),
            }),
        )
        .await;
        match reply {
            Ok(_) => Ok(Ok("stock committed".into())),
            Err(error) => match error.refusal() {
                // The hold expired (the saga was stopped longer than its TTL).
                Some(status) if status.code() == Code::FailedPrecondition => Ok(Err(Failure::new(
                    FailureReason::OutOfStock,
                    "the stock hold ended before it was committed; the payment is returned",
                    saga.state,
                ))),
                _ => Err(error),
            },
        }
    }

    async fn clear_cart(&self, saga: &mut Saga) -> Outcome {
        let Some(bearer) = self.bearer(saga.id) else {
            return Ok(Ok(
                "order placed; the cart was left as it was (the shopper's token is not kept \
                 across a restart of checkout)"
                    .into(),
            ));
        };
        let request = as_shopper(
            ClearCartRequest {
                cart_id: saga.cart_id.clone(),
                request_id: derived_key(saga.id, "clear-cart").to_string(),
            },
            &bearer,
        );
        match call(
            "cart",
            self.peers.deadline,
            self.peers.shopper().cart().clear_cart(request),
        )
        .await
        {
            Ok(_) => Ok(Ok("order placed, cart cleared".into())),
            Err(error) if error.refusal().is_some() => Ok(Ok(format!(
                "order placed; the cart could not be cleared: {error}"
            ))),
            Err(error) => Err(error),
        }
    }

    /// Undoes `step`: refund or void the payment, release the slot, release the stock,
    /// cancel the order.
    pub(super) async fn undo(&self, saga: &mut Saga, step: Step) -> Result<String, CallError> {
        let reason = saga
            .failure
            .as_ref()
            .map(|f| format!("checkout failed: {}", f.message))
            .unwrap_or_else(|| "checkout failed".into());
        let reason: String = reason.chars().take(480).collect();
        let mandi = self.peers.service().await?;
        let order_id = Self::order_id(saga);
        match step {
            Step::Authorize => {
                let payment = match &saga.payment_id {
                    Some(id) => {
                        call(
                            "payment",
                            self.peers.deadline,
                            mandi.payment().get_payment(GetPaymentRequest {
                                payment_id: id.clone(),
                            }),
                        )
                        .await?
                        .payment
                    }
                    None if saga.order_id.is_some() => self.payment_of_order(&order_id).await?,
                    None => None,
                };
                let Some(payment) = payment else {
                    return Ok("no payment to return".into());
                };
                saga.payment_id = Some(payment.id.clone());
                saga.payment_status = payment.status;
                match PaymentStatus::try_from(payment.status).unwrap_or(PaymentStatus::Unspecified)
                {
                    PaymentStatus::Authorized => {
                        let voided = call(
                            "payment",
                            self.peers.deadline,
                            mandi.payment().void_payment(VoidPaymentRequest {
                                payment_id: payment.id.clone(),
                                reason,
                                request_id: format!("{}/void", saga.id),
                            }),
                        )
                        .await?;
                        saga.payment_status =
                            voided.payment.map_or(saga.payment_status, |p| p.status);
                        Ok(format!("payment {} voided", payment.id))
                    }
                    PaymentStatus::Captured | PaymentStatus::PartiallyRefunded => {
                        let refunded = call(
                            "payment",
                            self.peers.deadline,
                            mandi.payment().refund_payment(RefundPaymentRequest {
                                payment_id: payment.id.clone(),
                                amount: None,
                                reason,
                                request_id: format!("{}/refund", saga.id),
                            }),
                        )
                        .await?;
                        saga.payment_status =
                            refunded.payment.map_or(saga.payment_status, |p| p.status);
                        Ok(format!("payment {} refunded", payment.id))
                    }
                    PaymentStatus::Pending => Err(CallError::Transient {
                        service: "payment",
                        reason: "the authorization is still at the gateway".into(),
                    }),
                    _ => Ok("nothing was charged".into()),
                }
            }
            Step::ReserveSlot => {
                let released = call(
                    "shipping",
                    self.peers.deadline,
                    mandi.shipping().release_slot(ReleaseSlotRequest {
                        order_id,
                        request_id: derived_key(saga.id, "release-slot").to_string(),
                    }),
                )
                .await;
                match released {
                    Ok(reply) if reply.reservation.is_some() => Ok("delivery slot released".into()),
                    Ok(_) => Ok("no delivery slot held".into()),
                    // A shipment took the hold over once the payment was confirmed; cancelling
                    // the order cancels the shipment, which gives the place back.
                    Err(error)
                        if error
                            .refusal()
                            .is_some_and(|s| s.code() == Code::FailedPrecondition) =>
                    {
                        Ok("the delivery slot goes with the cancelled shipment".into())
                    }
                    Err(error) => Err(error),
                }
            }
            Step::Reserve => {
                let released = call(
                    "inventory",
                    self.peers.deadline,
                    mandi.inventory().release(ReleaseRequest {
                        order_id,
                        reason,
                        request_id: String::new(),
                    }),
                )
                .await;
                match released {
                    Ok(_) => Ok("stock released".into()),
                    // Never reserved (short), or already released or expired.
                    Err(error)
                        if error.refusal().is_some_and(|s| {
                            matches!(s.code(), Code::NotFound | Code::FailedPrecondition)
                        }) =>
                    {
                        Ok("no stock held".into())
                    }
                    Err(error) => Err(error),
                }
            }
            Step::CreateOrder => {
                let mut order_id = order_id;
                if saga.order_id.is_none() {
                    // The create was sent but its answer lost (order or the link died
                    // after the commit): replaying it, idempotent by checkout id, finds
                    // the order to cancel; a refusal means none was made.
                    match self.create_order(saga).await {
                        Ok(Ok(_)) => order_id = Self::order_id(saga),
                        Ok(Err(_)) => return Ok("no order was created".into()),
                        Err(error) if error.refusal().is_some() => {
                            return Ok("no order was created".into());
                        }
                        Err(error) => return Err(error),
                    }
                }
                let cancelled = call(
                    "order",
                    self.peers.deadline,
                    mandi.order().cancel_order(CancelOrderRequest {
                        order_id,
                        reason,
                        request_id: derived_key(saga.id, "cancel").to_string(),
                    }),
                )
                .await?;
                if let Some(order) = cancelled.order {
                    saga.order_status = order.status;
                }
                Ok("order cancelled".into())
            }
            other => Ok(format!("{} needs no undoing", other.name())),
        }
    }
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn lock_forget_card<S>(orchestrator: &Orchestrator<S>, id: Uuid) {
    super::lock(&orchestrator.cards).remove(&id);
}

fn pb_method(method: PaymentMethod) -> PbMethod {
    match method {
        PaymentMethod::Card => PbMethod::Card,
        PaymentMethod::CashOnDelivery => PbMethod::CashOnDelivery,
    }
}

fn decline_text(payment: &Payment) -> String {
    if payment.failure_message.is_empty() {
        mandi_sdk::proto::mandi::payment::v1::FailureReason::try_from(payment.failure_reason)
            .map(|r| r.as_str_name().to_owned())
            .unwrap_or_else(|_| "no reason given".into())
    } else {
        payment.failure_message.clone()
    }
}

fn missing(service: &'static str, what: &str) -> CallError {
    CallError::Transient {
        service,
        reason: format!("the answer lacks {what}"),
    }
}

/// The short lines of inventory's INSUFFICIENT_STOCK refusal: one PreconditionFailure
/// violation per line, subject `products/{id}`, description `requested N, available M`.
fn short_lines(status: &tonic::Status) -> Vec<ShortLine> {
    let Some(failure) = status.get_details_precondition_failure() else {
        return Vec::new();
    };
    failure
        .violations
        .iter()
        .filter(|v| v.r#type == "INSUFFICIENT_STOCK")
        .map(|v| {
            let numbers: Vec<i64> = v
                .description
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            ShortLine {
                product_id: v
                    .subject
                    .strip_prefix("products/")
                    .unwrap_or(&v.subject)
                    .to_owned(),
                requested: numbers.first().copied().unwrap_or(0),
                available: numbers.get(1).copied().unwrap_or(0),
            }
        })
        .collect()
}
