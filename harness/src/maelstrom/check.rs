//! The checkers of the Maelstrom workloads. `lin-kv` goes to faultline's
//! linearizability checker (the `register` model: a cas register per key);
//! the others are judged here from the history, the way Maelstrom's own
//! checkers judge them.

use std::collections::{BTreeMap, HashMap, HashSet};

use faultline_checker::history::{pairs, Event, Outcome};
use faultline_checker::model::ModelKind;
use faultline_checker::{check_events, CheckOptions, CheckResult, Verdict};
use serde_json::{json, Value};

use super::workload::Workload;

/// Examples listed per anomaly.
const EXAMPLES: usize = 10;

/// What a workload's checker found.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Valid, invalid or unknown.
    pub verdict: Verdict,
    /// One line per fact, for the terminal and the report.
    pub lines: Vec<String>,
    /// The linearizability checker's result (lin-kv).
    pub linear: Option<CheckResult>,
}

impl Finding {
    fn new(verdict: Verdict, lines: Vec<String>) -> Finding {
        Finding {
            verdict,
            lines,
            linear: None,
        }
    }

    /// The finding as a [`CheckResult`] for `results.json` (the
    /// linearizability result itself for lin-kv).
    pub fn to_result(&self, workload: Workload, operations: usize) -> Option<CheckResult> {
        if let Some(r) = &self.linear {
            return Some(r.clone());
        }
        serde_json::from_value(json!({
            "verdict": self.verdict,
            "model": format!("maelstrom-{}", workload.name()),
            "operations": operations,
            "reason": self.lines.join("\n"),
        }))
        .ok()
    }
}

/// One completed operation, read from the history.
struct Done<'a> {
    f: &'a str,
    input: &'a Value,
    output: Option<&'a Value>,
    outcome: Outcome,
    process: u64,
}

fn operations(events: &[Event]) -> Vec<Done<'_>> {
    pairs(events)
        .into_iter()
        .map(|p| {
            let inv = &events[p.invoke];
            Done {
                f: inv.f.as_str(),
                input: &inv.value,
                output: p.completion.map(|c| &events[c].value),
                outcome: p.outcome,
                process: p.process,
            }
        })
        .collect()
}

/// Checks `events` of `workload`; `finals` maps the processes of the final
/// reads to the node each read.
pub fn check(
    workload: Workload,
    events: &[Event],
    finals: &HashMap<u64, String>,
    opts: &CheckOptions,
) -> Finding {
    let ops = operations(events);
    match workload {
        Workload::Echo => echo(&ops),
        Workload::UniqueIds => unique_ids(&ops),
        Workload::Broadcast => grow_set(&ops, finals, "broadcast", "message"),
        Workload::GSet => grow_set(&ops, finals, "add", "element"),
        Workload::GCounter | Workload::PnCounter => counter(&ops, finals),
        Workload::LinKv => match check_events(events, ModelKind::Register, opts) {
            Ok(r) => Finding {
                verdict: r.verdict,
                lines: r.render_text().lines().map(str::to_string).collect(),
                linear: Some(r),
            },
            Err(e) => Finding::new(Verdict::Unknown, vec![format!("unknown: {e}")]),
        },
    }
}

fn echo(ops: &[Done<'_>]) -> Finding {
    let ok: Vec<&Done> = ops.iter().filter(|o| o.outcome == Outcome::Ok).collect();
    let wrong: Vec<String> = ok
        .iter()
        .filter(|o| o.output != Some(o.input))
        .map(|o| format!("sent {} got {}", o.input, o.output.unwrap_or(&Value::Null)))
        .collect();
    let mut lines = vec![format!(
        "{} echoes acknowledged, {} wrong",
        ok.len(),
        wrong.len()
    )];
    lines.extend(wrong.iter().take(EXAMPLES).cloned());
    let verdict = if wrong.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid
    };
    Finding::new(verdict, lines)
}

fn unique_ids(ops: &[Done<'_>]) -> Finding {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut n = 0;
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        n += 1;
        *seen
            .entry(o.output.unwrap_or(&Value::Null).to_string())
            .or_default() += 1;
    }
    let dups: Vec<String> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(id, c)| format!("{id} handed out {c} times"))
        .collect();
    let mut lines = vec![format!(
        "{n} ids generated, {} distinct, {} duplicated",
        seen.len(),
        dups.len()
    )];
    lines.extend(dups.iter().take(EXAMPLES).cloned());
    let verdict = if dups.is_empty() && n > 0 {
        Verdict::Valid
    } else if n == 0 {
        lines.push("no id was generated".into());
        Verdict::Invalid
    } else {
        Verdict::Invalid
    };
    Finding::new(verdict, lines)
}

