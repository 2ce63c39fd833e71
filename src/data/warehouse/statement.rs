//! The SQL a flow's dataset is summed with: one `GROUP BY` over the flow's keys, every
//! measure's exact sum in cents and each number column's range beside it. Written in the
//! subset PostgreSQL, Redshift and CockroachDB all accept: quoted identifiers, `CAST`,
//! `EXTRACT`, `ROUND(numeric, 2)`, `NULLIF`, `GROUP BY` ordinals.

use std::collections::HashMap;

use super::source::quote;
use crate::data::columns::ColumnPlan;
use crate::data::schema::{ColumnKind, Derivation, column_spec};

/// What a table column holds, from its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SqlKind {
    Integer,
    Number,
    Date,
    Text,
    Boolean,
    Other,
}

impl SqlKind {
    pub(super) fn of(ty: &tokio_postgres::types::Type) -> SqlKind {
        use tokio_postgres::types::Type;
        match *ty {
            Type::INT2 | Type::INT4 | Type::INT8 => SqlKind::Integer,
            Type::NUMERIC | Type::FLOAT4 | Type::FLOAT8 | Type::MONEY => SqlKind::Number,
            Type::DATE | Type::TIMESTAMP | Type::TIMESTAMPTZ => SqlKind::Date,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => SqlKind::Text,
            Type::BOOL => SqlKind::Boolean,
            _ => SqlKind::Other,
        }
    }

    /// As `mrflow-tui data` names a file column's type.
    pub(super) fn label(self) -> &'static str {
        match self {
            SqlKind::Integer => "integer",
            SqlKind::Number => "number",
            SqlKind::Date => "date",
            SqlKind::Text => "text",
            SqlKind::Boolean => "boolean",
            SqlKind::Other => "other",
        }
    }

    pub(super) fn is_numeric(self) -> bool {
        matches!(self, SqlKind::Integer | SqlKind::Number)
    }
}

/// One column of the dataset the statement returns.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Output {
    pub(super) name: String,
    pub(super) kind: ColumnKind,
}

/// The statement and how to read its rows: the keys (`0..keys.len()`), whether the group's
/// rows are complete, its row count, then per value its sum (text), minimum and maximum.
#[derive(Debug)]
pub(super) struct Grouping {
    pub(super) sql: String,
    pub(super) keys: Vec<Output>,
    pub(super) values: Vec<Output>,
    /// Every column of the dataset in the plan's order, as a file's is narrowed.
    pub(super) order: Vec<String>,
    /// Every column of the relation, whose totals (after the values) say what the table
    /// holds whichever flow reads it: a number column's exact sum, any other's count.
    pub(super) totals: Vec<String>,
}

