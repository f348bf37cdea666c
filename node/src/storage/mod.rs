//! Durable storage for a node: a write-ahead log of segment files plus the
//! newest snapshot, under one data directory.
//!
//! ```text
//! <dir>/LOCK                                  flock'ed while a Storage is open
//! <dir>/wal/00000000000000000001.log          segments, named by the sequence
//! <dir>/wal/00000000000000000731.log            number of their first record
//! <dir>/snap/<index:020>-<term:020>.snap      the newest snapshot only
//! <dir>/wal/*.damaged, <dir>/snap/*.damaged   damage recovery set aside
//! ```
//!
//! A segment starts with the two 64-byte slots of the acknowledgement
//! record, then a run of records, each framed as
//! `len: u32 | crc32(body): u32 | crc32(len, crc): u32 | body` (little endian)
//! with a bincode body: a segment header (hard state and snapshot at the time
//! the segment was started; always the first record), an entries batch, a hard
//! state, or a snapshot marker (a snapshot received from the leader replaced
//! the log). Segments rotate once they reach [`StorageOptions::segment_bytes`].
//!
//! [`Storage::save`] makes one [`Ready`](crate::raft::Ready)'s `hard_state`,
//! `snapshot` and `entries` durable with one buffered `write` and one
//! `fdatasync` of the WAL (a received snapshot also writes its own file
//! first). [`Storage::compact`] writes the application's snapshot and deletes
//! the segments it covers. [`Storage::open`] replays the snapshot and the WAL
//! into a [`Restored`] for [`RaftNode::new`](crate::raft::RaftNode::new): a
//! write torn by a crash at the end of the log is cut off with a warning; any
//! other damage is set aside (`*.damaged`, never deleted) and, when the
//! acknowledgement record (`acked.rs`, two slots at the start of every
//! segment) shows that entries the node had acknowledged are gone,
//! [`Restored::recovery`](crate::raft::Restored) names the file, the offset
//! and the missing entries: the node must get them back from a leader before
//! it votes (protocol-aware recovery), because acknowledged data must never
//! be silently lost.
//!
//! ```
//! use faultline_node::raft::{Entry, HardState};
//! use faultline_node::storage::Storage;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let (mut storage, restored) = Storage::open(dir.path(), true).unwrap();
//! assert!(restored.entries.is_empty());
//! let hs = HardState { term: 1, vote: Some(1), commit: 0 };
//! let entry = Entry { term: 1, index: 1, data: b"x=1".to_vec() };
//! storage.save(Some(&hs), None, &[entry.clone()]).unwrap();
//! drop(storage);
//!
//! let (_storage, restored) = Storage::open(dir.path(), true).unwrap();
//! assert_eq!(restored.hard_state, hs);
//! assert_eq!(restored.entries, vec![entry]);
//! ```

mod acked;
mod dir;
mod error;
mod record;
mod recovery;
mod replay;
mod snapshot;
mod wal;

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use error::StorageError;

use crate::raft::{Entry, HardState, Index, Restored, Snapshot, SnapshotMeta, Term};
use acked::{Acked, Found};
use record::RecordRef;
use recovery::Findings;
use replay::Replay;
use wal::{Batch, Wal};

/// The encoding buffer is kept between saves unless it grew past this.
const MAX_KEPT_BUFFER: usize = 4 << 20;

/// How a [`Storage`] behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageOptions {
    /// fdatasync the WAL (and snapshots and directories). `false` is the
    /// `no-fsync` bug: everything is still written, never synced.
    pub fsync: bool,
    /// A segment at least this long is closed and the next write starts a new one.
    pub segment_bytes: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            fsync: true,
            segment_bytes: 64 << 20,
        }
    }
}

/// The size of the WAL on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct WalStats {
    /// Bytes in all segments.
    pub bytes: u64,
    /// Number of segment files.
    pub segments: usize,
    /// WAL appends made durable with fdatasync since the storage was opened.
    pub syncs: u64,
}

/// What a save's acknowledgement record claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// The log's own end: nothing acknowledged is missing.
    LogEnd,
    /// Entries through this one are missing; kept until [`Storage::recovered`].
    Missing(SnapshotMeta),
    /// An unknown extent is missing; kept until [`Storage::recovered`].
    Unknown,
}

