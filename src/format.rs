//! Compact, stable rendering of numbers for facts and reports (`$1,234,567`, `38.2%`:
//! rounded sensibly, because `422718.16000000003` wastes tokens and reads badly), and of
//! byte sizes, ages and panic payloads for every front end.

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

/// A byte count in binary units: `1.5 MB`, `12.0 kB`, `512 B`.
pub fn bytes(n: u64) -> String {
    let (value, unit) = scaled(n);
    match unit {
        "" => format!("{n} B"),
        u => format!("{value:.1} {u}B"),
    }
}

/// [`bytes`] for a narrow table column: `1.5M`, `12.0k`, `512B`.
pub fn bytes_compact(n: u64) -> String {
    let (value, unit) = scaled(n);
    match unit {
        "" => format!("{n}B"),
        "k" => format!("{value:.1}k"),
        u => format!("{value:.1}{u}"),
    }
}

fn scaled(n: u64) -> (f64, &'static str) {
    match n {
        b if b >= 1 << 20 => (b as f64 / (1 << 20) as f64, "M"),
        b if b >= 1 << 10 => (b as f64 / 1024.0, "k"),
        b => (b as f64, ""),
    }
}

/// An age or a time left in its largest whole unit: `2d`, `5h`, `3m`, `42s`.
pub fn age(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A duration in its two largest units: `1h02m`, `3m05s`, `42s`.
pub fn duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// What a panic said, from its payload (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_ages_and_panics() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(12 * 1024), "12.0 kB");
        assert_eq!(bytes(3 << 19), "1.5 MB");
        assert_eq!(bytes_compact(512), "512B");
        assert_eq!(bytes_compact(12 * 1024), "12.0k");
        assert_eq!(bytes_compact(3 << 19), "1.5M");
        assert_eq!(age(42), "42s");
        assert_eq!(age(3 * 60 + 5), "3m");
        assert_eq!(age(5 * 3600 + 1), "5h");
        assert_eq!(age(2 * 86_400 + 7), "2d");
        assert_eq!(duration(3 * 60 + 5), "3m05s");
        assert_eq!(duration(3600 + 2 * 60), "1h02m");
        let caught = std::panic::catch_unwind(|| panic!("no {}", "luck")).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "no luck");
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "unknown panic");
    }

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
