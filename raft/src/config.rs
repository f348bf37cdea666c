//! Static configuration of one Raft node.

use super::NodeId;
use crate::bugs::{Bug, Bugs};

/// How one node runs: its identity, the fixed membership, timing in ticks,
/// replication limits, the seed of its randomness and the injected bugs.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's id (the server numbers `--peers` 1, 2, .. in order); one of `voters`.
    pub id: NodeId,
    /// The fixed membership, including `id`.
    pub voters: Vec<NodeId>,
    /// Lower bound (inclusive) of the randomised election timeout, in ticks.
    pub election_ticks_min: u32,
    /// Upper bound (exclusive) of the randomised election timeout, in ticks.
    pub election_ticks_max: u32,
    /// How often a leader sends heartbeats, in ticks.
    pub heartbeat_ticks: u32,
    /// Run a PreVote round before starting a real election.
    pub pre_vote: bool,
    /// A leader that has not heard from a majority for an election timeout steps down.
    pub check_quorum: bool,
    /// The most entries carried by one Append message.
    pub max_entries_per_msg: usize,
    /// The most Append messages in flight to one follower (the pipelining window).
    pub max_inflight_msgs: usize,
    /// The only source of randomness (election timeouts).
    pub seed: u64,
    /// The deliberately wrong behaviours switched on.
    pub bugs: Bugs,
    /// The leader writes its own log in parallel with replicating it (Raft
    /// thesis 10.2.1): its Appends come out in [`Ready::early_messages`]
    /// and may be sent before the Ready is persisted, and the leader counts
    /// itself toward a commit quorum only up to what the caller reported
    /// with [`RaftNode::persisted`]. Off: everything a Ready hands out
    /// counts as persisted once the next input arrives (the caller persists
    /// each Ready before anything else), and `early_messages` stays empty.
    ///
    /// [`Ready::early_messages`]: super::Ready::early_messages
    /// [`RaftNode::persisted`]: super::RaftNode::persisted
    pub persist_in_parallel: bool,
}

impl Config {
    /// Sensible defaults: 150–300 ms election timeouts at 10 ms ticks, heartbeats
    /// every 30 ms, PreVote and CheckQuorum on, 256 entries per message, a
    /// window of 64 messages, no bugs, the leader persisting before it sends.
    pub fn new(id: NodeId, voters: Vec<NodeId>, seed: u64) -> Config {
        Config {
            id,
            voters,
            election_ticks_min: 15,
            election_ticks_max: 30,
            heartbeat_ticks: 3,
            pre_vote: true,
            check_quorum: true,
            max_entries_per_msg: 256,
            max_inflight_msgs: 64,
            seed,
            bugs: Bugs::none(),
            persist_in_parallel: false,
        }
    }

    /// Whether `bug` is switched on.
    pub(crate) fn bug(&self, bug: Bug) -> bool {
        self.bugs.has(bug)
    }

    /// CheckQuorum as actually run: forced off by `lease-without-checkquorum`.
    pub(crate) fn effective_check_quorum(&self) -> bool {
        self.check_quorum && !self.bug(Bug::LeaseWithoutCheckQuorum)
    }

    /// The number of votes (or replicas) that make a majority.
    pub(crate) fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}
