//! Validation of a flow's step graph, and the graph queries the engine needs.

use std::collections::{HashMap, HashSet};

use super::def::{ContextSource, FlowDef, budget_problem};

/// The step graph, by step index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dag {
    /// For each step, the steps it listens to.
    pub upstream: Vec<Vec<usize>>,
    /// For each step, the steps that listen to it.
    pub downstream: Vec<Vec<usize>>,
    /// Steps in an order where every step comes after those it listens to.
    pub order: Vec<usize>,
}

impl Dag {
    /// `step` and every step reachable downstream of it, in topological order.
    pub fn with_descendants(&self, step: usize) -> Vec<usize> {
        let mut seen = HashSet::from([step]);
        let mut stack = vec![step];
        while let Some(s) = stack.pop() {
            for &d in &self.downstream[s] {
                if seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        self.order.iter().copied().filter(|s| seen.contains(s)).collect()
    }

    /// Every step upstream of `step` (not including it), in topological order.
    pub fn ancestors(&self, step: usize) -> Vec<usize> {
        let mut seen = HashSet::new();
        let mut stack = vec![step];
        while let Some(s) = stack.pop() {
            for &u in &self.upstream[s] {
                if seen.insert(u) {
                    stack.push(u);
                }
            }
        }
        self.order.iter().copied().filter(|s| seen.contains(s)).collect()
    }

    /// Steps nothing listens to: the flow's results.
    pub fn sinks(&self) -> Vec<usize> {
        self.order
            .iter()
            .copied()
            .filter(|&s| self.downstream[s].is_empty())
            .collect()
    }
}

/// A validation failure, with the step it concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub step: Option<String>,
    /// Which declaration of the step id is meant (duplicates have several).
    pub occurrence: usize,
    pub message: String,
}

fn at(step: &str, message: String) -> Violation {
    Violation {
        step: Some(step.to_string()),
        occurrence: 0,
        message: format!("step `{step}`: {message}"),
    }
}

/// Checks ids, edges, routers, budgets, tool arguments and context sources, and that the
/// graph has a start and no cycle.
pub fn validate(def: &FlowDef) -> Result<Dag, Violation> {
    if def.steps.is_empty() {
        return Err(Violation {
            step: None,
            occurrence: 0,
            message: "flow has no steps; add at least one [[steps]] table".into(),
        });
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, step) in def.steps.iter().enumerate() {
        if step.id.is_empty()
            || !step
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(at(
                &step.id,
                "id must be non-empty and use only letters, digits, `_` and `-`".into(),
            ));
        }
        if let Some(first) = index.insert(&step.id, i) {
            let occurrence = def.steps[..i].iter().filter(|s| s.id == step.id).count();
            return Err(Violation {
                occurrence,
                ..at(
                    &step.id,
                    format!("duplicate step id (steps[{i}] repeats steps[{first}])"),
                )
            });
        }
    }

    let n = def.steps.len();
    let mut upstream = vec![Vec::new(); n];
    let mut downstream = vec![Vec::new(); n];
    for (i, step) in def.steps.iter().enumerate() {
        for name in &step.listen {
            let Some(&u) = index.get(name.as_str()) else {
                return Err(at(&step.id, format!("listens to unknown step `{name}`")));
            };
            if upstream[i].contains(&u) {
                return Err(at(&step.id, format!("listens to `{name}` twice")));
            }
            upstream[i].push(u);
            downstream[u].push(i);
        }
    }

    if !def.steps.iter().any(|s| s.listen.is_empty()) {
        return Err(Violation {
            step: None,
            occurrence: 0,
            message: "flow has no start step: every step listens to another; give at least one step no `listen`".into(),
        });
    }
    let order = topological_order(def, &upstream, &downstream)?;
    let dag = Dag {
        upstream,
        downstream,
        order,
    };

