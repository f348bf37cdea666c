//! The private network namespace a run happens in.
//!
//! `faultline run` calls [`enter_private`] first thing, while the process is
//! still single-threaded (before the async runtime, the progress bar or the
//! history writer start a thread). From then on the harness, every node it
//! starts and every `nft` it runs live in a network namespace of their own:
//! its `lo` holds the whole of 127.0.0.0/8, each node gets its own address
//! there (127.0.0.11, 127.0.0.12, ...), and packet-filter rules never touch
//! the host. The namespace dies with the last process in it, so its rules go
//! with it whatever way the run ends.
//!
//! The run also gets a mount namespace of its own, with every mount made
//! private: the disk-fault layer's FUSE mounts over the nodes' data
//! directories exist only there, are invisible to the host, and vanish with
//! the namespace, so no run, not even a harness killed by SIGKILL, can leave
//! a mount behind.
//!
//! As root only network and mount namespaces are made; otherwise a user
//! namespace too (mapping the caller to root inside it), which works
//! wherever unprivileged user namespaces are allowed.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

use clap::ValueEnum;
use serde::Serialize;

/// Where a run's network lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetMode {
    /// A private user + network namespace made for the run (partitions and
    /// packet drops available).
    Private,
    /// The host's own network: no namespace; partitions and drops are not
    /// available (no rule may touch the host's packet filter).
    Host,
}

/// Why the private namespace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The process already runs several threads (unshare of a user namespace
    /// needs a single-threaded process).
    #[error("the private network namespace must be made before any thread starts ({threads} threads are running)")]
    Threaded {
        /// Threads counted in /proc/self/status.
        threads: usize,
    },
    /// unshare(2) refused: no user namespaces and not root.
    #[error("cannot make a private network namespace: {cause}\n  {fix}")]
    Refused {
        /// The refusal, with what caused it when known.
        cause: String,
        /// How to make it work.
        fix: String,
    },
    /// Setting up the namespace failed after it was made.
    #[error("setting up the private network namespace: {what}: {source}")]
    Setup {
        /// The step that failed.
        what: &'static str,
        /// Why the OS refused.
        source: io::Error,
    },
}

/// Moves this process into fresh network and mount namespaces (and a user
/// namespace when not root), makes every mount private and brings the
/// loopback interface up.
///
/// Must be called while the process is single-threaded.
pub fn enter_private() -> Result<(), NetnsError> {
    enter(libc::CLONE_NEWNET)?;
    finish_setup()
}

/// Moves this process into a mount namespace of its own only (the host's
/// network stays): what `--net host` runs with disk faults need for their
/// mounts. Must be called while the process is single-threaded.
pub fn enter_private_mounts() -> Result<(), NetnsError> {
    enter(0)
}

/// unshare(2) of a mount namespace plus `extra`, with a user namespace
/// when not root; then every mount is made private.
fn enter(extra: libc::c_int) -> Result<(), NetnsError> {
    let threads = thread_count();
    if threads > 1 {
        return Err(NetnsError::Threaded { threads });
    }
    // SAFETY: plain syscalls without pointers.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut root_error = None;
    if euid == 0 {
        // SAFETY: unshare takes only flags.
        if unsafe { libc::unshare(extra | libc::CLONE_NEWNS) } == 0 {
            return make_mounts_private();
        }
        root_error = Some(io::Error::last_os_error());
    }
    // SAFETY: unshare takes only flags.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | extra | libc::CLONE_NEWNS) } != 0 {
        let err = io::Error::last_os_error();
        return Err(explain_refusal(euid, &err, root_error.as_ref()));
    }
    write_proc("/proc/self/setgroups", "deny")
        .or_else(|e| {
            // Kernels before 3.19 have no setgroups file.
            if e.kind() == io::ErrorKind::NotFound {
                Ok(())
            } else {
                Err(e)
            }
        })
        .map_err(|source| NetnsError::Setup {
            what: "writing /proc/self/setgroups",
            source,
        })?;
    write_proc("/proc/self/uid_map", &format!("0 {euid} 1")).map_err(|source| {
        NetnsError::Setup {
            what: "writing /proc/self/uid_map",
            source,
        }
    })?;
    write_proc("/proc/self/gid_map", &format!("0 {egid} 1")).map_err(|source| {
        NetnsError::Setup {
            what: "writing /proc/self/gid_map",
            source,
        }
    })?;
    make_mounts_private()
}

