//! What a data file is and how it maps to roles: the table `mrflow-tui data` prints, the
//! TUI's data popup shows, and the run report carries.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::roles::MatchKind;
use super::schema::{ColumnKind, Derivation};
use super::source::FileFormat;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataProfile {
    pub path: PathBuf,
    pub format: FileFormat,
    /// CSV only: `UTF-8`, `Windows-1252`, `UTF-16LE`.
    pub encoding: Option<String>,
    /// CSV only: `,` `;` `\t` `|`.
    pub delimiter: Option<String>,
    /// The decimal separator numbers were read with (`.` or `,`).
    pub decimal: Option<String>,
    /// Workbooks only: the sheet read.
    pub sheet: Option<String>,
    /// How the date column's values were read, when dates were read.
    pub date_format: Option<String>,
    /// Data rows in the file.
    pub rows: usize,
    pub columns: Vec<ColumnProfile>,
    /// role → the file column it is read from.
    pub roles: BTreeMap<String, String>,
    /// Roles with two or more automatic candidates, left unmapped.
    pub ambiguous: BTreeMap<String, Vec<String>>,
    /// What the loader did beyond reading: mapping, transcoding, derivations, skipped rows.
    pub notes: Vec<String>,
    /// Set when the file was read in batches and summed as it went (too large to hold row
    /// by row): the dataset's frame then has one row per distinct combination of its text
    /// and integer columns, with its number columns summed, and these are the row figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouped: Option<Grouped>,
    /// Roles asked for when available that the file does not give, each with the columns
    /// that could serve (what a flow that degrades skipped for, and how to fix it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<MissingColumn>,
}

/// What a frame summed by its keys no longer shows: how many rows were analysed, and each
/// number column's statistics over them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Grouped {
    /// Rows analysed (after those that could not be were skipped).
    pub rows: usize,
    pub numbers: Vec<NumberStats>,
}

impl Grouped {
    pub fn stats(&self, column: &str) -> Option<&NumberStats> {
        self.numbers.iter().find(|n| n.name == column)
    }
}

/// A number column over every row: present values, their range and sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberStats {
    pub name: String,
    pub count: usize,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub sum: f64,
}

impl NumberStats {
    pub fn new(name: &str) -> NumberStats {
        NumberStats {
            name: name.to_string(),
            count: 0,
            min: None,
            max: None,
            sum: 0.0,
        }
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// Adds the figures of more rows of the same column.
    pub fn merge(&mut self, other: &NumberStats) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = match (self.min, other.min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// One column of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnProfile {
    pub name: String,
    /// `integer`, `number`, `date`, `text`, `boolean` or `empty`, from its values.
    #[serde(rename = "type")]
    pub kind: String,
    /// The role it is read as.
    pub role: Option<String>,
    /// How the role was matched: `explicit`, `name` or `synonym`.
    pub matched: Option<MatchKind>,
}

/// A role (or named column) a flow needs that the file does not give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MissingColumn {
    pub name: String,
    pub kind: ColumnKind,
    /// How it could have been derived, if it is derivable.
    #[serde(skip)]
    pub derivation: Option<Derivation>,
    /// Columns that could serve, best first.
    pub candidates: Vec<String>,
    /// True when the candidates all matched and none was taken.
    pub ambiguous: bool,
}

impl MissingColumn {
    /// The `--column` that would fix it, when there is a candidate.
    pub fn suggestion(&self) -> Option<String> {
        let first = self.candidates.first()?;
        let column = if first.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c)) {
            first.clone()
        } else {
            format!("'{first}'")
        };
        super::roles::is_role(&self.name).then(|| format!("--column {}={column}", self.name))
    }
}

