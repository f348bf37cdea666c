//! What a leader knows about one follower's log, and the flow control of the
//! Appends it sends there (probe one at a time, or pipeline within a window).

use std::collections::VecDeque;

use super::{Index, NodeId};

/// How a leader currently replicates to one follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressState {
    /// Where the follower's log matches is unknown: one Append at a time.
    Probe,
    /// The follower matches: Appends are pipelined, up to the inflight window.
    Replicate,
    /// The follower is behind the compacted log: a snapshot was sent.
    Snapshot {
        /// The index of the snapshot sent.
        pending: Index,
    },
}

/// The leader's view of one follower.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    /// The follower's id (the leader keeps no Progress for itself).
    pub(crate) id: NodeId,
    /// The highest index known to match the leader's log.
    pub(crate) matched: Index,
    /// The next index to send.
    pub(crate) next: Index,
    /// How Appends to it are paced: probe, pipeline, or wait for a snapshot.
    pub(crate) state: ProgressState,
    /// In Probe: an Append is out and unanswered.
    pub(crate) probe_sent: bool,
    /// In Replicate: the last index of each Append in flight.
    pub(crate) inflights: VecDeque<Index>,
    /// Heard from since the last CheckQuorum round.
    pub(crate) recent_active: bool,
    /// Leader ticks since the follower last acknowledged progress (snapshot retry).
    pub(crate) stalled_ticks: u32,
    /// The commit index last sent to the follower.
    pub(crate) sent_commit: Index,
}

impl Progress {
    /// A fresh view at the start of a term: probe from the leader's end.
    pub(crate) fn new(id: NodeId, next: Index) -> Self {
        Progress {
            id,
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflights: VecDeque::new(),
            recent_active: false,
            stalled_ticks: 0,
            sent_commit: 0,
        }
    }

    /// Whether no more Appends may be sent now.
    pub(crate) fn is_paused(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflights.len() >= max_inflight,
            ProgressState::Snapshot { .. } => true,
        }
    }

    /// Back to probing from just after what is known to match.
    pub(crate) fn become_probe(&mut self) {
        if let ProgressState::Snapshot { pending } = self.state {
            self.next = (self.matched + 1).max(pending + 1);
        } else {
            self.next = self.matched + 1;
        }
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflights.clear();
    }

    /// Start pipelining from just after what is known to match.
    pub(crate) fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next = self.matched + 1;
        self.probe_sent = false;
        self.inflights.clear();
    }

    /// A snapshot at `index` was sent.
    pub(crate) fn become_snapshot(&mut self, index: Index) {
        self.state = ProgressState::Snapshot { pending: index };
        self.probe_sent = false;
        self.inflights.clear();
        self.stalled_ticks = 0;
    }

    /// The follower acknowledged a match up to `index`. Returns whether that
    /// is news.
    pub(crate) fn maybe_update(&mut self, index: Index) -> bool {
        let updated = index > self.matched;
        if updated {
            self.matched = index;
            self.probe_sent = false;
            self.stalled_ticks = 0;
        }
        if self.next < index + 1 {
            self.next = index + 1;
        }
        while self.inflights.front().is_some_and(|&i| i <= index) {
            self.inflights.pop_front();
        }
        updated
    }

    /// The follower refused the Append at `rejected`; `hint_next` is where the
    /// conflict hint says to resume. Returns false for a stale refusal.
    pub(crate) fn maybe_decr_to(&mut self, rejected: Index, hint_next: Index) -> bool {
        match self.state {
            ProgressState::Replicate => {
                if rejected <= self.matched {
                    return false;
                }
                self.become_probe();
                self.next = hint_next.clamp(self.matched + 1, rejected.max(self.matched + 1));
                true
            }
            ProgressState::Probe => {
                // Only the probe in flight counts, and never one at or below
                // the match: a follower refusing what it acknowledged lost
                // data (only possible when persistence is broken), and
                // resending the same probe at once would ping-pong forever.
                if self.next == 0 || self.next - 1 != rejected || rejected <= self.matched {
                    return false;
                }
                self.next = hint_next.clamp(self.matched + 1, rejected.max(self.matched + 1));
                self.probe_sent = false;
                true
            }
            ProgressState::Snapshot { .. } => false,
        }
    }

    /// An Append ending at `last` went out.
    pub(crate) fn sent(&mut self, last: Index, carried_entries: bool) {
        match self.state {
            ProgressState::Replicate if carried_entries => {
                self.next = last + 1;
                self.inflights.push_back(last);
            }
            ProgressState::Probe => self.probe_sent = true,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_sends_one_at_a_time_and_replicate_fills_the_window() {
        let mut pr = Progress::new(2, 11);
        assert!(!pr.is_paused(2));
        pr.sent(10, false);
        assert!(pr.is_paused(2));
        assert!(pr.maybe_update(10));
        pr.become_replicate();
        pr.sent(12, true);
        pr.sent(14, true);
        assert!(pr.is_paused(2));
        assert_eq!(pr.next, 15);
        pr.maybe_update(12);
        assert!(!pr.is_paused(2));
        assert_eq!(pr.inflights.len(), 1);
    }

    #[test]
    fn stale_refusals_are_ignored() {
        let mut pr = Progress::new(2, 11);
        pr.maybe_update(8);
        pr.become_replicate();
        pr.sent(20, true);
        assert!(!pr.maybe_decr_to(7, 3), "refusal below the match is stale");
        assert!(pr.maybe_decr_to(12, 10));
        assert_eq!(pr.state, ProgressState::Probe);
        assert_eq!(pr.next, 10);
        assert!(!pr.maybe_decr_to(15, 12), "not the probe in flight");
        assert!(pr.maybe_decr_to(9, 2));
        assert_eq!(pr.next, 9, "never below match + 1");
        assert!(
            !pr.maybe_decr_to(8, 2),
            "a refusal of the probe at the match is stale"
        );
    }
}
