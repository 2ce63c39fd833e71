//! The columns mrflow knows, their types, and how the derivable ones are derived.

use std::fmt;

/// How a column's values must parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Integer,
    Number,
    /// `YYYY-MM-DD` text.
    Date,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Text => "text",
            ColumnKind::Integer => "whole numbers",
            ColumnKind::Number => "numbers",
            ColumnKind::Date => "a YYYY-MM-DD date",
        })
    }
}

/// How a missing column can be computed from others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    Product(&'static str, &'static str),
    Difference(&'static str, &'static str),
    /// `a / b * 100`, a percentage.
    Percent(&'static str, &'static str),
    /// Calendar quarter (1-4) of a month column (1-12).
    QuarterOfMonth(&'static str),
    /// Year of a `YYYY-MM-DD` date column.
    YearOfDate(&'static str),
    /// Month (1-12) of a `YYYY-MM-DD` date column.
    MonthOfDate(&'static str),
}

impl Derivation {
    pub fn inputs(&self) -> Vec<&'static str> {
        match *self {
            Derivation::Product(a, b) | Derivation::Difference(a, b) | Derivation::Percent(a, b) => {
                vec![a, b]
            }
            Derivation::QuarterOfMonth(m) | Derivation::YearOfDate(m) | Derivation::MonthOfDate(m) => vec![m],
        }
    }
}

impl fmt::Display for Derivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Derivation::Product(a, b) => write!(f, "{a} × {b}"),
            Derivation::Difference(a, b) => write!(f, "{a} − {b}"),
            Derivation::Percent(a, b) => write!(f, "{a} / {b} × 100"),
            Derivation::QuarterOfMonth(m) => write!(f, "quarter of {m}"),
            Derivation::YearOfDate(d) => write!(f, "year of {d}"),
            Derivation::MonthOfDate(d) => write!(f, "month of {d}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub kind: ColumnKind,
    pub derivation: Option<Derivation>,
}

const fn spec(name: &'static str, kind: ColumnKind, derivation: Option<Derivation>) -> ColumnSpec {
    ColumnSpec { name, kind, derivation }
}

/// Every column a tool may ask for.
pub const KNOWN_COLUMNS: &[ColumnSpec] = &[
    spec("sale_date", ColumnKind::Text, None),
    spec("year", ColumnKind::Integer, Some(Derivation::YearOfDate("sale_date"))),
    spec("month", ColumnKind::Integer, Some(Derivation::MonthOfDate("sale_date"))),
    spec(
        "quarter",
        ColumnKind::Integer,
        Some(Derivation::QuarterOfMonth("month")),
    ),
    spec("region", ColumnKind::Text, None),
    spec("country", ColumnKind::Text, None),
    spec("store_id", ColumnKind::Text, None),
    spec("brand", ColumnKind::Text, None),
    spec("category", ColumnKind::Text, None),
    spec("units_sold", ColumnKind::Number, None),
    spec("price_per_unit", ColumnKind::Number, None),
    spec(
        "total_revenue",
        ColumnKind::Number,
        Some(Derivation::Product("units_sold", "price_per_unit")),
    ),
    spec("cost_per_unit", ColumnKind::Number, None),
    spec(
        "total_cost",
        ColumnKind::Number,
        Some(Derivation::Product("units_sold", "cost_per_unit")),
    ),
    spec(
        "profit",
        ColumnKind::Number,
        Some(Derivation::Difference("total_revenue", "total_cost")),
    ),
    spec(
        "profit_margin",
        ColumnKind::Number,
        Some(Derivation::Percent("profit", "total_revenue")),
    ),
];

pub fn column_spec(name: &str) -> Option<&'static ColumnSpec> {
    KNOWN_COLUMNS.iter().find(|c| c.name == name)
}
