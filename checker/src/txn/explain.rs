//! Explanations a person can follow: why one transaction precedes another
//! (the key and the values behind each edge), and what each anomaly is, in
//! the manner of Elle ("T1 < T2, because T2 read x = [.. 3], which T1
//! appended").

use super::anomaly::Found;
use super::graph::{kind_name, PROCESS, REALTIME, RW, WR, WW};
use super::history::{KeyId, MopKind, ReadValue, TxnHistory};
use super::infer::{Inference, Versions};

/// Why `a` precedes `b` by an edge labelled `kind`: the key (when the edge
/// comes from one) and a sentence in terms of T-names `na`, `nb`.
pub fn edge(
    h: &TxnHistory,
    inf: &Inference,
    a: usize,
    b: usize,
    kind: u8,
    na: &str,
    nb: &str,
) -> (Option<KeyId>, String) {
    match kind {
        PROCESS => (
            None,
            format!("process {} ran {na} and then {nb}", h.txns[a].process),
        ),
        REALTIME => (
            None,
            format!(
                "{na} completed (index {}) before {nb} began (index {})",
                h.txns[a].complete_index.unwrap_or(h.txns[a].invoke_index),
                h.txns[b].invoke_index
            ),
        ),
        WW => ww(h, inf, a, b, na, nb),
        WR => wr(h, a, b, na, nb),
        RW => rw(h, inf, a, b, na, nb),
        _ => (None, format!("{na} {} {nb}", kind_name(kind))),
    }
}

fn external_reads(h: &TxnHistory, t: usize) -> Vec<(KeyId, ReadValue)> {
    let mut touched = std::collections::HashSet::new();
    let mut out = Vec::new();
    for m in h.mops_of(t) {
        if m.kind == MopKind::Read && !touched.contains(&m.key) {
            out.push((m.key, m.read));
        }
        touched.insert(m.key);
    }
    out
}

fn writes(h: &TxnHistory, t: usize) -> Vec<(KeyId, i64, MopKind)> {
    h.mops_of(t)
        .iter()
        .filter(|m| m.kind != MopKind::Read)
        .map(|m| (m.key, m.arg, m.kind))
        .collect()
}

fn verb(kind: MopKind) -> &'static str {
    if kind == MopKind::Append {
        "appended"
    } else {
        "wrote"
    }
}

fn ww(
    h: &TxnHistory,
    inf: &Inference,
    a: usize,
    b: usize,
    na: &str,
    nb: &str,
) -> (Option<KeyId>, String) {
    let bw = writes(h, b);
    for (k, e, kind) in writes(h, a) {
        let Some(Versions::List {
            order,
            writers_after,
        }) = inf.versions.get(&k)
        else {
            continue;
        };
        let Some(p) = order.iter().position(|x| *x == e) else {
            continue;
        };
        if let Some(next) = order.get(p + 1) {
            if bw.iter().any(|w| w.0 == k && w.1 == *next) {
                let key = h.keys.name(k);
                return (
                    Some(k),
                    format!(
                        "{na} {} {e} to {key}, and {nb} {} {next} right after it",
                        verb(kind),
                        verb(kind)
                    ),
                );
            }
        } else if writers_after.contains(&(b as u32)) {
            let key = h.keys.name(k);
            return (
                Some(k),
                format!(
                    "{na} {} {e}, the last element read of {key}, and {nb}'s append to {key} comes later (no read shows it)",
                    verb(kind)
                ),
            );
        }
    }
    (None, format!("{na} wrote a version {nb} overwrote"))
}

fn wr(h: &TxnHistory, a: usize, b: usize, na: &str, nb: &str) -> (Option<KeyId>, String) {
    let aw = writes(h, a);
    for (k, r) in external_reads(h, b) {
        let last = match r {
            ReadValue::Int(v) => Some(v),
            ReadValue::List { .. } => h.list(r).last().copied(),
            _ => None,
        };
        if let Some(w) = aw.iter().find(|w| w.0 == k && Some(w.1) == last) {
            let shown = match r {
                ReadValue::List { .. } if h.list(r).len() > 1 => format!("[.. {}]", w.1),
                _ => h.render_read(r),
            };
            return (
                Some(k),
                format!(
                    "{nb} read {} = {shown}, which {na} {}",
                    h.keys.name(k),
                    verb(w.2)
                ),
            );
        }
    }
    (None, format!("{nb} read a version {na} wrote"))
}

