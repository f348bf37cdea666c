//! The checkers of the Maelstrom workloads, judging the history the way
//! Maelstrom's own checkers do. `lin-kv` is faultline's linearizability
//! checker (the `register` model: a cas register per key) under the
//! workload's name; the others write a [`Findings`] detail.

use std::collections::{BTreeMap, HashMap, HashSet};

use faultline_checker::history::{Operation, Outcome};
use faultline_checker::model::ModelKind;
use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkers::linearizable::Linearizable;
use crate::checkers::{CheckContext, Checker, CheckerError, Judgement};

/// The kind of detail the Maelstrom workload checkers (but `lin-kv`) write.
pub const KIND: &str = "maelstrom-workload";

/// Examples listed per anomaly.
const EXAMPLES: usize = 10;

/// What a workload's checker found: a verdict and a line per fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Valid, invalid or unknown.
    pub verdict: Verdict,
    /// One line per fact, for the terminal and the report.
    pub lines: Vec<String>,
}

impl Findings {
    fn new(verdict: Verdict, lines: Vec<String>) -> Findings {
        Findings { verdict, lines }
    }

    /// `verdict: first fact`, then the other facts, a line each.
    pub fn text(&self) -> String {
        let mut lines = self.lines.iter();
        let mut out = match lines.next() {
            Some(first) => format!("{}: {first}", self.verdict),
            None => self.verdict.to_string(),
        };
        for line in lines {
            out.push('\n');
            out.push_str(line);
        }
        out
    }
}

/// One Maelstrom workload's checker: its rules over the operations and
/// the final reads (process to node).
pub struct Rules {
    name: &'static str,
    description: &'static str,
    judge: fn(&[&Operation], &BTreeMap<u64, String>) -> Findings,
}

/// `echo`: every reply echoes what was sent.
pub const ECHO: Rules = Rules {
    name: "echo",
    description: "Maelstrom echo: every reply echoes what was sent",
    judge: |ops, _| echo(ops),
};
/// `unique-ids`: no id handed out twice.
pub const UNIQUE_IDS: Rules = Rules {
    name: "unique-ids",
    description: "Maelstrom unique-ids: no id handed out twice",
    judge: |ops, _| unique_ids(ops),
};
/// `broadcast`: every acknowledged message in every node's final read.
pub const BROADCAST: Rules = Rules {
    name: "broadcast",
    description: "Maelstrom broadcast: every acknowledged message in every node's final read",
    judge: |ops, finals| grow_set(ops, finals, "broadcast", "message"),
};
/// `g-set`: every acknowledged element in every node's final read.
pub const G_SET: Rules = Rules {
    name: "g-set",
    description: "Maelstrom g-set: every acknowledged element in every node's final read",
    judge: |ops, finals| grow_set(ops, finals, "add", "element"),
};
/// `g-counter`: final reads between the acknowledged sum and it plus the
/// indefinite adds.
pub const G_COUNTER: Rules = Rules {
    name: "g-counter",
    description: "Maelstrom g-counter: final reads between the acknowledged sum and it plus the indefinite adds",
    judge: counter,
};
/// `pn-counter`: the same bounds, decrements included.
pub const PN_COUNTER: Rules = Rules {
    name: "pn-counter",
    description: "Maelstrom pn-counter: final reads within the sums the indefinite adds allow",
    judge: counter,
};
/// `lin-kv`: linearizability, a cas register per key.
pub const LIN_KV: Linearizable = Linearizable {
    name: "lin-kv",
    model: ModelKind::Register,
};

impl Checker for Rules {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn check(&self, ctx: &CheckContext<'_>) -> Result<Judgement, CheckerError> {
        let found = (self.judge)(ctx.operations()?, &ctx.run.final_reads);
        Ok(Judgement::new(found.verdict, found.text(), &found))
    }
}

fn echo(ops: &[&Operation]) -> Findings {
    let ok: Vec<&&Operation> = ops.iter().filter(|o| o.outcome == Outcome::Ok).collect();
    let wrong: Vec<String> = ok
        .iter()
        .filter(|o| o.output != o.input)
        .map(|o| format!("sent {} got {}", o.input, o.output))
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
    Findings::new(verdict, lines)
}

fn unique_ids(ops: &[&Operation]) -> Findings {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut n = 0;
    for o in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        n += 1;
        *seen.entry(o.output.to_string()).or_default() += 1;
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
    Findings::new(verdict, lines)
}

/// The final read of each node that succeeded (the last one).
fn final_reads<'a>(
    ops: &[&'a Operation],
    finals: &BTreeMap<u64, String>,
) -> BTreeMap<String, &'a Value> {
    let mut out = BTreeMap::new();
    for o in ops
        .iter()
        .filter(|o| o.f == "read" && o.outcome == Outcome::Ok)
    {
        if let Some(node) = finals.get(&o.process) {
            out.insert(node.clone(), &o.output);
        }
    }
    out
}

