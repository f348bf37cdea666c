//! The layer really mounted: power loss keeps only what was synced.
//!
//! This test binary has no libtest harness: it enters a user namespace with
//! its own mount namespace while still single-threaded (as an unprivileged
//! user would have to), then mounts over temporary directories. Where user
//! namespaces are not available (unshare says EPERM or ENOSPC) it says why
//! and skips; any other failure fails.
//!
//! `cargo test --release -p faultline-diskfs --test mount -- --bench` also
//! times appends + fdatasync through the mount against the backing
//! directory and prints the ratio.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::Instant;

use faultline_diskfs::{DiskFs, MetadataMode, NamespaceOp, Options, PowerLossOptions};

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    match enter_namespaces() {
        Ok(()) => {}
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::ENOSPC)) => {
            println!("skipping: cannot make a user + mount namespace here: {e}");
            return;
        }
        Err(e) => panic!("entering a user + mount namespace: {e}"),
    }
    run(
        "synced append survives a power loss, un-synced one is lost",
        power_loss_keeps_synced,
    );
    run("a kill alone loses nothing", kill_loses_nothing);
    run(
        "an overwrite in place goes back to the synced bytes",
        overwrite_in_place,
    );
    run(
        "a torn write keeps a strict prefix, same seed same tear",
        torn_write,
    );
    run("O_DSYNC writes are durable", dsync_writes);
    run("mmap: msync'd bytes survive, others are lost", mmap_msync);
    run(
        "posix: a rename survives only with its directory fsynced",
        posix_rename,
    );
    run("lazyfs: an un-synced rename survives", lazyfs_rename);
    if bench {
        benchmark();
    }
    println!("\ntest result: ok");
}

fn run(name: &str, f: impl FnOnce()) {
    print!("test {name} ... ");
    io::stdout().flush().ok();
    f();
    println!("ok");
}

fn write_proc(path: &str, s: &str) -> io::Result<()> {
    fs::write(path, s)
}

