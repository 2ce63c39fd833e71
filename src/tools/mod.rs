//! Exact analytics on polars. Each tool returns a typed result (stored as JSON) and the
//! *facts* a reader must not lose: short statements with their values and a priority, which
//! the report writer uses and the context ledger checks survive pruning.

pub mod budget;
pub mod forecast;
use crate::format;
mod fact;
pub mod fact_check;
pub use fact::{Clue, Fact, FactValue, Figure, Unit, fact_list, in_the_files_words, unique_by_key};
mod frame;
pub use frame::{Rollup, Rows};
pub mod market_share;
pub mod members;
pub mod profile;
pub mod profitability;
pub mod roi;
pub mod timeseries;

use std::fmt;

use polars::prelude::{DataFrame, PolarsError};
use serde::{Deserialize, Serialize};

use crate::reference::Reference;

/// A dimension the sales can be broken down by: a dimension role, or any text column of
/// the file by its own name (`by = "Segment"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Dimension {
    Brand,
    Category,
    Region,
    Country,
    Store,
    /// A column of the file named in the flow; the loader finds it by name.
    Column(String),
}

impl Dimension {
    /// The frame column the tools group by.
    pub fn column(&self) -> &str {
        match self {
            Dimension::Brand => "brand",
            Dimension::Category => "category",
            Dimension::Region => "region",
            Dimension::Country => "country",
            Dimension::Store => "store_id",
            Dimension::Column(name) => name,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Dimension::Store => "store",
            other => other.column(),
        }
    }
}

impl TryFrom<String> for Dimension {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Ok(match crate::data::roles::dimension_role(&name) {
            Some("brand") => Dimension::Brand,
            Some("category") => Dimension::Category,
            Some("region") => Dimension::Region,
            Some("country") => Dimension::Country,
            Some(_) => Dimension::Store,
            None if name.trim().is_empty() => return Err("a dimension needs a role or a column name".into()),
            None => Dimension::Column(name),
        })
    }
}

impl From<Dimension> for String {
    fn from(d: Dimension) -> String {
        d.label().to_string()
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Whether a call runs on the data at hand.
#[derive(Debug, Clone, PartialEq)]
pub enum Availability {
    Runs,
    /// A narrower call runs in its place, for the reason given.
    Instead {
        call: ToolCall,
        note: String,
    },
    /// Roles the call needs that the data lacks.
    Missing(Vec<String>),
}

/// Periods for the time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    #[default]
    Month,
    Quarter,
}

/// A tool call as a flow declares it: `{ name = "profitability", by = "brand" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
#[strum(serialize_all = "snake_case")]
pub enum ToolCall {
    /// Profile the loaded dataset.
    LoadData,
    Profitability {
        by: Dimension,
    },
    Roi {
        by: Dimension,
    },
    BudgetOptimization {
        by: Dimension,
        #[serde(default = "budget::default_total")]
        total: f64,
        #[serde(default = "budget::default_min_share")]
        min_share: f64,
        #[serde(default = "budget::default_max_share")]
        max_share: f64,
    },
    TimeSeries {
        #[serde(default)]
        period: Period,
    },
    Forecast {
        #[serde(default = "forecast::default_horizon")]
        horizon: usize,
        #[serde(default)]
        method: forecast::Method,
    },
    MarketShare {
        #[serde(default)]
        within: Option<Dimension>,
    },
}

impl ToolCall {
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// `profitability(by=brand)`: how the call appears in events and reports.
    pub fn label(&self) -> String {
        match self {
            ToolCall::LoadData => "load_data()".into(),
            ToolCall::Profitability { by } => format!("profitability(by={by})"),
            ToolCall::Roi { by } => format!("roi(by={by})"),
            ToolCall::BudgetOptimization { by, total, .. } => {
                format!("budget_optimization(by={by}, total={})", format::grouped(*total))
            }
            ToolCall::TimeSeries { period } => format!("time_series(period={})", period_name(*period)),
            ToolCall::Forecast { horizon, method } => {
                format!("forecast(horizon={horizon}, method={})", method.as_str())
            }
            ToolCall::MarketShare { within: Some(d) } => format!("market_share(within={d})"),
            ToolCall::MarketShare { within: None } => "market_share()".into(),
        }
    }

