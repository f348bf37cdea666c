//! Log replication: Appends (batched, pipelined), the follower's log check,
//! conflict hints, snapshots for followers behind the compacted log,
//! heartbeats, and the commit rule.

use super::log::AppendOutcome;
use super::message::{Entry, MessageBody, RejectHint, Snapshot};
use super::node::{RaftNode, Role};
use super::progress::ProgressState;
use super::{Index, NodeId, Term};
use crate::bugs::Bug;

/// The commit rule: the highest index held by a quorum (`matched` holds every
/// voter's match, the leader's included) may be committed only if its entry
/// is of the leader's current term (Raft §5.4.2, Figure 8), unless the
/// `commit-old-term` bug counts replicas of older terms too.
pub(crate) fn quorum_commit(
    matched: &mut [Index],
    quorum: usize,
    term_at: impl Fn(Index) -> Option<Term>,
    current_term: Term,
    commit_old_term: bool,
) -> Option<Index> {
    matched.sort_unstable_by(|a, b| b.cmp(a));
    let candidate = *matched.get(quorum.checked_sub(1)?)?;
    let term_ok = commit_old_term || term_at(candidate) == Some(current_term);
    term_ok.then_some(candidate)
}

impl RaftNode {
    /// Sends every follower what it is owed: new entries up to the window, or
    /// an empty Append carrying a newer commit index.
    pub(crate) fn broadcast_append(&mut self) {
        for i in 0..self.progress.len() {
            let commit_news = self.progress[i].sent_commit < self.log.commit;
            let mut first = true;
            while self.send_append(i, first && commit_news) {
                first = false;
            }
        }
    }

