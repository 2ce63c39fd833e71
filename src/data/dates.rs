//! Dates and periods as exports write them. A date column's format is decided from all of
//! its values: ISO `YYYY-MM-DD` (with or without a time), or day and month in either order
//! with `/`, `.` or `-` and two- or four-digit years. Day-first against month-first is
//! decided by a value above 12; a column where every value could be either is refused with
//! the way to choose, never guessed. Quarters (`Q3`, `2024-Q3`, `3`) and months (`3`,
//! `Mar`, `March`) are read as numbers.

use chrono::{Datelike, NaiveDate};

/// The order of a date's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// Year first: `2024-03-01`, `2024/03/01`, with an optional time.
    YearFirst,
    /// `01/03/2024`, `01.03.24`.
    DayFirst,
    /// `03/01/2024`, `3/1/24`.
    MonthFirst,
    /// A chrono `strftime` pattern the analyst gave, e.g. `%d %b %Y`.
    Pattern(String),
}

impl DateFormat {
    /// Parses `--date-format` / `[data] date_format`: `ymd`, `dmy`, `mdy` (any separator and
    /// year width), or a chrono pattern with `%`.
    pub fn parse_setting(text: &str) -> Result<DateFormat, String> {
        let t = text.trim();
        match t.to_ascii_lowercase().as_str() {
            "ymd" | "iso" | "yyyy-mm-dd" => Ok(DateFormat::YearFirst),
            "dmy" | "dd/mm/yyyy" | "day-first" => Ok(DateFormat::DayFirst),
            "mdy" | "mm/dd/yyyy" | "month-first" => Ok(DateFormat::MonthFirst),
            _ if t.contains('%') => {
                // A pattern chrono cannot use at all fails on every value; say so now.
                let probe = NaiveDate::from_ymd_opt(2024, 3, 1).expect("valid date");
                let mut out = String::new();
                use std::fmt::Write;
                write!(out, "{}", probe.format(t)).map_err(|_| format!("`{t}` is not a valid date pattern"))?;
                Ok(DateFormat::Pattern(t.to_string()))
            }
            _ => Err(format!(
                "`{t}` is not a date format; use dmy (day first), mdy (month first), ymd, or a pattern such as %d.%m.%Y"
            )),
        }
    }

    /// How the format is described to the analyst.
    pub fn describe(&self) -> String {
        match self {
            DateFormat::YearFirst => "YYYY-MM-DD (year first)".into(),
            DateFormat::DayFirst => "DD/MM/YYYY (day first)".into(),
            DateFormat::MonthFirst => "MM/DD/YYYY (month first)".into(),
            DateFormat::Pattern(p) => p.clone(),
        }
    }

    /// The date of one value in this format.
    pub fn parse(&self, value: &str) -> Option<NaiveDate> {
        match self {
            DateFormat::Pattern(p) => {
                let v = value.trim();
                NaiveDate::parse_from_str(v, p)
                    .ok()
                    .or_else(|| chrono::NaiveDateTime::parse_from_str(v, p).ok().map(|d| d.date()))
            }
            order => {
                let parts = split(value)?;
                let (y, m, d) = match (order, parts.first_is_year) {
                    (DateFormat::YearFirst, true) => (parts.a, parts.b, parts.c),
                    (DateFormat::DayFirst, false) => (parts.c, parts.b, parts.a),
                    (DateFormat::MonthFirst, false) => (parts.c, parts.a, parts.b),
                    _ => return None,
                };
                let year = if parts.short_year { expand_year(y) } else { y };
                NaiveDate::from_ymd_opt(year as i32, m, d)
            }
        }
    }
}

/// `69`-`99` are 1969-1999 and `00`-`68` are 2000-2068, as POSIX `strptime` reads `%y`.
fn expand_year(y: u32) -> u32 {
    if y >= 69 { 1900 + y } else { 2000 + y }
}

/// The three numbers of a date, as written.
#[derive(Debug, Clone, Copy)]
struct Parts {
    a: u32,
    b: u32,
    c: u32,
    first_is_year: bool,
    short_year: bool,
}

/// Splits `2024-03-01`, `01/03/2024 10:00`, `1.3.24` into numbers; anything after a space
/// or `T` following the date is a time and ignored.
fn split(value: &str) -> Option<Parts> {
    let v = value.trim();
    let date = v.split([' ', 'T']).next()?;
    let sep = date.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
    let mut it = date.split(sep);
    let (a, b, c) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|x| x.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (na, nb, nc) = (num(a)?, num(b)?, num(c)?);
    if a.len() == 4 {
        return (b.len() <= 2 && c.len() <= 2).then_some(Parts {
            a: na,
            b: nb,
            c: nc,
            first_is_year: true,
            short_year: false,
        });
    }
    (a.len() <= 2 && b.len() <= 2 && (c.len() == 4 || c.len() == 2)).then_some(Parts {
        a: na,
        b: nb,
        c: nc,
        first_is_year: false,
        short_year: c.len() == 2,
    })
}

