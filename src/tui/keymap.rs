//! Key bindings: defaults, overridable from the config's `[keys]` table
//! (`"ctrl-r" = "rerun_step"`), and the help text generated from them.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::Action;

/// The default bindings, in the order help lists them: each user action's `keys`, in the
/// order the actions are declared (internal messages cannot be named, so have none).
fn default_bindings() -> impl Iterator<Item = (String, String)> {
    <Action as strum::VariantNames>::VARIANTS.iter().flat_map(|name| {
        let keys: Vec<&str> = parse_action(name)
            .map(|a| a.default_keys().collect())
            .unwrap_or_default();
        keys.into_iter().map(|k| (k.to_string(), name.to_string()))
    })
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(KeyEvent, String, Action)>,
}

fn parse_action(name: &str) -> Result<Action, String> {
    serde_json::from_value::<Action>(serde_json::Value::String(name.to_string()))
        .map_err(|_| format!("unknown action `{name}`"))
}

/// Parses `"ctrl-r"`, `"G"`, `"enter"`, `"f5"`…
pub fn parse_key(text: &str) -> Result<KeyEvent, String> {
    let mut modifiers = KeyModifiers::NONE;
    let mut rest = text;
    loop {
        if let Some(r) = rest.strip_prefix("ctrl-") {
            modifiers |= KeyModifiers::CONTROL;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("alt-") {
            modifiers |= KeyModifiers::ALT;
            rest = r;
        } else {
            break;
        }
    }
    let code = match rest {
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" | "shift-tab" => KeyCode::BackTab,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "backspace" => KeyCode::Backspace,
        "space" => KeyCode::Char(' '),
        f if f.starts_with('f') && f.len() > 1 && f[1..].parse::<u8>().is_ok() => {
            KeyCode::F(f[1..].parse().expect("checked"))
        }
        c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().expect("one char")),
        _ => return Err(format!("unknown key `{text}`")),
    };
    Ok(KeyEvent::new(code, modifiers))
}

/// Normalises what terminals send: shifted letters come as uppercase with SHIFT.
fn normalise(key: KeyEvent) -> KeyEvent {
    let mut modifiers = key.modifiers - KeyModifiers::SHIFT;
    if let KeyCode::Char(c) = key.code {
        if !c.is_ascii_alphabetic() && key.modifiers.contains(KeyModifiers::SHIFT) {
            modifiers -= KeyModifiers::SHIFT;
        }
    }
    if key.code == KeyCode::BackTab {
        modifiers -= KeyModifiers::SHIFT;
    }
    KeyEvent::new(key.code, modifiers)
}

impl Keymap {
    /// The defaults with `overrides` (key → action name) applied.
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<Keymap, String> {
        let mut bindings: Vec<(KeyEvent, String, Action)> = Vec::new();
        for (key, action) in default_bindings().chain(overrides.iter().map(|(k, a)| (k.clone(), a.clone()))) {
            let event = parse_key(&key).map_err(|e| format!("[keys] {e}"))?;
            let action = parse_action(&action).map_err(|e| format!("[keys] \"{key}\": {e}"))?;
            bindings.retain(|(e, _, _)| *e != event);
            bindings.push((event, key, action));
        }
        Ok(Keymap { bindings })
    }

    pub fn action(&self, key: KeyEvent) -> Option<Action> {
        let key = normalise(key);
        self.bindings
            .iter()
            .find(|(e, _, _)| *e == key)
            .map(|(_, _, a)| a.clone())
    }

    /// The keys bound to an action, for hints: `"r"`, `"+/="`.
    pub fn keys_for(&self, action: &Action) -> String {
        let keys: Vec<&str> = self
            .bindings
            .iter()
            .filter(|(_, _, a)| a == action)
            .map(|(_, k, _)| k.as_str())
            .collect();
        keys.join("/")
    }

    /// The first key bound to an action, for the footer's short hints (`/` itself is a key,
    /// so it cannot be found by splitting [`keys_for`](Self::keys_for)).
    pub fn first_key_for(&self, action: &Action) -> Option<&str> {
        self.bindings
            .iter()
            .find(|(_, _, a)| a == action)
            .map(|(_, k, _)| k.as_str())
    }

    /// Help lines generated from the live bindings: keys, then what they do.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        let mut seen: Vec<&Action> = Vec::new();
        let mut lines = vec![("ctrl-c".to_string(), "quit, always")];
        for (_, _, action) in &self.bindings {
            if !seen.contains(&action) {
                seen.push(action);
                lines.push((self.keys_for(action), action.describe()));
            }
        }
        lines.push(("mouse".into(), "click selects a pane, node or row; wheel scrolls"));
        lines
    }

    /// The help as a Markdown table, for the guide (`tests/tui/docs.rs` keeps the guide's
    /// copy equal to the defaults').
    pub fn key_table(&self) -> String {
        let mut out = String::from("| keys | what it does |\n|---|---|\n");
        for (keys, what) in self.help() {
            let keys: Vec<String> = keys
                .split('/')
                .filter(|k| !k.is_empty())
                .map(|k| format!("`{k}`"))
                .collect();
            // `/` itself is a key: it splits into nothing.
            let keys = if keys.is_empty() {
                "`/`".to_string()
            } else {
                keys.join(" ")
            };
            out.push_str(&format!("| {keys} | {} |\n", what.replace('|', "\\|")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let mut over = BTreeMap::new();
        over.insert("ctrl-r".to_string(), "rerun_step".to_string());
        over.insert("q".to_string(), "help".to_string());
        let k = Keymap::new(&over).unwrap();
        assert_eq!(
            k.action(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)),
            Some(Action::RerunStep)
        );
        assert_eq!(
            k.action(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Help)
        );
        assert_eq!(
            k.action(KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT)),
            Some(Action::RerunAll)
        );
        assert_eq!(
            k.action(KeyEvent::new(KeyCode::Char('+'), KeyModifiers::SHIFT)),
            Some(Action::BudgetUp)
        );
        assert_eq!(
            k.action(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
        assert_eq!(k.keys_for(&Action::RerunStep), "r/ctrl-r");
    }

    #[test]
    fn bad_bindings_are_named() {
        let mut over = BTreeMap::new();
        over.insert("ctrl-r".to_string(), "explode".to_string());
        assert_eq!(
            Keymap::new(&over).unwrap_err(),
            "[keys] \"ctrl-r\": unknown action `explode`"
        );
        let mut over = BTreeMap::new();
        over.insert("hyper-x".to_string(), "quit".to_string());
        assert_eq!(Keymap::new(&over).unwrap_err(), "[keys] unknown key `hyper-x`");
    }

    #[test]
    fn help_lists_every_bound_action_once() {
        let k = Keymap::new(&BTreeMap::new()).unwrap();
        let help = k.help();
        assert!(
            help.iter()
                .any(|(keys, what)| keys == "r" && *what == "rerun the step and its downstream steps")
        );
        assert!(help.iter().any(|(keys, _)| keys == "up/k/left/h"));
    }
}
