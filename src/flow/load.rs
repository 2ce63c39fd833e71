//! Loading a flow from the built-ins or a path, with errors located in the file.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use super::def::{BUILTIN_FLOWS, FlowDef, StepDef};
use super::validate::{self, Dag};

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
        let dag = validate::validate(&def).map_err(|v| FlowError {
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
}
