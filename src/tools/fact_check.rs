//! Whether a text carries a fact, the way people and models write numbers, and which of its
//! figures nothing supports.
//!
//! A fact is carried when one sentence, bullet or table row holds every clue of it (see
//! [`Fact::evidence`]): its subject and its figure together, so "Red Bull" in a sentence
//! about the budget is not "Red Bull has the highest margin, 62.0%". A figure may be written
//! `62.0%`, `62%` or `62 percent`; `$258,663`, `$258.7K` or `$0.26M`; `−$3,649`, `($3,649)`
//! or "a loss of $3,649"; rounded to any precision it shows, as long as that precision is
//! within 5% of the value (`$0.3M` for $258,663 is too coarse to be the figure).

use crate::tools::{Clue, Fact, Figure, Unit};

/// How a number was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Money,
    Percent,
    Points,
    Plain,
}

/// A number found in a text, with the rounding its written form implies.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenFigure {
    pub value: f64,
    /// Half a unit of the last digit shown, times the scale (`$258.7K`: 50).
    pub tolerance: f64,
    pub written: Written,
    /// The figure as it stands in the text.
    pub text: String,
}

impl WrittenFigure {
    /// Whether this written figure is `value` rounded as it is shown.
    fn is(&self, value: f64, allow_magnitude: bool) -> bool {
        let precise = self.tolerance <= 0.5 + 1e-9 || self.tolerance <= 0.05 * value.abs();
        let close = |v: f64| (v - self.value).abs() <= self.tolerance + 1e-9 * v.abs().max(1.0);
        precise && (close(value) || (allow_magnitude && self.value >= 0.0 && close(value.abs())))
    }
}

/// Whether `text` carries `fact`: some sentence, bullet or table row holds all its clues.
pub fn carries(text: &str, fact: &Fact) -> bool {
    if fact.evidence.is_empty() {
        return text.contains(&fact.display);
    }
    passages(text).iter().any(|p| holds(p, &fact.evidence))
}

/// The critical facts of `facts` that `text` does not carry, by key.
pub fn missing<'a>(text: &str, facts: impl IntoIterator<Item = &'a Fact>) -> Vec<&'a Fact> {
    let passages = passages(text);
    facts
        .into_iter()
        .filter(|f| {
            if f.evidence.is_empty() {
                !text.contains(&f.display)
            } else {
                !passages.iter().any(|p| holds(p, &f.evidence))
            }
        })
        .collect()
}

