//! Snapshot files: `snap/<index>-<term>.snap`, only the newest kept.
//!
//! ```text
//! +----------------+-----------+-----------+-----------------------------+
//! | "FLSNAP1\n"    | len: u64  | crc: u32  | bincode Snapshot (len bytes) |
//! +----------------+-----------+-----------+-----------------------------+
//! ```
//!
//! A snapshot is written to `<name>.tmp`, fdatasync'd, renamed into place and
//! the directory fsynced; only then are older snapshot files deleted. A crash
//! at any point leaves either the old or the new snapshot whole.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use bincode::Options;

use super::dir::{damaged_name, sync_dir};
use super::StorageError;
use crate::raft::{Snapshot, SnapshotMeta};

const MAGIC: &[u8; 8] = b"FLSNAP1\n";
const HEADER_LEN: usize = MAGIC.len() + 8 + 4;
const SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".snap.tmp";

fn codec() -> impl Options {
    bincode::DefaultOptions::new()
}

/// The file name a snapshot is stored under.
pub(crate) fn file_name(meta: SnapshotMeta) -> String {
    format!("{:020}-{:020}{SUFFIX}", meta.index, meta.term)
}

fn parse_name(name: &str) -> Option<SnapshotMeta> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (index, term) = stem.split_once('-')?;
    Some(SnapshotMeta {
        index: index.parse().ok()?,
        term: term.parse().ok()?,
    })
}

/// The snapshot files in `dir`, oldest first. Leftover temporary files are deleted.
fn list(dir: &Path) -> Result<Vec<(SnapshotMeta, PathBuf)>, StorageError> {
    let mut found = Vec::new();
    let read = fs::read_dir(dir).map_err(|e| StorageError::io("list", dir, e))?;
    for item in read {
        let item = item.map_err(|e| StorageError::io("list", dir, e))?;
        let name = item.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(TMP_SUFFIX) {
            let path = item.path();
            fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
            continue;
        }
        if let Some(meta) = parse_name(name) {
            found.push((meta, item.path()));
        }
    }
    found.sort_by_key(|(m, _)| (m.index, m.term));
    Ok(found)
}

/// Loads the newest snapshot in `dir` (if any) and deletes the older ones.
pub(crate) fn load_latest(dir: &Path, fsync: bool) -> Result<Option<Snapshot>, StorageError> {
    let mut files = list(dir)?;
    let Some((meta, path)) = files.pop() else {
        return Ok(None);
    };
    let snapshot = read(&path)?;
    if snapshot.meta != meta {
        return Err(StorageError::CorruptSnapshot {
            file: path,
            reason: format!(
                "it holds index {} term {}, not what its name says",
                snapshot.meta.index, snapshot.meta.term
            ),
        });
    }
    remove_all(dir, files, fsync)?;
    Ok(Some(snapshot))
}

/// Moves every snapshot file in `dir` aside (`<name>.damaged`): the newest
/// one is damaged and the log built on it is set aside with it. Returns how
/// many files moved.
pub(crate) fn set_aside_all(dir: &Path, fsync: bool) -> Result<usize, StorageError> {
    let files = list(dir)?;
    for (_, path) in &files {
        fs::rename(path, damaged_name(path)).map_err(|e| StorageError::io("rename", path, e))?;
    }
    sync_dir(dir, fsync)?;
    Ok(files.len())
}

fn read(path: &Path) -> Result<Snapshot, StorageError> {
    let data = fs::read(path).map_err(|e| StorageError::io("read", path, e))?;
    let corrupt = |reason: String| StorageError::CorruptSnapshot {
        file: path.to_path_buf(),
        reason,
    };
    if data.len() < HEADER_LEN || &data[..MAGIC.len()] != MAGIC {
        return Err(corrupt("not a faultline snapshot (bad header)".into()));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&data[8..16]);
    let len = u64::from_le_bytes(len);
    let body = &data[HEADER_LEN..];
    if body.len() as u64 != len {
        return Err(corrupt(format!(
            "the header announces {len} bytes of body, the file holds {}",
            body.len()
        )));
    }
    let crc = u32::from_le_bytes([data[16], data[17], data[18], data[19]]);
    if crc32fast::hash(body) != crc {
        return Err(corrupt("crc mismatch".into()));
    }
    codec()
        .deserialize(body)
        .map_err(|e| corrupt(format!("undecodable body: {e}")))
}

