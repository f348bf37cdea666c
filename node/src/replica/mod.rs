//! The replica: the Raft core ([`RaftNode`]), the key-value state machine
//! ([`KvStore`]), the client requests waiting on them, and the server-level
//! bugs, behind one sans-IO API. Pure and deterministic: no tokio, no clock,
//! no randomness but the seed in the core's [`Config`](crate::raft::Config),
//! no I/O. The server's Raft loop and the deterministic simulator both drive
//! this same code.
//!
//! The caller feeds [`Replica::handle`] with [`Input`]s (ticks, peer
//! messages, client writes and reads, each with a caller-chosen request id)
//! and, while [`Replica::has_ready`], handles each [`Ready`] in this order:
//!
//! 1. `let mut rd = replica.ready()`;
//! 2. **send** `rd.early_messages` (a leader's Appends, with
//!    `persist_in_parallel`);
//! 3. **persist** `rd.hard_state`, `rd.snapshot`, `rd.entries` (one
//!    fdatasync, unless [`syncs_writes`] says the `no-fsync` bug skips it),
//!    then report it with [`Replica::persisted`];
//! 4. **send** `rd.messages`;
//! 5. [`Replica::advance`]`(rd)`: installs a received snapshot, applies the
//!    committed entries, serves the reads whose index is applied;
//! 6. if [`Replica::compaction`] returns a snapshot, write it and hand it
//!    back with [`Replica::compacted`].
//!
//! Answers to client requests pile up in the replica and are taken with
//! [`Replica::take_answers`] whenever convenient (after `handle`,
//! `persisted` and `advance`); each carries the id its request came with.

mod apply;
mod requests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use crate::bugs::{Bug, Bugs};
use crate::kv::{Command, KvStore, MicroOp, Stored};
use crate::raft::{Index, ProposeError, RaftNode, Ready, Role, Snapshot, Term};

pub use requests::{Answer, Input, Refusal};
use requests::{PendingRead, PendingWrite, SplitRest, Stage};

/// Whether a node with `bugs` fdatasyncs what it persists: not under the
/// `no-fsync` bug (the storage still writes everything, it never syncs).
pub fn syncs_writes(bugs: &Bugs) -> bool {
    !bugs.has(Bug::NoFsync)
}

