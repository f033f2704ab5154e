//! The tonic service: per-method policies, request parsing at the edge, paging, and the
//! mapping of payment errors to gRPC statuses.

mod access;
pub(crate) mod convert;
#[cfg(test)]
mod fuzz;
mod status;

use chrono::{DateTime, Utc};
use mandi_runtime::auth::{Policy, caller, roles};
use mandi_runtime::paging;
use mandi_sdk::proto::mandi::payment::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use convert::{
    account_filter, authorize_request, entry_to_proto, from_timestamp, optional_amount, parse_id,
    parse_optional_id, payment_to_proto, refund_to_proto, status_filter,
};
use status::{paging_status, to_status};

use crate::domain::{EntryFilter, PaymentError, PaymentFilter, now};
use crate::gateway::Gateway;
use crate::payments::{Caller, CaptureRequest, Payments, RefundRequest, VoidRequest};
use crate::store::{Executed, PaymentStore};

const DOMAIN: &str = "mandi.payment";

const ADMIN: &[&str] = &[roles::ADMIN];
const SERVICE: &[&str] = &[roles::SERVICE];
const ADMIN_OR_SERVICE: &[&str] = &[roles::ADMIN, roles::SERVICE];

/// Who may call each method. AuthorizePayment is narrowed further in the handler to the
/// checkout service; GetPayment and ListPayments to the payer's own payments for anyone
/// but admins and services.
pub const POLICIES: &[(&str, Policy)] = &[
    ("AuthorizePayment", Policy::AnyRole(SERVICE)),
    ("CapturePayment", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("VoidPayment", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("GetPayment", Policy::SignedIn),
    ("ListPayments", Policy::SignedIn),
    ("RefundPayment", Policy::AnyRole(ADMIN_OR_SERVICE)),
    ("ListLedgerEntries", Policy::AnyRole(ADMIN)),
];

/// Default and largest page of ListPayments.
const PAYMENTS_PAGE: (usize, usize) = (50, 200);
/// Default and largest page of ListLedgerEntries.
const ENTRIES_PAGE: (usize, usize) = (50, 500);

/// Serves `mandi.payment.v1.PaymentService`.
pub struct PaymentGrpc<S, G> {
    payments: Payments<S, G>,
}

impl<S, G> PaymentGrpc<S, G> {
    /// Serves the `payments` use cases.
    pub fn new(payments: Payments<S, G>) -> Self {
        Self { payments }
    }
}

/// The caller and request id a keyed handler passes on.
fn keyed<'a, T>(request: &'a Request<T>, request_id: &'a str) -> Result<Caller<'a>, Status> {
    Ok(Caller {
        subject: &caller(request)?.subject,
        request_id,
    })
}

fn payment_reply(executed: &Executed) -> pb::Payment {
    payment_to_proto(&executed.outcome.payment)
}

/// Keeps the first `limit` items and returns the token for the rest (empty at the end).
fn next_token<T, K: serde::Serialize>(
    items: &mut Vec<T>,
    limit: usize,
    fingerprint: &str,
    key: impl Fn(&T) -> K,
) -> String {
    if items.len() <= limit {
        return String::new();
    }
    items.truncate(limit);
    items
        .last()
        .map(|last| paging::encode_token(&key(last), fingerprint))
        .unwrap_or_default()
}

fn cursor_time(micros: i64) -> Result<DateTime<Utc>, Status> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
        to_status(PaymentError::invalid(
            "page_token",
            "is not a token this service issued",
        ))
    })
}

