//! The real binary in a pseudo-terminal: its screen read through a VT100 parser, keys typed
//! as a person would, and the terminal checked after it exits.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

struct Session {
    parser: vt100::Parser,
    raw: Vec<u8>,
    output: mpsc::Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _home: tempfile::TempDir,
}

impl Session {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Session {
        Session::start_in(tempfile::tempdir().unwrap(), args, env)
    }

    /// Starts in `home`'s config, cache and data directories (kept from an earlier session).
    fn start_in(home: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Session {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows: 40,
                cols: 140,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_mrflow-tui"));
        cmd.args(args);
        cmd.cwd(crate::common::repo());
        cmd.env("TERM", "xterm-256color");
        cmd.env("MRFLOW_CONFIG_DIR", home.path().join("config"));
        cmd.env("MRFLOW_CACHE_DIR", home.path().join("cache"));
        cmd.env("MRFLOW_DATA_DIR", home.path().join("data"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let _master = pair.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Session {
            parser: vt100::Parser::new(NonZeroU16::new(40).unwrap(), NonZeroU16::new(140).unwrap(), 0),
            raw: Vec::new(),
            output,
            writer,
            child,
            _home: home,
        }
    }

    fn pump(&mut self, wait: Duration) {
        if let Ok(bytes) = self.output.recv_timeout(wait) {
            self.feed(&bytes);
        }
        while let Ok(bytes) = self.output.try_recv() {
            self.feed(&bytes);
        }
    }

    /// Feeds output to the screen, answering cursor-position queries as a terminal does.
    fn feed(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
        self.raw.extend_from_slice(bytes);
        let queries = bytes.windows(4).filter(|w| w == b"\x1b[6n").count();
        for _ in 0..queries {
            let (row, col) = self.parser.screen().cursor_position();
            let answer = format!("\x1b[{};{}R", row + 1, col + 1);
            self.writer.write_all(answer.as_bytes()).unwrap();
            self.writer.flush().unwrap();
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    fn wait_for(&mut self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.screen().contains(what) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what:?}; screen:\n{}",
                self.screen()
            );
            self.pump(Duration::from_millis(50));
        }
    }

    /// Waits until the screen has stopped changing, as a person waits to see it.
    fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let before = self.raw.len();
            self.pump(Duration::from_millis(150));
            if self.raw.len() == before || Instant::now() > deadline {
                return;
            }
        }
    }

    fn press(&mut self, keys: &str) {
        self.settle();
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for the process to end, collecting what it printed last.
    fn exit_code(&mut self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump(Duration::from_millis(50));
            if let Some(status) = self.child.try_wait().unwrap() {
                self.pump(Duration::from_millis(200));
                return status.exit_code();
            }
            assert!(Instant::now() < deadline, "did not exit; screen:\n{}", self.screen());
        }
    }

    fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// What a restored terminal has been sent, in this order at the end: mouse capture off,
/// the alternate screen left, the cursor shown.
fn assert_restored(raw: &str) {
    let last_enter = raw.rfind("\x1b[?1049h").expect("entered the alternate screen");
    let leave = raw.rfind("\x1b[?1049l").expect("left the alternate screen");
    assert!(leave > last_enter);
    assert!(
        raw[leave..].contains("\x1b[?25h") || raw[..leave].rfind("\x1b[?25h").is_some_and(|p| p > last_enter),
        "cursor shown"
    );
    assert!(
        raw.rfind("\x1b[?1000l").is_some_and(|p| p > last_enter),
        "mouse capture off"
    );
}

#[test]
fn runs_tunes_reruns_and_quits_cleanly() {
    let mut s = Session::start(&[], &[]);
    // The run starts by itself and the ledger arrives when it completes.
    s.wait_for("completed");
    // The ledger arrives once the run is measured against the baseline.
    s.wait_for("% tokens (");
    s.wait_for("roi_analysis");
    s.wait_for("generate_report");

    // Enter on a step shows its answer; 5 shows the report; back to the flow with 1.
    s.press("\r");
    s.wait_for("load_data · ↑↓ scroll");
    s.wait_for("Answer");
    s.wait_for("prompt 252 of budget 300");
    s.press("\x1b");
    s.press("5");
    s.wait_for("critical facts reached the report");
    s.wait_for("Key findings");
    s.press("1");
    s.wait_for("1 Flow");

    // Raise load_data's budget: the what-if shows before any rerun.
    s.press("+");
    s.wait_for("what-if");
    s.wait_for("budget 350");

    // Rerun it: tools come from the memo and the run completes again.
    s.press("r");
    s.wait_for("run 2 completed");
    assert!(!s.screen().contains("what-if"), "{}", s.screen());

    // Both runs are kept; c compares the earlier one with the latest.
    s.press("H");
    s.wait_for("Runs · 2 kept");
    s.press("c");
    s.wait_for("prompt tokens 1501 → 1501 (+0)");
    s.wait_for("budget 300 → 350");
    // Page down to the report comparison.
    s.press("\x1b[6~");
    s.wait_for("The reports are the same.");
    s.press("\x1b");

    // Save the tuned flow and export the run.
    s.press("w");
    s.wait_for("saved the tuned flow");
    let saved = s._home.path().join("config/flows/roi_analysis.toml");
    let flow = mrflow::flow::Flow::resolve(saved.to_str().unwrap()).unwrap();
    assert_eq!(flow.steps()[0].budget, 350);
    s.press("e");
    s.wait_for("exported roi_analysis-20");
    let exports: Vec<_> = std::fs::read_dir(s._home.path().join("data/exports"))
        .unwrap()
        .collect();
    assert_eq!(exports.len(), 2);
    // Named by when, readably: roi_analysis-2026-12-06T19-10-45.md
    for e in &exports {
        let name = e.as_ref().unwrap().file_name().to_string_lossy().into_owned();
        let stamp = name.trim_start_matches("roi_analysis-");
        assert!(
            stamp.len() == "2026-12-06T19-10-45.md".len() || stamp.len() == "2026-12-06T19-10-45.json".len(),
            "{name}"
        );
        assert_eq!(&stamp[4..5], "-", "{name}");
        assert_eq!(&stamp[10..11], "T", "{name}");
    }
    #[cfg(unix)]
    for e in &exports {
        use std::os::unix::fs::PermissionsExt;
        let mode = e.as_ref().unwrap().metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "exports hold business figures");
    }

    s.press("?");
    s.wait_for("Help");
    s.press("\x1b");
    s.settle();
    assert!(!s.screen().contains("Help · Esc closes"), "{}", s.screen());
    s.press("q");
    assert_eq!(s.exit_code(), 0);
    assert_restored(&s.raw_text());
}

#[test]
fn a_panic_restores_the_terminal_and_prints_a_readable_message() {
    let mut s = Session::start(&["--no-autorun"], &[("MRFLOW_TUI_TEST_PANIC", "1")]);
    let code = s.exit_code();
    assert_ne!(code, 0);
    let raw = s.raw_text();
    assert_restored(&raw);
    let message = raw
        .find("internal error: test panic requested by MRFLOW_TUI_TEST_PANIC")
        .expect("message printed");
    let entered = raw.rfind("\x1b[?1049h").unwrap();
    let left = entered + raw[entered..].find("\x1b[?1049l").unwrap();
    assert!(message > left, "the message comes after leaving the alternate screen");
    // Back on the main screen, the message is what a person sees.
    assert!(
        s.screen().contains("internal error: test panic requested"),
        "{}",
        s.screen()
    );
}

#[test]
fn bad_data_shows_an_error_panel_not_a_crash() {
    let mut s = Session::start(&["--data", "Cargo.toml"], &[]);
    s.wait_for("Cannot load the data");
    assert!(s.screen().contains("Cargo.toml"), "{}", s.screen());
    s.press("q");
    assert_eq!(s.exit_code(), 0);
}