/// Whether a value is written like a date of a format [`detect`] reads.
pub fn looks_like_date(value: &str) -> bool {
    split(value).is_some_and(|p| {
        let (m, d) = if p.first_is_year {
            (p.b, p.c)
        } else {
            (p.a.min(p.b), p.a.max(p.b))
        };
        (1..=12).contains(&m) && (1..=31).contains(&d)
    })
}

/// Why a column's dates cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub enum DateProblem {
    /// A value in no date format we read; its row (0-based).
    Unreadable { row: usize, value: String },
    /// Every value reads day-first and month-first alike.
    Ambiguous { examples: Vec<String> },
    /// One value needs day-first and another month-first.
    Mixed {
        day_first: (usize, String),
        month_first: (usize, String),
    },
    /// A value that does not match the format chosen for the column.
    DoesNotMatch {
        row: usize,
        value: String,
        format: DateFormat,
        first: Option<(usize, String)>,
    },
}

/// Decides the format of a column's values (empty ones skipped), or says why it cannot.
pub fn detect<'a>(values: impl Iterator<Item = Option<&'a str>>) -> Result<DateFormat, DateProblem> {
    let mut seen = 0usize;
    let mut year_first = false;
    let mut day_first: Option<(usize, String)> = None;
    let mut month_first: Option<(usize, String)> = None;
    let mut examples = Vec::new();
    for (row, value) in values.enumerate() {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            continue;
        };
        let Some(p) = split(value) else {
            return Err(DateProblem::Unreadable {
                row,
                value: value.to_string(),
            });
        };
        seen += 1;
        if p.first_is_year {
            year_first = true;
            continue;
        }
        if examples.len() < 2 && !examples.iter().any(|e| e == value) {
            examples.push(value.to_string());
        }
        if p.a > 12 && day_first.is_none() {
            day_first = Some((row, value.to_string()));
        }
        if p.b > 12 && month_first.is_none() {
            month_first = Some((row, value.to_string()));
        }
    }
    if year_first || seen == 0 {
        return Ok(DateFormat::YearFirst);
    }
    match (day_first, month_first) {
        (Some(d), Some(m)) => Err(DateProblem::Mixed {
            day_first: d,
            month_first: m,
        }),
        (Some(_), None) => Ok(DateFormat::DayFirst),
        (None, Some(_)) => Ok(DateFormat::MonthFirst),
        (None, None) => Err(DateProblem::Ambiguous { examples }),
    }
}

/// `(year, month)` of every value in `format`; empty values stay empty.
pub fn year_months<'a>(
    values: impl Iterator<Item = Option<&'a str>>,
    format: &DateFormat,
) -> Result<Vec<Option<(i64, i64)>>, DateProblem> {
    let mut out = Vec::new();
    let mut first: Option<(usize, String)> = None;
    for (row, value) in values.enumerate() {
        let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            out.push(None);
            continue;
        };
        match format.parse(value) {
            Some(d) => {
                first.get_or_insert_with(|| (row, value.to_string()));
                out.push(Some((i64::from(d.year()), i64::from(d.month()))));
            }
            None => {
                return Err(DateProblem::DoesNotMatch {
                    row,
                    value: value.to_string(),
                    format: format.clone(),
                    first,
                });
            }
        }
    }
    Ok(out)
}

/// A quarter as `Q3`, `q3`, `2024-Q3`, `2024Q3`, `Q3 2024`, `3` or `3.0`: 1-4.
pub fn parse_quarter(raw: &str) -> Option<i64> {
    let v = raw.trim();
    let upper = v.to_ascii_uppercase();
    if let Some(i) = upper.find('Q') {
        let digit = upper[i + 1..].chars().next()?.to_digit(10)?;
        return (1..=4).contains(&digit).then_some(i64::from(digit));
    }
    let n = whole(v)?;
    (1..=4).contains(&n).then_some(n)
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A month as `3`, `03`, `3.0`, `Mar`, `March`, `Sept`, `2024-03` or `March 2024`: 1-12.
pub fn parse_month(raw: &str) -> Option<i64> {
    let v = raw.trim();
    if let Some(n) = whole(v) {
        return (1..=12).contains(&n).then_some(n);
    }
    // `2024-03`: year and month.
    if let Some((y, m)) = v.split_once(['-', '/'])
        && y.len() == 4
        && y.bytes().all(|b| b.is_ascii_digit())
    {
        return whole(m).filter(|n| (1..=12).contains(n));
    }
    let word: String = v
        .chars()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_lowercase();
    if word.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&word) || (word == "sept" && *m == "september"))
        .map(|i| i as i64 + 1)
}

