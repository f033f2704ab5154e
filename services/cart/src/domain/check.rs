//! A cart as the shopper sees it: each line priced, taxed and checked against what the
//! catalog and inventory say now, and the totals.

use std::collections::HashMap;

use uuid::Uuid;

use super::{Cart, Line, Product, TaxRates, line_total, tax_on};

/// What checking one line found. `None` fields mean the peer did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineCheck {
    /// The catalog's price now; `None` when the catalog did not answer.
    pub current_price_minor: Option<i64>,
    /// Whether the product is no longer on sale (archived, draft or deleted).
    pub unavailable: bool,
    /// What inventory can sell now; `None` when inventory did not answer.
    pub available: Option<i64>,
}

impl LineCheck {
    /// Whether the price moved since the snapshot.
    pub fn price_changed(&self, line: &Line) -> bool {
        self.current_price_minor
            .is_some_and(|price| price != line.unit_price_minor)
    }

    /// Whether stock is below the line's quantity.
    pub fn stock_short(&self, line: &Line) -> bool {
        self.available.is_some_and(|a| a < line.quantity)
    }

    /// Whether the shopper should look at the line before checking out.
    pub fn needs_attention(&self, line: &Line) -> bool {
        self.unavailable || self.price_changed(line) || self.stock_short(line)
    }
}

/// One line priced and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    /// The stored line.
    pub line: Line,
    /// `unit_price * quantity` per the unit rule.
    pub total_minor: i64,
    /// The line's tax rate in basis points.
    pub tax_rate_bps: i32,
    /// Tax on the line total.
    pub tax_minor: i64,
    /// What the check found.
    pub check: LineCheck,
}

/// Whether the check reached both peers, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verification {
    /// Notes saying which peer did not answer and what that means; empty when verified.
    pub notes: Vec<String>,
}

impl Verification {
    /// Whether every line was checked against both peers.
    pub fn verified(&self) -> bool {
        self.notes.is_empty()
    }
}

/// A cart with its lines priced and checked, and the totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedCart {
    /// The stored cart; its lines moved to `lines`.
    pub cart: Cart,
    /// The lines, in cart order.
    pub lines: Vec<PricedLine>,
    /// Sum of the line totals.
    pub subtotal_minor: i64,
    /// Sum of the line taxes.
    pub tax_minor: i64,
    /// subtotal + tax.
    pub total_minor: i64,
    /// Whether the check was complete.
    pub verification: Verification,
}

impl PricedCart {
    /// Lines the shopper should look at.
    pub fn attention_count(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.check.needs_attention(&l.line))
            .count()
    }
}

