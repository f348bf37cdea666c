//! PostgreSQL (15 and up, Debian's `postgresql-15`): one primary and its
//! hot standbys, kept by streaming replication.
//!
//! Node 1 is the primary; every other node is a hot standby that copies it
//! with `pg_basebackup` on its first start and streams its WAL from then
//! on (`node.rs`, which also says how a server that refuses to run as root
//! is started: a user namespace of its own). PostgreSQL has no automatic
//! failover: while the primary is down, paused or cut off, writes fail,
//! and the run shows it.
//!
//! Every operation is one transaction (`client.rs`, with the SQL of each
//! operation and what each error becomes). Writes go to the primary;
//! read-only transactions go to the primary too, or with `--postgres-reads
//! any` to the client's own node (a standby, whose data may lag).
//!
//! - `--postgres-isolation`: each transaction's `BEGIN ISOLATION LEVEL`
//!   (default: the server's own, read committed). Standbys have no
//!   serializable level: read-only transactions there run at repeatable
//!   read.
//! - `--postgres-replication sync`: `synchronous_standby_names = 'ANY 1
//!   (*)'`, so a commit waits until one standby flushed it (default:
//!   asynchronous, the server's own). `synchronous_commit` keeps its
//!   default, `on`: a commit waits for its WAL to be flushed locally.
//! - `--postgres-set NAME=VALUE`: any other server setting.
//!
//! What the settings promise, and runs are held to by default (PostgreSQL's
//! documentation, "Transaction Isolation"): serializable is serializable;
//! repeatable read is snapshot isolation; read committed is read committed.
//! Read-only transactions on a standby see a snapshot of the primary's past
//! at repeatable read (serializable is refused there, because such a
//! snapshot can show a state no serial order has), so with reads on any
//! node, serializable promises snapshot isolation only.
//!
//! Status: `pg_is_in_recovery()`; the primary leads once every standby
//! server has streamed from it (`pg_stat_replication`, not counting the
//! WAL streams of `pg_basebackup` copies), so a run starts with the whole
//! cluster up.

mod client;
mod node;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_platform::cluster::NodeSpec;
use faultline_workloads::Func;

use super::{
    on_path, pinned, BoxFuture, ClientSpec, DiskProfile, NodeCommand, NodeStatus, Registered,
    Status, System, SystemBinary, SystemClient, SystemError,
};

/// The name `--system` takes.
pub const NAME: &str = "postgres";

/// The registry entry of `--system postgres`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: DiskProfile {
        data_files: &["base/**", "global/**", "pg_wal/0*", "pg_xact/*"],
        power_loss: "claims to survive: a commit is acknowledged after its WAL is flushed (fsync and synchronous_commit on, the defaults)",
        corruption: "WAL records carry CRCs (replay ends at a bad one); data pages carry checksums (initdb --data-checksums, which faultline sets): a bad page is an error, never a silent read",
    },
    help: "PostgreSQL 15+: a primary and hot standbys over streaming replication (--postgres-bin, --postgres-isolation, --postgres-replication, --postgres-reads, --postgres-set)",
    flags: <PostgresArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: PostgresArgs = opts.parse()?;
        Ok(Arc::new(Postgres::new(&args)?))
    },
};

/// A transaction isolation level (`BEGIN ISOLATION LEVEL ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    /// `SERIALIZABLE` (serializable snapshot isolation).
    Serializable,
    /// `REPEATABLE READ` (snapshot isolation).
    RepeatableRead,
    /// `READ COMMITTED`.
    ReadCommitted,
}

impl Isolation {
    /// Its SQL name.
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::Serializable => "SERIALIZABLE",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::ReadCommitted => "READ COMMITTED",
        }
    }
}

/// How the primary replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Replication {
    /// A commit does not wait for any standby (the server's default).
    #[default]
    Async,
    /// A commit waits until one standby has flushed it.
    Sync,
}

/// Where read-only transactions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Reads {
    /// To the primary, as writes.
    #[default]
    Primary,
    /// To the client's own node (a standby for most clients).
    Any,
}

