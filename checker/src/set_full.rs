//! Jepsen's set-full analysis: clients add unique elements to a set and read
//! the whole set; every element is classified by what the reads that began
//! after it was known to be present saw.
//!
//! - *stable*: every such read saw it;
//! - *lost*: after some point every read missed it (the last read that saw it,
//!   if any, came before a read that did not);
//! - *stale*: some such read missed it, but a later one saw it again (invalid
//!   for a linearizable set);
//! - *never read*: no read began after it was known to be present;
//! - *unexpected*: a read returned an element nobody added, or one whose add
//!   certainly failed.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::{Operation, Outcome};
use crate::model::{ModelError, Val};

/// At most this many example elements are listed per category.
const EXAMPLES: usize = 32;

/// What the analysis found for one key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SetReport {
    /// The key (None: the single set).
    #[serde(default)]
    pub key: Option<String>,
    /// Elements whose add was invoked.
    #[serde(default)]
    pub attempted: usize,
    /// Elements whose add returned ok.
    #[serde(default)]
    pub acknowledged: usize,
    /// Reads that returned ok.
    #[serde(default)]
    pub reads: usize,
    /// Elements every later read saw.
    #[serde(default)]
    pub stable: usize,
    /// Number of lost elements.
    #[serde(default)]
    pub lost_count: usize,
    /// Number of stale elements.
    #[serde(default)]
    pub stale_count: usize,
    /// Number of elements no read began late enough to see.
    #[serde(default)]
    pub never_read_count: usize,
    /// Number of unexpected elements.
    #[serde(default)]
    pub unexpected_count: usize,
    /// Some lost elements (at most 32), as the history wrote them.
    #[serde(default)]
    pub lost: Vec<Value>,
    /// Some stale elements (at most 32), as the history wrote them.
    #[serde(default)]
    pub stale: Vec<Value>,
    /// Some never-read elements (at most 32), as the history wrote them.
    #[serde(default)]
    pub never_read: Vec<Value>,
    /// Some unexpected elements (at most 32), as the reads returned them.
    #[serde(default)]
    pub unexpected: Vec<Value>,
    /// History index of the completion of the first read that showed an
    /// anomaly (a read missing a lost or stale element, or one returning an
    /// unexpected element).
    #[serde(default)]
    pub first_anomaly_index: Option<u64>,
    /// Time (ns) of that completion.
    #[serde(default)]
    pub first_anomaly_time: Option<u64>,
}

impl SetReport {
    /// Whether the key shows an anomaly (lost, stale or unexpected elements).
    pub fn is_valid(&self) -> bool {
        self.lost_count == 0 && self.stale_count == 0 && self.unexpected_count == 0
    }
}

struct Add {
    outcome: Outcome,
    invoke: u64,
    ok_at: Option<u64>,
}

struct Read<'a> {
    op: &'a Operation,
    invoke: u64,
    complete: u64,
    seen: std::collections::HashSet<Val>,
}