/// unshare(CLONE_NEWUSER | CLONE_NEWNS), map ourselves to root, make `/`
/// recursively private.
fn enter_namespaces() -> io::Result<()> {
    // SAFETY: plain syscalls without pointers.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: unshare takes only flags; the process is single-threaded here.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        return Err(io::Error::last_os_error());
    }
    match write_proc("/proc/self/setgroups", "deny") {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    write_proc("/proc/self/uid_map", &format!("0 {uid} 1"))?;
    write_proc("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    // SAFETY: NULL source/type/data are allowed for a propagation change.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A backing dir and a mountpoint in a fresh temporary directory.
fn dirs() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let backing = t.path().join("backing");
    let mnt = t.path().join("mnt");
    fs::create_dir(&backing).unwrap();
    fs::create_dir(&mnt).unwrap();
    (t, backing, mnt)
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

fn power_loss_keeps_synced() {
    let (_t, backing, mnt) = dirs();
    let m = faultline_diskfs::mount(&backing, &mnt, Options::default()).unwrap();
    let wal = mnt.join("wal");
    let mut f = append(&wal);
    f.write_all(b"rec1").unwrap();
    f.sync_data().unwrap();
    f.write_all(b"rec2").unwrap();
    drop(f);
    assert_eq!(fs::read(&wal).unwrap(), b"rec1rec2");
    let report = m.power_loss(PowerLossOptions::default());
    assert_eq!(fs::read(&wal).unwrap(), b"rec1");
    assert_eq!(fs::read(backing.join("wal")).unwrap(), b"rec1");
    assert_eq!(report.files.len(), 1, "{report:?}");
    let loss = &report.files[0];
    assert_eq!(loss.path, Path::new("wal"));
    assert_eq!(
        (loss.size_before, loss.durable_size, loss.size_after),
        (8, 4, 4)
    );
    // Appending again after the power loss works from the durable end.
    let mut f = append(&wal);
    f.write_all(b"rec3").unwrap();
    f.sync_data().unwrap();
    assert_eq!(fs::read(&wal).unwrap(), b"rec1rec3");
    drop(f);
    // An un-synced file that is deleted leaves no state behind.
    fs::write(mnt.join("tmp"), b"scratch").unwrap();
    assert_eq!(m.fs().dirty().0, 1);
    fs::remove_file(mnt.join("tmp")).unwrap();
    assert_eq!(m.fs().dirty(), (0, 0));
    m.unmount().unwrap();
}

fn kill_loses_nothing() {
    let (_t, backing, mnt) = dirs();
    let d = DiskFs::new(&backing, Options::default()).unwrap();
    let m = d.mount(&mnt).unwrap();
    let wal = mnt.join("wal");
    let mut f = append(&wal);
    f.write_all(b"rec1").unwrap();
    f.sync_data().unwrap();
    f.write_all(b"rec2").unwrap();
    drop(f);
    m.unmount().unwrap();
    let m = d.mount(&mnt).unwrap();
    assert_eq!(fs::read(&wal).unwrap(), b"rec1rec2");
    drop(m);
    assert!(!mnt.join("wal").exists(), "dropping the handle unmounts");
}

fn overwrite_in_place() {
    let (_t, backing, mnt) = dirs();
    let m = faultline_diskfs::mount(&backing, &mnt, Options::default()).unwrap();
    let p = mnt.join("data");
    let f = File::create(&p).unwrap();
    f.write_all_at(b"aaaaaaaa", 0).unwrap();
    f.sync_all().unwrap();
    f.write_all_at(b"XYZ", 2).unwrap();
    f.write_all_at(b"tail", 8).unwrap();
    drop(f);
    assert_eq!(fs::read(&p).unwrap(), b"aaXYZaaatail");
    let report = m.power_loss(PowerLossOptions::default());
    assert_eq!(fs::read(&p).unwrap(), b"aaaaaaaa");
    assert_eq!(report.files[0].restored.len(), 1);
    assert_eq!(m.fs().dirty(), (0, 0));
}

fn torn_write() {
    let (_t, backing, mnt) = dirs();
    let d = DiskFs::new(&backing, Options::default()).unwrap();
    let m = d.mount(&mnt).unwrap();
    let p = mnt.join("wal");
    let opts = PowerLossOptions {
        seed: 3,
        tear: true,
        survival: 0.0,
        sector: 1,
    };
    let mut tears = Vec::new();
    for _ in 0..2 {
        let mut f = append(&p);
        f.write_all(b"rec1").unwrap();
        f.sync_data().unwrap();
        f.write_all(b"a-long-second-record").unwrap();
        drop(f);
        let report = m.power_loss(opts);
        let torn = report.files[0].torn.expect("a torn write");
        let data = fs::read(&p).unwrap();
        assert_eq!(data.len() as u64, 4 + torn.kept);
        assert_eq!(&data[4..], &b"a-long-second-record"[..torn.kept as usize]);
        tears.push(torn);
        fs::remove_file(&p).unwrap();
    }
    assert_eq!(tears[0], tears[1]);
}

fn dsync_writes() {
    let (_t, backing, mnt) = dirs();
    let m = faultline_diskfs::mount(&backing, &mnt, Options::default()).unwrap();
    let p = mnt.join("log");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_DSYNC)
        .open(&p)
        .unwrap();
    f.write_all(b"one").unwrap();
    f.write_all(b"two").unwrap();
    drop(f);
    m.power_loss(PowerLossOptions::default());
    assert_eq!(fs::read(&p).unwrap(), b"onetwo");
}

fn mmap_msync() {
    let (_t, backing, mnt) = dirs();
    let m = faultline_diskfs::mount(&backing, &mnt, Options::default()).unwrap();
    let p = mnt.join("db");
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    f.set_len(4096).unwrap();
    f.sync_all().unwrap();
    // SAFETY: a fresh shared mapping of a 4096-byte file, unmapped below.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED, "{}", io::Error::last_os_error());
    // SAFETY: the mapping is 4096 bytes long and writable.
    let bytes = unsafe { std::slice::from_raw_parts_mut(map as *mut u8, 4096) };
    bytes[..4].copy_from_slice(b"sync");
    // SAFETY: `map` is a live mapping of 4096 bytes.
    assert_eq!(unsafe { libc::msync(map, 4096, libc::MS_SYNC) }, 0);
    bytes[100..104].copy_from_slice(b"lost");
    // SAFETY: unmapping the mapping made above; `bytes` is not used after.
    assert_eq!(unsafe { libc::munmap(map, 4096) }, 0);
    drop(f);
    let before = fs::read(&p).unwrap();
    assert_eq!(
        &before[100..104],
        b"lost",
        "the dirty page was written back on close"
    );
    m.power_loss(PowerLossOptions::default());
    let after = fs::read(&p).unwrap();
    assert_eq!(after.len(), 4096);
    assert_eq!(&after[..4], b"sync");
    assert_eq!(&after[100..104], b"\0\0\0\0");
}

/// Writes `name.tmp`, fsyncs it, renames it to `name`; fsyncs the
/// directory when `sync_dir`.
fn replace(mnt: &Path, name: &str, data: &[u8], sync_dir: bool) {
    let tmp = mnt.join(format!("{name}.tmp"));
    let f = File::create(&tmp).unwrap();
    f.write_all_at(data, 0).unwrap();
    f.sync_all().unwrap();
    drop(f);
    fs::rename(&tmp, mnt.join(name)).unwrap();
    if sync_dir {
        File::open(mnt).unwrap().sync_all().unwrap();
    }
}

fn posix_rename() {
    let (_t, backing, mnt) = dirs();
    let opts = Options {
        metadata: MetadataMode::Posix,
        ..Options::default()
    };
    let d = DiskFs::new(&backing, opts).unwrap();
    let m = d.mount(&mnt).unwrap();
    replace(&mnt, "current", b"synced", true);
    let f = File::create(mnt.join("gone")).unwrap();
    f.write_all_at(b"x", 0).unwrap();
    f.sync_all().unwrap();
    drop(f);
    File::open(&mnt).unwrap().sync_all().unwrap();
    replace(&mnt, "other", b"not-synced", false);
    fs::remove_file(mnt.join("gone")).unwrap();
    assert!(!mnt.join("gone").exists());
    // The harness's order: node killed, unmount, power loss, mount.
    m.unmount().unwrap();
    let report = d.power_loss(PowerLossOptions::default());
    let m = d.mount(&mnt).unwrap();
    assert_eq!(fs::read(mnt.join("current")).unwrap(), b"synced");
    assert!(!mnt.join("other").exists());
    assert!(!mnt.join("other.tmp").exists());
    assert_eq!(
        fs::read(mnt.join("gone")).unwrap(),
        b"x",
        "the unlink is undone"
    );
    let ops: Vec<&NamespaceOp> = report.namespace.iter().map(|u| &u.op).collect();
    assert_eq!(ops.len(), 3, "{ops:?}");
    assert!(matches!(ops[0], NamespaceOp::Unlink { .. }));
    assert!(matches!(ops[1], NamespaceOp::Rename { .. }));
    assert!(matches!(ops[2], NamespaceOp::Create { .. }));
    let names: Vec<_> = fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names.iter().any(|n| n == faultline_diskfs::GRAVEYARD),
        "the graveyard is hidden: {names:?}"
    );
    // A power loss while mounted: the kernel's cached names are dropped too.
    fs::write(mnt.join("fresh"), b"y").unwrap();
    assert!(mnt.join("fresh").exists());
    let report = m.power_loss(PowerLossOptions::default());
    assert_eq!(report.namespace.len(), 1, "{report:?}");
    assert!(!mnt.join("fresh").exists());
    drop(m);
}