/// The flags of `--system postgres`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PostgresArgs {
    /// `--system postgres`: the folder holding `postgres`, `initdb` and
    /// `pg_basebackup` (default: the newest /usr/lib/postgresql/*/bin, or
    /// the folder of `postgres` on PATH).
    #[arg(long, value_name = "DIR")]
    pub postgres_bin: Option<PathBuf>,
    /// `--system postgres`: every transaction's isolation level (default:
    /// the server's own, read committed).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub postgres_isolation: Option<Isolation>,
    /// `--system postgres`: asynchronous replication (the server's
    /// default), or synchronous to one standby.
    #[arg(long, value_enum, default_value = "async")]
    pub postgres_replication: Replication,
    /// `--system postgres`: where read-only transactions go: the primary,
    /// or the client's own node.
    #[arg(long, value_enum, default_value = "primary")]
    pub postgres_reads: Reads,
    /// `--system postgres`: one more server setting for every node,
    /// `NAME=VALUE` (repeatable; `--postgres-set fsync=off`).
    #[arg(long = "postgres-set", value_name = "NAME=VALUE")]
    pub postgres_set: Vec<String>,
}

/// A PostgreSQL cluster.
#[derive(Debug)]
pub struct Postgres {
    bin_dir: PathBuf,
    unshare: PathBuf,
    isolation: Option<Isolation>,
    replication: Replication,
    reads: Reads,
    extra: Vec<String>,
    binary: Option<SystemBinary>,
    /// Whether every standby has streamed from the primary once.
    formed: AtomicBool,
    /// Every node's `host=IP port=P`, the primary first, learned from the
    /// cluster's command lines.
    nodes: Mutex<Vec<String>>,
}

impl Postgres {
    /// The cluster `args` describe, its programs found.
    pub fn new(args: &PostgresArgs) -> Result<Postgres, SystemError> {
        let bin_dir = find_bin_dir(args.postgres_bin.as_deref())?;
        let unshare = on_path("unshare").ok_or_else(|| {
            SystemError::Missing(
                "no unshare on PATH (util-linux): PostgreSQL runs in a user namespace of its own"
                    .into(),
            )
        })?;
        for s in &args.postgres_set {
            if !s.contains('=') {
                return Err(SystemError::BadOption(format!(
                    "--postgres-set {s:?}: expected NAME=VALUE"
                )));
            }
        }
        let postgres = bin_dir.join("postgres");
        let source = match args.postgres_bin {
            Some(_) => "--postgres-bin",
            None => "PATH",
        };
        let binary = pinned::describe_found(&postgres, source);
        Ok(Postgres {
            bin_dir,
            unshare,
            isolation: args.postgres_isolation,
            replication: args.postgres_replication,
            reads: args.postgres_reads,
            extra: args.postgres_set.clone(),
            binary,
            formed: AtomicBool::new(false),
            nodes: Mutex::default(),
        })
    }
}

/// The folder of PostgreSQL's server programs: `given`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian's layout), else the folder of
/// `postgres` on PATH (links followed).
pub fn find_bin_dir(given: Option<&Path>) -> Result<PathBuf, SystemError> {
    let complete = |d: &Path| ["postgres", "initdb", "pg_basebackup"].map(|p| d.join(p).is_file());
    if let Some(d) = given {
        return match complete(d) {
            [true, true, true] => Ok(d.to_path_buf()),
            _ => Err(SystemError::Missing(format!(
                "--postgres-bin {}: expected postgres, initdb and pg_basebackup there",
                d.display()
            ))),
        };
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, d)| complete(d) == [true, true, true])
        .collect();
    debian.sort();
    if let Some((_, d)) = debian.pop() {
        return Ok(d);
    }
    on_path("postgres")
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| complete(d) == [true, true, true])
        .ok_or_else(|| {
            SystemError::Missing(
                "no PostgreSQL server programs (postgres, initdb, pg_basebackup): install postgresql-15 with scripts/setup.sh, or pass --postgres-bin DIR"
                    .into(),
            )
        })
}

/// `host=IP port=P` of `node`.
fn target(node: &NodeSpec) -> String {
    format!("host={} port={}", node.ip, node.http_addr.port())
}