#[tonic::async_trait]
impl<S: PaymentStore, G: Gateway> pb::payment_service_server::PaymentService for PaymentGrpc<S, G> {
    async fn authorize_payment(
        &self,
        request: Request<pb::AuthorizePaymentRequest>,
    ) -> Result<Response<pb::AuthorizePaymentResponse>, Status> {
        access::may_authorize(caller(&request)?)?;
        let message = request.get_ref().clone();
        let request_id = message.request_id.clone();
        let authorize = authorize_request(message, now()).map_err(to_status)?;
        let executed = self
            .payments
            .authorize(keyed(&request, &request_id)?, authorize)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AuthorizePaymentResponse {
            payment: Some(payment_reply(&executed)),
        }))
    }

    async fn capture_payment(
        &self,
        request: Request<pb::CapturePaymentRequest>,
    ) -> Result<Response<pb::CapturePaymentResponse>, Status> {
        let message = request.get_ref();
        let capture = CaptureRequest {
            payment_id: parse_id(&message.payment_id, "payment_id").map_err(to_status)?,
            amount: optional_amount(message.amount.clone(), "amount").map_err(to_status)?,
        };
        let executed = self
            .payments
            .capture(keyed(&request, &message.request_id)?, capture)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CapturePaymentResponse {
            payment: Some(payment_reply(&executed)),
        }))
    }

    async fn void_payment(
        &self,
        request: Request<pb::VoidPaymentRequest>,
    ) -> Result<Response<pb::VoidPaymentResponse>, Status> {
        let message = request.get_ref();
        let void = VoidRequest {
            payment_id: parse_id(&message.payment_id, "payment_id").map_err(to_status)?,
            reason: message.reason.clone(),
        };
        let executed = self
            .payments
            .void(keyed(&request, &message.request_id)?, void)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::VoidPaymentResponse {
            payment: Some(payment_reply(&executed)),
        }))
    }

    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::GetPaymentResponse>, Status> {
        let id = parse_id(&request.get_ref().payment_id, "payment_id").map_err(to_status)?;
        let payment = self
            .payments
            .store()
            .payment(id)
            .await
            .map_err(to_status)?
            .ok_or_else(|| to_status(PaymentError::NotFound(format!("payment {id}"))))?;
        access::may_read(caller(&request)?, &payment)?;
        Ok(Response::new(pb::GetPaymentResponse {
            payment: Some(payment_to_proto(&payment)),
        }))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let message = request.get_ref();
        let user_id = parse_optional_id(&message.user_id, "user_id").map_err(to_status)?;
        let filter = PaymentFilter {
            order_id: parse_optional_id(&message.order_id, "order_id").map_err(to_status)?,
            user_id: access::listing_user(caller(&request)?, user_id)?,
            status: status_filter(message.status).map_err(to_status)?,
        };
        let limit = paging::page_size(message.page_size, PAYMENTS_PAGE.0, PAYMENTS_PAGE.1)
            .map_err(paging_status)?;
        let fingerprint = paging::fingerprint(&filter);
        let after: Option<(i64, Uuid)> =
            paging::decode_token(&message.page_token, &fingerprint).map_err(paging_status)?;
        let after = match after {
            Some((micros, id)) => Some((cursor_time(micros)?, id)),
            None => None,
        };
        let mut payments = self
            .payments
            .store()
            .list_payments(&filter, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token = next_token(&mut payments, limit, &fingerprint, |p| {
            (p.created_at.timestamp_micros(), p.id)
        });
        Ok(Response::new(pb::ListPaymentsResponse {
            payments: payments.iter().map(payment_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn refund_payment(
        &self,
        request: Request<pb::RefundPaymentRequest>,
    ) -> Result<Response<pb::RefundPaymentResponse>, Status> {
        let message = request.get_ref();
        let refund = RefundRequest {
            payment_id: parse_id(&message.payment_id, "payment_id").map_err(to_status)?,
            amount: optional_amount(message.amount.clone(), "amount").map_err(to_status)?,
            reason: message.reason.clone(),
        };
        let executed = self
            .payments
            .refund(keyed(&request, &message.request_id)?, refund)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RefundPaymentResponse {
            refund: executed.outcome.refund.as_ref().map(refund_to_proto),
            payment: Some(payment_reply(&executed)),
        }))
    }

    async fn list_ledger_entries(
        &self,
        request: Request<pb::ListLedgerEntriesRequest>,
    ) -> Result<Response<pb::ListLedgerEntriesResponse>, Status> {
        let message = request.into_inner();
        let filter = EntryFilter {
            payment_id: parse_optional_id(&message.payment_id, "payment_id").map_err(to_status)?,
            order_id: parse_optional_id(&message.order_id, "order_id").map_err(to_status)?,
            account: account_filter(message.account).map_err(to_status)?,
            journal_id: parse_optional_id(&message.journal_id, "journal_id").map_err(to_status)?,
            start: from_timestamp(message.start_time, "start_time").map_err(to_status)?,
            end: from_timestamp(message.end_time, "end_time").map_err(to_status)?,
        };
        let limit = paging::page_size(message.page_size, ENTRIES_PAGE.0, ENTRIES_PAGE.1)
            .map_err(paging_status)?;
        let fingerprint = paging::fingerprint(&filter);
        let after: Option<i64> =
            paging::decode_token(&message.page_token, &fingerprint).map_err(paging_status)?;
        let mut entries = self
            .payments
            .store()
            .list_entries(&filter, after, limit + 1)
            .await
            .map_err(to_status)?;
        let next_page_token =
            next_token(&mut entries, limit, &fingerprint, |(position, _)| *position);
        Ok(Response::new(pb::ListLedgerEntriesResponse {
            entries: entries.iter().map(|(_, e)| entry_to_proto(e)).collect(),
            next_page_token,
        }))
    }
}
