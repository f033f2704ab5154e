//! Line totals and tax in integer minor units, rounded half up.

use super::Unit;

/// `price * quantity / divisor` of the unit, rounded half up to a whole minor unit
/// (`mandi.common.v1.UnitOfSale`). Saturates instead of overflowing.
pub fn line_total(unit: Unit, unit_price_minor: i64, quantity: i64) -> i64 {
    divide_half_up(
        i128::from(unit_price_minor) * i128::from(quantity),
        i128::from(unit.divisor()),
    )
}

/// Tax on `amount_minor` at `rate_bps` basis points, rounded half up.
pub fn tax_on(amount_minor: i64, rate_bps: i32) -> i64 {
    divide_half_up(i128::from(amount_minor) * i128::from(rate_bps), 10_000)
}

fn divide_half_up(numerator: i128, divisor: i128) -> i64 {
    let rounded = (numerator + divisor / 2).div_euclid(divisor);
    i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_prices_divide_by_the_unit_and_round_half_up() {
        // 750 g at ₹180.00/kg is ₹135.00; 333 g at ₹1.01 per 100 g is 3.3633 → 336 paise.
        assert_eq!(line_total(Unit::Kilogram, 18_000, 750), 13_500);
        assert_eq!(line_total(Unit::HundredGrams, 101, 333), 336);
        // 5 g at ₹1.00/kg is half a paisa: rounds up.
        assert_eq!(line_total(Unit::Kilogram, 100, 5), 1);
        assert_eq!(line_total(Unit::Dozen, 6_000, 2), 12_000);
    }

    #[test]
    fn tax_rounds_half_up_and_zero_rated_is_zero() {
        assert_eq!(tax_on(13_500, 500), 675);
        assert_eq!(tax_on(10, 500), 1); // 0.5 paise → 1
        assert_eq!(tax_on(13_500, 0), 0);
    }

    #[test]
    fn absurd_amounts_saturate() {
        assert_eq!(line_total(Unit::Piece, i64::MAX, 50), i64::MAX);
    }
}
