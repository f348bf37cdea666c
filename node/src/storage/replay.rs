//! Rebuilding the persisted state from the snapshot file and the WAL records.
//!
//! Records are applied in WAL order:
//!
//! - entries at index `i` overwrite the log from `i` (the suffix is dropped);
//! - a snapshot marker (a snapshot received from the leader) drops the whole
//!   log so far; entries of later records follow it;
//! - hard states and segment headers replace the hard state.
//!
//! Then the newest snapshot file is laid over the result: entries up to its
//! index go. If the log holds the snapshot's index with another term (the
//! node crashed after writing a received snapshot but before the WAL marker)
//! the whole log goes, as Raft prescribes for an InstallSnapshot that does
//! not match. What remains must start right after the snapshot.

use std::path::Path;

use super::record::Record;
use super::StorageError;
use crate::raft::{Entry, HardState, Index, Restored, Snapshot, SnapshotMeta};

/// The state being rebuilt.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    hard_state: HardState,
    /// The latest snapshot marker: the log was replaced up to it.
    marker: Option<SnapshotMeta>,
    /// The newest snapshot a header or marker refers to: the snapshot file
    /// must be at least this new.
    required: SnapshotMeta,
    /// A contiguous run of entries.
    entries: Vec<Entry>,
}

impl Replay {
    /// Applies one record; the error is the reason it does not fit.
    pub(crate) fn apply(&mut self, record: Record) -> Result<(), String> {
        match record {
            Record::Header {
                hard_state,
                snapshot,
            } => {
                self.hard_state = hard_state;
                self.require(snapshot);
            }
            Record::HardState(hs) => self.hard_state = hs,
            Record::Snapshot(meta) => {
                self.marker = Some(meta);
                self.entries.clear();
                self.require(meta);
            }
            Record::Entries(batch) => self.append(batch)?,
        }
        Ok(())
    }

    fn require(&mut self, meta: SnapshotMeta) {
        if meta.index >= self.required.index {
            self.required = meta;
        }
    }

    fn append(&mut self, mut batch: Vec<Entry>) -> Result<(), String> {
        if let Some(pair) = batch.windows(2).find(|w| w[1].index != w[0].index + 1) {
            return Err(format!(
                "entries batch jumps from index {} to {}",
                pair[0].index, pair[1].index
            ));
        }
        if let Some(m) = self.marker {
            batch.retain(|e| e.index > m.index);
        }
        let Some(first) = batch.first().map(|e| e.index) else {
            return Ok(());
        };
        match (self.entries.first(), self.entries.last()) {
            (Some(head), Some(tail)) => {
                if first > tail.index + 1 {
                    return Err(format!(
                        "entries from index {first} leave a gap after index {}",
                        tail.index
                    ));
                }
                if first <= head.index {
                    self.entries = batch;
                } else {
                    self.entries.truncate((first - head.index) as usize);
                    self.entries.append(&mut batch);
                }
            }
            _ => {
                if let Some(m) = self.marker {
                    if first != m.index + 1 {
                        return Err(format!(
                            "entries from index {first} leave a gap after the snapshot at {}",
                            m.index
                        ));
                    }
                }
                self.entries = batch;
            }
        }
        Ok(())
    }

    /// The hard state so far (what a new segment's header records).
    pub(crate) fn hard_state(&self) -> HardState {
        self.hard_state
    }

    /// Lays the newest snapshot file over the replayed WAL. `snap_dir` and
    /// `wal_dir` name the places for error messages.
    pub(crate) fn finish(
        self,
        snapshot: Option<Snapshot>,
        snap_dir: &Path,
        wal_dir: &Path,
    ) -> Result<Restored, StorageError> {
        let meta = snapshot.as_ref().map(|s| s.meta).unwrap_or_default();
        let req = self.required;
        if meta.index < req.index
            || (req.index > 0 && meta.index == req.index && meta.term != req.term)
        {
            return Err(StorageError::Inconsistent {
                dir: snap_dir.to_path_buf(),
                reason: format!(
                    "the WAL needs the snapshot at index {} term {} but the newest snapshot file \
                     is {}",
                    req.index,
                    req.term,
                    match &snapshot {
                        Some(s) => format!("at index {} term {}", s.meta.index, s.meta.term),
                        None => "missing".to_string(),
                    }
                ),
            });
        }
        let mut entries = self.entries;
        match entries.iter().position(|e| e.index == meta.index) {
            Some(pos) if entries[pos].term != meta.term => entries.clear(),
            Some(pos) => {
                entries.drain(..=pos);
            }
            None => entries.retain(|e| e.index > meta.index),
        }
        if let Some(first) = entries.first() {
            if first.index != meta.index + 1 {
                return Err(StorageError::Inconsistent {
                    dir: wal_dir.to_path_buf(),
                    reason: format!(
                        "the log resumes at index {} but the snapshot ends at index {}: \
                         entries are missing",
                        first.index, meta.index
                    ),
                });
            }
        }
        Ok(Restored {
            hard_state: self.hard_state,
            snapshot,
            entries,
            recovery: None,
        })
    }
}

