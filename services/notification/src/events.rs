//! The events notification reacts to, and the notice each one becomes: who it is for, the
//! template and its values. Customers hear about their orders, payments, refunds and
//! deliveries; the vendor of the product (found through catalog, since the events name
//! none) about low stock, and the vendor and operations (a configured address) about
//! expiring batches.

use std::collections::BTreeMap;

use mandi_sdk::proto::mandi::common::v1::Money;
use mandi_sdk::proto::mandi::events::v1::EventEnvelope;
use mandi_sdk::proto::mandi::events::v1::event_envelope::Payload;
use mandi_sdk::proto::mandi::order::v1::OrderStatus;
use mandi_sdk::proto::mandi::payment::v1::FailureReason;
use uuid::Uuid;

/// The topics notification reads.
pub const TOPICS: &[&str] = &[
    "mandi.order.events.v1",
    "mandi.payment.events.v1",
    "mandi.inventory.events.v1",
    "mandi.shipping.events.v1",
];

/// Who a notice is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// A user, reached by their preferences.
    User(Uuid),
    /// The vendor who sells the product (catalog's `vendor_id`), reached like a user;
    /// operations instead when catalog does not know the product.
    VendorOf(String),
    /// The operations address (`MANDI_NOTIFICATION__OPS_EMAIL`).
    Operations,
}

/// A message to send because of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Who it is for, each once.
    pub audiences: Vec<Audience>,
    /// Template id.
    pub template: &'static str,
    /// Template values.
    pub data: BTreeMap<String, String>,
}

/// The notice `envelope` calls for: `Ok(None)` for events notification does not tell
/// anyone about, `Err` with why for one it cannot use (dead-lettered).
pub fn notice(envelope: &EventEnvelope) -> Result<Option<Notice>, String> {
    let Some(payload) = &envelope.payload else {
        return Err("the envelope has no payload".into());
    };
    let customer = |template, user_id: &str, data: Vec<(&str, String)>| {
        let user =
            Uuid::parse_str(user_id).map_err(|_| format!("user_id {user_id:?} is not a UUID"))?;
        Ok(Some(Notice {
            audiences: vec![Audience::User(user)],
            template,
            data: data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }))
    };
    let stock = |template, audiences, data: Vec<(&str, String)>| {
        Ok(Some(Notice {
            audiences,
            template,
            data: data.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }))
    };
    match payload {
        Payload::OrderCreated(e) => customer(
            "order_placed",
            &e.user_id,
            vec![
                ("order_id", e.order_id.clone()),
                ("total", money(e.total.as_ref())),
                ("item_count", e.lines.len().to_string()),
            ],
        ),
        Payload::PaymentConfirmed(e) => customer(
            "payment_confirmed",
            &e.user_id,
            vec![
                ("order_id", e.order_id.clone()),
                ("amount", money(e.amount.as_ref())),
            ],
        ),
        Payload::PaymentFailed(e) => {
            let reason = if e.failure_message.trim().is_empty() {
                failure_reason(e.failure_reason)
            } else {
                e.failure_message.clone()
            };
            customer(
                "payment_failed",
                &e.user_id,
                vec![
                    ("order_id", e.order_id.clone()),
                    ("amount", money(e.amount.as_ref())),
                    ("reason", reason),
                ],
            )
        }
        Payload::OrderStatusChanged(e) => {
            // CREATED, PAID and REFUNDED have notices of their own (OrderCreated,
            // PaymentConfirmed, PaymentRefunded): one message per fact.
            let status = match OrderStatus::try_from(e.to_status) {
                Ok(OrderStatus::Packed) => "packed",
                Ok(OrderStatus::Shipped) => "on its way",
                Ok(OrderStatus::Delivered) => "delivered",
                Ok(OrderStatus::Cancelled) => "cancelled",
                _ => return Ok(None),
            };
            customer(
                "order_status_changed",
                &e.user_id,
                vec![
                    ("order_id", e.order_id.clone()),
                    ("status", status.to_owned()),
                ],
            )
        }
        Payload::DeliveryAssigned(e) => customer(
            "delivery_assigned",
            &e.user_id,
            vec![
                ("order_id", e.order_id.clone()),
                (
                    "rider",
                    if e.rider_display_name.trim().is_empty() {
                        "Your rider".to_owned()
                    } else {
                        e.rider_display_name.clone()
                    },
                ),
                ("eta", time(e.estimated_delivery_time.as_ref())),
            ],
        ),
        Payload::PaymentRefunded(e) => customer(
            "refund_issued",
            &e.user_id,
            vec![
                ("order_id", e.order_id.clone()),
                ("amount", money(e.amount.as_ref())),
                (
                    "extent",
                    if e.fully_refunded { "full" } else { "partial" }.to_owned(),
                ),
            ],
        ),
        Payload::StockLow(e) => stock(
            "stock_low",
            vec![Audience::VendorOf(e.product_id.clone())],
            vec![
                ("product_id", e.product_id.clone()),
                ("available", e.available_quantity.to_string()),
                ("threshold", e.low_stock_threshold.to_string()),
            ],
        ),
        Payload::BatchExpiring(e) => stock(
            "batch_expiring",
            vec![
                Audience::VendorOf(e.product_id.clone()),
                Audience::Operations,
            ],
            vec![
                ("batch_id", e.batch_id.clone()),
                ("product_id", e.product_id.clone()),
                ("warehouse_id", e.warehouse_id.clone()),
                ("unsold", e.unsold_quantity.to_string()),
                ("expires", time(e.expire_time.as_ref())),
            ],
        ),
        _ => Ok(None),
    }
}

