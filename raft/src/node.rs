//! The Raft node: its state, the public driving API (`tick`, `step`,
//! `propose`, `read_index`, `ready`) and role changes. Elections live in
//! `election.rs`, replication in `replication.rs`, reads in `read_index.rs`.

use serde::{Deserialize, Serialize};

use super::config::Config;
use super::log::RaftLog;
use super::message::{Entry, HardState, Message, MessageBody, Snapshot};
use super::progress::Progress;
use super::read_index::ReadQueue;
use super::recovery::{ProbeAnswer, Recovery};
use super::rng::Rng;
use super::{Index, NodeId, Term};
use crate::bugs::Bug;

/// What a node restarts from (empty for a brand new node). `entries` follow
/// the snapshot (first index = `snapshot.meta.index + 1`, or 1 without one).
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// The last persisted hard state.
    pub hard_state: HardState,
    /// The last persisted snapshot.
    pub snapshot: Option<Snapshot>,
    /// The persisted entries after the snapshot.
    pub entries: Vec<Entry>,
    /// Set when the storage lost entries this node had acknowledged: it
    /// starts as a learner that must get them back before it votes.
    pub recovery: Option<Recovery>,
}

/// What a node is in its current term; only a `Leader` takes proposals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asks whether it could win an election, without changing terms.
    PreCandidate,
    /// Campaigns in a new term.
    Candidate,
    /// Leads its term: takes proposals and replicates them to the others.
    Leader,
}

/// A linearizable read is ready: serve read `ctx` once applied >= `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadState {
    /// The caller's read id, as given to [`RaftNode::read_index`].
    pub ctx: u64,
    /// The commit index at the time of the request.
    pub index: Index,
}

/// Everything a node produced since the last call to [`RaftNode::ready`].
/// The caller may send `early_messages` at once; it persists `hard_state`,
/// `snapshot` and `entries` (one fdatasync), reports that with
/// [`RaftNode::persisted`] (needed with [`Config::persist_in_parallel`]),
/// then sends `messages`, then applies `committed` and serves `read_states`.
///
/// [`Config::persist_in_parallel`]: super::Config::persist_in_parallel
#[derive(Debug, Default)]
pub struct Ready {
    /// Term, vote and commit if they changed since the last Ready (None: unchanged); persist it.
    pub hard_state: Option<HardState>,
    /// Received from the leader: persist it in place of the whole log, then
    /// restore the state machine from it.
    pub snapshot: Option<Snapshot>,
    /// Persist; if `entries[0].index` <= the last persisted index, truncate from there first.
    pub entries: Vec<Entry>,
    /// Send only after the above is durable.
    pub messages: Vec<Message>,
    /// A leader's Appends, heartbeats and snapshots, which promise nothing
    /// about its own disk: they may be sent before the above is durable
    /// (Raft thesis 10.2.1). Only with [`Config::persist_in_parallel`], and
    /// never in a Ready that changes the term or the vote.
    ///
    /// [`Config::persist_in_parallel`]: super::Config::persist_in_parallel
    pub early_messages: Vec<Message>,
    /// Apply in order, after persisting.
    pub committed: Vec<Entry>,
    /// Reads that may be served once the state machine has applied their index.
    pub read_states: Vec<ReadState>,
}

impl Ready {
    /// What to report to [`RaftNode::persisted`] once this Ready is durable:
    /// its last entry, or its snapshot when it carries no entry.
    pub fn persist_point(&self) -> Option<(Index, Term)> {
        match (self.entries.last(), &self.snapshot) {
            (Some(e), _) => Some((e.index, e.term)),
            (None, Some(s)) => Some((s.meta.index, s.meta.term)),
            (None, None) => None,
        }
    }
}

/// A snapshot of a node's state, for logs, metrics and the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This node's id, from its [`Config`].
    pub id: NodeId,
    /// Its role in `term`.
    pub role: Role,
    /// The latest term it has seen (persisted in [`HardState`]).
    pub term: Term,
    /// The leader it knows of in `term`.
    pub leader: Option<NodeId>,
    /// The highest index it knows committed (a follower learns it from the leader).
    pub commit: Index,
    /// Its last log index.
    pub last_index: Index,
    /// The first index still held as an entry.
    pub first_index: Index,
    /// The index its log was compacted up to.
    pub snapshot_index: Index,
    /// A learner recovering entries its damaged storage lost: it neither
    /// votes nor campaigns (see [`Recovery`]).
    pub recovering: bool,
}

/// A proposal or read that only the leader can take.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProposeError {
    /// This node does not lead; `leader` is the one it knows of, if any.
    #[error("not the leader")]
    NotLeader {
        /// The leader this node knows of.
        leader: Option<NodeId>,
    },
}