impl System for Postgres {
    fn name(&self) -> &'static str {
        NAME
    }

    fn program(&self) -> String {
        self.bin_dir.join("postgres").display().to_string()
    }

    fn binary(&self) -> Option<SystemBinary> {
        self.binary.clone()
    }

    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
        *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = nodes.iter().map(target).collect();
        let settings = node::ServerSettings {
            bin_dir: &self.bin_dir,
            unshare: &self.unshare,
            replication: self.replication,
            extra: &self.extra,
        };
        node::command(&settings, i, nodes)
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        let own = target(node);
        let primary = self
            .nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .cloned()
            .unwrap_or_else(|| own.clone());
        let on_standby = self.reads == Reads::Any && own != primary;
        let route = client::Route {
            reads: match on_standby {
                true => own,
                false => primary.clone(),
            },
            primary,
            reads_on_standby: on_standby,
        };
        Box::new(client::PgClient::new(route, self.isolation, spec.timeout))
    }

    /// Registers (read, write, cas) and transactions.
    fn supports(&self, f: Func) -> bool {
        matches!(f, Func::Read | Func::Write | Func::Cas | Func::Txn)
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(self)
    }

    fn consistency_models(&self) -> Vec<String> {
        vec![promised(self.isolation, self.reads).to_string()]
    }
}

/// The model PostgreSQL's documentation promises for transactions at
/// `isolation` (None: the server's default, read committed) with
/// read-only ones going where `reads` says.
fn promised(isolation: Option<Isolation>, reads: Reads) -> &'static str {
    match (isolation, reads) {
        (Some(Isolation::Serializable), Reads::Primary) => "serializable",
        // Standbys refuse SERIALIZABLE: their read-only transactions run at
        // repeatable read on an earlier snapshot of the primary.
        (Some(Isolation::Serializable), Reads::Any) => "snapshot-isolation",
        (Some(Isolation::RepeatableRead), _) => "snapshot-isolation",
        (Some(Isolation::ReadCommitted) | None, _) => "read-committed",
    }
}

impl Status for Postgres {
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(async move {
            tokio::time::timeout(timeout, self.ask(node))
                .await
                .ok()
                .flatten()
        })
    }
}

impl Postgres {
    /// One status question to `node`: is it in recovery (a standby), and,
    /// for the primary, how many standbys stream from it.
    async fn ask(&self, node: &NodeSpec) -> Option<NodeStatus> {
        let session = client::open(&target(node)).await.ok()?;
        let row = session
            .client
            .query_one(
                "SELECT pg_is_in_recovery(), \
                 (SELECT count(*) FROM pg_stat_replication \
                  WHERE state = 'streaming' AND application_name <> 'pg_basebackup')",
                &[],
            )
            .await;
        drop(session);
        let row = row.ok()?;
        let standby: bool = row.get(0);
        let streaming: i64 = row.get(1);
        let role = match standby {
            true => "follower",
            false => {
                let standbys = self.nodes.lock().map_or(0, |n| n.len()).saturating_sub(1);
                if usize::try_from(streaming).is_ok_and(|s| s >= standbys) {
                    self.formed.store(true, Ordering::Relaxed);
                }
                match self.formed.load(Ordering::Relaxed) {
                    true => "leader",
                    false => "forming",
                }
            }
        };
        Some(NodeStatus {
            id: node.name.clone(),
            role: role.into(),
            ..NodeStatus::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_setting_promises_what_the_documentation_says() {
        use Isolation::*;
        assert_eq!(promised(Some(Serializable), Reads::Primary), "serializable");
        assert_eq!(
            promised(Some(Serializable), Reads::Any),
            "snapshot-isolation"
        );
        assert_eq!(
            promised(Some(RepeatableRead), Reads::Primary),
            "snapshot-isolation"
        );
        assert_eq!(promised(Some(ReadCommitted), Reads::Any), "read-committed");
        assert_eq!(promised(None, Reads::Primary), "read-committed");
        for m in [Serializable, RepeatableRead, ReadCommitted] {
            for r in [Reads::Primary, Reads::Any] {
                let known = crate::checkers::txn::validate_models(&[promised(Some(m), r).into()]);
                assert!(known.is_ok(), "{m:?} {r:?}: {known:?}");
            }
        }
    }

    #[test]
    fn a_bin_folder_without_the_server_programs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = find_bin_dir(Some(dir.path())).unwrap_err().to_string();
        assert!(
            e.contains("--postgres-bin") && e.contains("pg_basebackup"),
            "{e}"
        );
    }
}
