//! Namespace operations (create, rename, unlink, rmdir) and, in
//! [`MetadataMode::Posix`], the log that undoes those not yet made durable
//! by an fsync of their directory.
//!
//! [`Namespace`] performs the operations on the backing directory itself so
//! the undo information is always consistent with what was done; it needs
//! no FUSE and is tested on a plain temporary directory.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Name of the hidden directory, at the root of the backing directory, that
/// keeps unlinked and replaced files until their directory is fsynced.
pub const GRAVEYARD: &str = ".faultline-graveyard";

/// When namespace changes become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetadataMode {
    /// As LazyFS: create, rename, link, unlink and rmdir are durable at once;
    /// only file data and sizes can be lost.
    #[default]
    Lazyfs,
    /// Strict POSIX: a create, rename, link, unlink, mkdir or rmdir is lost
    /// at a power loss unless its directory (for a rename: the destination
    /// directory) was fsynced afterwards. Fsyncing a file does not make its
    /// directory entry durable.
    Posix,
}

/// Identity of a directory that stays put across renames: its backing
/// inode number.
pub type DirKey = u64;

/// The key of the directory at `path`.
pub fn dir_key(path: &Path) -> io::Result<DirKey> {
    Ok(fs::symlink_metadata(path)?.ino())
}

/// A namespace change not yet made durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum NamespaceOp {
    /// A file, directory, symlink, node or hard link was created.
    Create {
        /// The new name (backing path).
        path: PathBuf,
        /// Whether it is a directory.
        dir: bool,
    },
    /// A name was renamed.
    Rename {
        /// Old name.
        from: PathBuf,
        /// New name.
        to: PathBuf,
        /// The file the rename replaced, kept in the graveyard.
        replaced: Option<PathBuf>,
        /// Whether the rename replaced an (empty) directory.
        replaced_dir: Option<u32>,
    },
    /// A name was unlinked; the file waits in the graveyard.
    Unlink {
        /// The removed name.
        path: PathBuf,
        /// Where the file waits.
        grave: PathBuf,
    },
    /// An empty directory was removed.
    Rmdir {
        /// The removed directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// One namespace change undone by a power loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceUndo {
    /// The change that was lost.
    pub op: NamespaceOp,
    /// Why undoing it failed (a later, durable change got in the way), if it did.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
struct Pending {
    dir: DirKey,
    op: NamespaceOp,
}

/// Performs namespace operations on the backing directory and, in POSIX
/// mode, remembers how to undo those whose directory was not fsynced.
#[derive(Debug)]
pub struct Namespace {
    mode: MetadataMode,
    graveyard: PathBuf,
    pending: Vec<Pending>,
    next_grave: u64,
}

impl Namespace {
    /// A namespace over the backing directory `backing`.
    pub fn new(backing: &Path, mode: MetadataMode) -> Self {
        Namespace {
            mode,
            graveyard: backing.join(GRAVEYARD),
            pending: Vec::new(),
            next_grave: 0,
        }
    }

    /// The metadata mode.
    pub fn mode(&self) -> MetadataMode {
        self.mode
    }

    /// Changes not yet durable, oldest first.
    pub fn pending(&self) -> Vec<NamespaceOp> {
        self.pending.iter().map(|p| p.op.clone()).collect()
    }

    fn grave(&mut self) -> io::Result<PathBuf> {
        if !self.graveyard.exists() {
            fs::create_dir_all(&self.graveyard)?;
        }
        self.next_grave += 1;
        Ok(self
            .graveyard
            .join(format!("{}-{}", std::process::id(), self.next_grave)))
    }

    /// Records that `path` (in directory `dir`) was just created.
    pub fn created(&mut self, dir: DirKey, path: &Path, is_dir: bool) {
        if self.mode == MetadataMode::Posix {
            self.pending.push(Pending {
                dir,
                op: NamespaceOp::Create {
                    path: path.to_path_buf(),
                    dir: is_dir,
                },
            });
        }
    }

    /// Unlinks `path` in directory `dir` (in POSIX mode by moving it to the
    /// graveyard, which is atomic for observers like unlink).
    pub fn unlink(&mut self, dir: DirKey, path: &Path) -> io::Result<()> {
        if self.mode == MetadataMode::Lazyfs {
            return fs::remove_file(path);
        }
        let grave = self.grave()?;
        fs::rename(path, &grave)?;
        self.pending.push(Pending {
            dir,
            op: NamespaceOp::Unlink {
                path: path.to_path_buf(),
                grave,
            },
        });
        Ok(())
    }

    /// Removes the empty directory `path` in directory `dir`.
    pub fn rmdir(&mut self, dir: DirKey, path: &Path) -> io::Result<()> {
        let mode = fs::symlink_metadata(path)?.mode() & 0o7777;
        fs::remove_dir(path)?;
        if self.mode == MetadataMode::Posix {
            self.pending.push(Pending {
                dir,
                op: NamespaceOp::Rmdir {
                    path: path.to_path_buf(),
                    mode,
                },
            });
        }
        Ok(())
    }

    /// Renames `from` to `to`, `to_dir` being the destination directory;
    /// `flags` are renameat2 flags. In POSIX mode a replaced file is kept
    /// (hard-linked into the graveyard first, so the rename stays atomic) and
    /// `RENAME_EXCHANGE` is refused with EINVAL.
    pub fn rename(&mut self, to_dir: DirKey, from: &Path, to: &Path, flags: u32) -> io::Result<()> {
        if self.mode == MetadataMode::Lazyfs {
            return renameat2(from, to, flags);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut replaced = None;
        let mut replaced_dir = None;
        if let Ok(meta) = fs::symlink_metadata(to) {
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            if meta.is_dir() {
                replaced_dir = Some(meta.mode() & 0o7777);
            } else {
                let grave = self.grave()?;
                fs::hard_link(to, &grave)?;
                replaced = Some(grave);
            }
        }
        if let Err(e) = renameat2(from, to, flags) {
            if let Some(g) = &replaced {
                let _ = fs::remove_file(g);
            }
            return Err(e);
        }
        self.pending.push(Pending {
            dir: to_dir,
            op: NamespaceOp::Rename {
                from: from.to_path_buf(),
                to: to.to_path_buf(),
                replaced,
                replaced_dir,
            },
        });
        Ok(())
    }

    /// The directory `dir` was fsynced: its changes are durable; files of
    /// its unlinks and replacing renames leave the graveyard.
    pub fn sync_dir(&mut self, dir: DirKey) {
        let (synced, kept): (Vec<Pending>, Vec<Pending>) =
            self.pending.drain(..).partition(|p| p.dir == dir);
        self.pending = kept;
        for p in synced {
            let grave = match p.op {
                NamespaceOp::Unlink { grave, .. } => Some(grave),
                NamespaceOp::Rename { replaced, .. } => replaced,
                _ => None,
            };
            if let Some(g) = grave {
                if let Err(e) = fs::remove_file(&g) {
                    tracing::warn!(grave = %g.display(), error = %e, "purging the graveyard");
                }
            }
        }
    }

    /// Undoes every change not yet durable, newest first, and reports each.
    pub fn power_loss(&mut self) -> Vec<NamespaceUndo> {
        let mut out = Vec::new();
        while let Some(p) = self.pending.pop() {
            let error = undo(&p.op).err().map(|e| e.to_string());
            if let Some(e) = &error {
                tracing::warn!(op = ?p.op, error = %e, "undoing a lost namespace change");
            }
            out.push(NamespaceUndo { op: p.op, error });
        }
        out
    }
}

fn undo(op: &NamespaceOp) -> io::Result<()> {
    match op {
        NamespaceOp::Create { path, dir: true } => fs::remove_dir_all(path),
        NamespaceOp::Create { path, dir: false } => fs::remove_file(path),
        NamespaceOp::Unlink { path, grave } => fs::rename(grave, path),
        NamespaceOp::Rmdir { path, mode } => {
            fs::create_dir(path)?;
            fs::set_permissions(path, fs::Permissions::from_mode(*mode))
        }
        NamespaceOp::Rename {
            from,
            to,
            replaced,
            replaced_dir,
        } => {
            fs::rename(to, from)?;
            if let Some(g) = replaced {
                fs::rename(g, to)?;
            }
            if let Some(mode) = replaced_dir {
                fs::create_dir(to)?;
                fs::set_permissions(to, fs::Permissions::from_mode(*mode))?;
            }
            Ok(())
        }
    }
}

/// renameat2(2) on two paths.
pub(crate) fn renameat2(from: &Path, to: &Path, flags: u32) -> io::Result<()> {
    if flags == 0 {
        return fs::rename(from, to);
    }
    let a = crate::cpath(from)?;
    let b = crate::cpath(to)?;
    // SAFETY: both pointers are valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(mode: MetadataMode) -> (tempfile::TempDir, Namespace, DirKey) {
        let t = tempfile::tempdir().unwrap();
        let ns = Namespace::new(t.path(), mode);
        let key = dir_key(t.path()).unwrap();
        (t, ns, key)
    }

    #[test]
    fn posix_create_is_lost_unless_dir_synced() {
        let (t, mut ns, root) = setup(MetadataMode::Posix);
        let a = t.path().join("a");
        let b = t.path().join("b");
        fs::write(&a, "a").unwrap();
        ns.created(root, &a, false);
        ns.sync_dir(root);
        fs::write(&b, "b").unwrap();
        ns.created(root, &b, false);
        let undone = ns.power_loss();
        assert_eq!(undone.len(), 1);
        assert!(a.exists());
        assert!(!b.exists());
    }

    #[test]
    fn posix_unlink_and_rename_come_back() {
        let (t, mut ns, root) = setup(MetadataMode::Posix);
        let a = t.path().join("a");
        let b = t.path().join("b");
        let c = t.path().join("c");
        fs::write(&a, "A").unwrap();
        fs::write(&b, "B").unwrap();
        fs::write(&c, "C").unwrap();
        ns.unlink(root, &c).unwrap();
        ns.rename(root, &a, &b, 0).unwrap();
        assert!(!a.exists() && !c.exists());
        assert_eq!(fs::read(&b).unwrap(), b"A");
        let undone = ns.power_loss();
        assert!(undone.iter().all(|u| u.error.is_none()), "{undone:?}");
        assert_eq!(fs::read(&a).unwrap(), b"A");
        assert_eq!(fs::read(&b).unwrap(), b"B");
        assert_eq!(fs::read(&c).unwrap(), b"C");
    }

    #[test]
    fn posix_dir_sync_purges_the_graveyard() {
        let (t, mut ns, root) = setup(MetadataMode::Posix);
        let a = t.path().join("a");
        fs::write(&a, "A").unwrap();
        ns.unlink(root, &a).unwrap();
        ns.sync_dir(root);
        assert_eq!(fs::read_dir(t.path().join(GRAVEYARD)).unwrap().count(), 0);
        assert!(ns.power_loss().is_empty());
        assert!(!a.exists());
    }

    #[test]
    fn posix_sync_of_another_dir_does_not_help() {
        let (t, mut ns, root) = setup(MetadataMode::Posix);
        let sub = t.path().join("sub");
        fs::create_dir(&sub).unwrap();
        ns.created(root, &sub, true);
        let f = sub.join("f");
        fs::write(&f, "x").unwrap();
        ns.created(dir_key(&sub).unwrap(), &f, false);
        ns.sync_dir(dir_key(&sub).unwrap());
        ns.power_loss();
        assert!(!sub.exists());
    }

    #[test]
    fn lazyfs_never_undoes() {
        let (t, mut ns, root) = setup(MetadataMode::Lazyfs);
        let a = t.path().join("a");
        fs::write(&a, "A").unwrap();
        ns.created(root, &a, false);
        ns.rename(root, &a, &t.path().join("b"), 0).unwrap();
        assert!(ns.power_loss().is_empty());
        assert!(t.path().join("b").exists());
        assert!(!t.path().join(GRAVEYARD).exists());
    }
}
