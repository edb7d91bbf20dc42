//! Exact money: rationals on `i128` and the one rounding rule (METRICS.md conventions).
//!
//! Kept apart from the sandbox's money code on purpose: the oracle must not share arithmetic
//! with the models it checks.

/// An exact fraction; the denominator is always positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub num: i128,
    pub den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Ratio {
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    pub fn new(num: i128, den: i128) -> Ratio {
        let sign = if den < 0 { -1 } else { 1 };
        let g = gcd(num, den);
        Ratio {
            num: sign * num / g,
            den: sign * den / g,
        }
    }

    pub fn int(n: i128) -> Ratio {
        Ratio { num: n, den: 1 }
    }

    pub fn plus(self, o: Ratio) -> Ratio {
        Ratio::new(self.num * o.den + o.num * self.den, self.den * o.den)
    }

    pub fn minus(self, o: Ratio) -> Ratio {
        self.plus(Ratio::new(-o.num, o.den))
    }

    pub fn times(self, o: Ratio) -> Ratio {
        let g1 = gcd(self.num, o.den);
        let g2 = gcd(o.num, self.den);
        Ratio::new(
            (self.num / g1) * (o.num / g2),
            (self.den / g2) * (o.den / g1),
        )
    }

    pub fn max_zero(self) -> Ratio {
        if self.num < 0 { Ratio::ZERO } else { self }
    }

    /// A decimal literal (`"1200"`, `"12.5"`, `"-0.0065"`, `"1e-3"` is refused) exactly.
    pub fn parse_decimal(text: &str) -> Option<Ratio> {
        let text = text.trim();
        let (neg, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty()
            || !whole
                .bytes()
                .chain(frac.bytes())
                .all(|b| b.is_ascii_digit())
            || frac.len() > 30
        {
            return None;
        }
        let mut num: i128 = 0;
        for b in whole.bytes().chain(frac.bytes()) {
            num = num.checked_mul(10)?.checked_add((b - b'0') as i128)?;
        }
        let den = 10i128.checked_pow(frac.len() as u32)?;
        Some(Ratio::new(if neg { -num } else { num }, den))
    }

    /// `round_half_away`: nearest integer, ties away from zero.
    pub fn round_half_away(self) -> i128 {
        let q = self.num / self.den;
        let r = self.num % self.den;
        if 2 * r.abs() >= self.den {
            q + self.num.signum()
        } else {
            q
        }
    }

    /// Rounded half away from zero to `scale` decimal places, as an unscaled integer.
    pub fn round_to_scale(self, scale: u32) -> i128 {
        self.times(Ratio::int(10i128.pow(scale))).round_half_away()
    }
}

/// `conv(x, c) = round_half_away(x × rate × 10^(exp_to − exp_from))` (METRICS.md §3.6).
pub fn convert(amount: i64, rate: Ratio, exp_from: i32, exp_to: i32) -> i64 {
    let shift = exp_to - exp_from;
    let scale = Ratio::int(10i128.pow(shift.unsigned_abs()));
    let scaled = if shift >= 0 {
        rate.times(scale)
    } else {
        rate.times(Ratio::new(1, scale.num))
    };
    Ratio::int(amount as i128).times(scaled).round_half_away() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        let cases = [
            (5, 2, 3),
            (-5, 2, -3),
            (7, 3, 2),
            (-7, 3, -2),
            (49000, 12, 4083),
            (1, 2, 1),
        ];
        for (num, den, want) in cases {
            assert_eq!(Ratio::new(num, den).round_half_away(), want, "{num}/{den}");
        }
        assert_eq!(Ratio::new(1250125, 1000).round_to_scale(2), 125013);
    }

    #[test]
    fn decimals_parse_exactly_or_not_at_all() {
        assert_eq!(Ratio::parse_decimal("1.234"), Some(Ratio::new(1234, 1000)));
        assert_eq!(Ratio::parse_decimal("-0.5"), Some(Ratio::new(-1, 2)));
        assert_eq!(Ratio::parse_decimal("1200"), Some(Ratio::int(1200)));
        assert_eq!(Ratio::parse_decimal("1e-3"), None);
        assert_eq!(Ratio::parse_decimal(""), None);
    }

    #[test]
    fn conversion_applies_the_exponent_term() {
        // ¥1,000 at 0.0065 USD/JPY is $6.50 = 650 cents (METRICS.md §3.6), not 7.
        let rate = Ratio::parse_decimal("0.0065").expect("rate");
        assert_eq!(convert(1000, rate, 0, 2), 650);
        // 10.00 EUR at 1.234 → 12.34 USD.
        let rate = Ratio::parse_decimal("1.234").expect("rate");
        assert_eq!(convert(1000, rate, 2, 2), 1234);
        // A three-decimal currency into a two-decimal one divides by 10, half away.
        assert_eq!(convert(-1005, Ratio::int(1), 3, 2), -101);
    }
}
