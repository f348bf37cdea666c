//! The FUSE side: an inode table over backing paths, open handles, and the
//! per-file durability state the write path keeps up to date.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow,
    WriteFlags,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::durability::{FileDurability, LossModel};
use crate::namespace::{dir_key, Namespace, GRAVEYARD};
use crate::{DiskFs, Error, MountHandle, Options, PowerLossOptions, PowerLossReport};

const TTL: Duration = Duration::from_secs(1);
const ROOT: u64 = 1;

/// A backing file's identity: (device, inode).
type FileKey = (u64, u64);

#[derive(Debug)]
struct Node {
    path: PathBuf,
    nlookup: u64,
}

#[derive(Debug)]
struct Handle {
    file: Arc<File>,
    key: FileKey,
    ino: u64,
    sync: bool,
}

#[derive(Debug)]
struct Tracked {
    file: Arc<File>,
    path: PathBuf,
    state: FileDurability,
}

/// All state of one layer, shared by the FUSE session and the control handle.
#[derive(Debug)]
pub(crate) struct Inner {
    backing: PathBuf,
    nodes: HashMap<u64, Node>,
    by_path: HashMap<PathBuf, u64>,
    next_ino: u64,
    handles: HashMap<u64, Handle>,
    next_fh: u64,
    tracked: HashMap<FileKey, Tracked>,
    ns: Namespace,
    allow_other: bool,
    pub(crate) notifier: Option<fuser::Notifier>,
}

fn key_of(m: &fs::Metadata) -> FileKey {
    (m.dev(), m.ino())
}