/// The grouped statement for `plan` over a relation whose columns have `kinds`; an error
/// names a column whose type cannot give its role, and what would fix it.
pub(super) fn grouping(
    from: &str,
    plan: &ColumnPlan,
    kinds: &HashMap<String, SqlKind>,
    table: &[String],
) -> Result<Grouping, String> {
    let mut expressions: HashMap<String, (String, ColumnKind)> = HashMap::new();
    let mut order = Vec::new();
    for (name, column) in &plan.read {
        let kind = column_spec(name).map_or(ColumnKind::Text, |s| s.kind);
        let found = kinds.get(column).copied().unwrap_or(SqlKind::Other);
        let quoted = quote(column);
        let expression = match (kind, found) {
            (ColumnKind::Text, _) => format!("CAST({quoted} AS TEXT)"),
            (ColumnKind::Number, k) if k.is_numeric() => format!("CAST({quoted} AS NUMERIC)"),
            (ColumnKind::Integer, k) if k.is_numeric() => format!("CAST({quoted} AS BIGINT)"),
            (ColumnKind::Date, SqlKind::Date) => quoted,
            (kind, found) => {
                return Err(format!(
                    "column `{column}` is {} in the table, but `{name}` needs {kind}: map another column with \
                     --column {name}=COLUMN, or CAST it in a ?query=",
                    found.label()
                ));
            }
        };
        expressions.insert(name.clone(), (expression, kind));
        order.push(name.clone());
    }
    for (name, derivation) in &plan.derive {
        let e = |n: &str| expressions.get(n).map(|(e, _)| e.clone()).unwrap_or_default();
        let expression = match *derivation {
            Derivation::Product(a, b) => format!("({} * {})", e(a), e(b)),
            Derivation::Difference(a, b) => format!("({} - {})", e(a), e(b)),
            Derivation::Ratio(a, b) => format!("({} / NULLIF({}, 0))", e(a), e(b)),
            Derivation::Percent(a, b) => format!("({} / NULLIF({}, 0) * 100)", e(a), e(b)),
            Derivation::QuarterOfMonth(m) => format!("(({} - 1) / 3 + 1)", e(m)),
            Derivation::YearOfDate(d) => format!("CAST(EXTRACT(YEAR FROM {}) AS BIGINT)", e(d)),
            Derivation::MonthOfDate(d) => format!("CAST(EXTRACT(MONTH FROM {}) AS BIGINT)", e(d)),
        };
        let kind = column_spec(name).map_or(ColumnKind::Number, |s| s.kind);
        expressions.insert(name.clone(), (expression, kind));
        order.push(name.clone());
    }
    // A date is read for the periods derived from it; the dataset holds the periods.
    let outputs: Vec<(Output, String)> = order
        .iter()
        .filter_map(|name| {
            let (expression, kind) = expressions.get(name)?;
            (*kind != ColumnKind::Date).then(|| {
                (
                    Output {
                        name: name.clone(),
                        kind: *kind,
                    },
                    expression.clone(),
                )
            })
        })
        .collect();
    let order = outputs.iter().map(|(o, _)| o.name.clone()).collect();
    let (values, keys): (Vec<_>, Vec<_>) = outputs.into_iter().partition(|(o, _)| o.kind == ColumnKind::Number);
    let complete = if keys.is_empty() && values.is_empty() {
        "TRUE".to_string()
    } else {
        keys.iter()
            .chain(&values)
            .map(|(_, e)| format!("{e} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let mut select: Vec<String> = keys.iter().map(|(_, e)| e.clone()).collect();
    select.push(format!("({complete})"));
    select.push("COUNT(*)".into());
    for (_, e) in &values {
        select.push(format!("CAST(SUM(ROUND({e}, 2)) AS TEXT)"));
        select.push(format!("CAST(MIN({e}) AS DOUBLE PRECISION)"));
        select.push(format!("CAST(MAX({e}) AS DOUBLE PRECISION)"));
    }
    for column in table {
        let c = quote(column);
        select.push(match kinds.get(column) {
            Some(k) if k.is_numeric() => format!("CAST(SUM(CAST({c} AS NUMERIC)) AS TEXT)"),
            _ => format!("CAST(COUNT({c}) AS TEXT)"),
        });
    }
    let group: Vec<String> = (1..=keys.len() + 1).map(|i| i.to_string()).collect();
    Ok(Grouping {
        sql: format!("SELECT {} FROM {from} GROUP BY {}", select.join(", "), group.join(", ")),
        keys: keys.into_iter().map(|(o, _)| o).collect(),
        values: values.into_iter().map(|(o, _)| o).collect(),
        order,
        totals: table.to_vec(),
    })
}

/// Whole cents of a decimal the server wrote (`-1234.5`, `98.76`, `7`), rounded half away
/// from zero past two places; `None` for anything else (`NaN`).
pub(super) fn cents(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut f = fraction.bytes().map(|b| i64::from(b - b'0'));
    let (tenths, hundredths, rest) = (f.next().unwrap_or(0), f.next().unwrap_or(0), f.next().unwrap_or(0));
    let mut value = whole.checked_mul(100)?.checked_add(tenths * 10 + hundredths)?;
    if rest >= 5 {
        value += 1;
    }
    Some(if negative { -value } else { value })
}

/// An exact decimal: digits and how many of them follow the point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Decimal {
    digits: i128,
    scale: u32,
}

impl Decimal {
    /// `-123.4500`, `7`; `None` for anything else.
    pub(super) fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (whole, fraction) = rest.split_once('.').unwrap_or((rest, ""));
        if whole.is_empty() || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: i128 = format!("{whole}{fraction}").parse().ok()?;
        Some(Decimal {
            digits: if negative { -digits } else { digits },
            scale: fraction.len() as u32,
        })
    }

    pub(super) fn add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let widen = |d: Decimal| d.digits.checked_mul(10i128.checked_pow(scale - d.scale)?);
        Some(Decimal {
            digits: widen(self)?.checked_add(widen(other)?)?,
            scale,
        })
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.digits < 0 { "-" } else { "" };
        let digits = self.digits.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let digits = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_exactly_whatever_their_scales() {
        let sum = ["12.50", "-0.125", "3"]
            .iter()
            .map(|t| Decimal::parse(t).unwrap())
            .try_fold(Decimal::default(), Decimal::add)
            .unwrap();
        assert_eq!(sum.to_string(), "15.375");
        assert_eq!(Decimal::parse("-0.05").unwrap().to_string(), "-0.05");
        assert_eq!(Decimal::parse("NaN"), None);
    }

    #[test]
    fn sums_come_back_as_exact_cents() {
        assert_eq!(cents("1234.56"), Some(123_456));
        assert_eq!(cents("-0.5"), Some(-50));
        assert_eq!(cents("7"), Some(700));
        assert_eq!(cents("2.345"), Some(235));
        assert_eq!(cents("90071992547409.93"), Some(9_007_199_254_740_993));
        assert_eq!(cents("NaN"), None);
    }

    #[test]
    fn periods_come_from_the_date_and_profit_from_revenue_less_cost_in_one_group_by() {
        let plan = ColumnPlan {
            read: vec![
                ("brand".into(), "Brand".into()),
                ("sale_date".into(), "Order Date".into()),
                ("total_revenue".into(), "Sales".into()),
                ("total_cost".into(), "Cost".into()),
            ],
            derive: vec![
                ("year".into(), Derivation::YearOfDate("sale_date")),
                ("month".into(), Derivation::MonthOfDate("sale_date")),
                ("profit".into(), Derivation::Difference("total_revenue", "total_cost")),
            ],
        };
        let kinds = HashMap::from([
            ("Brand".to_string(), SqlKind::Text),
            ("Order Date".to_string(), SqlKind::Date),
            ("Sales".to_string(), SqlKind::Number),
            ("Cost".to_string(), SqlKind::Number),
        ]);
        let g = grouping("\"orders\" AS src", &plan, &kinds, &[]).unwrap();
        let names = |o: &[Output]| o.iter().map(|o| o.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&g.keys), ["brand", "year", "month"]);
        assert_eq!(names(&g.values), ["total_revenue", "total_cost", "profit"]);
        assert!(
            g.sql.contains("CAST(EXTRACT(YEAR FROM \"Order Date\") AS BIGINT)"),
            "{}",
            g.sql
        );
        assert!(
            g.sql
                .contains("SUM(ROUND((CAST(\"Sales\" AS NUMERIC) - CAST(\"Cost\" AS NUMERIC)), 2))"),
            "{}",
            g.sql
        );
        assert!(g.sql.ends_with("GROUP BY 1, 2, 3, 4"), "{}", g.sql);
    }

    #[test]
    fn a_text_column_mapped_to_a_measure_is_refused_with_the_fix() {
        let plan = ColumnPlan {
            read: vec![("total_revenue".into(), "Sales".into())],
            derive: vec![],
        };
        let kinds = HashMap::from([("Sales".to_string(), SqlKind::Text)]);
        let e = grouping("t", &plan, &kinds, &[]).unwrap_err();
        assert!(
            e.contains("column `Sales` is text") && e.contains("--column total_revenue="),
            "{e}"
        );
    }
}
