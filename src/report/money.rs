//! Amounts for people: minor units to major units with the currency's symbol and its exponent
//! (the exponents the models use, `sql/seeds/currency_exponents.csv`), grouped by thousands.

use std::collections::HashMap;

/// How amounts of each currency are written.
#[derive(Clone, Debug)]
pub struct Currencies {
    exponents: HashMap<String, u32>,
}

impl Currencies {
    /// The exponents of the seed the models read (unlisted currencies have two decimals).
    pub fn from_seed() -> Currencies {
        let mut exponents = HashMap::new();
        for seed in crate::transform::models::seeds() {
            if seed.name != "currency_exponents" {
                continue;
            }
            for line in seed.csv.lines().skip(1) {
                if let Some((c, e)) = line.split_once(',')
                    && let Ok(e) = e.trim().parse()
                {
                    exponents.insert(c.trim().to_lowercase(), e);
                }
            }
        }
        Currencies { exponents }
    }

    pub fn exponent(&self, currency: &str) -> u32 {
        self.exponents
            .get(&currency.to_lowercase())
            .copied()
            .unwrap_or(2)
    }

    /// `$6,065.38`, `¥2,500`, `−€12.00`, `CHF 1,250.00`.
    pub fn format(&self, minor: i64, currency: &str) -> String {
        let exponent = self.exponent(currency);
        let sign = if minor < 0 { "−" } else { "" };
        let digits = minor.unsigned_abs();
        let scale = 10u64.pow(exponent);
        let whole = group(digits / scale);
        let number = match exponent {
            0 => whole,
            e => format!("{whole}.{:0width$}", digits % scale, width = e as usize),
        };
        match symbol(currency) {
            Some(s) => format!("{sign}{s}{number}"),
            None => format!("{sign}{} {number}", currency.to_uppercase()),
        }
    }

    /// A decimal of minor units (`12921.80`) as money (`$129.22`), rounded half away from zero.
    pub fn format_decimal(&self, minor: f64, currency: &str) -> String {
        self.format(minor.round() as i64, currency)
    }
}

/// Thousands separated by commas.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency.to_lowercase().as_str() {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        "cny" => "CN¥",
        "inr" => "₹",
        "krw" => "₩",
        "cad" => "CA$",
        "aud" => "A$",
        "nzd" => "NZ$",
        "brl" => "R$",
        "mxn" => "MX$",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_in_major_units_with_the_currency() {
        let c = Currencies::from_seed();
        assert_eq!(c.format(606_538, "usd"), "$6,065.38");
        assert_eq!(c.format(2_500, "jpy"), "¥2,500");
        assert_eq!(c.format(-1_200, "eur"), "−€12.00");
        assert_eq!(c.format(123_456_789, "chf"), "CHF 1,234,567.89");
        assert_eq!(c.format(5, "gbp"), "£0.05");
        assert_eq!(c.format(1_500, "kwd"), "KWD 1.500");
        assert_eq!(c.format_decimal(12_921.8, "usd"), "$129.22");
        assert_eq!(group(0), "0");
        assert_eq!(group(1_000), "1,000");
    }
}
