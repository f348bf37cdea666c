//! The history of a test: events as recorded (one JSON object a line, see
//! docs/history.md) and operations made by pairing each invocation with its
//! completion ([`pair`] checks the pairing rules, [`pairs`] forgives them).
//!
//! Semantics follow Jepsen: `ok` took effect, `fail` certainly did not, and
//! `info` (or no completion at all) may take effect at any time after its
//! invocation, or never. A process that got `info` never invokes again.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Who issued an event: a numbered client process or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    /// A client process; a client that got `info` continues under a new number.
    Client(u64),
    /// The fault injector: its events are `info` and never part of a check.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(n) => write!(f, "{n}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(n) => s.serialize_u64(*n),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(Process::Client).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "process must be a non-negative integer or \"nemesis\", got {n}"
                ))
            }),
            Value::String(s) if s == "nemesis" => Ok(Process::Nemesis),
            other => Err(serde::de::Error::custom(format!(
                "process must be a non-negative integer or \"nemesis\", got {other}"
            ))),
        }
    }
}

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// An operation starts: its value is the argument (`null` for reads).
    Invoke,
    /// The operation took effect; the value is what it observed.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// Unknown outcome: it may take effect at any later time, or never.
    Info,
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        })
    }
}

/// One line of `history.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the history, from 0.
    pub index: u64,
    /// Nanoseconds since the test started (monotonic clock).
    #[serde(default)]
    pub time: u64,
    /// Client number or the nemesis.
    pub process: Process,
    /// invoke / ok / fail / info.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The function: `read`, `write`, `cas`, `add`, `append`, `get`, `put`, or
    /// a fault name for nemesis events.
    pub f: String,
    /// The independent object the operation acts on; absent for a single register.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_key"
    )]
    pub key: Option<String>,
    /// Argument (on invoke) or observed result (on ok), see docs/history.md.
    #[serde(default)]
    pub value: Value,
    /// Why a `fail` or `info` happened, when known. A `fail` with an error
    /// observed nothing about the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn deserialize_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "key must be a string or a number, got {other}"
        ))),
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Took effect, observed `Operation::output`.
    Ok,
    /// Certainly did not take effect.
    Fail,
    /// Unknown: `info`, or never completed.
    Info,
}

/// An invocation paired with its completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Position among the history's client operations, in invocation order.
    pub id: usize,
    /// The client process that issued it.
    pub process: u64,
    /// The function name (`read`, `write`, `cas`, ...), as invoked.
    pub f: String,
    /// The object it acts on (None: the single register).
    pub key: Option<String>,
    /// The invocation's value (the argument).
    pub input: Value,
    /// The completion's value (what an `ok` observed); `Null` otherwise.
    pub output: Value,
    /// How it ended: ok, fail, or info when unknown or never completed.
    pub outcome: Outcome,
    /// The completion's error field, if any.
    pub error: Option<String>,
    /// History index of the invocation.
    pub invoke_index: u64,
    /// History index of the completion, None when it never completed.
    pub complete_index: Option<u64>,
    /// Time of the invocation (ns).
    pub invoke_time: u64,
    /// Time of the completion (ns), None when it never completed.
    pub complete_time: Option<u64>,
}

impl Operation {
    /// One readable line, in the style of Knossos: `p3 cas x [1 4] -> ok`.
    pub fn describe(&self) -> String {
        let key = self
            .key
            .as_deref()
            .map(|k| format!(" {k}"))
            .unwrap_or_default();
        let input = if self.input.is_null() {
            String::new()
        } else {
            format!(" {}", self.input)
        };
        let result = match self.outcome {
            Outcome::Ok
                if self.output != self.input
                    && (!self.output.is_null() || self.input.is_null()) =>
            {
                format!("ok {}", self.output)
            }
            Outcome::Ok => "ok".to_string(),
            Outcome::Fail => match &self.error {
                Some(e) => format!("fail ({e})"),
                None => "fail".to_string(),
            },
            Outcome::Info => "info (unknown)".to_string(),
        };
        format!("p{} {}{}{} -> {}", self.process, self.f, key, input, result)
    }
}

/// What is wrong with a history. Line numbers are 1-based lines of the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HistoryError {
    /// A completion for a process that has no invocation open.
    #[error("line {line}: {kind} for process {process} without an open invocation")]
    CompletionWithoutInvoke {
        /// Line of the completion.
        line: usize,
        /// Its type (ok, fail or info).
        kind: EventType,
        /// The process that completed with nothing open.
        process: Process,
    },
    /// A process invoked while it still had an open invocation.
    #[error("line {line}: process {process} invokes again while its invocation on line {open_line} is still open")]
    DoubleInvoke {
        /// Line of the second invocation.
        line: usize,
        /// Line of the open invocation.
        open_line: usize,
        /// The process that invoked twice.
        process: Process,
    },
    /// A process invoked again after an `info` completion.
    #[error("line {line}: process {process} invokes again after its info on line {info_line}; a process that got info must continue under a new number")]
    ReusedAfterInfo {
        /// Line of the offending invocation.
        line: usize,
        /// Line of the earlier info.
        info_line: usize,
        /// The process that should have continued under a new number.
        process: Process,
    },
    /// A completion whose function differs from its invocation's.
    #[error("line {line}: completion f {got:?} does not match the invocation's f {expected:?} on line {invoke_line}")]
    MismatchedCompletion {
        /// Line of the completion.
        line: usize,
        /// Line of the invocation.
        invoke_line: usize,
        /// The invocation's function, e.g. `write`.
        expected: String,
        /// The completion's function, which should have been the same.
        got: String,
    },
}