impl DataProfile {
    /// Every role the file gives: those mapped to its columns, and those that can be
    /// derived from them (year and month from a date, profit from revenue and cost…).
    pub fn available_roles(&self) -> std::collections::BTreeSet<String> {
        let mut have: std::collections::BTreeSet<String> = self.roles.keys().cloned().collect();
        loop {
            let before = have.len();
            for spec in super::schema::KNOWN_COLUMNS {
                if !have.contains(spec.name)
                    && spec
                        .derivations
                        .iter()
                        .any(|d| d.inputs().iter().all(|i| have.contains(*i)))
                {
                    have.insert(spec.name.to_string());
                }
            }
            if have.len() == before {
                return have;
            }
        }
    }

    /// The profile as the aligned table `mrflow-tui data` prints.
    pub fn render(&self, missing: &[MissingColumn]) -> String {
        let mut out = String::new();
        let mut dialect = vec![self.format.as_str().to_string()];
        if let Some(e) = &self.encoding {
            dialect.push(e.clone());
        }
        if let Some(d) = &self.delimiter {
            dialect.push(format!("delimiter {}", show_delimiter(d)));
        }
        if let Some(d) = &self.decimal {
            dialect.push(format!("decimal `{d}`"));
        }
        if let Some(s) = &self.sheet {
            dialect.push(format!("sheet `{s}`"));
        }
        if let Some(f) = &self.date_format {
            dialect.push(format!("dates {f}"));
        }
        if self.format == FileFormat::Postgres {
            out.push_str(&format!("Table   {}\n", self.path.display()));
            out.push_str("Format  PostgreSQL protocol, summed on the server\n");
        } else {
            out.push_str(&format!("File    {}\n", self.path.display()));
            out.push_str(&format!("Format  {}\n", dialect.join(" · ")));
        }
        out.push_str(&format!("Rows    {}\n\n", crate::format::grouped(self.rows as f64)));
        let width = self
            .columns
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        out.push_str(&format!("{:<width$}  {:<8}  ROLE\n", "COLUMN", "TYPE"));
        for c in &self.columns {
            let role = match (&c.role, c.matched) {
                (Some(r), Some(m)) => format!("{r} ({})", match_label(m)),
                (Some(r), None) => r.clone(),
                (None, _) => "-".into(),
            };
            out.push_str(&format!("{:<width$}  {:<8}  {role}\n", c.name, c.kind));
        }
        for (role, candidates) in &self.ambiguous {
            out.push_str(&format!(
                "\n`{role}` has several candidates ({}); choose one with --column {role}=COLUMN",
                candidates.join(", ")
            ));
        }
        if !self.ambiguous.is_empty() {
            out.push('\n');
        }
        if !self.notes.is_empty() {
            out.push_str("\nNotes\n");
            for n in &self.notes {
                out.push_str(&format!("  {n}\n"));
            }
        }
        if !missing.is_empty() {
            out.push_str("\nThe flow still needs\n");
            for m in missing {
                out.push_str(&format!("  {}\n", describe_missing(m)));
            }
        }
        out
    }
}

fn match_label(m: MatchKind) -> &'static str {
    match m {
        MatchKind::Explicit => "explicit",
        MatchKind::Name => "by name",
        MatchKind::Synonym => "synonym",
    }
}

fn show_delimiter(d: &str) -> String {
    match d {
        "\t" => "tab".into(),
        other => format!("`{other}`"),
    }
}

/// One missing role, with what would fix it.
pub fn describe_missing(m: &MissingColumn) -> String {
    let what = if super::roles::is_role(&m.name) {
        "role"
    } else {
        "column"
    };
    let mut text = match m.derivation {
        Some(d) => format!("{what} `{}` ({}, or the columns to derive it as {d})", m.name, m.kind),
        None => format!("{what} `{}` ({})", m.name, m.kind),
    };
    if m.ambiguous {
        text.push_str(&format!(
            ": several columns match ({}), choose one with --column {}=COLUMN",
            m.candidates.join(", "),
            m.name
        ));
    } else if !m.candidates.is_empty() {
        let shown: Vec<&str> = m.candidates.iter().take(6).map(String::as_str).collect();
        text.push_str(&format!("; columns that could serve: {}", shown.join(", ")));
        if let Some(s) = m.suggestion() {
            text.push_str(&format!("; add {s}"));
        }
    }
    text
}