/// A year as `2024`, `2024.0` or `FY2024`.
pub fn parse_year(raw: &str) -> Option<i64> {
    let v = raw.trim();
    let v = v.strip_prefix("FY").or_else(|| v.strip_prefix("fy")).unwrap_or(v);
    whole(v).filter(|y| (1000..=9999).contains(y))
}

/// A whole number, also as a float with no fraction (`3.0`, from spreadsheets).
fn whole(v: &str) -> Option<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Some(n);
    }
    let f: f64 = v.parse().ok()?;
    (f.fract() == 0.0 && f.abs() < 1e15).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_all(values: &[&str]) -> Result<DateFormat, DateProblem> {
        detect(values.iter().map(|v| Some(*v)))
    }

    #[test]
    fn iso_with_and_without_time() {
        assert_eq!(
            detect_all(&["2024-03-01", "2024-12-31T10:00:00Z", "2024-01-05 08:30"]),
            Ok(DateFormat::YearFirst)
        );
        let f = DateFormat::YearFirst;
        assert_eq!(f.parse("2024-02-29"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(f.parse("2023-02-29"), None);
        assert_eq!(f.parse("2024/12/01"), NaiveDate::from_ymd_opt(2024, 12, 1));
    }

    #[test]
    fn day_first_and_month_first_are_decided_by_a_value_above_12() {
        assert_eq!(detect_all(&["03/01/2024", "25/01/2024"]), Ok(DateFormat::DayFirst));
        assert_eq!(detect_all(&["03/01/19", "12/25/19"]), Ok(DateFormat::MonthFirst));
        assert_eq!(detect_all(&["01.03.2024", "31.03.2024"]), Ok(DateFormat::DayFirst));
        assert_eq!(
            DateFormat::MonthFirst.parse("12/25/19"),
            NaiveDate::from_ymd_opt(2019, 12, 25)
        );
        assert_eq!(
            DateFormat::DayFirst.parse("25-01-70"),
            NaiveDate::from_ymd_opt(1970, 1, 25)
        );
        assert_eq!(
            DateFormat::DayFirst.parse("1.3.2024 10:00"),
            NaiveDate::from_ymd_opt(2024, 3, 1)
        );
    }

    #[test]
    fn all_ambiguous_or_mixed_is_refused() {
        assert_eq!(
            detect_all(&["03/01/2024", "04/02/2024", "03/01/2024"]),
            Err(DateProblem::Ambiguous {
                examples: vec!["03/01/2024".into(), "04/02/2024".into()]
            })
        );
        assert!(matches!(
            detect_all(&["25/01/2024", "01/25/2024"]),
            Err(DateProblem::Mixed { .. })
        ));
        assert!(matches!(
            detect_all(&["2024-01-01", "yesterday"]),
            Err(DateProblem::Unreadable { row: 1, .. })
        ));
    }

    #[test]
    fn a_chosen_format_or_pattern_reads_every_value() {
        let f = DateFormat::parse_setting("%d %b %Y").unwrap();
        assert_eq!(f.parse("05 Mar 2024"), NaiveDate::from_ymd_opt(2024, 3, 5));
        assert_eq!(DateFormat::parse_setting("DMY"), Ok(DateFormat::DayFirst));
        assert!(DateFormat::parse_setting("weekly").is_err());
        let months = year_months(
            ["03/01/2024", "", "04/02/2024"].iter().map(|v| Some(*v)),
            &DateFormat::DayFirst,
        )
        .unwrap();
        assert_eq!(months, vec![Some((2024, 1)), None, Some((2024, 2))]);
        let err = year_months(
            ["2024-01-01", "01/02/2024"].iter().map(|v| Some(*v)),
            &DateFormat::YearFirst,
        );
        assert!(matches!(err, Err(DateProblem::DoesNotMatch { row: 1, .. })));
    }

    #[test]
    fn quarters_months_and_years_as_written() {
        for (q, n) in [
            ("Q4", 4),
            ("q1", 1),
            ("2024-Q3", 3),
            ("2024Q2", 2),
            ("Q3 2024", 3),
            ("3", 3),
            ("2.0", 2),
        ] {
            assert_eq!(parse_quarter(q), Some(n), "{q}");
        }
        assert_eq!(parse_quarter("Q5"), None);
        assert_eq!(parse_quarter("5"), None);
        for (m, n) in [
            ("3", 3),
            ("03", 3),
            ("Mar", 3),
            ("MARCH", 3),
            ("Sept", 9),
            ("2024-11", 11),
            ("December 2024", 12),
        ] {
            assert_eq!(parse_month(m), Some(n), "{m}");
        }
        assert_eq!(parse_month("13"), None);
        assert_eq!(parse_month("Ma"), None);
        assert_eq!(parse_year("FY2024"), Some(2024));
        assert_eq!(parse_year("2024.0"), Some(2024));
        assert_eq!(parse_year("24"), None);
    }
}
