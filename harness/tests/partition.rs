//! A partition really stops traffic between the two sides, and healing
//! restores it; packet drops hit node-to-node traffic only.
//!
//! This test binary has no libtest harness: it must enter its own network
//! namespace while single-threaded, as `faultline run` does, so every rule
//! it applies lives and dies with it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use faultline::nemesis::partition::Cut;
use faultline_platform::cluster::{
    layout, LocalCluster, NodeCommand, NodeSpec, Platform, HTTP_PORT, PEER_PORT,
};

const TIMEOUT: Duration = Duration::from_millis(700);

fn main() {
    faultline_platform::netns::enter_private().expect("entering a private network namespace");
    let tagged = faultline_platform::netns::can_tag_groups();
    let dir = tempfile::tempdir().unwrap();
    let specs = layout(3, dir.path(), tagged);
    // Echo servers on every node's peer and HTTP ports.
    for s in &specs {
        for port in [PEER_PORT, HTTP_PORT] {
            let listener = TcpListener::bind(SocketAddrV4::new(s.ip, port)).unwrap();
            std::thread::spawn(move || echo(listener));
        }
    }
    let commands = specs
        .iter()
        .map(|_| NodeCommand {
            program: "/bin/true".into(),
            args: vec![],
        })
        .collect();
    let mut cluster = LocalCluster::new(commands, specs.clone(), true);
    run(
        "a partition stops traffic between sides and healing restores it",
        || partition_and_heal(&mut cluster, &specs, tagged),
    );
    run("drops hit the peer port only", || {
        drops_spare_clients(&mut cluster, &specs)
    });
    println!("\ntest result: ok");
}

fn run(name: &str, f: impl FnOnce()) {
    print!("test {name} ... ");
    f();
    println!("ok");
}

fn echo(listener: TcpListener) {
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut conn = conn;
            let mut buf = [0u8; 64];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 || conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
}

/// Connects from `from` (a bound source address) to `to` and echoes a byte.
fn talks(from: Ipv4Addr, to: SocketAddr) -> bool {
    let Ok(socket) = socket_from(from) else {
        return false;
    };
    let Ok(mut conn) = connect(socket, to) else {
        return false;
    };
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut b = [0u8; 1];
    conn.write_all(b"x").is_ok() && conn.read_exact(&mut b).is_ok()
}

fn socket_from(from: Ipv4Addr) -> std::io::Result<std::net::TcpStream> {
    // std cannot bind before connect; use a raw socket.
    // SAFETY: plain socket syscalls on a fresh fd that TcpStream takes over.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(from).to_be(),
            },
            sin_zero: [0; 8],
        };
        if libc::bind(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) != 0
        {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        Ok(<TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd))
    }
}

/// Connects a bound, unconnected socket with a timeout (non-blocking connect + poll).
fn connect(socket: TcpStream, to: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::AsRawFd;
    socket.set_nonblocking(true)?;
    let SocketAddr::V4(v4) = to else {
        unreachable!("only IPv4 here")
    };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: v4.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*v4.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let fd = socket.as_raw_fd();
    // SAFETY: fd is a socket we own; addr outlives the call.
    let rc = unsafe {
        libc::connect(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, TIMEOUT.as_millis() as i32) };
        if n <= 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ));
        }
        if let Some(e) = socket.take_error()? {
            return Err(e);
        }
    }
    socket.set_nonblocking(false)?;
    Ok(socket)
}

/// Connects to `to` from a child process running with group `gid`, without
/// binding a source address (the kernel picks 127.0.0.1): the way a node
/// that does not bind its outgoing sockets talks.
fn talks_as_group(gid: u32, to: SocketAddr) -> bool {
    let code = format!(
        "import socket,sys\ntry:\n s=socket.create_connection(('{}',{}),timeout=0.7); s.sendall(b'x'); s.settimeout(0.7); sys.exit(0 if s.recv(1)==b'x' else 1)\nexcept Exception:\n sys.exit(1)",
        to.ip(),
        to.port()
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &code]);
    // SAFETY: setgid in the child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgid(gid) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

fn partition_and_heal(cluster: &mut LocalCluster, specs: &[NodeSpec], tagged: bool) {
    let (n1, n2, n3) = (specs[0].ip, specs[1].ip, specs[2].ip);
    assert!(
        talks(n1, specs[1].peer_addr),
        "no traffic before the partition"
    );
    // An established connection from n1 to n2, to see it cut as well.
    let mut open = connect(socket_from(n1).unwrap(), specs[1].peer_addr).unwrap();
    open.set_read_timeout(Some(TIMEOUT)).unwrap();

    let cut = Cut::isolate("isolate-one", 3, &[0]);
    cluster.set_partition(Some(&cut)).unwrap();
    assert!(
        !talks(n1, specs[1].peer_addr),
        "n1 still reaches n2's peer port"
    );
    assert!(!talks(n2, specs[0].http_addr), "n2 still reaches n1 at all");
    assert!(!talks(n3, specs[0].peer_addr), "n3 still reaches n1");
    assert!(
        talks(n2, specs[2].peer_addr),
        "the majority side was cut too"
    );
    assert!(
        talks(Ipv4Addr::LOCALHOST, specs[0].http_addr),
        "clients (from 127.0.0.1) must still reach the isolated node"
    );
    let mut b = [0u8; 1];
    open.write_all(b"y").unwrap();
    assert!(
        open.read_exact(&mut b).is_err(),
        "an open connection still carried data"
    );
    if tagged {
        let g1 = specs[0].gid.unwrap();
        let g2 = specs[1].gid.unwrap();
        assert!(
            !talks_as_group(g1, specs[1].peer_addr),
            "n1's process still reaches n2"
        );
        assert!(
            talks_as_group(g2, specs[2].peer_addr),
            "n2's process cannot reach n3"
        );
    }

    cluster.set_partition(None).unwrap();
    assert!(
        talks(n1, specs[1].peer_addr),
        "healing did not restore n1 -> n2"
    );
    assert!(
        talks(n3, specs[0].peer_addr),
        "healing did not restore n3 -> n1"
    );
    if tagged {
        assert!(talks_as_group(specs[0].gid.unwrap(), specs[1].peer_addr));
    }
    // Removing an absent table is fine (heal is idempotent).
    cluster.set_partition(None).unwrap();
}

fn drops_spare_clients(cluster: &mut LocalCluster, specs: &[NodeSpec]) {
    cluster.set_packet_loss(Some(100)).unwrap();
    assert!(
        !talks(specs[0].ip, specs[1].peer_addr),
        "peer traffic was not dropped"
    );
    assert!(
        talks(Ipv4Addr::LOCALHOST, specs[1].http_addr),
        "client traffic was dropped"
    );
    cluster.set_packet_loss(None).unwrap();
    assert!(talks(specs[0].ip, specs[1].peer_addr), "drops did not stop");
}
