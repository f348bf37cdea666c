//! What a client asks a replica for and what the replica answers.

use crate::kv::{Applied, Command, Completed, MicroOp, Stored};
use crate::raft::{Message, NodeId};

/// One input to a [`Replica`](super::Replica). `W` and `R` are the caller's
/// request ids for writes and reads: the replica hands them back, untouched,
/// in the [`Answer`] to that request (the simulator uses numbers, the server
/// the reply channel itself, so delivering an answer needs no lookup).
#[derive(Debug)]
pub enum Input<W, R> {
    /// One logical clock tick (the server ticks every 10 ms).
    Tick,
    /// A message from a peer.
    Peer(Message),
    /// A client write (put, cas or append), answered once its entry commits,
    /// is lost, or at once if this replica does not lead.
    Write {
        /// The command to replicate.
        cmd: Command,
        /// The caller's id for this request.
        id: W,
    },
    /// A client transaction, answered like a write (an [`Answer::Write`]
    /// with [`Applied::Txn`]) once its entry applies. A read-only one is
    /// served from local state at once when `local`. (A transaction sent
    /// as an `Input::Write` of a [`Command::Txn`] is the same, not local.)
    Txn {
        /// Its micro-operations.
        ops: Vec<MicroOp>,
        /// Serve it from local state without asking anyone, if it only
        /// reads (not linearizable).
        local: bool,
        /// The caller's id for this request.
        id: W,
    },
    /// A client read: linearizable (ReadIndex) unless `local`.
    Read {
        /// The key to read.
        key: String,
        /// Serve from local state without asking anyone (not linearizable).
        local: bool,
        /// The caller's id for this request.
        id: R,
    },
}

/// Why a request was not carried out here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Refusal {
    /// Only the leader can do it; `leader` is the one this node knows of.
    NotLeader {
        /// The leader this node knows of in its term, to retry at (None: none known).
        leader: Option<NodeId>,
    },
    /// The entry was overwritten by another leader's: it will never apply.
    Lost,
    /// It may or may not have applied.
    Unknown(String),
}

/// The outcome of one client request, for the caller to deliver.
#[derive(Debug)]
pub enum Answer<W, R> {
    /// The answer to an [`Input::Write`] with the same `id`.
    Write {
        /// The id the write came with.
        id: W,
        /// What applying it did, or why it did not (or may not) apply.
        outcome: Result<Applied, Refusal>,
    },
    /// The answer to an [`Input::Read`] with the same `id`.
    Read {
        /// The id the read came with.
        id: R,
        /// What the key held, or why the read was not served.
        outcome: Result<Option<Stored>, Refusal>,
    },
}

/// A write waiting for its entry to commit.
#[derive(Debug)]
pub(super) struct PendingWrite<W> {
    /// The term the entry was proposed in (its index is the map key).
    pub term: u64,
    /// Whether `ack-before-commit` may acknowledge it once appended.
    pub blind: bool,
    pub id: W,
    /// Which part of the client's request the entry holds.
    pub stage: Stage,
}

/// Which part of a client's request a log entry holds: all of it, or
/// (`txn-split`) one half of a transaction.
#[derive(Debug)]
pub(super) enum Stage {
    /// The whole request.
    Whole,
    /// The first half of a transaction; `rest` is proposed once it applies.
    First {
        /// The micro-operations still to propose.
        rest: Vec<MicroOp>,
    },
    /// The rest of a transaction whose first half applied as `first`.
    Second {
        /// What the first half did.
        first: Vec<Completed>,
    },
}

/// `txn-split`: the rest of a transaction whose first half just applied,
/// to propose once the entries being applied are done.
#[derive(Debug)]
pub(super) struct SplitRest<W> {
    pub rest: Vec<MicroOp>,
    pub first: Vec<Completed>,
    pub id: W,
}

/// A read waiting for its ReadIndex round or for its index to apply.
#[derive(Debug)]
pub(super) struct PendingRead<R> {
    pub key: String,
    pub id: R,
}