/// One Raft node: a pure state machine driven by [`tick`](RaftNode::tick),
/// [`step`](RaftNode::step), [`propose`](RaftNode::propose) and
/// [`read_index`](RaftNode::read_index), drained by [`ready`](RaftNode::ready).
#[derive(Debug)]
pub struct RaftNode {
    pub(crate) cfg: Config,
    pub(crate) term: Term,
    pub(crate) vote: Option<NodeId>,
    pub(crate) role: Role,
    pub(crate) leader: Option<NodeId>,
    pub(crate) log: RaftLog,
    /// The leader's view of every other voter (kept for all roles, reset on election).
    pub(crate) progress: Vec<Progress>,
    /// Votes received in the current (pre-)campaign: (voter, granted).
    pub(crate) votes: Vec<(NodeId, bool)>,
    pub(crate) election_elapsed: u32,
    pub(crate) heartbeat_elapsed: u32,
    pub(crate) randomized_timeout: u32,
    pub(crate) rng: Rng,
    pub(crate) msgs: Vec<Message>,
    pub(crate) reads: ReadQueue,
    pub(crate) read_states: Vec<ReadState>,
    /// The hard state last handed out in a Ready.
    pub(crate) prev_hard_state: HardState,
    /// Appends are owed to followers (new entries or a new commit index); sent
    /// in one batch per Ready.
    pub(crate) needs_broadcast: bool,
    /// Entries the storage lost and this node must get back before it votes.
    pub(crate) recovery: Option<Recovery>,
    /// Answers to this recovering node's latest LostProbe round.
    pub(crate) probe_answers: Vec<ProbeAnswer>,
    /// Set when the loss is beyond what the cluster can repair.
    pub(crate) unrepairable: Option<String>,
}

impl RaftNode {
    /// A node starting from `restored` (empty for a brand new node), as a follower.
    pub fn new(config: Config, restored: Restored) -> RaftNode {
        let mut hs = restored.hard_state;
        if config.bug(Bug::VoteTwice) {
            hs.vote = None;
        }
        let mut recovery = restored.recovery;
        if let Some(r) = &recovery {
            if config.bug(Bug::VoteWithoutRepair) {
                tracing::warn!(id = config.id, damage = %r.damage, "vote-without-repair: voting on the damaged log");
                recovery = None;
            } else {
                tracing::warn!(
                    id = config.id,
                    damage = %r.damage,
                    acked = ?r.acked.map(|a| (a.index, a.term)),
                    "storage lost acknowledged entries: a non-voting learner until a leader gives them back"
                );
            }
        }
        let log = RaftLog::restore(restored.snapshot, restored.entries, hs.commit);
        let progress = config
            .voters
            .iter()
            .filter(|&&v| v != config.id)
            .map(|&v| Progress::new(v, log.last_index() + 1))
            .collect();
        let rng = Rng::new(config.seed, config.id);
        let mut node = RaftNode {
            term: hs.term,
            vote: hs.vote,
            role: Role::Follower,
            leader: None,
            log,
            progress,
            votes: Vec::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_timeout: 0,
            rng,
            msgs: Vec::new(),
            reads: ReadQueue::default(),
            read_states: Vec::new(),
            prev_hard_state: hs,
            needs_broadcast: false,
            recovery,
            probe_answers: Vec::new(),
            unrepairable: None,
            cfg: config,
        };
        node.prev_hard_state.commit = node.log.commit;
        node.reset_election_timer();
        node
    }

    /// One logical tick (the server ticks every 10 ms).
    pub fn tick(&mut self) {
        match self.role {
            Role::Leader => self.tick_leader(),
            _ => {
                self.election_elapsed += 1;
                if self.election_elapsed >= self.randomized_timeout {
                    if self.recovery.is_some() {
                        self.reset_election_timer();
                        self.probe_peers();
                    } else {
                        self.campaign_or_pre_campaign();
                    }
                }
            }
        }
    }

    fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        let retry_after = self.cfg.election_ticks_max.max(1);
        for pr in &mut self.progress {
            pr.stalled_ticks = pr.stalled_ticks.saturating_add(1);
            if matches!(pr.state, super::progress::ProgressState::Snapshot { .. })
                && pr.stalled_ticks >= retry_after
            {
                pr.become_probe();
                self.needs_broadcast = true;
            }
        }
        if self.election_elapsed >= self.cfg.election_ticks_min {
            self.election_elapsed = 0;
            if self.cfg.effective_check_quorum() && !self.quorum_recently_active() {
                tracing::info!(
                    id = self.cfg.id,
                    term = self.term,
                    "lost quorum: stepping down"
                );
                self.become_follower(self.term, None);
                return;
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
    }

    /// Counts the followers heard from since the last round (and the leader
    /// itself) and starts a new round.
    fn quorum_recently_active(&mut self) -> bool {
        let mut active = 1;
        for pr in &mut self.progress {
            if pr.recent_active {
                active += 1;
            }
            pr.recent_active = false;
        }
        active >= self.cfg.quorum()
    }

    /// A message from a peer. Stale, misaddressed or unexpected messages are ignored.
    pub fn step(&mut self, msg: Message) {
        if msg.to != self.cfg.id || msg.from == self.cfg.id || !self.cfg.voters.contains(&msg.from)
        {
            return;
        }
        if self.step_probe(&msg) {
            return;
        }
        if msg.term > self.term {
            let is_vote_request = matches!(
                msg.body,
                MessageBody::PreVote { .. } | MessageBody::Vote { .. }
            );
            if is_vote_request && self.in_lease() {
                return;
            }
            match msg.body {
                MessageBody::PreVote { .. } => {}
                MessageBody::PreVoteResp { granted: true } => {}
                ref body => {
                    let leader = body.is_from_leader().then_some(msg.from);
                    self.become_follower(msg.term, leader);
                }
            }
        } else if msg.term < self.term {
            match msg.body {
                MessageBody::Append { .. } | MessageBody::Heartbeat { .. }
                    if self.cfg.effective_check_quorum() || self.cfg.pre_vote =>
                {
                    // Tell a stale leader about the newer term so it steps down.
                    self.send(
                        msg.from,
                        self.term,
                        MessageBody::AppendResp {
                            index: 0,
                            reject: None,
                        },
                    );
                }
                MessageBody::PreVote { .. } => {
                    self.send(
                        msg.from,
                        self.term,
                        MessageBody::PreVoteResp { granted: false },
                    );
                }
                _ => {}
            }
            return;
        }
        let from = msg.from;
        let term = msg.term;
        match msg.body {
            MessageBody::PreVote {
                last_index,
                last_term,
            } => self.handle_vote_request(from, term, true, last_index, last_term),
            MessageBody::Vote {
                last_index,
                last_term,
            } => self.handle_vote_request(from, term, false, last_index, last_term),
            MessageBody::PreVoteResp { granted } => {
                self.handle_vote_response(from, term, true, granted)
            }
            MessageBody::VoteResp { granted } => {
                self.handle_vote_response(from, term, false, granted)
            }
            MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            } => {
                if self.follow(from) {
                    self.handle_append(from, prev_index, prev_term, entries, commit);
                }
            }
            MessageBody::Heartbeat { commit, ctx } => {
                if self.follow(from) {
                    self.log.commit_to(commit);
                    self.send(from, self.term, MessageBody::HeartbeatResp { ctx });
                    self.report_loss(from);
                }
            }
            MessageBody::InstallSnapshot { snapshot } => {
                if self.follow(from) {
                    self.handle_snapshot(from, snapshot);
                }
            }
            MessageBody::AppendResp { index, reject } => {
                if self.role == Role::Leader {
                    self.handle_append_response(from, index, reject);
                }
            }
            MessageBody::HeartbeatResp { ctx } => {
                if self.role == Role::Leader {
                    self.handle_heartbeat_response(from, ctx);
                }
            }
            MessageBody::Lost { last_index } => {
                if self.role == Role::Leader {
                    self.handle_lost(from, last_index);
                }
            }
            MessageBody::LostProbe { .. } | MessageBody::LostProbeResp { .. } => {}
        }
    }

    /// A message from the leader of the current term arrived: follow it.
    /// Returns false if this node itself leads the term (cannot happen unless
    /// election safety is broken), in which case the message is dropped.
    fn follow(&mut self, leader: NodeId) -> bool {
        if self.role == Role::Leader {
            tracing::error!(
                id = self.cfg.id,
                term = self.term,
                other = leader,
                "two leaders in one term"
            );
            return false;
        }
        if self.role != Role::Follower || self.leader != Some(leader) {
            self.become_follower(self.term, Some(leader));
        }
        self.election_elapsed = 0;
        true
    }

    /// Whether this node heard from a live leader within the minimum election
    /// timeout (and so refuses to help depose it; only with CheckQuorum).
    fn in_lease(&self) -> bool {
        self.cfg.effective_check_quorum()
            && self.leader.is_some()
            && self.election_elapsed < self.cfg.election_ticks_min
    }

