//! Systems under test: what runs as a node and how clients talk to it.
//!
//! A [`System`] says how to start node i of a cluster (program, arguments,
//! data directory, addresses from its [`NodeSpec`]), how to ask a node for
//! its status (readiness and who leads), and how to perform a workload
//! operation against it with the right `ok` / `fail` / `info` meaning.
//! Workloads speak faultline-node's HTTP API ([`faultline_workloads::Request`]);
//! a system with another API translates. Adding a system is one file here
//! plus one line in [`build`] and [`SYSTEMS`].
//!
//! - [`faultline_node`]: the node shipped with faultline;
//! - [`etcd`]: etcd through its v3 JSON gateway;
//! - [`http`]: any program speaking faultline-node's HTTP API (`--node-cmd`).

pub mod etcd;
pub mod faultline_node;
pub mod http;

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use faultline_workloads::{Op, Reply, Workload};

use crate::client::NodeStatus;
use crate::cluster::NodeSpec;

/// A boxed future, so that [`System`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The systems `--system` accepts, with one line of help each.
pub const SYSTEMS: [(&str, &str); 3] = [
    (
        faultline_node::NAME,
        "the Raft key-value node shipped with faultline (found next to faultline, or --node-bin)",
    ),
    (
        etcd::NAME,
        "etcd 3.4+ through its v3 JSON gateway (--etcd-bin or PATH; --etcd-serializable-reads)",
    ),
    (
        http::NAME,
        "your own binary speaking faultline-node's HTTP API: --node-cmd 'CMD {id} {peer_addr} {http_addr} {peers} {data_dir}'",
    ),
];

/// How to start one node: a program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
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

/// A system under test.
pub trait System: Send + Sync + Debug {
    /// Its name, as `--system` takes it.
    fn name(&self) -> &'static str;
    /// The program the nodes run, for test.json and messages.
    fn program(&self) -> String;
    /// The command line of node `i` of `nodes`.
    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand;
    /// Asks `node` for its status; None when it does not answer in `timeout`.
    fn status<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>>;
    /// Performs `op` (as `workload` maps it) against the node whose client
    /// API is at `base` (`http://ip:port`).
    fn perform<'a>(
        &'a self,
        http: &'a reqwest::Client,
        base: &'a str,
        workload: &'a dyn Workload,
        op: &'a Op,
    ) -> BoxFuture<'a, Reply>;
}

/// What it takes to build any system (from `faultline run` or `faultline bench`).
#[derive(Debug, Clone, Default)]
pub struct SystemOptions {
    /// The system's name.
    pub name: String,
    /// faultline-node's binary (default: next to faultline).
    pub node_bin: Option<PathBuf>,
    /// Extra arguments for every faultline-node.
    pub node_args: Vec<String>,
    /// etcd's binary (default: `etcd` on PATH).
    pub etcd_bin: Option<PathBuf>,
    /// Whether etcd reads are serializable (served locally, not linearizable).
    pub etcd_serializable_reads: bool,
    /// The `http` system's command template.
    pub node_cmd: Option<String>,
}

/// Why a system could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// No system has that name.
    #[error("unknown system {0:?}; known systems: {known}", known = names().join(", "))]
    Unknown(String),
    /// Its program is missing.
    #[error("{0}")]
    Missing(String),
    /// An option does not fit the system.
    #[error("{0}")]
    BadOption(String),
}

/// The names of every system.
pub fn names() -> Vec<&'static str> {
    SYSTEMS.iter().map(|(n, _)| *n).collect()
}

/// Checks a `--system` value (for clap).
pub fn parse_name(s: &str) -> Result<String, String> {
    match names().into_iter().find(|n| *n == s) {
        Some(n) => Ok(n.to_string()),
        None => Err(SystemError::Unknown(s.to_string()).to_string()),
    }
}

/// Builds the system `opts.name`, finding its program.
pub fn build(opts: &SystemOptions) -> Result<Arc<dyn System>, SystemError> {
    let not_for = |flag: &str, what: &str| {
        SystemError::BadOption(format!(
            "{flag} is for --system {what}, not --system {}",
            opts.name
        ))
    };
    if opts.name != etcd::NAME {
        if opts.etcd_bin.is_some() {
            return Err(not_for("--etcd-bin", etcd::NAME));
        }
        if opts.etcd_serializable_reads {
            return Err(not_for("--etcd-serializable-reads", etcd::NAME));
        }
    }
    if opts.name != http::NAME && opts.node_cmd.is_some() {
        return Err(not_for("--node-cmd", http::NAME));
    }
    match opts.name.as_str() {
        faultline_node::NAME => Ok(Arc::new(faultline_node::FaultlineNode::new(
            faultline_node::find_bin(opts.node_bin.as_deref())?,
            opts.node_args.clone(),
        ))),
        etcd::NAME => {
            if !opts.node_args.is_empty() || opts.node_bin.is_some() {
                return Err(SystemError::BadOption(
                    "--node-bin and --node-arg are for faultline-node; etcd takes --etcd-bin"
                        .into(),
                ));
            }
            Ok(Arc::new(etcd::Etcd::new(
                etcd::find_bin(opts.etcd_bin.as_deref())?,
                opts.etcd_serializable_reads,
            )))
        }
        http::NAME => {
            let Some(cmd) = &opts.node_cmd else {
                return Err(SystemError::BadOption(
                    "--system http needs --node-cmd 'CMD {id} {peer_addr} {http_addr} {peers} {data_dir}'".into(),
                ));
            };
            Ok(Arc::new(http::Http::new(cmd)?))
        }
        other => Err(SystemError::Unknown(other.to_string())),
    }
}

/// The node (index) that leads now: among nodes saying they lead, the one
/// with the highest term. None when no node does.
pub async fn find_leader(
    system: &dyn System,
    http: &reqwest::Client,
    nodes: &[NodeSpec],
) -> Option<usize> {
    let timeout = Duration::from_millis(500);
    let asks = nodes.iter().map(|node| system.status(http, node, timeout));
    let answers = futures_join_all(asks.collect()).await;
    let mut best: Option<(u64, usize)> = None;
    for (i, answer) in answers.into_iter().enumerate() {
        if let Some(s) = answer {
            let better = match best {
                None => true,
                Some((term, _)) => s.term > term,
            };
            if s.role == "leader" && better {
                best = Some((s.term, i));
            }
        }
    }
    best.map(|(_, i)| i)
}

/// Awaits every future concurrently, answers in order.
async fn futures_join_all<T>(futures: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut slots: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    let mut pending: Vec<(usize, BoxFuture<'_, T>)> = futures.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                slots[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    slots.into_iter().flatten().collect()
}

/// `name` on PATH, the way a shell finds it.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