    /// What the tool does, as an agent framework would describe it to a model.
    pub fn description(&self) -> &'static str {
        match self {
            ToolCall::LoadData => "Profile the loaded sales data: its shape, columns and statistics.",
            ToolCall::Profitability { .. } => {
                "Revenue, cost, profit, margin and units per member of a dimension, with top and bottom performers."
            }
            ToolCall::Roi { .. } => "Return on investment (profit / cost) per member of a dimension and overall.",
            ToolCall::BudgetOptimization { .. } => {
                "Split a marketing budget across members to maximise projected return under diminishing returns."
            }
            ToolCall::TimeSeries { .. } => "Revenue and profit per period, growth and seasonal index.",
            ToolCall::Forecast { .. } => "Forecast revenue for the next periods, with backtest error (MAPE).",
            ToolCall::MarketShare { .. } => "Revenue share per brand overall and within a dimension.",
        }
    }

    /// The roles the call cannot do without: a time series needs revenue and dates, not
    /// profit; profitability needs cost and profit, which are never invented.
    pub fn needs(&self) -> Vec<&str> {
        let mut cols: Vec<&str> = match self {
            ToolCall::LoadData => vec![],
            ToolCall::Profitability { by } | ToolCall::Roi { by } | ToolCall::BudgetOptimization { by, .. } => {
                vec![by.column(), "total_revenue", "total_cost", "profit"]
            }
            ToolCall::TimeSeries {
                period: Period::Quarter,
            } => vec!["year", "quarter", "total_revenue"],
            ToolCall::TimeSeries { .. } | ToolCall::Forecast { .. } => vec!["year", "month", "total_revenue"],
            ToolCall::MarketShare { within } => {
                let mut c = vec!["brand", "total_revenue"];
                c.extend(within.as_ref().map(|d| d.column()));
                c
            }
        };
        cols.dedup();
        cols
    }

    /// Roles the call reads when the data has them (units, and profit beside a revenue
    /// series).
    pub fn uses(&self) -> Vec<&str> {
        match self {
            ToolCall::Profitability { .. } | ToolCall::Roi { .. } | ToolCall::BudgetOptimization { .. } => {
                vec!["units_sold"]
            }
            ToolCall::TimeSeries { .. } | ToolCall::Forecast { .. } => vec!["profit", "units_sold"],
            ToolCall::LoadData | ToolCall::MarketShare { .. } => vec![],
        }
    }

