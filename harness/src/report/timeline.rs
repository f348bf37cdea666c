//! The history, encoded compactly for the page's timeline and plots.
//!
//! Operations go as columns (one JSON array per field) in invocation order:
//! the invocation time as a delta from the previous one and the latency,
//! both in microseconds, the lane (client process), an outcome-and-function
//! code, the key, a short value text and the history index (as a delta).
//! A million operations take about 20 bytes each, which the page parses in
//! well under a second.

use std::collections::HashMap;
use std::fmt::Write as _;

use faultline_checker::history::{pairs, Event, Outcome, Process};
use serde_json::Value;

use super::faults::{bands, Band};

/// Longest value text kept per operation (list reads can be long).
const VALUE_CHARS: usize = 40;

/// Outcome codes of the `code` column (`code = outcome + 3 * function`).
const OK: u32 = 0;
const FAIL: u32 = 1;
const INFO: u32 = 2;

/// One operation as the page draws it.
struct Op {
    lane: usize,
    invoke: u64,
    complete: Option<u64>,
    outcome: u32,
    f: usize,
    key: usize,
    value: String,
    index: u64,
}

/// The operations of a history with the lanes, functions and keys their
/// columns index into.
#[derive(Default)]
struct Table {
    lanes: Vec<u64>,
    fs: Vec<String>,
    keys: Vec<String>,
    ops: Vec<Op>,
}

impl Table {
    /// Every paired operation of `events`, in invocation order.
    fn of(events: &[Event]) -> Table {
        let mut lanes: Vec<u64> = events
            .iter()
            .filter_map(|e| match e.process {
                Process::Client(p) => Some(p),
                Process::Nemesis => None,
            })
            .collect();
        lanes.sort_unstable();
        lanes.dedup();
        let mut t = Table {
            lanes,
            ..Table::default()
        };
        let lane_of: HashMap<u64, usize> =
            t.lanes.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        let mut f_of: HashMap<String, usize> = HashMap::new();
        let mut key_of: HashMap<Option<String>, usize> = HashMap::new();
        for pair in pairs(events) {
            let ev = &events[pair.invoke];
            let f = *f_of.entry(ev.f.clone()).or_insert_with(|| {
                t.fs.push(ev.f.clone());
                t.fs.len() - 1
            });
            let key = *key_of.entry(ev.key.clone()).or_insert_with(|| {
                t.keys.push(ev.key.clone().unwrap_or_default());
                t.keys.len() - 1
            });
            let done = pair.completion.map(|c| &events[c]);
            t.ops.push(Op {
                lane: lane_of[&pair.process],
                invoke: ev.time,
                complete: done.map(|c| c.time),
                outcome: match pair.outcome {
                    Outcome::Ok => OK,
                    Outcome::Fail => FAIL,
                    Outcome::Info => INFO,
                },
                f,
                key,
                value: op_value(ev, done.filter(|_| pair.outcome == Outcome::Ok)),
                index: ev.index,
            });
        }
        t
    }
}

/// The value text of an operation: what it sent, and what an `ok`
/// completion (`done`) saw when that differs (`1 → 2`).
fn op_value(invoke: &Event, done: Option<&Event>) -> String {
    let value = value_text(&invoke.value);
    let seen = match done {
        Some(d) if !d.value.is_null() => value_text(&d.value),
        _ => return value,
    };
    if seen == value {
        value
    } else if value.is_empty() {
        seen
    } else {
        short(&format!("{value} → {seen}"))
    }
}

/// Nanoseconds to microseconds.
fn us(ns: u64) -> u64 {
    ns / 1000
}

/// What the page draws, as a JSON object text.
///
/// `detected_at` (ns) marks where the checker found the anomaly.
pub fn encode(events: &[Event], detected_at: Option<u64>) -> String {
    let end = events.iter().map(|e| e.time).max().unwrap_or(0);
    let Table {
        lanes,
        fs,
        keys,
        ops,
    } = Table::of(events);
    let mut out = String::with_capacity(ops.len() * 24 + 1024);
    let _ = write!(
        out,
        "{{\"end\":{},\"detected\":{},\"lanes\":{},\"fs\":{},\"keys\":{},\"n\":{}",
        us(end),
        detected_at
            .map(|t| us(t).to_string())
            .unwrap_or_else(|| "null".into()),
        serde_json::to_string(&lanes).unwrap_or_default(),
        serde_json::to_string(&fs).unwrap_or_default(),
        serde_json::to_string(&keys).unwrap_or_default(),
        ops.len()
    );
    write_columns(&mut out, &ops);
    let faults: Vec<Value> = bands(events, end)
        .into_iter()
        .map(|b: Band| {
            serde_json::json!({
                "start": us(b.start),
                "end": us(b.end),
                "kind": b.kind,
                "label": b.label,
            })
        })
        .collect();
    let _ = write!(
        out,
        ",\"faults\":{}}}",
        serde_json::to_string(&faults).unwrap_or_else(|_| "[]".into())
    );
    out
}

