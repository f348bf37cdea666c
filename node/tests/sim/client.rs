//! The simulated clients: they send writes and reads to a node's replica and
//! record what comes back. Everything the server decides (when a write is
//! acknowledged, how a read is served, the server-level bugs) happens in the
//! real replica; a client only chooses where to send and checks answers.
//!
//! Every write puts its command id under one key, so a read's value names
//! the last write the serving node applied.

use std::collections::{HashMap, HashSet};

use faultline_node::kv::{Applied, Command, Stored};
use faultline_node::raft::{Entry, Index, NodeId, Role};
use faultline_node::replica::{Answer, Input, Refusal};

use super::cluster::{Cluster, SimReplica};
use super::invariants::{data_id, Checker};
use super::txns::Txns;

/// The key every write puts and every read reads.
const KEY: &str = "x";

/// Where a client sends its reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// To a node that believes it leads (a deposed leader included), as the
    /// server forwards reads to the leader it knows.
    AtLeader,
    /// To a node picked at random, whether or not it leads.
    AtAnyNode,
}

/// The log entry a write of command id `cmd` proposes.
pub fn command(cmd: u64) -> Command {
    Command::Put {
        key: KEY.to_string(),
        value: cmd.to_string(),
    }
}

/// The command id a committed command carries (0 for none).
pub fn command_id(cmd: &Command) -> u64 {
    match cmd {
        Command::Put { value, .. } => value.parse().unwrap_or(0),
        _ => 0,
    }
}

#[derive(Debug)]
struct Proposal {
    node: NodeId,
    acked: bool,
}

#[derive(Debug)]
struct PendingRead {
    node: NodeId,
    /// The index of the last write applied anywhere when the read was
    /// invoked: the read must see at least that write.
    floor: Index,
    /// The node's term when it took the read.
    term: u64,
}

/// The simulated clients: writes and reads in flight and their answers, for the checks.
#[derive(Debug, Default)]
pub struct Client {
    next_cmd: u64,
    proposals: HashMap<u64, Proposal>,
    committed_at: HashMap<u64, Index>,
    reads: HashMap<u64, PendingRead>,
    next_read: u64,
    /// Reads a node took (not refused at once).
    pub reads_taken: u64,
    /// Reads served and checked.
    pub reads_served: u64,
    /// Reads refused (the node did not lead, or stopped leading).
    reads_refused: u64,
    /// Writes answered `Done`, each counted once; every one must stay committed.
    pub acked: u64,
    /// Stale reads seen since the cluster last asked.
    stale: Vec<String>,
    /// The transactions (answered as writes, with ids of their own).
    pub txns: Txns,
}

impl Client {
    pub fn new() -> Self {
        Client {
            next_cmd: 1,
            next_read: 1,
            ..Client::default()
        }
    }

    /// Sends a fresh write to `node`; returns its command id if the node took it.
    pub fn propose(&mut self, id: NodeId, node: &mut SimReplica) -> Option<u64> {
        if !node.is_leader() {
            return None;
        }
        let cmd = self.next_cmd;
        self.next_cmd += 1;
        self.proposals.insert(
            cmd,
            Proposal {
                node: id,
                acked: false,
            },
        );
        node.handle(Input::Write {
            cmd: command(cmd),
            id: cmd,
        });
        Some(cmd)
    }

    /// Node `id` applied `e`: remember where its command committed.
    pub fn applied(&mut self, e: &Entry) {
        let cmd = data_id(e);
        if cmd != 0 {
            self.committed_at.entry(cmd).or_insert(e.index);
        }
    }

    /// Where `cmd` was committed, if it was.
    pub fn committed_index(&self, cmd: u64, _checker: &Checker) -> Option<Index> {
        self.committed_at.get(&cmd).copied()
    }

    /// A restarted node forgot its pending reads (their clients time out).
    pub fn node_restarted(&mut self, id: NodeId) {
        self.reads.retain(|_, r| r.node != id);
        self.txns.node_restarted(id);
    }

