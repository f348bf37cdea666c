//! Systems under test: what runs as a node and how clients talk to it.
//!
//! A [`System`] says how to start node i of a cluster (program, arguments,
//! data directory, addresses from its [`NodeSpec`]), how to ask a node for
//! its status (readiness, who leads, its log indexes when it knows them),
//! how to arm a failpoint, and how to open a [`SystemClient`] bound to one
//! node. The system owns its protocol: its client turns each typed
//! [`Op`] into the system's own request and the answer into a [`Reply`]
//! with Jepsen's meaning (`ok`; `fail` only when the operation certainly did
//! not take effect; `info` when unsure). Workloads know no protocol.
//! Adding a system is one file here (the [`System`] and, for its clients,
//! [`SystemClient`] implementations, and a `SYSTEM` [`Registered`] entry)
//! plus one line in [`SYSTEMS`].
//!
//! - [`faultline_node`]: the node shipped with faultline (and its HTTP API);
//! - [`etcd`]: etcd through its v3 JSON gateway;
//! - [`http`]: any program speaking faultline-node's HTTP API (`--node-cmd`);
//! - [`exec`]: any program, through a client program of yours speaking
//!   JSON lines (`--node-cmd` and `--client-cmd`);
//! - [`nats`]: NATS JetStream (a key-value bucket and a stream);
//! - [`maelstrom`]: any Maelstrom node, run through [`crate::maelstrom`].

pub mod etcd;
pub mod exec;
pub mod faultline_node;
pub mod http;
pub mod maelstrom;
pub mod nats;

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use faultline_workloads::{Op, Reply};
use serde::{Deserialize, Serialize};

use crate::cluster::NodeSpec;

/// A boxed future, so that [`System`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Every system `--system` accepts, in the order `faultline list` shows
/// them. Registering a system is one line here.
pub const SYSTEMS: [Registered; 6] = [
    faultline_node::SYSTEM,
    etcd::SYSTEM,
    http::SYSTEM,
    exec::SYSTEM,
    nats::SYSTEM,
    maelstrom::SYSTEM,
];

/// A system's entry in [`SYSTEMS`]: its name, its help line, the flags it
/// takes and how to build it.
#[derive(Clone, Copy)]
pub struct Registered {
    /// The name `--system` takes.
    pub name: &'static str,
    /// One line for `faultline list`.
    pub help: &'static str,
    /// The system-specific flags it accepts; any other given is refused.
    pub flags: &'static [Flag],
    /// Its files on disk and what it claims to survive.
    pub disk: DiskProfile,
    /// Builds the system from the options (finding its program).
    pub build: fn(&SystemOptions) -> Result<Arc<dyn System>, SystemError>,
}

/// What a system keeps on disk and what it claims to survive: the files
/// `corrupt` damages by default, and the claims `faultline list` shows.
#[derive(Debug, Clone, Copy)]
pub struct DiskProfile {
    /// Globs of its data files, relative to a node's data directory.
    pub data_files: &'static [&'static str],
    /// What it claims about a power loss (what was not fsynced is lost).
    pub power_loss: &'static str,
    /// What it claims about a damaged data file.
    pub corruption: &'static str,
}

/// The profile of a system faultline knows nothing about: every file is
/// data, and the claims are the system's own.
pub const UNKNOWN_DISK: DiskProfile = DiskProfile {
    data_files: &["**"],
    power_loss: "whatever your system claims (the test says whether it holds)",
    corruption: "whatever your system claims: refuse to start, or recover from the others; never serve wrong data",
};

/// The disk profile of the system named `name` ([`UNKNOWN_DISK`] for a
/// name not registered).
pub fn disk_profile(name: &str) -> DiskProfile {
    SYSTEMS
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.disk)
        .unwrap_or(UNKNOWN_DISK)
}

/// A flag of [`SystemArgs`] that only some systems take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `--node-bin`.
    NodeBin,
    /// `--node-arg`.
    NodeArg,
    /// `--etcd-bin`.
    EtcdBin,
    /// `--etcd-serializable-reads`.
    EtcdSerializableReads,
    /// `--node-cmd`.
    NodeCmd,
    /// `--client-cmd`.
    ClientCmd,
    /// `--nats-bin`.
    NatsBin,
    /// `--nats-sync-interval`.
    NatsSyncInterval,
    /// `--nats-read`.
    NatsRead,
}

impl Flag {
    /// Every system-specific flag, the order errors check them in.
    pub const ALL: [Flag; 9] = [
        Flag::NodeBin,
        Flag::NodeArg,
        Flag::EtcdBin,
        Flag::EtcdSerializableReads,
        Flag::NodeCmd,
        Flag::ClientCmd,
        Flag::NatsBin,
        Flag::NatsSyncInterval,
        Flag::NatsRead,
    ];

