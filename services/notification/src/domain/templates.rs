//! The message templates: one per kind of notice, each with an email subject, text and
//! HTML, a short form for SMS and push, and a WhatsApp form. Placeholders are `{name}`;
//! every one a template uses must be in its `required` list, and values are HTML-escaped
//! in the HTML part.

use std::collections::BTreeMap;

use super::{ChannelKind, NotificationError, Violation};

/// One kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Template id.
    pub id: &'static str,
    /// Values it needs.
    pub required: &'static [&'static str],
    /// Marketing messages go only to users who opted in.
    pub marketing: bool,
    /// Email subject and push title.
    pub subject: &'static str,
    /// Email text part and WhatsApp message.
    pub text: &'static str,
    /// Email HTML part.
    pub html: &'static str,
    /// SMS and push body.
    pub short: &'static str,
}

/// A message rendered for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    /// Email subject or push title; empty for SMS and WhatsApp.
    pub subject: String,
    /// The text.
    pub body: String,
    /// HTML (email only).
    pub html: String,
}

const FOOTER_TEXT: &str = "\n\n— mandi, fresh from the market";
const FOOTER_HTML: &str = "<p style=\"color:#666\">mandi, fresh from the market</p>";

/// Every template.
pub const TEMPLATES: &[Template] = &[
    Template {
        id: "order_placed",
        required: &["order_id", "total", "item_count"],
        marketing: false,
        subject: "Your mandi order {order_id} is placed",
        text: "Thank you! We received your order {order_id} of {item_count} item(s), {total} in total. We will tell you when it is on its way.",
        html: "<h1>Thank you!</h1><p>We received your order <b>{order_id}</b> of {item_count} item(s), <b>{total}</b> in total.</p><p>We will tell you when it is on its way.</p>",
        short: "mandi: order {order_id} placed, {total}.",
    },
    Template {
        id: "payment_confirmed",
        required: &["order_id", "amount"],
        marketing: false,
        subject: "Payment received for order {order_id}",
        text: "We received your payment of {amount} for order {order_id}. We are packing it now.",
        html: "<p>We received your payment of <b>{amount}</b> for order <b>{order_id}</b>.</p><p>We are packing it now.</p>",
        short: "mandi: payment of {amount} received for order {order_id}.",
    },
    Template {
        id: "payment_failed",
        required: &["order_id", "amount", "reason"],
        marketing: false,
        subject: "Payment for order {order_id} did not go through",
        text: "Your payment of {amount} for order {order_id} failed: {reason}. Please try again or choose another payment method.",
        html: "<p>Your payment of <b>{amount}</b> for order <b>{order_id}</b> failed: {reason}.</p><p>Please try again or choose another payment method.</p>",
        short: "mandi: payment for order {order_id} failed ({reason}).",
    },
    Template {
        id: "order_status_changed",
        required: &["order_id", "status"],
        marketing: false,
        subject: "Order {order_id} is {status}",
        text: "Your order {order_id} is now {status}.",
        html: "<p>Your order <b>{order_id}</b> is now <b>{status}</b>.</p>",
        short: "mandi: order {order_id} is {status}.",
    },
    Template {
        id: "delivery_assigned",
        required: &["order_id", "rider", "eta"],
        marketing: false,
        subject: "{rider} is delivering order {order_id}",
        text: "{rider} will bring your order {order_id}, expected at {eta}.",
        html: "<p><b>{rider}</b> will bring your order <b>{order_id}</b>, expected at <b>{eta}</b>.</p>",
        short: "mandi: {rider} is delivering order {order_id}, ETA {eta}.",
    },
    Template {
        id: "refund_issued",
        required: &["order_id", "amount", "extent"],
        marketing: false,
        subject: "Refund of {amount} for order {order_id}",
        text: "We issued a {extent} refund of {amount} for order {order_id}. It reaches your account in a few days.",
        html: "<p>We issued a {extent} refund of <b>{amount}</b> for order <b>{order_id}</b>.</p><p>It reaches your account in a few days.</p>",
        short: "mandi: {extent} refund of {amount} issued for order {order_id}.",
    },
    Template {
        id: "stock_low",
        required: &["product_id", "available", "threshold"],
        marketing: false,
        subject: "Low stock: product {product_id}",
        text: "Product {product_id} is down to {available} (threshold {threshold}). Restock soon.",
        html: "<p>Product <b>{product_id}</b> is down to <b>{available}</b> (threshold {threshold}).</p><p>Restock soon.</p>",
        short: "mandi: {product_id} low stock, {available} left.",
    },
    Template {
        id: "batch_expiring",
        required: &[
            "batch_id",
            "product_id",
            "warehouse_id",
            "unsold",
            "expires",
        ],
        marketing: false,
        subject: "Batch {batch_id} expires {expires}",
        text: "Batch {batch_id} of product {product_id} in warehouse {warehouse_id} expires {expires} with {unsold} unsold.",
        html: "<p>Batch <b>{batch_id}</b> of product {product_id} in warehouse {warehouse_id} expires <b>{expires}</b> with {unsold} unsold.</p>",
        short: "mandi: batch {batch_id} expires {expires}, {unsold} unsold.",
    },
    Template {
        id: "promotion",
        required: &["headline", "details"],
        marketing: true,
        subject: "{headline}",
        text: "{details}",
        html: "<h1>{headline}</h1><p>{details}</p>",
        short: "mandi: {headline}",
    },
];

/// The template `id`.
pub fn find(id: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.id == id)
}

impl Template {
    /// The values this template lacks, as violations of `template_data.<key>`.
    pub fn missing(&self, data: &BTreeMap<String, String>) -> Vec<Violation> {
        self.required
            .iter()
            .filter(|k| data.get(**k).is_none_or(|v| v.trim().is_empty()))
            .map(|k| Violation::new(format!("template_data.{k}"), "is required by the template"))
            .collect()
    }

    /// The message for `channel` with `data`.
    pub fn render(
        &self,
        channel: ChannelKind,
        data: &BTreeMap<String, String>,
    ) -> Result<Rendered, NotificationError> {
        let missing = self.missing(data);
        if !missing.is_empty() {
            return Err(NotificationError::Invalid(missing));
        }
        let text = |t: &str| fill(t, data, false);
        Ok(match channel {
            ChannelKind::Email => Rendered {
                subject: text(self.subject),
                body: format!("{}{FOOTER_TEXT}", text(self.text)),
                html: format!(
                    "<!doctype html><html><body>{}{FOOTER_HTML}</body></html>",
                    fill(self.html, data, true)
                ),
            },
            ChannelKind::Sms => Rendered {
                body: text(self.short),
                ..Rendered::default()
            },
            ChannelKind::Push => Rendered {
                subject: text(self.subject),
                body: text(self.short),
                html: String::new(),
            },
            ChannelKind::WhatsApp => Rendered {
                body: format!("*{}*\n{}", text(self.subject), text(self.text)),
                ..Rendered::default()
            },
        })
    }
}

/// `template` with each `{key}` replaced by its value (escaped for HTML when `html`).
fn fill(template: &str, data: &BTreeMap<String, String>, html: bool) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                let key = &after[..end];
                match data.get(key) {
                    Some(value) if html => out.push_str(&escape(value)),
                    Some(value) => out.push_str(value),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
