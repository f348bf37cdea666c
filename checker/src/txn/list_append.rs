//! Inference for `txn-list-append`: lists of unique elements, appends and
//! whole-list reads. A read shows a prefix of the key's history, so reads
//! order versions exactly.
//!
//! What is inferred, and why it is sound:
//!
//! - **Version order of a key** is the longest list any committed
//!   transaction read (an element read twice counts where it first
//!   appears); every other read must be a prefix of it, and each
//!   transaction's elements in it must be its first appends to the key in
//!   the order it made them (`incompatible-order` otherwise, and then the
//!   key yields no ww or rw edge: its order is not known; its wr edges
//!   stay, they need no order). An append nobody read (by a committed
//!   transaction) comes after every element read, in an unknown order among
//!   such appends: a list only grows at its end.
//! - **ww**: the writer of element i to the writer of element i+1; the writer
//!   of the last element read to every unread committed append.
//! - **wr**: the writer of a read's last element to the reader.
//! - **rw**: a reader to the writer of the element after the prefix it read;
//!   a reader of the whole known list to every unread committed append.
//! - Only a transaction's *external* read of a key (before it appends to
//!   that key) yields wr and rw edges; later reads are checked against the
//!   transaction's own appends (`internal`).
//! - An `info` transaction is in the graph, but only what others observed of
//!   it yields edges (its elements read by someone); its own reads are not
//!   known. Once a committed read shows one of its elements it took effect,
//!   all of it, and its unread appends are ordered like a committed
//!   transaction's. A `fail` transaction is not in the graph: a committed read of
//!   its element is `G1a`.

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::anomaly::Found;
use super::graph::{RW, WR, WW};
use super::history::{KeyId, MopKind, ReadValue, TxnHistory};
use super::infer::{lost_updates, writes_key, Inference, Versions};
use crate::history::Outcome;

/// Infers edges and non-cyclic anomalies of a list-append history.
pub fn infer(h: &TxnHistory) -> Inference {
    let member: Vec<bool> = h.txns.iter().map(|t| t.outcome != Outcome::Fail).collect();
    let mut inf = Inference::new(member);
    // (key, element) -> appending transaction
    let mut writer: FxHashMap<(KeyId, i64), u32> =
        FxHashMap::with_capacity_and_hasher(h.mops.len(), Default::default());
    // (key, element) appended but not the appender's last append to the key
    let mut intermediate: FxHashSet<(KeyId, i64)> = FxHashSet::default();
    // (key, element) -> how many appends to the key its appender made
    // before it, when not 0
    let mut rank: FxHashMap<(KeyId, i64), u32> = FxHashMap::default();
    for (t, _) in h.txns.iter().enumerate() {
        // key -> (its last append so far, appends before that)
        let mut last: Vec<(KeyId, (i64, u32))> = Vec::new();
        for m in h.mops_of(t) {
            if m.kind != MopKind::Append {
                continue;
            }
            if let Some(prev) = writer.insert((m.key, m.arg), t as u32) {
                inf.not_unique(h, m, prev, t, "list-append");
                return inf;
            }
            match last.iter_mut().find(|x| x.0 == m.key).map(|x| &mut x.1) {
                Some((p, n)) => {
                    intermediate.insert((m.key, *p));
                    *n += 1;
                    rank.insert((m.key, m.arg), *n);
                    *p = m.arg;
                }
                None => last.push((m.key, (m.arg, 0))),
            }
        }
    }
    // key -> every read of a committed transaction: (txn, mop position, external)
    let mut reads: FxHashMap<KeyId, Vec<(u32, u32, bool)>> = FxHashMap::default();
    for (t, txn) in h.txns.iter().enumerate() {
        if txn.outcome == Outcome::Ok {
            internal(h, t, &mut inf.found, &mut reads);
        }
    }
    let mut keys: Vec<KeyId> = reads.keys().copied().collect();
    // Keys appended but never read still order their single append after
    // the initial state.
    let mut appended_keys: FxHashSet<KeyId> = FxHashSet::default();
    for &(k, _) in writer.keys() {
        appended_keys.insert(k);
    }
    for k in appended_keys {
        if !reads.contains_key(&k) {
            keys.push(k);
        }
    }
    keys.sort_unstable();
    // An info transaction a committed read observed (one of its elements
    // in the longest read of a key, which holds every element of a key's
    // compatible reads) took effect, all of it: its unread appends are
    // ordered like a committed transaction's.
    let mut observed: FxHashSet<u32> = FxHashSet::default();
    if h.txns.iter().any(|t| t.outcome == Outcome::Info) {
        for (&k, rs) in &reads {
            let list =
                |&(t, i, _): &(u32, u32, bool)| h.list(h.mops_of(t as usize)[i as usize].read);
            let Some(longest) = rs.iter().map(list).max_by_key(|l| l.len()) else {
                continue;
            };
            for &e in longest {
                if let Some(&w) = writer.get(&(k, e)) {
                    if h.txns[w as usize].outcome == Outcome::Info {
                        observed.insert(w);
                    }
                }
            }
        }
    }
    // key -> (element, appender) of committed appends
    let mut committed: FxHashMap<KeyId, Vec<(i64, u32)>> = FxHashMap::default();
    for (&(k, e), &t) in &writer {
        let outcome = h.txns[t as usize].outcome;
        if outcome == Outcome::Ok || (outcome == Outcome::Info && observed.contains(&t)) {
            committed.entry(k).or_default().push((e, t));
        }
    }
    let (no_reads, no_appends) = (Vec::new(), Vec::new());
    // Keys are independent: ordered in parallel, merged in key order.
    let outs: Vec<KeyOut> = keys
        .par_iter()
        .map(|k| {
            let rs = reads.get(k).unwrap_or(&no_reads);
            let appended = committed.get(k).unwrap_or(&no_appends);
            let appends = (&writer, &intermediate, &rank);
            let mut out = KeyOut::default();
            key_order(h, *k, rs, appended, appends, &inf.member, &mut out);
            out
        })
        .collect();
    for (k, out) in keys.iter().zip(outs) {
        inf.edges.extend(out.edges);
        inf.found.extend(out.found);
        if let Some(v) = out.versions {
            inf.versions.insert(*k, v);
        }
    }
    inf
}

