//! The checkers every run ends with: the workload's own (linearizability or
//! the set analysis), `stats` (ok / fail / info per function), and a scan
//! of the node logs for panics and of the run for nodes that died on their
//! own. The verdict is the worst of them.

use std::collections::BTreeMap;

use faultline_checker::history::{Event, EventType, Process};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_events, CheckOptions, CheckResult, Verdict};
use serde::Serialize;

/// Completions of one function.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// ok.
    pub ok: u64,
    /// fail.
    pub fail: u64,
    /// info (including invocations that never completed).
    pub info: u64,
}

/// The `stats` checker: counts per function; a run without a single `ok`
/// operation is invalid (the system was never available, so nothing was
/// really tested).
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// The verdict.
    pub verdict: Verdict,
    /// All client operations.
    pub total: Counts,
    /// Per function.
    pub by_f: BTreeMap<String, Counts>,
}

/// Counts the client operations of `events`.
pub fn stats(events: &[Event]) -> Stats {
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    let mut open: BTreeMap<u64, String> = BTreeMap::new();
    for ev in events {
        let Process::Client(p) = ev.process else {
            continue;
        };
        if ev.kind == EventType::Invoke {
            open.insert(p, ev.f.clone());
            continue;
        }
        open.remove(&p);
        let c = by_f.entry(ev.f.clone()).or_default();
        match ev.kind {
            EventType::Ok => c.ok += 1,
            EventType::Fail => c.fail += 1,
            _ => c.info += 1,
        }
    }
    for f in open.into_values() {
        by_f.entry(f).or_default().info += 1;
    }
    let mut total = Counts::default();
    for c in by_f.values() {
        total.ok += c.ok;
        total.fail += c.fail;
        total.info += c.info;
    }
    Stats {
        verdict: if total.ok > 0 {
            Verdict::Valid
        } else {
            Verdict::Invalid
        },
        total,
        by_f,
    }
}

/// The log scan: panics in node logs, nodes that exited on their own.
#[derive(Debug, Clone, Serialize)]
pub struct LogScan {
    /// The verdict.
    pub verdict: Verdict,
    /// `node: line` for every panic found (at most 20).
    pub panics: Vec<String>,
    /// `node: exit status` for every node that died without being killed.
    pub crashes: Vec<String>,
}

/// Scans `(node name, log text)` pairs and the crashes seen during the run.
pub fn scan_logs(logs: &[(String, String)], crashes: Vec<String>) -> LogScan {
    let mut panics = Vec::new();
    for (name, text) in logs {
        for line in text.lines().filter(|l| l.contains("panicked at")) {
            if panics.len() < 20 {
                panics.push(format!("{name}: {}", line.trim()));
            }
        }
    }
    LogScan {
        verdict: if panics.is_empty() && crashes.is_empty() {
            Verdict::Valid
        } else {
            Verdict::Invalid
        },
        panics,
        crashes,
    }
}

/// The workload's checker.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadCheck {
    /// The verdict.
    pub verdict: Verdict,
    /// What the checker found, when it could run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<CheckResult>,
    /// Why it could not, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Checks `events` with `model`.
pub fn check_workload(events: &[Event], model: ModelKind, opts: &CheckOptions) -> WorkloadCheck {
    match check_events(events, model, opts) {
        Ok(result) => WorkloadCheck {
            verdict: result.verdict,
            result: Some(result),
            error: None,
        },
        Err(e) => WorkloadCheck {
            verdict: Verdict::Unknown,
            result: None,
            error: Some(e.to_string()),
        },
    }
}

/// Every checker of a run and the combined verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Invalid if any is invalid, else unknown if any is unknown, else valid.
    pub verdict: Verdict,
    /// The workload's checker.
    pub workload: WorkloadCheck,
    /// Operation counts.
    pub stats: Stats,
    /// Node logs.
    pub logs: LogScan,
}

impl Results {
    /// Combines the checkers.
    pub fn combine(workload: WorkloadCheck, stats: Stats, logs: LogScan) -> Results {
        let verdict = workload.verdict.worst(stats.verdict).worst(logs.verdict);
        Results {
            verdict,
            workload,
            stats,
            logs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn ev(index: u64, p: u64, kind: EventType, f: &str) -> Event {
        Event {
            index,
            time: index,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: Some("k".into()),
            value: Value::Null,
            error: None,
        }
    }

    #[test]
    fn stats_count_per_function_and_need_one_ok() {
        use EventType::*;
        let events = vec![
            ev(0, 0, Invoke, "read"),
            ev(1, 1, Invoke, "write"),
            ev(2, 0, Fail, "read"),
            ev(3, 2, Invoke, "write"),
            ev(4, 1, Info, "write"),
        ];
        let s = stats(&events);
        assert_eq!(s.verdict, Verdict::Invalid);
        assert_eq!(
            s.by_f["write"],
            Counts {
                ok: 0,
                fail: 0,
                info: 2
            }
        );
        assert_eq!(s.by_f["read"].fail, 1);
        let mut events = events;
        events.push(ev(5, 2, Ok, "write"));
        assert_eq!(stats(&events).verdict, Verdict::Valid);
    }

    #[test]
    fn panics_and_crashes_make_the_log_scan_invalid() {
        let clean = vec![("n1".to_string(), "INFO started\n".to_string())];
        assert_eq!(scan_logs(&clean, vec![]).verdict, Verdict::Valid);
        let panicked = vec![(
            "n2".to_string(),
            "thread 'main' panicked at src/raft/log.rs:10:5:\n".to_string(),
        )];
        let scan = scan_logs(&panicked, vec![]);
        assert_eq!(scan.verdict, Verdict::Invalid);
        assert!(scan.panics[0].starts_with("n2: thread 'main' panicked"));
        assert_eq!(
            scan_logs(&clean, vec!["n1: exit status: 1".into()]).verdict,
            Verdict::Invalid
        );
    }
}