/// The operations' columns: invocation time (delta), latency (-1: never
/// completed), lane, code, key, history index (delta) and value text.
fn write_columns(out: &mut String, ops: &[Op]) {
    let deltas = |values: Vec<u64>| {
        values.into_iter().scan(0u64, |prev, v| {
            let d = v as i64 - *prev as i64;
            *prev = v;
            Some(d)
        })
    };
    column(out, "t", deltas(ops.iter().map(|o| us(o.invoke)).collect()));
    column(
        out,
        "lat",
        ops.iter().map(|o| {
            o.complete
                .map(|c| (us(c) as i64 - us(o.invoke) as i64).max(0))
                .unwrap_or(-1)
        }),
    );
    column(out, "lane", ops.iter().map(|o| o.lane as i64));
    column(
        out,
        "code",
        ops.iter().map(|o| (o.outcome + 3 * o.f as u32) as i64),
    );
    column(out, "key", ops.iter().map(|o| o.key as i64));
    column(out, "idx", deltas(ops.iter().map(|o| o.index).collect()));
    out.push_str(",\"val\":[");
    for (i, o) in ops.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&o.value).unwrap_or_else(|_| "\"\"".into()));
    }
    out.push(']');
}

/// Writes `,"name":[v1,v2,...]`.
fn column(out: &mut String, name: &str, values: impl Iterator<Item = i64>) {
    let _ = write!(out, ",\"{name}\":[");
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v}");
    }
    out.push(']');
}

/// A value as short text: nothing for null, JSON otherwise, cut to
/// [`VALUE_CHARS`] characters.
fn value_text(v: &Value) -> String {
    if v.is_null() {
        return String::new();
    }
    short(&v.to_string())
}

fn short(s: &str) -> String {
    if s.chars().count() <= VALUE_CHARS {
        return s.to_string();
    }
    let mut t: String = s.chars().take(VALUE_CHARS - 1).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::history::EventType;
    use serde_json::json;

    fn ev(index: u64, time: u64, p: Process, kind: EventType, f: &str, value: Value) -> Event {
        Event {
            index,
            time,
            process: p,
            kind,
            f: f.into(),
            key: Some("x".into()),
            value,
            error: None,
        }
    }

    #[test]
    fn operations_become_columns_with_deltas_and_outcomes() {
        use EventType::*;
        use Process::*;
        let events = vec![
            ev(0, 1_000_000, Client(4), Invoke, "write", json!(3)),
            ev(1, 2_000_000, Client(7), Invoke, "read", Value::Null),
            ev(2, 2_500_000, Client(4), Ok, "write", json!(3)),
            ev(3, 3_000_000, Client(7), Ok, "read", json!(3)),
            ev(4, 4_000_000, Client(4), Invoke, "read", Value::Null),
            ev(5, 9_000_000, Nemesis, Info, "kill", json!(["n2"])),
        ];
        let doc: Value = serde_json::from_str(&encode(&events, Some(3_000_000))).unwrap();
        assert_eq!(doc["n"], 3);
        assert_eq!(doc["end"], 9000);
        assert_eq!(doc["detected"], 3000);
        assert_eq!(doc["lanes"], json!([4, 7]));
        assert_eq!(doc["fs"], json!(["write", "read"]));
        assert_eq!(doc["t"], json!([1000, 1000, 2000]));
        assert_eq!(doc["lat"], json!([1500, 1000, -1]));
        assert_eq!(doc["lane"], json!([0, 1, 0]));
        // ok write, ok read, info (never completed) read.
        assert_eq!(doc["code"], json!([0, 3, 5]));
        assert_eq!(doc["idx"], json!([0, 1, 3]));
        assert_eq!(doc["val"], json!(["3", "3", ""]));
        assert_eq!(doc["faults"][0]["label"], "kill n2");
    }

    #[test]
    fn long_values_are_cut() {
        let long = json!((0..100).collect::<Vec<_>>());
        let t = value_text(&long);
        assert_eq!(t.chars().count(), VALUE_CHARS);
        assert!(t.ends_with('…'));
    }
}