    /// Proposes a command. Returns the index and term the entry got; see the
    /// crate docs for what its eventual commit means.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<(Index, Term), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        let index = self.log.append_own(self.term, data);
        self.needs_broadcast = true;
        if self.progress.is_empty() {
            self.maybe_commit();
        }
        Ok((index, self.term))
    }

    /// Whether [`ready`](RaftNode::ready) has anything to hand out.
    pub fn has_ready(&self) -> bool {
        self.needs_broadcast
            || self.reads.has_unsent_round()
            || !self.msgs.is_empty()
            || !self.read_states.is_empty()
            || self.hard_state() != self.prev_hard_state
            || self.log.has_ready()
    }

    /// Drains everything pending. The caller persists it, then sends, then
    /// applies, before calling anything else on the node.
    pub fn ready(&mut self) -> Ready {
        if self.needs_broadcast {
            self.needs_broadcast = false;
            if self.role == Role::Leader {
                self.broadcast_append();
            }
        }
        if self.role == Role::Leader {
            self.flush_read_round();
        }
        let hs = self.hard_state();
        let hard_state = (hs != self.prev_hard_state).then_some(hs);
        let same_vote =
            hs.term == self.prev_hard_state.term && hs.vote == self.prev_hard_state.vote;
        self.prev_hard_state = hs;
        let mut messages = std::mem::take(&mut self.msgs);
        let mut early_messages = Vec::new();
        if self.cfg.persist_in_parallel && self.role == Role::Leader && same_vote {
            (early_messages, messages) = messages.into_iter().partition(|m| {
                m.term == self.term
                    && matches!(
                        m.body,
                        MessageBody::Append { .. }
                            | MessageBody::Heartbeat { .. }
                            | MessageBody::InstallSnapshot { .. }
                    )
            });
        }
        Ready {
            hard_state,
            snapshot: self.log.take_pending_snapshot(),
            entries: self.log.take_unstable(),
            messages,
            early_messages,
            committed: self.log.take_committed(),
            read_states: std::mem::take(&mut self.read_states),
        }
    }

    /// The caller made this node's log durable up to `index`, the entry of
    /// `term` (the last of a Ready's `entries`, or its snapshot when no entry
    /// follows). May be called at any time, in the order the writes became
    /// durable; a report about an entry the log no longer holds is ignored.
    /// With [`Config::persist_in_parallel`] a leader counts itself toward a
    /// commit quorum only up to what was reported here.
    ///
    /// [`Config::persist_in_parallel`]: super::Config::persist_in_parallel
    pub fn persisted(&mut self, index: Index, term: Term) {
        if self.log.stable_to(index, term) && self.maybe_commit() {
            self.needs_broadcast = true;
        }
    }

    /// The last index this node counts as its own replica toward a commit
    /// quorum: the persisted one when the leader persists in parallel, else
    /// the last (everything handed out is durable before the next input).
    pub(crate) fn self_match(&self) -> Index {
        if self.cfg.persist_in_parallel {
            self.log.persisted()
        } else {
            self.log.last_index()
        }
    }

    /// The application took a snapshot of its state applied up to `index`:
    /// drop the log before it and keep `data` to send as InstallSnapshot.
    /// Ignored unless `index` was handed out as committed and is past the
    /// current snapshot.
    pub fn compact(&mut self, index: Index, data: Vec<u8>) {
        self.log.compact(index, data);
    }

    /// The node's current state.
    pub fn status(&self) -> Status {
        Status {
            id: self.cfg.id,
            role: self.role,
            term: self.term,
            leader: self.leader,
            commit: self.log.commit,
            last_index: self.log.last_index(),
            first_index: self.log.first_index(),
            snapshot_index: self.log.snapshot_index(),
            recovering: self.recovery.is_some(),
        }
    }

    /// The node's role (cheaper than [`status`](RaftNode::status)).
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration it was created with (it never changes).
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub(crate) fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.commit,
        }
    }

    pub(crate) fn send(&mut self, to: NodeId, term: Term, body: MessageBody) {
        self.msgs.push(Message {
            from: self.cfg.id,
            to,
            term,
            body,
        });
    }

    pub(crate) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.randomized_timeout = self
            .rng
            .range(self.cfg.election_ticks_min, self.cfg.election_ticks_max);
    }

    /// Becomes a follower of `leader` (if known) in `term`; a newer term clears the vote.
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        if term > self.term {
            self.term = term;
            self.vote = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        self.reads.clear();
        self.needs_broadcast = false;
        self.reset_election_timer();
    }

    /// Becomes the leader of the current term: reset every follower's
    /// progress and append the term's no-op entry.
    pub(crate) fn become_leader(&mut self) {
        tracing::info!(id = self.cfg.id, term = self.term, "became leader");
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.votes.clear();
        self.reads.clear();
        self.reset_election_timer();
        let next = self.log.last_index() + 1;
        for pr in &mut self.progress {
            *pr = Progress::new(pr.id, next);
        }
        self.log.append_own(self.term, Vec::new());
        self.needs_broadcast = true;
        if self.progress.is_empty() {
            self.maybe_commit();
        }
    }
}
