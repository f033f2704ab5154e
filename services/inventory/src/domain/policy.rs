//! Per-product alert settings and the record an idempotency key leaves behind.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::FieldViolation;

/// Longest expiry warning lead time, in days.
pub const MAX_EXPIRY_WARNING_DAYS: i32 = 365;

/// When a product counts as low on stock and how early its batches warn before expiring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockPolicy {
    /// The product.
    pub product_id: Uuid,
    /// Available quantity at or below this is low; 0 disables the alert.
    pub low_stock_threshold: i64,
    /// Batches warn this many days before they expire; 0 disables the warning.
    pub expiry_warning_days: i32,
    /// When the policy was last stored; `None` for the configured defaults.
    pub updated_at: Option<DateTime<Utc>>,
}

impl StockPolicy {
    /// The configured defaults for a product that never had a policy stored.
    pub fn defaults(product_id: Uuid, low_stock_threshold: i64, expiry_warning_days: i32) -> Self {
        Self {
            product_id,
            low_stock_threshold,
            expiry_warning_days,
            updated_at: None,
        }
    }

    /// Checks the settings, naming each bad field as the contract spells it.
    pub fn validate(&self) -> Result<(), Vec<FieldViolation>> {
        let mut violations = Vec::new();
        if self.low_stock_threshold < 0 {
            violations.push(FieldViolation::new(
                "policy.low_stock_threshold",
                "must not be negative",
            ));
        }
        if !(0..=MAX_EXPIRY_WARNING_DAYS).contains(&self.expiry_warning_days) {
            violations.push(FieldViolation::new(
                "policy.expiry_warning_days",
                format!("must be between 0 and {MAX_EXPIRY_WARNING_DAYS}"),
            ));
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// Whether `available` is low under this policy.
    pub fn is_low(&self, available: i64) -> bool {
        self.low_stock_threshold > 0 && available <= self.low_stock_threshold
    }
}

/// What a mutation made with an idempotency key did, so a retry can be answered without
/// doing it again (AIP-155).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The caller-scoped key (`{subject}/{request_id}`).
    pub key: String,
    /// The method and a hash of the request: the same key with another request is refused.
    pub fingerprint: String,
    /// The resource the request made or changed (warehouse, batch, adjustment, product).
    pub target: Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_threshold_and_a_year_long_warning_are_both_named() {
        let policy = StockPolicy {
            low_stock_threshold: -1,
            expiry_warning_days: 400,
            ..StockPolicy::defaults(Uuid::nil(), 10, 3)
        };
        let fields: Vec<String> = policy
            .validate()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            ["policy.low_stock_threshold", "policy.expiry_warning_days"]
        );
    }

    #[test]
    fn a_zero_threshold_never_reports_low_stock() {
        let off = StockPolicy::defaults(Uuid::nil(), 0, 3);
        let ten = StockPolicy::defaults(Uuid::nil(), 10, 3);
        assert!(!off.is_low(0));
        assert!(ten.is_low(10));
        assert!(!ten.is_low(11));
    }
}
