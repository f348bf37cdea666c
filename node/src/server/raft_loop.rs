//! The thread that owns the Raft core, the storage and the state machine.
//!
//! It waits for inputs (peer messages, client writes and reads, status
//! questions) or the next 10 ms tick, takes every input already queued, and
//! then drains the core's `Ready`s: send the leader's Appends, persist (one
//! fdatasync for the batch: group commit, while the followers write the same
//! entries), send the rest, apply, answer. Nothing else touches the core.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::bugs::{Bug, Bugs};
use crate::failpoints::{self, Failpoint, Failpoints};
use crate::kv::{Applied, Command, KvStore, Stored};
use crate::raft::{
    Entry, Index, Message, MessageBody, NodeId, RaftNode, Role, Snapshot, SnapshotMeta, Term,
};
use crate::storage::Storage;

use super::peers::Peers;
use super::{Input, LeaderHint, NodeStatus, Refusal, Reply, ServerError};

/// How often the core ticks.
pub const TICK: Duration = Duration::from_millis(10);
/// The most inputs taken before the core's output is drained again.
const BATCH: usize = 8192;
/// How long a node crashing at `crash-after-commit` lets its answers travel.
const REPLY_GRACE: Duration = Duration::from_millis(200);

/// A proposal waiting for its entry to commit.
struct Proposal {
    term: Term,
    blind: bool,
    reply: Reply<Result<Applied, Refusal>>,
}

/// A read waiting to be served.
struct PendingRead {
    key: String,
    reply: Reply<Result<Option<Stored>, Refusal>>,
}

/// The candidate `msg` grants a vote to, in a real election (not a PreVote).
fn granted_vote(msg: &Message) -> Option<NodeId> {
    match msg.body {
        MessageBody::VoteResp { granted: true } => Some(msg.to),
        _ => None,
    }
}

/// The Raft loop's state.
pub struct RaftLoop {
    raft: RaftNode,
    storage: Storage,
    kv: KvStore,
    peers: Peers,
    bugs: Bugs,
    failpoints: Failpoints,
    names: Vec<String>,
    snapshot_every: u64,
    applied: Index,
    applied_term: Term,
    snapshot_index: Index,
    proposals: BTreeMap<Index, Proposal>,
    next_ctx: u64,
    reads_waiting: HashMap<u64, PendingRead>,
    reads_ready: Vec<(Index, PendingRead)>,
    was_leader: bool,
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
        let meta = snapshot.map(|s| s.meta).unwrap_or_default();
        let kv = match snapshot {
            Some(s) => KvStore::restore(&s.data).map_err(ServerError::Snapshot)?,
            None => KvStore::new(),
        };
        let bugs = raft.config().bugs.clone();
        Ok(RaftLoop {
            raft,
            storage,
            kv,
            peers,
            bugs,
            failpoints,
            names,
            snapshot_every: snapshot_every.max(1),
            applied: meta.index,
            applied_term: meta.term,
            snapshot_index: meta.index,
            proposals: BTreeMap::new(),
            next_ctx: 0,
            reads_waiting: HashMap::new(),
            reads_ready: Vec::new(),
            was_leader: false,
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
                self.raft.tick();
                next_tick += TICK;
                if next_tick < now {
                    // Fell behind (a long fsync, a SIGSTOP): do not burst ticks.
                    next_tick = now + TICK;
                }
            }
            self.drain()?;
        }
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Peer(msg) => self.raft.step(msg),
            Input::Write { cmd, reply } => self.write(cmd, reply),
            Input::Read { key, local, reply } => self.read(key, local, reply),
            Input::Status { reply } => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn write(&mut self, cmd: Command, reply: Reply<Result<Applied, Refusal>>) {
        let blind = cmd.is_blind();
        match self.raft.propose(cmd.encode()) {
            Ok((index, term)) => {
                self.proposals
                    .insert(index, Proposal { term, blind, reply });
            }
            Err(crate::raft::ProposeError::NotLeader { leader }) => {
                reply.send(&self.peers, Err(Refusal::NotLeader { leader }));
            }
        }
    }

    fn read(&mut self, key: String, local: bool, reply: Reply<Result<Option<Stored>, Refusal>>) {
        let is_leader = self.raft.status().role == Role::Leader;
        let serve_locally = local
            || self.bugs.has(Bug::StaleRead)
            || (is_leader && self.bugs.has(Bug::LeaseWithoutCheckQuorum));
        if serve_locally {
            reply.send(&self.peers, Ok(self.kv.get(&key).cloned()));
            return;
        }
        self.next_ctx += 1;
        let ctx = self.next_ctx;
        match self.raft.read_index(ctx) {
            Ok(()) => {
                self.reads_waiting.insert(ctx, PendingRead { key, reply });
            }
            Err(crate::raft::ProposeError::NotLeader { leader }) => {
                reply.send(&self.peers, Err(Refusal::NotLeader { leader }));
            }
        }
    }

