//! Facts: the statements a reader must not lose, each with the evidence that shows a text
//! carries it (its subject and its figure together), so a check can tell a report that
//! states a finding from one that merely names the same brand somewhere.

use serde::{Deserialize, Serialize};

use crate::settings::Priority;

/// A statement a reader must be able to find, with the value that makes it checkable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    /// Stable identifier, e.g. `profitability.brand.top`.
    pub key: String,
    /// The statement as a report would write it.
    pub statement: String,
    pub value: FactValue,
    /// The value as the statement writes it (`$258,663`, `62.0%`, `Red Bull`).
    pub display: String,
    pub priority: Priority,
    /// What one sentence, bullet or table row must hold for a text to carry the fact:
    /// every clue. Empty (facts stored before clues existed): the display text alone.
    #[serde(default)]
    pub evidence: Vec<Clue>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    Number(f64),
    Text(String),
}

/// One thing a sentence must hold for a fact to be in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clue {
    /// Any one of these words or names, case-insensitive, starting at a word boundary
    /// (`revenue` is found in "Revenues").
    Words(Vec<String>),
    /// A figure, as written with any accepted form and rounding (see
    /// [`crate::tools::fact_check`]).
    Figure(Figure),
}

/// A number with what it measures, which decides how it may be written.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub value: f64,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Dollars: `$258,663`, `$258.7K`, `$0.26M`, `258,663 dollars`, `($3,649)`.
    Money,
    /// `62.0%`, `62%`, `62 percent`.
    Percent,
    /// Percentage points: `12.3 pp`, `12.3 percentage points` (or `12.3%`).
    Points,
    /// A count or plain number: `15,000`, `15000`, `15K`.
    Count,
}

impl Unit {
    /// The unit a display text is written in: `$…` money, `…%` percent, `… pp` points.
    fn of_display(display: &str) -> Unit {
        let d = display.trim();
        if d.trim_start_matches(['-', '−']).starts_with('$') {
            Unit::Money
        } else if d.ends_with('%') {
            Unit::Percent
        } else if d.ends_with("pp") {
            Unit::Points
        } else {
            Unit::Count
        }
    }
}

impl Fact {
    /// A fact whose value is a figure; its evidence is the figure, in the unit `display`
    /// is written in. Add what it is about with [`Fact::about`].
    pub fn number(key: impl Into<String>, priority: Priority, value: f64, display: String, statement: String) -> Self {
        let unit = Unit::of_display(&display);
        Fact {
            key: key.into(),
            statement,
            value: FactValue::Number(value),
            display,
            priority,
            evidence: vec![Clue::Figure(Figure { value, unit })],
        }
    }

    /// A fact whose value is a name; its evidence is the name. A name alone is rarely the
    /// finding: add its figure with [`Fact::with_figure`] or what it is with [`Fact::about`].
    pub fn text(key: impl Into<String>, priority: Priority, value: &str, statement: String) -> Self {
        Fact {
            key: key.into(),
            statement,
            value: FactValue::Text(value.to_string()),
            display: value.to_string(),
            priority,
            evidence: vec![Clue::Words(vec![value.to_string()])],
        }
    }

    /// Adds a clue: one of `words` must be in the same sentence.
    pub fn about<S: AsRef<str>>(mut self, words: &[S]) -> Self {
        let words: Vec<String> = words
            .iter()
            .map(|w| w.as_ref().trim().to_string())
            .filter(|w| !w.is_empty())
            .collect();
        if !words.is_empty() {
            self.evidence.push(Clue::Words(words));
        }
        self
    }

    /// Adds a clue: `value` in `unit` must be in the same sentence.
    pub fn with_figure(mut self, value: f64, unit: Unit) -> Self {
        self.evidence.push(Clue::Figure(Figure { value, unit }));
        self
    }
}

/// Facts with one per key, the first of each kept, in order: a key names one statement,
/// even when two tools (or two steps) produce it.
pub fn unique_by_key<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> Vec<&'a Fact> {
    let mut out: Vec<&Fact> = Vec::new();
    for f in facts {
        if !out.iter().any(|x| x.key == f.key) {
            out.push(f);
        }
    }
    out
}