/// The term of a restored log's last entry (the snapshot's, or 0).
pub(crate) fn last_term(restored: &Restored) -> crate::raft::Term {
    match restored.entries.last() {
        Some(e) => e.term,
        None => restored.snapshot.as_ref().map_or(0, |s| s.meta.term),
    }
}

/// The last index of a restored log.
pub(crate) fn last_index(restored: &Restored) -> Index {
    match restored.entries.last() {
        Some(e) => e.index,
        None => restored.snapshot.as_ref().map_or(0, |s| s.meta.index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ents(from: Index, to: Index, term: u64) -> Vec<Entry> {
        (from..=to)
            .map(|index| Entry {
                term,
                index,
                data: vec![index as u8],
            })
            .collect()
    }

    fn snap(index: Index, term: u64) -> Snapshot {
        Snapshot {
            meta: SnapshotMeta { index, term },
            data: Vec::new(),
        }
    }

    fn finish(r: Replay, s: Option<Snapshot>) -> Result<Restored, StorageError> {
        r.finish(s, Path::new("snap"), Path::new("wal"))
    }

    #[test]
    fn entries_overwrite_the_suffix() {
        let mut r = Replay::default();
        r.apply(Record::Entries(ents(1, 5, 1))).unwrap();
        r.apply(Record::Entries(ents(3, 4, 2))).unwrap();
        let got = finish(r, None).unwrap();
        let mut want = ents(1, 2, 1);
        want.extend(ents(3, 4, 2));
        assert_eq!(got.entries, want);
    }

    #[test]
    fn a_marker_replaces_the_log_and_later_entries_follow_it() {
        let mut r = Replay::default();
        r.apply(Record::Entries(ents(1, 9, 1))).unwrap();
        r.apply(Record::Snapshot(SnapshotMeta { index: 4, term: 2 }))
            .unwrap();
        r.apply(Record::Entries(ents(5, 6, 2))).unwrap();
        let got = finish(r, Some(snap(4, 2))).unwrap();
        assert_eq!(got.entries, ents(5, 6, 2));
    }

    #[test]
    fn a_gap_is_refused() {
        let mut r = Replay::default();
        r.apply(Record::Entries(ents(1, 2, 1))).unwrap();
        let err = r.apply(Record::Entries(ents(4, 5, 1))).unwrap_err();
        assert!(err.contains("gap after index 2"), "{err}");
        let mut r = Replay::default();
        r.apply(Record::Snapshot(SnapshotMeta { index: 4, term: 2 }))
            .unwrap();
        assert!(r.apply(Record::Entries(ents(6, 6, 2))).is_err());
    }

    #[test]
    fn a_newer_snapshot_file_drops_covered_entries_and_keeps_the_rest() {
        let mut r = Replay::default();
        r.apply(Record::Entries(ents(1, 9, 1))).unwrap();
        let got = finish(r, Some(snap(6, 1))).unwrap();
        assert_eq!(got.entries, ents(7, 9, 1));
    }

    #[test]
    fn a_snapshot_file_that_does_not_match_the_log_replaces_it() {
        let mut r = Replay::default();
        r.apply(Record::Entries(ents(1, 9, 1))).unwrap();
        let got = finish(r, Some(snap(6, 3))).unwrap();
        assert!(got.entries.is_empty());
    }

    #[test]
    fn a_missing_snapshot_file_is_refused() {
        let mut r = Replay::default();
        r.apply(Record::Snapshot(SnapshotMeta { index: 4, term: 2 }))
            .unwrap();
        let err = finish(r, Some(snap(3, 2))).unwrap_err().to_string();
        assert!(err.contains("needs the snapshot at index 4"), "{err}");
    }

    #[test]
    fn entries_that_do_not_reach_the_snapshot_are_refused() {
        let mut r = Replay::default();
        r.apply(Record::Entries(ents(8, 9, 1))).unwrap();
        let err = finish(r, Some(snap(6, 1))).unwrap_err().to_string();
        assert!(err.contains("resumes at index 8"), "{err}");
    }
}
