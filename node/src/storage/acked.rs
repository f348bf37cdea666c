//! The acknowledgement record `<dir>/acked`: what the node last made durable
//! (and so may have promised to others), kept apart from the WAL so that
//! damage to the WAL's last records can be told from a write torn by a
//! crash.
//!
//! After every save that syncs the WAL (new entries, a received snapshot, a
//! new term or vote) the storage writes the log's last index and term and
//! the term and vote here, and fdatasyncs it, before the node may answer
//! anyone. A torn WAL tail that ends at or past the recorded index was
//! never acknowledged and is safe to cut; a log that no longer reaches it
//! lost entries the node had acknowledged. Term and vote here are a second
//! copy of the WAL's.
//!
//! While the node recovers lost entries, the record keeps the claim it
//! restarted with (or "unknown") instead of the shortened log's end, so a
//! crash in the middle of recovery still restarts it as a learner.
//!
//! ```text
//! two 64-byte slots, written in turn (slot = seq % 2), each:
//! "FLACKED1" | seq: u64 | term: u64 | vote: u64 (0: none) | index: u64 | index_term: u64 | crc32: u32 | zeros
//! (index = u64::MAX: unknown)
//! ```
//!
//! The newer intact slot wins; a write torn inside one slot leaves the other.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::dir::sync_dir;
use super::StorageError;
use crate::raft::{HardState, SnapshotMeta};

/// The file's name in the data directory.
pub(crate) const FILE: &str = "acked";
const MAGIC: &[u8; 8] = b"FLACKED1";
const SLOT: usize = 64;
const BODY: usize = MAGIC.len() + 5 * 8;
const UNKNOWN: u64 = u64::MAX;

/// One record: the durable log end and hard state at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Acked {
    /// The log's last index and its term (the snapshot's when no entry
    /// follows); `None`: unknown (the node restarted without knowing how
    /// far it had acknowledged and has not recovered yet).
    pub(crate) last: Option<SnapshotMeta>,
    /// The term and vote then (the commit index is not kept).
    pub(crate) hard_state: HardState,
}

/// What the file held when opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// No file: a new data directory, or one written before this record
    /// existed (a file never written means nothing was acknowledged yet).
    Missing,
    /// Both slots damaged: what was acknowledged is unknown.
    Damaged(String),
    /// The newest intact record.
    Intact(Acked),
}

/// The open record file.
#[derive(Debug)]
pub(crate) struct AckedFile {
    file: File,
    path: PathBuf,
    seq: u64,
    fsync: bool,
    last: Acked,
}

impl AckedFile {
    /// Reads `dir/acked` (if any) and opens it for writing, creating it with
    /// both slots empty (and syncing the directory) when missing.
    pub(crate) fn open(dir: &Path, fsync: bool) -> Result<(AckedFile, Found), StorageError> {
        let path = dir.join(FILE);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StorageError::io("open", &path, e))?;
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut &file, &mut data)
            .map_err(|e| StorageError::io("read", &path, e))?;
        let slots: Vec<(u64, Acked)> = data.chunks(SLOT).filter_map(decode).collect();
        let found = match slots.iter().max_by_key(|s| s.0) {
            Some(&(_, acked)) => Found::Intact(acked),
            None if !existed => Found::Missing,
            // Created, never written: nothing was acknowledged yet.
            None if data.iter().all(|&b| b == 0) => Found::Intact(Acked {
                last: Some(SnapshotMeta::default()),
                hard_state: HardState::default(),
            }),
            None => Found::Damaged(format!(
                "{}: neither of its two records is intact ({} bytes)",
                path.display(),
                data.len()
            )),
        };
        let seq = slots.iter().map(|s| s.0).max().unwrap_or(0);
        if data.len() < 2 * SLOT {
            file.write_all_at(&vec![0; 2 * SLOT - data.len()], data.len() as u64)
                .map_err(|e| StorageError::io("write", &path, e))?;
            if fsync {
                file.sync_all()
                    .map_err(|e| StorageError::io("fsync", &path, e))?;
            }
            if !existed {
                sync_dir(dir, fsync)?;
            }
        }
        let last = match found {
            Found::Intact(a) => a,
            _ => Acked::default(),
        };
        Ok((
            AckedFile {
                file,
                path,
                seq,
                fsync,
                last,
            },
            found,
        ))
    }

    /// Records `acked` durably (one fdatasync) unless it is what the file
    /// already holds.
    pub(crate) fn record(&mut self, acked: Acked) -> Result<(), StorageError> {
        if acked == self.last {
            return Ok(());
        }
        self.seq += 1;
        let slot = encode(self.seq, &acked);
        let offset = (self.seq % 2) * SLOT as u64;
        self.file
            .write_all_at(&slot, offset)
            .map_err(|e| StorageError::io("write", &self.path, e))?;
        if self.fsync {
            self.file
                .sync_data()
                .map_err(|e| StorageError::io("fdatasync", &self.path, e))?;
        }
        self.last = acked;
        Ok(())
    }
}