/// Where each event came from, for error messages: 1-based line numbers,
/// parallel to the events slice.
pub type Lines = [usize];

/// An invocation and what became of it, as positions in the events slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The client process that invoked it.
    pub process: u64,
    /// Position of the `invoke` event.
    pub invoke: usize,
    /// Position of its completion (`ok`, `fail` or `info`); None when the
    /// process never completed it.
    pub completion: Option<usize>,
    /// How it ended: `Info` for an `info` completion and for none at all.
    pub outcome: Outcome,
}

/// Pairs events one at a time, as they are read or recorded, so that a
/// history never has to be held whole: each invocation becomes an
/// [`Operation`] at once, and its completion fills it in. Strict pairing
/// reports the first rule the history breaks; forgiving pairing skips a
/// stray completion, leaves an invocation open (never completed) when its
/// process invokes again, and pairs a completion whatever its function.
#[derive(Debug, Default)]
pub struct Pairer {
    forgiving: bool,
    ops: Vec<Operation>,
    positions: Vec<Pair>,
    /// process -> (operation, line of its invocation) of its open invocation
    open: HashMap<u64, (usize, usize)>,
    /// process -> line of its info completion
    crashed: HashMap<u64, usize>,
    /// Events pushed so far (the position of the next one).
    seen: usize,
}

impl Pairer {
    /// A pairer that reports the first broken rule.
    pub fn strict() -> Self {
        Pairer::default()
    }

    /// A pairer that forgives broken rules (for readers that draw or count a
    /// history rather than check it).
    pub fn forgiving() -> Self {
        Pairer {
            forgiving: true,
            ..Pairer::default()
        }
    }

    /// Takes the next event; `line` is its 1-based source line (for errors).
    /// Nemesis events are skipped.
    pub fn push(&mut self, ev: &Event, line: usize) -> Result<(), HistoryError> {
        let at = self.seen;
        self.seen += 1;
        let Process::Client(p) = ev.process else {
            return Ok(());
        };
        if ev.kind == EventType::Invoke {
            if let Some(&(_, open_line)) = self.open.get(&p) {
                self.broken(HistoryError::DoubleInvoke {
                    line,
                    open_line,
                    process: ev.process,
                })?;
            }
            if let Some(&info_line) = self.crashed.get(&p) {
                self.broken(HistoryError::ReusedAfterInfo {
                    line,
                    info_line,
                    process: ev.process,
                })?;
            }
            self.open.insert(p, (self.ops.len(), line));
            self.positions.push(Pair {
                process: p,
                invoke: at,
                completion: None,
                outcome: Outcome::Info,
            });
            self.ops.push(Operation {
                id: self.ops.len(),
                process: p,
                f: ev.f.clone(),
                key: ev.key.clone(),
                input: ev.value.clone(),
                output: Value::Null,
                outcome: Outcome::Info,
                error: None,
                invoke_index: ev.index,
                complete_index: None,
                invoke_time: ev.time,
                complete_time: None,
            });
            return Ok(());
        }
        let Some((i, invoke_line)) = self.open.remove(&p) else {
            return self.broken(HistoryError::CompletionWithoutInvoke {
                line,
                kind: ev.kind,
                process: ev.process,
            });
        };
        if self.ops[i].f != ev.f {
            self.broken(HistoryError::MismatchedCompletion {
                line,
                invoke_line,
                expected: self.ops[i].f.clone(),
                got: ev.f.clone(),
            })?;
        }
        let outcome = match ev.kind {
            EventType::Ok => Outcome::Ok,
            EventType::Fail => Outcome::Fail,
            _ => {
                self.crashed.insert(p, line);
                Outcome::Info
            }
        };
        self.positions[i].completion = Some(at);
        self.positions[i].outcome = outcome;
        let op = &mut self.ops[i];
        op.outcome = outcome;
        op.error = ev.error.clone();
        // An info completion leaves the operation without a completion (it
        // may take effect at any later time) but keeps its error.
        if outcome != Outcome::Info {
            op.output = ev.value.clone();
            op.complete_index = Some(ev.index);
            op.complete_time = Some(ev.time);
        }
        Ok(())
    }

    fn broken(&self, e: HistoryError) -> Result<(), HistoryError> {
        if self.forgiving {
            Ok(())
        } else {
            Err(e)
        }
    }

    /// The operations so far, in invocation order; those still open count
    /// as `info` (no completion yet).
    pub fn operations_so_far(&self) -> &[Operation] {
        &self.ops
    }

    /// The operations, in invocation order.
    pub fn operations(self) -> Vec<Operation> {
        self.ops
    }

