//! `results.json` read back: the checkers' results of a stored run (or of a
//! history checked alone), rebuilt into the checker's own types where the
//! text is rendered (so the report and the terminal say the same lines).
//!
//! The checker's result types are written, not read, by the checker crate;
//! the mirrors here read them and are tolerant: a field missing from an
//! older `results.json` takes its default.

use std::collections::BTreeMap;

use faultline_checker::counterexample::{Counterexample, Linearization};
use faultline_checker::history::Operation;
use faultline_checker::set_full::SetReport;
use faultline_checker::{CheckResult, Verdict};
use serde::Deserialize;
use serde_json::Value;

/// Every checker of a run and the combined verdict, as `results.json` holds them.
#[derive(Debug, Clone)]
pub struct RunResults {
    /// The combined verdict.
    pub verdict: Verdict,
    /// The workload's checker.
    pub workload: WorkloadDoc,
    /// Operation counts (absent for a history checked alone before stats existed).
    pub stats: Option<StatsDoc>,
    /// The node-log scan (absent for a history checked alone).
    pub logs: Option<LogsDoc>,
    /// The model's name.
    pub model: Option<String>,
}

/// The workload's checker.
#[derive(Debug, Clone)]
pub struct WorkloadDoc {
    /// Its verdict.
    pub verdict: Verdict,
    /// What it found, when it could run.
    pub result: Option<CheckResult>,
    /// Why it could not, when it could not.
    pub error: Option<String>,
}

/// Completions of one function.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct CountsDoc {
    /// ok.
    #[serde(default)]
    pub ok: u64,
    /// fail.
    #[serde(default)]
    pub fail: u64,
    /// info.
    #[serde(default)]
    pub info: u64,
}

/// The `stats` checker.
#[derive(Debug, Clone, Deserialize)]
pub struct StatsDoc {
    /// Its verdict.
    pub verdict: Verdict,
    /// All client operations.
    #[serde(default)]
    pub total: CountsDoc,
    /// Per function.
    #[serde(default)]
    pub by_f: BTreeMap<String, CountsDoc>,
}

/// The node-log scan.
#[derive(Debug, Clone, Deserialize)]
pub struct LogsDoc {
    /// Its verdict.
    pub verdict: Verdict,
    /// Panics found in node logs.
    #[serde(default)]
    pub panics: Vec<String>,
    /// Nodes that died on their own.
    #[serde(default)]
    pub crashes: Vec<String>,
}

/// What reading `results.json` can fail on.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Not the shape `results.json` has.
    #[error("not a faultline results document: {0}")]
    Shape(#[from] serde_json::Error),
}