fn encode(seq: u64, a: &Acked) -> [u8; SLOT] {
    let mut out = [0u8; SLOT];
    out[..MAGIC.len()].copy_from_slice(MAGIC);
    let (index, index_term) = a.last.map_or((UNKNOWN, 0), |m| (m.index, m.term));
    let fields = [
        seq,
        a.hard_state.term,
        a.hard_state.vote.unwrap_or(0),
        index,
        index_term,
    ];
    for (i, v) in fields.iter().enumerate() {
        let at = MAGIC.len() + i * 8;
        out[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
    let crc = crc32fast::hash(&out[..BODY]);
    out[BODY..BODY + 4].copy_from_slice(&crc.to_le_bytes());
    out
}

fn decode(slot: &[u8]) -> Option<(u64, Acked)> {
    if slot.len() < BODY + 4 || &slot[..MAGIC.len()] != MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(slot[BODY..BODY + 4].try_into().ok()?);
    if crc32fast::hash(&slot[..BODY]) != crc {
        return None;
    }
    let field = |i: usize| {
        let at = MAGIC.len() + i * 8;
        u64::from_le_bytes(slot[at..at + 8].try_into().expect("8 bytes"))
    };
    let (vote, index) = (field(2), field(3));
    Some((
        field(0),
        Acked {
            last: (index != UNKNOWN).then_some(SnapshotMeta {
                index,
                term: field(4),
            }),
            hard_state: HardState {
                term: field(1),
                vote: (vote != 0).then_some(vote),
                commit: 0,
            },
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(index: u64, term: u64, vote: Option<u64>) -> Acked {
        Acked {
            last: Some(SnapshotMeta { index, term }),
            hard_state: HardState {
                term,
                vote,
                commit: 0,
            },
        }
    }

    #[test]
    fn the_newest_intact_slot_wins_and_a_damaged_one_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let (f, found) = AckedFile::open(dir.path(), true).unwrap();
        assert_eq!(found, Found::Missing);
        drop(f);
        let (mut f, found) = AckedFile::open(dir.path(), true).unwrap();
        assert_eq!(
            found,
            Found::Intact(acked(0, 0, None)),
            "created, nothing acknowledged"
        );
        f.record(acked(5, 2, Some(1))).unwrap();
        f.record(acked(9, 3, None)).unwrap();
        drop(f);
        let (_, found) = AckedFile::open(dir.path(), true).unwrap();
        assert_eq!(found, Found::Intact(acked(9, 3, None)));

        // Damage the newer slot (seq 2, slot 0): the older one is used.
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (mut f, found) = AckedFile::open(dir.path(), true).unwrap();
        assert_eq!(found, Found::Intact(acked(5, 2, Some(1))));
        // Writing on continues after the intact sequence number.
        f.record(acked(11, 3, Some(2))).unwrap();
        drop(f);
        let (_, found) = AckedFile::open(dir.path(), true).unwrap();
        assert_eq!(found, Found::Intact(acked(11, 3, Some(2))));

        bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        bytes[64 + 20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (_, found) = AckedFile::open(dir.path(), true).unwrap();
        assert!(
            matches!(found, Found::Damaged(ref m) if m.contains("neither")),
            "{found:?}"
        );
    }
}
