//! The columns mrflow knows, their types, and how the derivable ones are derived.

use std::fmt;

/// How a column's values must parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    Text,
    Integer,
    Number,
    /// A date in one of the formats `data::dates` reads.
    Date,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Text => "text",
            ColumnKind::Integer => "whole numbers",
            ColumnKind::Number => "numbers",
            ColumnKind::Date => "dates",
        })
    }
}

/// How a missing column can be computed from others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    Product(&'static str, &'static str),
    Difference(&'static str, &'static str),
    /// `a / b`, e.g. a price from revenue and units.
    Ratio(&'static str, &'static str),
    /// `a / b * 100`, a percentage.
    Percent(&'static str, &'static str),
    /// Calendar quarter (1-4) of a month column (1-12).
    QuarterOfMonth(&'static str),
    /// Year of a date column.
    YearOfDate(&'static str),
    /// Month (1-12) of a date column.
    MonthOfDate(&'static str),
}

impl Derivation {
    pub fn inputs(&self) -> Vec<&'static str> {
        match *self {
            Derivation::Product(a, b)
            | Derivation::Difference(a, b)
            | Derivation::Ratio(a, b)
            | Derivation::Percent(a, b) => {
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
            Derivation::Ratio(a, b) => write!(f, "{a} / {b}"),
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
    /// Ways to compute the column when the file lacks it, tried in order.
    pub derivations: &'static [Derivation],
}

impl ColumnSpec {
    /// The usual way to derive it, for messages.
    pub fn derivation(&self) -> Option<Derivation> {
        self.derivations.first().copied()
    }
}

const fn spec(name: &'static str, kind: ColumnKind, derivations: &'static [Derivation]) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        derivations,
    }
}

use Derivation::*;

/// Every column a tool may ask for: the roles a file is mapped to.
pub const KNOWN_COLUMNS: &[ColumnSpec] = &[
    spec("sale_date", ColumnKind::Date, &[]),
    spec("year", ColumnKind::Integer, &[YearOfDate("sale_date")]),
    spec("month", ColumnKind::Integer, &[MonthOfDate("sale_date")]),
    spec("quarter", ColumnKind::Integer, &[QuarterOfMonth("month")]),
    spec("region", ColumnKind::Text, &[]),
    spec("country", ColumnKind::Text, &[]),
    spec("store_id", ColumnKind::Text, &[]),
    spec("brand", ColumnKind::Text, &[]),
    spec("category", ColumnKind::Text, &[]),
    spec("units_sold", ColumnKind::Number, &[]),
    spec(
        "price_per_unit",
        ColumnKind::Number,
        &[Ratio("total_revenue", "units_sold")],
    ),
    spec(
        "total_revenue",
        ColumnKind::Number,
        &[Product("units_sold", "price_per_unit")],
    ),
    spec(
        "cost_per_unit",
        ColumnKind::Number,
        &[Ratio("total_cost", "units_sold")],
    ),
    spec(
        "total_cost",
        ColumnKind::Number,
        &[
            Product("units_sold", "cost_per_unit"),
            Difference("total_revenue", "profit"),
        ],
    ),
    spec(
        "profit",
        ColumnKind::Number,
        &[Difference("total_revenue", "total_cost")],
    ),
    spec(
        "profit_margin",
        ColumnKind::Number,
        &[Percent("profit", "total_revenue")],
    ),
];

pub fn column_spec(name: &str) -> Option<&'static ColumnSpec> {
    KNOWN_COLUMNS.iter().find(|c| c.name == name)
}
