//! `errors`: the errors clients saw, grouped by their text, as Jepsen's
//! `unhandled-exceptions` checker groups exceptions. It judges nothing (its
//! verdict is always valid): it says which errors a history holds, how
//! often, on which functions and when, so that a run full of timeouts or
//! refusals is seen for what it is before its other verdicts are trusted.

use std::collections::BTreeMap;

use faultline_checker::history::Outcome;
use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::{CheckContext, Checker, CheckerError, Judgement};

/// The kind of detail this checker writes: an [`Errors`].
pub const KIND: &str = "errors";

/// The errors checker.
#[derive(Debug, Clone, Copy)]
pub struct ErrorsChecker;

/// The registered checker.
pub const ERRORS: ErrorsChecker = ErrorsChecker;

impl Checker for ErrorsChecker {
    fn name(&self) -> &'static str {
        "errors"
    }

    fn description(&self) -> &'static str {
        "the errors clients saw, grouped by text, with counts and when (always valid)"
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn history_only(&self) -> bool {
        true
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let errors = group(ctx.operations()?);
        Ok(Judgement::new(Verdict::Valid, errors.summary(), &errors))
    }
}

/// The operations that completed with one error text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorGroup {
    /// The error, as the client recorded it.
    pub error: String,
    /// How many operations ended with it.
    pub count: u64,
    /// Of those, how many failed for certain (`fail`); the rest are `info`.
    pub fail: u64,
    /// How many per function (`read`, `write`, ...).
    pub by_f: BTreeMap<String, u64>,
    /// Nanoseconds from the history's start to the invocation of the first
    /// operation that ended with it (an `info` keeps no completion time).
    pub first_ns: u64,
    /// ... and of the last.
    pub last_ns: u64,
    /// The first such operation, in one line.
    pub example: String,
}

/// Every error of a history, most frequent first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Errors {
    /// Client operations in the history.
    pub operations: u64,
    /// The groups, most frequent first (ties by text).
    pub groups: Vec<ErrorGroup>,
}

impl Errors {
    /// One line, then a line per error.
    pub fn summary(&self) -> String {
        let with: u64 = self.groups.iter().map(|g| g.count).sum();
        let mut text = format!(
            "valid: {} distinct errors on {with} of {} operations",
            self.groups.len(),
            self.operations
        );
        for g in &self.groups {
            let by_f: Vec<String> = g.by_f.iter().map(|(f, n)| format!("{f} {n}")).collect();
            text.push_str(&format!(
                "\n{} ×{} ({} fail, {} info; {}) from {:.1} s to {:.1} s, e.g. {}",
                g.error,
                g.count,
                g.fail,
                g.count - g.fail,
                by_f.join(", "),
                g.first_ns as f64 / 1e9,
                g.last_ns as f64 / 1e9,
                g.example
            ));
        }
        text
    }
}

/// Groups the completions of `ops` (in invocation order, as pairing gives
/// them) that carry an error.
pub fn group(ops: &[&faultline_checker::history::Operation]) -> Errors {
    let mut by_text: BTreeMap<&str, ErrorGroup> = BTreeMap::new();
    for op in ops {
        let Some(error) = op.error.as_deref() else {
            continue;
        };
        let at = op.invoke_time;
        let g = by_text.entry(error).or_insert_with(|| ErrorGroup {
            error: error.to_string(),
            first_ns: at,
            last_ns: at,
            example: op.describe(),
            ..ErrorGroup::default()
        });
        g.count += 1;
        g.fail += u64::from(op.outcome == Outcome::Fail);
        *g.by_f.entry(op.f.clone()).or_default() += 1;
        g.last_ns = at;
    }
    let mut groups: Vec<ErrorGroup> = by_text.into_values().collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.error.cmp(&b.error)));
    Errors {
        operations: ops.len() as u64,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::history::{pair, Event};

    fn ev(process: u64, kind: &str, f: &str, error: Option<&str>, time: u64) -> Event {
        let mut v =
            serde_json::json!({"index": 0, "process": process, "type": kind, "f": f, "time": time});
        if let Some(e) = error {
            v["error"] = e.into();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn groups_errors_by_text_most_frequent_first() {
        let events = vec![
            ev(0, "invoke", "read", None, 1),
            ev(0, "info", "read", Some("timeout"), 5_000_000_000),
            ev(1, "invoke", "write", None, 2),
            ev(1, "fail", "write", Some("not leader"), 3),
            ev(2, "invoke", "write", None, 6_000_000_000),
            ev(2, "info", "write", Some("timeout"), 9_000_000_000),
            ev(1, "invoke", "read", None, 10),
            ev(1, "ok", "read", None, 11),
        ];
        let events: Vec<Event> = events
            .into_iter()
            .enumerate()
            .map(|(i, e)| Event {
                index: i as u64,
                ..e
            })
            .collect();
        let ops = pair(&events, None).unwrap();
        let refs: Vec<_> = ops.iter().collect();
        let e = group(&refs);
        assert_eq!(e.operations, 4);
        assert_eq!(e.groups.len(), 2);
        let t = &e.groups[0];
        assert_eq!((t.error.as_str(), t.count, t.fail), ("timeout", 2, 0));
        assert_eq!((t.first_ns, t.last_ns), (1, 6_000_000_000));
        assert_eq!(t.by_f.get("read"), Some(&1));
        assert_eq!(t.by_f.get("write"), Some(&1));
        assert_eq!((e.groups[1].count, e.groups[1].fail), (1, 1));
        assert!(e
            .summary()
            .starts_with("valid: 2 distinct errors on 3 of 4 operations"));
        assert!(e
            .summary()
            .contains("timeout ×2 (0 fail, 2 info; read 1, write 1)"));
    }
}
