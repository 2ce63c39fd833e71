//! A flow as declared in TOML: its steps, their agents, tools, budgets and context items.

use serde::{Deserialize, Serialize};

use crate::settings::{Priority, StepSettings, Strategy};
use crate::tools::{Fact, ToolCall};

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

impl FlowDef {
    /// This flow with each step's tuned settings (budget, strategy, priorities), in step
    /// order, and `columns` (role → column) added to its `[data.columns]`: what the TUI's
    /// `w` saves, so `--flow` runs the tuned flow again.
    pub fn tuned<'a>(
        &self,
        settings: impl IntoIterator<Item = &'a crate::settings::StepSettings>,
        columns: impl IntoIterator<Item = (String, String)>,
    ) -> FlowDef {
        let mut def = self.clone();
        def.data.columns.extend(columns);
        for (step, t) in def.steps.iter_mut().zip(settings) {
            step.budget = t.budget;
            step.strategy = t.strategy;
            for item in &mut step.context {
                if let Some(p) = t.priority_overrides.get(&item.key) {
                    item.priority = *p;
                }
            }
        }
        def
    }
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
    /// Roles without which the flow refuses rather than run what remains: its subject
    /// (`brand` for a brand flow). Other missing roles only skip the work that needs them.
    #[serde(default)]
    pub requires: Vec<String>,
}

impl FlowData {
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.date_format.is_none() && self.requires.is_empty()
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

impl StepDef {
    /// The settings the flow gives the step.
    pub fn settings(&self) -> StepSettings {
        StepSettings::new(self.budget, self.strategy)
    }
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
            crate::format::grouped(hi as f64)
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
    /// The step to run next, from the step's facts: the first route whose condition the
    /// router's fact meets, else the default. An error when no fact has the router's key.
    pub fn choose(&self, facts: &[Fact]) -> Result<&str, String> {
        let fact = facts
            .iter()
            .find(|f| f.key == self.fact)
            .ok_or_else(|| format!("this step's tools produced no fact `{}`", self.fact))?;
        Ok(self
            .routes
            .iter()
            .find(|r| r.when.matches(&fact.value))
            .map_or(self.default.as_str(), |r| r.goto.as_str()))
    }

    /// [`choose`](Self::choose), but a route whose step cannot run (`runs` says why, such
    /// as a forecast method with too short a history) is passed over for the next route
    /// that matches, then the default. The chosen step, and why the first choice was
    /// passed over.
    pub fn choose_feasible(
        &self,
        facts: &[Fact],
        runs: &dyn Fn(&str) -> Result<(), String>,
    ) -> Result<(&str, Option<String>), String> {
        let first = self.choose(facts)?;
        let Err(why) = runs(first) else {
            return Ok((first, None));
        };
        let fact = facts.iter().find(|f| f.key == self.fact).expect("choose found it");
        let next = self
            .routes
            .iter()
            .filter(|r| r.goto != first && r.when.matches(&fact.value))
            .map(|r| r.goto.as_str())
            .chain(std::iter::once(self.default.as_str()))
            .find(|t| *t != first && runs(t).is_ok())
            .unwrap_or(self.default.as_str());
        Ok((next, Some(format!("`{first}` cannot run ({why}); `{next}` instead"))))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_router_takes_the_first_matching_route_else_its_default() {
        use crate::tools::Fact;
        let router = Router {
            fact: "roi.top".into(),
            routes: vec![
                Route {
                    when: Condition::try_from("> 0.5".to_string()).unwrap(),
                    goto: "scale_up".into(),
                },
                Route {
                    when: Condition::try_from("> 0.2".to_string()).unwrap(),
                    goto: "hold".into(),
                },
            ],
            default: "cut".into(),
        };
        let with = |roi: f64| {
            vec![Fact::number(
                "roi.top",
                Priority::Critical,
                roi,
                String::new(),
                String::new(),
            )]
        };
        assert_eq!(router.choose(&with(0.7)), Ok("scale_up"));
        assert_eq!(router.choose(&with(0.3)), Ok("hold"), "the first match wins, in order");
        assert_eq!(router.choose(&with(0.1)), Ok("cut"));
        let err = router.choose(&[]).unwrap_err();
        assert_eq!(err, "this step's tools produced no fact `roi.top`");
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
