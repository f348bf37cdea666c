//! The state of one layer: the inode table over backing paths, open
//! handles, and the per-file durability state the write path keeps up to
//! date; shared by the FUSE session and the control handle.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType, INodeNo, TimeOrNow};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::durability::{FileDurability, LossModel};
use crate::namespace::{Namespace, GRAVEYARD};
use crate::{Options, PowerLossOptions, PowerLossReport};

pub(super) const TTL: Duration = Duration::from_secs(1);
pub(super) const ROOT: u64 = 1;

/// A backing file's identity: (device, inode).
pub(super) type FileKey = (u64, u64);

#[derive(Debug)]
pub(super) struct Node {
    pub(super) path: PathBuf,
    pub(super) nlookup: u64,
}

#[derive(Debug)]
pub(super) struct Handle {
    pub(super) file: Arc<File>,
    pub(super) key: FileKey,
    pub(super) ino: u64,
    pub(super) sync: bool,
}

#[derive(Debug)]
pub(super) struct Tracked {
    pub(super) file: Arc<File>,
    pub(super) path: PathBuf,
    pub(super) state: FileDurability,
}

/// All state of one layer, shared by the FUSE session and the control handle.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(super) backing: PathBuf,
    pub(super) nodes: HashMap<u64, Node>,
    pub(super) by_path: HashMap<PathBuf, u64>,
    pub(super) next_ino: u64,
    pub(super) handles: HashMap<u64, Handle>,
    pub(super) next_fh: u64,
    pub(super) tracked: HashMap<FileKey, Tracked>,
    pub(super) ns: Namespace,
    pub(super) allow_other: bool,
    pub(crate) notifier: Option<fuser::Notifier>,
}

pub(super) fn key_of(m: &fs::Metadata) -> FileKey {
    (m.dev(), m.ino())
}

pub(super) fn errno(e: io::Error) -> Errno {
    Errno::from(e)
}

impl Inner {
    pub(crate) fn new(backing: &Path, options: Options) -> Inner {
        let mut inner = Inner {
            backing: backing.to_path_buf(),
            nodes: HashMap::new(),
            by_path: HashMap::new(),
            next_ino: ROOT + 1,
            handles: HashMap::new(),
            next_fh: 1,
            tracked: HashMap::new(),
            ns: Namespace::new(backing, options.metadata),
            allow_other: options.allow_other,
            notifier: None,
        };
        inner.reset_inodes();
        inner
    }

    /// A fresh inode table (for a new mount): only the root is known.
    pub(super) fn reset_inodes(&mut self) {
        self.nodes.clear();
        self.by_path.clear();
        self.handles.clear();
        self.nodes.insert(
            ROOT,
            Node {
                path: self.backing.clone(),
                nlookup: 1,
            },
        );
        self.by_path.insert(self.backing.clone(), ROOT);
    }

    pub(crate) fn live_inodes(&self) -> Vec<u64> {
        self.nodes.keys().copied().collect()
    }