/// Analyses one key's operations (`add` and `read`).
pub fn analyse(key: Option<String>, ops: &[&Operation]) -> Result<SetReport, ModelError> {
    let mut adds: HashMap<Val, Add> = HashMap::new();
    let mut order: Vec<Val> = Vec::new();
    let mut reads: Vec<Read> = Vec::new();
    for op in ops {
        match op.f.as_str() {
            "add" => {
                let v = Val::from_json(&op.input);
                if adds.contains_key(&v) {
                    return Err(ModelError::new(
                        op,
                        "element added twice; set elements must be unique",
                    ));
                }
                order.push(v.clone());
                adds.insert(
                    v,
                    Add {
                        outcome: op.outcome,
                        invoke: op.invoke_index,
                        ok_at: (op.outcome == Outcome::Ok)
                            .then_some(op.complete_index)
                            .flatten(),
                    },
                );
            }
            "read" => {
                if op.outcome != Outcome::Ok {
                    continue;
                }
                let seen = match &op.output {
                    Value::Null => Default::default(),
                    Value::Array(items) => items.iter().map(Val::from_json).collect(),
                    other => {
                        return Err(ModelError::new(
                            op,
                            format!("a set read must return an array, got {other}"),
                        ))
                    }
                };
                reads.push(Read {
                    op,
                    invoke: op.invoke_index,
                    complete: op.complete_index.unwrap_or(u64::MAX),
                    seen,
                });
            }
            other => {
                return Err(ModelError::new(
                    op,
                    format!("the set model knows add and read, not {other:?}"),
                ))
            }
        }
    }
    reads.sort_by_key(|r| r.invoke);

    let mut report = SetReport {
        key,
        attempted: order.len(),
        acknowledged: adds.values().filter(|a| a.outcome == Outcome::Ok).count(),
        reads: reads.len(),
        stable: 0,
        lost_count: 0,
        stale_count: 0,
        never_read_count: 0,
        unexpected_count: 0,
        lost: Vec::new(),
        stale: Vec::new(),
        never_read: Vec::new(),
        unexpected: Vec::new(),
        first_anomaly_index: None,
        first_anomaly_time: None,
    };
    // The read (index into `reads`) that completed first among those showing an anomaly.
    let mut first: Option<usize> = None;
    let note = |r: usize, first: &mut Option<usize>| {
        if first.is_none_or(|f| reads[r].complete < reads[f].complete) {
            *first = Some(r);
        }
    };

    // Unexpected: seen but never (successfully) attempted.
    let mut unexpected: Vec<Val> = Vec::new();
    for (ri, r) in reads.iter().enumerate() {
        for v in &r.seen {
            let bad = match adds.get(v) {
                None => true,
                Some(a) => a.outcome == Outcome::Fail || a.invoke > r.complete,
            };
            if bad {
                note(ri, &mut first);
                if !unexpected.contains(v) {
                    unexpected.push(v.clone());
                }
            }
        }
    }
    report.unexpected_count = unexpected.len();
    report.unexpected = unexpected.iter().take(EXAMPLES).map(Val::to_json).collect();

    for v in &order {
        let add = &adds[v];
        if add.outcome == Outcome::Fail {
            continue;
        }
        let first_seen = reads
            .iter()
            .filter(|r| r.seen.contains(v))
            .map(|r| r.complete)
            .min();
        let known = match (add.ok_at, first_seen) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => continue, // an unknown add nobody saw: may never have happened
        };
        let later: Vec<usize> = (0..reads.len())
            .filter(|&r| reads[r].invoke > known)
            .collect();
        if later.is_empty() {
            report.never_read_count += 1;
            if report.never_read.len() < EXAMPLES {
                report.never_read.push(v.to_json());
            }
            continue;
        }
        let last_present = later
            .iter()
            .filter(|&&r| reads[r].seen.contains(v))
            .map(|&r| reads[r].invoke)
            .max();
        let absent: Vec<usize> = later
            .into_iter()
            .filter(|&r| !reads[r].seen.contains(v))
            .collect();
        if absent.is_empty() {
            report.stable += 1;
        } else if absent
            .iter()
            .any(|&r| last_present.is_none_or(|p| reads[r].invoke > p))
        {
            report.lost_count += 1;
            if report.lost.len() < EXAMPLES {
                report.lost.push(v.to_json());
            }
            note(absent[0], &mut first);
        } else {
            report.stale_count += 1;
            if report.stale.len() < EXAMPLES {
                report.stale.push(v.to_json());
            }
            note(absent[0], &mut first);
        }
    }
    if let Some(r) = first {
        report.first_anomaly_index = reads[r].op.complete_index;
        report.first_anomaly_time = reads[r].op.complete_time;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{pair, Event, EventType, Process};
    use serde_json::json;

    fn history(spec: &[(u64, EventType, &str, Value)]) -> Vec<Operation> {
        let events: Vec<Event> = spec
            .iter()
            .enumerate()
            .map(|(i, (p, t, f, v))| Event {
                index: i as u64,
                time: i as u64,
                process: Process::Client(*p),
                kind: *t,
                f: f.to_string(),
                key: None,
                value: v.clone(),
                error: None,
            })
            .collect();
        pair(&events, None).unwrap()
    }

    #[test]
    fn classifies_lost_stale_stable_and_unexpected() {
        use EventType::*;
        let ops = history(&[
            (0, Invoke, "add", json!(1)),
            (0, Ok, "add", json!(1)),
            (1, Invoke, "add", json!(2)),
            (1, Ok, "add", json!(2)),
            (2, Invoke, "add", json!(3)),
            (2, Ok, "add", json!(3)),
            (3, Invoke, "read", Value::Null),
            (3, Ok, "read", json!([1, 3, 9])),
            (3, Invoke, "read", Value::Null),
            (3, Ok, "read", json!([1, 2])),
        ]);
        let refs: Vec<&Operation> = ops.iter().collect();
        let r = analyse(None, &refs).unwrap();
        assert_eq!(r.stable, 1, "{r:?}");
        assert_eq!(r.lost, vec![json!(3)]);
        assert_eq!(r.stale, vec![json!(2)]);
        assert_eq!(r.unexpected, vec![json!(9)]);
        assert_eq!(r.first_anomaly_index, Some(7));
        assert!(!r.is_valid());
    }

    #[test]
    fn an_add_no_read_followed_is_never_read_not_lost() {
        use EventType::*;
        let ops = history(&[
            (3, Invoke, "read", Value::Null),
            (0, Invoke, "add", json!(1)),
            (0, Ok, "add", json!(1)),
            (3, Ok, "read", json!([])),
        ]);
        let refs: Vec<&Operation> = ops.iter().collect();
        let r = analyse(None, &refs).unwrap();
        assert_eq!(r.never_read_count, 1);
        assert!(r.is_valid());
    }
}