/// Notes the nodes whose final read never succeeded (or that no final
/// read was made): their state is unknown, so the verdict can be no better
/// than unknown. Returns that bound.
fn note_missing_finals(
    finals: &BTreeMap<u64, String>,
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
fn grow_set(ops: &[&Operation], finals: &BTreeMap<u64, String>, add: &str, what: &str) -> Findings {
    let attempted: HashSet<String> = ops
        .iter()
        .filter(|o| o.f == add)
        .map(|o| o.input.to_string())
        .collect();
    let acked: Vec<&Value> = ops
        .iter()
        .filter(|o| o.f == add && o.outcome == Outcome::Ok)
        .map(|o| &o.input)
        .collect();
    let mut lines = vec![format!(
        "{} {what}s attempted, {} acknowledged",
        attempted.len(),
        acked.len()
    )];
    let mut verdict = unexpected_reads(ops, &attempted, what, &mut lines);
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
    Findings::new(verdict, lines)
}

/// Reads that answered without a list, or with elements nobody sent: a
/// line each kind, and the verdict they make.
fn unexpected_reads(
    ops: &[&Operation],
    attempted: &HashSet<String>,
    what: &str,
    lines: &mut Vec<String>,
) -> Verdict {
    let mut verdict = Verdict::Valid;
    let mut unexpected: HashSet<String> = HashSet::new();
    let mut malformed = Vec::new();
    for o in ops
        .iter()
        .filter(|o| o.f == "read" && o.outcome == Outcome::Ok)
    {
        match &o.output {
            Value::Array(items) => {
                for v in items {
                    if !attempted.contains(&v.to_string()) {
                        unexpected.insert(v.to_string());
                    }
                }
            }
            other => malformed.push(other.to_string()),
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
    verdict
}

/// g-counter and pn-counter: every final read between the acknowledged sum
/// and that sum plus the indefinite adds (their positive deltas above,
/// negative below).
fn counter(ops: &[&Operation], finals: &BTreeMap<u64, String>) -> Findings {
    let delta = |o: &Operation| o.input.as_i64().unwrap_or(0);
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
    Findings::new(verdict, lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::{run, RunEvidence};
    use faultline_checker::history::{pair, Event, EventType, Process};
    use faultline_checker::CheckOptions;
    use serde_json::json;

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

    /// `checker`'s verdict on `events` with `finals`.
    fn judge(checker: &dyn Checker, events: &[Event], finals: &[(u64, &str)]) -> (Verdict, String) {
        let ops = pair(events, None).unwrap();
        let refs: Vec<&Operation> = ops.iter().collect();
        let evidence = RunEvidence {
            final_reads: finals.iter().map(|(p, n)| (*p, n.to_string())).collect(),
            ..RunEvidence::default()
        };
        let ctx = CheckContext {
            events,
            operations: Ok(&refs),
            options: &CheckOptions::default(),
            run: &evidence,
        };
        let r = run(checker, &ctx);
        (r.verdict, r.text)
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
        let finals = [(10, "n0"), (11, "n1")];
        let (verdict, text) = judge(&BROADCAST, &events, &finals);
        assert_eq!(verdict, Verdict::Invalid);
        assert!(
            text.lines()
                .any(|l| l.starts_with("n1: 1 acknowledged") && l.ends_with(": 2")),
            "{text}"
        );
        let all = [
            events[..6].to_vec(),
            vec![
                ev(6, 11, Invoke, "read", Value::Null),
                ev(7, 11, Ok, "read", json!([2, 1])),
            ],
        ]
        .concat();
        assert_eq!(judge(&BROADCAST, &all, &finals).0, Verdict::Valid);
        assert_eq!(judge(&BROADCAST, &all, &[]).0, Verdict::Unknown);
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
        let finals = [(10, "n0")];
        assert_eq!(judge(&G_COUNTER, &events, &finals).0, Verdict::Valid);
        events[5].value = json!(6);
        assert_eq!(judge(&G_COUNTER, &events, &finals).0, Verdict::Invalid);
        events[5].value = json!(2);
        assert_eq!(judge(&PN_COUNTER, &events, &finals).0, Verdict::Invalid);
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
        let (verdict, text) = judge(&UNIQUE_IDS, &events, &[]);
        assert_eq!(verdict, Verdict::Invalid);
        assert!(
            text.starts_with("invalid: 2 ids generated, 1 distinct, 1 duplicated"),
            "{text}"
        );
        let echoes = vec![
            ev(0, 0, Invoke, "echo", json!("x")),
            ev(1, 0, Ok, "echo", json!("y")),
        ];
        assert_eq!(judge(&ECHO, &echoes, &[]).0, Verdict::Invalid);
        assert_eq!(LIN_KV.title(), "lin-kv checker");
    }
}
