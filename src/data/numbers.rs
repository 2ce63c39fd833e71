//! Numbers as exports write them: `1,234.56`, `1.234,56`, `$1,234`, `12.5 %`, `(45.00)`,
//! `1 234,5 €`. The decimal separator is decided once per file from the values (a separator
//! followed by other than three digits, or both separators in one value), never per value.

use serde::{Deserialize, Serialize};

/// Which character separates the decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Decimal {
    #[default]
    #[serde(rename = ".")]
    Point,
    #[serde(rename = ",")]
    Comma,
}

impl Decimal {
    pub fn char(self) -> char {
        match self {
            Decimal::Point => '.',
            Decimal::Comma => ',',
        }
    }

    fn thousands(self) -> char {
        match self {
            Decimal::Point => ',',
            Decimal::Comma => '.',
        }
    }
}

/// What one value says about the decimal separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Evidence {
    Point,
    Comma,
    None,
}

/// Currency symbols and codes, spaces of every width, `%`, `+`, and the grouping
/// apostrophe: what is stripped around and inside a number.
fn is_decoration(c: char) -> bool {
    matches!(
        c,
        '$' | '€'
            | '£'
            | '¥'
            | '₹'
            | '₩'
            | '₽'
            | '₺'
            | '¢'
            | '%'
            | '\''
            | '’'
            | ' '
            | '\u{a0}'
            | '\u{202f}'
            | '\u{2009}'
    )
}

/// Strips decoration and a sign written as `-`, `(…)` or a trailing `-`; returns the
/// digits-and-separators core and whether the value is negative. `None` if what is left
/// is not made of digits and separators.
fn core(raw: &str) -> Option<(String, bool)> {
    let mut s = raw.trim();
    for code in [
        "USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "INR", "BRL",
    ] {
        s = s.strip_prefix(code).unwrap_or(s);
        s = s.strip_suffix(code).unwrap_or(s);
    }
    let mut negative = false;
    let mut s = s.trim().to_string();
    if s.starts_with('(') && s.ends_with(')') && s.len() > 2 {
        negative = true;
        s = s[1..s.len() - 1].to_string();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_decoration(c) || c == '+' {
            continue;
        }
        out.push(c);
    }
    if let Some(rest) = out.strip_prefix('-') {
        negative = !negative;
        out = rest.to_string();
    } else if let Some(rest) = out.strip_suffix('-') {
        negative = !negative;
        out = rest.to_string();
    }
    let ok = !out.is_empty()
        && out.chars().any(|c| c.is_ascii_digit())
        && out.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',');
    ok.then_some((out, negative))
}

fn evidence(raw: &str) -> Evidence {
    let Some((s, _)) = core(raw) else {
        return Evidence::None;
    };
    let (dot, comma) = (s.rfind('.'), s.rfind(','));
    match (dot, comma) {
        (Some(d), Some(c)) if d > c => Evidence::Point,
        (Some(_), Some(_)) => Evidence::Comma,
        (Some(d), None) => one_separator(&s, '.', d, Evidence::Point, Evidence::Comma),
        (None, Some(c)) => one_separator(&s, ',', c, Evidence::Comma, Evidence::Point),
        (None, None) => Evidence::None,
    }
}

/// A value with one kind of separator, last at `at`: `1.5` has a decimal `sep`; `1.234.567`
/// (two of them) groups with it; `1.234` could be either.
fn one_separator(s: &str, sep: char, at: usize, decimal: Evidence, grouping: Evidence) -> Evidence {
    if s.matches(sep).count() > 1 {
        grouping
    } else if s.len() - at - 1 != 3 {
        decimal
    } else {
        Evidence::None
    }
}

/// The decimal separator of a file from some of its values, or `None` when nothing tells.
pub fn detect_decimal<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Decimal> {
    let (mut point, mut comma) = (0usize, 0usize);
    for v in values {
        match evidence(v) {
            Evidence::Point => point += 1,
            Evidence::Comma => comma += 1,
            Evidence::None => {}
        }
    }
    match (point, comma) {
        (0, 0) => None,
        (p, c) if p >= c => Some(Decimal::Point),
        _ => Some(Decimal::Comma),
    }
}

/// Parses a number as written in an export, with the file's decimal separator. Grouping
/// must be in threes (`1,5` is not one and a half in a file whose decimals are points).
pub fn parse_number(raw: &str, decimal: Decimal) -> Option<f64> {
    let trimmed = raw.trim();
    // The common case first: a plain number.
    if let Ok(v) = trimmed.parse::<f64>()
        && (decimal == Decimal::Point || !trimmed.contains('.'))
    {
        return Some(v);
    }
    let (s, negative) = core(trimmed)?;
    let (int, frac) = match s.rfind(decimal.char()) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (&s[..], None),
    };
    if let Some(f) = frac
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let groups: Vec<&str> = int.split(decimal.thousands()).collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())));
    if !grouped_ok || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let mut text: String = groups.concat();
    if text.is_empty() {
        text.push('0');
    }
    if let Some(f) = frac {
        text.push('.');
        text.push_str(f);
    }
    let v: f64 = text.parse().ok()?;
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_points_with_grouping_and_decoration() {
        let p = Decimal::Point;
        assert_eq!(parse_number("1234.5", p), Some(1234.5));
        assert_eq!(parse_number(" 1,234.56 ", p), Some(1234.56));
        assert_eq!(parse_number("$1,234,567.00", p), Some(1_234_567.0));
        assert_eq!(parse_number("-$12.50", p), Some(-12.5));
        assert_eq!(parse_number("(45.00)", p), Some(-45.0));
        assert_eq!(parse_number("12.5%", p), Some(12.5));
        assert_eq!(parse_number("USD 99", p), Some(99.0));
        assert_eq!(parse_number("1e3", p), Some(1000.0));
        assert_eq!(parse_number("1,5", p), None);
        assert_eq!(parse_number("12,34,567", p), None);
        assert_eq!(parse_number("abc", p), None);
        assert_eq!(parse_number("", p), None);
        assert_eq!(parse_number("1.2.3", p), None);
    }

    #[test]
    fn decimal_commas_with_dot_and_space_grouping() {
        let c = Decimal::Comma;
        assert_eq!(parse_number("1.234,56", c), Some(1234.56));
        assert_eq!(parse_number("1 234,5 €", c), Some(1234.5));
        assert_eq!(parse_number("1\u{a0}234,5", c), Some(1234.5));
        assert_eq!(parse_number("12,5 %", c), Some(12.5));
        assert_eq!(parse_number("1.500", c), Some(1500.0));
        assert_eq!(parse_number("-0,75", c), Some(-0.75));
        assert_eq!(parse_number("42", c), Some(42.0));
        assert_eq!(parse_number("1.5", c), None);
        assert_eq!(parse_number("1234,5678", c), Some(1234.5678));
    }

    #[test]
    fn the_separator_is_decided_by_the_values() {
        assert_eq!(detect_decimal(["1.234,56", "12"]), Some(Decimal::Comma));
        assert_eq!(detect_decimal(["12,5", "3"]), Some(Decimal::Comma));
        assert_eq!(detect_decimal(["1,234.56"]), Some(Decimal::Point));
        assert_eq!(detect_decimal(["3.47", "1,234"]), Some(Decimal::Point));
        assert_eq!(detect_decimal(["1,234", "1.500", "7"]), None);
        assert_eq!(detect_decimal(["Coca-Cola", "2024-01-05"]), None);
        assert_eq!(detect_decimal(["1.234.567"]), Some(Decimal::Comma));
    }
}