    /// Sends one Append (or a snapshot) to follower `i` if flow control allows.
    /// Returns true if it sent entries (so more may follow).
    pub(crate) fn send_append(&mut self, i: usize, even_if_empty: bool) -> bool {
        let max_inflight = self.cfg.max_inflight_msgs.max(1);
        let pr = &self.progress[i];
        if pr.is_paused(max_inflight) {
            return false;
        }
        let to = pr.id;
        let prev_index = pr.next - 1;
        let Some(prev_term) = self.log.term(prev_index) else {
            return self.send_snapshot(i);
        };
        let last = self.log.last_index();
        if pr.next > last && !even_if_empty && pr.state == ProgressState::Replicate {
            return false;
        }
        let entries = self
            .log
            .slice(pr.next, last, self.cfg.max_entries_per_msg.max(1));
        let sent_last = prev_index + entries.len() as Index;
        let carried = !entries.is_empty();
        let commit = self.log.commit;
        let pr = &mut self.progress[i];
        pr.sent(sent_last, carried);
        pr.sent_commit = commit;
        self.send(
            to,
            self.term,
            MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            },
        );
        carried && self.progress[i].state == ProgressState::Replicate
    }

    fn send_snapshot(&mut self, i: usize) -> bool {
        let Some(snapshot) = self.log.snapshot().cloned() else {
            tracing::error!(
                id = self.cfg.id,
                "follower needs compacted entries but no snapshot is held"
            );
            return false;
        };
        let to = self.progress[i].id;
        self.progress[i].become_snapshot(snapshot.meta.index);
        self.send(to, self.term, MessageBody::InstallSnapshot { snapshot });
        false
    }

    /// Heartbeats to every follower, carrying the latest ReadIndex round.
    pub(crate) fn broadcast_heartbeat(&mut self) {
        let ctx = self.reads.last_round();
        for i in 0..self.progress.len() {
            let pr = &self.progress[i];
            let to = pr.id;
            let commit = pr.matched.min(self.log.commit);
            self.send(to, self.term, MessageBody::Heartbeat { commit, ctx });
        }
    }

    /// A follower's handling of an Append from the current leader.
    pub(crate) fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        commit: Index,
    ) {
        let no_truncate = self.cfg.bug(Bug::NoTruncate);
        let body = match self
            .log
            .maybe_append(prev_index, prev_term, entries, commit, no_truncate)
        {
            AppendOutcome::Matched(index) => {
                self.maybe_repaired(index, commit);
                MessageBody::AppendResp {
                    index,
                    reject: None,
                }
            }
            AppendOutcome::Rejected(hint) => MessageBody::AppendResp {
                index: prev_index,
                reject: Some(hint),
            },
        };
        self.send(from, self.term, body);
        self.report_loss(from);
    }

    /// A follower's handling of a snapshot from the current leader.
    pub(crate) fn handle_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        let index = if snapshot.meta.index <= self.log.commit {
            self.log.commit
        } else {
            let index = snapshot.meta.index;
            self.log.install(snapshot);
            index
        };
        self.repaired_by_snapshot(index);
        self.send(
            from,
            self.term,
            MessageBody::AppendResp {
                index,
                reject: None,
            },
        );
    }

    fn progress_index(&self, id: NodeId) -> Option<usize> {
        self.progress.iter().position(|p| p.id == id)
    }

    /// The leader's handling of an Append (or snapshot) answer.
    pub(crate) fn handle_append_response(
        &mut self,
        from: NodeId,
        index: Index,
        reject: Option<RejectHint>,
    ) {
        let Some(i) = self.progress_index(from) else {
            return;
        };
        self.progress[i].recent_active = true;
        if let Some(hint) = reject {
            let next = self.log.next_after_reject(index, &hint);
            if self.progress[i].maybe_decr_to(index, next) {
                self.send_append(i, true);
            }
            return;
        }
        let pr = &mut self.progress[i];
        if !pr.maybe_update(index) {
            return;
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot { pending } if pr.matched >= pending => {
                pr.become_probe();
            }
            _ => {}
        }
        if self.maybe_commit() {
            self.needs_broadcast = true;
        }
        while self.send_append(i, false) {}
    }

    /// The leader's handling of a heartbeat answer: the follower is alive,
    /// may be owed entries, and confirms ReadIndex rounds up to `ctx`.
    pub(crate) fn handle_heartbeat_response(&mut self, from: NodeId, ctx: u64) {
        let Some(i) = self.progress_index(from) else {
            return;
        };
        let pr = &mut self.progress[i];
        pr.recent_active = true;
        pr.probe_sent = false;
        if pr.state == ProgressState::Replicate
            && pr.inflights.len() >= self.cfg.max_inflight_msgs.max(1)
        {
            pr.inflights.pop_front();
        }
        if pr.matched < self.log.last_index() {
            // In Replicate the leader sends each entry once: an Append lost on
            // the way would only be noticed when a later Append is refused, so
            // with no further proposals the follower (and maybe the commit)
            // would stay behind for good. Once the follower acknowledged
            // nothing for a heartbeat interval, an empty Append at the tail
            // makes it refuse (then the leader probes and resends) or confirm.
            let stalled = pr.state == ProgressState::Replicate
                && pr.stalled_ticks >= self.cfg.heartbeat_ticks.max(1);
            self.send_append(i, stalled);
        }
        if ctx != 0 {
            self.on_read_ack(from, ctx);
        }
    }

    /// Advances the commit index by the commit rule. Returns whether it moved.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        if self.role != Role::Leader {
            return false;
        }
        let mut matched: Vec<Index> = Vec::with_capacity(self.progress.len() + 1);
        matched.push(self.self_match());
        matched.extend(self.progress.iter().map(|p| p.matched));
        let log = &self.log;
        let Some(candidate) = quorum_commit(
            &mut matched,
            self.cfg.quorum(),
            |i| log.term(i),
            self.term,
            self.cfg.bug(Bug::CommitOldTerm),
        ) else {
            return false;
        };
        if candidate <= self.log.commit {
            return false;
        }
        self.log.commit_to(candidate);
        self.on_commit_advanced();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(ts: &'static [Term]) -> impl Fn(Index) -> Option<Term> {
        move |i| ts.get(i as usize).copied()
    }

    #[test]
    fn commit_counts_a_quorum_of_replicas() {
        // index:             0  1  2  3  4
        let t = terms(&[0, 1, 2, 2, 2]);
        assert_eq!(quorum_commit(&mut [4, 3, 1], 2, &t, 2, false), Some(3));
        assert_eq!(
            quorum_commit(&mut [4, 3, 1, 0, 4], 3, &t, 2, false),
            Some(3)
        );
        assert_eq!(quorum_commit(&mut [4, 0, 0], 2, &t, 2, false), None);
    }

    #[test]
    fn commit_never_counts_replicas_of_older_terms() {
        // Figure 8: index 2 (term 2) is on a majority, but the leader is in term 4.
        let t = terms(&[0, 1, 2, 4]);
        assert_eq!(quorum_commit(&mut [3, 2, 2], 2, &t, 4, false), None);
        assert_eq!(quorum_commit(&mut [3, 2, 2], 2, &t, 4, true), Some(2));
        assert_eq!(quorum_commit(&mut [3, 3, 2], 2, &t, 4, false), Some(3));
    }
}
