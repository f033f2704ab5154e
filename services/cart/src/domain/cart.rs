//! A cart and its lines, and the changes a shopper makes to them.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::serde::ts_microseconds;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CartError, LineCaps, Product, Unit};

/// Most distinct products one cart holds.
pub const MAX_LINES: usize = 100;

/// Bytes of randomness in a cart id: guest cart ids are the guest's only key.
const ID_BYTES: usize = 16;

/// A cart id: 128 random bits, base64url without padding (22 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CartId(String);

impl CartId {
    /// A new unguessable id.
    pub fn random() -> Self {
        let mut bytes = [0u8; ID_BYTES];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Reads an id a client sent in `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, CartError> {
        let decodes = URL_SAFE_NO_PAD
            .decode(value)
            .is_ok_and(|bytes| bytes.len() == ID_BYTES);
        if !decodes {
            return Err(CartError::invalid(
                field,
                "is not a cart id this service issued",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// An id read back from the store, which only ever holds ids made by [`Self::random`].
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// The id as sent to clients.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CartId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One product in a cart, with what the catalog said of it when it was last added or
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Catalog product id.
    pub product_id: Uuid,
    /// Product name at snapshot time.
    pub display_name: String,
    /// Main image link at snapshot time.
    pub image_url: String,
    /// Selling vendor.
    pub vendor_id: String,
    /// Category id at snapshot time.
    pub category_id: String,
    /// Category slugs at snapshot time, nearest first, for the tax rate.
    pub category_path: Vec<String>,
    /// Unit of sale.
    pub unit: Unit,
    /// Quantity in the unit's quantity (grams or units); always > 0.
    pub quantity: i64,
    /// Price of one unit of sale at snapshot time, in the marketplace currency.
    pub unit_price_minor: i64,
    /// When the price was read.
    #[serde(with = "ts_microseconds")]
    pub price_snapshot_at: DateTime<Utc>,
    /// When the product was first added.
    #[serde(with = "ts_microseconds")]
    pub added_at: DateTime<Utc>,
}

/// A shopper's cart. `user_id` is `None` for a guest cart. Instants are kept as whole
/// microseconds (as integers when stored, so reading a cart parses no dates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// The cart id (the guest's key for guest carts).
    pub id: CartId,
    /// The owning user; `None` for a guest.
    pub user_id: Option<String>,
    /// Lines in the order products were first added.
    pub lines: Vec<Line>,
    /// When the cart was created.
    #[serde(with = "ts_microseconds")]
    pub created_at: DateTime<Utc>,
    /// When the cart last changed.
    #[serde(with = "ts_microseconds")]
    pub updated_at: DateTime<Utc>,
    /// When the cart is deleted unless it changes again.
    #[serde(with = "ts_microseconds")]
    pub expires_at: DateTime<Utc>,
}

/// A keyed request that changed a cart: a retry with the same key and fingerprint gets
/// that cart back instead of applying again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// `{subject}/{request_id}`.
    pub key: String,
    /// The method and a hash of its arguments.
    pub fingerprint: String,
    /// The cart the request changed.
    pub cart_id: CartId,
}

/// What a merge did with the guest's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Products left out because the catalog no longer sells them.
    pub dropped: Vec<Uuid>,
    /// Products whose merged quantity was capped (by the product, the service or stock).
    pub capped: Vec<Uuid>,
}

// === impl Cart ===

impl Cart {
    /// A new empty cart for `user_id` (or a guest), expiring `ttl` after `now`.
    pub fn new(user_id: Option<String>, now: DateTime<Utc>, ttl: Duration) -> Self {
        let now = whole_micros(now);
        Self {
            id: CartId::random(),
            user_id,
            lines: Vec::new(),
            created_at: now,
            updated_at: now,
            expires_at: now + ttl,
        }
    }

    /// Marks a change at `now`: the cart lives another `ttl`.
    pub fn touch(&mut self, now: DateTime<Utc>, ttl: Duration) {
        let now = whole_micros(now);
        self.updated_at = now;
        self.expires_at = now + ttl;
    }

    /// The line of `product`, if any.
    pub fn line(&self, product: Uuid) -> Option<&Line> {
        self.lines.iter().find(|l| l.product_id == product)
    }

    /// Adds `quantity` of `product` (snapshotting its price now); a product already in
    /// the cart grows by `quantity`.
    pub fn add(
        &mut self,
        product: &Product,
        quantity: i64,
        caps: LineCaps,
        now: DateTime<Utc>,
    ) -> Result<(), CartError> {
        if quantity <= 0 {
            return Err(CartError::invalid("quantity", "must be greater than 0"));
        }
        let total = self
            .line(product.id)
            .map_or(quantity, |line| line.quantity.saturating_add(quantity));
        self.set(product, total, caps, now)
    }

    /// Sets the line of `product` to `quantity` (0 removes it), snapshotting its price.
    pub fn set(
        &mut self,
        product: &Product,
        quantity: i64,
        caps: LineCaps,
        now: DateTime<Utc>,
    ) -> Result<(), CartError> {
        if quantity == 0 {
            self.remove(product.id);
            return Ok(());
        }
        require_on_sale(product)?;
        product.check_quantity(quantity, caps)?;
        let full = self.lines.len() >= MAX_LINES;
        match self.lines.iter_mut().find(|l| l.product_id == product.id) {
            Some(line) => {
                let added_at = line.added_at;
                *line = snapshot(product, quantity, added_at, now);
            }
            None if full => {
                return Err(CartError::precondition(
                    "CART_FULL",
                    format!("a cart holds at most {MAX_LINES} products; remove one first"),
                ));
            }
            None => self.lines.push(snapshot(product, quantity, now, now)),
        }
        Ok(())
    }

    /// Removes the line of `product`; whether it was there.
    pub fn remove(&mut self, product: Uuid) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| l.product_id != product);
        self.lines.len() != before
    }

    /// Moves `guest`'s lines in: quantities of products in both add up, capped at the
    /// product's and the service's maximum and at `available` stock where known, but
    /// never below what either cart held alone; prices are refreshed from `products`, and
    /// products the catalog no longer sells are left out.
    pub fn merge(
        &mut self,
        guest: &Cart,
        products: &HashMap<Uuid, Product>,
        available: Option<&HashMap<Uuid, i64>>,
        caps: LineCaps,
        now: DateTime<Utc>,
    ) -> MergeReport {
        let mut report = MergeReport::default();
        for guest_line in &guest.lines {
            let id = guest_line.product_id;
            let Some(product) = products.get(&id).filter(|p| p.on_sale) else {
                report.dropped.push(id);
                continue;
            };
            let own = self.line(id).map_or(0, |l| l.quantity);
            let wanted = own.saturating_add(guest_line.quantity);
            let mut cap = product.max(caps);
            if let Some(stock) = available.and_then(|a| a.get(&id)) {
                cap = cap.min(product.round_down(*stock));
            }
            // Merging never takes away what either cart already held.
            let floor = own.max(guest_line.quantity).min(product.max(caps));
            let quantity = wanted.min(cap.max(floor));
            if quantity < wanted {
                report.capped.push(id);
            }
            let added_at = self.line(id).map_or(guest_line.added_at, |l| l.added_at);
            let line = snapshot(product, quantity, added_at, now);
            let full = self.lines.len() >= MAX_LINES;
            match self.lines.iter_mut().find(|l| l.product_id == id) {
                Some(existing) => *existing = line,
                None if full => report.dropped.push(id),
                None => self.lines.push(line),
            }
        }
        report
    }
}

fn require_on_sale(product: &Product) -> Result<(), CartError> {
    if product.on_sale {
        return Ok(());
    }
    Err(CartError::precondition(
        "PRODUCT_NOT_ON_SALE",
        format!("{} is not on sale", product.display_name),
    ))
}

/// `at` without its nanoseconds: what a stored cart keeps.
fn whole_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

fn snapshot(product: &Product, quantity: i64, added_at: DateTime<Utc>, now: DateTime<Utc>) -> Line {
    let (added_at, now) = (whole_micros(added_at), whole_micros(now));
    Line {
        product_id: product.id,
        display_name: product.display_name.clone(),
        image_url: product.image_url.clone(),
        vendor_id: product.vendor_id.clone(),
        category_id: product.category_id.clone(),
        category_path: product.category_path.clone(),
        unit: product.unit,
        quantity,
        unit_price_minor: product.price_minor,
        price_snapshot_at: now,
        added_at,
    }
}

#[cfg(test)]
mod tests;
