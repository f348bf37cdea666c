//! Directory plumbing: creating, syncing and locking the data directory.

use std::fs::{self, File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::StorageError;

/// Where a damaged file is kept for an operator: `<path>.damaged`.
pub(crate) fn damaged_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".damaged");
    PathBuf::from(name)
}

/// Makes a directory's entries (files created, renamed or deleted in it) durable.
pub(crate) fn sync_dir(dir: &Path, fsync: bool) -> Result<(), StorageError> {
    if !fsync {
        return Ok(());
    }
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io("fsync directory", dir, e))
}

/// Creates `dir` (and its parents) if missing; syncs the parent when it did.
pub(crate) fn ensure_dir(dir: &Path, fsync: bool) -> Result<(), StorageError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| StorageError::io("create directory", dir, e))?;
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent, fsync),
        _ => Ok(()),
    }
}

/// Takes an exclusive lock on `dir/LOCK`, held as long as the returned file is open.
pub(crate) fn lock(dir: &Path) -> Result<File, StorageError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StorageError::io("open", &path, e))?;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(StorageError::Locked { file: path });
        }
        return Err(StorageError::io("lock", &path, err));
    }
    Ok(file)
}
