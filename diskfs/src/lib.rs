//! A passthrough FUSE filesystem that knows what is durable, and can lose
//! the rest: power loss, torn writes, file corruption.
//!
//! A node's real data lives in a *backing* directory; [`DiskFs::mount`]
//! shows it at a *mountpoint*, which is what the node is given as its data
//! directory. Every operation goes straight through to the backing
//! directory (reads, writes, mmap all see the real files), while the layer
//! keeps, per file modified since its last sync, an undo log: the original
//! bytes of ranges overwritten below the durable size, and that size.
//! Appends past the durable size cost nothing but a range in a list.
//!
//! # What is durable
//!
//! - File data and size: what was there at the last `fsync`/`fdatasync` of
//!   the file (through any handle), plus every write made through a handle
//!   opened with `O_SYNC` or `O_DSYNC` (such a write syncs the whole file,
//!   as an `fdatasync` after it would). `msync(MS_SYNC)` on a mapping ends
//!   in an fsync and counts. `syncfs`/`sync` do not reach a FUSE
//!   filesystem and make nothing durable.
//! - A file never modified through the mount is durable as it is.
//! - Namespace changes, by [`MetadataMode`]: `lazyfs` (the default, as
//!   LazyFS) never loses a create, rename, link, unlink, mkdir or rmdir;
//!   `posix` loses each one unless its directory (for a rename, the
//!   destination directory) was fsynced afterwards. Unlinked files (and files
//!   replaced by a rename) wait in the hidden `.faultline-graveyard`
//!   directory of the backing store until then, so they can come back.
//!
//! # Power loss
//!
//! [`DiskFs::power_loss`] (callable while mounted or unmounted, from any
//! thread) returns every tracked file to its durable state and, in POSIX
//! mode, undoes the namespace changes not made durable, newest first. It is
//! best called after the node was killed (its dirty mmap pages are then
//! written back through the mount on close, and lost like the rest).
//! [`PowerLossOptions`] can keep a random strict prefix of each file's last
//! un-synced write (`tear`) and let each un-synced write survive with a
//! probability (`survival`): a byte keeps its un-synced value when the last
//! write that touched it survived, otherwise it goes back to its durable
//! value (zeros past the durable size). Truncations never survive. All draws
//! come from the caller's seed; the returned [`PowerLossReport`] lists what
//! was done, file by file.
//!
//! # Corruption
//!
//! [`corrupt::flip_bits`] and [`corrupt::truncate_within`] damage a file in
//! the backing directory while the node is down, drawn in its written part
//! (not the zeros it was preallocated with) or only in the last bytes of
//! it, and report the offsets and bits ([`corrupt::truncate_at`] cuts at a
//! given offset).
//!
//! # Privileges
//!
//! Mounting needs root in the initial namespaces, or (unprivileged) a user
//! namespace that also has its own mount namespace (`unshare -Urm`).

mod durability;
mod fs;
mod namespace;

pub mod corrupt;

pub use durability::{ByteRange, FileDurability, FileLoss, LossModel, Storage, TornWrite};
pub use namespace::{
    dir_key, DirKey, MetadataMode, Namespace, NamespaceOp, NamespaceUndo, GRAVEYARD,
};

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Errors of the disk-fault layer; each names the path and the OS error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system call on the backing store failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// mount(2) was refused: not root and not in a user + mount namespace.
    #[error(
        "mounting the FUSE filesystem at {}: {source}\n  a FUSE mount without root needs a user namespace \
         that also has its own mount namespace (`unshare -Urm`, or unshare(CLONE_NEWUSER | CLONE_NEWNS) \
         with uid/gid maps written); a user namespace without a mount namespace gets EPERM",
        mountpoint.display()
    )]
    MountNotPermitted {
        /// Where the mount was attempted.
        mountpoint: PathBuf,
        /// The OS error (EPERM).
        source: io::Error,
    },
    /// /dev/fuse cannot be opened for reading and writing.
    #[error(
        "opening /dev/fuse: {source}\n  the FUSE device must be readable and writable by the user that \
         mounts (mode crw-rw-rw-: as root, `chmod 666 /dev/fuse`; `modprobe fuse` if it is missing)"
    )]
    DevFuse {
        /// The OS error.
        source: io::Error,
    },
    /// mount(2) failed for another reason.
    #[error("mounting the FUSE filesystem at {}: {source}", mountpoint.display())]
    Mount {
        /// Where the mount was attempted.
        mountpoint: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Unmounting failed.
    #[error("unmounting the FUSE filesystem at {}: {source}", mountpoint.display())]
    Unmount {
        /// The mountpoint.
        mountpoint: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// How a [`DiskFs`] behaves.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// When namespace changes become durable.
    pub metadata: MetadataMode,
    /// Let users other than the one that mounted use the mount
    /// (`allow_other`; needs `user_allow_other` or root).
    pub allow_other: bool,
}

/// How a power loss treats un-synced data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct PowerLossOptions {
    /// Seed for every random choice (tear lengths, survivals).
    pub seed: u64,
    /// Keep a random strict prefix of each file's last un-synced write.
    pub tear: bool,
    /// Probability that each un-synced write survives (0.0 by default: all
    /// un-synced data is lost).
    pub survival: f64,
    /// The unit a torn write is cut at (see [`LossModel::sector`]): 512 for
    /// disks that write whole sectors atomically; 0 or 1 for any byte.
    pub sector: u64,
}

