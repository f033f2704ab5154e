//! What shoppers do and how often: the operations and a weighted mix of them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One thing a shopper does, timed as a whole (it may take several RPCs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// CatalogService.ListProducts, then GetProduct of one of them.
    Browse,
    /// CatalogService.SearchProducts with a produce word (some misspelt).
    Search,
    /// CartService.AddItem of a stocked product, to a guest or a signed-in cart.
    Cart,
    /// CheckoutService.StartCheckout with a sandbox card, waiting or watching to the end.
    Checkout,
    /// ShippingService.ListShipments of the shopper's order, then WatchShipment's first
    /// message.
    Track,
    /// Register, login, save an address and merge the guest cart: what a guest does once,
    /// before a checkout or a track. Not in the mix; it happens when needed.
    Signup,
}

impl Operation {
    /// The operations a mix can weigh.
    pub const MIXABLE: [Operation; 5] = [
        Operation::Browse,
        Operation::Search,
        Operation::Cart,
        Operation::Checkout,
        Operation::Track,
    ];

    /// The name in mixes and reports.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Browse => "browse",
            Operation::Search => "search",
            Operation::Cart => "cart",
            Operation::Checkout => "checkout",
            Operation::Track => "track",
            Operation::Signup => "signup",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Operation {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::MIXABLE
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| {
                MixError(format!(
                    "unknown operation `{s}` (one of browse, search, cart, checkout, track)"
                ))
            })
    }
}

/// Why a mix, duration or other setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MixError(pub String);

impl fmt::Display for MixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MixError {}

/// Weights per operation, like `browse=10,search=4,cart=3,checkout=1,track=1`; an
/// operation is picked with probability weight / total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    weights: Vec<(Operation, u32)>,
    total: u32,
}

impl Mix {
    /// The weights, in the order given.
    pub fn weights(&self) -> impl Iterator<Item = (Operation, u32)> + '_ {
        self.weights.iter().copied()
    }

    /// The weights by name, for reports.
    pub fn to_map(&self) -> BTreeMap<String, u32> {
        self.weights
            .iter()
            .map(|(op, w)| (op.name().to_owned(), *w))
            .collect()
    }

    /// The operation for `roll`, a number uniformly drawn from any `u64`.
    pub fn pick(&self, roll: u64) -> Operation {
        let mut at = (roll % u64::from(self.total)) as u32;
        for (op, weight) in &self.weights {
            if at < *weight {
                return *op;
            }
            at -= weight;
        }
        // Unreachable while the weights sum to total; the last one is as good as any.
        self.weights.last().map_or(Operation::Browse, |(op, _)| *op)
    }
}

impl Default for Mix {
    /// Mostly looking, some carting, few checkouts, like a shop's real traffic (and
    /// Online Boutique's loadgenerator).
    fn default() -> Self {
        "browse=10,search=4,cart=3,checkout=1,track=1"
            .parse()
            .unwrap_or_else(|_| unreachable!("the default mix parses"))
    }
}

impl FromStr for Mix {
    type Err = MixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut weights: Vec<(Operation, u32)> = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| MixError(format!("`{part}` is not operation=weight")))?;
            let op: Operation = name.trim().parse()?;
            let weight: u32 = weight.trim().parse().map_err(|_| {
                MixError(format!(
                    "the weight of {op} is not a whole number: `{}`",
                    weight.trim()
                ))
            })?;
            if weights.iter().any(|(seen, _)| *seen == op) {
                return Err(MixError(format!("{op} is given twice")));
            }
            weights.push((op, weight));
        }
        weights.retain(|(_, w)| *w > 0);
        let total = weights
            .iter()
            .try_fold(0u32, |sum, (_, w)| sum.checked_add(*w))
            .ok_or_else(|| MixError("the weights add up to more than 2^32".into()))?;
        if total == 0 {
            return Err(MixError(
                "the mix has no operation with a weight above 0".into(),
            ));
        }
        Ok(Self { weights, total })
    }
}

/// Parses `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, MixError> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| MixError(format!("`{s}` is not a duration like 500ms, 30s or 2m")))?;
    let seconds = match unit.trim() {
        "ms" => value / 1e3,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(MixError(format!(
                "unknown unit `{other}` in `{s}` (ms, s, m, h)"
            )));
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(MixError(format!("`{s}` is not a positive duration")));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_picks_each_operation_in_proportion_to_its_weight() {
        let mix: Mix = "browse=3, cart=1".parse().unwrap();
        let picks: Vec<Operation> = (0..8).map(|roll| mix.pick(roll)).collect();
        assert_eq!(
            picks,
            [
                Operation::Browse,
                Operation::Browse,
                Operation::Browse,
                Operation::Cart,
                Operation::Browse,
                Operation::Browse,
                Operation::Browse,
                Operation::Cart
            ]
        );
        assert_eq!(mix.to_map().get("browse"), Some(&3));
    }

    #[test]
    fn zero_weights_are_left_out_and_an_all_zero_mix_is_refused() {
        let mix: Mix = "browse=0,track=2".parse().unwrap();
        assert!((0..10).all(|roll| mix.pick(roll) == Operation::Track));
        assert_eq!(mix.weights().count(), 1);
        let err = "browse=0".parse::<Mix>().unwrap_err();
        assert!(err.0.contains("no operation"), "{err}");
    }

    #[test]
    fn a_bad_mix_names_what_is_wrong() {
        let unknown = "browse=1,shop=2".parse::<Mix>().unwrap_err();
        assert!(unknown.0.contains("unknown operation `shop`"), "{unknown}");
        let weight = "search=lots".parse::<Mix>().unwrap_err();
        assert!(weight.0.contains("weight of search"), "{weight}");
        let twice = "cart=1,cart=2".parse::<Mix>().unwrap_err();
        assert!(twice.0.contains("cart is given twice"), "{twice}");
        let shape = "checkout".parse::<Mix>().unwrap_err();
        assert!(shape.0.contains("operation=weight"), "{shape}");
        // Signup happens when needed; it is not something to weigh.
        assert!("signup=1".parse::<Mix>().is_err());
    }

    #[test]
    fn the_default_mix_weighs_every_operation() {
        let mix = Mix::default();
        let ops: Vec<Operation> = mix.weights().map(|(op, _)| op).collect();
        assert_eq!(ops, Operation::MIXABLE);
    }

    #[test]
    fn durations_take_a_unit_or_seconds() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").unwrap_err().0.contains("unknown unit"));
    }
}
