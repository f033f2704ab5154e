//! The catalog's types and rules: products, the category tree and reviews, what makes
//! each valid, and the errors the service reports. No I/O here.

mod category;
mod product;
mod review;

pub use category::{Category, CategoryTree, NewCategory};
pub use product::{
    Nutrition, Origin, Product, ProductChanges, ProductInput, ProductStatus, StorageCondition,
    UnitOfSale,
};
pub use review::{NewReview, RatingSummary, Review};

/// A bad input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, as named in the contract (`product.price`).
    pub field: String,
    /// What is wrong and what is expected.
    pub description: String,
}

/// Collects every problem of one request, so the caller sees them all at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records a problem with `field`.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records a problem when `bad` holds.
    pub fn check(&mut self, bad: bool, field: &str, description: &str) {
        if bad {
            self.add(field, description);
        }
    }

    /// `Ok(value)` when nothing was recorded.
    pub fn into_result<T>(self, value: T) -> Result<T, CatalogError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(CatalogError::Invalid(self.0))
        }
    }
}

/// Money in integer minor units of the marketplace currency.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Minor(pub i64);

/// Everything the catalog can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Bad input.
    #[error("invalid request")]
    Invalid(Vec<FieldViolation>),
    /// No such product, category or review (or not visible to the caller).
    #[error("{kind} {id} not found")]
    NotFound {
        /// "product", "category"...
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The caller may not do this to this resource.
    #[error("{0}")]
    Forbidden(String),
    /// A unique value is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// The resource changed since the caller read it.
    #[error("{kind} {id} is at version {actual}, not {expected}; re-read and retry")]
    VersionMismatch {
        /// "product".
        kind: &'static str,
        /// The id.
        id: String,
        /// The version the caller sent.
        expected: i64,
        /// The version stored.
        actual: i64,
    },
    /// The resource is in a state that forbids the operation.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The store failed.
    #[error("catalog store failed")]
    Store(#[from] crate::store::StoreError),
    /// The search index failed.
    #[error("search index failed: {0}")]
    Search(String),
}

impl CatalogError {
    /// A single-field validation error.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut violations = Violations::default();
        violations.add(field, description);
        Self::Invalid(violations.0)
    }
}

/// Makes a URL slug from a display name: lower case ASCII letters and digits joined by
/// single hyphens ("Alphonso Mango (GI)" → "alphonso-mango-gi").
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(120).collect()
}

/// Whether `slug` is lower-case letters, digits and single inner hyphens, 1..=120 long.
pub fn is_valid_slug(slug: &str) -> bool {
    (1..=120).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_words_joined_by_hyphens() {
        assert_eq!(slugify("Alphonso Mango (GI)"), "alphonso-mango-gi");
        assert_eq!(slugify("  Kashmiri   Walnuts!! "), "kashmiri-walnuts");
        assert!(is_valid_slug("alphonso-mango"));
        for bad in ["", "-a", "a-", "a--b", "Mango", "man go"] {
            assert!(!is_valid_slug(bad), "{bad:?}");
        }
    }
}
