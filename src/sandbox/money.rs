//! Currencies and exchange rates of the sandbox account.
//!
//! Kept apart from the transform's money code on purpose: the oracle must not share arithmetic
//! with the models it checks.

/// Stripe's minor-unit exponent (not ISO 4217 blindly: ISK, HUF and TWD are two-decimal in the API).
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "bif" | "clp" | "djf" | "gnf" | "jpy" | "kmf" | "krw" | "mga" | "pyg" | "rwf" | "ugx"
        | "vnd" | "vuv" | "xaf" | "xof" | "xpf" => 0,
        "bhd" | "jod" | "kwd" | "omr" | "tnd" => 3,
        _ => 2,
    }
}

/// The account's settlement currency.
pub const SETTLEMENT: &str = "usd";

/// Settlement-major units per presentment-major unit, in millionths, on the given day.
/// Rates drift smoothly so FX revaluation shows up in MRR without being noise.
pub fn rate_micros(currency: &str, day: i64) -> i64 {
    let base: i64 = match currency {
        "usd" => return 1_000_000,
        "eur" => 1_080_000,
        "gbp" => 1_270_000,
        "jpy" => 6_700,
        _ => 1_000_000,
    };
    // A triangle wave of ±2 % with a 60-day period: integer-only, so identical on every platform.
    let phase = day.rem_euclid(60);
    let tri = if phase < 30 { phase } else { 60 - phase }; // 0..=30
    base + base * (tri - 15) * 2 / (15 * 100)
}

/// `round_half_away(num / den)` on integers.
pub fn div_round_half_away(num: i128, den: i128) -> i64 {
    let q = num / den;
    let r = num % den;
    let bump = if 2 * r.abs() >= den.abs() {
        num.signum() * den.signum()
    } else {
        0
    };
    (q + bump) as i64
}

/// Presentment minor units → settlement minor units at `rate_micros`.
pub fn to_settlement(amount: i64, currency: &str, rate: i64) -> i64 {
    let exp_diff = exponent(SETTLEMENT) as i32 - exponent(currency) as i32;
    let mut num = amount as i128 * rate as i128;
    let mut den: i128 = 1_000_000;
    if exp_diff >= 0 {
        num *= 10i128.pow(exp_diff as u32);
    } else {
        den *= 10i128.pow((-exp_diff) as u32);
    }
    div_round_half_away(num, den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round_half_away(5, 2), 3);
        assert_eq!(div_round_half_away(-5, 2), -3);
        assert_eq!(div_round_half_away(4, 3), 1);
        assert_eq!(div_round_half_away(-4, 3), -1);
    }

    #[test]
    fn zero_decimal_conversion_uses_the_exponent() {
        // ¥1,000 at 0.0065 USD/JPY is $6.50 = 650 cents (METRICS.md §3.6).
        assert_eq!(to_settlement(1000, "jpy", 6_500), 650);
        assert_eq!(to_settlement(1000, "eur", 1_080_000), 1080);
    }
}