    /// Records what node `id` answered.
    pub fn answered(&mut self, id: NodeId, answer: Answer<u64, u64>) {
        match answer {
            Answer::Write { id: txn, outcome } if Txns::owns(txn) => {
                self.txns.answered(id, txn, outcome);
            }
            Answer::Write { id: cmd, outcome } => match outcome {
                Ok(Applied::Done) => {
                    if let Some(p) = self.proposals.get_mut(&cmd) {
                        if !p.acked {
                            p.acked = true;
                            self.acked += 1;
                        }
                    }
                }
                Ok(_) | Err(Refusal::Lost) | Err(Refusal::NotLeader { .. }) => {
                    self.proposals.remove(&cmd);
                }
                Err(Refusal::Unknown(_)) => {}
            },
            Answer::Read { id: ctx, outcome } => {
                let Some(r) = self.reads.remove(&ctx) else {
                    return;
                };
                let Ok(value) = outcome else {
                    self.reads_refused += 1;
                    return;
                };
                self.reads_served += 1;
                let seen = match value {
                    Some(Stored::Value(v)) => v
                        .parse::<u64>()
                        .ok()
                        .and_then(|cmd| self.committed_at.get(&cmd).copied()),
                    _ => Some(0),
                };
                // A value no committed write wrote is not this check's business.
                if let Some(seen) = seen {
                    if seen < r.floor {
                        self.stale.push(format!(
                            "n{id} served read {ctx} with the write at index {seen}, but the write at index {} was applied before it began",
                            r.floor
                        ));
                    }
                }
            }
        }
    }

    /// Stale reads seen since the last call.
    pub fn take_stale(&mut self) -> Vec<String> {
        std::mem::take(&mut self.stale)
    }

    /// Acknowledged writes missing from the committed log.
    pub fn lost_acked_writes(&self, checker: &Checker) -> Vec<String> {
        let committed: HashSet<u64> = checker.committed.iter().map(|c| c.data).collect();
        let mut lost: Vec<String> = self
            .proposals
            .iter()
            .filter(|(cmd, p)| p.acked && !committed.contains(cmd))
            .map(|(cmd, p)| {
                format!(
                    "write {cmd} acknowledged by n{} is not in the committed log (length {})",
                    p.node,
                    checker.committed.len()
                )
            })
            .collect();
        lost.sort();
        lost
    }
}

impl Cluster {
    /// A client reads at node `id`. Returns whether the node took the read
    /// (did not refuse it at once).
    pub fn read(&mut self, id: NodeId) -> bool {
        let floor = self.checker.last_write_index();
        let ctx = self.client.next_read;
        let Some(node) = self.node_mut(id) else {
            return false;
        };
        let term = node.raft().status().term;
        self.client.next_read += 1;
        self.client.reads.insert(
            ctx,
            PendingRead {
                node: id,
                floor,
                term,
            },
        );
        let refused_before = self.client.reads_refused;
        if let Some(node) = self.node_mut(id) {
            node.handle(Input::Read {
                key: KEY.to_string(),
                local: false,
                id: ctx,
            });
        }
        self.after_step(id);
        let taken = self.client.reads_refused == refused_before;
        if taken {
            self.client.reads_taken += 1;
        }
        taken
    }

    /// Reads still waiting for their ReadIndex round or their index to apply.
    pub fn pending_reads(&self) -> usize {
        self.client.reads.len()
    }

    /// Reads still pending at a node that leads the very term it took them
    /// in. A leader that loses its term rightly drops its reads (the client
    /// times out), but one that kept it must serve them: once the cluster has
    /// been quiet for a while, any such read is stuck.
    pub fn stuck_reads(&self) -> Vec<String> {
        let mut stuck: Vec<String> = self
            .client
            .reads
            .iter()
            .filter(|(_, r)| {
                self.node(r.node).is_some_and(|n| {
                    let st = n.status();
                    st.role == Role::Leader && st.term == r.term
                })
            })
            .map(|(ctx, r)| format!("read {ctx} at n{} in term {}", r.node, r.term))
            .collect();
        stuck.sort();
        stuck
    }
}
