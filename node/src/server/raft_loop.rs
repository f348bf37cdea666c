//! The thread that owns the Raft core, the storage and the state machine.
//!
//! It waits for inputs (peer messages, client writes and reads, status
//! questions) or the next 10 ms tick, takes every input already queued, and
//! then drains the core's `Ready`s: send the leader's Appends, persist (one
//! fdatasync for the batch: group commit, while the followers write the same
//! entries), send the rest, apply, answer. Nothing else touches the core.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::failpoints::{self, Failpoint, Failpoints};
use crate::kv::{Applied, Stored};
use crate::raft::{Message, MessageBody, NodeId, RaftNode, Ready, Role, Snapshot};
use crate::replica::{self, Answer, Replica};
use crate::storage::Storage;

use super::peers::Peers;
use super::{Input, LeaderHint, LocalState, NodeStatus, Refusal, Reply, ServerError};

/// How often the core ticks.
pub const TICK: Duration = Duration::from_millis(10);
/// The most inputs taken before the core's output is drained again.
const BATCH: usize = 8192;
/// How long a node crashing at `crash-after-commit` lets its answers travel.
const REPLY_GRACE: Duration = Duration::from_millis(200);

/// Where a write's outcome goes: the replica's request id for writes.
type WriteReply = Reply<Result<Applied, Refusal>>;
/// Where a read's value goes: the replica's request id for reads.
type ReadReply = Reply<Result<Option<Stored>, Refusal>>;

/// The candidate `msg` grants a vote to, in a real election (not a PreVote).
fn granted_vote(msg: &Message) -> Option<NodeId> {
    match msg.body {
        MessageBody::VoteResp { granted: true } => Some(msg.to),
        _ => None,
    }
}

/// The Raft loop's state: the replica and the I/O around it.
pub struct RaftLoop {
    replica: Replica<WriteReply, ReadReply>,
    storage: Storage,
    peers: Peers,
    failpoints: Failpoints,
    names: Vec<String>,
    leader_hint: LeaderHint,
}

/// What the Raft loop shares with the network side of the node.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The peer transport (messages out, forwarded outcomes back).
    pub peers: Peers,
    /// Failpoints armed over HTTP.
    pub failpoints: Failpoints,
    /// Where the loop publishes the leader it knows of.
    pub leader_hint: LeaderHint,
}

impl RaftLoop {
    /// A loop around a core restored from `storage`; `snapshot` is the
    /// restored snapshot, if any (the state machine starts from it).
    pub fn new(
        raft: RaftNode,
        storage: Storage,
        snapshot: Option<&Snapshot>,
        shared: Shared,
        names: Vec<String>,
        snapshot_every: u64,
    ) -> Result<RaftLoop, ServerError> {
        let Shared {
            peers,
            failpoints,
            leader_hint,
        } = shared;
        let replica =
            Replica::new(raft, snapshot, snapshot_every).map_err(|e| ServerError::Snapshot(e.0))?;
        Ok(RaftLoop {
            replica,
            storage,
            peers,
            failpoints,
            names,
            leader_hint,
        })
    }

    /// Runs until every sender of `inputs` is gone, or storage fails (then
    /// the node must stop: it can no longer promise durability).
    pub fn run(mut self, inputs: mpsc::Receiver<Input>) -> Result<(), ServerError> {
        let mut next_tick = Instant::now() + TICK;
        loop {
            let now = Instant::now();
            if now < next_tick {
                match inputs.recv_timeout(next_tick - now) {
                    Ok(input) => self.handle(input),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                }
            }
            for input in inputs.try_iter().take(BATCH) {
                self.handle(input);
            }
            let now = Instant::now();
            if now >= next_tick {
                self.replica.handle(replica::Input::Tick);
                next_tick += TICK;
                if next_tick < now {
                    // Fell behind (a long fsync, a SIGSTOP): do not burst ticks.
                    next_tick = now + TICK;
                }
            }
            self.drain()?;
            let raft = self.replica.raft();
            if let Some(why) = raft.unrepairable() {
                return Err(ServerError::Unrepairable(why.to_string()));
            }
            if !raft.is_recovering() {
                self.storage.recovered();
            }
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Peer(msg) => self.replica.handle(replica::Input::Peer(msg)),
            Input::Write { cmd, reply } => {
                self.replica
                    .handle(replica::Input::Write { cmd, id: reply });
            }
            Input::Txn { ops, local, reply } => {
                self.replica.handle(replica::Input::Txn {
                    ops,
                    local,
                    id: reply,
                });
            }
            Input::Read { key, local, reply } => {
                self.replica.handle(replica::Input::Read {
                    key,
                    local,
                    id: reply,
                });
            }
            Input::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Input::State { reply } => {
                let _ = reply.send(LocalState {
                    id: self.name(self.replica.raft().status().id),
                    applied_index: self.replica.applied(),
                    kv: self.replica.state().clone(),
                });
            }
        }
    }

