//! Linearizable reads by ReadIndex: a read waits until the leader has
//! committed an entry of its term, records the commit index, and is released
//! once a quorum answered a heartbeat round sent after it.

use std::collections::VecDeque;

use super::node::{ProposeError, RaftNode, ReadState, Role};
use super::{Index, NodeId};

/// One heartbeat round and the reads waiting on it.
#[derive(Debug)]
struct Round {
    id: u64,
    acks: Vec<NodeId>,
    reads: Vec<ReadState>,
}

/// The leader's pending reads.
#[derive(Debug, Default)]
pub(crate) struct ReadQueue {
    /// Reads that arrived before the leader committed an entry of its term.
    before_commit: Vec<u64>,
    /// Rounds waiting for a quorum, oldest first.
    rounds: VecDeque<Round>,
    /// The id of the latest round (heartbeats carry it).
    last_round: u64,
    /// The latest round has not been broadcast yet.
    unsent: bool,
}

impl ReadQueue {
    /// The latest round id (0: none yet).
    pub(crate) fn last_round(&self) -> u64 {
        self.last_round
    }

    /// Forgets every pending read (leadership changed: they never complete).
    pub(crate) fn clear(&mut self) {
        self.before_commit.clear();
        self.rounds.clear();
        self.unsent = false;
    }

    /// Whether a round waits to be broadcast.
    pub(crate) fn has_unsent_round(&self) -> bool {
        self.unsent
    }

    /// Adds reads at `index` to the newest unsent round (opening one if needed).
    fn enqueue(&mut self, reads: impl IntoIterator<Item = ReadState>) {
        if !self.unsent {
            self.last_round += 1;
            self.unsent = true;
            self.rounds.push_back(Round {
                id: self.last_round,
                acks: Vec::new(),
                reads: Vec::new(),
            });
        }
        let round = self
            .rounds
            .back_mut()
            .expect("an unsent round was just opened");
        round.reads.extend(reads);
    }

    /// Records that `from` answered heartbeats up to round `ctx`, and returns
    /// the reads whose round reached a quorum (counting the leader), in order.
    fn ack(&mut self, from: NodeId, ctx: u64, quorum: usize) -> Vec<ReadState> {
        for round in self.rounds.iter_mut().filter(|r| r.id <= ctx) {
            if !round.acks.contains(&from) {
                round.acks.push(from);
            }
        }
        let mut out = Vec::new();
        while let Some(front) = self.rounds.front() {
            // A quorum on a later round also confirms every earlier one.
            let confirmed = self
                .rounds
                .iter()
                .any(|r| r.acks.len() + 1 >= quorum && r.id >= front.id);
            if !confirmed {
                break;
            }
            let round = self.rounds.pop_front().expect("front exists");
            out.extend(round.reads);
        }
        out
    }
}

impl RaftNode {
    /// Asks for a linearizable read named `ctx`. Leader only; the answer comes
    /// through [`Ready::read_states`](super::Ready::read_states) once the
    /// leader has confirmed it still leads. Reads pending when leadership is
    /// lost never complete.
    pub fn read_index(&mut self, ctx: u64) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if self.log.term(self.log.commit) != Some(self.term) {
            self.reads.before_commit.push(ctx);
            return Ok(());
        }
        let read = ReadState {
            ctx,
            index: self.log.commit,
        };
        if self.progress.is_empty() {
            self.read_states.push(read);
        } else {
            self.reads.enqueue([read]);
        }
        Ok(())
    }

    /// The commit index moved: reads waiting for a current-term commit go ahead.
    pub(crate) fn on_commit_advanced(&mut self) {
        if self.reads.before_commit.is_empty() || self.log.term(self.log.commit) != Some(self.term)
        {
            return;
        }
        let index: Index = self.log.commit;
        let reads: Vec<ReadState> = self
            .reads
            .before_commit
            .drain(..)
            .map(|ctx| ReadState { ctx, index })
            .collect();
        if self.progress.is_empty() {
            self.read_states.extend(reads);
        } else {
            self.reads.enqueue(reads);
        }
    }

    /// Sends the heartbeat round owed to pending reads.
    pub(crate) fn flush_read_round(&mut self) {
        if self.reads.unsent {
            self.reads.unsent = false;
            self.heartbeat_elapsed = 0;
            self.broadcast_heartbeat();
        }
    }

    /// A follower answered heartbeats up to round `ctx`.
    pub(crate) fn on_read_ack(&mut self, from: NodeId, ctx: u64) {
        let quorum = self.cfg.quorum();
        let ready = self.reads.ack(from, ctx, quorum);
        self.read_states.extend(ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_is_released_by_a_quorum_of_acks_for_it_or_a_later_round() {
        let mut q = ReadQueue::default();
        q.enqueue([ReadState { ctx: 1, index: 5 }]);
        q.unsent = false;
        q.enqueue([ReadState { ctx: 2, index: 6 }]);
        assert_eq!(q.last_round(), 2);
        // 5 voters: quorum 3 = the leader + 2 acks.
        assert!(q.ack(2, 1, 3).is_empty());
        assert!(q.ack(2, 1, 3).is_empty(), "duplicate acks do not count");
        let out = q.ack(3, 2, 3);
        assert_eq!(out, vec![ReadState { ctx: 1, index: 5 }]);
        let out = q.ack(4, 2, 3);
        assert_eq!(out, vec![ReadState { ctx: 2, index: 6 }]);
    }
}
