//! What a check concludes, and the options that bound it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::counterexample::Counterexample;
use crate::history::HistoryError;
use crate::model::ModelError;
use crate::set_full::SetReport;

/// The verdict, with Jepsen's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// The checker ran out of time or memory, or the run was incomplete.
    Unknown,
    /// An anomaly was found.
    Invalid,
}

impl Verdict {
    /// Exit code: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Valid => 0,
            Verdict::Invalid => 1,
            Verdict::Unknown => 2,
        }
    }

    /// The worse of two verdicts (invalid > unknown > valid).
    pub fn worst(self, other: Verdict) -> Verdict {
        self.max(other)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        })
    }
}

/// Bounds and switches of a check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Wall-clock budget; past it the verdict is `unknown`. None: no limit.
    pub timeout: Option<Duration>,
    /// Memory the search caches of all keys checked at once may use.
    pub memory_bytes: usize,
    /// Stop checking other keys at the first invalid one.
    pub stop_at_first: bool,
    /// Explain an invalid verdict with a counterexample.
    pub counterexample: bool,
    /// Use the search's exact prunings (off only to measure the classic
    /// search as a baseline).
    pub prune: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            timeout: Some(Duration::from_secs(60)),
            memory_bytes: 4 << 30,
            stop_at_first: true,
            counterexample: true,
            prune: true,
        }
    }
}

/// A history the checker could not interpret.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Invocations and completions do not pair up.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// An operation does not fit the model.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Everything one check found, as written to `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The verdict.
    pub verdict: Verdict,
    /// The model checked against.
    pub model: String,
    /// Client operations in the history.
    pub operations: usize,
    /// Independent keys checked.
    pub keys: usize,
    /// Keys found invalid (several only when not stopping at the first).
    pub invalid_keys: Vec<String>,
    /// Keys left undecided (time, memory, or cancelled after another failed).
    pub unknown_keys: Vec<String>,
    /// Why the verdict is unknown, when it is.
    pub reason: Option<String>,
    /// For a linearizability failure: where and why.
    pub counterexample: Option<Counterexample>,
    /// For the set model: the analysis of each key.
    pub set: Vec<SetReport>,
    /// Time (ns since the test started) of the completion of the first
    /// operation that cannot be linearized, or of the first read showing a
    /// lost, stale or unexpected element.
    pub detected_at_time: Option<u64>,
    /// History index of that completion.
    pub detected_at_index: Option<u64>,
    /// Search steps over all keys.
    pub steps: u64,
    /// Configurations the search explored over all keys.
    pub configurations: u64,
    /// Times a cache was cleared to stay within the memory budget.
    pub cache_resets: u32,
    /// Wall-clock time of the check, milliseconds.
    pub elapsed_ms: f64,
}

/// A key's name for messages: the key itself, or `(single register)`.
pub fn key_name(key: &Option<String>) -> String {
    key.clone()
        .unwrap_or_else(|| "(single register)".to_string())
}

impl CheckResult {
    /// A few readable lines for the terminal.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{}: {} operations over {} key{}, model {}, {:.1} ms",
            self.verdict,
            self.operations,
            self.keys,
            if self.keys == 1 { "" } else { "s" },
            self.model,
            self.elapsed_ms
        );
        if let Some(reason) = &self.reason {
            out.push_str(&format!("\n  {reason}"));
        }
        if let Some(c) = &self.counterexample {
            for line in c.render_lines() {
                out.push_str("\n  ");
                out.push_str(&line);
            }
        } else if !self.invalid_keys.is_empty() {
            out.push_str(&format!(
                "\n  invalid keys: {}",
                self.invalid_keys.join(", ")
            ));
        }
        for s in self.set.iter().filter(|s| !s.is_valid()) {
            out.push_str(&format!(
                "\n  key {}: {} lost, {} stale, {} unexpected of {} attempted ({} acknowledged, {} never read)",
                key_name(&s.key),
                s.lost_count,
                s.stale_count,
                s.unexpected_count,
                s.attempted,
                s.acknowledged,
                s.never_read_count
            ));
            for (what, items) in [
                ("lost", &s.lost),
                ("stale", &s.stale),
                ("unexpected", &s.unexpected),
            ] {
                if !items.is_empty() {
                    let shown: Vec<String> = items.iter().take(10).map(|v| v.to_string()).collect();
                    out.push_str(&format!("\n    {what}: {}", shown.join(" ")));
                }
            }
        }
        out
    }
}