/// Money and percent figures in `text` that match no number in `given` (what the writer
/// was shown) nor any fact (its figures and every number of its statement: the engine's
/// exact results), within the rounding they are written with: figures the writer made up.
/// Each is listed once, as written.
pub fn unsupported(text: &str, given: &str, facts: &[&Fact]) -> Vec<String> {
    let mut known: Vec<(f64, Written)> = figures(given).iter().map(|f| (f.value, f.written)).collect();
    for f in facts {
        known.extend(figures(&f.statement).iter().map(|w| (w.value, w.written)));
        for c in &f.evidence {
            if let Clue::Figure(fig) = c {
                known.push((fig.value, written_as(fig.unit)));
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for w in figures(text) {
        if !matches!(w.written, Written::Money | Written::Percent) {
            continue;
        }
        // Money is supported by money or a bare number, a percent by a percent, points or
        // a bare number (a table's `margin_pct=41.9`): never a dollar figure by a percent.
        let same_kind = |k: Written| {
            k == Written::Plain || k == w.written || (w.written == Written::Percent && k == Written::Points)
        };
        let close = |v: f64| {
            let t = w.tolerance + 1e-9 * v.abs().max(1.0);
            (v - w.value).abs() <= t || (v.abs() - w.value.abs()).abs() <= t
        };
        if !known.iter().any(|&(v, k)| same_kind(k) && close(v)) && !out.contains(&w.text) {
            out.push(w.text);
        }
    }
    out
}

fn written_as(unit: Unit) -> Written {
    match unit {
        Unit::Money => Written::Money,
        Unit::Percent => Written::Percent,
        Unit::Points => Written::Points,
        Unit::Count => Written::Plain,
    }
}

/// Whether `text` states any of `written` (figures as [`unsupported`] lists them).
pub fn states_any(text: &str, written: &[String]) -> bool {
    let text = normalize(text);
    written.iter().any(|w| text.contains(w.as_str()))
}

/// `prompt` without the earlier answers it quotes: what a writer was given that the engine
/// computed or the flow says, so a figure an earlier model made up does not become support.
pub fn ground<'a>(prompt: &str, answers: impl IntoIterator<Item = &'a str>) -> String {
    let mut given = prompt.to_string();
    for answer in answers {
        let answer = answer.trim();
        if !answer.is_empty() {
            given = given.replace(answer, "");
        }
    }
    given
}

/// One sentence, bullet or table row, lower-cased, with its figures.
struct Passage {
    text: String,
    figures: Vec<WrittenFigure>,
    /// A table row (with its header): a plain number may stand for a percent there.
    table: bool,
}

fn holds(p: &Passage, evidence: &[Clue]) -> bool {
    evidence.iter().all(|clue| match clue {
        Clue::Words(words) => words.iter().any(|w| has_word(&p.text, &normalize(w))),
        Clue::Figure(f) => p.figures.iter().any(|w| figure_is(w, f, p)),
    })
}

fn figure_is(w: &WrittenFigure, f: &Figure, p: &Passage) -> bool {
    let unit_fits = match f.unit {
        Unit::Money => matches!(w.written, Written::Money | Written::Plain),
        Unit::Percent => w.written == Written::Percent || (p.table && w.written == Written::Plain),
        Unit::Points => matches!(w.written, Written::Points | Written::Percent),
        Unit::Count => w.written == Written::Plain,
    };
    // "A loss of $3,649" states -$3,649.
    let loss = f.value < 0.0
        && ["loss", "lost", "lose", "negative", "deficit", "decline", "down "]
            .iter()
            .any(|m| p.text.contains(m));
    unit_fits && w.is(f.value, loss)
}

/// Lower case, emphasis and code marks removed, typographic quotes and minus made plain.
fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '*' | '`' | '_'))
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            '\u{2212}' | '\u{2013}' => '-',
            '\u{a0}' | '\u{202f}' => ' ',
            c => c,
        })
        .collect::<String>()
        .to_lowercase()
}

/// Whether `word` starts at a word boundary somewhere in `text` (both normalized).
fn has_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    text.match_indices(word)
        .any(|(i, _)| text[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric()))
}

/// The text cut into sentences, bullets (a nested bullet with its parent) and table rows
/// (each with its header).
fn passages(text: &str) -> Vec<Passage> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut header: Option<&str> = None;
    // Bullets open at each indentation, for nested bullets.
    let mut parents: Vec<(usize, &str)> = Vec::new();
    for line in &lines {
        let trimmed = line.trim();
        if trimmed.starts_with('|') {
            let separator = trimmed.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
            match header {
                None => {
                    header = Some(trimmed);
                    out.push(passage(trimmed, false));
                }
                Some(_) if separator => {}
                Some(h) => out.push(passage(&format!("{h}\n{trimmed}"), true)),
            }
            continue;
        }
        header = None;
        if trimmed.is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let bullet = is_bullet(trimmed);
        parents.retain(|(i, _)| *i < indent);
        let context: String = if bullet {
            parents.iter().map(|(_, p)| format!("{p} ")).collect()
        } else {
            parents.clear();
            String::new()
        };
        if bullet {
            out.push(passage(&format!("{context}{trimmed}"), false));
            parents.push((indent, trimmed));
        } else {
            for sentence in sentences(trimmed) {
                out.push(passage(sentence, false));
            }
        }
    }
    out
}