/// Checks one committed transaction against its own appends (`internal`,
/// `future-read`) and records its reads.
fn internal(
    h: &TxnHistory,
    t: usize,
    found: &mut Vec<Found>,
    reads: &mut FxHashMap<KeyId, Vec<(u32, u32, bool)>>,
) {
    let mops = h.mops_of(t);
    // key -> (the whole list last read, or None when only our own appends
    // are known; own appends since)
    let mut state: Vec<(KeyId, Option<ReadValue>, Vec<i64>)> = Vec::new();
    for (i, m) in mops.iter().enumerate() {
        match m.kind {
            MopKind::Append => match state.iter_mut().find(|s| s.0 == m.key) {
                Some(s) => s.2.push(m.arg),
                None => state.push((m.key, None, vec![m.arg])),
            },
            MopKind::Write => {}
            MopKind::Read => {
                let seen = h.list(m.read);
                let at = state.iter().position(|s| s.0 == m.key);
                let external = at.is_none();
                reads
                    .entry(m.key)
                    .or_default()
                    .push((t as u32, i as u32, external));
                // Reading an element this transaction appends only later.
                let later: Option<i64> = mops[i + 1..]
                    .iter()
                    .filter(|x| x.kind == MopKind::Append && x.key == m.key)
                    .map(|x| x.arg)
                    .find(|a| seen.contains(a));
                if let Some(e) = later {
                    found.push(Found::on("future-read", t).key(m.key).mop(i).element(e));
                } else if let Some((_, known, own)) = at.map(|a| &state[a]) {
                    let known = known.map(|r| h.list(r));
                    let ok = match known {
                        Some(base) => {
                            base.len() + own.len() == seen.len()
                                && seen.starts_with(base)
                                && seen.ends_with(own)
                        }
                        None => seen.ends_with(own),
                    };
                    if !ok {
                        let expected = match known {
                            Some(base) => render(&[base, own.as_slice()].concat()),
                            None => render_suffix(own),
                        };
                        found.push(
                            Found::on("internal", t)
                                .key(m.key)
                                .mop(i)
                                .expected(expected),
                        );
                    }
                }
                if m.read != ReadValue::Unknown {
                    match at {
                        Some(a) => state[a] = (m.key, Some(m.read), Vec::new()),
                        None => state.push((m.key, Some(m.read), Vec::new())),
                    }
                }
            }
        }
    }
}

fn render(list: &[i64]) -> String {
    let items: Vec<String> = list.iter().map(|e| e.to_string()).collect();
    format!("[{}]", items.join(" "))
}