    /// Every dataset column the call reads: what it needs, then what it uses.
    pub fn required_columns(&self) -> Vec<&str> {
        let mut cols = self.needs();
        for c in self.uses() {
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
        cols
    }

    /// Whether the call runs on data that has the roles `has` says, and if not, what runs
    /// instead or what is missing.
    pub fn availability(&self, has: &dyn Fn(&str) -> bool) -> Availability {
        let missing: Vec<String> = self.needs().into_iter().filter(|c| !has(c)).map(String::from).collect();
        if missing.is_empty() {
            return Availability::Runs;
        }
        // Share within a dimension the data lacks: the brands' overall share still says
        // what one dimension allows.
        if let ToolCall::MarketShare { within: Some(d) } = self
            && missing == [d.column()]
        {
            return Availability::Instead {
                call: ToolCall::MarketShare { within: None },
                note: format!(
                    "no {} column: market share is overall, not within {}",
                    d.label(),
                    d.label()
                ),
            };
        }
        Availability::Missing(missing)
    }

    /// Whether the call can run on a history of `months` months: a forecast method needs
    /// its minimum. `Err` says why not, before anything runs.
    pub fn feasible(&self, months: usize) -> Result<(), String> {
        if let ToolCall::Forecast { method, .. } = self {
            let need = method.min_history();
            if months < need {
                return Err(format!(
                    "method `{}` needs {need} months of history, the data has {months}: {}",
                    method.as_str(),
                    method.why_minimum()
                ));
            }
        }
        Ok(())
    }

    /// Checks arguments that the types alone cannot.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            ToolCall::BudgetOptimization {
                total,
                min_share,
                max_share,
                ..
            } => budget::validate(total, min_share, max_share),
            ToolCall::Forecast { horizon, .. } => forecast::validate(horizon),
            _ => Ok(()),
        }
    }

    /// Whether outputs may be memoized. Every current tool is a pure function of the data
    /// and its arguments.
    pub fn cacheable(&self) -> bool {
        true
    }

    /// The reference a call's output is memoized under: tool, canonical arguments, input.
    pub fn memo_reference(&self, dataset: &Reference) -> Reference {
        let args = serde_json::to_vec(self).expect("tool calls serialize");
        let data = dataset.to_string();
        Reference::of_parts([b"tool-output/v2".as_slice(), &args, data.as_bytes()])
    }

    /// The columns the call groups by, for a shared [`Rollup`]; empty when it groups none.
    pub fn group_keys(&self) -> Vec<String> {
        match self {
            ToolCall::LoadData => vec![],
            ToolCall::Profitability { by } | ToolCall::Roi { by } | ToolCall::BudgetOptimization { by, .. } => {
                vec![by.column().to_string()]
            }
            ToolCall::TimeSeries { period } => vec!["year".into(), period_name(*period).into()],
            ToolCall::Forecast { .. } => vec!["year".into(), "month".into()],
            ToolCall::MarketShare { within } => {
                let mut keys = vec!["brand".to_string()];
                keys.extend(within.as_ref().map(|d| d.column().to_string()));
                keys
            }
        }
    }

    /// Runs the call on `frame`.
    pub fn run(&self, frame: &DataFrame) -> Result<ToolOutput, ToolError> {
        self.run_on(frame.into())
    }

    /// Runs the call on `rows`: its group-bys read the rollup when there is one.
    pub fn run_on(&self, rows: Rows<'_>) -> Result<ToolOutput, ToolError> {
        let fail = |e: ToolFailure| ToolError {
            tool: self.label(),
            message: e.0,
        };
        let (result, facts) = match self {
            ToolCall::LoadData => profile::of(rows).map(output).map_err(fail)?,
            ToolCall::Profitability { by } => profitability::run(rows, by).map(output).map_err(fail)?,
            ToolCall::Roi { by } => roi::run(rows, by).map(output).map_err(fail)?,
            ToolCall::BudgetOptimization {
                by,
                total,
                min_share,
                max_share,
            } => budget::run(rows, by, *total, *min_share, *max_share)
                .map(output)
                .map_err(fail)?,
            ToolCall::TimeSeries { period } => timeseries::run(rows, *period).map(output).map_err(fail)?,
            ToolCall::Forecast { horizon, method } => {
                forecast::run(rows, *horizon, *method).map(output).map_err(fail)?
            }
            ToolCall::MarketShare { within } => market_share::run(rows, within.as_ref()).map(output).map_err(fail)?,
        };
        Ok(ToolOutput {
            call: self.clone(),
            result,
            facts,
        })
    }
}

pub(crate) fn period_name(p: Period) -> &'static str {
    match p {
        Period::Month => "month",
        Period::Quarter => "quarter",
    }
}

/// Typed results that carry their own facts.
pub trait Analysis: Serialize {
    fn facts(&self) -> Vec<Fact>;
}

