//! What of a flow runs on the data at hand. Each tool declares the roles it needs; a call
//! whose roles the data lacks is dropped (or replaced by a narrower one, such as market
//! share overall instead of within a missing dimension), a step left with no call is
//! skipped, and a flow where no analysis runs at all cannot run on the file. Nothing is
//! invented: a revenue-only export gets its revenue analysed, never a profit.

use super::Flow;
use crate::tools::{Availability, ToolCall};

/// One step on the data at hand.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCoverage {
    pub id: String,
    /// The calls that run, in the flow's order (replacements in place of what they replace).
    pub calls: Vec<ToolCall>,
    /// What was dropped or narrowed, and why, for the run's notes.
    pub notes: Vec<String>,
    /// Roles whose absence dropped a call.
    pub missing: Vec<String>,
    /// Calls the flow declares for the step.
    pub declared: usize,
}

impl StepCoverage {
    /// A step with tools none of which can run: skipped, its listeners run without it.
    pub fn skipped(&self) -> bool {
        self.declared > 0 && self.calls.is_empty()
    }

    /// Whether any analysis (a tool other than the data profile) runs in the step.
    fn analyses(&self) -> bool {
        self.calls.iter().any(|c| *c != ToolCall::LoadData)
    }
}

/// What a whole flow does on the data.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Runs,
    /// Some calls or steps are dropped; the notes say which and why.
    Partly {
        notes: Vec<String>,
    },
    /// No analysis runs: these roles would let some.
    Cannot {
        needs: Vec<String>,
    },
}

impl Verdict {
    /// `runs`, `runs partly (…)`, `cannot run (needs …)`: what `data` prints per flow.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Runs => "runs".into(),
            Verdict::Partly { notes } => format!("runs partly ({})", notes.join("; ")),
            Verdict::Cannot { needs } => format!("cannot run (needs {})", needs.join(", ")),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub steps: Vec<StepCoverage>,
    /// Roles the flow requires (`[data] requires`) that the data lacks.
    pub lacks: Vec<String>,
}

impl Coverage {
    pub fn step(&self, id: &str) -> Option<&StepCoverage> {
        self.steps.iter().find(|s| s.id == id)
    }

    pub fn notes(&self) -> Vec<String> {
        self.steps.iter().flat_map(|s| s.notes.iter().cloned()).collect()
    }

    pub fn verdict(&self) -> Verdict {
        if !self.lacks.is_empty() {
            return Verdict::Cannot {
                needs: self.lacks.clone(),
            };
        }
        if !self.steps.iter().any(StepCoverage::analyses) {
            let mut needs: Vec<String> = Vec::new();
            for role in self.steps.iter().flat_map(|s| s.missing.iter()) {
                if !needs.contains(role) {
                    needs.push(role.clone());
                }
            }
            return Verdict::Cannot { needs };
        }
        let notes = self.notes();
        if notes.is_empty() {
            Verdict::Runs
        } else {
            Verdict::Partly { notes }
        }
    }
}

impl Flow {
    /// What of the flow runs on data with the roles `has` says.
    pub fn coverage(&self, has: &dyn Fn(&str) -> bool) -> Coverage {
        let steps = self
            .steps()
            .iter()
            .map(|step| {
                let mut calls = Vec::new();
                let (mut dropped, mut narrowed, mut missing) = (Vec::new(), Vec::new(), Vec::<String>::new());
                for call in &step.tools {
                    match call.availability(has) {
                        Availability::Runs => calls.push(call.clone()),
                        Availability::Instead { call, note } => {
                            calls.push(call);
                            narrowed.push(note);
                        }
                        Availability::Missing(roles) => {
                            dropped.push(call.clone());
                            for r in roles {
                                if !missing.contains(&r) {
                                    missing.push(r);
                                }
                            }
                        }
                    }
                }
                let mut notes: Vec<String> = narrowed.into_iter().map(|n| format!("{}: {n}", step.id)).collect();
                if !dropped.is_empty() {
                    // A tool by its name when all its calls are dropped, else the calls.
                    let mut what: Vec<String> = Vec::new();
                    for call in &dropped {
                        let all_gone = !calls.iter().any(|c: &ToolCall| c.name() == call.name());
                        let name = if all_gone {
                            tool_name(call.name()).to_string()
                        } else {
                            call.label()
                        };
                        if !what.contains(&name) {
                            what.push(name);
                        }
                    }
                    let what = list(&what.iter().map(String::as_str).collect::<Vec<_>>());
                    notes.push(if calls.is_empty() {
                        format!("{} skipped: {} for {what}", step.id, lacking(&missing))
                    } else {
                        format!("{}: {}: {what} skipped", step.id, lacking(&missing))
                    });
                }
                StepCoverage {
                    id: step.id.clone(),
                    calls,
                    notes,
                    missing,
                    declared: step.tools.len(),
                }
            })
            .collect();
        // Roles the flow requires, and columns it names by their own name (`by = "Segment"`):
        // a flow that names a column means it, and one it lacks is more likely misspelt
        // than optional.
        let mut lacks: Vec<String> = self.def.data.requires.iter().filter(|r| !has(r)).cloned().collect();
        let steps: Vec<StepCoverage> = steps;
        for name in steps.iter().flat_map(|s| s.missing.iter()) {
            if !crate::data::roles::is_role(name) && !lacks.contains(name) {
                lacks.push(name.clone());
            }
        }
        Coverage { steps, lacks }
    }
}

