//! The command line in its ecosystem: shell completions and the man page, generated from
//! the same definitions the parser uses.

use crate::common::*;

#[test]
fn completions_cover_every_shell_and_subcommand() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(home.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        for word in ["run", "gen-data", "completions", "flow", "column", "date-format"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let out = run(home.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("possible values: bash, elvish, fish, powershell, zsh"));
}

/// bash itself accepts the script, and completing `mrflow-tui r` offers `run`.
#[test]
fn the_bash_script_completes_subcommands() {
    let home = tempfile::tempdir().unwrap();
    let script = home.path().join("mrflow-tui.bash");
    std::fs::write(&script, stdout(&run(home.path(), &["completions", "bash"]))).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(mrflow-tui r); COMP_CWORD=1; _mrflow__tui mrflow-tui r mrflow-tui; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let Ok(out) = std::process::Command::new("bash").args(["-c", &probe]).output() else {
        eprintln!("no bash on this machine; skipped");
        return;
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let offered = String::from_utf8_lossy(&out.stdout);
    assert!(offered.lines().any(|l| l == "run"), "{offered}");
}

#[test]
fn the_man_page_is_roff_with_every_subcommand() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.contains(".TH mrflow-tui 1"), "{}", &page[..page.len().min(300)]);
    assert!(page.contains(".SH SUBCOMMANDS"));
    for sub in ["run", "data", "completions", "man"] {
        assert!(
            page.contains(&format!("mrflow\\-tui\\-{}", sub.replace('-', "\\-"))),
            "{sub}"
        );
    }
}