/// Runs made in the TUI count in `cache stats` as headless ones do, and a cache file found
/// damaged on the next launch is said in the status line (headless says it on stderr).
#[test]
fn tui_runs_are_counted_and_cache_warnings_reach_the_status_line() {
    let mut s = Session::start(&[], &[]);
    s.wait_for("% tokens (");
    s.press("q");
    assert_eq!(s.exit_code(), 0);
    let home = std::mem::replace(&mut s._home, tempfile::tempdir().unwrap());
    let stats = crate::common::run(home.path(), &["cache", "stats", "--json"]);
    let stats = crate::common::json(&stats);
    assert_eq!(stats["totals"]["runs"], 1, "{stats}");

    // Damage every stored result; the next launch reports it and recomputes.
    for f in std::fs::read_dir(home.path().join("cache/v1/results")).unwrap() {
        let f = f.unwrap().path();
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..bytes.len() / 3]).unwrap();
    }
    let mut s = Session::start_in(home, &[], &[]);
    // The file's path and "is corrupt" follow, as far as the footer's width allows.
    s.wait_for("warning: cache: ");
    s.press("q");
    assert_eq!(s.exit_code(), 0);
}

/// `run` in a terminal shows progress on stderr while it loads and runs, then clears it;
/// piped, or with JSON output, it never does.
#[test]
fn run_shows_progress_in_a_terminal_and_never_when_piped() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("sales.csv");
    let made = crate::common::run(
        home.path(),
        &[
            "gen-data",
            "--rows",
            "200000",
            "--seed",
            "3",
            "--out",
            data.to_str().unwrap(),
        ],
    );
    assert!(made.status.success());
    let env = [("MRFLOW_PROGRESS_AFTER_MS", "0")];
    let mut s = Session::start(&["run", "--no-cache", "--data", data.to_str().unwrap()], &env);
    assert_eq!(s.exit_code(), 0);
    let raw = s.raw_text();
    assert!(raw.contains("steps ["), "{raw}");
    assert!(raw.contains("% "), "{raw}");

    let piped = crate::common::mrflow(home.path())
        .env("MRFLOW_PROGRESS_AFTER_MS", "0")
        .args(["run", "--no-cache", "--data", data.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(piped.status.success());
    let err = crate::common::stderr(&piped);
    assert!(
        !err.contains("steps [") && !err.contains("parsing ["),
        "no progress when piped: {err}"
    );

    let mut s = Session::start(
        &[
            "run",
            "--no-cache",
            "--format",
            "json",
            "--data",
            data.to_str().unwrap(),
        ],
        &env,
    );
    assert_eq!(s.exit_code(), 0);
    assert!(!s.raw_text().contains("steps ["), "no progress beside JSON");
}

/// A file a brand flow cannot run on (no brand) opens the data popup on the problem; the
/// analyst maps a column there, the data loads again under the mapping and the flow runs
/// to its report; `w` then saves the mapping with the flow.
#[test]
fn a_mapping_fixed_in_the_data_popup_runs_the_flow() {
    let data = crate::common::repo().join("tests/fixtures/byod/retail_export.csv");
    let mut s = Session::start(&["--flow", "brand_performance", "--data", data.to_str().unwrap()], &[]);
    s.wait_for("cannot run on this file");
    s.wait_for("Map a column");
    // Choose Sub-Category, open its roles: brand is the first.
    for _ in 0..40 {
        s.settle();
        if s.screen().contains("> Sub-Category") {
            break;
        }
        s.press("\x1b[B");
    }
    s.wait_for("> Sub-Category");
    s.press("\r");
    s.wait_for("Read `Sub-Category` as");
    s.wait_for("> brand");
    s.press("\r");
    // The data loads again under the mapping, and the flow runs to its report.
    s.wait_for("completed");
    s.wait_for("facts ");
    s.press("w");
    s.wait_for("saved the tuned flow");
    let saved = s._home.path().join("config/flows/brand_performance.toml");
    let flow = mrflow::flow::Flow::resolve(saved.to_str().unwrap()).unwrap();
    assert_eq!(
        flow.def.data.columns.get("brand").map(String::as_str),
        Some("Sub-Category")
    );
    s.press("q");
    assert_eq!(s.exit_code(), 0);
}