fn errno(e: io::Error) -> Errno {
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
    fn reset_inodes(&mut self) {
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
    fn last_link(&self, path: &Path) -> Option<FileKey> {
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

    fn path(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.nodes
            .get(&ino.0)
            .map(|n| n.path.clone())
            .ok_or(Errno::ENOENT)
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        if parent.0 == ROOT && name == GRAVEYARD {
            return Err(Errno::EACCES);
        }
        Ok(self.path(parent)?.join(name))
    }

    /// The inode number for `path`, counting one more kernel lookup.
    fn remember(&mut self, path: &Path) -> u64 {
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

    fn forget_path(&mut self, path: &Path) {
        self.by_path.remove(path);
    }

    fn entry(&mut self, path: &Path) -> Result<FileAttr, Errno> {
        let m = fs::symlink_metadata(path).map_err(errno)?;
        let ino = self.remember(path);
        Ok(attr(ino, &m))
    }

    /// The tracked state of the file behind `file`, created (durable as it
    /// is now) when the file had no un-synced change.
    fn track(&mut self, key: FileKey, file: &Arc<File>, path: PathBuf) -> io::Result<&mut Tracked> {
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

    fn node_path_or_empty(&self, ino: u64) -> PathBuf {
        self.nodes
            .get(&ino)
            .map(|n| n.path.clone())
            .unwrap_or_default()
    }

    fn truncate(
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

    fn write(&mut self, fh: u64, offset: u64, data: &[u8]) -> io::Result<()> {
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

    fn rename_paths(&mut self, from: &Path, to: &Path) {
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

fn strip_op(op: &mut crate::NamespaceOp, base: &Path) {
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

fn time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
    } else {
        UNIX_EPOCH - Duration::new(secs.unsigned_abs(), 0)
    }
}

fn attr(ino: u64, m: &fs::Metadata) -> FileAttr {
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
fn open_backing(path: &Path, flags: i32, create_mode: Option<u32>) -> io::Result<File> {
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

fn timespec(t: Option<TimeOrNow>) -> libc::timespec {
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

fn os(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The `fuser` filesystem: a view of the shared state.
struct Fs {
    inner: Arc<Mutex<Inner>>,
}

impl Fs {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Common tail of create-like operations: set the mode, record the
    /// namespace change, reply with the entry.
    /// The backing paths of directory `parent` and of its entry `name`.
    fn place(&self, parent: INodeNo, name: &OsStr) -> Result<(PathBuf, PathBuf), Errno> {
        let inner = self.lock();
        Ok((inner.path(parent)?, inner.child(parent, name)?))
    }

    fn created(
        &self,
        parent: &Path,
        path: &Path,
        mode: Option<u32>,
        is_dir: bool,
    ) -> Result<FileAttr, Errno> {
        if let Some(mode) = mode {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777)).map_err(errno)?;
        }
        let mut inner = self.lock();
        let key = dir_key(parent).map_err(errno)?;
        inner.ns.created(key, path, is_dir);
        inner.entry(path)
    }
}

impl Filesystem for Fs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let mut inner = self.lock();
        match inner.child(parent, name).and_then(|p| inner.entry(&p)) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if ino.0 == ROOT {
            return;
        }
        let mut inner = self.lock();
        let gone = match inner.nodes.get_mut(&ino.0) {
            Some(n) => {
                n.nlookup = n.nlookup.saturating_sub(nlookup);
                n.nlookup == 0
            }
            None => false,
        };
        if gone {
            if let Some(n) = inner.nodes.remove(&ino.0) {
                if inner.by_path.get(&n.path) == Some(&ino.0) {
                    inner.by_path.remove(&n.path);
                }
            }
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let inner = self.lock();
        let meta = match fh.and_then(|fh| inner.handles.get(&fh.0)) {
            Some(h) => h.file.metadata().map_err(errno),
            None => inner
                .path(ino)
                .and_then(|p| fs::symlink_metadata(p).map_err(errno)),
        };
        match meta {
            Ok(m) => reply.attr(&TTL, &attr(ino.0, &m)),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut inner = self.lock();
        let result = (|| -> io::Result<fs::Metadata> {
            let path = inner
                .path(ino)
                .map_err(|e| io::Error::from_raw_os_error(e.code()))?;
            if let Some(size) = size {
                let file = match fh.and_then(|fh| inner.handles.get(&fh.0)) {
                    Some(h) => h.file.clone(),
                    None => Arc::new(OpenOptions::new().read(true).write(true).open(&path)?),
                };
                let key = key_of(&file.metadata()?);
                inner.truncate(&file, key, path.clone(), size)?;
            }
            if let Some(mode) = mode {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777))?;
            }
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::lchown(&path, uid, gid)?;
            }
            if atime.is_some() || mtime.is_some() {
                let c = crate::cpath(&path)?;
                let times = [timespec(atime), timespec(mtime)];
                // SAFETY: valid NUL-terminated path and a two-element array.
                os(unsafe {
                    libc::utimensat(
                        libc::AT_FDCWD,
                        c.as_ptr(),
                        times.as_ptr(),
                        libc::AT_SYMLINK_NOFOLLOW,
                    )
                })?;
            }
            fs::symlink_metadata(&path)
        })();
        match result {
            Ok(m) => reply.attr(&TTL, &attr(ino.0, &m)),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        let path = self.lock().path(ino);
        match path.and_then(|p| fs::read_link(p).map_err(errno)) {
            Ok(t) => reply.data(std::os::unix::ffi::OsStrExt::as_bytes(t.as_os_str())),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let r = (|| {
            let (dir, path) = self.place(parent, name)?;
            let c = crate::cpath(&path).map_err(errno)?;
            // SAFETY: valid NUL-terminated path.
            os(unsafe { libc::mknod(c.as_ptr(), mode & !umask, rdev as libc::dev_t) })
                .map_err(errno)?;
            self.created(&dir, &path, Some(mode & !umask), false)
        })();
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let r = (|| {
            let (dir, path) = self.place(parent, name)?;
            fs::create_dir(&path).map_err(errno)?;
            self.created(&dir, &path, Some(mode & !umask), true)
        })();
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut inner = self.lock();
        let r = (|| {
            let dir = inner.path(parent)?;
            let path = inner.child(parent, name)?;
            let key = dir_key(&dir).map_err(errno)?;
            let gone = inner.last_link(&path);
            inner.ns.unlink(key, &path).map_err(errno)?;
            inner.forget_path(&path);
            if let Some(k) = gone {
                inner.tracked.remove(&k);
            }
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut inner = self.lock();
        let r = (|| {
            let dir = inner.path(parent)?;
            let path = inner.child(parent, name)?;
            let key = dir_key(&dir).map_err(errno)?;
            inner.ns.rmdir(key, &path).map_err(errno)?;
            inner.forget_path(&path);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let r = (|| {
            let (dir, path) = self.place(parent, link_name)?;
            std::os::unix::fs::symlink(target, &path).map_err(errno)?;
            self.created(&dir, &path, None, false)
        })();
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let mut inner = self.lock();
        let r = (|| {
            let from = inner.child(parent, name)?;
            let to = inner.child(newparent, newname)?;
            let key = dir_key(&inner.path(newparent)?).map_err(errno)?;
            let replaced = inner.last_link(&to);
            inner
                .ns
                .rename(key, &from, &to, flags.bits())
                .map_err(errno)?;
            if let Some(k) = replaced {
                inner.tracked.remove(&k);
            }
            inner.rename_paths(&from, &to);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let mut inner = self.lock();
        let r = (|| {
            let src = inner.path(ino)?;
            let dir = inner.path(newparent)?;
            let to = inner.child(newparent, newname)?;
            fs::hard_link(&src, &to).map_err(errno)?;
            let key = dir_key(&dir).map_err(errno)?;
            inner.ns.created(key, &to, false);
            let m = fs::symlink_metadata(&to).map_err(errno)?;
            if let Some(n) = inner.nodes.get_mut(&ino.0) {
                n.nlookup += 1;
            }
            Ok(attr(ino.0, &m))
        })();
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mut inner = self.lock();
        let r = (|| {
            let path = inner.path(ino)?;
            let file = Arc::new(open_backing(&path, flags.0, None).map_err(errno)?);
            let key = key_of(&file.metadata().map_err(errno)?);
            let writable = flags.0 & libc::O_ACCMODE != libc::O_RDONLY;
            if writable && flags.0 & libc::O_TRUNC != 0 {
                inner.truncate(&file, key, path, 0).map_err(errno)?;
            }
            let fh = inner.next_fh;
            inner.next_fh += 1;
            inner.handles.insert(
                fh,
                Handle {
                    file,
                    key,
                    ino: ino.0,
                    sync: flags.0 & libc::O_DSYNC != 0,
                },
            );
            Ok(fh)
        })();
        match r {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let r = (|| {
            let (dir, path) = self.place(parent, name)?;
            let perm = mode & !umask & 0o7777;
            let (file, new) = match open_backing(&path, flags, Some(perm)) {
                Ok(f) => (f, true),
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) && flags & libc::O_EXCL == 0 => {
                    (open_backing(&path, flags, None).map_err(errno)?, false)
                }
                Err(e) => return Err(errno(e)),
            };
            let file = Arc::new(file);
            let a = if new {
                self.created(&dir, &path, Some(perm), false)?
            } else {
                self.lock().entry(&path)?
            };
            let mut inner = self.lock();
            let key = key_of(&file.metadata().map_err(errno)?);
            if !new && flags & libc::O_TRUNC != 0 {
                inner.truncate(&file, key, path, 0).map_err(errno)?;
            }
            let fh = inner.next_fh;
            inner.next_fh += 1;
            inner.handles.insert(
                fh,
                Handle {
                    file,
                    key,
                    ino: a.ino.0,
                    sync: flags & libc::O_DSYNC != 0,
                },
            );
            Ok((a, fh))
        })();
        match r {
            Ok((a, fh)) => {
                reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::empty())
            }
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let file = match self.lock().handles.get(&fh.0) {
            Some(h) => h.file.clone(),
            None => return reply.error(Errno::EBADF),
        };
        let mut buf = vec![0u8; size as usize];
        let mut done = 0;
        while done < buf.len() {
            match file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return reply.error(errno(e)),
            }
        }
        reply.data(&buf[..done]);
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.lock().write(fh.0, offset, data) {
            Ok(()) => reply.written(data.len() as u32),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let (file, key) = match self.lock().handles.get(&fh.0) {
            Some(h) => (h.file.clone(), h.key),
            None => return reply.error(Errno::EBADF),
        };
        let r = if datasync {
            file.sync_data()
        } else {
            file.sync_all()
        };
        match r {
            Ok(()) => {
                self.lock().tracked.remove(&key);
                reply.ok()
            }
            Err(e) => reply.error(errno(e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let inner = self.lock();
        let path = match inner.path(ino) {
            Ok(p) => p,
            Err(e) => return reply.error(e),
        };
        let rd = match fs::read_dir(&path) {
            Ok(rd) => rd,
            Err(e) => return reply.error(errno(e)),
        };
        let mut entries: Vec<(u64, FileType, std::ffi::OsString)> = vec![
            (ino.0, FileType::Directory, ".".into()),
            (ino.0, FileType::Directory, "..".into()),
        ];
        for e in rd.flatten() {
            let name = e.file_name();
            if ino.0 == ROOT && name == GRAVEYARD {
                continue;
            }
            let kind = e
                .file_type()
                .ok()
                .and_then(FileType::from_std)
                .unwrap_or(FileType::RegularFile);
            let child_ino = inner
                .by_path
                .get(&path.join(&name))
                .copied()
                .unwrap_or_else(|| std::os::unix::fs::DirEntryExt::ino(&e).max(1));
            entries.push((child_ino, kind, name));
        }
        for (i, (child, kind, name)) in entries.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, &name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut inner = self.lock();
        let r = (|| {
            let path = inner.path(ino)?;
            File::open(&path)
                .and_then(|d| d.sync_all())
                .map_err(errno)?;
            let key = dir_key(&path).map_err(errno)?;
            inner.ns.sync_dir(key);
            Ok(())
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let backing = self.lock().backing.clone();
        let r = (|| {
            let c = crate::cpath(&backing)?;
            // SAFETY: an all-zero statvfs is a valid out-parameter.
            let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
            // SAFETY: valid path and a valid out-pointer.
            os(unsafe { libc::statvfs(c.as_ptr(), &mut st) })?;
            Ok::<_, io::Error>(st)
        })();
        match r {
            Ok(st) => reply.statfs(
                st.f_blocks,
                st.f_bfree,
                st.f_bavail,
                st.f_files,
                st.f_ffree,
                st.f_bsize as u32,
                st.f_namemax as u32,
                st.f_frsize as u32,
            ),
            Err(e) => reply.error(errno(e)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let mut inner = self.lock();
        let r = (|| -> io::Result<()> {
            let h = inner
                .handles
                .get(&fh.0)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
            let (file, key) = (h.file.clone(), h.key);
            let path = inner.node_path_or_empty(ino.0);
            let t = inner.track(key, &file, path)?;
            t.state.before_write(&&*t.file, offset, length)?;
            // SAFETY: a valid open descriptor and plain integers.
            os(unsafe {
                libc::fallocate(
                    file.as_raw_fd(),
                    mode,
                    offset as libc::off_t,
                    length as libc::off_t,
                )
            })
        })();
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(e)),
        }
    }

    // Extended attributes are not supported: ENOSYS tells the kernel once,
    // and it stops asking (the default methods say so in a warning per call).
    fn getxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _size: u32,
        reply: ReplyXattr,
    ) {
        reply.error(Errno::ENOSYS);
    }

    fn listxattr(&self, _req: &Request, _ino: INodeNo, _size: u32, reply: ReplyXattr) {
        reply.error(Errno::ENOSYS);
    }

    // Regular files are always ready: ENOSYS makes the kernel answer polls
    // (Go's runtime polls every file it opens) itself from then on.
    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        reply.error(Errno::ENOSYS);
    }
}

fn fusermount_on_path() -> bool {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .any(|d| d.join("fusermount3").exists() || d.join("fusermount").exists())
        })
        .unwrap_or(false)
}

pub(crate) fn mount(d: &DiskFs, mountpoint: &Path) -> Result<MountHandle, Error> {
    if let Err(source) = fs::metadata(mountpoint) {
        return Err(Error::Mount {
            mountpoint: mountpoint.to_path_buf(),
            source,
        });
    }
    if let Err(source) = OpenOptions::new().read(true).write(true).open("/dev/fuse") {
        return Err(Error::DevFuse { source });
    }
    let allow_other = {
        let mut inner = d.lock();
        inner.reset_inodes();
        inner.allow_other
    };
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::FSName("faultline-diskfs".into()),
        MountOption::Subtype("faultline".into()),
        MountOption::DefaultPermissions,
    ];
    if allow_other {
        config.acl = fuser::SessionACL::All;
    }
    let fs = Fs {
        inner: d.inner.clone(),
    };
    let session = fuser::spawn_mount(fs, mountpoint, &config).map_err(|source| {
        let eperm = source.raw_os_error() == Some(libc::EPERM)
            || source.kind() == io::ErrorKind::PermissionDenied
            // mount(2) said EPERM and fuser fell back to a fusermount that is not installed.
            || (source.kind() == io::ErrorKind::NotFound && !fusermount_on_path());
        if eperm {
            Error::MountNotPermitted {
                mountpoint: mountpoint.to_path_buf(),
                source,
            }
        } else {
            Error::Mount {
                mountpoint: mountpoint.to_path_buf(),
                source,
            }
        }
    })?;
    d.lock().notifier = Some(session.notifier());
    tracing::info!(backing = %d.backing.display(), mountpoint = %mountpoint.display(), "mounted");
    Ok(MountHandle {
        session: Some(session),
        fs: d.clone(),
        mountpoint: mountpoint.to_path_buf(),
    })
}