    /// The (parent inode, name) pairs whose kernel dentries a power loss's
    /// namespace undo made stale.
    pub(crate) fn entries_of(&self, report: &PowerLossReport) -> Vec<(u64, std::ffi::OsString)> {
        let mut out = Vec::new();
        for u in &report.namespace {
            let paths: Vec<&PathBuf> = match &u.op {
                crate::NamespaceOp::Create { path, .. }
                | crate::NamespaceOp::Rmdir { path, .. }
                | crate::NamespaceOp::Unlink { path, .. } => vec![path],
                crate::NamespaceOp::Rename { from, to, .. } => vec![from, to],
            };
            for p in paths {
                let abs = self.backing.join(p);
                if let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) {
                    if let Some(&ino) = self.by_path.get(parent) {
                        out.push((ino, name.to_os_string()));
                    }
                }
            }
        }
        out
    }

    /// In LazyFS mode, the key of the file at `path` when that name is its
    /// last link: once the name goes, its data can never come back, so its
    /// durability state (and descriptor) can go too. (In POSIX mode the file
    /// waits in the graveyard and keeps its state.)
    pub(super) fn last_link(&self, path: &Path) -> Option<FileKey> {
        if self.ns.mode() != crate::MetadataMode::Lazyfs {
            return None;
        }
        let m = fs::symlink_metadata(path).ok()?;
        (m.is_file() && m.nlink() == 1).then(|| key_of(&m))
    }

    pub(crate) fn dirty(&self) -> (usize, usize) {
        (
            self.tracked.len(),
            self.tracked.values().map(|t| t.state.undo_bytes()).sum(),
        )
    }

    pub(super) fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.nodes
            .get(&ino.0)
            .map(|n| n.path.clone())
            .ok_or(Errno::ENOENT)
    }

    pub(super) fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        if parent.0 == ROOT && name == GRAVEYARD {
            return Err(Errno::EACCES);
        }
        Ok(self.path(parent)?.join(name))
    }

    /// The inode number for `path`, counting one more kernel lookup.
    pub(super) fn remember(&mut self, path: &Path) -> u64 {
        if let Some(&ino) = self.by_path.get(path) {
            if let Some(n) = self.nodes.get_mut(&ino) {
                n.nlookup += 1;
                return ino;
            }
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                path: path.to_path_buf(),
                nlookup: 1,
            },
        );
        self.by_path.insert(path.to_path_buf(), ino);
        ino
    }

    pub(super) fn forget_path(&mut self, path: &Path) {
        self.by_path.remove(path);
    }

    pub(super) fn entry(&mut self, path: &Path) -> Result<FileAttr, Errno> {
        let m = fs::symlink_metadata(path).map_err(errno)?;
        let ino = self.remember(path);
        Ok(attr(ino, &m))
    }

    /// The tracked state of the file behind `file`, created (durable as it
    /// is now) when the file had no un-synced change.
    pub(super) fn track(
        &mut self,
        key: FileKey,
        file: &Arc<File>,
        path: PathBuf,
    ) -> io::Result<&mut Tracked> {
        match self.tracked.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(v) => {
                let size = file.metadata()?.len();
                Ok(v.insert(Tracked {
                    file: file.clone(),
                    path,
                    state: FileDurability::new(size),
                }))
            }
        }
    }

    pub(super) fn node_path_or_empty(&self, ino: u64) -> PathBuf {
        self.nodes
            .get(&ino)
            .map(|n| n.path.clone())
            .unwrap_or_default()
    }

    pub(super) fn truncate(
        &mut self,
        file: &Arc<File>,
        key: FileKey,
        path: PathBuf,
        size: u64,
    ) -> io::Result<()> {
        let t = self.track(key, file, path)?;
        t.state.before_truncate(&&*t.file, size)?;
        file.set_len(size)
    }

    pub(super) fn write(&mut self, fh: u64, offset: u64, data: &[u8]) -> io::Result<()> {
        let h = self
            .handles
            .get(&fh)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        let (file, key, ino, sync) = (h.file.clone(), h.key, h.ino, h.sync);
        if !self.tracked.contains_key(&key) {
            let path = self.node_path_or_empty(ino);
            self.track(key, &file, path)?;
        }
        if let Some(t) = self.tracked.get_mut(&key) {
            t.state.before_write(&&*t.file, offset, data.len() as u64)?;
        }
        file.write_all_at(data, offset)?;
        if sync {
            file.sync_data()?;
            self.tracked.remove(&key);
        }
        Ok(())
    }

    pub(super) fn rename_paths(&mut self, from: &Path, to: &Path) {
        self.by_path.remove(to);
        let moved: Vec<(u64, PathBuf)> = self
            .nodes
            .iter()
            .filter_map(|(&ino, n)| {
                n.path.strip_prefix(from).ok().map(|rest| {
                    (
                        ino,
                        if rest.as_os_str().is_empty() {
                            to.to_path_buf()
                        } else {
                            to.join(rest)
                        },
                    )
                })
            })
            .collect();
        for (ino, new) in moved {
            if let Some(n) = self.nodes.get_mut(&ino) {
                if self.by_path.get(&n.path) == Some(&ino) {
                    self.by_path.remove(&n.path);
                }
                n.path = new.clone();
                self.by_path.insert(new, ino);
            }
        }
        for t in self.tracked.values_mut() {
            if let Ok(rest) = t.path.strip_prefix(from) {
                t.path = if rest.as_os_str().is_empty() {
                    to.to_path_buf()
                } else {
                    to.join(rest)
                };
            }
        }
    }

    pub(crate) fn power_loss(&mut self, options: PowerLossOptions) -> PowerLossReport {
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let model = LossModel {
            tear: options.tear,
            survival: options.survival,
            sector: options.sector,
        };
        let mut tracked: Vec<Tracked> = self.tracked.drain().map(|(_, t)| t).collect();
        tracked.sort_by(|a, b| a.path.cmp(&b.path));
        let mut files = Vec::new();
        for t in tracked {
            match t.file.metadata() {
                Ok(m) if m.nlink() == 0 => continue,
                Err(e) => {
                    tracing::warn!(path = %t.path.display(), error = %e, "power loss: stat");
                    continue;
                }
                Ok(_) => {}
            }
            match t.state.power_loss(&mut &*t.file, model, &mut rng) {
                Ok(mut loss) => {
                    loss.path = t
                        .path
                        .strip_prefix(&self.backing)
                        .map(Path::to_path_buf)
                        .unwrap_or(t.path);
                    files.push(loss);
                }
                Err(e) => {
                    tracing::error!(path = %t.path.display(), error = %e, "power loss: restoring")
                }
            }
        }
        let mut namespace = self.ns.power_loss();
        for u in &mut namespace {
            strip_op(&mut u.op, &self.backing);
        }
        // Names may have moved back: let lookups find them afresh.
        self.by_path.retain(|p, _| p.symlink_metadata().is_ok());
        PowerLossReport {
            options,
            files,
            namespace,
        }
    }
}