/// A snapshot's bytes do not decode as a key-value store.
#[derive(Debug, thiserror::Error)]
#[error("the snapshot does not decode: {0}")]
pub struct SnapshotError(#[from] pub bincode::Error);

/// One node's replicated key-value state machine and its Raft core.
/// `W` and `R` are the caller's request ids for writes and reads.
#[derive(Debug)]
pub struct Replica<W, R> {
    raft: RaftNode,
    kv: KvStore,
    bugs: Bugs,
    snapshot_every: u64,
    applied: Index,
    applied_term: Term,
    snapshot_index: Index,
    writes: BTreeMap<Index, PendingWrite<W>>,
    split_rests: Vec<SplitRest<W>>,
    next_ctx: u64,
    reads_waiting: HashMap<u64, PendingRead<R>>,
    reads_ready: Vec<(Index, PendingRead<R>)>,
    was_leader: bool,
    answers: Vec<Answer<W, R>>,
    /// The state machine's digest and the applied index it was taken at
    /// (every status asks; the store changes only when an entry or a
    /// snapshot is applied).
    digest: std::cell::Cell<Option<(Index, u64)>>,
}

impl<W, R> Replica<W, R> {
    /// A replica around a core restored from storage; `snapshot` is the
    /// restored snapshot, if any (the state machine starts from it). It
    /// snapshots its state and asks for compaction every `snapshot_every`
    /// applied entries.
    pub fn new(
        raft: RaftNode,
        snapshot: Option<&Snapshot>,
        snapshot_every: u64,
    ) -> Result<Self, SnapshotError> {
        let meta = snapshot.map(|s| s.meta).unwrap_or_default();
        let kv = match snapshot {
            Some(s) => KvStore::restore(&s.data)?,
            None => KvStore::new(),
        };
        let bugs = raft.config().bugs.clone();
        Ok(Replica {
            raft,
            kv,
            bugs,
            snapshot_every: snapshot_every.max(1),
            applied: meta.index,
            applied_term: meta.term,
            snapshot_index: meta.index,
            writes: BTreeMap::new(),
            split_rests: Vec::new(),
            next_ctx: 0,
            reads_waiting: HashMap::new(),
            reads_ready: Vec::new(),
            was_leader: false,
            answers: Vec::new(),
            digest: std::cell::Cell::new(None),
        })
    }

    /// The Raft core, for status questions.
    pub fn raft(&self) -> &RaftNode {
        &self.raft
    }

    /// The last index applied to the state machine.
    pub fn applied(&self) -> Index {
        self.applied
    }

    /// The number of keys in the state machine.
    pub fn keys(&self) -> usize {
        self.kv.len()
    }

    /// The digest of the state machine at [`applied`](Replica::applied)
    /// ([`KvStore::digest`]), computed once per applied index.
    pub fn state_digest(&self) -> u64 {
        match self.digest.get() {
            Some((at, d)) if at == self.applied => d,
            _ => {
                let d = self.kv.digest();
                self.digest.set(Some((self.applied, d)));
                d
            }
        }
    }

    /// This replica's whole state machine, as applied up to
    /// [`applied`](Replica::applied) (no consistency promise).
    pub fn state(&self) -> &KvStore {
        &self.kv
    }

    /// What `key` holds in this replica's state machine (no consistency promise).
    pub fn get(&self, key: &str) -> Option<&Stored> {
        self.kv.get(key)
    }

    /// Whether this replica believes it leads.
    pub fn is_leader(&self) -> bool {
        self.raft.role() == Role::Leader
    }

    /// Feeds one input. Refusals and locally served reads are answered at
    /// once (see [`take_answers`](Replica::take_answers)).
    pub fn handle(&mut self, input: Input<W, R>) {
        match input {
            Input::Tick => {
                self.raft.tick();
                self.check_leadership();
            }
            Input::Peer(msg) => {
                self.raft.step(msg);
                self.check_leadership();
            }
            Input::Write {
                cmd: Command::Txn { ops },
                id,
            } => self.txn(ops, false, id),
            Input::Write { cmd, id } => self.propose(cmd, id, Stage::Whole),
            Input::Txn { ops, local, id } => self.txn(ops, local, id),
            Input::Read { key, local, id } => self.read(key, local, id),
        }
    }

    /// Proposes `cmd` (the `stage` of a client's request `id`); a node
    /// that does not lead refuses at once.
    fn propose(&mut self, cmd: Command, id: W, stage: Stage) {
        let blind = cmd.is_blind();
        match self.raft.propose(cmd.encode()) {
            Ok((index, term)) => {
                self.writes.insert(
                    index,
                    PendingWrite {
                        term,
                        blind,
                        id,
                        stage,
                    },
                );
            }
            Err(ProposeError::NotLeader { leader }) => self.answers.push(Answer::Write {
                id,
                outcome: Err(Refusal::NotLeader { leader }),
            }),
        }
    }

    /// A transaction: one log entry. A read-only one is answered from
    /// local state when `local` (or under `txn-local-read`); under
    /// `txn-split` one of two or more micro-operations becomes two entries.
    fn txn(&mut self, mut ops: Vec<MicroOp>, local: bool, id: W) {
        let read_only = ops.iter().all(MicroOp::is_read);
        if read_only && (local || self.bugs.has(Bug::TxnLocalRead)) {
            let outcome = Ok(self.kv.observe(&ops));
            self.answers.push(Answer::Write { id, outcome });
            return;
        }
        if self.bugs.has(Bug::TxnSplit) && ops.len() >= 2 {
            let rest = ops.split_off(ops.len() / 2);
            self.propose(Command::Txn { ops }, id, Stage::First { rest });
            return;
        }
        self.propose(Command::Txn { ops }, id, Stage::Whole);
    }

    /// `txn-split`: proposes the rest of every transaction whose first half
    /// just applied. A node that no longer leads cannot: the first half
    /// took effect, the rest never will, and the client is told the outcome
    /// is unknown.
    fn propose_split_rests(&mut self) {
        for SplitRest { rest, first, id } in std::mem::take(&mut self.split_rests) {
            match self.raft.propose(Command::Txn { ops: rest }.encode()) {
                Ok((index, term)) => {
                    self.writes.insert(
                        index,
                        PendingWrite {
                            term,
                            blind: false,
                            id,
                            stage: Stage::Second { first },
                        },
                    );
                }
                Err(ProposeError::NotLeader { .. }) => self.answers.push(Answer::Write {
                    id,
                    outcome: Err(Refusal::Unknown(
                        "txn-split: the first half applied, the rest was never proposed".into(),
                    )),
                }),
            }
        }
    }

    fn read(&mut self, key: String, local: bool, id: R) {
        let serve_locally = local
            || self.bugs.has(Bug::StaleRead)
            || (self.bugs.has(Bug::LeaseWithoutCheckQuorum) && self.is_leader());
        if serve_locally {
            let outcome = Ok(self.kv.get(&key).cloned());
            self.answers.push(Answer::Read { id, outcome });
            return;
        }
        self.next_ctx += 1;
        let ctx = self.next_ctx;
        match self.raft.read_index(ctx) {
            Ok(()) => {
                self.reads_waiting.insert(ctx, PendingRead { key, id });
            }
            Err(ProposeError::NotLeader { leader }) => self.answers.push(Answer::Read {
                id,
                outcome: Err(Refusal::NotLeader { leader }),
            }),
        }
    }

    /// Rounds of a lost leadership never complete: a read has no effect, so
    /// telling its client now is a definite failure.
    fn check_leadership(&mut self) {
        let is_leader = self.is_leader();
        if self.was_leader && !is_leader {
            let leader = self.raft.status().leader;
            self.answers
                .extend(self.reads_waiting.drain().map(|(_, read)| Answer::Read {
                    id: read.id,
                    outcome: Err(Refusal::NotLeader { leader }),
                }));
        }
        self.was_leader = is_leader;
    }

    /// Whether [`ready`](Replica::ready) has anything to hand out.
    pub fn has_ready(&self) -> bool {
        self.raft.has_ready()
    }

    /// What to send, persist and apply next; see the module docs for the order.
    pub fn ready(&mut self) -> Ready {
        self.raft.ready()
    }

    /// The caller made `rd`'s hard state, snapshot and entries durable.
    /// Under `ack-before-commit`, blind writes just appended are acknowledged
    /// here, before they commit.
    pub fn persisted(&mut self, rd: &Ready) {
        if let Some((index, term)) = rd.persist_point() {
            self.raft.persisted(index, term);
        }
        if self.bugs.has(Bug::AckBeforeCommit) {
            self.ack_appended(rd);
        }
    }

    /// Installs `rd`'s snapshot, applies its committed entries and serves the
    /// reads now possible. Call after persisting it and sending its messages.
    pub fn advance(&mut self, mut rd: Ready) -> Result<(), SnapshotError> {
        if let Some(snapshot) = rd.snapshot.take() {
            self.install(snapshot)?;
        }
        self.apply_committed(&mut rd);
        self.propose_split_rests();
        for rs in rd.read_states {
            if let Some(read) = self.reads_waiting.remove(&rs.ctx) {
                self.reads_ready.push((rs.index, read));
            }
        }
        self.serve_reads();
        Ok(())
    }

    /// Applies `rd`'s committed entries (taking them out of `rd`) and serves
    /// the reads already waiting for them, nothing else: what a node that is
    /// about to crash (`crash-after-commit`) still answers.
    pub fn apply_committed(&mut self, rd: &mut Ready) {
        for entry in std::mem::take(&mut rd.committed) {
            self.apply(entry);
        }
        self.serve_reads();
    }

    /// Answers ready for delivery, oldest first.
    pub fn take_answers(&mut self) -> std::vec::Drain<'_, Answer<W, R>> {
        self.answers.drain(..)
    }

    /// A snapshot of the state machine to write, once `snapshot_every`
    /// entries were applied since the last one. Write it, then hand it to
    /// [`compacted`](Replica::compacted); until then it is asked for again.
    pub fn compaction(&self) -> Option<Snapshot> {
        if self.applied < self.snapshot_index.saturating_add(self.snapshot_every) {
            return None;
        }
        Some(Snapshot {
            meta: crate::raft::SnapshotMeta {
                index: self.applied,
                term: self.applied_term,
            },
            data: self.kv.snapshot(),
        })
    }

    /// The caller wrote `snapshot` (from [`compaction`](Replica::compaction)):
    /// the core drops the log it covers.
    pub fn compacted(&mut self, snapshot: Snapshot) {
        self.snapshot_index = snapshot.meta.index;
        self.raft.compact(snapshot.meta.index, snapshot.data);
    }
}
