//! Markdown for the terminal: the report and step answers as styled lines. A real model
//! writes any CommonMark, so pulldown-cmark parses it; this module only decides how each
//! element looks: headings bold, bullets `•`, emphasis, code, rules, and tables aligned in
//! columns. Given strings (fact values) are highlighted wherever they occur.

use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::theme::Theme;

/// `markdown` as lines, with every occurrence of a `highlights` string in `highlight` style.
pub fn render(markdown: &str, highlights: &[String], theme: &Theme) -> Vec<Line<'static>> {
    let mut r = Renderer {
        lines: Vec::new(),
        current: Vec::new(),
        styles: vec![Style::new()],
        lists: Vec::new(),
        quote: 0,
        code_block: false,
        table: None,
        highlights,
        theme,
    };
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.flush();
    while r.lines.last().is_some_and(|l| l.spans.is_empty()) {
        r.lines.pop();
    }
    r.lines
}

/// `text` split into spans, the highlighted substrings in `highlight` over `base`.
pub fn highlighted(text: &str, base: Style, highlights: &[String], highlight: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next = highlights
            .iter()
            .filter(|h| !h.is_empty())
            .filter_map(|h| rest.find(h.as_str()).map(|at| (at, h.len())))
            .min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)));
        match next {
            Some((at, len)) => {
                if at > 0 {
                    spans.push(Span::styled(rest[..at].to_string(), base));
                }
                spans.push(Span::styled(rest[at..at + len].to_string(), base.patch(highlight)));
                rest = &rest[at + len..];
            }
            None => {
                spans.push(Span::styled(rest.to_string(), base));
                break;
            }
        }
    }
    spans
}

struct Table {
    alignments: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    /// Rows that belong to the header.
    head: usize,
    in_head: bool,
    cell: String,
}

struct Renderer<'a> {
    lines: Vec<Line<'static>>,
    current: Vec<Span<'static>>,
    styles: Vec<Style>,
    /// Open lists: the next number of an ordered one, `None` for bullets.
    lists: Vec<Option<u64>>,
    quote: usize,
    code_block: bool,
    table: Option<Table>,
    highlights: &'a [String],
    theme: &'a Theme,
}

