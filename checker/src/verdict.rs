//! What a check concludes, and the options that bound it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::counterexample::Counterexample;
use crate::history::HistoryError;
use crate::model::ModelError;

/// The verdict, with Jepsen's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check passed: no anomaly in the history.
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

/// The default memory bound of a check: 512 MiB. Measured on the
/// generated crash-heavy families (`cargo bench -p faultline-checker --bench
/// families` with `FAULTLINE_FAMILY_SWEEP=1`, docs/performance.md): no case
/// got faster beyond 128 MiB, and the old 4 GiB default only let caches
/// grow (up to 10 GB of RSS before it was enforced) without a speed-up;
/// 512 MiB leaves four times that headroom.
pub const DEFAULT_MEMORY_BYTES: usize = 512 << 20;

/// Bounds and switches of a check.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Wall-clock budget; past it the verdict is `unknown`. None: no limit.
    pub timeout: Option<Duration>,
    /// Memory all searches of a check may hold together (caches, their
    /// stored sets, per-operation arrays and stacks); a cache that cannot
    /// grow is cleared, which keeps the answer exact. The history itself is
    /// not counted. See [`DEFAULT_MEMORY_BYTES`].
    pub memory_bytes: usize,
    /// Stop checking other keys at the first invalid one.
    pub stop_at_first: bool,
    /// Explain an invalid verdict with a counterexample.
    pub counterexample: bool,
    /// Use the search's exact prunings (off only to measure the classic
    /// search as a baseline).
    pub prune: bool,
    /// The consistency models a transactional check holds the history to
    /// (Elle's names); empty: `strict-serializable`.
    pub consistency_models: Vec<String>,
    /// Further anomalies a transactional check counts as failures.
    pub anomalies: Vec<String>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            timeout: Some(Duration::from_secs(60)),
            memory_bytes: DEFAULT_MEMORY_BYTES,
            stop_at_first: true,
            counterexample: true,
            prune: true,
            consistency_models: Vec::new(),
            anomalies: Vec::new(),
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

/// Everything one check found, as written to `results.json` and read back
/// (a field missing from an older file takes its default).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    /// Invalid, unknown (out of time or memory) or valid.
    pub verdict: Verdict,
    /// The model checked against.
    #[serde(default)]
    pub model: String,
    /// Client operations in the history.
    #[serde(default)]
    pub operations: usize,
    /// Independent keys checked (each one on its own: P-compositionality).
    #[serde(default)]
    pub keys: usize,
    /// Keys found invalid (several only when not stopping at the first).
    #[serde(default)]
    pub invalid_keys: Vec<String>,
    /// Keys left undecided (time, memory, or cancelled after another failed).
    #[serde(default)]
    pub unknown_keys: Vec<String>,
    /// Why the verdict is unknown, when it is.
    #[serde(default)]
    pub reason: Option<String>,
    /// For a linearizability failure: where and why.
    #[serde(default)]
    pub counterexample: Option<Counterexample>,
    /// Time (ns since the test started) of the completion of the first
    /// operation that cannot be linearized.
    #[serde(default)]
    pub detected_at_time: Option<u64>,
    /// History index of that completion.
    #[serde(default)]
    pub detected_at_index: Option<u64>,
    /// Search steps over all keys.
    #[serde(default)]
    pub steps: u64,
    /// Configurations the search explored over all keys.
    #[serde(default)]
    pub configurations: u64,
    /// Times a cache was cleared to stay within the memory budget.
    #[serde(default)]
    pub cache_resets: u32,
    /// Wall-clock time of the check, milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
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
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Event, EventType, Process};
    use crate::model::ModelKind;
    use serde_json::{json, Value};

    fn ev(index: u64, p: u64, kind: EventType, f: &str, value: Value) -> Event {
        Event {
            index,
            time: index * 1000,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    #[test]
    fn a_result_read_back_renders_the_same_lines() {
        use EventType::*;
        let events = vec![
            ev(0, 0, Invoke, "write", json!(1)),
            ev(1, 0, Ok, "write", json!(1)),
            ev(2, 1, Invoke, "read", Value::Null),
            ev(3, 1, Ok, "read", json!(2)),
        ];
        let result =
            crate::check_events(&events, ModelKind::Register, &CheckOptions::default()).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid);
        let back: CheckResult =
            serde_json::from_value(serde_json::to_value(&result).unwrap()).unwrap();
        assert_eq!(back.render_text(), result.render_text());
        assert_eq!(back.counterexample, result.counterexample);
    }

    #[test]
    fn fields_missing_from_an_older_file_take_their_defaults() {
        let back: CheckResult = serde_json::from_value(json!({"verdict": "valid"})).unwrap();
        assert_eq!(back.verdict, Verdict::Valid);
        assert!(back.counterexample.is_none() && back.invalid_keys.is_empty());
        assert!(serde_json::from_value::<CheckResult>(json!({"verdict": "maybe"})).is_err());
    }
}