#[derive(Deserialize)]
struct RunDoc {
    verdict: Verdict,
    workload: WorkloadRaw,
    #[serde(default)]
    stats: Option<StatsDoc>,
    #[serde(default)]
    logs: Option<LogsDoc>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct WorkloadRaw {
    verdict: Verdict,
    #[serde(default)]
    result: Option<CheckResultDoc>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct CheckResultDoc {
    verdict: Verdict,
    #[serde(default)]
    model: String,
    #[serde(default)]
    operations: usize,
    #[serde(default)]
    keys: usize,
    #[serde(default)]
    invalid_keys: Vec<String>,
    #[serde(default)]
    unknown_keys: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    counterexample: Option<CounterexampleDoc>,
    #[serde(default)]
    set: Vec<SetReportDoc>,
    #[serde(default)]
    detected_at_time: Option<u64>,
    #[serde(default)]
    detected_at_index: Option<u64>,
    #[serde(default)]
    steps: u64,
    #[serde(default)]
    configurations: u64,
    #[serde(default)]
    cache_resets: u32,
    #[serde(default)]
    elapsed_ms: f64,
}

#[derive(Deserialize)]
struct CounterexampleDoc {
    #[serde(default)]
    key: Option<String>,
    operation: Operation,
    #[serde(default)]
    prefix_end_index: u64,
    #[serde(default)]
    prefix_operations: usize,
    #[serde(default)]
    concurrent: Vec<Operation>,
    #[serde(default)]
    linearized: usize,
    #[serde(default)]
    longest: Vec<LinearizationDoc>,
}

#[derive(Deserialize)]
struct LinearizationDoc {
    #[serde(default)]
    tail: Vec<Operation>,
    #[serde(default)]
    elided: usize,
    #[serde(default)]
    state: Value,
}

#[derive(Deserialize)]
struct SetReportDoc {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    attempted: usize,
    #[serde(default)]
    acknowledged: usize,
    #[serde(default)]
    reads: usize,
    #[serde(default)]
    stable: usize,
    #[serde(default)]
    lost_count: usize,
    #[serde(default)]
    stale_count: usize,
    #[serde(default)]
    never_read_count: usize,
    #[serde(default)]
    unexpected_count: usize,
    #[serde(default)]
    lost: Vec<Value>,
    #[serde(default)]
    stale: Vec<Value>,
    #[serde(default)]
    never_read: Vec<Value>,
    #[serde(default)]
    unexpected: Vec<Value>,
    #[serde(default)]
    first_anomaly_index: Option<u64>,
    #[serde(default)]
    first_anomaly_time: Option<u64>,
}

impl From<CheckResultDoc> for CheckResult {
    fn from(d: CheckResultDoc) -> CheckResult {
        CheckResult {
            verdict: d.verdict,
            model: d.model,
            operations: d.operations,
            keys: d.keys,
            invalid_keys: d.invalid_keys,
            unknown_keys: d.unknown_keys,
            reason: d.reason,
            counterexample: d.counterexample.map(|c| Counterexample {
                key: c.key,
                operation: c.operation,
                prefix_end_index: c.prefix_end_index,
                prefix_operations: c.prefix_operations,
                concurrent: c.concurrent,
                linearized: c.linearized,
                longest: c
                    .longest
                    .into_iter()
                    .map(|l| Linearization {
                        tail: l.tail,
                        elided: l.elided,
                        state: l.state,
                    })
                    .collect(),
            }),
            set: d
                .set
                .into_iter()
                .map(|s| SetReport {
                    key: s.key,
                    attempted: s.attempted,
                    acknowledged: s.acknowledged,
                    reads: s.reads,
                    stable: s.stable,
                    lost_count: s.lost_count,
                    stale_count: s.stale_count,
                    never_read_count: s.never_read_count,
                    unexpected_count: s.unexpected_count,
                    lost: s.lost,
                    stale: s.stale,
                    never_read: s.never_read,
                    unexpected: s.unexpected,
                    first_anomaly_index: s.first_anomaly_index,
                    first_anomaly_time: s.first_anomaly_time,
                })
                .collect(),
            detected_at_time: d.detected_at_time,
            detected_at_index: d.detected_at_index,
            steps: d.steps,
            configurations: d.configurations,
            cache_resets: d.cache_resets,
            elapsed_ms: d.elapsed_ms,
        }
    }
}

impl RunResults {
    /// Reads a `results.json` document.
    pub fn from_value(doc: Value) -> Result<RunResults, ResultsError> {
        let d: RunDoc = serde_json::from_value(doc)?;
        Ok(RunResults {
            verdict: d.verdict,
            workload: WorkloadDoc {
                verdict: d.workload.verdict,
                result: d.workload.result.map(CheckResult::from),
                error: d.workload.error,
            },
            stats: d.stats,
            logs: d.logs,
            model: d.model,
        })
    }

    /// The workload checker's result as text (the terminal's lines), or why
    /// it could not run.
    pub fn workload_text(&self) -> String {
        match (&self.workload.result, &self.workload.error) {
            (Some(r), _) => r.render_text(),
            (None, Some(e)) => format!("unknown: {e}"),
            (None, None) => "unknown: the checker did not run".to_string(),
        }
    }

    /// The workload checker's name: `<model> checker`.
    pub fn workload_checker_name(&self) -> String {
        let model = self
            .model
            .clone()
            .or_else(|| self.workload.result.as_ref().map(|r| r.model.clone()))
            .unwrap_or_else(|| "workload".to_string());
        format!("{model} checker")
    }
}

impl StatsDoc {
    /// One line: `N ok, N fail, N info; read 1/2/3, write ...`.
    pub fn summary(&self) -> String {
        let by_f: Vec<String> = self
            .by_f
            .iter()
            .map(|(f, c)| format!("{f} {}/{}/{}", c.ok, c.fail, c.info))
            .collect();
        let mut s = format!(
            "{}: {} ok, {} fail, {} info",
            self.verdict, self.total.ok, self.total.fail, self.total.info
        );
        if !by_f.is_empty() {
            s.push_str(&format!(" (ok/fail/info: {})", by_f.join(", ")));
        }
        if self.verdict == Verdict::Invalid {
            s.push_str("\nno operation succeeded: the system was never available");
        }
        s
    }
}

impl LogsDoc {
    /// The verdict and every panic and crash, a line each.
    pub fn summary(&self) -> String {
        let mut s = self.verdict.to_string();
        if self.panics.is_empty() && self.crashes.is_empty() {
            s.push_str(": no panics, no node died on its own");
        }
        for p in &self.panics {
            s.push_str(&format!("\npanic: {p}"));
        }
        for c in &self.crashes {
            s.push_str(&format!("\ncrashed: {c}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::history::{Event, EventType, Process};
    use faultline_checker::model::ModelKind;
    use faultline_checker::{check_events, CheckOptions};
    use serde_json::json;

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
    fn a_counterexample_survives_the_round_trip_and_renders_the_same_lines() {
        use EventType::*;
        let events = vec![
            ev(0, 0, Invoke, "write", json!(1)),
            ev(1, 0, Ok, "write", json!(1)),
            ev(2, 1, Invoke, "read", Value::Null),
            ev(3, 1, Ok, "read", json!(2)),
        ];
        let result = check_events(&events, ModelKind::Register, &CheckOptions::default()).unwrap();
        assert_eq!(result.verdict, Verdict::Invalid);
        let doc = json!({
            "verdict": "invalid",
            "workload": {"verdict": "invalid", "result": result},
            "model": "register",
        });
        let back = RunResults::from_value(doc).unwrap();
        assert_eq!(back.workload_text(), result.render_text());
        assert!(back.workload_text().contains("cannot place"));
        assert_eq!(back.workload_checker_name(), "register checker");
    }

    #[test]
    fn a_document_of_another_shape_is_an_error() {
        assert!(RunResults::from_value(json!({"verdict": "maybe"})).is_err());
    }
}