    /// The flag as typed on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Flag::NodeBin => "--node-bin",
            Flag::NodeArg => "--node-arg",
            Flag::EtcdBin => "--etcd-bin",
            Flag::EtcdSerializableReads => "--etcd-serializable-reads",
            Flag::NodeCmd => "--node-cmd",
            Flag::ClientCmd => "--client-cmd",
            Flag::NatsBin => "--nats-bin",
            Flag::NatsSyncInterval => "--nats-sync-interval",
            Flag::NatsRead => "--nats-read",
        }
    }

    /// Whether `o` sets the flag.
    pub fn given(self, o: &SystemOptions) -> bool {
        match self {
            Flag::NodeBin => o.node_bin.is_some(),
            Flag::NodeArg => !o.node_args.is_empty(),
            Flag::EtcdBin => o.etcd_bin.is_some(),
            Flag::EtcdSerializableReads => o.etcd_serializable_reads,
            Flag::NodeCmd => o.node_cmd.is_some(),
            Flag::ClientCmd => o.client_cmd.is_some(),
            Flag::NatsBin => o.nats_bin.is_some(),
            Flag::NatsSyncInterval => o.nats_sync_interval.is_some(),
            Flag::NatsRead => o.nats_read.is_some(),
        }
    }

    /// Unsets the flag in `o`.
    pub fn clear(self, o: &mut SystemOptions) {
        match self {
            Flag::NodeBin => o.node_bin = None,
            Flag::NodeArg => o.node_args.clear(),
            Flag::EtcdBin => o.etcd_bin = None,
            Flag::EtcdSerializableReads => o.etcd_serializable_reads = false,
            Flag::NodeCmd => o.node_cmd = None,
            Flag::ClientCmd => o.client_cmd = None,
            Flag::NatsBin => o.nats_bin = None,
            Flag::NatsSyncInterval => o.nats_sync_interval = None,
            Flag::NatsRead => o.nats_read = None,
        }
    }
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

/// What a node says about itself. Fields a system cannot tell keep their
/// defaults (`role` is `unknown` when the system cannot name its leader).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's name.
    #[serde(default)]
    pub id: String,
    /// `leader`, `follower`, `candidate`, ..., or `unknown`.
    #[serde(default)]
    pub role: String,
    /// The Raft (or equivalent) term it is in; 0 when unknown.
    #[serde(default)]
    pub term: u64,
    /// Who it believes leads, if anyone.
    #[serde(default)]
    pub leader: Option<String>,
    /// Index of the last entry of its log, for systems that expose it.
    #[serde(default)]
    pub last_log_index: Option<u64>,
    /// Index its log was compacted up to, for systems that expose it.
    #[serde(default)]
    pub snapshot_index: Option<u64>,
}

/// The role of a node that answered but cannot say whether it leads.
pub const ROLE_UNKNOWN: &str = "unknown";

/// Who a client is, for the systems that need it: its name (`c3`, shown in
/// warnings and filled into `--client-cmd`'s `{client}`), the HTTP client to
/// share, and how long an operation may take before it is `info`.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Its name, unique in the run.
    pub name: String,
    /// The shared HTTP client (its per-request timeout set).
    pub http: reqwest::Client,
    /// The longest an operation may take.
    pub timeout: Duration,
}

/// One client's connection to one node, owned by one logical client: it
/// performs one operation at a time, never retries, never reorders.
pub trait SystemClient: Send {
    /// Performs `op` and says how it ended.
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply>;
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
    /// A client bound to `node`.
    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient>;
    /// Arms (or disarms) the failpoint `name` on `node`. The default: the
    /// system has no failpoints.
    fn set_failpoint<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeSpec,
        name: &'a str,
        armed: bool,
    ) -> BoxFuture<'a, Result<(), String>> {
        let _ = (http, node, armed);
        Box::pin(async move {
            Err(format!(
                "failpoint {name}: not supported by --system {}",
                self.name()
            ))
        })
    }
    /// Ends whatever the system keeps running besides its nodes (client
    /// programs, connections), at the end of a run. The default: nothing.
    fn shutdown(&self) {}
}

/// The flags that choose and configure the system under test, shared by
/// `faultline run` and `faultline bench`.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct SystemArgs {
    /// The system under test (see `faultline list`): faultline-node, etcd, http, exec or nats.
    #[arg(long, default_value = "faultline-node", value_parser = parse_name)]
    pub system: String,
    /// The node binary (default: faultline-node next to faultline).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// An extra argument for every node, e.g. `--node-arg=--bug=stale-read` (repeatable).
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
    /// etcd's binary for `--system etcd` (default: etcd on PATH).
    #[arg(long)]
    pub etcd_bin: Option<PathBuf>,
    /// `--system etcd`: serve reads locally (serializable), which etcd
    /// documents as not linearizable.
    #[arg(long)]
    pub etcd_serializable_reads: bool,
    /// `--system http` and `exec`: the command started per node, placeholders
    /// {id} {peer_addr} {http_addr} {peers} {data_dir} filled in.
    #[arg(long)]
    pub node_cmd: Option<String>,
    /// `--system exec`: the client program started per client, speaking JSON
    /// lines; placeholders {node} {http_addr} {peer_addr} {data_dir} {client}
    /// {timeout_ms} filled in (see README, section Systems).
    #[arg(long)]
    pub client_cmd: Option<String>,
    /// nats-server's binary for `--system nats` (default: nats-server on
    /// PATH, or /usr/sbin/nats-server).
    #[arg(long)]
    pub nats_bin: Option<PathBuf>,
    /// `--system nats`: JetStream's `sync_interval` (`always`: fsync before
    /// acknowledging; a duration such as `10s`). Default: the server's own;
    /// nats-server before 2.10 takes no such setting and refuses it.
    #[arg(long, value_name = "always|DURATION")]
    pub nats_sync_interval: Option<String>,
    /// `--system nats`: how key-value reads are served: `direct` (direct get,
    /// answered by any replica, what NATS clients do by default) or
    /// `leader` (message get, answered by the stream leader).
    #[arg(long, value_name = "direct|leader")]
    pub nats_read: Option<String>,
}