fn render_suffix(own: &[i64]) -> String {
    let items: Vec<String> = own.iter().map(|e| e.to_string()).collect();
    format!("[... {}]", items.join(" "))
}

/// What is known of every append: its appender, whether it was followed by
/// another append of the same transaction to the key (intermediate), and
/// how many of that transaction's appends to the key came before it (when
/// not 0).
type Appends<'a> = (
    &'a FxHashMap<(KeyId, i64), u32>,
    &'a FxHashSet<(KeyId, i64)>,
    &'a FxHashMap<(KeyId, i64), u32>,
);

/// What one key contributes to the inference.
#[derive(Default)]
struct KeyOut {
    edges: Vec<(u32, u32, u8)>,
    found: Vec<Found>,
    versions: Option<Versions>,
}

/// Orders one key's versions from its reads, reports the anomalies of the
/// key, and adds its edges.
fn key_order(
    h: &TxnHistory,
    k: KeyId,
    reads: &[(u32, u32, bool)],
    appended: &[(i64, u32)],
    (writer, intermediate, rank): Appends,
    member: &[bool],
    inf: &mut KeyOut,
) {
    let list_of = |&(t, i, _): &(u32, u32, bool)| h.list(h.mops_of(t as usize)[i as usize].read);
    // Per read: duplicates, G1a, G1b, garbage.
    let mut longest: Option<&(u32, u32, bool)> = None;
    let mut seen: FxHashSet<i64> = FxHashSet::default();
    for r in reads {
        let l = list_of(r);
        let (t, i) = (r.0 as usize, r.1 as usize);
        seen.clear();
        let mut dup = None;
        for &e in l {
            if !seen.insert(e) && dup.is_none() {
                dup = Some(e);
            }
            match writer.get(&(k, e)) {
                None => inf
                    .found
                    .push(Found::on("garbage-read", t).key(k).mop(i).element(e)),
                Some(&w) if h.txns[w as usize].outcome == Outcome::Fail => inf.found.push(
                    Found::on("G1a", t)
                        .key(k)
                        .mop(i)
                        .element(e)
                        .with(w as usize),
                ),
                _ => {}
            }
        }
        if let Some(e) = dup {
            inf.found
                .push(Found::on("duplicate-elements", t).key(k).mop(i).element(e));
        }
        if let Some(&last) = l.last() {
            if intermediate.contains(&(k, last)) {
                if let Some(&w) = writer.get(&(k, last)) {
                    if w as usize != t {
                        inf.found.push(
                            Found::on("G1b", t)
                                .key(k)
                                .mop(i)
                                .element(last)
                                .with(w as usize),
                        );
                    }
                }
            }
        }
        let longer = match longest {
            None => true,
            Some(x) => list_of(x).len() < l.len(),
        };
        if longer {
            longest = Some(r);
        }
    }
    let order: Vec<i64> = longest.map(|r| list_of(r).to_vec()).unwrap_or_default();
    // Every read must be a prefix of the longest.
    for r in reads {
        let l = list_of(r);
        if !order.starts_with(l) {
            let mut f = Found::on("incompatible-order", r.0 as usize)
                .key(k)
                .mop(r.1 as usize)
                .expected(format!("a prefix of {}", render(&order)));
            if let Some(lr) = longest {
                f = f.with(lr.0 as usize);
            }
            inf.found.push(f);
            // The order is not known, but every read still shows whose
            // append it saw last: wr edges need no order.
            wr_edges(h, k, reads, writer, member, inf);
            inf.versions = Some(Versions::Incompatible);
            return;
        }
    }
    wr_edges(h, k, reads, writer, member, inf);
    // A repeated element (duplicate-elements, reported above) says nothing
    // about where its append went: the order is the elements' first
    // occurrences, as Elle's (the repeat would otherwise order its appender
    // after itself and everyone in between). A read's version is then its
    // number of distinct elements.
    let in_order: FxHashSet<i64> = order.iter().copied().collect();
    let repeats = in_order.len() != order.len();
    let order: Vec<i64> = if repeats {
        let mut seen = FxHashSet::with_capacity_and_hasher(in_order.len(), Default::default());
        order.into_iter().filter(|e| seen.insert(*e)).collect()
    } else {
        order
    };
    let version = |l: &[i64]| {
        if repeats {
            l.iter().collect::<FxHashSet<_>>().len()
        } else {
            l.len()
        }
    };
    // A list grows only at its end, and a transaction appends in the order
    // it states: the elements of one appender in the order must be its
    // first appends to the key, in its order. (Another transaction's
    // elements between them make a ww cycle, G0; this is what no edge
    // shows: 2 without the 1 its appender appended just before it, or after
    // it.) No serial order, nor any committed state, gives such a list.
    let mut made: FxHashMap<u32, u32> = FxHashMap::default();
    for &e in &order {
        let Some(&w) = writer.get(&(k, e)) else {
            continue;
        };
        let n = made.entry(w).or_insert(0);
        if rank.get(&(k, e)).copied().unwrap_or(0) != *n {
            let own: Vec<i64> = h
                .mops_of(w as usize)
                .iter()
                .filter(|m| m.kind == MopKind::Append && m.key == k)
                .map(|m| m.arg)
                .collect();
            // The order is the longest read's: report that read, with the
            // appender second and its appends to the key as expected.
            if let Some(lr) = longest {
                inf.found.push(
                    Found::on("incompatible-order", lr.0 as usize)
                        .key(k)
                        .mop(lr.1 as usize)
                        .element(e)
                        .with(w as usize)
                        .expected(render_suffix(&own)),
                );
            }
            inf.versions = Some(Versions::Incompatible);
            return;
        }
        *n += 1;
    }
    // Dirty update: an aborted element followed by a committed one.
    if let Some(p) = order.iter().position(|e| {
        writer
            .get(&(k, *e))
            .is_some_and(|&w| h.txns[w as usize].outcome == Outcome::Fail)
    }) {
        if let Some(&later) = order[p + 1..].iter().find(|e| {
            writer
                .get(&(k, **e))
                .is_some_and(|&w| h.txns[w as usize].outcome != Outcome::Fail)
        }) {
            let failed = writer[&(k, order[p])] as usize;
            let w = writer[&(k, later)] as usize;
            inf.found.push(
                Found::on("dirty-update", w)
                    .key(k)
                    .element(later)
                    .with(failed)
                    .expected(format!(
                        "{} (aborted) is not followed by committed elements",
                        order[p]
                    )),
            );
        }
    }
    let mut unread: Vec<u32> = appended
        .iter()
        .filter(|(e, _)| !in_order.contains(e))
        .map(|&(_, w)| w)
        .collect();
    unread.sort_unstable();
    unread.dedup();
    let w_of = |e: i64| writer.get(&(k, e)).copied().filter(|&w| member[w as usize]);
    // ww
    for pair in order.windows(2) {
        if let (Some(a), Some(b)) = (w_of(pair[0]), w_of(pair[1])) {
            inf.edges.push((a, b, WW));
        }
    }
    if let Some(a) = order.last().and_then(|&e| w_of(e)) {
        for &u in &unread {
            inf.edges.push((a, u, WW));
        }
    }
    // rw from external reads; lost updates from shared versions.
    let mut by_version: FxHashMap<usize, Vec<u32>> = FxHashMap::default();
    for r in reads.iter().filter(|r| r.2) {
        let len = version(list_of(r));
        let reader = r.0;
        if len < order.len() {
            if let Some(w) = w_of(order[len]) {
                inf.edges.push((reader, w, RW));
            }
        } else {
            for &u in &unread {
                inf.edges.push((reader, u, RW));
            }
        }
        if writes_key(h, reader, k, MopKind::Append) {
            by_version.entry(len).or_default().push(reader);
        }
    }
    lost_updates(
        h,
        k,
        by_version,
        |&len| render(&order[..len]),
        &mut inf.found,
    );
    inf.versions = Some(Versions::List {
        order,
        writers_after: unread,
    });
}

/// The wr edges of a key: the appender of the last element an external read
/// saw precedes the reader (when it is in the graph). They need no version
/// order.
fn wr_edges(
    h: &TxnHistory,
    k: KeyId,
    reads: &[(u32, u32, bool)],
    writer: &FxHashMap<(KeyId, i64), u32>,
    member: &[bool],
    inf: &mut KeyOut,
) {
    for &(t, i, external) in reads {
        if !external {
            continue;
        }
        let last = h.list(h.mops_of(t as usize)[i as usize].read).last();
        if let Some(&w) = last.and_then(|&e| writer.get(&(k, e))) {
            if member[w as usize] {
                inf.edges.push((w, t, WR));
            }
        }
    }
}
