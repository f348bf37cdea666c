//! `set`: Jepsen's set-full analysis of each key's adds and whole-set reads:
//! lost, stale, never-read and unexpected elements. The detail,
//! [`SetFull`], holds every key's [`SetReport`]; the report's lost-elements
//! section draws the lost ones.

use std::time::Instant;

use faultline_checker::check::split_by_key;
use faultline_checker::history::key_name;
use faultline_checker::history::Operation;
use faultline_checker::model::ModelError;
use faultline_checker::set_full::{analyse, SetReport};
use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::{CheckContext, Checker, CheckerError, Judgement};
use crate::record::Anomaly;

/// The kind of detail this checker writes: a [`SetFull`].
pub const KIND: &str = "set-full";

/// The set-full checker.
#[derive(Debug, Clone, Copy)]
pub struct SetFullChecker;

/// The registered checker.
pub const SET_FULL: SetFullChecker = SetFullChecker;

/// What the analysis found, in the fields (and the shape) a set's result
/// always had in `results.json` and `faultline check --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetFull {
    /// Invalid when some key lost, staled or invented an element.
    pub verdict: Verdict,
    /// `set`.
    #[serde(default)]
    pub model: String,
    /// Client operations in the history.
    #[serde(default)]
    pub operations: usize,
    /// Keys analysed, each a set of its own.
    #[serde(default)]
    pub keys: usize,
    /// Keys showing an anomaly.
    #[serde(default)]
    pub invalid_keys: Vec<String>,
    /// Every key's analysis.
    #[serde(default)]
    pub set: Vec<SetReport>,
    /// Time (ns since the test started) of the first read showing a lost,
    /// stale or unexpected element.
    #[serde(default)]
    pub detected_at_time: Option<u64>,
    /// History index of that read's completion.
    #[serde(default)]
    pub detected_at_index: Option<u64>,
    /// Time the analysis took, milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
}

/// Analyses every key of `ops`.
pub fn analyse_all(ops: &[&Operation]) -> Result<SetFull, ModelError> {
    let started = Instant::now();
    let groups = split_by_key(ops);
    let mut result = SetFull {
        verdict: Verdict::Valid,
        model: "set".into(),
        operations: ops.len(),
        keys: groups.len(),
        invalid_keys: Vec::new(),
        set: Vec::new(),
        detected_at_time: None,
        detected_at_index: None,
        elapsed_ms: 0.0,
    };
    for (key, key_ops) in groups {
        let report = analyse(key, &key_ops)?;
        if !report.is_valid() {
            result.verdict = Verdict::Invalid;
            result.invalid_keys.push(key_name(&report.key));
            if result.detected_at_index.is_none()
                || report.first_anomaly_index < result.detected_at_index
            {
                result.detected_at_index = report.first_anomaly_index;
                result.detected_at_time = report.first_anomaly_time;
            }
        }
        result.set.push(report);
    }
    result.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(result)
}

impl SetFull {
    /// A few readable lines for the terminal: the counts, then each invalid
    /// key with examples.
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
        if !self.invalid_keys.is_empty() {
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

    /// The judgement this analysis amounts to (also for results read back
    /// from older files).
    pub fn judgement(&self) -> Judgement {
        let anomaly = (self.verdict == Verdict::Invalid).then(|| Anomaly {
            time: self.detected_at_time,
            index: self.detected_at_index,
            key: self.invalid_keys.first().cloned(),
            operation: None,
        });
        Judgement::new(self.verdict, self.render_text(), self).with_anomaly(anomaly)
    }
}

impl Checker for SetFullChecker {
    fn name(&self) -> &'static str {
        "set"
    }

    fn description(&self) -> &'static str {
        "add elements, read the whole set (Jepsen's set-full): lost, stale, never-read and unexpected elements"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn history_only(&self) -> bool {
        true
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        Ok(analyse_all(ctx.operations()?)?.judgement())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::{check_all, RunEvidence};
    use faultline_checker::history::{Event, EventType, Process};
    use faultline_checker::CheckOptions;
    use serde_json::{json, Value};

    fn ev(index: u64, p: u64, kind: EventType, f: &str, value: Value) -> Event {
        Event {
            index,
            time: index * 1000,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: Some("set".into()),
            value,
            error: None,
        }
    }

    #[test]
    fn a_lost_element_is_named_with_its_key_and_first_anomaly() {
        use EventType::*;
        let events = vec![
            ev(0, 0, Invoke, "add", json!(1)),
            ev(1, 0, Ok, "add", json!(1)),
            ev(2, 1, Invoke, "read", Value::Null),
            ev(3, 1, Ok, "read", json!([])),
        ];
        let results = check_all(
            &[&SET_FULL],
            &events,
            &CheckOptions::default(),
            &RunEvidence::default(),
        );
        let r = &results[0];
        assert_eq!(r.name, "set checker");
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.anomaly.as_ref().unwrap().time, Some(3000));
        assert!(r
            .text
            .starts_with("invalid: 2 operations over 1 key, model set"));
        assert!(r.text.contains("key set: 1 lost") && r.text.contains("lost: 1"));
        let detail: SetFull = r.detail().unwrap();
        assert_eq!(detail.set[0].lost, vec![json!(1)]);
        assert_eq!(detail.judgement().text, r.text);
    }
}