impl SystemArgs {
    /// The options that build the system `--system` names.
    pub fn selected(&self) -> SystemOptions {
        self.options(&self.system)
    }

    /// The options that build the system named `name` with these flags.
    pub fn options(&self, name: &str) -> SystemOptions {
        SystemOptions {
            name: name.to_string(),
            node_bin: self.node_bin.clone(),
            node_args: self.node_args.clone(),
            etcd_bin: self.etcd_bin.clone(),
            etcd_serializable_reads: self.etcd_serializable_reads,
            node_cmd: self.node_cmd.clone(),
            client_cmd: self.client_cmd.clone(),
            nats_bin: self.nats_bin.clone(),
            nats_sync_interval: self.nats_sync_interval.clone(),
            nats_read: self.nats_read.clone(),
        }
    }
}

/// What it takes to build any system (from `faultline run` or `faultline bench`).
#[derive(Debug, Clone, Default)]
pub struct SystemOptions {
    /// The `--system` name of the system to build.
    pub name: String,
    /// faultline-node's binary (default: next to faultline).
    pub node_bin: Option<PathBuf>,
    /// Extra arguments for every faultline-node.
    pub node_args: Vec<String>,
    /// etcd's binary (default: `etcd` on PATH).
    pub etcd_bin: Option<PathBuf>,
    /// Whether etcd reads are serializable (served locally, not linearizable).
    pub etcd_serializable_reads: bool,
    /// The `http` and `exec` systems' node command template.
    pub node_cmd: Option<String>,
    /// The `exec` system's client command template.
    pub client_cmd: Option<String>,
    /// nats-server's binary (default: on PATH, or /usr/sbin/nats-server).
    pub nats_bin: Option<PathBuf>,
    /// JetStream's `sync_interval` for `--system nats` (None: the server's own).
    pub nats_sync_interval: Option<String>,
    /// The NATS key-value read path (`direct` or `leader`; None: `direct`).
    pub nats_read: Option<String>,
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
    SYSTEMS.iter().map(|r| r.name).collect()
}

/// Checks a `--system` value (for clap).
pub fn parse_name(s: &str) -> Result<String, String> {
    match names().into_iter().find(|n| *n == s) {
        Some(n) => Ok(n.to_string()),
        None => Err(SystemError::Unknown(s.to_string()).to_string()),
    }
}

/// The registry entry of the system called `name`.
pub fn registered(name: &str) -> Result<&'static Registered, SystemError> {
    SYSTEMS
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| SystemError::Unknown(name.to_string()))
}

impl SystemOptions {
    /// These options without the flags system `name` does not take (for
    /// `faultline bench --compare`, where each flag is meant for one of the
    /// systems compared).
    pub fn only_for(mut self, name: &str) -> SystemOptions {
        if let Ok(entry) = registered(name) {
            for flag in Flag::ALL {
                if !entry.flags.contains(&flag) {
                    flag.clear(&mut self);
                }
            }
        }
        self
    }
}

/// Builds the system `opts.name`, finding its program; a flag the system
/// does not take is refused, naming the systems that take it.
pub fn build(opts: &SystemOptions) -> Result<Arc<dyn System>, SystemError> {
    let entry = registered(&opts.name)?;
    for flag in Flag::ALL {
        if flag.given(opts) && !entry.flags.contains(&flag) {
            let takers: Vec<&str> = SYSTEMS
                .iter()
                .filter(|r| r.flags.contains(&flag))
                .map(|r| r.name)
                .collect();
            return Err(SystemError::BadOption(format!(
                "{} is for --system {}, not --system {}",
                flag.name(),
                takers.join(" or "),
                opts.name
            )));
        }
    }
    (entry.build)(opts)
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

/// Whether the cluster can take operations: some node leads, or every node
/// answered its status without being able to name a leader (`unknown`).
pub async fn ready(system: &dyn System, http: &reqwest::Client, nodes: &[NodeSpec]) -> bool {
    let timeout = Duration::from_millis(500);
    let asks = nodes.iter().map(|node| system.status(http, node, timeout));
    let answers = futures_join_all(asks.collect()).await;
    let leads = answers.iter().flatten().any(|s| s.role == "leader");
    let all_unknown = answers.len() == nodes.len()
        && answers
            .iter()
            .all(|a| matches!(a, Some(s) if s.role == ROLE_UNKNOWN));
    leads || all_unknown
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

/// The innermost cause of an error: what the OS or the peer said, without
/// the layers of a client library.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
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
