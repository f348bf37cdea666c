//! Inference for `txn-rw-register`: registers written with values unique
//! per key, and read.
//!
//! What can and cannot be inferred. A read names the write it saw (values
//! are unique), so **wr** edges are exact. A register's later versions
//! overwrite earlier ones without a trace, so reads do not order versions:
//! the only version order known without assumptions is that the initial
//! state (`nil`) precedes every written value. Hence:
//!
//! - **wr**: the writer of the value read to the reader (external reads);
//! - **rw**: a reader of the initial state to every transaction that wrote
//!   the key and is known to have committed (ok, or unknown but read by
//!   someone);
//! - **ww**: none. Orders that need an assumption about the database (a
//!   transaction's write follows the version it read; per-key
//!   linearizability) are not guessed, so G0 is out of reach of this model,
//!   and a cycle needing such an edge is not reported.
//! - Without unique writes nothing can be told apart: a value written twice
//!   to a key makes the answer `unknown`.
//!
//! Non-cyclic anomalies: `G1a` (a committed read of a failed write),
//! `G1b` (of a write its transaction overwrote), `garbage-read` (of a value
//! nobody wrote), `internal` (a read disagreeing with the transaction's own
//! earlier write or read of the key), `future-read` (a read of the value the
//! transaction writes later), `lost-update` (two committed transactions read
//! the same version of a key and both wrote it).

use rustc_hash::{FxHashMap, FxHashSet};

use super::anomaly::Found;
use super::graph::{RW, WR};
use super::history::{KeyId, MopKind, ReadValue, TxnHistory};
use super::infer::{lost_updates, writes_key, Inference, Versions};
use crate::history::Outcome;

/// Infers edges and non-cyclic anomalies of an rw-register history.
pub fn infer(h: &TxnHistory) -> Inference {
    let member: Vec<bool> = h.txns.iter().map(|t| t.outcome != Outcome::Fail).collect();
    let mut inf = Inference::new(member);
    let mut writer: FxHashMap<(KeyId, i64), u32> =
        FxHashMap::with_capacity_and_hasher(h.mops.len(), Default::default());
    let mut intermediate: FxHashSet<(KeyId, i64)> = FxHashSet::default();
    for (t, _) in h.txns.iter().enumerate() {
        let mut last: FxHashMap<KeyId, i64> = FxHashMap::default();
        for m in h.mops_of(t).iter().filter(|m| m.kind == MopKind::Write) {
            if let Some(prev) = writer.insert((m.key, m.arg), t as u32) {
                inf.not_unique(h, m, prev, t, "rw-register");
                return inf;
            }
            if let Some(p) = last.insert(m.key, m.arg) {
                intermediate.insert((m.key, p));
            }
        }
    }
    // key -> (reader, value read) of external reads; key -> transactions that
    // wrote it and are known to have committed.
    let mut external: FxHashMap<KeyId, Vec<(u32, ReadValue)>> = FxHashMap::default();
    let mut observed: FxHashSet<u32> = FxHashSet::default();
    for (t, txn) in h.txns.iter().enumerate() {
        if txn.outcome != Outcome::Ok {
            continue;
        }
        let mops = h.mops_of(t);
        let mut state: FxHashMap<KeyId, ReadValue> = FxHashMap::default();
        for (i, m) in mops.iter().enumerate() {
            match m.kind {
                MopKind::Write | MopKind::Append => {
                    state.insert(m.key, ReadValue::Int(m.arg));
                }
                MopKind::Read => {
                    let later = mops[i + 1..].iter().any(|x| {
                        x.kind == MopKind::Write
                            && x.key == m.key
                            && m.read == ReadValue::Int(x.arg)
                    });
                    if later && !state.contains_key(&m.key) {
                        let ReadValue::Int(v) = m.read else { continue };
                        inf.found
                            .push(Found::on("future-read", t).key(m.key).mop(i).element(v));
                    } else if let Some(&expected) = state.get(&m.key) {
                        if expected != m.read {
                            inf.found.push(
                                Found::on("internal", t)
                                    .key(m.key)
                                    .mop(i)
                                    .expected(h.render_read(expected)),
                            );
                        }
                    } else {
                        external.entry(m.key).or_default().push((t as u32, m.read));
                        read_anomalies(
                            h,
                            t,
                            i,
                            &writer,
                            &intermediate,
                            &mut inf.found,
                            &mut observed,
                        );
                    }
                    state.insert(m.key, m.read);
                }
            }
        }
    }
    let mut committed: FxHashMap<KeyId, Vec<u32>> = FxHashMap::default();
    for (&(k, _), &w) in &writer {
        let txn = &h.txns[w as usize];
        if txn.outcome == Outcome::Ok || (txn.outcome == Outcome::Info && observed.contains(&w)) {
            committed.entry(k).or_default().push(w);
        }
    }
    let mut keys: Vec<KeyId> = external.keys().copied().collect();
    keys.sort_unstable();
    for k in keys {
        let mut writers = committed.remove(&k).unwrap_or_default();
        writers.sort_unstable();
        writers.dedup();
        let mut by_version: FxHashMap<Option<i64>, Vec<u32>> = FxHashMap::default();
        for &(reader, v) in &external[&k] {
            match v {
                ReadValue::Int(v) => {
                    if let Some(&w) = writer.get(&(k, v)).filter(|&&w| inf.member[w as usize]) {
                        inf.edges.push((w, reader, WR));
                    }
                }
                _ => {
                    for &w in &writers {
                        inf.edges.push((reader, w, RW));
                    }
                }
            }
            if writes_key(h, reader, k, MopKind::Write) {
                let version = match v {
                    ReadValue::Int(v) => Some(v),
                    _ => None,
                };
                by_version.entry(version).or_default().push(reader);
            }
        }
        let name = |v: &Option<i64>| v.map_or("nil".to_string(), |v| v.to_string());
        lost_updates(h, k, by_version, name, &mut inf.found);
        inf.versions.insert(k, Versions::Register);
    }
    inf
}

/// G1a, G1b and garbage reads of one external read.
fn read_anomalies(
    h: &TxnHistory,
    t: usize,
    i: usize,
    writer: &FxHashMap<(KeyId, i64), u32>,
    intermediate: &FxHashSet<(KeyId, i64)>,
    found: &mut Vec<Found>,
    observed: &mut FxHashSet<u32>,
) {
    let m = h.mops_of(t)[i];
    let ReadValue::Int(v) = m.read else { return };
    match writer.get(&(m.key, v)) {
        None => found.push(Found::on("garbage-read", t).key(m.key).mop(i).element(v)),
        Some(&w) => {
            observed.insert(w);
            if h.txns[w as usize].outcome == Outcome::Fail {
                found.push(
                    Found::on("G1a", t)
                        .key(m.key)
                        .mop(i)
                        .element(v)
                        .with(w as usize),
                );
            } else if intermediate.contains(&(m.key, v)) && w as usize != t {
                found.push(
                    Found::on("G1b", t)
                        .key(m.key)
                        .mop(i)
                        .element(v)
                        .with(w as usize),
                );
            }
        }
    }
}
