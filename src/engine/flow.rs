//! Flow definitions as declared in TOML, and loading them from the built-ins or a path.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::dag::{self, Dag};
use crate::context::{Priority, Strategy};
use crate::tools::ToolCall;

/// The flows shipped in `assets/flows/`, embedded in the binary.
pub const BUILTIN_FLOWS: [(&str, &str); 3] = [
    ("roi_analysis", include_str!("../../assets/flows/roi_analysis.toml")),
    (
        "brand_performance",
        include_str!("../../assets/flows/brand_performance.toml"),
    ),
    ("sales_forecast", include_str!("../../assets/flows/sales_forecast.toml")),
];

/// Token budget of a step that declares none.
pub const DEFAULT_BUDGET: u32 = 1000;
/// Budgets outside this range are mistakes, not choices.
pub const BUDGET_RANGE: std::ops::RangeInclusive<u32> = 50..=200_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDef {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// How a data file maps to roles for this flow (`[data.columns]`).
    #[serde(default, skip_serializing_if = "FlowData::is_empty")]
    pub data: FlowData,
    pub steps: Vec<StepDef>,
}

/// A flow's `[data]` table: columns mapped to roles and the date format, for the exports
/// the flow is written for. The command line's `--column` wins over it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowData {
    /// role → column of the file.
    #[serde(default)]
    pub columns: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub date_format: Option<String>,
}

impl FlowData {
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.date_format.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    pub id: String,
    /// Steps whose completion triggers this one; none makes it a start step.
    #[serde(default)]
    pub listen: Vec<String>,
    #[serde(default)]
    pub join: Join,
    #[serde(default)]
    pub router: Option<Router>,
    pub agent: Agent,
    pub task: String,
    #[serde(default)]
    pub tools: Vec<ToolCall>,
    #[serde(default = "default_budget", deserialize_with = "budget_in_range")]
    pub budget: u32,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub context: Vec<ContextItemDef>,
}

fn default_budget() -> u32 {
    DEFAULT_BUDGET
}

/// Why a budget is unusable, or `None` if it is fine.
pub fn budget_problem(budget: i64) -> Option<String> {
    let (lo, hi) = (*BUDGET_RANGE.start() as i64, *BUDGET_RANGE.end() as i64);
    (!(lo..=hi).contains(&budget)).then(|| {
        format!(
            "budget must be between {lo} and {} tokens, got {budget}",
            crate::tools::format::grouped(hi as f64)
        )
    })
}

fn budget_in_range<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = i64::deserialize(d)?;
    match budget_problem(v) {
        Some(problem) => Err(serde::de::Error::custom(problem)),
        None => Ok(v as u32),
    }
}

/// How a step with several listened steps waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Join {
    /// Run when every listened step has finished.
    #[default]
    AllOf,
    /// Run as soon as one listened step has finished.
    AnyOf,
}

/// The persona an agent framework gives the step's model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub role: String,
    pub goal: String,
    pub backstory: String,
}

/// Chooses which downstream step runs, from a fact of this step's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// Key of a fact produced by this step's tools.
    pub fact: String,
    pub routes: Vec<Route>,
    /// Taken when no route matches.
    pub default: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub when: Condition,
    pub goto: String,
}

impl Router {
    /// Every step this router may choose.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.routes
            .iter()
            .map(|r| r.goto.as_str())
            .chain(std::iter::once(self.default.as_str()))
    }
}

