//! `results.json` as versions before the checker list wrote it: the
//! workload's checker in `workload` (a linearizability result, or the set
//! analysis in the same shape), `stats` and `logs` in fields of their own.
//! [`read_results`] reads either shape into a [`ResultsRecord`], so that
//! `faultline report`, `faultline suite` and `suite merge` read old run
//! folders as new ones.

use faultline_checker::{CheckResult, Verdict};
use serde::Deserialize;
use serde_json::Value;

use super::linearizable;
use super::log_scan::{LogScan, NODE_LOGS};
use super::set_full::{self, SetFull};
use super::stats::{Stats, STATS};
use super::{Checker, Judgement};
use crate::record::OnlineDetection;
use crate::record::{CheckerResult, ResultsRecord};

/// Reads `results.json` in the current shape or in the one versions
/// before the checker list wrote.
pub fn read_results(text: &str) -> Result<ResultsRecord, serde_json::Error> {
    let value: Value = serde_json::from_str(text)?;
    if value.get("checkers").is_some() || value.get("workload").is_none() {
        return serde_json::from_value(value);
    }
    let old: Legacy = serde_json::from_value(value)?;
    Ok(old.upgrade())
}

/// The workload checker's entry of an old file.
#[derive(Deserialize)]
struct WorkloadCheck {
    verdict: Verdict,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<String>,
}

/// An old `results.json`.
#[derive(Deserialize)]
struct Legacy {
    verdict: Verdict,
    workload: WorkloadCheck,
    #[serde(default)]
    stats: Option<Stats>,
    #[serde(default)]
    logs: Option<LogScan>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    workload_name: Option<String>,
    #[serde(default)]
    nemesis: Option<Vec<String>>,
    #[serde(default)]
    events: Option<usize>,
    #[serde(default)]
    scenario: Option<String>,
    #[serde(default)]
    time_to_detect_s: Option<f64>,
    #[serde(default)]
    online: Option<OnlineDetection>,
    #[serde(default)]
    interrupted: bool,
}

impl Legacy {
    fn upgrade(self) -> ResultsRecord {
        let mut checkers = vec![self.workload_result()];
        if let Some(s) = &self.stats {
            let judged = Judgement::new(s.verdict, s.summary(), s);
            checkers.push(result(STATS.title(), STATS.kind(), judged, 0.0));
        }
        if let Some(l) = &self.logs {
            let judged = Judgement::new(l.verdict, l.summary(), l);
            checkers.push(result(NODE_LOGS.title(), NODE_LOGS.kind(), judged, 0.0));
        }
        ResultsRecord {
            verdict: self.verdict,
            checkers,
            seed: self.seed,
            system: self.system,
            workload_name: self.workload_name,
            nemesis: self.nemesis,
            events: self.events,
            scenario: self.scenario,
            time_to_detect_s: self.time_to_detect_s,
            online: self.online,
            interrupted: self.interrupted,
        }
    }

    /// The workload checker's result: the set analysis or a linearizability
    /// result (which is also how the first Maelstrom checkers wrote theirs),
    /// named `<model> checker` as these versions named it.
    fn workload_result(&self) -> CheckerResult {
        let w = &self.workload;
        let model = self
            .model
            .clone()
            .or_else(|| {
                w.result
                    .as_ref()
                    .and_then(|r| r.get("model")?.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| "workload".into());
        let is_set = model == "set";
        let judged = w.result.as_ref().and_then(|r| {
            if is_set {
                let s: SetFull = serde_json::from_value(r.clone()).ok()?;
                Some((s.judgement(), s.elapsed_ms))
            } else {
                let c: CheckResult = serde_json::from_value(r.clone()).ok()?;
                Some((linearizable::judgement(&c), c.elapsed_ms))
            }
        });
        let kind = if is_set {
            set_full::KIND
        } else {
            linearizable::KIND
        };
        let (judged, elapsed_ms) = judged.unwrap_or_else(|| {
            let why = w.error.as_deref().unwrap_or("the checker did not run");
            let text = format!("unknown: {why}");
            (Judgement::new(w.verdict, text, &Value::Null), 0.0)
        });
        let mut out = result(format!("{model} checker"), kind, judged, elapsed_ms);
        out.verdict = w.verdict;
        out
    }
}

/// The result named `name`, of `kind`, holding `judged`.
fn result(name: String, kind: &str, judged: Judgement, elapsed_ms: f64) -> CheckerResult {
    CheckerResult {
        name,
        kind: kind.to_string(),
        verdict: judged.verdict,
        elapsed_ms,
        anomaly: judged.anomaly,
        text: judged.text,
        detail: judged.detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_folders_recorded_before_the_checker_list_still_read() {
        let r = read_results(include_str!(
            "../../tests/fixtures/run-invalid/results.json"
        ))
        .unwrap();
        assert_eq!(r.verdict, Verdict::Invalid);
        let names: Vec<&str> = r.checkers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["register checker", "stats", "node logs"]);
        let lin = &r.checkers[0];
        assert_eq!(lin.kind, linearizable::KIND);
        assert_eq!(lin.verdict, Verdict::Invalid);
        assert!(lin.text.contains("cannot place"), "{}", lin.text);
        let detail: CheckResult = lin.detail().unwrap();
        assert!(detail.counterexample.is_some());
        assert!(lin.anomaly.as_ref().unwrap().time.is_some());
        assert_eq!(r.time_to_detect_s, Some(2.187));
        assert!(!r.interrupted);
        let valid =
            read_results(include_str!("../../tests/fixtures/run-valid/results.json")).unwrap();
        assert_eq!(valid.verdict, Verdict::Valid);
        let stats: Stats = valid.checker("stats").unwrap().detail().unwrap();
        assert_eq!(stats.total.ok, 38);
        assert!(valid
            .checker("node logs")
            .unwrap()
            .text
            .starts_with("valid: no panics"));
    }

    #[test]
    fn an_old_set_result_and_an_old_error_read_as_their_kinds() {
        let set = json!({
            "verdict": "invalid",
            "model": "set",
            "workload": {"verdict": "invalid", "result": {
                "verdict": "invalid", "model": "set", "operations": 4, "keys": 1,
                "invalid_keys": ["set"], "detected_at_time": 5,
                "set": [{"key": "set", "lost": [3], "lost_count": 1, "attempted": 2}]
            }},
        });
        let r = read_results(&set.to_string()).unwrap();
        assert_eq!(r.checkers.len(), 1);
        let c = &r.checkers[0];
        assert_eq!(
            (c.name.as_str(), c.kind.as_str()),
            ("set checker", set_full::KIND)
        );
        assert!(c.text.contains("key set: 1 lost"), "{}", c.text);
        assert_eq!(c.anomaly.as_ref().unwrap().time, Some(5));
        let failed = json!({"verdict": "unknown", "workload": {"verdict": "unknown", "error": "line 3: bad"}});
        let r = read_results(&failed.to_string()).unwrap();
        assert_eq!(r.checkers[0].name, "workload checker");
        assert_eq!(r.checkers[0].text, "unknown: line 3: bad");
        assert_eq!(r.checkers[0].verdict, Verdict::Unknown);
    }

    #[test]
    fn the_current_shape_reads_as_it_was_written() {
        let r = ResultsRecord::of_checkers(vec![]);
        let back = read_results(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.verdict, Verdict::Valid);
        assert!(read_results(r#"{"verdict": "maybe"}"#).is_err());
    }
}
