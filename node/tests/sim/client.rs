//! The simulated clients: they propose commands and read, and model what the
//! server does with the answers, including the server-level bugs
//! (`ack-before-commit` acknowledges on local append, `stale-read` serves
//! from any node's local state, `lease-without-checkquorum` serves from a
//! node that believes it leads).

use std::collections::{HashMap, HashSet};

use faultline_node::bugs::Bug;
use faultline_node::raft::{Entry, Index, NodeId, RaftNode, ReadState, Role};

use super::cluster::{Cluster, SimConfig};
use super::invariants::{data_id, Checker};

/// How a read is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// ReadIndex through the leader (the correct server).
    ReadIndex,
    /// From the node's local state, without asking anyone (`stale-read`).
    Local,
    /// From local state if the node believes it leads (`lease-without-checkquorum`).
    Lease,
}

impl ReadMode {
    /// The mode the server runs with under `bug`.
    pub fn for_bug(bug: Option<Bug>) -> Self {
        match bug {
            Some(Bug::StaleRead) => ReadMode::Local,
            Some(Bug::LeaseWithoutCheckQuorum) => ReadMode::Lease,
            _ => ReadMode::ReadIndex,
        }
    }
}

#[derive(Debug)]
struct Proposal {
    node: NodeId,
    index: Index,
    term: u64,
    acked: bool,
}

#[derive(Debug)]
struct PendingRead {
    node: NodeId,
    ctx: u64,
    /// The highest index applied anywhere when the read was invoked: the
    /// read must see at least this much.
    floor: Index,
    /// Set by the ReadState.
    index: Option<Index>,
    /// The node's term when it took the read.
    term: u64,
}

/// Client-side bookkeeping.
#[derive(Debug)]
pub struct Client {
    ack_on_append: bool,
    next_cmd: u64,
    proposals: HashMap<u64, Proposal>,
    committed_at: HashMap<u64, Index>,
    reads: Vec<PendingRead>,
    next_read: u64,
    /// Reads a node took (the leader accepted the ReadIndex request, or the
    /// read was served locally).
    pub reads_taken: u64,
    /// Reads served and checked.
    pub reads_served: u64,
    /// Writes acknowledged.
    pub acked: u64,
}

impl Client {
    pub fn new(cfg: &SimConfig) -> Self {
        Client {
            ack_on_append: cfg.bugs.has(Bug::AckBeforeCommit),
            next_cmd: 1,
            proposals: HashMap::new(),
            committed_at: HashMap::new(),
            reads: Vec::new(),
            next_read: 1,
            reads_taken: 0,
            reads_served: 0,
            acked: 0,
        }
    }

    /// Proposes a fresh command at `node`; returns its id if the node took it.
    pub fn propose(&mut self, id: NodeId, node: &mut RaftNode) -> Option<u64> {
        let cmd = self.next_cmd;
        let (index, term) = node.propose(cmd.to_le_bytes().to_vec()).ok()?;
        self.next_cmd += 1;
        if self.ack_on_append {
            self.acked += 1;
        }
        self.proposals.insert(
            cmd,
            Proposal {
                node: id,
                index,
                term,
                acked: self.ack_on_append,
            },
        );
        Some(cmd)
    }

    /// Node `id` applied `e`: the proposer acknowledges its command.
    pub fn applied(&mut self, id: NodeId, e: &Entry) {
        let cmd = data_id(e);
        if cmd == 0 {
            return;
        }
        self.committed_at.entry(cmd).or_insert(e.index);
        if let Some(p) = self.proposals.get_mut(&cmd) {
            if !p.acked && p.node == id && p.index == e.index && p.term == e.term {
                p.acked = true;
                self.acked += 1;
            }
        }
    }

    /// Where `cmd` was committed, if it was.
    pub fn committed_index(&self, cmd: u64, _checker: &Checker) -> Option<Index> {
        self.committed_at.get(&cmd).copied()
    }

    /// A restarted node forgot its pending reads.
    pub fn node_restarted(&mut self, id: NodeId) {
        self.reads.retain(|r| r.node != id);
    }

    pub fn read_states(&mut self, id: NodeId, states: &[ReadState]) {
        for s in states {
            if let Some(r) = self
                .reads
                .iter_mut()
                .find(|r| r.node == id && r.ctx == s.ctx)
            {
                r.index = Some(s.index);
            }
        }
    }

    /// Serves the reads at `id` whose index is applied; returns a description
    /// of each stale one.
    pub fn serve_reads(&mut self, id: NodeId, applied: Index) -> Vec<String> {
        let mut stale = Vec::new();
        let mut served = 0;
        self.reads.retain(|r| {
            let ready = r.node == id && r.index.is_some_and(|i| applied >= i);
            if ready {
                served += 1;
                if applied < r.floor {
                    stale.push(format!(
                        "n{id} served read {} at index {applied}, but index {} was applied before it began",
                        r.ctx, r.floor
                    ));
                }
            }
            !ready
        });
        self.reads_served += served;
        stale
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
                    "write {cmd} acknowledged by n{} at index {} term {} is not in the committed log (length {})",
                    p.node,
                    p.index,
                    p.term,
                    checker.committed.len()
                )
            })
            .collect();
        lost.sort();
        lost
    }
}

impl Cluster {
    /// A client reads at node `id` the way the server would under `mode`.
    /// Returns whether the node took the read.
    pub fn read(&mut self, id: NodeId, mode: ReadMode) -> bool {
        let floor = self.checker.commit_index();
        let ctx = self.client.next_read;
        let Some(node) = self.node_mut(id) else {
            return false;
        };
        let term = node.status().term;
        let index = match mode {
            ReadMode::ReadIndex => {
                if node.read_index(ctx).is_err() {
                    return false;
                }
                None
            }
            ReadMode::Local => Some(0),
            ReadMode::Lease => {
                if node.status().role != Role::Leader {
                    return false;
                }
                Some(0)
            }
        };
        self.client.next_read += 1;
        self.client.reads_taken += 1;
        self.client.reads.push(PendingRead {
            node: id,
            ctx,
            floor,
            index,
            term,
        });
        self.after_step(id);
        true
    }

    /// Reads still waiting for their ReadState or their index to apply.
    pub fn pending_reads(&self) -> usize {
        self.client.reads.len()
    }

    /// Reads still pending at a node that leads the very term it took them
    /// in. A leader that loses its term rightly drops its reads (the client
    /// times out), but one that kept it must serve them: once the cluster has
    /// been quiet for a while, any such read is stuck.
    pub fn stuck_reads(&self) -> Vec<String> {
        self.client
            .reads
            .iter()
            .filter(|r| {
                self.node(r.node).is_some_and(|n| {
                    let st = n.status();
                    st.role == Role::Leader && st.term == r.term
                })
            })
            .map(|r| format!("read {} at n{} in term {}", r.ctx, r.node, r.term))
            .collect()
    }
}