/// `no cost or profit column`, in the words an analyst uses for the roles.
pub fn lacking(roles: &[String]) -> String {
    let mut words: Vec<&str> = Vec::new();
    for r in roles {
        let w = match r.as_str() {
            "total_revenue" => "revenue",
            "total_cost" => "cost",
            "units_sold" => "units",
            "year" | "month" | "quarter" | "sale_date" => "date",
            "store_id" => "store",
            other => other,
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    let or = match words.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    format!("no {or} column")
}

fn tool_name(name: &str) -> &str {
    match name {
        "roi" => "ROI",
        "budget_optimization" => "budget optimization",
        "market_share" => "market share",
        "time_series" => "time series",
        other => other,
    }
}

fn list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(roles: &'static [&'static str]) -> impl Fn(&str) -> bool {
        move |r: &str| roles.contains(&r)
    }

    #[test]
    fn revenue_only_data_runs_the_forecast_and_cannot_run_roi() {
        let revenue = has(&[
            "year",
            "month",
            "quarter",
            "total_revenue",
            "units_sold",
            "brand",
            "category",
            "region",
        ]);
        let forecast = Flow::builtin("sales_forecast").unwrap().coverage(&revenue);
        assert_eq!(forecast.verdict(), Verdict::Runs);
        let roi = Flow::builtin("roi_analysis").unwrap().coverage(&revenue);
        match roi.verdict() {
            Verdict::Cannot { needs } => assert_eq!(needs, ["total_cost", "profit"]),
            other => panic!("{other:?}"),
        }
        assert!(roi.step("analyze_profitability").unwrap().skipped());
        assert_eq!(
            roi.step("analyze_profitability").unwrap().notes,
            ["analyze_profitability skipped: no cost or profit column for profitability and ROI"]
        );
        // Without brand or category, profitability by region still runs.
        let regions = has(&["region", "total_revenue", "total_cost", "profit"]);
        let roi = Flow::builtin("roi_analysis").unwrap().coverage(&regions);
        assert_eq!(
            roi.step("analyze_profitability").unwrap().notes,
            [
                "analyze_profitability: no brand or category column: profitability(by=brand), \
              profitability(by=category) and ROI skipped"
            ]
        );
        assert!(matches!(roi.verdict(), Verdict::Partly { .. }));
        // A brand flow without a brand refuses, whatever else would run.
        let c = Flow::builtin("brand_performance").unwrap().coverage(&regions);
        assert_eq!(
            c.verdict(),
            Verdict::Cannot {
                needs: vec!["brand".into()]
            }
        );
    }

    #[test]
    fn one_dimension_and_revenue_run_brand_performance_partly() {
        let brand_only = has(&["brand", "region", "total_revenue"]);
        assert!(
            Flow::builtin("brand_performance")
                .unwrap()
                .coverage(&brand_only)
                .lacks
                .is_empty()
        );
        let c = Flow::builtin("brand_performance").unwrap().coverage(&brand_only);
        let share = c.step("market_share").unwrap();
        assert_eq!(share.calls, [ToolCall::MarketShare { within: None }]);
        assert!(c.step("brand_profitability").unwrap().skipped());
        let position = c.step("competitive_position").unwrap();
        assert_eq!(position.calls.len(), 1, "market share within region runs");
        match c.verdict() {
            Verdict::Partly { notes } => {
                assert!(
                    notes.contains(
                        &"market_share: no category column: market share is overall, not within category".to_string()
                    ),
                    "{notes:?}"
                );
                assert!(
                    notes
                        .iter()
                        .any(|n| n.starts_with("brand_profitability skipped: no cost or profit column"))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            Verdict::Cannot {
                needs: vec!["brand".into()]
            }
            .summary()
            .contains("needs brand")
        );
    }
}
