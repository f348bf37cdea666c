//! The replicated log as one node holds it: a snapshot offset, the entries
//! after it, and the cursors that say what is persisted, committed and applied.

use super::message::{Entry, RejectHint, Snapshot, SnapshotMeta};
use super::{Index, Term};

/// The log of one node.
#[derive(Debug)]
pub(crate) struct RaftLog {
    /// The index and term the entries follow (the latest snapshot, or 0/0).
    offset: SnapshotMeta,
    /// The latest snapshot, kept to send to followers behind the compacted log.
    snapshot: Option<Snapshot>,
    /// A snapshot received from the leader and not yet handed out in a Ready.
    pending_snapshot: Option<Snapshot>,
    /// Entries `offset.index + 1 ..= last_index()`.
    entries: Vec<Entry>,
    /// The first index not yet handed out in a Ready to persist.
    unstable: Index,
    /// The last index the caller reported durable (see [`RaftLog::stable_to`]);
    /// the entries up to it are the ones this log holds.
    persisted: Index,
    /// The highest index known committed.
    pub(crate) commit: Index,
    /// The highest index handed out in a Ready to apply.
    pub(crate) applied: Index,
}

/// What a follower does with an Append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppendOutcome {
    /// Accepted: the log matches the leader's up to this index.
    Matched(Index),
    /// Refused at `prev_index`, with a hint for the leader.
    Rejected(RejectHint),
}

impl RaftLog {
    /// A log restored from a snapshot and the entries that follow it.
    pub(crate) fn restore(snapshot: Option<Snapshot>, entries: Vec<Entry>, commit: Index) -> Self {
        let offset = snapshot.as_ref().map(|s| s.meta).unwrap_or_default();
        let entries: Vec<Entry> = entries
            .into_iter()
            .skip_while(|e| e.index <= offset.index)
            .collect();
        let mut log = RaftLog {
            offset,
            snapshot,
            pending_snapshot: None,
            entries,
            unstable: 0,
            persisted: 0,
            commit: 0,
            applied: offset.index,
        };
        log.unstable = log.last_index() + 1;
        log.persisted = log.last_index();
        log.commit = commit.max(offset.index).min(log.last_index());
        log
    }

    /// The first index held as an entry.
    pub(crate) fn first_index(&self) -> Index {
        self.offset.index + 1
    }

    /// The last index (the snapshot's when no entries follow it).
    pub(crate) fn last_index(&self) -> Index {
        self.offset.index + self.entries.len() as Index
    }

    /// The term of the last entry.
    pub(crate) fn last_term(&self) -> Term {
        self.entries.last().map_or(self.offset.term, |e| e.term)
    }

    /// The index the log was compacted up to.
    pub(crate) fn snapshot_index(&self) -> Index {
        self.offset.index
    }

