//! Tax rates as data: a rate per catalog category slug, looked up from the product's own
//! category up through its ancestors, with a default for everything else.

use std::collections::HashMap;

/// Rates in basis points (500 = 5%) by category slug.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaxRates {
    default_bps: i32,
    by_category: HashMap<String, i32>,
}

/// Highest rate accepted: 100%.
const MAX_BPS: i32 = 10_000;

impl TaxRates {
    /// Parses `default=0,dry-fruits-nuts=500,…`: slug=basis points, comma separated;
    /// `default` applies where no category on a product's path has a rate (0 when absent).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut rates = Self::default();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (slug, bps) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}` is not slug=basis-points"))?;
            let slug = slug.trim();
            let bps: i32 = bps
                .trim()
                .parse()
                .ok()
                .filter(|bps| (0..=MAX_BPS).contains(bps))
                .ok_or_else(|| {
                    format!("`{entry}`: the rate must be basis points between 0 and {MAX_BPS}")
                })?;
            if slug.is_empty()
                || !slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(format!(
                    "`{entry}`: expected a category slug (lower case letters, digits, hyphens)"
                ));
            }
            if slug == "default" {
                rates.default_bps = bps;
            } else if rates.by_category.insert(slug.to_owned(), bps).is_some() {
                return Err(format!("`{slug}` has two rates"));
            }
        }
        Ok(rates)
    }

    /// The rate of the nearest category on `path` (own category first) that has one.
    pub fn rate_for(&self, path: &[String]) -> i32 {
        path.iter()
            .find_map(|slug| self.by_category.get(slug).copied())
            .unwrap_or(self.default_bps)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn path(slugs: &[&str]) -> Vec<String> {
        slugs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_nearest_category_with_a_rate_wins() {
        let rates = TaxRates::parse("default=0, dry-fruits-nuts=500, nuts=1200").unwrap();
        assert_eq!(rates.rate_for(&path(&["nuts", "dry-fruits-nuts"])), 1200);
        assert_eq!(
            rates.rate_for(&path(&["dried-fruits", "dry-fruits-nuts"])),
            500
        );
        assert_eq!(rates.rate_for(&path(&["mangoes", "fruits"])), 0);
        assert_eq!(rates.rate_for(&[]), 0);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for bad in ["nuts", "nuts=abc", "nuts=20000", "Nuts=5", "nuts=5,nuts=6"] {
            assert!(TaxRates::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(TaxRates::parse("").unwrap(), TaxRates::default());
    }
}
