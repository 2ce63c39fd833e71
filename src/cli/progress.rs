//! `run`'s progress on stderr: bytes read and parsed while a large file loads, then steps
//! done. Shown only when stderr is a terminal, the output is not JSON, and the wait has
//! lasted past a second (`MRFLOW_PROGRESS_AFTER_MS` changes that, for tests); cleared when
//! done, so nothing of it stays in the terminal's scrollback or reaches a pipe.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mrflow::data::{LoadProgress, Stage};
use mrflow::engine::EngineHandle;

/// A bar drawn by a thread of its own until [`Progress::finish`].
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn delay() -> Duration {
    let ms = std::env::var("MRFLOW_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

/// Whether progress may be drawn at all: stderr is a terminal and the output is for people.
pub fn wanted(json: bool) -> bool {
    !json && std::io::stderr().is_terminal()
}

impl Progress {
    /// Bytes read, then parsing, of the load `progress` reports.
    pub fn load(progress: Arc<LoadProgress>) -> Progress {
        Progress::spawn(move |bar| {
            let (read, total, stage) = progress.snapshot();
            match stage {
                Stage::Reading | Stage::Batches => {
                    bar.set_length(total);
                    bar.set_position(read);
                    bar.set_message(if stage == Stage::Reading { "reading" } else { "parsing" });
                    true
                }
                Stage::Parsing => {
                    bar.set_position(total);
                    bar.set_message("parsing");
                    true
                }
                // The server sums; how long it takes, only it knows.
                Stage::Querying => {
                    bar.set_length(0);
                    bar.set_message("querying");
                    true
                }
                Stage::Done => false,
            }
        })
    }

    /// Steps done of all, while the engine runs.
    pub fn steps(handle: EngineHandle) -> Progress {
        Progress::spawn(move |bar| {
            let snapshot = handle.snapshot();
            let done = snapshot.steps.iter().filter(|s| s.status.is_terminal()).count();
            bar.set_length(snapshot.steps.len() as u64);
            bar.set_position(done as u64);
            bar.set_message("steps");
            true
        })
    }

    /// Polls `update` every 100 ms (false: nothing more to show) once the delay has passed.
    fn spawn(mut update: impl FnMut(&ProgressBar) -> bool + Send + 'static) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let wait = delay();
            while started.elapsed() < wait {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{msg:>8} [{bar:30}] {percent:>3}% {elapsed}")
                    .expect("a valid template")
                    .progress_chars("█▌ "),
            );
            while !flag.load(Ordering::Relaxed) && update(&bar) {
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        Progress {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops drawing and clears the bar.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
