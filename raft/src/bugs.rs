//! The deliberately wrong behaviours a node can be started with (`--bug NAME`),
//! in one place, so the harness can prove it catches each of them.

use std::fmt;
use std::str::FromStr;

/// One deliberately injected bug. Every variant is off unless asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// Serve reads from local state without ReadIndex.
    StaleRead,
    /// The leader serves reads from local state trusting a lease, and never
    /// steps down when it loses the majority (CheckQuorum off).
    LeaseWithoutCheckQuorum,
    /// Forget the vote across a restart (the vote is not persisted).
    VoteTwice,
    /// Grant votes regardless of whether the candidate's log is up to date.
    NoLogCheck,
    /// Commit entries of earlier terms by counting replicas (Figure 8).
    CommitOldTerm,
    /// Answer writes once appended to the leader's log, before commit.
    AckBeforeCommit,
    /// Skip fdatasync of the write-ahead log.
    NoFsync,
    /// Append entries without removing conflicting ones.
    NoTruncate,
    /// Propose a transaction of two or more micro-operations as two log
    /// entries, the first half and then (once it applies) the rest, so that
    /// other transactions interleave between them. Implemented by the
    /// node's replica, above the core.
    TxnSplit,
    /// Answer read-only transactions from local state on any node (a
    /// follower included): no log entry, no ReadIndex. Implemented by the
    /// node's replica, above the core.
    TxnLocalRead,
    /// A node whose storage lost entries it had acknowledged (damage found
    /// at restart) votes and campaigns at once, as if its shortened log
    /// were whole, instead of staying a non-voting learner until a leader
    /// has given those entries back. Disables protocol-aware recovery.
    VoteWithoutRepair,
}

impl Bug {
    /// Every bug, in the order `--help` lists them.
    pub const ALL: [Bug; 11] = [
        Bug::StaleRead,
        Bug::LeaseWithoutCheckQuorum,
        Bug::VoteTwice,
        Bug::NoLogCheck,
        Bug::CommitOldTerm,
        Bug::AckBeforeCommit,
        Bug::NoFsync,
        Bug::NoTruncate,
        Bug::TxnSplit,
        Bug::TxnLocalRead,
        Bug::VoteWithoutRepair,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleRead => "stale-read",
            Bug::LeaseWithoutCheckQuorum => "lease-without-checkquorum",
            Bug::VoteTwice => "vote-twice",
            Bug::NoLogCheck => "no-log-check",
            Bug::CommitOldTerm => "commit-old-term",
            Bug::AckBeforeCommit => "ack-before-commit",
            Bug::NoFsync => "no-fsync",
            Bug::NoTruncate => "no-truncate",
            Bug::TxnSplit => "txn-split",
            Bug::TxnLocalRead => "txn-local-read",
            Bug::VoteWithoutRepair => "vote-without-repair",
        }
    }

    /// What the bug breaks, one line.
    pub fn description(self) -> &'static str {
        match self {
            Bug::StaleRead => "reads are served from local state, without ReadIndex",
            Bug::LeaseWithoutCheckQuorum => {
                "leader reads trust a lease but the leader never steps down without a quorum"
            }
            Bug::VoteTwice => {
                "the vote is not persisted, so a restarted node can vote twice in a term"
            }
            Bug::NoLogCheck => "votes are granted without the log up-to-date check",
            Bug::CommitOldTerm => "entries of earlier terms are committed by counting replicas",
            Bug::AckBeforeCommit => "writes are acknowledged once appended locally, before commit",
            Bug::NoFsync => "the write-ahead log is never fdatasync'ed",
            Bug::NoTruncate => "conflicting log entries are not truncated on append",
            Bug::TxnSplit => {
                "transactions are proposed as two log entries (first half, then the rest): others interleave, so they are not atomic"
            }
            Bug::TxnLocalRead => {
                "read-only transactions are answered from local state on any node, without a log entry or ReadIndex"
            }
            Bug::VoteWithoutRepair => {
                "a node that lost acknowledged log entries to disk damage votes at once, without fetching them back first"
            }
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown bug name.
#[derive(Debug, thiserror::Error)]
#[error("unknown bug {name:?}; known bugs: {}", Bug::ALL.map(Bug::name).join(", "))]
pub struct UnknownBug {
    /// The name given (e.g. to `--bug`), which matches no [`Bug`].
    pub name: String,
}

impl FromStr for Bug {
    type Err = UnknownBug;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| UnknownBug {
                name: s.to_string(),
            })
    }
}

/// The set of bugs a node runs with (usually empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bugs(Vec<Bug>);

impl Bugs {
    /// No bugs: the correct node.
    pub fn none() -> Self {
        Bugs(Vec::new())
    }

    /// A set holding the given bugs.
    pub fn of(bugs: impl IntoIterator<Item = Bug>) -> Self {
        let mut v: Vec<Bug> = bugs.into_iter().collect();
        v.dedup();
        Bugs(v)
    }

    /// Whether `bug` is switched on.
    pub fn has(&self, bug: Bug) -> bool {
        self.0.contains(&bug)
    }

    /// The bugs switched on.
    pub fn iter(&self) -> impl Iterator<Item = Bug> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for b in Bug::ALL {
            assert_eq!(b.name().parse::<Bug>().unwrap(), b);
        }
        let err = "stale-reads".parse::<Bug>().unwrap_err().to_string();
        assert!(err.contains("stale-read,"), "{err}");
        assert!(err.contains("txn-local-read"), "{err}");
    }
}