fn lazyfs_rename() {
    let (_t, backing, mnt) = dirs();
    let d = DiskFs::new(&backing, Options::default()).unwrap();
    let m = d.mount(&mnt).unwrap();
    replace(&mnt, "other", b"not-synced-dir", false);
    m.unmount().unwrap();
    let report = d.power_loss(PowerLossOptions::default());
    assert!(report.is_empty(), "{report:?}");
    let _m = d.mount(&mnt).unwrap();
    assert_eq!(fs::read(mnt.join("other")).unwrap(), b"not-synced-dir");
}

fn time_appends(dir: &Path, n: usize) -> f64 {
    let p = dir.join("bench-wal");
    let mut f = append(&p);
    let rec = [7u8; 128];
    let start = Instant::now();
    for _ in 0..n {
        f.write_all(&rec).unwrap();
        f.sync_data().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    drop(f);
    fs::remove_file(&p).unwrap();
    secs
}

fn benchmark() {
    let (_t, backing, mnt) = dirs();
    let m = faultline_diskfs::mount(&backing, &mnt, Options::default()).unwrap();
    let n = 2000;
    time_appends(&backing, 200);
    time_appends(&mnt, 200);
    let mut direct = Vec::new();
    let mut fused = Vec::new();
    for _ in 0..3 {
        direct.push(time_appends(&backing, n));
        fused.push(time_appends(&mnt, n));
    }
    direct.sort_by(f64::total_cmp);
    fused.sort_by(f64::total_cmp);
    let (d, f) = (direct[1], fused[1]);
    println!(
        "bench: {n} appends of 128 B + fdatasync (median of 3): direct {:.1} µs/op, through the mount {:.1} µs/op, ratio {:.2}",
        d * 1e6 / n as f64,
        f * 1e6 / n as f64,
        f / d
    );
    drop(m);
}