    /// Delivers every answer the replica has ready.
    fn answer(&mut self) {
        for answer in self.replica.take_answers() {
            match answer {
                Answer::Write { id, outcome } => id.send(&self.peers, outcome),
                Answer::Read { id, outcome } => id.send(&self.peers, outcome),
            }
        }
    }

    /// Persists, sends, applies and answers until the replica is idle.
    fn drain(&mut self) -> Result<(), ServerError> {
        // Refusals and local reads from the inputs just handled.
        self.answer();
        while self.replica.has_ready() {
            let mut rd = self.replica.ready();
            if self.failpoints.is_armed(Failpoint::CrashAfterCommit)
                && !rd.committed.is_empty()
                && self.replica.is_leader()
                && self.failpoints.take(Failpoint::CrashAfterCommit)
            {
                self.crash_after_commit(rd);
            }
            // A leader's Appends go out first: the followers write while it does.
            for msg in std::mem::take(&mut rd.early_messages) {
                self.peers.send(msg);
            }
            self.storage
                .save(rd.hard_state.as_ref(), rd.snapshot.as_ref(), &rd.entries)
                .map_err(ServerError::Storage)?;
            self.replica.persisted(&rd);
            self.answer();
            let voted_for = if self.failpoints.is_armed(Failpoint::CrashAfterVote) {
                rd.messages.iter().find_map(granted_vote)
            } else {
                None
            };
            for msg in std::mem::take(&mut rd.messages) {
                self.peers.send(msg);
            }
            if let Some(candidate) = voted_for {
                if self.failpoints.take(Failpoint::CrashAfterVote) {
                    self.peers.flush(candidate, Duration::from_millis(500));
                    failpoints::crash(Failpoint::CrashAfterVote);
                }
            }
            self.replica
                .advance(rd)
                .map_err(|e| ServerError::Snapshot(e.0))?;
            self.answer();
            if let Some(snapshot) = self.replica.compaction() {
                self.storage
                    .compact(&snapshot)
                    .map_err(ServerError::Storage)?;
                tracing::debug!(
                    index = snapshot.meta.index,
                    keys = self.replica.keys(),
                    "compacted the log"
                );
                self.replica.compacted(snapshot);
            }
        }
        let status = self.replica.raft().status();
        self.leader_hint.set(status.id, status.leader);
        Ok(())
    }

    /// The `crash-after-commit` failpoint: apply and answer what was just
    /// committed (entries persisted by earlier Readies), give the replies
    /// time to reach their clients, and die without persisting or sending
    /// anything of this Ready.
    fn crash_after_commit(&mut self, mut rd: Ready) -> ! {
        self.replica.apply_committed(&mut rd);
        self.answer();
        std::thread::sleep(REPLY_GRACE);
        failpoints::crash(Failpoint::CrashAfterCommit)
    }

    fn name(&self, id: NodeId) -> String {
        self.names
            .get((id as usize).wrapping_sub(1))
            .cloned()
            .unwrap_or_else(|| format!("n{id}"))
    }

    fn status(&self) -> NodeStatus {
        let s = self.replica.raft().status();
        NodeStatus {
            id: self.name(s.id),
            role: match s.role {
                Role::Leader => "leader",
                Role::Candidate => "candidate",
                Role::PreCandidate => "pre-candidate",
                Role::Follower => "follower",
            }
            .to_string(),
            term: s.term,
            leader: s.leader.map(|l| self.name(l)),
            commit_index: s.commit,
            applied_index: self.replica.applied(),
            last_log_index: s.last_index,
            first_log_index: s.first_index,
            snapshot_index: s.snapshot_index,
            recovering: s.recovering,
            keys: self.replica.keys(),
            state_digest: format!("{:016x}", self.replica.state_digest()),
        }
    }
}
