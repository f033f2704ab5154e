//! Carts to the contract's messages.

use chrono::{DateTime, Utc};
use mandi_sdk::proto::mandi::cart::v1 as pb;
use mandi_sdk::proto::mandi::common::v1::{Money, UnitOfSale};

use crate::domain::{PricedCart, PricedLine, Unit};

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        currency_code: currency.to_owned(),
        amount_minor,
    })
}

fn timestamp(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at.timestamp(),
        // Always below 10^9, so it fits.
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    })
}

fn unit_to_proto(unit: Unit) -> UnitOfSale {
    match unit {
        Unit::Kilogram => UnitOfSale::Kilogram,
        Unit::HundredGrams => UnitOfSale::HundredGrams,
        Unit::Piece => UnitOfSale::Piece,
        Unit::Bunch => UnitOfSale::Bunch,
        Unit::Dozen => UnitOfSale::Dozen,
    }
}

fn totals(subtotal: i64, tax: i64, total: i64, currency: &str) -> Option<pb::CartTotals> {
    Some(pb::CartTotals {
        subtotal: money(subtotal, currency),
        tax: money(tax, currency),
        total: money(total, currency),
    })
}

/// A cart that is not stored: no id, no lines, zero totals.
pub(super) fn empty_cart(user: Option<&str>, currency: &str) -> pb::Cart {
    pb::Cart {
        user_id: user.unwrap_or_default().to_owned(),
        totals: totals(0, 0, 0, currency),
        verified: true,
        ..Default::default()
    }
}

fn item_to_proto(priced: PricedLine, currency: &str) -> pb::CartItem {
    let PricedLine {
        line,
        total_minor,
        tax_rate_bps,
        tax_minor,
        check,
    } = priced;
    let item_check = pb::LineCheck {
        price_verified: check.current_price_minor.is_some(),
        current_unit_price: check
            .current_price_minor
            .and_then(|price| money(price, currency)),
        price_changed: check.price_changed(&line),
        unavailable: check.unavailable,
        stock_verified: check.available.is_some(),
        available_quantity: check.available.unwrap_or(0),
        stock_short: check.stock_short(&line),
    };
    pb::CartItem {
        product_id: line.product_id.to_string(),
        product_display_name: line.display_name,
        image_url: line.image_url,
        vendor_id: line.vendor_id,
        unit_of_sale: unit_to_proto(line.unit) as i32,
        quantity: line.quantity,
        unit_price: money(line.unit_price_minor, currency),
        line_total: money(total_minor, currency),
        price_snapshot_time: timestamp(line.price_snapshot_at),
        add_time: timestamp(line.added_at),
        category_id: line.category_id,
        tax_rate_bps,
        line_tax: money(tax_minor, currency),
        check: Some(item_check),
    }
}

/// A stored cart, priced and checked.
pub(super) fn cart_to_proto(priced: PricedCart, currency: &str) -> pb::Cart {
    let attention_count = i32::try_from(priced.attention_count()).unwrap_or(i32::MAX);
    let cart = priced.cart;
    pb::Cart {
        name: format!("carts/{}", cart.id),
        id: cart.id.as_str().to_owned(),
        user_id: cart.user_id.unwrap_or_default(),
        item_count: i32::try_from(priced.lines.len()).unwrap_or(i32::MAX),
        items: priced
            .lines
            .into_iter()
            .map(|line| item_to_proto(line, currency))
            .collect(),
        totals: totals(
            priced.subtotal_minor,
            priced.tax_minor,
            priced.total_minor,
            currency,
        ),
        create_time: timestamp(cart.created_at),
        update_time: timestamp(cart.updated_at),
        expire_time: timestamp(cart.expires_at),
        verified: priced.verification.verified(),
        verification_notes: priced.verification.notes,
        attention_count,
    }
}