/// What a power loss did: the history event to record.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct PowerLossReport {
    /// The options it ran with.
    pub options: PowerLossOptions,
    /// Files whose un-synced data was (at least partly) lost, by path.
    pub files: Vec<FileLoss>,
    /// Namespace changes undone (POSIX mode), newest first.
    pub namespace: Vec<NamespaceUndo>,
}

impl PowerLossReport {
    /// Whether the power loss changed nothing.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.namespace.is_empty()
    }
}

/// The disk-fault layer over one backing directory: the control handle.
///
/// Cloning gives another handle on the same state. The state (what is
/// durable) outlives mounts: unmount, call [`DiskFs::power_loss`], mount
/// again.
#[derive(Debug, Clone)]
pub struct DiskFs {
    inner: Arc<Mutex<fs::Inner>>,
    backing: PathBuf,
}

impl DiskFs {
    /// A layer over the existing directory `backing`; everything in it
    /// counts as durable.
    pub fn new(backing: &Path, options: Options) -> Result<DiskFs, Error> {
        let backing = backing.canonicalize().map_err(|source| Error::Io {
            what: "opening the backing directory",
            path: backing.to_path_buf(),
            source,
        })?;
        Ok(DiskFs {
            inner: Arc::new(Mutex::new(fs::Inner::new(&backing, options))),
            backing,
        })
    }

    /// The backing directory.
    pub fn backing(&self) -> &Path {
        &self.backing
    }

    /// Mounts the layer at `mountpoint` in a background thread; dropping the
    /// handle unmounts it.
    pub fn mount(&self, mountpoint: &Path) -> Result<MountHandle, Error> {
        fs::mount(self, mountpoint)
    }

    /// Returns every file to its durable state (see the crate docs) and
    /// says what was done.
    pub fn power_loss(&self, options: PowerLossOptions) -> PowerLossReport {
        let (report, inodes, entries) = {
            let mut inner = self.lock();
            let report = inner.power_loss(options);
            let entries = inner.entries_of(&report);
            (report, inner.live_inodes(), entries)
        };
        tracing::info!(
            files = report.files.len(),
            namespace = report.namespace.len(),
            "power loss"
        );
        if let Some(notifier) = self.lock().notifier.clone() {
            for ino in inodes {
                // The kernel may not know the inode any more; that is fine.
                let _ = notifier.inval_inode(fuser::INodeNo(ino), 0, 0);
            }
            for (parent, name) in entries {
                let _ = notifier.inval_entry(fuser::INodeNo(parent), &name);
            }
        }
        report
    }

    /// Files with un-synced changes, and bytes held by their undo logs.
    pub fn dirty(&self) -> (usize, usize) {
        self.lock().dirty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, fs::Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Mounts a new layer over `backing` at `mountpoint`.
pub fn mount(backing: &Path, mountpoint: &Path, options: Options) -> Result<MountHandle, Error> {
    DiskFs::new(backing, options)?.mount(mountpoint)
}

/// A live mount; dropping it unmounts (errors then are only logged).
#[derive(Debug)]
pub struct MountHandle {
    session: Option<fuser::BackgroundSession>,
    fs: DiskFs,
    mountpoint: PathBuf,
}

impl MountHandle {
    /// The control handle of the mounted layer.
    pub fn fs(&self) -> &DiskFs {
        &self.fs
    }

    /// Where it is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// [`DiskFs::power_loss`] on the mounted layer.
    pub fn power_loss(&self, options: PowerLossOptions) -> PowerLossReport {
        self.fs.power_loss(options)
    }

    /// Unmounts and waits for the session thread to end. A mount still in
    /// use (EBUSY) is detached lazily instead (`umount -l`), so none is left
    /// behind; its session thread then ends when the last user lets go.
    pub fn unmount(mut self) -> Result<(), Error> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> Result<(), Error> {
        self.fs.lock().notifier = None;
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        match session.umount_and_join() {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                // Still in use (an open file, a process's working
                // directory): detach it now so no mount is left behind; the
                // session ends when the last user lets go.
                let c = cpath(&self.mountpoint).map_err(|source| Error::Unmount {
                    mountpoint: self.mountpoint.clone(),
                    source,
                })?;
                // SAFETY: a valid NUL-terminated path.
                if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
                    return Err(Error::Unmount {
                        mountpoint: self.mountpoint.clone(),
                        source: io::Error::last_os_error(),
                    });
                }
                tracing::warn!(mountpoint = %self.mountpoint.display(), "mount busy: detached lazily");
                Ok(())
            }
            r => r.map_err(|source| Error::Unmount {
                mountpoint: self.mountpoint.clone(),
                source,
            }),
        }
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if let Err(e) = self.unmount_inner() {
            tracing::warn!(error = %e, "unmounting on drop");
        }
    }
}

pub(crate) fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}