/// Writes `snapshot` durably as the only snapshot in `dir`; returns its path.
pub(crate) fn write(dir: &Path, snapshot: &Snapshot, fsync: bool) -> Result<PathBuf, StorageError> {
    let path = dir.join(file_name(snapshot.meta));
    let tmp = dir.join(format!("{}.tmp", file_name(snapshot.meta)));
    let body = codec()
        .serialize(snapshot)
        .map_err(|source| StorageError::Encode {
            file: path.clone(),
            source,
        })?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    let mut file = File::create(&tmp).map_err(|e| StorageError::io("create", &tmp, e))?;
    file.write_all(&bytes)
        .map_err(|e| StorageError::io("write", &tmp, e))?;
    if fsync {
        file.sync_data()
            .map_err(|e| StorageError::io("fdatasync", &tmp, e))?;
    }
    drop(file);
    fs::rename(&tmp, &path).map_err(|e| StorageError::io("rename", &tmp, e))?;
    sync_dir(dir, fsync)?;
    let older: Vec<_> = list(dir)?.into_iter().filter(|(_, p)| *p != path).collect();
    remove_all(dir, older, fsync)?;
    Ok(path)
}

fn remove_all(
    dir: &Path,
    files: Vec<(SnapshotMeta, PathBuf)>,
    fsync: bool,
) -> Result<(), StorageError> {
    if files.is_empty() {
        return Ok(());
    }
    for (_, path) in files {
        fs::remove_file(&path).map_err(|e| StorageError::io("remove", &path, e))?;
    }
    sync_dir(dir, fsync)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(index: u64, term: u64) -> Snapshot {
        Snapshot {
            meta: SnapshotMeta { index, term },
            data: format!("state at {index}").into_bytes(),
        }
    }

    #[test]
    fn the_newest_snapshot_wins_and_replaces_the_others() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &snap(5, 1), true).unwrap();
        write(dir.path(), &snap(12, 2), true).unwrap();
        assert_eq!(load_latest(dir.path(), true).unwrap(), Some(snap(12, 2)));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![file_name(SnapshotMeta { index: 12, term: 2 })]);
    }

    #[test]
    fn leftovers_of_a_crash_are_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &snap(5, 1), true).unwrap();
        fs::write(
            dir.path()
                .join("00000000000000000009-00000000000000000001.snap.tmp"),
            b"half",
        )
        .unwrap();
        // An older snapshot left behind by a crash between rename and delete.
        let old = dir
            .path()
            .join(file_name(SnapshotMeta { index: 3, term: 1 }));
        fs::copy(dir.path().join(file_name(snap(5, 1).meta)), &old).unwrap();
        assert_eq!(load_latest(dir.path(), true).unwrap(), Some(snap(5, 1)));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_damaged_snapshot_refuses_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &snap(5, 1), true).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let err = load_latest(dir.path(), true).unwrap_err().to_string();
        assert!(err.contains(path.to_str().unwrap()), "{err}");
        assert!(err.contains("crc mismatch"), "{err}");

        fs::write(&path, &bytes[..10]).unwrap();
        let err = load_latest(dir.path(), true).unwrap_err().to_string();
        assert!(err.contains("bad header"), "{err}");
    }

    #[test]
    fn a_misnamed_snapshot_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &snap(5, 1), true).unwrap();
        fs::rename(
            &path,
            dir.path()
                .join(file_name(SnapshotMeta { index: 6, term: 1 })),
        )
        .unwrap();
        let err = load_latest(dir.path(), true).unwrap_err().to_string();
        assert!(err.contains("not what its name says"), "{err}");
    }
}
