//! Transactions in the simulation: every writing transaction appends its
//! id to two keys at once, every read-only one reads both. Each answer is
//! checked: a read-only transaction must see both keys alike (a writing
//! transaction is all or nothing) and every writing transaction
//! acknowledged before it began (strict serializability, in the part the
//! two keys show). Requests and answers go through the real replica, as a
//! write or read does.

use std::collections::{HashMap, HashSet};

use faultline_node::kv::{Applied, MicroOp, Stored};
use faultline_node::raft::NodeId;
use faultline_node::replica::{Input, Refusal};

use super::cluster::Cluster;
use super::invariants::Invariant;

/// The first transaction id: apart from the write and read ids.
pub const FIRST_TXN: u64 = 1 << 48;
/// The two keys every transaction acts on.
const KEYS: [&str; 2] = ["ta", "tb"];

/// The transactions in flight and what their answers showed.
#[derive(Debug)]
pub struct Txns {
    next: u64,
    /// Writing transactions acknowledged, in the order of their answers.
    acked: Vec<u64>,
    /// Read-only transactions in flight: the node, and how many writing
    /// ones had been acknowledged when each began.
    reading: HashMap<u64, (NodeId, usize)>,
    /// Read-only transactions answered and checked.
    pub reads_served: u64,
    broken: Vec<(Invariant, String)>,
}

impl Default for Txns {
    fn default() -> Self {
        Txns {
            next: FIRST_TXN,
            acked: Vec::new(),
            reading: HashMap::new(),
            reads_served: 0,
            broken: Vec::new(),
        }
    }
}

impl Txns {
    /// Whether `id` is a transaction's.
    pub fn owns(id: u64) -> bool {
        id >= FIRST_TXN
    }

    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// A restarted node forgot the transactions it held.
    pub fn node_restarted(&mut self, id: NodeId) {
        self.reading.retain(|_, (node, _)| *node != id);
    }

    /// Records what node `node` answered to transaction `id`.
    pub fn answered(&mut self, node: NodeId, id: u64, outcome: Result<Applied, Refusal>) {
        let reading = self.reading.remove(&id);
        let Ok(Applied::Txn(done)) = outcome else {
            return;
        };
        let Some((_, floor)) = reading else {
            self.acked.push(id);
            return;
        };
        self.reads_served += 1;
        let seen: Vec<HashSet<String>> = done
            .iter()
            .map(|c| match &c.saw {
                Some(Stored::List(items)) => items.iter().cloned().collect(),
                _ => HashSet::new(),
            })
            .collect();
        if seen[0] != seen[1] {
            let only = |a: &HashSet<String>, b: &HashSet<String>| {
                let mut d: Vec<&String> = a.difference(b).collect();
                d.sort();
                format!("{d:?}")
            };
            self.broken.push((
                Invariant::TxnAtomicity,
                format!(
                    "n{node} answered read-only transaction {id}: only {} has {}, only {} has {}",
                    KEYS[0],
                    only(&seen[0], &seen[1]),
                    KEYS[1],
                    only(&seen[1], &seen[0])
                ),
            ));
        }
        if let Some(missed) = self.acked[..floor]
            .iter()
            .find(|t| !seen[0].contains(&t.to_string()))
        {
            self.broken.push((
                Invariant::StaleRead,
                format!(
                    "n{node} answered read-only transaction {id} without transaction {missed}, acknowledged before it began"
                ),
            ));
        }
    }

    /// What the answers broke since the last call.
    pub fn take_broken(&mut self) -> Vec<(Invariant, String)> {
        std::mem::take(&mut self.broken)
    }
}

impl Cluster {
    /// A transaction appending a fresh id to both keys, sent to node `at`.
    pub fn txn_write(&mut self, at: NodeId) {
        let id = self.client.txns.next_id();
        let ops = KEYS
            .iter()
            .map(|k| MicroOp::Append {
                key: k.to_string(),
                value: id.to_string(),
            })
            .collect();
        self.send_txn(at, ops, id);
    }

    /// A read-only transaction of both keys, sent to node `at`.
    pub fn txn_read(&mut self, at: NodeId) {
        let id = self.client.txns.next_id();
        let floor = self.client.txns.acked.len();
        self.client.txns.reading.insert(id, (at, floor));
        let ops = KEYS
            .iter()
            .map(|k| MicroOp::Read { key: k.to_string() })
            .collect();
        self.send_txn(at, ops, id);
    }

    fn send_txn(&mut self, at: NodeId, ops: Vec<MicroOp>, id: u64) {
        let Some(node) = self.node_mut(at) else {
            self.client.txns.reading.remove(&id);
            return;
        };
        node.handle(Input::Txn {
            ops,
            local: false,
            id,
        });
        self.after_step(at);
    }
}