/// A comparison such as `"> 0.25"` or `"== Red Bull"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Condition {
    pub op: Op,
    pub operand: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Op {
    fn symbol(&self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

impl TryFrom<String> for Condition {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let t = s.trim();
        // Two-character operators first so `>=` is not read as `>`.
        for op in [Op::Ge, Op::Le, Op::Eq, Op::Ne, Op::Gt, Op::Lt] {
            if let Some(rest) = t.strip_prefix(op.symbol()) {
                let operand = rest.trim().to_string();
                if operand.is_empty() {
                    break;
                }
                if !matches!(op, Op::Eq | Op::Ne) && operand.parse::<f64>().is_err() {
                    return Err(format!(
                        "condition `{s}`: `{}` needs a number, got `{operand}`",
                        op.symbol()
                    ));
                }
                return Ok(Condition { op, operand });
            }
        }
        Err(format!(
            "condition `{s}`: expected an operator (>, >=, <, <=, ==, !=) and a value, e.g. \"> 0.25\""
        ))
    }
}

impl From<Condition> for String {
    fn from(c: Condition) -> String {
        format!("{} {}", c.op.symbol(), c.operand)
    }
}

impl Condition {
    /// Whether a fact's value satisfies the condition. Numbers compare numerically,
    /// anything else as text (only `==` and `!=`).
    pub fn matches(&self, value: &crate::tools::FactValue) -> bool {
        use crate::tools::FactValue;
        match (value, self.operand.parse::<f64>()) {
            (FactValue::Number(v), Ok(x)) => match self.op {
                Op::Gt => *v > x,
                Op::Ge => *v >= x,
                Op::Lt => *v < x,
                Op::Le => *v <= x,
                Op::Eq => *v == x,
                Op::Ne => *v != x,
            },
            (FactValue::Text(v), _) => match self.op {
                Op::Eq => *v == self.operand,
                Op::Ne => *v != self.operand,
                _ => false,
            },
            (FactValue::Number(v), Err(_)) => match self.op {
                Op::Eq => v.to_string() == self.operand,
                Op::Ne => v.to_string() != self.operand,
                _ => false,
            },
        }
    }
}

/// One piece of a step's prompt, with the priority pruning uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextItemDef {
    pub key: String,
    pub source: ContextSource,
    pub priority: Priority,
}

/// Where a context item's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ContextSource {
    /// The agent's role, goal and backstory.
    Agent,
    /// The step's task text.
    Task,
    /// Descriptions of the step's tools.
    Tools,
    /// The dataset, by reference.
    Dataset,
    /// This step's own tool results.
    Results,
    /// The output of an earlier step: `step:<id>`.
    Step(String),
    /// Insights from long-term memory.
    Memory,
}

impl TryFrom<String> for ContextSource {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(match s.as_str() {
            "agent" => ContextSource::Agent,
            "task" => ContextSource::Task,
            "tools" => ContextSource::Tools,
            "dataset" => ContextSource::Dataset,
            "results" => ContextSource::Results,
            "memory" => ContextSource::Memory,
            other => match other.strip_prefix("step:") {
                Some(id) if !id.is_empty() => ContextSource::Step(id.to_string()),
                _ => {
                    return Err(format!(
                        "unknown context source `{s}`, expected agent, task, tools, dataset, results, memory or step:<id>"
                    ));
                }
            },
        })
    }
}

impl From<ContextSource> for String {
    fn from(s: ContextSource) -> String {
        match s {
            ContextSource::Agent => "agent".into(),
            ContextSource::Task => "task".into(),
            ContextSource::Tools => "tools".into(),
            ContextSource::Dataset => "dataset".into(),
            ContextSource::Results => "results".into(),
            ContextSource::Memory => "memory".into(),
            ContextSource::Step(id) => format!("step:{id}"),
        }
    }
}

/// A flow file that cannot be used, located as precisely as the problem allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FlowError {
    /// The file path, or `built-in flow <name>`.
    pub origin: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// A validated flow: its definition and its graph.
#[derive(Debug, Clone)]
pub struct Flow {
    pub def: FlowDef,
    pub dag: Dag,
    /// Where the flow came from, for messages.
    pub origin: String,
}

impl Flow {
    /// Parses and validates TOML text. `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Flow, FlowError> {
        let def: FlowDef = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unzip();
            FlowError {
                origin: origin.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let dag = dag::validate(&def).map_err(|v| FlowError {
            origin: origin.to_string(),
            line: v.step.as_deref().and_then(|id| line_of_step(text, id, v.occurrence)),
            column: None,
            message: v.message,
        })?;
        Ok(Flow {
            def,
            dag,
            origin: origin.to_string(),
        })
    }

    pub fn builtin(name: &str) -> Option<Flow> {
        BUILTIN_FLOWS.iter().find(|(n, _)| *n == name).map(|(n, text)| {
            Flow::parse(text, &format!("built-in flow {n}")).expect("built-in flows are valid (tested)")
        })
    }

