//! The FUSE side: [`Fs`], the `fuser` file system over the shared
//! [`state::Inner`]; `mount` (in [`mount`]) serves it at a mount point.

mod mount;
mod state;

pub(crate) use mount::mount;
pub(crate) use state::Inner;
use state::*;

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty,
    ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use crate::namespace::{dir_key, GRAVEYARD};

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
