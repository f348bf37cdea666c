//! `stats`: ok / fail / info per function. A run without a single `ok`
//! operation is invalid: the system was never available, so nothing was
//! really tested.

use std::collections::BTreeMap;

use faultline_checker::history::{pairs, Event, Outcome};
use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::{CheckContext, Checker, CheckerError, Judgement};

/// The kind of detail this checker writes: a [`Stats`].
pub const KIND: &str = "stats";

/// The stats checker.
#[derive(Debug, Clone, Copy)]
pub struct StatsChecker;

/// The registered checker.
pub const STATS: StatsChecker = StatsChecker;

impl Checker for StatsChecker {
    fn name(&self) -> &'static str {
        "stats"
    }

    fn title(&self) -> String {
        "stats".into()
    }

    fn description(&self) -> &'static str {
        "ok / fail / info per function; invalid when no operation succeeded"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let s = stats(ctx.events);
        Ok(Judgement::new(s.verdict, s.summary(), &s))
    }
}

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
}
