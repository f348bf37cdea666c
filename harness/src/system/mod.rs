//! Systems under test: what runs as a node and how clients talk to it.
//!
//! A [`System`] says how to start node i of a cluster (program, arguments,
//! data directory, addresses from its [`NodeSpec`]) and how to open a
//! [`SystemClient`] bound to one node. The system owns its protocol and
//! its transport: its client turns each typed [`Op`] into the system's own
//! request and the answer into a [`Reply`] with Jepsen's meaning (`ok`;
//! `fail` only when the operation certainly did not take effect; `info`
//! when unsure); a system that speaks HTTP holds its own HTTP client
//! ([`transport::HttpTransport`]). Workloads know no protocol.
//!
//! What only some systems can do is an optional capability, asked for by
//! the callers (as Jepsen's `db/Kill` and `db/Primary`): [`Status`] (a
//! node's role, term and log indexes, see [`System::status`]),
//! [`Failpoints`] (named crashes armed over the system's own API,
//! [`System::failpoints`]), [`Replicas`] (each node's own state, compared
//! after the run, [`System::replicas`]) and the operations its clients perform
//! ([`System::supports`]). A system without one behaves as faultline did
//! before capabilities: no status means every node counts as ready and
//! none as leader; no failpoints means an `arm` step is refused.
//!
//! Each system owns its flags: a clap `Args` struct in its own file, named
//! by its [`Registered::flags`]; [`SystemArgs`] gathers every registered
//! system's flags into `faultline run` and `faultline bench`, and refuses a
//! flag given to a system that does not take it. A flag two systems share
//! (`--node-cmd`) is declared once, by the system that defines its meaning
//! ([`http`]), and flattened into the others' `Args`.
//!
//! Adding a system is one file here (a [`System`], its [`SystemClient`], its
//! flags as a clap `Args` struct, and a `SYSTEM` [`Registered`] entry) plus
//! its name on one line of the `systems!` list below, which declares its
//! module and registers it in [`SYSTEMS`] (`./scripts/fmt.sh` formats the
//! files a macro declares, which `cargo fmt` does not see).
//!
//! - [`faultline_node`]: the node shipped with faultline (and its HTTP API);
//! - [`etcd`]: etcd through its v3 JSON gateway;
//! - [`http`]: any program speaking faultline-node's HTTP API (`--node-cmd`);
//! - [`exec`]: any program, through a client program of yours speaking
//!   JSON lines (`--node-cmd` and `--client-cmd`);
//! - [`nats`]: NATS JetStream (a key-value bucket and a stream);
//! - [`postgres`]: PostgreSQL, a primary and hot standbys;
//! - [`galera`]: MariaDB Galera Cluster over the MySQL protocol;
//! - [`maelstrom`]: any Maelstrom node, run through [`crate::maelstrom`].

mod flags;
mod leader;
pub mod pinned;
pub mod replicas;
pub mod transport;

pub use flags::{SystemArgs, SystemOptions};
pub use leader::ClusterView;
pub use replicas::Replicas;

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use faultline_workloads::{Func, Op, Reply};
use serde::{Deserialize, Serialize};

use faultline_platform::cluster::NodeSpec;

pub use crate::record::SystemBinary;

/// A boxed future, so that [`System`] can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Declares each system's module (`NAME.rs` or `NAME/mod.rs`, holding a
/// `SYSTEM`) and registers it in [`SYSTEMS`].
macro_rules! systems {
    ($($name:ident),* $(,)?) => {
        $(pub mod $name;)*

        /// Every system `--system` accepts, in the order `faultline list`
        /// shows them.
        pub const SYSTEMS: &[Registered] = &[$($name::SYSTEM),*];
    };
}

// Registering a system is one line here (it declares the module too).
systems! {
    faultline_node,
    etcd,
    http,
    exec,
    nats,
    postgres,
    galera,
    local_reads,
    maelstrom,
}

/// A system's entry in [`SYSTEMS`]: its name, its help line, the flags it
/// takes and how to build it.
#[derive(Clone, Copy)]
pub struct Registered {
    /// The name `--system` takes.
    pub name: &'static str,
    /// One line for `faultline list`.
    pub help: &'static str,
    /// Adds the flags it takes to a command: its clap `Args` struct's
    /// `augment_args` ([`no_flags`] for none). Any other system's flag
    /// given with it is refused.
    pub flags: fn(clap::Command) -> clap::Command,
    /// Its files on disk and what it claims to survive.
    pub disk: DiskProfile,
    /// Builds the system from its flags (finding its program); it parses
    /// them with [`SystemOptions::parse`].
    pub build: fn(&SystemOptions) -> Result<Arc<dyn System>, SystemError>,
}