/// A node's durable state: WAL segments and the newest snapshot.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    snap_dir: PathBuf,
    fsync: bool,
    wal: Wal,
    /// The last hard state written.
    hard_state: HardState,
    /// The newest snapshot file's position.
    snapshot: SnapshotMeta,
    /// The last index in the log (the snapshot's when no entry follows it).
    last_index: Index,
    /// The term of the entry at `last_index`.
    last_term: Term,
    /// What the acknowledgement record must claim while entries the node
    /// had acknowledged are still missing (see `acked.rs`).
    claim: Claim,
    /// While an ambiguous claim is held (only the last sync's write was
    /// missing at restart): what was certainly durable then. Every record
    /// written until recovery rewrites the slot before it with this, so the
    /// claim stays ambiguous across further restarts.
    certain: Option<Acked>,
    /// Reused for encoding each save.
    buf: Vec<u8>,
    /// The first failure of a write: after it, what is on disk is unknown.
    poisoned: Option<String>,
    _lock: File,
}

impl Storage {
    /// Opens (creating if needed) the data dir; replays snapshot + WAL.
    /// `fsync: false` is the `no-fsync` bug: never fdatasync (still write()).
    pub fn open(dir: &Path, fsync: bool) -> Result<(Storage, Restored), StorageError> {
        Storage::open_with(
            dir,
            StorageOptions {
                fsync,
                ..StorageOptions::default()
            },
        )
    }