fn rw(
    h: &TxnHistory,
    inf: &Inference,
    a: usize,
    b: usize,
    na: &str,
    nb: &str,
) -> (Option<KeyId>, String) {
    let bw = writes(h, b);
    for (k, r) in external_reads(h, a) {
        let key = h.keys.name(k);
        match inf.versions.get(&k) {
            Some(Versions::List {
                order,
                writers_after,
            }) => {
                let seen = h.list(r);
                let shown = match seen.last() {
                    None => format!("{key} = []"),
                    Some(l) if seen.len() > 1 => format!("{key} = [.. {l}]"),
                    Some(l) => format!("{key} = [{l}]"),
                };
                if let Some(next) = order.get(seen.len()) {
                    if bw.iter().any(|w| w.0 == k && w.1 == *next) {
                        return (
                            Some(k),
                            format!("{na} read {shown}, which did not include {next}, appended next by {nb}"),
                        );
                    }
                } else if writers_after.contains(&(b as u32)) && bw.iter().any(|w| w.0 == k) {
                    return (
                        Some(k),
                        format!("{na} read {shown}, the longest {key} anyone read, and {nb} appended to {key} after it"),
                    );
                }
            }
            Some(Versions::Register) if matches!(r, ReadValue::Nil) => {
                if let Some(w) = bw.iter().find(|w| w.0 == k) {
                    return (
                        Some(k),
                        format!("{na} read the initial (nil) state of {key}, which {nb} overwrote by writing {}", w.1),
                    );
                }
            }
            _ => {}
        }
    }
    (None, format!("{na} read a version {nb} overwrote"))
}

/// A sentence for a non-cyclic anomaly; `names[i]` names `f.txns[i]`.
pub fn single(h: &TxnHistory, f: &Found, names: &[String]) -> String {
    let t = f.txns[0];
    let key = f
        .key
        .map(|k| h.keys.name(k).to_string())
        .unwrap_or_default();
    let mop = f
        .mop
        .map(|i| h.render_mop(&h.mops_of(t)[i]))
        .unwrap_or_default();
    let e = f.element.map(|e| e.to_string()).unwrap_or_default();
    let other = names.get(1).cloned().unwrap_or_default();
    let n = &names[0];
    let expected = f.expected.clone().unwrap_or_default();
    match f.name.as_str() {
        "G1a" => format!("{n} read {mop}, which includes {e}, written by {other}, which failed (aborted read)"),
        "G1b" => format!("{n} read {mop}: {e} was not {other}'s final write to {key} (intermediate read)"),
        "garbage-read" => format!("{n} read {mop}: no transaction ever wrote {e} to {key}"),
        "internal" => format!("{n} read {mop}, but its own earlier operations on {key} say it should be {expected}"),
        "future-read" => format!("{n} read {mop}, which includes {e}, a value {n} itself writes only later"),
        "duplicate-elements" => format!("{n} read {mop}, which holds {e} more than once"),
        "incompatible-order" if f.element.is_some() => format!(
            "{n} read {mop}, which shows {other}'s appends to {key} out of the order {other} made them ({expected}): a list only grows at its end"
        ),
        "incompatible-order" => format!("{n} read {mop}, which is not {expected} read by {other}: no single order of appends gives both"),
        "dirty-update" => format!("{n} appended {e} to {key} after an element of {other}, which failed: {expected}"),
        "lost-update" => format!("{} all read the same version of {key} and all wrote {key}: expected {expected}", names.join(", ")),
        other_name => format!("{n}: {other_name}"),
    }
}