    /// The pairs as positions in the events pushed, in invocation order.
    pub fn pairs(self) -> Vec<Pair> {
        self.positions
    }
}

/// Pairs invocations with completions, forgiving: nemesis events are
/// skipped, and so is whatever breaks the pairing rules (see
/// [`pair`] for the strict version). For readers that draw or count a
/// history rather than check it. Pairs come in invocation order.
pub fn pairs(events: &[Event]) -> Vec<Pair> {
    let mut pairer = Pairer::forgiving();
    for (i, ev) in events.iter().enumerate() {
        pairer
            .push(ev, i + 1)
            .expect("a forgiving pairer reports nothing");
    }
    pairer.pairs()
}

/// Pairs invocations with completions. Nemesis events are skipped. Returns
/// operations ordered by invocation, or the first pairing rule the history
/// breaks. `lines[i]` is the source line of `events[i]` (pass `None` to
/// number events from 1).
pub fn pair(events: &[Event], lines: Option<&Lines>) -> Result<Vec<Operation>, HistoryError> {
    let mut pairer = Pairer::strict();
    for (i, ev) in events.iter().enumerate() {
        pairer.push(ev, lines.map(|l| l[i]).unwrap_or(i + 1))?;
    }
    Ok(pairer.operations())
}

/// Writes events as JSON Lines, one per line.
pub fn to_jsonl(events: &[Event]) -> String {
    let mut out = String::new();
    for ev in events {
        out.push_str(&serde_json::to_string(ev).expect("events always serialize"));
        out.push('\n');
    }
    out
}

/// A key's name for messages: the key itself, or `(single register)`.
pub fn key_name(key: &Option<String>) -> String {
    key.clone()
        .unwrap_or_else(|| "(single register)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(index: u64, process: Process, kind: EventType, f: &str, value: Value) -> Event {
        Event {
            index,
            time: index * 10,
            process,
            kind,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    #[test]
    fn event_round_trips_through_the_design_format() {
        let line = r#"{"index":6,"time":1700000,"process":"nemesis","type":"info","f":"kill","value":["n2"]}"#;
        let e: Event = serde_json::from_str(line).unwrap();
        assert_eq!(e.process, Process::Nemesis);
        assert_eq!(e.kind, EventType::Info);
        assert_eq!(serde_json::to_string(&e).unwrap(), line);
        let line = r#"{"index":4,"time":1500000,"process":2,"type":"invoke","f":"cas","key":"x","value":[3,4]}"#;
        let e: Event = serde_json::from_str(line).unwrap();
        assert_eq!(e.key.as_deref(), Some("x"));
        assert_eq!(serde_json::to_string(&e).unwrap(), line);
    }

    #[test]
    fn info_and_missing_completions_are_unknown() {
        use EventType::*;
        let c = Process::Client;
        let events = vec![
            ev(0, c(0), Invoke, "write", 1.into()),
            ev(1, c(1), Invoke, "write", 2.into()),
            ev(2, c(0), Info, "write", 1.into()),
            ev(3, Process::Nemesis, Info, "kill", Value::Null),
        ];
        let ops = pair(&events, None).unwrap();
        assert_eq!(ops.len(), 2);
        assert!(ops.iter().all(|o| o.outcome == Outcome::Info));
        assert!(ops.iter().all(|o| o.complete_time.is_none()));
    }

    #[test]
    fn forgiving_pairs_skip_what_strict_pairing_refuses() {
        use EventType::*;
        let c = Process::Client;
        let events = vec![
            ev(0, c(0), Ok, "read", Value::Null),
            ev(1, c(0), Invoke, "write", 1.into()),
            ev(2, Process::Nemesis, Info, "kill", Value::Null),
            ev(3, c(0), Invoke, "write", 2.into()),
            ev(4, c(0), Fail, "write", 2.into()),
            ev(5, c(1), Invoke, "read", Value::Null),
            ev(6, c(1), Info, "read", Value::Null),
        ];
        assert!(pair(&events, None).is_err());
        let got = pairs(&events);
        let want = vec![
            Pair {
                process: 0,
                invoke: 1,
                completion: None,
                outcome: Outcome::Info,
            },
            Pair {
                process: 0,
                invoke: 3,
                completion: Some(4),
                outcome: Outcome::Fail,
            },
            Pair {
                process: 1,
                invoke: 5,
                completion: Some(6),
                outcome: Outcome::Info,
            },
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn malformed_pairings_name_the_line() {
        use EventType::*;
        let c = Process::Client;
        let err = pair(&[ev(0, c(0), Ok, "read", Value::Null)], None).unwrap_err();
        assert!(err.to_string().starts_with("line 1:"), "{err}");
        let events = vec![
            ev(0, c(0), Invoke, "write", 1.into()),
            ev(1, c(0), Info, "write", 1.into()),
            ev(2, c(0), Invoke, "write", 2.into()),
        ];
        let err = pair(&events, None).unwrap_err();
        assert!(matches!(
            err,
            HistoryError::ReusedAfterInfo {
                line: 3,
                info_line: 2,
                ..
            }
        ));
    }
}