    /// [`Storage::open`] with every option.
    pub fn open_with(
        dir: &Path,
        options: StorageOptions,
    ) -> Result<(Storage, Restored), StorageError> {
        let fsync = options.fsync;
        dir::ensure_dir(dir, fsync)?;
        let lock = dir::lock(dir)?;
        let wal_dir = dir.join("wal");
        let snap_dir = dir.join("snap");
        dir::ensure_dir(&wal_dir, fsync)?;
        dir::ensure_dir(&snap_dir, fsync)?;

        let mut findings = Findings::default();
        let snapshot = match snapshot::load_latest(&snap_dir, fsync) {
            Ok(s) => s,
            Err(StorageError::CorruptSnapshot { file, reason }) => {
                findings.snapshot = Some(format!("damaged snapshot {}: {reason}", file.display()));
                None
            }
            Err(e) => return Err(e),
        };
        let mut replay = Replay::default();
        let recovered = wal::recover(&wal_dir, &mut replay, fsync)?;
        findings.cut = recovered.cut;
        findings.damaged = recovered.damaged;
        let found = recovered.acked.unwrap_or(Found::Missing);
        let mut segments = recovered.segments;
        let wal_hard_state = replay.hard_state();
        let finished = match findings.snapshot {
            Some(_) => None,
            None => match replay.finish(snapshot, &snap_dir, &wal_dir) {
                Ok(r) => Some(r),
                Err(StorageError::Inconsistent { dir, reason }) => {
                    findings.snapshot = Some(format!("{}: {reason}", dir.display()));
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let mut restored = match finished {
            Some(r) => r,
            None => {
                // The log builds on a snapshot that is gone: keep every file
                // aside and start from an empty log with the hard state.
                let kept = snapshot::set_aside_all(&snap_dir, fsync)?
                    + wal::set_aside_all(&wal_dir, &segments, fsync)?;
                segments.clear();
                if let Some(s) = &mut findings.snapshot {
                    s.push_str(&format!(
                        "; the snapshots and the log were kept aside ({kept} files)"
                    ));
                }
                Restored {
                    hard_state: HardState {
                        commit: 0,
                        ..wal_hard_state
                    },
                    ..Restored::default()
                }
            }
        };
        recovery::assess(&mut restored, &found, &findings);
        let hard_state = restored.hard_state;
        let snapshot_meta = restored
            .snapshot
            .as_ref()
            .map(|s| s.meta)
            .unwrap_or_default();

        let mut header = Vec::new();
        record::encode(
            &mut header,
            &RecordRef::Header {
                hard_state: &hard_state,
                snapshot: &snapshot_meta,
            },
        )
        .map_err(|source| StorageError::Encode {
            file: wal_dir.clone(),
            source,
        })?;
        let claim = match &restored.recovery {
            None => Claim::LogEnd,
            Some(r) => r.acked.map_or(Claim::Unknown, Claim::Missing),
        };
        let acked_seq = match found {
            Found::Intact { seq, .. } => seq,
            _ => 0,
        };
        let last = SnapshotMeta {
            index: replay::last_index(&restored),
            term: replay::last_term(&restored),
        };
        let now = claimed(claim, last, &hard_state);
        // While only the last sync's write is missing (ambiguous), what was
        // certainly durable is the log itself; otherwise the claim.
        let certain = restored
            .recovery
            .as_ref()
            .filter(|r| r.ambiguous)
            .map(|_| claimed(Claim::LogEnd, last, &hard_state));
        let before = certain.unwrap_or(now);
        let wal = Wal::open(
            &wal_dir,
            segments,
            &header,
            (acked_seq, before, now),
            fsync,
            options.segment_bytes,
        )?;
        let storage = Storage {
            dir: dir.to_path_buf(),
            snap_dir,
            fsync,
            wal,
            hard_state,
            snapshot: snapshot_meta,
            last_index: last.index,
            last_term: last.term,
            claim,
            certain,
            buf: Vec::new(),
            poisoned: None,
            _lock: lock,
        };
        let stats = storage.wal_stats();
        tracing::info!(
            dir = %dir.display(),
            term = hard_state.term,
            commit = hard_state.commit,
            snapshot = snapshot_meta.index,
            last_index = storage.last_index,
            wal_bytes = stats.bytes,
            wal_segments = stats.segments,
            fsync,
            "storage opened"
        );
        Ok((storage, restored))
    }

    /// Makes one Ready durable with ONE fdatasync for all of it (group commit):
    /// snapshot (if any) first, then entries, then hard state.
    ///
    /// A snapshot replaces the whole log; entries overwrite the log from their
    /// first index, which must lie after the snapshot and at most one past the
    /// last index. Nothing to persist does no I/O. After a failed write every
    /// later call fails too ([`StorageError::Poisoned`]).
    pub fn save(
        &mut self,
        hard_state: Option<&HardState>,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        if hard_state.is_none() && snapshot.is_none() && entries.is_empty() {
            return Ok(());
        }
        self.check_poisoned()?;
        self.validate(snapshot, entries)?;
        let result = self.write_ready(hard_state, snapshot, entries);
        self.poison_on_error(result)
    }

    /// The application snapshotted its state at `snapshot.meta.index` (an index it applied):
    /// write the snapshot file durably, then drop WAL segments wholly covered by it.
    /// Entries after it stay. A snapshot no newer than the current one is ignored.
    pub fn compact(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        self.check_poisoned()?;
        let index = snapshot.meta.index;
        if index <= self.snapshot.index {
            return Ok(());
        }
        if index > self.last_index {
            return Err(StorageError::CompactBeyondLog {
                dir: self.dir.clone(),
                index,
                last: self.last_index,
            });
        }
        let result = self.write_compaction(snapshot);
        self.poison_on_error(result)
    }

    /// Bytes of WAL on disk and number of segments (for /status and logs).
    pub fn wal_stats(&self) -> WalStats {
        let segments = self.wal.segments();
        WalStats {
            bytes: segments.iter().map(|s| s.bytes).sum(),
            segments: segments.len(),
            syncs: self.wal.syncs(),
        }
    }

    fn validate(&self, snapshot: Option<&Snapshot>, entries: &[Entry]) -> Result<(), StorageError> {
        let invalid = |reason: String| StorageError::Invalid {
            file: self.active_path(),
            reason,
        };
        let (base, last) = match snapshot {
            Some(s) if s.meta.index < self.snapshot.index => {
                return Err(invalid(format!(
                    "a received snapshot at index {} is older than the stored one at {}",
                    s.meta.index, self.snapshot.index
                )));
            }
            Some(s) => (s.meta.index, s.meta.index),
            None => (self.snapshot.index, self.last_index),
        };
        if let Some(first) = entries.first() {
            if first.index <= base || first.index > last + 1 {
                return Err(invalid(format!(
                    "entries from index {} do not follow the log (snapshot at {base}, last index {last})",
                    first.index
                )));
            }
        }
        if let Some(pair) = entries.windows(2).find(|w| w[1].index != w[0].index + 1) {
            return Err(invalid(format!(
                "entries jump from index {} to {}",
                pair[0].index, pair[1].index
            )));
        }
        Ok(())
    }

    fn write_ready(
        &mut self,
        hard_state: Option<&HardState>,
        snapshot: Option<&Snapshot>,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        if let Some(s) = snapshot {
            snapshot::write(&self.snap_dir, s, self.fsync)?;
            self.snapshot = s.meta;
            self.last_index = s.meta.index;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let new_segment = self.wal.needs_rotation();
        let mut records = 0;
        let mut max_index = 0;
        let mut encode = |buf: &mut Vec<u8>, record: RecordRef<'_>| {
            records += 1;
            record::encode(buf, &record).map_err(|source| StorageError::Encode {
                file: self.active_path(),
                source,
            })
        };
        if new_segment {
            encode(
                &mut buf,
                RecordRef::Header {
                    hard_state: &self.hard_state,
                    snapshot: &self.snapshot,
                },
            )?;
        }
        if let Some(s) = snapshot {
            encode(&mut buf, RecordRef::Snapshot(&s.meta))?;
            max_index = s.meta.index;
        }
        if let Some(last) = entries.last() {
            encode(&mut buf, RecordRef::Entries(entries))?;
            max_index = max_index.max(last.index);
        }
        if let Some(hs) = hard_state {
            encode(&mut buf, RecordRef::HardState(hs))?;
        }
        // A hard state that only moves the commit index need not be synced:
        // a node that forgets how far commit went learns it again from the
        // leader (etcd's MustSync rule). Entries, snapshots, terms and votes
        // are promises to others and are always synced.
        let sync = snapshot.is_some()
            || !entries.is_empty()
            || hard_state.is_some_and(|hs| {
                hs.term != self.hard_state.term || hs.vote != self.hard_state.vote
            });
        let acked = sync.then(|| {
            let last = match (entries.last(), snapshot) {
                (Some(e), _) => SnapshotMeta {
                    index: e.index,
                    term: e.term,
                },
                (None, Some(s)) => s.meta,
                (None, None) => SnapshotMeta {
                    index: self.last_index,
                    term: self.last_term,
                },
            };
            claimed(self.claim, last, hard_state.unwrap_or(&self.hard_state))
        });
        if let (Some(certain), true) = (self.certain, sync) {
            self.wal.reset_previous(certain);
        }
        let result = self.wal.append(
            Batch {
                bytes: &buf,
                records,
                max_index,
                has_marker: snapshot.is_some(),
                new_segment,
                sync,
            },
            acked.as_ref(),
        );
        if buf.capacity() > MAX_KEPT_BUFFER {
            buf = Vec::new();
        }
        self.buf = buf;
        result?;
        if let Some(s) = snapshot {
            self.last_term = s.meta.term;
        }
        if let Some(last) = entries.last() {
            self.last_index = last.index;
            self.last_term = last.term;
        }
        if let Some(hs) = hard_state {
            self.hard_state = *hs;
        }
        Ok(())
    }

    /// The node got back what its damaged storage lost (it left protocol-aware
    /// recovery): from the next save on, the acknowledgement record claims
    /// the log's own end again.
    pub fn recovered(&mut self) {
        if self.claim == Claim::LogEnd {
            return;
        }
        self.claim = Claim::LogEnd;
        self.certain = None;
        let last = SnapshotMeta {
            index: self.last_index,
            term: self.last_term,
        };
        self.wal
            .reset_previous(claimed(Claim::LogEnd, last, &self.hard_state));
    }

    fn write_compaction(&mut self, snapshot: &Snapshot) -> Result<(), StorageError> {
        let path = snapshot::write(&self.snap_dir, snapshot, self.fsync)?;
        self.snapshot = snapshot.meta;
        let removed = self.wal.remove_covered(snapshot.meta.index)?;
        let stats = self.wal_stats();
        tracing::debug!(
            snapshot = %path.display(),
            index = snapshot.meta.index,
            removed_segments = removed,
            wal_bytes = stats.bytes,
            wal_segments = stats.segments,
            "log compacted"
        );
        Ok(())
    }

    fn active_path(&self) -> PathBuf {
        self.wal
            .segments()
            .last()
            .map(|s| s.path.clone())
            .unwrap_or_default()
    }

    fn check_poisoned(&self) -> Result<(), StorageError> {
        match &self.poisoned {
            Some(cause) => Err(StorageError::Poisoned {
                dir: self.dir.clone(),
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    fn poison_on_error(&mut self, result: Result<(), StorageError>) -> Result<(), StorageError> {
        if let Err(e) = &result {
            tracing::error!(dir = %self.dir.display(), error = %e, "storage write failed");
            self.poisoned = Some(e.to_string());
        }
        result
    }
}

/// The acknowledgement record a save writes: the log's end `last`, or the
/// claim still outstanding, with the term and vote of `hs`.
fn claimed(claim: Claim, last: SnapshotMeta, hs: &HardState) -> Acked {
    Acked {
        last: match claim {
            Claim::LogEnd => Some(last),
            Claim::Missing(m) => Some(m),
            Claim::Unknown => None,
        },
        hard_state: HardState { commit: 0, ..*hs },
    }
}

#[cfg(test)]
mod tests;