/// Prices `cart` at its snapshot prices with `rates`, and checks each line against
/// `products` (the catalog now; `None` when it did not answer) and `available` (inventory
/// now; `None` when it did not answer).
pub fn price_cart(
    mut cart: Cart,
    products: Option<&HashMap<Uuid, Product>>,
    available: Option<&HashMap<Uuid, i64>>,
    rates: &TaxRates,
) -> PricedCart {
    let mut verification = Verification::default();
    if !cart.lines.is_empty() {
        if products.is_none() {
            verification.notes.push(
                "catalog unavailable: prices are the snapshots taken when lines were added, and \
                 whether products are still on sale is unknown"
                    .into(),
            );
        }
        if available.is_none() {
            verification
                .notes
                .push("inventory unavailable: stock was not checked".into());
        }
    }
    let lines: Vec<PricedLine> = std::mem::take(&mut cart.lines)
        .into_iter()
        .map(|line| {
            let product = products.map(|p| p.get(&line.product_id));
            let check = LineCheck {
                current_price_minor: product.flatten().map(|p| p.price_minor),
                unavailable: matches!(product, Some(None))
                    || product.flatten().is_some_and(|p| !p.on_sale),
                available: available.map(|a| a.get(&line.product_id).copied().unwrap_or(0)),
            };
            let total_minor = line_total(line.unit, line.unit_price_minor, line.quantity);
            let tax_rate_bps = rates.rate_for(&line.category_path);
            PricedLine {
                line,
                total_minor,
                tax_rate_bps,
                tax_minor: tax_on(total_minor, tax_rate_bps),
                check,
            }
        })
        .collect();
    let subtotal_minor = lines
        .iter()
        .fold(0_i64, |sum, l| sum.saturating_add(l.total_minor));
    let tax_minor = lines
        .iter()
        .fold(0_i64, |sum, l| sum.saturating_add(l.tax_minor));
    PricedCart {
        cart,
        lines,
        subtotal_minor,
        tax_minor,
        total_minor: subtotal_minor.saturating_add(tax_minor),
        verification,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{DateTime, Duration};

    use super::*;
    use crate::domain::product::tests::mango;
    use crate::domain::{LineCaps, Unit};

    fn two_line_cart() -> (Cart, Product, Product) {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mango = mango();
        let mut cashews = mango.clone();
        cashews.id = Uuid::now_v7();
        cashews.display_name = "Cashews W240".into();
        cashews.category_path = vec!["nuts".into(), "dry-fruits-nuts".into()];
        cashews.unit = Unit::HundredGrams;
        cashews.price_minor = 12_000;
        cashews.quantity_step = 100;
        let mut cart = Cart::new(None, now, Duration::days(30));
        cart.add(&mango, 750, LineCaps::default(), now).unwrap();
        cart.add(&cashews, 500, LineCaps::default(), now).unwrap();
        (cart, mango, cashews)
    }

    #[test]
    fn totals_tax_each_line_at_its_categorys_rate() {
        let (cart, mango, cashews) = two_line_cart();
        let rates = TaxRates::parse("default=0,dry-fruits-nuts=500").unwrap();
        let products = HashMap::from([(mango.id, mango.clone()), (cashews.id, cashews.clone())]);
        let stock = HashMap::from([(mango.id, 10_000), (cashews.id, 10_000)]);
        let priced = price_cart(cart, Some(&products), Some(&stock), &rates);
        // 750 g at ₹180/kg = ₹135.00, zero-rated; 500 g at ₹120 per 100 g = ₹600.00 at 5%.
        assert_eq!(priced.lines[0].total_minor, 13_500);
        assert_eq!(priced.lines[0].tax_minor, 0);
        assert_eq!(priced.lines[1].total_minor, 60_000);
        assert_eq!(priced.lines[1].tax_minor, 3_000);
        assert_eq!(priced.subtotal_minor, 73_500);
        assert_eq!(priced.tax_minor, 3_000);
        assert_eq!(priced.total_minor, 76_500);
        assert!(priced.verification.verified());
        assert_eq!(priced.attention_count(), 0);
    }

    #[test]
    fn changed_prices_short_stock_and_withdrawn_products_are_flagged() {
        let (cart, mut mango, cashews) = two_line_cart();
        mango.price_minor = 19_000;
        let products = HashMap::from([(mango.id, mango.clone())]);
        let stock = HashMap::from([(mango.id, 500)]);
        let priced = price_cart(cart, Some(&products), Some(&stock), &TaxRates::default());
        let (m, c) = (&priced.lines[0], &priced.lines[1]);
        assert!(m.check.price_changed(&m.line));
        assert!(m.check.stock_short(&m.line));
        assert_eq!(m.total_minor, 13_500, "totals stay at the snapshot price");
        assert!(
            c.check.unavailable,
            "{} vanished from the catalog",
            cashews.display_name
        );
        assert_eq!(c.check.available, Some(0));
        assert_eq!(priced.attention_count(), 2);
    }

    #[test]
    fn unreachable_peers_leave_lines_unverified_and_say_so() {
        let (cart, ..) = two_line_cart();
        let priced = price_cart(cart, None, None, &TaxRates::default());
        assert!(!priced.verification.verified());
        assert_eq!(priced.verification.notes.len(), 2);
        assert!(priced.verification.notes[0].starts_with("catalog unavailable"));
        let line = &priced.lines[0];
        assert_eq!(line.check.current_price_minor, None);
        assert_eq!(line.check.available, None);
        assert!(!line.check.needs_attention(&line.line));
        assert_eq!(priced.subtotal_minor, 73_500);
    }
}