pub(super) fn strip_op(op: &mut crate::NamespaceOp, base: &Path) {
    let strip = |p: &mut PathBuf| {
        if let Ok(r) = p.strip_prefix(base) {
            *p = r.to_path_buf();
        }
    };
    match op {
        crate::NamespaceOp::Create { path, .. } | crate::NamespaceOp::Rmdir { path, .. } => {
            strip(path)
        }
        crate::NamespaceOp::Unlink { path, grave } => {
            strip(path);
            strip(grave);
        }
        crate::NamespaceOp::Rename {
            from, to, replaced, ..
        } => {
            strip(from);
            strip(to);
            if let Some(r) = replaced {
                strip(r);
            }
        }
    }
}

pub(super) fn time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
    } else {
        UNIX_EPOCH - Duration::new(secs.unsigned_abs(), 0)
    }
}

pub(super) fn attr(ino: u64, m: &fs::Metadata) -> FileAttr {
    let kind = FileType::from_std(m.file_type()).unwrap_or(FileType::RegularFile);
    FileAttr {
        ino: INodeNo(ino),
        size: m.size(),
        blocks: m.blocks(),
        atime: time(m.atime(), m.atime_nsec()),
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind,
        perm: (m.mode() & 0o7777) as u16,
        nlink: m.nlink() as u32,
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev() as u32,
        blksize: m.blksize() as u32,
        flags: 0,
    }
}

/// Opens a backing file for a handle. Read-write when allowed (the undo log
/// reads through the same descriptor); never `O_APPEND` (the kernel gives
/// the offsets), never `O_SYNC`/`O_DSYNC` (the layer syncs itself).
pub(super) fn open_backing(path: &Path, flags: i32, create_mode: Option<u32>) -> io::Result<File> {
    let strip = libc::O_ACCMODE
        | libc::O_APPEND
        | libc::O_CREAT
        | libc::O_EXCL
        | libc::O_TRUNC
        | libc::O_SYNC
        | libc::O_DSYNC
        | libc::O_DIRECT
        | libc::O_NOCTTY;
    let custom = (flags & !strip) | libc::O_CLOEXEC;
    let mut o = OpenOptions::new();
    o.custom_flags(custom).read(true).write(true);
    if let Some(mode) = create_mode {
        o.create_new(true).mode(mode);
    }
    match o.open(path) {
        Err(e)
            if create_mode.is_none()
                && matches!(
                    e.raw_os_error(),
                    Some(libc::EACCES) | Some(libc::EROFS) | Some(libc::EISDIR)
                ) =>
        {
            let mut o = OpenOptions::new();
            o.custom_flags(custom);
            match flags & libc::O_ACCMODE {
                libc::O_WRONLY => o.write(true),
                libc::O_RDWR => o.read(true).write(true),
                _ => o.read(true),
            };
            o.open(path)
        }
        r => r,
    }
}

pub(super) fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
    match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(t)) => {
            let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
            libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            }
        }
    }
}

pub(super) fn os(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
