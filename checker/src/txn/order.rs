//! Process and real-time order as graph edges, in linear size.
//!
//! Real time relates every transaction that completed to every one invoked
//! later: quadratic if drawn directly. Instead each stretch of completions
//! followed by an invocation gets one *barrier* node: the transactions that
//! completed in the stretch point to it, it points to the next barrier and
//! to every transaction invoked before the next stretch. A path
//! `a -> barrier ... barrier -> b` exists exactly when `a` completed before
//! `b` was invoked (barriers are in event order, and the chain only moves
//! forward), so every real-time pair is one path and every path is a
//! real-time pair. Barriers have no data edges, so a cycle through them is
//! a cycle of transactions whose real-time steps are such paths; the
//! explanation folds each one back into a single `realtime` step.

use super::graph::{PROCESS, REALTIME};
use super::history::TxnHistory;
use crate::history::Outcome;

/// Process-order edges between consecutive transactions of each process
/// that are in the graph (`member`).
pub fn process_edges(h: &TxnHistory, member: &[bool], edges: &mut Vec<(u32, u32, u8)>) {
    let mut last: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    for (t, txn) in h.txns.iter().enumerate() {
        if !member[t] {
            continue;
        }
        if let Some(prev) = last.insert(txn.process, t as u32) {
            edges.push((prev, t as u32, PROCESS));
        }
    }
}

/// Real-time edges through barrier nodes numbered from `h.txns.len()`;
/// returns how many barriers were made.
pub fn realtime_edges(h: &TxnHistory, member: &[bool], edges: &mut Vec<(u32, u32, u8)>) -> usize {
    // (position, is a completion, transaction); completions of committed
    // transactions only: an unknown one may take effect arbitrarily late.
    let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(h.txns.len() * 2);
    for (t, txn) in h.txns.iter().enumerate() {
        if !member[t] {
            continue;
        }
        events.push((txn.invoke_pos, false, t as u32));
        if let (Outcome::Ok, Some(pos)) = (txn.outcome, txn.complete_pos) {
            events.push((pos, true, t as u32));
        }
    }
    events.sort_unstable();
    let base = h.txns.len() as u32;
    let mut barriers = 0u32;
    let mut current: Option<u32> = None;
    let mut pending: Vec<u32> = Vec::new();
    for (_, completion, t) in events {
        if completion {
            pending.push(t);
            continue;
        }
        if !pending.is_empty() {
            let b = base + barriers;
            barriers += 1;
            for done in pending.drain(..) {
                edges.push((done, b, REALTIME));
            }
            if let Some(prev) = current {
                edges.push((prev, b, REALTIME));
            }
            current = Some(b);
        }
        if let Some(b) = current {
            edges.push((b, t, REALTIME));
        }
    }
    barriers as usize
}
