//! Builds a [`TxnHistory`] from paired operations (a run's history in
//! memory, or one read by the generic importers): the same micro-operation
//! shapes as the text reader, from JSON values.

use serde_json::Value;

use super::build::{Builder, Kind};
use super::history::{Mop, MopKind, ReadValue, TxnHistory};
use super::parse::ParseError;
use crate::history::{Operation, Outcome};

/// Converts paired operations (invocation order, as [`crate::history::Pairer`]
/// makes them); `line` of an error is the operation's invocation index + 1.
pub fn from_operations(ops: &[&Operation]) -> Result<TxnHistory, ParseError> {
    // Replay them as events in history order, so positions order real time.
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoke_index, i, false));
        if let Some(c) = op.complete_index {
            events.push((c, i, true));
        }
    }
    events.sort_unstable();
    let mut b = Builder::default();
    for (index, i, completion) in events {
        let op = ops[i];
        let line = op.invoke_index as usize + 1;
        let (kind, value, time) = match (completion, op.outcome) {
            (false, _) => (Kind::Invoke, &op.input, op.invoke_time),
            (true, Outcome::Ok) => (Kind::Ok, &op.output, op.complete_time.unwrap_or(0)),
            (true, Outcome::Fail) => (Kind::Fail, &Value::Null, op.complete_time.unwrap_or(0)),
            (true, Outcome::Info) => continue,
        };
        client_event(&mut b, kind, op.process, &op.f, value, index, time, line)
            .map_err(|message| ParseError { line, message })?;
    }
    Ok(b.finish())
}

/// Takes one client event: its micro-operations into the builder's
/// scratch, then the event itself.
#[allow(clippy::too_many_arguments)]
fn client_event(
    b: &mut Builder,
    kind: Kind,
    process: u64,
    f: &str,
    value: &Value,
    index: u64,
    time: u64,
    line: usize,
) -> Result<(), String> {
    let mark = b.mark();
    if f != "txn" {
        return Err(format!(
            "f is {f:?}, not \"txn\": a transactional model reads only transactions (micro-operations in value)"
        ));
    }
    match value {
        Value::Array(mops) => {
            for (i, m) in mops.iter().enumerate() {
                let mop = mop(b, m, kind == Kind::Ok)
                    .map_err(|e| format!("micro-operation {}: {e}", i + 1))?;
                b.scratch.push(mop);
            }
        }
        Value::Null if matches!(kind, Kind::Fail | Kind::Info) => {}
        other => {
            return Err(format!(
                "value must be an array of micro-operations, got {other}"
            ))
        }
    }
    b.push(kind, process, Some(index), Some(time), line, mark)
}

fn mop(b: &mut Builder, m: &Value, keep_reads: bool) -> Result<Mop, String> {
    let Some([f, k, v]) = m.as_array().map(Vec::as_slice) else {
        return Err(format!(
            "expected [f, key, value] such as [\"append\",\"x\",1], got {m}"
        ));
    };
    let kind = match f.as_str() {
        Some("append") => MopKind::Append,
        Some("r") => MopKind::Read,
        Some("w") => MopKind::Write,
        _ => return Err(format!("unknown function {f} (expected append, r or w)")),
    };
    let key = match k {
        Value::String(s) => b.h.keys.intern(s),
        Value::Number(n) => b.h.keys.intern(&n.to_string()),
        other => return Err(format!("key must be a string or an integer, got {other}")),
    };
    let mut out = Mop {
        kind,
        key,
        arg: 0,
        read: ReadValue::Unknown,
    };
    if kind != MopKind::Read {
        out.arg = v
            .as_i64()
            .ok_or_else(|| format!("the {} value must be an integer, got {v}", kind.name()))?;
        return Ok(out);
    }
    if !keep_reads {
        return Ok(out);
    }
    out.read = match v {
        Value::Null => ReadValue::Nil,
        Value::Number(n) => ReadValue::Int(
            n.as_i64()
                .ok_or_else(|| format!("a read's value must be an integer, got {n}"))?,
        ),
        Value::Array(items) => {
            let start = b.h.elements.len();
            for e in items {
                let e = e
                    .as_i64()
                    .ok_or_else(|| format!("list elements must be integers, got {e}"))?;
                b.h.elements.push(e);
            }
            ReadValue::List {
                start: start as u32,
                len: items.len() as u32,
            }
        }
        other => {
            return Err(format!(
                "a read's value must be null, an integer or a list, got {other}"
            ))
        }
    };
    Ok(out)
}