    /// A built-in flow by name, else a TOML file by path.
    pub fn resolve(name_or_path: &str) -> Result<Flow, FlowError> {
        if let Some(flow) = Flow::builtin(name_or_path) {
            return Ok(flow);
        }
        let path = Path::new(name_or_path);
        let text = std::fs::read_to_string(path).map_err(|e| {
            let names: Vec<&str> = BUILTIN_FLOWS.iter().map(|(n, _)| *n).collect();
            let message = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!("no such flow: not a built-in ({}) and no such file", names.join(", "))
                }
                std::io::ErrorKind::InvalidData => "not a UTF-8 text file".to_string(),
                _ => format!("cannot read: {e}"),
            };
            FlowError {
                origin: name_or_path.to_string(),
                line: None,
                column: None,
                message,
            }
        })?;
        Flow::parse(&text, name_or_path)
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }

    pub fn steps(&self) -> &[StepDef] {
        &self.def.steps
    }

    pub fn step(&self, index: usize) -> &StepDef {
        &self.def.steps[index]
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.def.steps.iter().position(|s| s.id == id)
    }

    /// Every role or column any tool in the flow reads, in a stable order.
    pub fn required_columns(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.def
            .steps
            .iter()
            .flat_map(|s| s.tools.iter())
            .flat_map(|t| t.required_columns())
            .filter(|c| seen.insert(*c))
            .collect()
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The line of the `occurrence`-th (from 0) `id = "<id>"`, so validation errors point
/// into the file.
fn line_of_step(text: &str, id: &str, occurrence: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let compact: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            compact == format!("id=\"{id}\"") || compact == format!("id='{id}'")
        })
        .nth(occurrence)
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_flows_parse_and_validate() {
        for (name, _) in BUILTIN_FLOWS {
            let flow = Flow::builtin(name).unwrap();
            assert_eq!(flow.name(), name);
            assert!(!flow.required_columns().is_empty());
        }
    }

    #[test]
    fn flows_round_trip_through_toml() {
        // The TUI saves tuned flows by serializing the definition.
        for (name, _) in BUILTIN_FLOWS {
            let flow = Flow::builtin(name).unwrap();
            let text = toml::to_string(&flow.def).unwrap();
            let again = Flow::parse(&text, "saved.toml").unwrap();
            assert_eq!(again.def, flow.def, "{name}");
        }
    }

    #[test]
    fn toml_syntax_errors_have_line_and_column() {
        let err = Flow::parse("name = \"x\"\nsteps = [\n  { id = 1 ", "f.toml").unwrap_err();
        assert_eq!(err.origin, "f.toml");
        assert!(err.line.is_some(), "{err}");
    }

    #[test]
    fn unknown_tool_is_located() {
        let text = "name = \"x\"\n[[steps]]\nid = \"a\"\ntask = \"t\"\nagent = { role = \"r\", goal = \"g\", backstory = \"b\" }\ntools = [{ name = \"teleport\" }]\n";
        let err = Flow::parse(text, "f.toml").unwrap_err();
        assert_eq!(err.line, Some(6), "{err}");
        assert!(err.message.contains("unknown variant `teleport`"), "{err}");
    }

    #[test]
    fn conditions_parse_and_match() {
        use crate::tools::FactValue;
        let c = Condition::try_from("> 0.25".to_string()).unwrap();
        assert!(c.matches(&FactValue::Number(0.3)));
        assert!(!c.matches(&FactValue::Number(0.25)));
        let c = Condition::try_from(">= 0.25".to_string()).unwrap();
        assert!(c.matches(&FactValue::Number(0.25)));
        let c = Condition::try_from("== Red Bull".to_string()).unwrap();
        assert!(c.matches(&FactValue::Text("Red Bull".into())));
        assert!(Condition::try_from("> lots".to_string()).is_err());
        assert!(Condition::try_from("0.25".to_string()).is_err());
    }

    #[test]
    fn context_sources_parse() {
        assert_eq!(
            ContextSource::try_from("step:load".to_string()),
            Ok(ContextSource::Step("load".into()))
        );
        assert!(ContextSource::try_from("step:".to_string()).is_err());
        assert!(ContextSource::try_from("everything".to_string()).is_err());
    }
}
