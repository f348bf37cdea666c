//! The checkers every run ends with: the workload's own (linearizability or
//! the set analysis), `stats` (ok / fail / info per function), and a scan
//! of the node logs for panics and of the run for nodes that died on their
//! own. The verdict is the worst of them.

use std::collections::BTreeMap;

use faultline_checker::history::{pairs, Event, Outcome};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_events, CheckOptions, CheckResult, Verdict};
use serde::{Deserialize, Serialize};

/// Completions of one function. Every type here is written to
/// `results.json` and read back; a field an older file lacks takes its default.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Operations that completed `ok` (took effect).
    #[serde(default)]
    pub ok: u64,
    /// Operations that completed `fail` (certainly did not take effect).
    #[serde(default)]
    pub fail: u64,
    /// Operations whose outcome is unknown: `info`, or never completed.
    #[serde(default)]
    pub info: u64,
}

/// The `stats` checker: counts per function; a run without a single `ok`
/// operation is invalid (the system was never available, so nothing was
/// really tested).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    /// Valid when at least one operation succeeded.
    pub verdict: Verdict,
    /// All client operations, whatever their function.
    #[serde(default)]
    pub total: Counts,
    /// Client operations per function (`read`, `write`, ...).
    #[serde(default)]
    pub by_f: BTreeMap<String, Counts>,
}

impl Stats {
    /// One line: `valid: N ok, N fail, N info (ok/fail/info: read 1/2/3, ...)`,
    /// and why an invalid verdict is invalid.
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

/// Counts the client operations of `events`.
pub fn stats(events: &[Event]) -> Stats {
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    for pair in pairs(events) {
        let c = by_f.entry(events[pair.invoke].f.clone()).or_default();
        match pair.outcome {
            Outcome::Ok => c.ok += 1,
            Outcome::Fail => c.fail += 1,
            Outcome::Info => c.info += 1,
        }
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogScan {
    /// Invalid when a node panicked or died on its own.
    pub verdict: Verdict,
    /// `node: line` for every panic found (at most 20).
    #[serde(default)]
    pub panics: Vec<String>,
    /// `node: exit status` for every node that died without being killed.
    #[serde(default)]
    pub crashes: Vec<String>,
}

impl LogScan {
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

/// The workload's checker: linearizability, or the set analysis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadCheck {
    /// The result's verdict, or unknown when the checker could not run.
    pub verdict: Verdict,
    /// What the checker found, when it could run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<CheckResult>,
    /// Why it could not, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl WorkloadCheck {
    /// The checker's result as text (the terminal's lines), or why it could
    /// not run.
    pub fn text(&self) -> String {
        match (&self.result, &self.error) {
            (Some(r), _) => r.render_text(),
            (None, Some(e)) => format!("unknown: {e}"),
            (None, None) => "unknown: the checker did not run".to_string(),
        }
    }
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// Invalid if any is invalid, else unknown if any is unknown, else valid.
    pub verdict: Verdict,
    /// The workload's checker (linearizability or the set analysis).
    pub workload: WorkloadCheck,
    /// Operation counts per function.
    pub stats: Stats,
    /// Panics in the node logs and nodes that died on their own.
    pub logs: LogScan,
    /// What the online check found while the run went (`--check online`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<crate::online::OnlineDetection>,
}

impl Results {
    /// Combines the checkers; the verdict is the worst of theirs.
    pub fn combine(workload: WorkloadCheck, stats: Stats, logs: LogScan) -> Results {
        let verdict = workload.verdict.worst(stats.verdict).worst(logs.verdict);
        Results {
            verdict,
            workload,
            stats,
            logs,
            online: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::history::{EventType, Process};
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