/// Fact statements as a Markdown list, leaving out a statement that an earlier line already
/// carries ("Coca-Cola profit: $258,663" after "Top brand by profit: Coca-Cola ($258,663
/// profit, …)"): same facts, fewer tokens. Carried means subject and figure together (see
/// [`super::fact_check`]): "Best ROI brand: Red Bull at 163.2%" stays after "Highest-margin
/// brand: Red Bull at 62.0%".
pub fn fact_list<'a>(facts: impl IntoIterator<Item = &'a Fact>) -> String {
    let mut lines: Vec<String> = Vec::new();
    for f in facts {
        if !lines.iter().any(|l| super::fact_check::carries(l, f)) {
            lines.push(format!("- {}", f.statement));
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_fact_per_key_the_first_kept() {
        let fact = |key: &str, display: &str| Fact::text(key, Priority::Useful, display, display.into());
        let facts = [fact("a", "1"), fact("b", "2"), fact("a", "3")];
        let unique: Vec<&str> = unique_by_key(&facts).iter().map(|f| f.display.as_str()).collect();
        assert_eq!(unique, ["1", "2"]);
    }

    #[test]
    fn a_number_fact_takes_its_unit_from_how_it_is_written() {
        let unit = |d: &str| match &Fact::number("k", Priority::Useful, 1.0, d.into(), String::new()).evidence[0] {
            Clue::Figure(f) => f.unit,
            other => panic!("{other:?}"),
        };
        assert_eq!(unit("$258,663"), Unit::Money);
        assert_eq!(unit("-$3,649"), Unit::Money);
        assert_eq!(unit("62.0%"), Unit::Percent);
        assert_eq!(unit("4.1 pp"), Unit::Points);
        assert_eq!(unit("15,000"), Unit::Count);
    }
}

/// `statement` in the file's own words: each dimension role's word (`brand`, `brands`,
/// `Brand`) replaced by the column it was read from (`Retailer`, `Retailers`), for the
/// `(role word, column)` pairs given. Whole words only.
pub fn in_the_files_words(statement: &str, words: &[(String, String)]) -> String {
    let mut out = statement.to_string();
    for (role, column) in words {
        let plural_role = plural(role);
        let plural_column = plural(column);
        for (from, to) in [
            (plural_role.as_str(), plural_column.as_str()),
            (role.as_str(), column.as_str()),
        ] {
            out = replace_word(&out, from, to);
            out = replace_word(&out, &capitalized(from), to);
        }
    }
    out
}

fn plural(word: &str) -> String {
    let lower = word.to_lowercase();
    if lower.ends_with('s') {
        word.to_string()
    } else if lower.ends_with('y') && !lower.ends_with("ay") && !lower.ends_with("ey") && !lower.ends_with("oy") {
        format!("{}ies", &word[..word.len() - 1])
    } else {
        format!("{word}s")
    }
}

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn replace_word(text: &str, from: &str, to: &str) -> String {
    if from.is_empty() || from == to {
        return text.to_string();
    }
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        out.push_str(&rest[..at]);
        if is_word(before) || is_word(after) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod words_tests {
    use super::*;

    #[test]
    fn dimensions_are_named_as_the_file_names_them() {
        let words = vec![
            ("brand".to_string(), "Retailer".to_string()),
            ("category".to_string(), "Sub-Category".to_string()),
        ];
        assert_eq!(
            in_the_files_words("Top brand by profit: West Gear ($1 profit)", &words),
            "Top Retailer by profit: West Gear ($1 profit)"
        );
        assert_eq!(
            in_the_files_words("Top three brands hold 51.0% of revenue", &words),
            "Top three Retailers hold 51.0% of revenue"
        );
        assert_eq!(
            in_the_files_words("Highest-margin category: Chairs at 20.2%", &words),
            "Highest-margin Sub-Category: Chairs at 20.2%"
        );
        assert_eq!(in_the_files_words("Brandy brand-new", &words), "Brandy brand-new");
    }
}