/// The final read of each node that succeeded (the last one).
fn final_reads<'a>(
    ops: &'a [Done<'a>],
    finals: &HashMap<u64, String>,
) -> BTreeMap<String, &'a Value> {
    let mut out = BTreeMap::new();
    for o in ops
        .iter()
        .filter(|o| o.f == "read" && o.outcome == Outcome::Ok)
    {
        if let (Some(node), Some(v)) = (finals.get(&o.process), o.output) {
            out.insert(node.clone(), v);
        }
    }
    out
}

/// Notes the nodes whose final read never succeeded (or that no final
/// read was made): their state is unknown, so the verdict can be no better
/// than unknown. Returns that bound.
fn note_missing_finals(
    finals: &HashMap<u64, String>,
    got: &BTreeMap<String, &Value>,
    lines: &mut Vec<String>,
) -> Verdict {
    let mut verdict = Verdict::Valid;
    let all: HashSet<&String> = finals.values().collect();
    let mut missing: Vec<&String> = all.into_iter().filter(|n| !got.contains_key(*n)).collect();
    missing.sort();
    if !missing.is_empty() {
        verdict = Verdict::Unknown;
        let names: Vec<&str> = missing.iter().map(|n| n.as_str()).collect();
        lines.push(format!(
            "no final read succeeded on {}: their state is unknown",
            names.join(", ")
        ));
    }
    if finals.is_empty() {
        verdict = Verdict::Unknown;
        lines.push("no final reads were made".into());
    }
    verdict
}