fn passage(text: &str, table: bool) -> Passage {
    let text = normalize(text);
    Passage {
        figures: figures(&text),
        text,
        table,
    }
}

fn is_bullet(line: &str) -> bool {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    line.starts_with(['-', '*', '+', '•']) || (digits > 0 && line[digits..].starts_with(['.', ')']))
}

/// Sentences of a line: cut after `.`, `!` or `?` followed by a space (a decimal point is
/// followed by a digit, so `$258.7K` stays whole).
fn sentences(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = line.as_bytes();
    for i in 0..bytes.len() {
        if matches!(bytes[i], b'.' | b'!' | b'?') && bytes.get(i + 1) == Some(&b' ') {
            out.push(&line[start..=i]);
            start = i + 1;
        }
    }
    out.push(&line[start..]);
    out
}

/// Every number in `text`, with how it is written: currency, sign or parentheses, a scale
/// (`K`, `M`, `B`, `thousand`, `million`, `billion`) and a percent or points mark.
pub fn figures(text: &str) -> Vec<WrittenFigure> {
    let text = normalize(text);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let starts = c.is_ascii_digit() && (i == 0 || !is_word_char(chars[i - 1].1));
        if !starts {
            i += 1;
            continue;
        }
        // Look back for a sign, currency and an opening parenthesis: `-$`, `$-`, `($`, `-`.
        let mut first = i;
        let mut money = false;
        let mut negative = false;
        let mut paren = false;
        let mut k = i;
        while k > 0 {
            let p = chars[k - 1].1;
            match p {
                '$' | '€' | '£' if !money => money = true,
                '-' if !negative && (k < 2 || !is_word_char(chars[k - 2].1)) => negative = true,
                '(' if !paren => paren = true,
                _ => break,
            }
            k -= 1;
            first = k;
        }
        if text[..chars[first].0].ends_with("us") {
            money = true;
        }
        // Digits with thousands commas, then decimals.
        let mut j = i;
        let mut digits = String::new();
        while j < chars.len() {
            let ch = chars[j].1;
            if ch.is_ascii_digit() {
                digits.push(ch);
                j += 1;
            } else if ch == ','
                && chars.get(j + 1).is_some_and(|c| c.1.is_ascii_digit())
                && chars.get(j + 4).is_none_or(|c| !c.1.is_ascii_digit())
                && chars[j + 1..].iter().take(3).all(|c| c.1.is_ascii_digit())
            {
                j += 1;
            } else {
                break;
            }
        }
        let mut places = 0usize;
        if j + 1 < chars.len() && chars[j].1 == '.' && chars[j + 1].1.is_ascii_digit() {
            digits.push('.');
            j += 1;
            while j < chars.len() && chars[j].1.is_ascii_digit() {
                digits.push(chars[j].1);
                places += 1;
                j += 1;
            }
        }
        // A date or version (2023-01-05, 1.2.3) is not a figure.
        if j < chars.len()
            && (chars[j].1 == '-' || chars[j].1 == '/')
            && chars.get(j + 1).is_some_and(|c| c.1.is_ascii_digit())
        {
            while j < chars.len() && (chars[j].1.is_ascii_alphanumeric() || matches!(chars[j].1, '-' | '/')) {
                j += 1;
            }
            i = j;
            continue;
        }
        let Ok(mut value) = digits.parse::<f64>() else {
            i = j;
            continue;
        };
        let rest_start = chars.get(j).map_or(text.len(), |c| c.0);
        let rest = &text[rest_start..];
        let (scale, used) = scale_of(rest);
        let rest = &rest[used..];
        let (mark, used2) = mark_of(rest);
        let mut end = rest_start + used + used2;
        let written = match mark {
            Some(w) => w,
            None if money => Written::Money,
            None if rest.trim_start().starts_with("dollars") || rest.trim_start().starts_with("usd") => Written::Money,
            None => Written::Plain,
        };
        if paren && text[end..].starts_with(')') && money {
            negative = true;
            end += 1;
        }
        value *= scale;
        if negative {
            value = -value;
        }
        let tolerance = 0.5 * 10f64.powi(-(places as i32)) * scale;
        let start_byte = chars[first].0;
        let shown = text[start_byte..end].trim();
        // An opening parenthesis that did not make the figure negative is not part of it.
        let shown = if paren && !(negative && shown.ends_with(')')) {
            shown.trim_start_matches('(')
        } else {
            shown
        };
        out.push(WrittenFigure {
            value,
            tolerance,
            written,
            text: shown.to_string(),
        });
        // Continue after what was read.
        i = chars.iter().position(|c| c.0 >= end).unwrap_or(chars.len()).max(j);
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '_'
}

