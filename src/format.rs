//! Compact, stable number rendering for facts and reports: `$1,234,567`, `38.2%`.
//! Rounded sensibly, because `422718.16000000003` wastes tokens and reads badly.

/// Thousands-separated integer part of `x`, rounded.
pub fn grouped(x: f64) -> String {
    let rounded = x.round();
    let negative = rounded < 0.0;
    let digits = format!("{:.0}", rounded.abs());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if negative && out != "0" { format!("-{out}") } else { out }
}

/// Money: whole dollars from $1,000 up, cents below.
pub fn money(x: f64) -> String {
    let sign = if x < 0.0 && x.abs() >= 0.005 { "-" } else { "" };
    if x.abs() >= 1000.0 {
        format!("{sign}${}", grouped(x.abs()))
    } else {
        format!("{sign}${:.2}", x.abs())
    }
}

/// The English plural of a dimension's name: brands, categories, regions, countries.
pub fn plural(noun: &str) -> String {
    let lower = noun.to_ascii_lowercase();
    let consonant_y =
        lower.ends_with('y') && !lower.ends_with("ay") && !lower.ends_with("ey") && !lower.ends_with("oy");
    if consonant_y {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"].iter().any(|e| lower.ends_with(e)) {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    }
}

/// A cost in US dollars to four decimals, or `n/a` when the model has no price.
pub fn usd(cost: Option<f64>) -> String {
    cost.map_or("n/a".into(), |c| format!("${c:.4}"))
}

/// A percentage with one decimal.
pub fn pct(x: f64) -> String {
    format!("{}%", decimal(x, 1))
}

/// Percentage points with one decimal.
pub fn pp(x: f64) -> String {
    format!("{} pp", decimal(x, 1))
}

/// `x` with `places` decimals, without a negative zero.
pub fn decimal(x: f64, places: usize) -> String {
    let s = format!("{x:.places$}");
    if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}

/// Rounds to `places` decimals, for values stored in results.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_of_dimension_names() {
        let p: Vec<String> = ["brand", "category", "country", "Ship Mode", "day", "class"]
            .iter()
            .map(|n| plural(n))
            .collect();
        assert_eq!(
            p,
            ["brands", "categories", "countries", "Ship Modes", "days", "classes"]
        );
    }

    #[test]
    fn renders_compactly() {
        assert_eq!(money(422718.16000000003), "$422,718");
        assert_eq!(money(-1234.5), "-$1,235");
        assert_eq!(money(12.345), "$12.35");
        assert_eq!(money(-0.001), "$0.00");
        assert_eq!(pct(38.249), "38.2%");
        assert_eq!(pct(-0.04), "0.0%");
        assert_eq!(pp(12.34), "12.3 pp");
        assert_eq!(grouped(999.6), "1,000");
        assert_eq!(grouped(1234567.0), "1,234,567");
        assert_eq!(round(1.23456, 2), 1.23);
    }
}