    /// Persists, sends, applies and answers until the core is idle.
    fn drain(&mut self) -> Result<(), ServerError> {
        while self.raft.has_ready() {
            let mut rd = self.raft.ready();
            if self.failpoints.is_armed(Failpoint::CrashAfterCommit)
                && !rd.committed.is_empty()
                && self.raft.status().role == Role::Leader
                && self.failpoints.take(Failpoint::CrashAfterCommit)
            {
                self.crash_after_commit(rd.committed);
            }
            // A leader's Appends go out first: the followers write while it does.
            for msg in std::mem::take(&mut rd.early_messages) {
                self.peers.send(msg);
            }
            self.storage
                .save(rd.hard_state.as_ref(), rd.snapshot.as_ref(), &rd.entries)
                .map_err(ServerError::Storage)?;
            if let Some((index, term)) = rd.persist_point() {
                self.raft.persisted(index, term);
            }
            if self.bugs.has(Bug::AckBeforeCommit) {
                self.ack_appended(&rd.entries);
            }
            let voted_for = if self.failpoints.is_armed(Failpoint::CrashAfterVote) {
                rd.messages.iter().find_map(granted_vote)
            } else {
                None
            };
            for msg in rd.messages {
                self.peers.send(msg);
            }
            if let Some(candidate) = voted_for {
                if self.failpoints.take(Failpoint::CrashAfterVote) {
                    self.peers.flush(candidate, Duration::from_millis(500));
                    failpoints::crash(Failpoint::CrashAfterVote);
                }
            }
            if let Some(snapshot) = rd.snapshot {
                self.install(snapshot)?;
            }
            for entry in rd.committed {
                self.apply(entry);
            }
            for rs in rd.read_states {
                if let Some(read) = self.reads_waiting.remove(&rs.ctx) {
                    self.reads_ready.push((rs.index, read));
                }
            }
            self.serve_reads();
            self.maybe_compact()?;
        }
        let status = self.raft.status();
        let is_leader = status.role == Role::Leader;
        if self.was_leader && !is_leader {
            // Rounds of a lost leadership never complete: a read has no effect,
            // so telling the client now is a definite failure.
            let leader = status.leader;
            for (_, read) in self.reads_waiting.drain() {
                read.reply
                    .send(&self.peers, Err(Refusal::NotLeader { leader }));
            }
        }
        self.was_leader = is_leader;
        self.leader_hint.set(status.id, status.leader);
        Ok(())
    }

    /// The `crash-after-commit` failpoint: apply and answer what was just
    /// committed (entries persisted by earlier Readies), give the replies
    /// time to reach their clients, and die without persisting or sending
    /// anything of this Ready.
    fn crash_after_commit(&mut self, committed: Vec<Entry>) -> ! {
        for entry in committed {
            self.apply(entry);
        }
        self.serve_reads();
        std::thread::sleep(REPLY_GRACE);
        failpoints::crash(Failpoint::CrashAfterCommit)
    }

    /// `ack-before-commit`: acknowledge blind writes once they are in the local log.
    fn ack_appended(&mut self, entries: &[Entry]) {
        for e in entries {
            let early =
                matches!(self.proposals.get(&e.index), Some(p) if p.term == e.term && p.blind);
            if early {
                let p = self.proposals.remove(&e.index).expect("just seen");
                p.reply.send(&self.peers, Ok(Applied::Done));
            }
        }
    }

    /// A snapshot from the leader replaces the state machine.
    fn install(&mut self, snapshot: Snapshot) -> Result<(), ServerError> {
        self.kv = KvStore::restore(&snapshot.data).map_err(ServerError::Snapshot)?;
        self.applied = snapshot.meta.index;
        self.applied_term = snapshot.meta.term;
        self.snapshot_index = snapshot.meta.index;
        // Proposals the snapshot covers may or may not be in it.
        let rest = self.proposals.split_off(&(snapshot.meta.index + 1));
        for (_, p) in std::mem::replace(&mut self.proposals, rest) {
            p.reply.send(
                &self.peers,
                Err(Refusal::Unknown("superseded by a snapshot".into())),
            );
        }
        tracing::info!(
            index = snapshot.meta.index,
            "installed a snapshot from the leader"
        );
        Ok(())
    }

    fn apply(&mut self, entry: Entry) {
        if entry.index <= self.applied {
            return;
        }
        let result = if entry.data.is_empty() {
            Applied::Done
        } else {
            match Command::decode(&entry.data) {
                Ok(cmd) => self.kv.apply(&cmd),
                Err(e) => {
                    tracing::error!(index = entry.index, error = %e, "undecodable command skipped");
                    Applied::Done
                }
            }
        };
        self.applied = entry.index;
        self.applied_term = entry.term;
        // Proposals at or below this index are decided now.
        let rest = self.proposals.split_off(&(entry.index + 1));
        for (index, p) in std::mem::replace(&mut self.proposals, rest) {
            let outcome = if index == entry.index && p.term == entry.term {
                Ok(result.clone())
            } else {
                Err(Refusal::Lost)
            };
            p.reply.send(&self.peers, outcome);
        }
    }

    fn serve_reads(&mut self) {
        if self.reads_ready.is_empty() {
            return;
        }
        let applied = self.applied;
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.reads_ready)
            .into_iter()
            .partition(|(index, _)| *index <= applied);
        self.reads_ready = later;
        for (_, read) in now {
            read.reply
                .send(&self.peers, Ok(self.kv.get(&read.key).cloned()));
        }
    }

    fn maybe_compact(&mut self) -> Result<(), ServerError> {
        if self.applied < self.snapshot_index + self.snapshot_every {
            return Ok(());
        }
        let snapshot = Snapshot {
            meta: SnapshotMeta {
                index: self.applied,
                term: self.applied_term,
            },
            data: self.kv.snapshot(),
        };
        self.storage
            .compact(&snapshot)
            .map_err(ServerError::Storage)?;
        self.raft.compact(snapshot.meta.index, snapshot.data);
        self.snapshot_index = self.applied;
        tracing::debug!(
            index = self.applied,
            keys = self.kv.len(),
            "compacted the log"
        );
        Ok(())
    }

    fn name(&self, id: NodeId) -> String {
        self.names
            .get((id as usize).wrapping_sub(1))
            .cloned()
            .unwrap_or_else(|| format!("n{id}"))
    }

    fn status(&self) -> NodeStatus {
        let s = self.raft.status();
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
            applied_index: self.applied,
            last_log_index: s.last_index,
            first_log_index: s.first_index,
            snapshot_index: s.snapshot_index,
            keys: self.kv.len(),
        }
    }
}