/// A scale after a number: `K`, `M`, `B`, `bn`, `thousand`, `million`, `billion`, with
/// the bytes it took.
fn scale_of(rest: &str) -> (f64, usize) {
    let trimmed = rest.trim_start_matches(' ');
    let skipped = rest.len() - trimmed.len();
    for (word, scale) in [
        ("thousand", 1e3),
        ("million", 1e6),
        ("billion", 1e9),
        ("bn", 1e9),
        ("mm", 1e6),
        ("k", 1e3),
        ("m", 1e6),
        ("b", 1e9),
    ] {
        if let Some(after) = trimmed.strip_prefix(word) {
            let single = word.len() <= 2;
            // A letter scale sits right after the digits; a word may follow a space.
            if (single && skipped > 0) || after.chars().next().is_some_and(char::is_alphabetic) {
                continue;
            }
            return (scale, skipped + word.len());
        }
    }
    (1.0, 0)
}

/// A percent or points mark after a number, with the bytes it took.
fn mark_of(rest: &str) -> (Option<Written>, usize) {
    let trimmed = rest.trim_start_matches(' ');
    let skipped = rest.len() - trimmed.len();
    if trimmed.starts_with('%') && skipped == 0 {
        return (Some(Written::Percent), 1);
    }
    for (word, w) in [
        ("percentage points", Written::Points),
        ("percentage point", Written::Points),
        ("pp", Written::Points),
        ("percent", Written::Percent),
        ("per cent", Written::Percent),
    ] {
        if let Some(after) = trimmed.strip_prefix(word)
            && !after.chars().next().is_some_and(char::is_alphabetic)
        {
            return (Some(w), skipped + word.len());
        }
    }
    (None, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Priority;

    fn money(value: f64, display: &str) -> Fact {
        Fact::number("m", Priority::Critical, value, display.into(), String::new())
    }

    fn one(text: &str) -> WrittenFigure {
        let f = figures(text);
        assert_eq!(f.len(), 1, "{text}: {f:?}");
        f.into_iter().next().unwrap()
    }

    #[test]
    fn numbers_are_read_as_written() {
        let f = one("profit of $258,663 overall");
        assert_eq!((f.value, f.written, f.tolerance), (258663.0, Written::Money, 0.5));
        let f = one("$258.7K");
        assert_eq!((f.value, f.written), (258700.0, Written::Money));
        assert!((f.tolerance - 50.0).abs() < 1e-9);
        assert_eq!(one("$0.26M").value, 260000.0);
        assert_eq!(one("3.27 million units").value, 3_270_000.0);
        assert_eq!(one("62.0%").written, Written::Percent);
        assert_eq!(one("62 percent").written, Written::Percent);
        assert_eq!(one("4.1 percentage points").written, Written::Points);
        assert_eq!(one("−$3,649").value, -3649.0);
        assert_eq!(one("($3,649)").value, -3649.0);
        assert_eq!(one("$-3,649").value, -3649.0);
        assert_eq!(one("15,000 rows").written, Written::Plain);
        assert_eq!(one("1,234.5 dollars").written, Written::Money);
        assert!(figures("from 2023-01-01 to 2024-12-31").is_empty());
        assert_eq!(figures("Q1 2024").len(), 1, "a year is a number; Q1 is a label");
        assert_eq!(figures("1, 2 and 3").len(), 3);
    }

    #[test]
    fn money_matches_every_form_and_rounding() {
        let fact = money(258_663.16, "$258,663").about(&["Coca-Cola"]);
        for text in [
            "Coca-Cola made $258,663 in profit.",
            "Coca-Cola: $258.7K",
            "**Coca-Cola** profit was $0.26M",
            "coca-cola earned 258,663 dollars",
            "| Coca-Cola | $258,663 |",
        ] {
            assert!(carries(text, &fact), "{text}");
        }
        for text in [
            "Coca-Cola made $258,600 in profit.",
            "Coca-Cola profit was $0.3M",
            "Coca-Cola earned 258.7%",
        ] {
            assert!(!carries(text, &fact), "{text}");
        }
    }

    #[test]
    fn percents_and_negatives() {
        let margin = Fact::number("p", Priority::Critical, 61.97, "62.0%".into(), String::new()).about(&["Red Bull"]);
        for text in [
            "Red Bull leads at 62.0%",
            "Red Bull: 62%",
            "red bull's margin is 62 percent",
        ] {
            assert!(carries(text, &margin), "{text}");
        }
        assert!(!carries("Red Bull leads at 61%", &margin));
        let loss = money(-3649.2, "-$3,649").about(&["Store 9"]);
        for text in [
            "Store 9 lost $3,649.",
            "Store 9: −$3,649",
            "Store 9 ($3,649)",
            "Store 9 at -$3.6K",
        ] {
            assert!(carries(text, &loss), "{text}");
        }
        assert!(
            !carries("Store 9 made $3,649", &loss),
            "a positive figure is not a loss"
        );
    }

    #[test]
    fn a_name_alone_is_not_the_fact() {
        let fact = Fact::text(
            "top",
            Priority::Critical,
            "Red Bull",
            "Highest-margin brand: Red Bull at 62.0%".into(),
        )
        .with_figure(61.97, Unit::Percent);
        assert!(!carries(
            "Red Bull gets $35,678 of the budget. The margin leader earns 62.0%.",
            &fact
        ));
        assert!(carries("The highest margin is Red Bull's, at 62%.", &fact));
        assert!(carries("| Brand | Margin % |\n|---|---|\n| Red Bull | 62.0 |", &fact));
        assert!(
            carries("- Red Bull\n  - margin: 62.0%", &fact),
            "a nested bullet keeps its parent"
        );
        assert!(!carries("- Red Bull\n- margin: 62.0%", &fact));
    }

    #[test]
    fn a_count_needs_its_subject() {
        let rows = Fact::number("rows", Priority::Critical, 15000.0, "15,000".into(), String::new()).about(&[
            "rows",
            "records",
            "transactions",
        ]);
        assert!(carries("The dataset holds 15,000 sales records.", &rows));
        assert!(carries("15000 rows", &rows));
        assert!(!carries("Revenue was 15,000.", &rows));
        assert!(!carries("There are 15,000% more rows", &rows));
    }

    #[test]
    fn unsupported_figures_are_those_nothing_given_holds() {
        let fact = money(258_663.16, "$258,663");
        let given = "profit=258663; margin_pct=41.9\nbudget 100,000";
        let report = "Profit was $258.7K at a 42% margin. Revenue grew 15% and CAC is $20. \
                      We spend $100,000, i.e. $0.1M.";
        assert_eq!(unsupported(report, given, &[&fact]), ["15%", "$20"]);
        assert!(unsupported("A loss of $3,649", "bottom_profit=-3649.2", &[]).is_empty());
        assert_eq!(
            unsupported("Costs were $41.90.", "margin 41.9%", &[]),
            ["$41.90"],
            "a percent does not support a dollar figure"
        );
    }
}
