//! Reviews: one per shopper and product, 1 to 5 stars, aggregated on the product.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{CatalogError, Violations};

/// A shopper's review as submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReview {
    /// The product.
    pub product_id: Uuid,
    /// 1..=5.
    pub rating: i32,
    /// At most 120 characters.
    pub title: String,
    /// At most 5000 characters.
    pub text: String,
}

impl NewReview {
    /// Checks the field rules.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut v = Violations::default();
        v.check(
            !(1..=5).contains(&self.rating),
            "review.rating",
            "must be 1 to 5 stars",
        );
        v.check(
            self.title.chars().count() > 120,
            "review.title",
            "must be at most 120 characters",
        );
        v.check(
            self.text.chars().count() > 5000,
            "review.text",
            "must be at most 5000 characters",
        );
        v.into_result(())
    }
}

/// A review as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// UUIDv7.
    pub id: Uuid,
    /// The product.
    pub product_id: Uuid,
    /// The author's user id.
    pub author_id: String,
    /// 1..=5.
    pub rating: i32,
    /// Headline.
    pub title: String,
    /// Text.
    pub text: String,
    /// When written (UTC).
    pub created_at: DateTime<Utc>,
}

/// Count and sum of a product's ratings; the mean is derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RatingSummary {
    /// Number of reviews.
    pub count: i64,
    /// Sum of their stars.
    pub sum: i64,
}

impl RatingSummary {
    /// Mean stars × 100, rounded half up; 0 without reviews.
    pub fn average_x100(&self) -> i32 {
        if self.count == 0 {
            return 0;
        }
        ((self.sum * 100 * 2 + self.count) / (self.count * 2)) as i32
    }

    /// The summary with one more review of `rating` stars.
    pub fn with(self, rating: i32) -> Self {
        Self {
            count: self.count + 1,
            sum: self.sum + i64::from(rating),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_is_rounded_to_hundredths() {
        let summary = RatingSummary::default().with(5).with(4).with(4);
        assert_eq!(summary.average_x100(), 433);
        assert_eq!(RatingSummary::default().average_x100(), 0);
        assert_eq!(RatingSummary::default().with(3).with(4).average_x100(), 350);
    }

    #[test]
    fn ratings_outside_one_to_five_are_refused() {
        let review = |rating| NewReview {
            product_id: Uuid::now_v7(),
            rating,
            title: String::new(),
            text: String::new(),
        };
        assert!(review(0).validate().is_err());
        assert!(review(6).validate().is_err());
        assert!(review(5).validate().is_ok());
    }
}
