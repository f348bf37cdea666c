//! What can go wrong with the durable storage. Every variant names the file
//! (or directory) involved, and the offset where one is meaningful, so the
//! message alone tells an operator what to look at.

use std::io;
use std::path::PathBuf;

use crate::raft::Index;

/// Why opening, reading or writing the data directory failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An operating-system call failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("create", "fdatasync", ...).
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The underlying error, shown after the path in the message.
        #[source]
        source: io::Error,
    },
    /// The newest snapshot file is damaged (recovery sets it aside).
    #[error("corrupted snapshot {}: {reason}", file.display())]
    CorruptSnapshot {
        /// The snapshot file; moving it away lets the node start without it.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The WAL and the snapshots on disk do not fit together (a file is
    /// missing; recovery sets them aside).
    #[error("inconsistent storage in {}: {reason}", dir.display())]
    Inconsistent {
        /// The directory (or file) where the mismatch shows.
        dir: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// Another process holds the data directory.
    #[error("{} is locked: another faultline-node is using this data directory", file.display())]
    Locked {
        /// The `LOCK` file in the data directory, which the other process holds with `flock`.
        file: PathBuf,
    },
    /// The caller asked for something that would break the log (a bug in the caller).
    #[error("refusing to write to {}: {reason}", file.display())]
    Invalid {
        /// The file that would have been written.
        file: PathBuf,
        /// What was wrong with the request.
        reason: String,
    },
    /// A compaction past the last persisted entry.
    #[error("cannot compact {} up to {index}: the log ends at {last}", dir.display())]
    CompactBeyondLog {
        /// The data directory of the log that was to be compacted.
        dir: PathBuf,
        /// The requested snapshot index.
        index: Index,
        /// The last persisted index.
        last: Index,
    },
    /// An earlier write or fsync failed, so what is on disk is unknown; the
    /// storage refuses further writes (retrying an fsync can lie).
    #[error("storage in {} failed earlier ({cause}); restart to recover from the WAL", dir.display())]
    Poisoned {
        /// The data directory whose storage refuses writes.
        dir: PathBuf,
        /// The error of the write or fsync that failed first, as text.
        cause: String,
    },
    /// A record could not be encoded.
    #[error("encoding a record for {}: {source}", file.display())]
    Encode {
        /// The file it was meant for.
        file: PathBuf,
        /// Bincode's error (a size limit when the body does not fit a `u32` length).
        #[source]
        source: bincode::Error,
    },
}

impl StorageError {
    /// An I/O error on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
