//! What the report shows of a Maelstrom run's message journal: messages
//! per operation (all, and between nodes only).

use std::path::Path;

use faultline_checker::history::{Event, EventType};
use serde::{Deserialize, Serialize};

use super::journal;

/// Message counts of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Traffic {
    /// Messages sent (every hop: clients, nodes, services).
    pub all: u64,
    /// Messages from a node to a node.
    pub between_nodes: u64,
    /// Client operations in the history.
    pub operations: u64,
    /// `all` per operation.
    pub per_op_all: f64,
    /// `between_nodes` per operation.
    pub per_op_nodes: f64,
}

/// Whether `id` is a node id (`n` and a number).
pub fn is_node(id: &str) -> bool {
    id.strip_prefix('n')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Counts the messages of the journal at `path` sent during the test
/// (setup traffic before time zero left out) against the operations of
/// `events`; None when the journal cannot be read.
pub fn traffic(path: &Path, events: &[Event]) -> Option<Traffic> {
    let entries = journal::read(path).ok()?;
    let mut all = 0;
    let mut between_nodes = 0;
    for e in entries.iter().filter(|e| e.ev == "send" && e.t >= 0) {
        let (Some(src), Some(dest)) = (&e.src, &e.dest) else {
            continue;
        };
        if src == super::router::SETUP_CLIENT || dest == super::router::SETUP_CLIENT {
            continue;
        }
        all += 1;
        if is_node(src) && is_node(dest) {
            between_nodes += 1;
        }
    }
    let operations = events
        .iter()
        .filter(|e| e.kind == EventType::Invoke)
        .count() as u64;
    let per = |n: u64| {
        if operations == 0 {
            0.0
        } else {
            n as f64 / operations as f64
        }
    };
    Some(Traffic {
        all,
        between_nodes,
        operations,
        per_op_all: per(all),
        per_op_nodes: per(between_nodes),
    })
}