fn output<A: Analysis>(analysis: A) -> (serde_json::Value, Vec<Fact>) {
    let facts = analysis.facts();
    (serde_json::to_value(&analysis).expect("results serialize"), facts)
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutput {
    pub call: ToolCall,
    pub result: serde_json::Value,
    pub facts: Vec<Fact>,
}

/// A tool that could not produce a result, with the call it was.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{tool}: {message}")]
pub struct ToolError {
    pub tool: String,
    pub message: String,
}

/// Internal failure type of the tool functions; gains the call's label in [`ToolCall::run`].
#[derive(Debug)]
pub struct ToolFailure(pub String);

impl From<PolarsError> for ToolFailure {
    fn from(e: PolarsError) -> Self {
        ToolFailure(e.to_string().lines().next().unwrap_or_default().to_string())
    }
}

impl From<String> for ToolFailure {
    fn from(s: String) -> Self {
        ToolFailure(s)
    }
}

#[cfg(test)]
pub(crate) mod fixture {
    use polars::prelude::*;

    /// Eight hand-made sales lines; every expected figure in the tool tests is computed by
    /// hand from this table.
    ///
    /// | brand | category | region | y-m     | units | revenue | cost | profit |
    /// |-------|----------|--------|---------|-------|---------|------|--------|
    /// | A     | Soda     | North  | 2023-01 | 10    | 100     | 60   | 40     |
    /// | A     | Soda     | South  | 2023-02 | 20    | 200     | 120  | 80     |
    /// | B     | Soda     | North  | 2023-01 | 5     | 100     | 90   | 10     |
    /// | B     | Soda     | South  | 2023-02 | 5     | 100     | 80   | 20     |
    /// | C     | Water    | North  | 2023-01 | 50    | 250     | 100  | 150    |
    /// | C     | Water    | North  | 2023-02 | 10    | 50      | 20   | 30     |
    /// | D     | Water    | South  | 2023-01 | 30    | 150     | 160  | -10    |
    /// | D     | Water    | South  | 2023-02 | 10    | 50      | 60   | -10    |
    pub fn sales() -> DataFrame {
        df! {
            "brand" => ["A", "A", "B", "B", "C", "C", "D", "D"],
            "category" => ["Soda", "Soda", "Soda", "Soda", "Water", "Water", "Water", "Water"],
            "region" => ["North", "South", "North", "South", "North", "North", "South", "South"],
            "year" => [2023i64; 8],
            "month" => [1i64, 2, 1, 2, 1, 2, 1, 2],
            "units_sold" => [10.0, 20.0, 5.0, 5.0, 50.0, 10.0, 30.0, 10.0],
            "total_revenue" => [100.0, 200.0, 100.0, 100.0, 250.0, 50.0, 150.0, 50.0],
            "total_cost" => [60.0, 120.0, 90.0, 80.0, 100.0, 20.0, 160.0, 60.0],
            "profit" => [40.0, 80.0, 10.0, 20.0, 150.0, 30.0, -10.0, -10.0],
        }
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_parse_from_flow_toml_and_reject_unknowns() {
        #[derive(Deserialize)]
        struct T {
            tools: Vec<ToolCall>,
        }
        let t: T =
            toml::from_str(r#"tools = [{ name = "profitability", by = "brand" }, { name = "load_data" }]"#).unwrap();
        assert_eq!(t.tools[0], ToolCall::Profitability { by: Dimension::Brand });
        let err = toml::from_str::<T>(r#"tools = [{ name = "profitability", by = "brand", color = 1 }]"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("unknown field `color`"), "{err}");
        let err = toml::from_str::<T>(r#"tools = [{ name = "teleport" }]"#).err().unwrap();
        assert!(err.to_string().contains("unknown variant `teleport`"), "{err}");
    }

    #[test]
    fn memo_reference_depends_on_arguments_and_data() {
        let data = Reference::of_bytes(b"data");
        let other = Reference::of_bytes(b"other");
        let a = ToolCall::Profitability { by: Dimension::Brand };
        let b = ToolCall::Profitability { by: Dimension::Region };
        assert_eq!(a.memo_reference(&data), a.clone().memo_reference(&data));
        assert_ne!(a.memo_reference(&data), b.memo_reference(&data));
        assert_ne!(a.memo_reference(&data), a.memo_reference(&other));
    }
}
