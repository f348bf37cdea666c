//! The layout of a cluster's nodes (names, addresses, ports, data and log
//! files, process groups) and the command that starts one: what every
//! platform, system and fault agrees on about a node.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The port every node's peer transport listens on (on its own address).
pub const PEER_PORT: u16 = 7001;
/// The port every node's HTTP API listens on (on its own address).
pub const HTTP_PORT: u16 = 8001;
/// Group ids given to nodes when the harness may (root in the host's user
/// namespace): node i runs with group `GID_BASE + i`.
pub const GID_BASE: u32 = 61_000;

/// Where one node lives.
#[derive(Debug, Clone, Serialize)]
pub struct NodeSpec {
    /// Its name: n1, n2, ...
    pub name: String,
    /// Its own loopback address (127.0.0.11 for n1, ...).
    pub ip: Ipv4Addr,
    /// Where the node listens for its peers (ip:PEER_PORT); partition rules match its ip.
    pub peer_addr: SocketAddr,
    /// Where the node serves clients (ip:HTTP_PORT); clients reach it from 127.0.0.1.
    pub http_addr: SocketAddr,
    /// The node's data directory under the run folder; it survives kills and restarts.
    pub data_dir: PathBuf,
    /// Where the node's files really live when the disk-fault layer is
    /// mounted over `data_dir` (see [`crate::disk`]); None without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backing_dir: Option<PathBuf>,
    /// Where its stdout and stderr go.
    pub log_path: PathBuf,
    /// The group id it runs with, so that packet rules can match the
    /// sending process; None when the harness cannot change groups.
    pub gid: Option<u32>,
}

/// The folder of a run under which each node's data directory lives
/// (`RUN/data/n1/`, ...): what a node wrote, as opposed to its log.
pub const DATA_DIR: &str = "data";

/// The nodes of an `n`-node cluster whose files live under `dir`
/// (`dir/nodes/n1.log`, `dir/data/n1/`, ...).
pub fn layout(n: usize, dir: &Path, tag_groups: bool) -> Vec<NodeSpec> {
    (0..n)
        .map(|i| {
            let name = format!("n{}", i + 1);
            let ip = node_ip(i);
            NodeSpec {
                peer_addr: SocketAddr::V4(SocketAddrV4::new(ip, PEER_PORT)),
                http_addr: SocketAddr::V4(SocketAddrV4::new(ip, HTTP_PORT)),
                data_dir: dir.join(DATA_DIR).join(&name),
                backing_dir: None,
                log_path: dir.join("nodes").join(format!("{name}.log")),
                gid: tag_groups.then_some(GID_BASE + i as u32 + 1),
                name,
                ip,
            }
        })
        .collect()
}

/// The loopback address of node `i` (0-based): 127.0.0.11 and up.
pub fn node_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 11 + i as u8)
}

/// How to start one node: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCommand {
    /// The program, as found (absolute where it could be resolved).
    pub program: PathBuf,
    /// Its arguments, placeholders filled in.
    pub args: Vec<String>,
}

impl NodeCommand {
    /// The program and its arguments, as one list (for test.json).
    pub fn to_vec(&self) -> Vec<String> {
        let mut v = vec![self.program.display().to_string()];
        v.extend(self.args.iter().cloned());
        v
    }
}