/// broadcast and g-set: every acknowledged element in every node's final
/// read (lost otherwise); nothing read that nobody added (unexpected).
fn grow_set(ops: &[Done<'_>], finals: &HashMap<u64, String>, add: &str, what: &str) -> Finding {
    let attempted: HashSet<String> = ops
        .iter()
        .filter(|o| o.f == add)
        .map(|o| o.input.to_string())
        .collect();
    let acked: Vec<&Value> = ops
        .iter()
        .filter(|o| o.f == add && o.outcome == Outcome::Ok)
        .map(|o| o.input)
        .collect();
    let mut lines = vec![format!(
        "{} {what}s attempted, {} acknowledged",
        attempted.len(),
        acked.len()
    )];
    let mut verdict = Verdict::Valid;
    let mut unexpected: HashSet<String> = HashSet::new();
    let mut malformed = Vec::new();
    for o in ops
        .iter()
        .filter(|o| o.f == "read" && o.outcome == Outcome::Ok)
    {
        match o.output {
            Some(Value::Array(items)) => {
                for v in items {
                    if !attempted.contains(&v.to_string()) {
                        unexpected.insert(v.to_string());
                    }
                }
            }
            other => malformed.push(other.cloned().unwrap_or(Value::Null).to_string()),
        }
    }
    if !malformed.is_empty() {
        verdict = Verdict::Invalid;
        lines.push(format!(
            "{} reads answered without a list, e.g. {}",
            malformed.len(),
            malformed[0]
        ));
    }
    if !unexpected.is_empty() {
        verdict = Verdict::Invalid;
        let mut ex: Vec<String> = unexpected.iter().cloned().collect();
        ex.sort();
        ex.truncate(EXAMPLES);
        lines.push(format!(
            "{} unexpected {what}s (read, never sent): {}",
            unexpected.len(),
            ex.join(", ")
        ));
    }
    let got = final_reads(ops, finals);
    for (node, v) in &got {
        let seen: HashSet<String> = match v {
            Value::Array(items) => items.iter().map(Value::to_string).collect(),
            _ => HashSet::new(),
        };
        let lost: Vec<String> = acked
            .iter()
            .map(|v| v.to_string())
            .filter(|v| !seen.contains(v))
            .collect();
        if lost.is_empty() {
            lines.push(format!(
                "{node}: final read holds all {} acknowledged",
                acked.len()
            ));
        } else {
            verdict = Verdict::Invalid;
            lines.push(format!(
                "{node}: {} acknowledged {what}s lost (not in its final read): {}",
                lost.len(),
                lost.iter()
                    .take(EXAMPLES)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    verdict = verdict.worst(note_missing_finals(finals, &got, &mut lines));
    Finding::new(verdict, lines)
}

/// g-counter and pn-counter: every final read between the acknowledged sum
/// and that sum plus the indefinite adds (their positive deltas above,
/// negative below).
fn counter(ops: &[Done<'_>], finals: &HashMap<u64, String>) -> Finding {
    let delta = |o: &Done| o.input.as_i64().unwrap_or(0);
    let adds = ops.iter().filter(|o| o.f == "add");
    let (mut acked, mut lo, mut hi) = (0i64, 0i64, 0i64);
    for o in adds {
        match o.outcome {
            Outcome::Ok => acked += delta(o),
            Outcome::Info => {
                lo += delta(o).min(0);
                hi += delta(o).max(0);
            }
            Outcome::Fail => {}
        }
    }
    let (lower, upper) = (acked + lo, acked + hi);
    let mut lines = vec![format!(
        "acknowledged sum {acked}; a final read must lie in [{lower}, {upper}]"
    )];
    let mut verdict = Verdict::Valid;
    let got = final_reads(ops, finals);
    for (node, v) in &got {
        match v.as_i64() {
            Some(x) if (lower..=upper).contains(&x) => lines.push(format!("{node}: read {x}")),
            Some(x) => {
                verdict = Verdict::Invalid;
                lines.push(format!("{node}: read {x}, outside [{lower}, {upper}]"));
            }
            None => {
                verdict = Verdict::Invalid;
                lines.push(format!("{node}: read {v}, not an integer"));
            }
        }
    }
    verdict = verdict.worst(note_missing_finals(finals, &got, &mut lines));
    Finding::new(verdict, lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::history::{EventType, Process};

    fn ev(i: u64, p: u64, kind: EventType, f: &str, value: Value) -> Event {
        Event {
            index: i,
            time: i,
            process: Process::Client(p),
            kind,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    #[test]
    fn a_lost_broadcast_is_named_with_its_node() {
        use EventType::*;
        let events = vec![
            ev(0, 0, Invoke, "broadcast", json!(1)),
            ev(1, 0, Ok, "broadcast", json!(1)),
            ev(2, 1, Invoke, "broadcast", json!(2)),
            ev(3, 1, Ok, "broadcast", json!(2)),
            ev(4, 10, Invoke, "read", Value::Null),
            ev(5, 10, Ok, "read", json!([1, 2])),
            ev(6, 11, Invoke, "read", Value::Null),
            ev(7, 11, Ok, "read", json!([1])),
        ];
        let finals = HashMap::from([(10, "n0".to_string()), (11, "n1".to_string())]);
        let f = check(
            Workload::Broadcast,
            &events,
            &finals,
            &CheckOptions::default(),
        );
        assert_eq!(f.verdict, Verdict::Invalid);
        assert!(
            f.lines
                .iter()
                .any(|l| l.starts_with("n1: 1 acknowledged") && l.ends_with(": 2")),
            "{:?}",
            f.lines
        );
        let all = [
            events[..6].to_vec(),
            vec![
                ev(6, 11, Invoke, "read", Value::Null),
                ev(7, 11, Ok, "read", json!([2, 1])),
            ],
        ]
        .concat();
        assert_eq!(
            check(Workload::Broadcast, &all, &finals, &CheckOptions::default()).verdict,
            Verdict::Valid
        );
    }

    #[test]
    fn counter_reads_must_lie_between_acknowledged_and_indefinite() {
        use EventType::*;
        let mut events = vec![
            ev(0, 0, Invoke, "add", json!(3)),
            ev(1, 0, Ok, "add", json!(3)),
            ev(2, 1, Invoke, "add", json!(2)),
            ev(3, 1, Info, "add", json!(2)),
            ev(4, 10, Invoke, "read", Value::Null),
            ev(5, 10, Ok, "read", json!(5)),
        ];
        let finals = HashMap::from([(10, "n0".to_string())]);
        let opts = CheckOptions::default();
        assert_eq!(
            check(Workload::GCounter, &events, &finals, &opts).verdict,
            Verdict::Valid
        );
        events[5].value = json!(6);
        assert_eq!(
            check(Workload::GCounter, &events, &finals, &opts).verdict,
            Verdict::Invalid
        );
        events[5].value = json!(2);
        assert_eq!(
            check(Workload::GCounter, &events, &finals, &opts).verdict,
            Verdict::Invalid
        );
    }

    #[test]
    fn duplicate_ids_and_wrong_echoes_are_invalid() {
        use EventType::*;
        let events = vec![
            ev(0, 0, Invoke, "generate", Value::Null),
            ev(1, 0, Ok, "generate", json!("a")),
            ev(2, 1, Invoke, "generate", Value::Null),
            ev(3, 1, Ok, "generate", json!("a")),
        ];
        let none = HashMap::new();
        let opts = CheckOptions::default();
        assert_eq!(
            check(Workload::UniqueIds, &events, &none, &opts).verdict,
            Verdict::Invalid
        );
        let echoes = vec![
            ev(0, 0, Invoke, "echo", json!("x")),
            ev(1, 0, Ok, "echo", json!("y")),
        ];
        assert_eq!(
            check(Workload::Echo, &echoes, &none, &opts).verdict,
            Verdict::Invalid
        );
    }
}