    /// The latest snapshot, if any.
    pub(crate) fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The term at `index`, if this log still knows it.
    pub(crate) fn term(&self, index: Index) -> Option<Term> {
        if index == self.offset.index {
            return Some(self.offset.term);
        }
        if index < self.offset.index || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index - self.offset.index - 1) as usize].term)
    }

    /// Whether a candidate's log (`last_index`, `last_term`) is at least as up
    /// to date as this one: later last term, or same last term and not shorter.
    pub(crate) fn is_up_to_date(&self, last_index: Index, last_term: Term) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }

    /// Appends one entry created by this node as leader.
    pub(crate) fn append_own(&mut self, term: Term, data: Vec<u8>) -> Index {
        let index = self.last_index() + 1;
        self.entries.push(Entry { term, index, data });
        index
    }

    /// Entries `lo ..= hi`, at most `max` of them (at least one if any).
    pub(crate) fn slice(&self, lo: Index, hi: Index, max: usize) -> Vec<Entry> {
        if lo > hi || lo <= self.offset.index {
            return Vec::new();
        }
        let hi = hi.min(self.last_index());
        let start = (lo - self.offset.index - 1) as usize;
        let end = ((hi - self.offset.index) as usize).min(start.saturating_add(max.max(1)));
        self.entries[start..end].to_vec()
    }

    /// The hint a follower sends when it refuses an Append at `prev_index`:
    /// its last index when its log is too short, otherwise the term it holds at
    /// `prev_index` and the first index it holds of that term.
    pub(crate) fn reject_hint(&self, prev_index: Index) -> RejectHint {
        let last_index = self.last_index();
        match self.term(prev_index) {
            Some(t) if prev_index <= last_index => {
                let mut first = prev_index;
                while first > self.first_index() && self.term(first - 1) == Some(t) {
                    first -= 1;
                }
                RejectHint {
                    last_index,
                    conflict_term: Some(t),
                    conflict_index: first,
                }
            }
            _ => RejectHint {
                last_index,
                conflict_term: None,
                conflict_index: last_index + 1,
            },
        }
    }

    /// Where the leader should resume after a follower refused `rejected`
    /// with `hint`: past the leader's last entry of the conflicting term if it
    /// has one, else at the follower's first entry of that term (or past its end).
    pub(crate) fn next_after_reject(&self, rejected: Index, hint: &RejectHint) -> Index {
        let next = match hint.conflict_term {
            None => hint.conflict_index,
            Some(ct) => {
                let mut i = rejected.min(self.last_index());
                loop {
                    match self.term(i) {
                        Some(t) if t > ct && i > self.offset.index => i -= 1,
                        Some(t) if t == ct => break i + 1,
                        _ => break hint.conflict_index,
                    }
                }
            }
        };
        next.min(rejected).max(1)
    }

    /// Handles the entries of an Append after `prev_index`/`prev_term`. Truncates
    /// only on a real conflict (unless `no_truncate`, which keeps the node's own
    /// conflicting entries), then advances the commit index to what the leader
    /// committed, capped at the last entry the message vouches for.
    pub(crate) fn maybe_append(
        &mut self,
        prev_index: Index,
        prev_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
        no_truncate: bool,
    ) -> AppendOutcome {
        if prev_index < self.commit {
            return AppendOutcome::Matched(self.commit);
        }
        if self.term(prev_index) != Some(prev_term) {
            return AppendOutcome::Rejected(self.reject_hint(prev_index));
        }
        let last_new = prev_index + entries.len() as Index;
        let conflict = entries
            .iter()
            .position(|e| self.term(e.index) != Some(e.term));
        if let Some(pos) = conflict {
            let at = entries[pos].index;
            if at <= self.last_index() && no_truncate {
                let beyond = self.last_index();
                self.entries
                    .extend(entries.into_iter().filter(|e| e.index > beyond));
            } else {
                self.truncate_from(at);
                self.entries.extend(entries.into_iter().skip(pos));
            }
        }
        let commit = leader_commit.min(last_new).min(self.last_index());
        if commit > self.commit {
            self.commit = commit;
        }
        AppendOutcome::Matched(last_new)
    }

    /// Drops entries from `index` on (they were not committed) and marks the
    /// rest to be persisted from there.
    fn truncate_from(&mut self, index: Index) {
        let keep = (index - self.offset.index - 1) as usize;
        self.entries.truncate(keep);
        self.unstable = self.unstable.min(index);
        self.persisted = self.persisted.min(index - 1);
    }

    /// The last index reported durable.
    pub(crate) fn persisted(&self) -> Index {
        self.persisted
    }

    /// The caller made the log durable up to `index`, whose entry had `term`.
    /// Ignored when this log no longer holds that entry (it was overwritten
    /// after being handed out) or already knew. Returns whether it moved.
    pub(crate) fn stable_to(&mut self, index: Index, term: Term) -> bool {
        if index <= self.persisted || index >= self.unstable || self.term(index) != Some(term) {
            return false;
        }
        self.persisted = index;
        true
    }

    /// Advances the commit index as told by a heartbeat (never backwards,
    /// never past the last entry).
    pub(crate) fn commit_to(&mut self, index: Index) {
        let index = index.min(self.last_index());
        if index > self.commit {
            self.commit = index;
        }
    }

    /// Replaces the log with a snapshot received from the leader. Returns false
    /// (and only fast-forwards the commit index) when the log already holds the
    /// snapshot's last entry.
    pub(crate) fn install(&mut self, snapshot: Snapshot) -> bool {
        let meta = snapshot.meta;
        if self.term(meta.index) == Some(meta.term) {
            self.commit_to(meta.index);
            return false;
        }
        self.entries.clear();
        // Entries up to the old commit index are the same in every log (and
        // in the snapshot); beyond it, what was persisted may differ.
        self.persisted = self.persisted.min(self.commit);
        self.offset = meta;
        self.unstable = meta.index + 1;
        self.commit = meta.index;
        self.applied = meta.index;
        self.snapshot = Some(snapshot.clone());
        self.pending_snapshot = Some(snapshot);
        true
    }

    /// The application took a snapshot of the state applied up to `index`:
    /// drop entries up to it and keep the snapshot to send.
    pub(crate) fn compact(&mut self, index: Index, data: Vec<u8>) -> bool {
        if index <= self.offset.index || index > self.applied {
            return false;
        }
        let Some(term) = self.term(index) else {
            return false;
        };
        let drop = (index - self.offset.index) as usize;
        self.entries.drain(..drop);
        self.offset = SnapshotMeta { index, term };
        self.snapshot = Some(Snapshot {
            meta: self.offset,
            data,
        });
        true
    }

    /// Whether anything waits to be handed out in a Ready.
    pub(crate) fn has_ready(&self) -> bool {
        self.pending_snapshot.is_some()
            || self.unstable <= self.last_index()
            || self.commit > self.applied
    }

    /// Hands out the received snapshot to persist (once).
    pub(crate) fn take_pending_snapshot(&mut self) -> Option<Snapshot> {
        self.pending_snapshot.take()
    }

    /// Hands out the entries not yet persisted (once).
    pub(crate) fn take_unstable(&mut self) -> Vec<Entry> {
        let last = self.last_index();
        if self.unstable > last {
            return Vec::new();
        }
        let out = self.slice(self.unstable, last, usize::MAX);
        self.unstable = last + 1;
        out
    }

    /// Hands out the committed entries not yet applied (once).
    pub(crate) fn take_committed(&mut self) -> Vec<Entry> {
        if self.commit <= self.applied {
            return Vec::new();
        }
        let out = self.slice(self.applied + 1, self.commit, usize::MAX);
        self.applied = self.commit;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(terms: &[Term]) -> RaftLog {
        let entries = terms
            .iter()
            .enumerate()
            .map(|(i, &term)| Entry {
                term,
                index: i as Index + 1,
                data: vec![],
            })
            .collect();
        RaftLog::restore(None, entries, 0)
    }

    fn ents(from: Index, terms: &[Term]) -> Vec<Entry> {
        terms
            .iter()
            .enumerate()
            .map(|(i, &term)| Entry {
                term,
                index: from + i as Index,
                data: vec![1],
            })
            .collect()
    }

    #[test]
    fn up_to_date_compares_last_term_then_length() {
        let log = log_of(&[1, 1, 2]);
        assert!(log.is_up_to_date(3, 2));
        assert!(log.is_up_to_date(9, 2));
        assert!(log.is_up_to_date(1, 3));
        assert!(!log.is_up_to_date(2, 2));
        assert!(!log.is_up_to_date(9, 1));
    }

    #[test]
    fn append_truncates_only_on_a_real_conflict() {
        let mut log = log_of(&[1, 1, 2, 2]);
        // A duplicate of what is held changes nothing.
        assert_eq!(
            log.maybe_append(1, 1, ents(2, &[1, 2]), 0, false),
            AppendOutcome::Matched(3)
        );
        assert_eq!(log.last_index(), 4);
        // A real conflict at 3 replaces the tail.
        assert_eq!(
            log.maybe_append(2, 1, ents(3, &[3]), 0, false),
            AppendOutcome::Matched(3)
        );
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term(3), Some(3));
    }

    #[test]
    fn no_truncate_keeps_conflicting_entries() {
        let mut log = log_of(&[1, 1, 2, 2]);
        log.maybe_append(2, 1, ents(3, &[3, 3, 3]), 0, true);
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(4), Some(2));
        assert_eq!(log.term(5), Some(3));
    }

    #[test]
    fn commit_is_capped_at_the_last_entry_the_message_vouches_for() {
        let mut log = log_of(&[1, 1, 1, 1]);
        log.maybe_append(1, 1, ents(2, &[1]), 4, false);
        assert_eq!(log.commit, 2);
    }

    #[test]
    fn reject_hints_point_at_the_start_of_the_conflicting_term() {
        let mut log = log_of(&[1, 1, 2, 2, 2, 4]);
        assert_eq!(
            log.maybe_append(5, 3, vec![], 0, false),
            AppendOutcome::Rejected(RejectHint {
                last_index: 6,
                conflict_term: Some(2),
                conflict_index: 3
            })
        );
        assert_eq!(
            log.maybe_append(9, 4, vec![], 0, false),
            AppendOutcome::Rejected(RejectHint {
                last_index: 6,
                conflict_term: None,
                conflict_index: 7
            })
        );
    }

    #[test]
    fn leader_backs_off_by_whole_terms() {
        let leader = log_of(&[1, 1, 2, 3, 3, 3, 3]);
        // Follower holds term 2 from 3: the leader has term 2 up to 3, resume at 4.
        let hint = RejectHint {
            last_index: 9,
            conflict_term: Some(2),
            conflict_index: 3,
        };
        assert_eq!(leader.next_after_reject(7, &hint), 4);
        // Follower holds term 4 (unknown to the leader) from 5: resume at 5.
        let hint = RejectHint {
            last_index: 9,
            conflict_term: Some(4),
            conflict_index: 5,
        };
        assert_eq!(leader.next_after_reject(7, &hint), 5);
        // Follower too short: resume past its end.
        let hint = RejectHint {
            last_index: 2,
            conflict_term: None,
            conflict_index: 3,
        };
        assert_eq!(leader.next_after_reject(7, &hint), 3);
    }

    #[test]
    fn compaction_keeps_terms_and_cursors() {
        let mut log = log_of(&[1, 1, 2, 2]);
        log.commit = 3;
        assert!(
            log.take_unstable().is_empty(),
            "restored entries are already durable"
        );
        assert_eq!(log.take_committed().len(), 3);
        assert!(!log.compact(4, vec![]), "not applied yet");
        assert!(log.compact(3, vec![9]));
        assert_eq!(log.first_index(), 4);
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(2), None);
        assert_eq!(log.slice(4, 4, 10).len(), 1);
        assert_eq!(
            log.snapshot().unwrap().meta,
            SnapshotMeta { index: 3, term: 2 }
        );
    }
}