impl Renderer<'_> {
    fn style(&self) -> Style {
        *self.styles.last().expect("base style")
    }

    fn push_style(&mut self, patch: Style) {
        let style = self.style().patch(patch);
        self.styles.push(style);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    fn text(&mut self, text: &str, style: Style) {
        if let Some(t) = self.table.as_mut() {
            t.cell.push_str(text);
            return;
        }
        if self.current.is_empty() && self.quote > 0 {
            self.current.push(Span::styled("│ ".repeat(self.quote), self.theme.dim));
        }
        let spans = highlighted(text, style, self.highlights, self.theme.highlight);
        self.current.extend(spans);
    }

    fn flush(&mut self) {
        if !self.current.is_empty() {
            self.lines.push(Line::from(std::mem::take(&mut self.current)));
        }
    }

    fn blank(&mut self) {
        self.flush();
        if self.lines.last().is_some_and(|l| !l.spans.is_empty()) {
            self.lines.push(Line::default());
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) if self.code_block => {
                for line in text.lines() {
                    self.text(&format!("  {line}"), self.theme.dim);
                    self.flush();
                }
            }
            Event::Text(text) => {
                let style = self.style();
                self.text(&text, style);
            }
            Event::Code(code) => {
                let style = self.style().patch(self.theme.accent);
                self.text(&code, style);
            }
            Event::SoftBreak => {
                let style = self.style();
                self.text(" ", style);
            }
            Event::HardBreak => self.flush(),
            Event::Rule => {
                self.flush();
                self.lines.push(Line::styled("─".repeat(40), self.theme.dim));
            }
            Event::TaskListMarker(done) => {
                let style = self.style();
                self.text(if done { "[x] " } else { "[ ] " }, style);
            }
            Event::Html(text) | Event::InlineHtml(text) => {
                let style = self.style();
                self.text(&text, style);
            }
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.blank();
                let mut style = self.theme.title;
                if level == HeadingLevel::H1 {
                    style = style.add_modifier(Modifier::UNDERLINED);
                }
                self.push_style(style);
            }
            Tag::Paragraph => {}
            Tag::BlockQuote(_) => {
                self.flush();
                self.quote += 1;
            }
            Tag::CodeBlock(_) => {
                self.flush();
                self.code_block = true;
            }
            Tag::List(first) => {
                self.flush();
                self.lists.push(first);
            }
            Tag::Item => {
                self.flush();
                let depth = self.lists.len().saturating_sub(1);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_string(),
                };
                let indent = "  ".repeat(depth);
                self.text(&format!("{indent}{marker}"), self.theme.accent);
            }
            Tag::Emphasis => self.push_style(Style::new().add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(Style::new().add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.push_style(Style::new().add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { .. } => self.push_style(Style::new().add_modifier(Modifier::UNDERLINED)),
            Tag::Table(alignments) => {
                self.flush();
                self.table = Some(Table {
                    alignments,
                    rows: Vec::new(),
                    head: 0,
                    in_head: false,
                    cell: String::new(),
                });
            }
            Tag::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.in_head = true;
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    t.cell.clear();
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => {
                self.pop_style();
                self.blank();
            }
            TagEnd::Paragraph => {
                self.flush();
                if self.lists.is_empty() {
                    self.blank();
                }
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.quote = self.quote.saturating_sub(1);
                self.blank();
            }
            TagEnd::CodeBlock => {
                self.code_block = false;
                self.blank();
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.blank();
                }
            }
            TagEnd::Item => self.flush(),
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link => self.pop_style(),
            TagEnd::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.in_head = false;
                    t.head = t.rows.len();
                }
            }
            TagEnd::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    let cell = std::mem::take(&mut t.cell).trim().to_string();
                    if let Some(row) = t.rows.last_mut() {
                        row.push(cell);
                    }
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_lines(&t);
                    self.blank();
                }
            }
            _ => {}
        }
    }

    /// The table's columns padded to their widest cell, the header set off by a rule.
    fn table_lines(&mut self, t: &Table) {
        let columns = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        let width = |c: usize| {
            t.rows
                .iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        // Right-aligned as the table says, or when every body cell is a number.
        let right: Vec<bool> = (0..columns)
            .map(|c| match t.alignments.get(c) {
                Some(Alignment::Right) => true,
                Some(Alignment::None) | None => {
                    let mut body = t.rows[t.head..].iter().filter_map(|r| r.get(c)).peekable();
                    body.peek().is_some() && body.all(|cell| looks_numeric(cell))
                }
                _ => false,
            })
            .collect();
        for (i, row) in t.rows.iter().enumerate() {
            let cells: Vec<String> = (0..columns)
                .map(|c| {
                    let cell = row.get(c).map(String::as_str).unwrap_or_default();
                    let pad = widths[c] - cell.chars().count();
                    if right[c] {
                        format!("{}{cell}", " ".repeat(pad))
                    } else {
                        format!("{cell}{}", " ".repeat(pad))
                    }
                })
                .collect();
            let base = if i < t.head { self.theme.title } else { Style::new() };
            let mut spans = Vec::new();
            for (c, cell) in cells.iter().enumerate() {
                if c > 0 {
                    spans.push(Span::styled(" │ ", self.theme.dim));
                }
                spans.extend(highlighted(cell, base, self.highlights, self.theme.highlight));
            }
            self.lines.push(Line::from(spans));
            if i + 1 == t.head {
                let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
                self.lines.push(Line::styled(rule.join("─┼─"), self.theme.dim));
            }
        }
    }
}

fn looks_numeric(cell: &str) -> bool {
    let t = cell.trim_start_matches(['$', '-', '+', '€', '£']);
    !t.is_empty()
        && t.chars().next().is_some_and(|c| c.is_ascii_digit())
        && t.chars().all(|c| c.is_ascii_digit() || ",.%".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn headings_lists_emphasis_and_tables() {
        let md = "# Report\n\nIntro with **bold** and *em* and `code`.\n\n- one\n- two\n  1. nested\n\n\
                  | brand | profit |\n|---|---:|\n| Coca-Cola | $258,663 |\n| Red Bull | $9 |\n";
        let lines = render(md, &[], &Theme::mono());
        assert_eq!(
            text(&lines),
            [
                "Report",
                "",
                "Intro with bold and em and code.",
                "",
                "• one",
                "• two",
                "  1. nested",
                "",
                "brand     │   profit",
                "──────────┼─────────",
                "Coca-Cola │ $258,663",
                "Red Bull  │       $9",
            ]
        );
        let bold = &lines[2].spans[1];
        assert_eq!(bold.content, "bold");
        assert!(bold.style.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn highlights_are_found_in_text_and_table_cells() {
        let theme = Theme::mono();
        let hl = vec!["$258,663".to_string(), "62.0%".to_string()];
        let lines = render(
            "Top brand earns $258,663 at 62.0%.\n\n| a |\n|---|\n| $258,663 |\n",
            &hl,
            &theme,
        );
        let highlighted: Vec<&str> = lines
            .iter()
            .flat_map(|l| l.spans.iter())
            .filter(|s| s.style.add_modifier.contains(Modifier::UNDERLINED))
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(highlighted, ["$258,663", "62.0%", "$258,663"]);
    }

    #[test]
    fn the_longest_highlight_wins_at_the_same_place() {
        let spans = highlighted(
            "Revenue $3,272,396",
            Style::new(),
            &["$3".into(), "$3,272,396".into()],
            Style::new().add_modifier(Modifier::BOLD),
        );
        assert_eq!(spans[1].content, "$3,272,396");
    }
}