/// `mount --make-rprivate /`: mounts made from now on stay in this
/// namespace, and the host's do not reach in.
fn make_mounts_private() -> Result<(), NetnsError> {
    // SAFETY: a static NUL-terminated path and null pointers mount(2) accepts.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(NetnsError::Setup {
            what: "making mounts private (mount --make-rprivate /)",
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Whether this process can give each node its own group id (so packet
/// rules can also match the sending process): true for root in the
/// initial user namespace, i.e. when only a network namespace was made.
pub fn can_tag_groups() -> bool {
    // SAFETY: plain syscall.
    let euid = unsafe { libc::geteuid() };
    euid == 0
        && std::fs::read_to_string("/proc/self/uid_map")
            .map(|m| m.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .unwrap_or(false)
}

/// Established TCP connections in this network namespace whose remote end
/// is `port` on a node address (127.0.0.11 and up) and whose local end is
/// 127.0.0.1: a node that does not bind its outgoing peer sockets to its
/// own address, so packet rules cannot tell which node sent them.
pub fn unbound_peer_connections(port: u16) -> usize {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return 0;
    };
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[3] != "01" {
                return false;
            }
            let local = parse_proc_addr(f[1]);
            let remote = parse_proc_addr(f[2]);
            matches!((local, remote), (Some((l, _)), Some((r, p)))
                if l == Ipv4Addr::LOCALHOST && p == port && r.octets()[3] >= 11 && r.octets()[0] == 127)
        })
        .count()
}

/// `0100007F:1F41` (little-endian address, hex port) from /proc/net/tcp.
fn parse_proc_addr(s: &str) -> Option<(Ipv4Addr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let addr = u32::from_str_radix(addr, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    // The kernel prints the network-order word as a native integer.
    Some((Ipv4Addr::from(addr.to_ne_bytes()), port))
}

fn finish_setup() -> Result<(), NetnsError> {
    loopback_up().map_err(|source| NetnsError::Setup {
        what: "bringing lo up",
        source,
    })?;
    // The whole 127/8 range must now be ours: prove it on a node address.
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 11), 0))
        .map(drop)
        .map_err(|source| NetnsError::Setup {
            what: "binding 127.0.0.11 inside the namespace",
            source,
        })
}

fn write_proc(path: &str, text: &str) -> io::Result<()> {
    std::fs::write(path, text)
}

fn thread_count() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(1)
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Names the cause of a refused unshare and the fix.
fn explain_refusal(euid: u32, err: &io::Error, as_root: Option<&io::Error>) -> NetnsError {
    let apparmor = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    let debian = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
    let max = read_sysctl("/proc/sys/user/max_user_namespaces");
    let host = "or pass --net host to run without a namespace (no partition, no drop faults)";
    let (cause, fix) = if euid != 0 && apparmor.as_deref() == Some("1") {
        (
            format!("unshare(CLONE_NEWUSER) failed ({err}): kernel.apparmor_restrict_unprivileged_userns=1 forbids unprivileged user namespaces (the default on Ubuntu 24.04)"),
            format!("allow them with `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`, or run faultline as root, {host}"),
        )
    } else if euid != 0 && debian.as_deref() == Some("0") {
        (
            format!("unshare(CLONE_NEWUSER) failed ({err}): kernel.unprivileged_userns_clone=0 forbids unprivileged user namespaces"),
            format!("allow them with `sudo sysctl -w kernel.unprivileged_userns_clone=1`, or run faultline as root, {host}"),
        )
    } else if max.as_deref() == Some("0") {
        (
            format!("unshare(CLONE_NEWUSER) failed ({err}): user.max_user_namespaces=0"),
            format!("raise it with `sudo sysctl -w user.max_user_namespaces=15000`, or run faultline as root, {host}"),
        )
    } else if let Some(root_err) = as_root {
        (
            format!("unshare(CLONE_NEWNET | CLONE_NEWNS) as root failed ({root_err}), and so did a user namespace ({err}); a container without CAP_SYS_ADMIN or a seccomp profile forbidding unshare does this"),
            format!("run the container with --cap-add SYS_ADMIN (or --privileged), {host}"),
        )
    } else {
        (
            format!("unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) failed ({err})"),
            format!("run faultline as root, or allow unprivileged user namespaces, {host}"),
        )
    };
    NetnsError::Refused { cause, fix }
}

/// Sets IFF_UP on `lo` with the classic ioctl pair.
fn loopback_up() -> io::Result<()> {
    // SAFETY: a plain socket; the fd is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let result = (|| {
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        // SAFETY: fd is a socket, req a valid ifreq for SIOCGIFFLAGS.
        if unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        // SAFETY: as above, for SIOCSIFFLAGS.
        if unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    })();
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_apparmor_cause_only_when_it_applies() {
        let err = io::Error::from_raw_os_error(libc::EPERM);
        let msg = explain_refusal(1000, &err, None).to_string();
        let apparmor = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
        if apparmor.as_deref() == Some("1") {
            assert!(
                msg.contains("apparmor_restrict_unprivileged_userns=0"),
                "{msg}"
            );
        } else {
            assert!(!msg.contains("apparmor"), "{msg}");
        }
        assert!(msg.contains("--net host"), "{msg}");
    }

    #[test]
    fn proc_net_addresses_parse() {
        assert_eq!(
            parse_proc_addr("0B00007F:1B59"),
            Some((Ipv4Addr::new(127, 0, 0, 11), 7001))
        );
    }

    #[test]
    fn entering_from_a_threaded_process_is_refused_with_the_reason() {
        // The test harness runs tests on threads, so this process is threaded.
        let keep = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        let err = enter_private().unwrap_err();
        assert!(matches!(err, NetnsError::Threaded { .. }), "{err}");
        keep.join().unwrap();
    }
}