/// The [`Registered::flags`] of a system that takes none.
pub fn no_flags(cmd: clap::Command) -> clap::Command {
    cmd
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

pub use faultline_platform::cluster::NodeCommand;

/// The command line of every node of `specs` under `system`, in order:
/// what a platform starts.
pub fn commands(system: &dyn System, specs: &[NodeSpec]) -> Vec<NodeCommand> {
    (0..specs.len()).map(|i| system.command(i, specs)).collect()
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
    /// The highest index it knows committed, for systems that expose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_index: Option<u64>,
    /// Index its log was compacted up to, for systems that expose it.
    #[serde(default)]
    pub snapshot_index: Option<u64>,
    /// The last index applied to its state machine, for systems that
    /// expose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_index: Option<u64>,
    /// A digest of its state machine at `applied_index`, for systems that
    /// expose it: nodes that applied the same entries report the same one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_digest: Option<String>,
}

/// The role of a node that answered but cannot say whether it leads.
pub const ROLE_UNKNOWN: &str = "unknown";

/// Who a client is, for the systems that need it: its name (`c3`, shown in
/// warnings and filled into `--client-cmd`'s `{client}`), how long an
/// operation may take before it is `info`, and what its workload wants in
/// completions.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    /// Its name, unique in the run.
    pub name: String,
    /// The longest an operation may take.
    pub timeout: Duration,
    /// Whether a write's `ok` completion should carry the revision the
    /// system gave it, `{"value": v, "revision": r}`, when the system can
    /// tell (`Workload::write_revisions`); otherwise it is the value.
    pub write_revisions: bool,
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
    /// A client bound to `node`.
    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient>;
    /// Its nodes' status, when it can tell (who leads, terms, logs). The
    /// default: it cannot; callers then take every node as ready and none
    /// as leading.
    fn status(&self) -> Option<&dyn Status> {
        None
    }
    /// Whether its status names who leads, so faults can aim at roles (the
    /// leader, a follower) and waits can wait for a leader. The default:
    /// whenever it has status; a system whose nodes answer only to say they
    /// are up (role `unknown`: Maelstrom nodes, Galera) says no.
    fn tells_roles(&self) -> bool {
        self.status().is_some()
    }
    /// Whether each status answer is one snapshot of the node: role, term,
    /// applied index and state digest read in one step, so two nodes seen
    /// leading one term prove a broken election (`election-safety`) and
    /// two digests at one applied index a broken state machine
    /// (`state-machine-safety`). The default: no; many systems read role
    /// and term apart, and a status caught mid-election could pair an old
    /// role with a new term.
    fn status_is_exact(&self) -> bool {
        false
    }
    /// Its failpoints, when it has any. The default: none (an `arm` step
    /// is refused).
    fn failpoints(&self) -> Option<&dyn Failpoints> {
        None
    }
    /// Each node's own state, when it can show it ([`replicas`]). The
    /// default: it cannot; runs then do not compare the replicas.
    fn replicas(&self) -> Option<&dyn Replicas> {
        None
    }
    /// Whether its clients perform operation `f`. The default: every
    /// operation but `watch`, a stream of changes that a system maps on
    /// purpose (etcd). A run whose workload draws another stops, refused,
    /// rather than record operations the system was never asked.
    fn supports(&self, f: Func) -> bool {
        f != Func::Watch
    }
    /// Ends whatever the system keeps running besides its nodes (client
    /// programs, connections), at the end of a run. The default: nothing.
    fn shutdown(&self) {}
    /// Which build of the product the nodes run (version, SHA-256, where
    /// it came from), for `test.json` and the report. The default: not
    /// known (a program of the user's).
    fn binary(&self) -> Option<SystemBinary> {
        None
    }
    /// The consistency models its settings promise for transactions
    /// (Elle's names), which the txn checkers hold a run to unless
    /// `--consistency-models` names others. The default: none named, so
    /// runs are held to strict-serializable.
    fn consistency_models(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Capability: asking a node for its [`NodeStatus`].
pub trait Status: Send + Sync {
    /// Asks `node` for its status; None when it does not answer in `timeout`.
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>>;
}

/// Capability: named moments where a node crashes on purpose once armed.
pub trait Failpoints: Send + Sync {
    /// Arms (or disarms) the failpoint `name` on `node`; Err says why the
    /// node refused or could not be reached.
    fn set_failpoint<'a>(
        &'a self,
        node: &'a NodeSpec,
        name: &'a str,
        armed: bool,
    ) -> BoxFuture<'a, Result<(), String>>;
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

/// Builds the system `opts.name`, finding its program; a flag the system
/// does not take is refused, naming the systems that take it.
pub fn build(opts: &SystemOptions) -> Result<Arc<dyn System>, SystemError> {
    let entry = registered(&opts.name)?;
    opts.refuse_foreign_flags()?;
    (entry.build)(opts)
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
