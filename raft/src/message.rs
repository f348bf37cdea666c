//! What nodes persist and exchange: log entries, hard state, snapshots and
//! the peer messages.

use serde::{Deserialize, Serialize};

use super::{Index, NodeId, Term};

/// One log entry. Empty `data` is the no-op a leader appends at the start of its term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The term of the leader that created it.
    pub term: Term,
    /// Its position in the log, from 1.
    pub index: Index,
    /// The application command (empty for the no-op). Encoded as one byte
    /// string (the same bincode bytes as a sequence, written in one copy).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// The state that must be durable before a node answers anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// Whom it voted for in `term`.
    pub vote: Option<NodeId>,
    /// The highest index known committed.
    pub commit: Index,
}

/// Where a snapshot stands in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The last index the snapshot covers.
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
}

/// The application state up to `meta.index`, as opaque bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Where it stands in the log.
    pub meta: SnapshotMeta,
    /// The application's serialized state (one byte string, as `Entry::data`).
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// A message between peers (the transport frames it with bincode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The sending node; answers go back to it.
    pub from: NodeId,
    /// The node it is for; the transport routes by it.
    pub to: NodeId,
    /// The sender's term (for PreVote: the term it would campaign in).
    pub term: Term,
    /// What the message says.
    pub body: MessageBody,
}

/// Why an Append was refused, and where the leader should look next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectHint {
    /// The follower's last index.
    pub last_index: Index,
    /// The term of the follower's entry at the rejected `prev_index`, if it has one.
    pub conflict_term: Option<Term>,
    /// The first index the follower holds of `conflict_term` (or `last_index + 1`
    /// when the follower's log is too short).
    pub conflict_index: Index,
}

/// The kinds of peer messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MessageBody {
    /// Would you vote for me in `Message::term`? Does not change anyone's term.
    PreVote {
        /// The candidate's last log index.
        last_index: Index,
        /// The term of the candidate's last entry.
        last_term: Term,
    },
    /// The answer to a PreVote.
    PreVoteResp {
        /// Whether the vote would be granted.
        granted: bool,
    },
    /// Vote for me in `Message::term`.
    Vote {
        /// The candidate's last log index.
        last_index: Index,
        /// The term of the candidate's last entry.
        last_term: Term,
    },
    /// The answer to a Vote.
    VoteResp {
        /// Whether the vote was granted (and persisted).
        granted: bool,
    },
    /// Entries following `prev_index`, which must hold `prev_term`.
    Append {
        /// The index just before `entries`.
        prev_index: Index,
        /// The term of the entry at `prev_index`.
        prev_term: Term,
        /// The entries to append (may be empty: a probe).
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: Index,
    },
    /// The answer to an Append or an InstallSnapshot.
    AppendResp {
        /// On success, the last index known to match the leader's log;
        /// on rejection, the `prev_index` that was refused.
        index: Index,
        /// Set when the Append was refused.
        reject: Option<RejectHint>,
    },
    /// The leader is alive; `ctx` names the ReadIndex round it confirms (0: none).
    Heartbeat {
        /// The leader's commit index, capped at what the follower is known to hold.
        commit: Index,
        /// The leader's latest ReadIndex round (0: none yet); the follower echoes it.
        ctx: u64,
    },
    /// The answer to a Heartbeat.
    HeartbeatResp {
        /// The ReadIndex round echoed back.
        ctx: u64,
    },
    /// The follower is behind the compacted log: here is the leader's snapshot.
    InstallSnapshot {
        /// The leader's latest snapshot, data included; it replaces the follower's log.
        snapshot: Snapshot,
    },
    /// A recovering follower's storage lost entries it had acknowledged:
    /// its log really ends at `last_index` (protocol-aware recovery; the
    /// leader lowers its match and probes from there).
    Lost {
        /// The follower's last index.
        last_index: Index,
    },
    /// A recovering node heard from no leader for an election timeout: does
    /// the receiver hold the entry it had acknowledged (`acked_index` of
    /// `acked_term`; 0 when unknown), and is it recovering too? Answered
    /// whatever the terms.
    LostProbe {
        /// The index of the last entry the asker had acknowledged (0: unknown).
        acked_index: Index,
        /// Its term.
        acked_term: Term,
    },
    /// The answer to a LostProbe.
    LostProbeResp {
        /// The answering node is recovering lost entries itself.
        recovering: bool,
        /// It lost only what its last sync wrote (see `Recovery::ambiguous`).
        ambiguous: bool,
        /// It holds the asked entry (or a snapshot past it).
        holds: bool,
        /// It knows a leader of its current term.
        has_leader: bool,
    },
}

impl MessageBody {
    /// Whether the message can only come from a leader of `Message::term`.
    pub fn is_from_leader(&self) -> bool {
        matches!(
            self,
            MessageBody::Append { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::InstallSnapshot { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bincode::Options;

    /// The byte-string encoding of `data` is the one a plain `Vec<u8>` had:
    /// WALs, snapshots and peers of older builds still read.
    #[test]
    fn entry_data_keeps_the_sequence_encoding() {
        #[derive(Serialize)]
        struct Old {
            term: Term,
            index: Index,
            data: Vec<u8>,
        }
        let data: Vec<u8> = (0..=255).collect();
        let new = Entry {
            term: 3,
            index: 300,
            data: data.clone(),
        };
        let old = Old {
            term: 3,
            index: 300,
            data,
        };
        assert_eq!(
            bincode::serialize(&new).unwrap(),
            bincode::serialize(&old).unwrap()
        );
        let varint = bincode::DefaultOptions::new();
        let bytes = varint.serialize(&old).unwrap();
        assert_eq!(varint.serialize(&new).unwrap(), bytes);
        assert_eq!(varint.deserialize::<Entry>(&bytes).unwrap(), new);
    }
}