/// The trace id in a record's W3C `traceparent` header
/// (`00-<32 hex trace id>-<16 hex span id>-<flags>`); empty when there is none or it is
/// malformed.
pub fn trace_id(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("traceparent"))
        .and_then(|(_, v)| {
            let mut parts = v.trim().split('-');
            let (_version, trace) = (parts.next()?, parts.next()?);
            let valid = trace.len() == 32
                && trace.chars().all(|c| c.is_ascii_hexdigit())
                && trace.chars().any(|c| c != '0');
            valid.then(|| trace.to_ascii_lowercase())
        })
        .unwrap_or_default()
}

/// `INR 123.45` (two decimals; every currency mandi sells in has them).
pub fn money(money: Option<&Money>) -> String {
    let Some(m) = money else {
        return "an unknown amount".into();
    };
    let sign = if m.amount_minor < 0 { "-" } else { "" };
    let minor = m.amount_minor.unsigned_abs();
    format!(
        "{} {sign}{}.{:02}",
        m.currency_code,
        minor / 100,
        minor % 100
    )
}

fn time(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .map_or_else(
            || "soon".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
}

fn failure_reason(reason: i32) -> String {
    match FailureReason::try_from(reason) {
        Ok(FailureReason::Unspecified) | Err(_) => "the payment was not approved".into(),
        Ok(other) => other
            .as_str_name()
            .trim_start_matches("FAILURE_REASON_")
            .to_lowercase()
            .replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mandi_runtime::events::envelope;
    use mandi_sdk::proto::mandi::events::v1::{OrderCreated, OrderStatusChanged, StockLow};

    use super::*;

    #[test]
    fn an_order_created_tells_its_customer_with_the_total() {
        let user = Uuid::now_v7();
        let event = envelope("order", "order", "o-1", |meta| {
            Payload::OrderCreated(OrderCreated {
                event_id: meta.event_id,
                order_id: "o-1".into(),
                user_id: user.to_string(),
                total: Some(Money {
                    currency_code: "INR".into(),
                    amount_minor: 12_345,
                }),
                ..OrderCreated::default()
            })
        });
        let notice = notice(&event).unwrap().unwrap();
        assert_eq!(notice.audiences, [Audience::User(user)]);
        assert_eq!(notice.template, "order_placed");
        assert_eq!(notice.data["total"], "INR 123.45");
    }

    #[test]
    fn a_status_with_its_own_notice_is_not_told_twice() {
        let event = envelope("order", "order", "o-1", |meta| {
            Payload::OrderStatusChanged(OrderStatusChanged {
                event_id: meta.event_id,
                order_id: "o-1".into(),
                user_id: Uuid::now_v7().to_string(),
                to_status: OrderStatus::Paid as i32,
                ..OrderStatusChanged::default()
            })
        });
        assert_eq!(notice(&event).unwrap(), None);
    }

    #[test]
    fn the_trace_id_comes_from_the_traceparent_header() {
        let headers = |v: &str| vec![("traceparent".to_owned(), v.to_owned())];
        assert_eq!(
            trace_id(&headers(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            )),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            trace_id(&headers(
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
            )),
            ""
        );
        assert_eq!(trace_id(&headers("garbage")), "");
        assert_eq!(trace_id(&[]), "");
    }

    #[test]
    fn stock_low_goes_to_the_products_vendor() {
        let event = envelope("inventory", "product", "p-1", |meta| {
            Payload::StockLow(StockLow {
                event_id: meta.event_id,
                occur_time: None,
                product_id: "p-1".into(),
                available_quantity: 3,
                low_stock_threshold: 10,
            })
        });
        let notice = notice(&event).unwrap().unwrap();
        assert_eq!(notice.audiences, [Audience::VendorOf("p-1".into())]);
        assert_eq!(notice.data["available"], "3");
    }

    #[test]
    fn a_customer_event_without_a_valid_user_id_is_refused() {
        let event = envelope("order", "order", "o-1", |meta| {
            Payload::OrderCreated(OrderCreated {
                event_id: meta.event_id,
                user_id: "not-a-uuid".into(),
                ..OrderCreated::default()
            })
        });
        assert!(notice(&event).unwrap_err().contains("user_id"));
    }
}
