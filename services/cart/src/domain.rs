//! The cart's types and rules: carts and their lines, quantities in the product's unit,
//! prices and tax, the check of each line against the catalog and inventory, and the
//! errors the service reports. No I/O here.

mod cart;
mod check;
mod money;
mod product;
mod tax;

pub use cart::{Cart, CartId, Line, MAX_LINES, MergeReport, RequestRecord};
pub use check::{LineCheck, PricedCart, PricedLine, Verification, price_cart};
pub use money::{line_total, tax_on};
pub use product::{LineCaps, Product, Unit};
pub use tax::TaxRates;

use crate::store::StoreError;

/// A bad input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, as named in the contract (`quantity`).
    pub field: String,
    /// What is wrong and what is expected.
    pub description: String,
}

/// Everything the cart can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// Bad input; the field is named.
    #[error("{}: {}", .0.field, .0.description)]
    Invalid(FieldViolation),
    /// The cart, line or product does not exist (or the cart expired).
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not touch this cart.
    #[error("{0}")]
    Forbidden(String),
    /// The request cannot apply to the cart as it is (too many lines, product not on
    /// sale, another currency).
    #[error("{message}")]
    Precondition {
        /// UPPER_SNAKE_CASE reason for ErrorInfo.
        reason: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The catalog, which every change needs for its price snapshot, did not answer.
    #[error("catalog unavailable: {0}")]
    CatalogUnavailable(String),
    /// Too many concurrent writers kept changing the cart under this one.
    #[error("the cart kept changing concurrently; retry")]
    Contended,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CartError {
    /// A bad `field`.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(FieldViolation {
            field: field.into(),
            description: description.into(),
        })
    }

    /// A refusal that the cart's current state explains.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Precondition {
            reason,
            message: message.into(),
        }
    }
}
