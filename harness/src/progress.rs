//! The progress line while a run goes: elapsed time, ops/s, ok / fail / info
//! counts and the faults now active. On a terminal it is an indicatif line
//! redrawn in place; otherwise (CI logs) a plain line every few seconds.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::Counters;

/// Time between plain lines when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// The one-line progress display on stderr (hidden when not a terminal).
pub struct Progress {
    bar: Option<ProgressBar>,
    last_plain: Instant,
    last_total: u64,
    last_at: Instant,
    rate: f64,
}

impl Progress {
    /// A progress display on stderr.
    pub fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar
        });
        Progress {
            bar,
            last_plain: Instant::now(),
            last_total: 0,
            last_at: Instant::now(),
            rate: 0.0,
        }
    }

    /// Redraws with the current numbers.
    pub fn update(
        &mut self,
        phase: &str,
        elapsed: Duration,
        counters: &Counters,
        active: &[String],
    ) {
        let total = counters.total();
        let now = Instant::now();
        let dt = now.duration_since(self.last_at).as_secs_f64();
        if dt >= 1.0 {
            self.rate = (total - self.last_total) as f64 / dt;
            self.last_total = total;
            self.last_at = now;
        }
        let faults = if active.is_empty() {
            "none".to_string()
        } else {
            active.join(", ")
        };
        let line = format!(
            "{phase} {:>5.1}s  {:>6.0} ops/s  ok {}  fail {}  info {}  faults: {faults}",
            elapsed.as_secs_f64(),
            self.rate,
            counters.ok.load(Ordering::Relaxed),
            counters.fail.load(Ordering::Relaxed),
            counters.info.load(Ordering::Relaxed),
        );
        match &self.bar {
            Some(bar) => {
                bar.set_message(line);
                bar.tick();
            }
            None => {
                if now.duration_since(self.last_plain) >= PLAIN_EVERY {
                    self.last_plain = now;
                    eprintln!("{line}");
                }
            }
        }
    }

    /// Removes the line (the summary follows).
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Prints a line above the progress line.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}