    for (i, step) in def.steps.iter().enumerate() {
        if let Some(problem) = budget_problem(step.budget as i64) {
            return Err(at(&step.id, problem));
        }
        for tool in &step.tools {
            tool.validate()
                .map_err(|m| at(&step.id, format!("tool `{}`: {m}", tool.name())))?;
        }
        if let Some(router) = &step.router {
            if router.fact.is_empty() {
                return Err(at(&step.id, "router needs the key of a fact to route on".into()));
            }
            for target in router.targets() {
                match index.get(target) {
                    None => return Err(at(&step.id, format!("router goes to unknown step `{target}`"))),
                    Some(&t) if !dag.upstream[t].contains(&i) => {
                        return Err(at(
                            &step.id,
                            format!("router goes to `{target}`, which does not listen to `{}`", step.id),
                        ));
                    }
                    _ => {}
                }
            }
        }
        let ancestors = dag.ancestors(i);
        let mut keys = HashSet::new();
        for item in &step.context {
            if !keys.insert(item.key.as_str()) {
                return Err(at(&step.id, format!("context item `{}` is declared twice", item.key)));
            }
            if let ContextSource::Step(source) = &item.source {
                match index.get(source.as_str()) {
                    None => {
                        return Err(at(
                            &step.id,
                            format!("context item `{}` reads unknown step `{source}`", item.key),
                        ));
                    }
                    Some(s) if !ancestors.contains(s) => {
                        return Err(at(
                            &step.id,
                            format!(
                                "context item `{}` reads `{source}`, which does not run before `{}`",
                                item.key, step.id
                            ),
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(dag)
}

/// Kahn's algorithm; on a cycle, names the steps in it.
fn topological_order(
    def: &FlowDef,
    upstream: &[Vec<usize>],
    downstream: &[Vec<usize>],
) -> Result<Vec<usize>, Violation> {
    let n = upstream.len();
    let mut waiting: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).rev().collect();
    let mut order = Vec::with_capacity(n);
    while let Some(s) = ready.pop() {
        order.push(s);
        for &d in downstream[s].iter().rev() {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(d);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Walk upstream from a step left waiting until a step repeats: that loop is a cycle.
    let stuck: HashSet<usize> = (0..n).filter(|&i| waiting[i] > 0).collect();
    let mut path = vec![*stuck.iter().min().expect("some step is stuck")];
    loop {
        let last = *path.last().expect("non-empty");
        let next = upstream[last]
            .iter()
            .copied()
            .find(|u| stuck.contains(u))
            .expect("stuck steps wait on stuck steps");
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle: Vec<&str> = path[pos..].iter().rev().map(|&i| def.steps[i].id.as_str()).collect();
            // Start the loop at the step the error is reported for.
            let start = cycle.iter().position(|id| *id == def.steps[next].id).unwrap_or(0);
            cycle.rotate_left(start);
            cycle.push(cycle[0]);
            return Err(at(&def.steps[next].id, format!("cycle: {}", cycle.join(" → "))));
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use crate::flow::Flow;

    fn flow(steps: &str) -> String {
        format!("name = \"t\"\n{steps}")
    }

    fn step(id: &str, extra: &str) -> String {
        format!(
            "[[steps]]\nid = \"{id}\"\ntask = \"do {id}\"\nagent = {{ role = \"r\", goal = \"g\", backstory = \"b\" }}\n{extra}\n"
        )
    }

    fn error(text: &str) -> String {
        Flow::parse(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn accepts_branches_and_joins_in_topological_order() {
        let text = flow(
            &[
                step("a", ""),
                step("b", "listen = [\"a\"]"),
                step("c", "listen = [\"a\"]"),
                step("d", "listen = [\"b\", \"c\"]"),
            ]
            .concat(),
        );
        let f = Flow::parse(&text, "t.toml").unwrap();
        assert_eq!(f.dag.order, vec![0, 1, 2, 3]);
        assert_eq!(f.dag.with_descendants(1), vec![1, 3]);
        assert_eq!(f.dag.ancestors(3), vec![0, 1, 2]);
        assert_eq!(f.dag.sinks(), vec![3]);
    }

    #[test]
    fn rejects_a_cycle_naming_it() {
        let text = flow(
            &[
                step("a", ""),
                step("b", "listen = [\"a\", \"c\"]"),
                step("c", "listen = [\"b\"]"),
            ]
            .concat(),
        );
        let err = error(&text);
        assert!(
            err.contains("cycle: b → c → b") || err.contains("cycle: c → b → c"),
            "{err}"
        );
    }

    #[test]
    fn rejects_unknown_listen_with_line() {
        let text = flow(&[step("a", ""), step("b", "listen = [\"nope\"]")].concat());
        assert_eq!(error(&text), "t.toml:8: step `b`: listens to unknown step `nope`");
    }

    #[test]
    fn rejects_duplicate_ids() {
        let text = flow(&[step("a", ""), step("a", "")].concat());
        assert_eq!(
            error(&text),
            "t.toml:8: step `a`: duplicate step id (steps[1] repeats steps[0])"
        );
    }

    #[test]
    fn rejects_missing_start() {
        let text = flow(&[step("a", "listen = [\"b\"]"), step("b", "listen = [\"a\"]")].concat());
        assert!(
            error(&text)
                .ends_with("flow has no start step: every step listens to another; give at least one step no `listen`")
        );
    }

    #[test]
    fn rejects_no_steps() {
        assert!(error("name = \"t\"\nsteps = []\n").ends_with("flow has no steps; add at least one [[steps]] table"));
    }

    #[test]
    fn rejects_absurd_budgets() {
        for budget in ["0", "10", "1000000", "-5"] {
            let text = flow(&step("a", &format!("budget = {budget}")));
            assert_eq!(
                error(&text),
                format!("t.toml:6:10: budget must be between 50 and 200,000 tokens, got {budget}")
            );
        }
        let text = flow(&step("a", "budget = \"lots\""));
        assert!(
            error(&text).starts_with("t.toml:6:10: invalid type: string \"lots\""),
            "{}",
            error(&text)
        );
    }

    #[test]
    fn rejects_unknown_priority_and_strategy() {
        let text = flow(&step(
            "a",
            "context = [{ key = \"k\", source = \"task\", priority = \"urgent\" }]",
        ));
        assert!(
            error(&text)
                .contains("unknown variant `urgent`, expected one of `critical`, `important`, `useful`, `optional`"),
            "{}",
            error(&text)
        );
        let text = flow(&step("a", "strategy = \"yolo\""));
        assert!(error(&text).contains("unknown variant `yolo`"));
    }

    #[test]
    fn rejects_bad_router_targets() {
        let router = "router = { fact = \"x\", routes = [{ when = \"> 1\", goto = \"c\" }], default = \"b\" }";
        let text = flow(&[step("a", router), step("b", "listen = [\"a\"]"), step("c", "")].concat());
        assert!(
            error(&text).ends_with("step `a`: router goes to `c`, which does not listen to `a`"),
            "{}",
            error(&text)
        );
        let router = "router = { fact = \"x\", routes = [], default = \"zz\" }";
        let text = flow(&step("a", router));
        assert!(error(&text).ends_with("router goes to unknown step `zz`"));
    }

    #[test]
    fn rejects_context_from_a_later_step_and_bad_tool_args() {
        let text = flow(
            &[
                step(
                    "a",
                    "context = [{ key = \"k\", source = \"step:b\", priority = \"useful\" }]",
                ),
                step("b", "listen = [\"a\"]"),
            ]
            .concat(),
        );
        assert!(
            error(&text).ends_with("context item `k` reads `b`, which does not run before `a`"),
            "{}",
            error(&text)
        );
        let text = flow(&step("a", "tools = [{ name = \"forecast\", horizon = 0 }]"));
        assert!(
            error(&text).ends_with("step `a`: tool `forecast`: `horizon` must be 1-36 months, got 0"),
            "{}",
            error(&text)
        );
    }

    #[test]
    fn rejects_unknown_fields() {
        let text = flow(&step("a", "colour = \"red\""));
        assert!(error(&text).contains("unknown field `colour`"), "{}", error(&text));
    }
}
