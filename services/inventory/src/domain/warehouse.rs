//! Warehouses and where they are.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::FieldViolation;

/// Longest warehouse code accepted.
pub const MAX_CODE_CHARS: usize = 20;
/// Longest display name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// A point on the map in micro-degrees, as in `mandi.common.v1.GeoPoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeoPoint {
    /// Latitude × 1e6, -90e6..=90e6.
    pub latitude_e6: i64,
    /// Longitude × 1e6, -180e6..=180e6.
    pub longitude_e6: i64,
}

/// Where a warehouse is (`mandi.common.v1.Address`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// House number and street; required.
    pub line1: String,
    /// Apartment or landmark; may be empty.
    pub line2: String,
    /// City or town; required.
    pub city: String,
    /// State or region.
    pub region: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case; required.
    pub country_code: String,
    /// Used to pick the warehouse nearest a delivery.
    pub geo: Option<GeoPoint>,
}

/// A place stock is kept and orders are packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    /// UUIDv7.
    pub id: Uuid,
    /// Short unique code, upper case letters, digits and hyphens (`BLR-01`).
    pub code: String,
    /// Name shown to operators.
    pub name: String,
    /// Address and map point.
    pub location: Location,
    /// Whether chilled batches may be received here.
    pub cold_storage: bool,
    /// Inactive warehouses keep their batches but are skipped by allocation.
    pub active: bool,
    /// Creation time (UTC).
    pub created_at: DateTime<Utc>,
}

/// A warehouse as asked for by CreateWarehouse, before validation.
#[derive(Debug, Clone, Default)]
pub struct NewWarehouse {
    /// Code; trimmed, must match `[A-Z0-9]+(-[A-Z0-9]+)*`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Address.
    pub location: Location,
    /// Cold storage.
    pub cold_storage: bool,
}

impl NewWarehouse {
    /// Checks every field, reporting all problems at once, and makes an active warehouse.
    pub fn into_warehouse(self, now: DateTime<Utc>) -> Result<Warehouse, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let code = self.code.trim().to_owned();
        if !valid_code(&code) {
            violations.push(FieldViolation::new(
                "warehouse.code",
                format!(
                    "must be 1..={MAX_CODE_CHARS} upper case letters, digits and inner hyphens, like BLR-01"
                ),
            ));
        }
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            violations.push(FieldViolation::new(
                "warehouse.display_name",
                format!("must be 1..={MAX_NAME_CHARS} characters"),
            ));
        }
        let location = self.location;
        for (field, value) in [
            ("warehouse.location.line1", &location.line1),
            ("warehouse.location.city", &location.city),
        ] {
            if value.trim().is_empty() {
                violations.push(FieldViolation::new(field, "must not be empty"));
            }
        }
        let country = &location.country_code;
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            violations.push(FieldViolation::new(
                "warehouse.location.country_code",
                "must be an ISO 3166-1 alpha-2 code in upper case, like IN",
            ));
        }
        if let Some(geo) = location.geo {
            if !(-90_000_000..=90_000_000).contains(&geo.latitude_e6) {
                violations.push(FieldViolation::new(
                    "warehouse.location.geo.latitude_e6",
                    "must be between -90e6 and 90e6",
                ));
            }
            if !(-180_000_000..=180_000_000).contains(&geo.longitude_e6) {
                violations.push(FieldViolation::new(
                    "warehouse.location.geo.longitude_e6",
                    "must be between -180e6 and 180e6",
                ));
            }
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(Warehouse {
            id: Uuid::now_v7(),
            code,
            name,
            location,
            cold_storage: self.cold_storage,
            active: true,
            created_at: now,
        })
    }
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE_CHARS
        && code.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn warehouse_codes_are_upper_case_letters_digits_and_inner_hyphens() {
        for good in ["BLR-01", "DEL", "A1-B2-C3"] {
            assert!(valid_code(good), "{good}");
        }
        for bad in [
            "",
            "blr-01",
            "-BLR",
            "BLR-",
            "BLR--01",
            "BLR 01",
            &"X".repeat(21),
        ] {
            assert!(!valid_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_new_warehouse_reports_every_bad_field() {
        let err = NewWarehouse::default()
            .into_warehouse(Utc::now())
            .unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "warehouse.code",
                "warehouse.display_name",
                "warehouse.location.line1",
                "warehouse.location.city",
                "warehouse.location.country_code"
            ]
        );
    }
}
