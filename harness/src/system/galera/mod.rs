//! MariaDB Galera Cluster (MariaDB 10.11 and up with galera-4, Debian's
//! `mariadb-server` and `galera-4`): every node takes reads and writes;
//! writesets are certified and ordered by Galera's group communication.
//!
//! Node i runs `/bin/sh -c SCRIPT` ([`NODE_SCRIPT`]), which `exec`s
//! `mariadbd`, so the process group, the pid and the group id are the
//! server's. The script, before the `exec`:
//!
//! - node 1, on its first start only (no `<data dir>.initialized` beside
//!   its data directory): `mariadb-install-db --no-defaults --user=root`
//!   into the data directory, with an extra SQL file adding `root@'%'`
//!   (no password, as the `root@localhost` it copies) and creating the
//!   database `faultline` and its two tables; then it starts with
//!   `--wsrep-new-cluster`, bootstrapping the cluster. The marker lives
//!   beside the data directory, not in it, so a power loss cannot make
//!   node 1 bootstrap a second cluster. Every later start of node 1 (after
//!   a kill) joins the others like any node.
//! - nodes 2 and up start on an empty data directory and join
//!   `gcomm://` of every node; their first state transfer (SST, `rsync`)
//!   copies node 1's files.
//! - any later start of a node that has data (after a kill or a power
//!   loss): `mariadbd ... --wsrep-recover` first, and the position it
//!   recovers from InnoDB passed as `--wsrep-start-position`, as Debian's
//!   service does (`galera_recovery`); a crashed node's `grastate.dat`
//!   says seqno -1, and without this it would rejoin knowing no position
//!   (a full SST, and a whole-cluster restart that cannot tell which node
//!   is most advanced). The recovery's log goes beside the data directory.
//! - every node: `TMPDIR` is `<data dir>.tmp`, so the server's temporary
//!   tables and files, install-db's and the SST scripts' stay in the run
//!   folder (two runs at once once collided on a temporary table name in a
//!   shared /tmp, and install-db failed).
//! - every node: MariaDB runs its SST script as `wsrep_sst_<method>` and
//!   puts its own folder first on PATH. Under root, the `rsync` daemon the
//!   script starts on a joiner switches to user `nobody` (rsyncd's default
//!   for root) and cannot write the data directory, so every transfer
//!   fails. The script therefore writes two shims into `<data dir>.bin/`:
//!   `wsrep_sst_faultline_rsync` (the method named on the command line,
//!   `--wsrep-sst-method=faultline_rsync`), which puts that folder first
//!   on PATH and `exec`s MariaDB's own `wsrep_sst_rsync`, and `rsync`,
//!   which adds `--dparam=uid=0 --dparam=gid=<its group>` to a daemon's
//!   command line: the transfer is MariaDB's rsync SST, run as root in the
//!   node's group (so partitions cut it too).
//!
//! The server's flags: `--no-defaults` (Debian's `/etc/mysql` is never
//! read, and Debian's own `mariadb` service plays no part), `--user=root`
//! (mariadbd keeps root and the node's group), the node's address and the
//! HTTP port for clients, the socket and pid file beside the data
//! directory, `--skip-name-resolve`, `--wsrep-on=ON`, the provider,
//! `gcomm://` of every node's peer address, the node's own peer address,
//! `gmcast.listen_addr` on it, IST on the peer port + 1, SST on the peer
//! port + 2, `--binlog-format=ROW`, `--default-storage-engine=InnoDB`,
//! `--innodb-autoinc-lock-mode=2` (what Galera requires), then
//! `--galera-durable`'s and `--galera-arg`s.
//!
//! When every node dies at once, Galera's `pc.recovery` (on by default)
//! writes each node's last primary component to `gvwstate.dat`; when all
//! of its members restart they form it again by themselves (the
//! `galera-kill-all` scenario of `scenarios/galera.toml` sees it every
//! time). A cluster whose members do not all return, or that lost its
//! primary component to two nodes dying within Galera's suspect timeout
//! (5 s), stays non-primary: every operation then fails with 1047 (`WSREP
//! has not yet prepared node for application use`) until an operator
//! bootstraps it by hand, and the run shows that unavailability as it is.
//! A node that joined by rsync SST holds files nobody fsynced; a power
//! loss soon after leaves them empty and the node cannot start
//! (`galera-power-loss-all`). faultline never bootstraps a running cluster
//! again; docs/findings.md has what the runs showed.
//!
//! Settings of 10.11 with Galera, as the server reports them with no
//! configuration: `innodb_flush_log_at_trx_commit=1` (the redo log is
//! fsynced at each commit), `sync_binlog=0` with no binary log,
//! `innodb_doublewrite=ON`, `innodb_checksum_algorithm=full_crc32`,
//! `tx_isolation=REPEATABLE-READ`, `innodb_snapshot_isolation=OFF`,
//! `wsrep_sync_wait=0` (reads do not wait for the cluster to catch up).
//! `--galera-durable` sets `innodb_flush_log_at_trx_commit=1` and
//! `sync_binlog=1` explicitly; with 10.11's defaults it changes nothing
//! InnoDB does. Galera's documentation recommends
//! `innodb_flush_log_at_trx_commit=2` (the log written at commit, fsynced
//! about once a second), relying on the other nodes for durability:
//! `--galera-arg=--innodb-flush-log-at-trx-commit=2` runs that.
//!
//! Each client talks to its own node over MySQL's protocol
//! (`client.rs`); every operation is one explicit transaction:
//!
//! | operation | SQL |
//! |---|---|
//! | txn `["append", k, e]` | `INSERT INTO lists (k, v) VALUES (k, 'e') ON DUPLICATE KEY UPDATE v = CONCAT(v, ',', 'e')` |
//! | txn `["w", k, x]` | `INSERT INTO registers (k, v) VALUES (k, x) ON DUPLICATE KEY UPDATE v = x` |
//! | txn `["r", k, _]` | `SELECT 'l', v FROM lists WHERE k = ? UNION ALL SELECT 'r', v FROM registers WHERE k = ?`: a list's `"1,2,3"` is `[1, 2, 3]`, a register's value the number; no row is `null` (txn-list-append's `[]`) |
//! | read (register) | `SELECT v FROM registers WHERE k = ?` |
//! | write (register) | the upsert of `w` |
//! | cas (register) | `UPDATE registers SET v = to WHERE k = ? AND v = from`: one row matched is `ok`, none `fail` (rolled back) |
//!
//! A transaction is `START TRANSACTION`, its statements in order, `COMMIT`,
//! after `SET SESSION TRANSACTION ISOLATION LEVEL ...` once per connection
//! when `--galera-isolation` is given. A micro-operation read looks the
//! key up in both tables in one statement (a run's keys live in one of
//! them, by its workload), so a transaction that only reads needs no
//! knowledge of the workload.
//!
//! Outcomes: `ok` when `COMMIT` answered OK. `fail` when nothing can have
//! been committed: an error (any server error, a lost connection, the
//! client's timeout) before `COMMIT` was sent, since the connection is
//! then dropped and the server rolls the transaction back; an answer to
//! `COMMIT` that says it was rolled back (1213, a deadlock or a Galera
//! certification failure); a cas that matched no row; any error of a
//! transaction that only reads. `info` when `COMMIT` was sent and then
//! no answer came, or another error did (1047, for one: the node left the
//! primary component while the writeset may have been ordered). After
//! any error the connection is dropped and the next operation opens a new
//! one. Nothing is retried.
//!
//! Status: `SHOW STATUS LIKE 'wsrep_%'` on a connection of its own. Galera
//! has no leader: a node that is ready (`wsrep_ready=ON`), in the primary
//! component (`wsrep_cluster_status=Primary`) and `Synced` answers with
//! role `unknown`, and any other node counts as not answering, so a run
//! starts once every node is synced and the leader-targeting faults find
//! no leader.

mod client;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_workloads::Func;

use super::{
    on_path, pinned, BoxFuture, ClientSpec, DiskProfile, NodeCommand, NodeStatus, Registered,
    Status, System, SystemBinary, SystemClient, SystemError, ROLE_UNKNOWN,
};
use faultline_platform::cluster::NodeSpec;

pub use client::{classify, parse_list, Outcome, Phase};

/// The name `--system` takes.
pub const NAME: &str = "galera";

/// Where Debian's galera-4 installs the wsrep provider.
pub const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

/// Where Debian's mariadb-server installs the server (not on a user's PATH).
const SBIN_MARIADBD: &str = "/usr/sbin/mariadbd";

/// The registry entry of `--system galera`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: DiskProfile {
        data_files: &[
            "ibdata1",
            "ib_logfile*",
            "undo[0-9]*",
            "faultline/*.ibd",
            "galera.cache",
            "grastate.dat",
            "gvwstate.dat",
        ],
        power_loss: "claims to survive with innodb_flush_log_at_trx_commit=1 (10.11's default): InnoDB fsyncs its redo log before COMMIT answers, and the doublewrite buffer covers torn pages; with 2 or 0 (Galera's docs recommend 2) about a second of a node's commits may be lost, Galera counting on the other nodes (a restarted node catches up by IST or SST); galera.cache and grastate.dat are not fsynced per transaction; files copied by rsync SST are not fsynced at all",
        corruption: "InnoDB pages and redo log blocks carry checksums (full_crc32): a damaged page is reported and the server refuses to start or stops; Galera can re-copy a node from another by SST, not by itself",
    },
    help: "MariaDB Galera Cluster (mariadbd + galera-4, rsync SST) over the MySQL protocol \
           (--galera-bin or /usr/sbin/mariadbd; --galera-isolation, --galera-durable, --galera-arg)",
    flags: <GaleraArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: GaleraArgs = opts.parse()?;
        let bin = find_bin(args.galera_bin.as_deref())?;
        let install_db = find_install_db()?;
        if !Path::new(PROVIDER).is_file() {
            return Err(SystemError::Missing(format!(
                "no Galera provider at {PROVIDER}: install galera-4 (scripts/setup.sh)"
            )));
        }
        let source = if args.galera_bin.is_some() {
            "--galera-bin"
        } else {
            "PATH"
        };
        let binary = pinned::describe_found(&bin, source);
        Ok(Arc::new(Galera {
            isolation: args.galera_isolation,
            durable: args.galera_durable,
            extra_args: args.galera_args,
            binary,
            ..Galera::new(bin, install_db)
        }))
    },
};

/// The flags of `--system galera`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GaleraArgs {
    /// mariadbd for `--system galera` (default: mariadbd on PATH, else
    /// /usr/sbin/mariadbd).
    #[arg(long)]
    pub galera_bin: Option<PathBuf>,
    /// `--system galera`: the isolation level of every transaction (default:
    /// the server's own, REPEATABLE READ).
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub galera_isolation: Option<Isolation>,
    /// `--system galera`: `innodb_flush_log_at_trx_commit=1` and
    /// `sync_binlog=1` (10.11's own default already fsyncs the redo log at
    /// each commit, and no binary log is kept).
    #[arg(long)]
    pub galera_durable: bool,
    /// `--system galera`: one more flag for every mariadbd, after
    /// faultline's own (repeatable;
    /// `--galera-arg=--innodb-flush-log-at-trx-commit=2`).
    #[arg(long = "galera-arg", value_name = "FLAG", allow_hyphen_values = true)]
    pub galera_args: Vec<String>,
}

/// A transaction isolation level of MariaDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    /// SERIALIZABLE.
    Serializable,
    /// REPEATABLE READ (InnoDB's default).
    RepeatableRead,
    /// READ COMMITTED.
    ReadCommitted,
    /// READ UNCOMMITTED.
    ReadUncommitted,
}

impl Isolation {
    /// The level as `SET SESSION TRANSACTION ISOLATION LEVEL` takes it.
    pub fn sql(self) -> &'static str {
        match self {
            Isolation::Serializable => "SERIALIZABLE",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::ReadUncommitted => "READ UNCOMMITTED",
        }
    }

    /// The consistency model (Elle's name) the level promises across a
    /// Galera cluster, as MariaDB documents it.
    ///
    /// - SERIALIZABLE and REPEATABLE READ: `repeatable-read` (Adya's
    ///   PL-2.99). MariaDB's Galera documentation claims isolation
    ///   "between Serializable and Repeatable Read" for the cluster, and
    ///   Galera's says SERIALIZABLE is honoured only between transactions
    ///   of one node, so across nodes the weaker end is all that is
    ///   promised. InnoDB's REPEATABLE READ is not snapshot isolation, and
    ///   10.11 leaves `innodb_snapshot_isolation` off, so snapshot
    ///   isolation is not claimed (Galera's older "first committer wins"
    ///   claim across nodes would add it; Jepsen showed it false in 2015).
    ///   Jepsen's 12.1.2 analysis held Galera to the same two ends.
    /// - READ COMMITTED: `read-committed` (PL-2).
    /// - READ UNCOMMITTED: `read-uncommitted` (PL-1).
    pub fn model(self) -> &'static str {
        match self {
            Isolation::Serializable | Isolation::RepeatableRead => "repeatable-read",
            Isolation::ReadCommitted => "read-committed",
            Isolation::ReadUncommitted => "read-uncommitted",
        }
    }
}

/// A MariaDB Galera cluster run from `bin`.
#[derive(Debug)]
pub struct Galera {
    bin: PathBuf,
    install_db: PathBuf,
    isolation: Option<Isolation>,
    durable: bool,
    /// `--galera-arg`s, after faultline's own flags.
    extra_args: Vec<String>,
    binary: Option<SystemBinary>,
}

impl Galera {
    /// A cluster of `bin` (mariadbd), initialised by `install_db`.
    pub fn new(bin: PathBuf, install_db: PathBuf) -> Galera {
        Galera {
            bin,
            install_db,
            isolation: None,
            durable: false,
            extra_args: Vec::new(),
            binary: None,
        }
    }
}

/// mariadbd: `given` (`--galera-bin`), or mariadbd on PATH, or Debian's
/// /usr/sbin/mariadbd.
pub fn find_bin(given: Option<&Path>) -> Result<PathBuf, SystemError> {
    match given {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(SystemError::Missing(format!(
            "--galera-bin {}: no such file",
            p.display()
        ))),
        None => on_path("mariadbd")
            .or_else(|| Some(PathBuf::from(SBIN_MARIADBD)).filter(|p| p.is_file()))
            .ok_or_else(|| {
                SystemError::Missing(
                    "no mariadbd on PATH or in /usr/sbin: install mariadb-server and galera-4 with scripts/setup.sh, or pass --galera-bin"
                        .into(),
                )
            }),
    }
}

/// mariadb-install-db on PATH (the older name mysql_install_db too).
fn find_install_db() -> Result<PathBuf, SystemError> {
    on_path("mariadb-install-db")
        .or_else(|| on_path("mysql_install_db"))
        .ok_or_else(|| {
            SystemError::Missing(
                "no mariadb-install-db on PATH: install mariadb-server (scripts/setup.sh)".into(),
            )
        })
}

/// The SQL node 1 runs while its data directory is initialised: `root`
/// from any address (no password, as `root@localhost`), the database and
/// its tables.
pub const INIT_SQL: &str = "INSERT IGNORE INTO mysql.global_priv (Host, User, Priv) \
SELECT '%', User, Priv FROM mysql.global_priv WHERE Host = 'localhost' AND User = 'root';
CREATE DATABASE IF NOT EXISTS faultline;
CREATE TABLE IF NOT EXISTS faultline.lists (k VARCHAR(64) PRIMARY KEY, v TEXT) ENGINE=InnoDB;
CREATE TABLE IF NOT EXISTS faultline.registers (k VARCHAR(64) PRIMARY KEY, v BIGINT) ENGINE=InnoDB;";

/// The node's shell script: `$1` the data directory, `$2` `1` for the
/// node that bootstraps, `$3` mariadb-install-db, `$4` the SQL it runs,
/// then mariadbd and its arguments. It `exec`s the server.
pub const NODE_SCRIPT: &str = r#"d="$1"; boot="$2"; install="$3"; sql="$4"; shift 4
mkdir -p "$d.tmp" || exit 1
TMPDIR="$d.tmp"; export TMPDIR
if [ "$boot" = 1 ] && [ ! -e "$d.initialized" ]; then
  printf '%s\n' "$sql" > "$d.init.sql"
  "$install" --no-defaults --user=root --datadir="$d" --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve --extra-file="$d.init.sql" || exit 1
  touch "$d.initialized"
  set -- "$@" --wsrep-new-cluster
elif [ -e "$d/ibdata1" ]; then
  "$@" --wsrep-recover --disable-log-error 2> "$d.recover.log" || { cat "$d.recover.log" >&2; exit 1; }
  pos=$(grep -a 'WSREP: Recovered position:' "$d.recover.log" | tail -n 1 | sed 's/.*WSREP: Recovered position: *//')
  [ -n "$pos" ] && set -- "$@" "--wsrep-start-position=$pos"
fi
mkdir -p "$d.bin" || exit 1
rsync=$(command -v rsync) || { echo "galera-node: no rsync on PATH (scripts/setup.sh installs it)" >&2; exit 1; }
printf '%s\n' '#!/bin/sh' "case \" \$* \" in *' --daemon '*) exec $rsync --dparam=uid=0 --dparam=gid=\"\$(id -g)\" \"\$@\";; esac" "exec $rsync \"\$@\"" > "$d.bin/rsync"
printf '%s\n' '#!/bin/sh' "PATH=\"$d.bin:\$PATH\"" 'export PATH' 'exec wsrep_sst_rsync "$@"' > "$d.bin/wsrep_sst_faultline_rsync"
chmod +x "$d.bin/rsync" "$d.bin/wsrep_sst_faultline_rsync" || exit 1
PATH="$d.bin:$PATH"; export PATH
exec "$@"
"#;

/// The IST port of a node: its peer port + 1.
fn ist_port(node: &NodeSpec) -> u16 {
    node.peer_addr.port() + 1
}

/// The SST port of a node: its peer port + 2.
fn sst_port(node: &NodeSpec) -> u16 {
    node.peer_addr.port() + 2
}

/// A path beside `data_dir` (`<run>/data/n1.sock` for `.sock`).
fn beside(data_dir: &Path, suffix: &str) -> String {
    format!("{}{suffix}", data_dir.display())
}

impl Galera {
    /// mariadbd's arguments for node `i` of `nodes`.
    fn server_args(&self, i: usize, nodes: &[NodeSpec]) -> Vec<String> {
        let node = &nodes[i];
        let cluster = nodes
            .iter()
            .map(|n| n.peer_addr.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let ip = node.ip;
        let mut args = vec![
            "--no-defaults".to_string(),
            "--user=root".into(),
            format!("--datadir={}", node.data_dir.display()),
            format!("--bind-address={ip}"),
            format!("--port={}", node.http_addr.port()),
            format!("--socket={}", beside(&node.data_dir, ".sock")),
            format!("--pid-file={}", beside(&node.data_dir, ".pid")),
            "--skip-name-resolve".into(),
            "--wsrep-on=ON".into(),
            format!("--wsrep-provider={PROVIDER}"),
            format!("--wsrep-cluster-address=gcomm://{cluster}"),
            format!("--wsrep-node-address={}", node.peer_addr),
            format!("--wsrep-node-name={}", node.name),
            format!(
                "--wsrep-provider-options=gmcast.listen_addr=tcp://{};ist.recv_addr={ip}:{}",
                node.peer_addr,
                ist_port(node)
            ),
            format!("--wsrep-sst-receive-address={ip}:{}", sst_port(node)),
            "--wsrep-sst-method=faultline_rsync".into(),
            "--binlog-format=ROW".into(),
            "--default-storage-engine=InnoDB".into(),
            "--innodb-autoinc-lock-mode=2".into(),
        ];
        if self.durable {
            args.push("--innodb-flush-log-at-trx-commit=1".into());
            args.push("--sync-binlog=1".into());
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

impl System for Galera {
    fn name(&self) -> &'static str {
        NAME
    }

    fn program(&self) -> String {
        self.bin.display().to_string()
    }

    fn binary(&self) -> Option<SystemBinary> {
        self.binary.clone()
    }

    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
        let node = &nodes[i];
        let mut args = vec![
            "-c".to_string(),
            NODE_SCRIPT.to_string(),
            "galera-node".into(),
            node.data_dir.display().to_string(),
            if i == 0 { "1" } else { "0" }.into(),
            self.install_db.display().to_string(),
            INIT_SQL.to_string(),
            self.bin.display().to_string(),
        ];
        args.extend(self.server_args(i, nodes));
        NodeCommand {
            program: PathBuf::from("/bin/sh"),
            args,
        }
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        Box::new(client::GaleraClient::new(
            node,
            spec.timeout,
            self.isolation,
        ))
    }

    /// Registers (read, write, cas) and transactions; lists only inside
    /// transactions (a lone read could not tell a list from a register).
    fn supports(&self, f: Func) -> bool {
        matches!(f, Func::Read | Func::Write | Func::Cas | Func::Txn)
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(self)
    }

    fn tells_roles(&self) -> bool {
        false
    }

    fn consistency_models(&self) -> Vec<String> {
        let level = self.isolation.unwrap_or(Isolation::RepeatableRead);
        vec![level.model().to_string()]
    }
}

impl Status for Galera {
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(async move {
            let vars = tokio::time::timeout(timeout, client::wsrep_status(node))
                .await
                .ok()??;
            status_of(&node.name, &vars)
        })
    }
}

/// A node's status from its `wsrep_%` status variables: role `unknown`
/// when it is ready, in the primary component and synced; None otherwise
/// (not ready counts as not answering). The term is the cluster's
/// configuration id.
fn status_of(name: &str, vars: &[(String, String)]) -> Option<NodeStatus> {
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let ready = get("wsrep_ready") == Some("ON")
        && get("wsrep_cluster_status") == Some("Primary")
        && get("wsrep_local_state_comment") == Some("Synced");
    ready.then(|| NodeStatus {
        id: name.to_string(),
        role: ROLE_UNKNOWN.to_string(),
        term: get("wsrep_cluster_conf_id")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        ..NodeStatus::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;

    fn galera() -> Galera {
        Galera::new(
            "/usr/sbin/mariadbd".into(),
            "/usr/bin/mariadb-install-db".into(),
        )
    }

    #[test]
    fn node_one_bootstraps_and_every_node_lists_every_peer() {
        let nodes = layout(3, Path::new("/tmp/run"), false);
        let g = galera();
        let first = g.command(0, &nodes);
        assert_eq!(first.program, PathBuf::from("/bin/sh"));
        assert_eq!(first.args[0], "-c");
        assert_eq!(&first.args[3..5], ["/tmp/run/data/n1", "1"]);
        let second = g.command(1, &nodes);
        assert_eq!(&second.args[3..5], ["/tmp/run/data/n2", "0"]);
        let line = second.to_vec().join(" ");
        for part in [
            "/usr/sbin/mariadbd --no-defaults --user=root --datadir=/tmp/run/data/n2",
            "--bind-address=127.0.0.12 --port=8001",
            "--socket=/tmp/run/data/n2.sock",
            "--wsrep-cluster-address=gcomm://127.0.0.11:7001,127.0.0.12:7001,127.0.0.13:7001",
            "--wsrep-node-address=127.0.0.12:7001",
            "gmcast.listen_addr=tcp://127.0.0.12:7001;ist.recv_addr=127.0.0.12:7002",
            "--wsrep-sst-receive-address=127.0.0.12:7003",
            "--wsrep-sst-method=faultline_rsync",
            "--innodb-autoinc-lock-mode=2",
        ] {
            assert!(line.contains(part), "{part} missing: {line}");
        }
        assert!(!line.contains("--innodb-flush-log-at-trx-commit"), "{line}");
        assert!(NODE_SCRIPT.contains("--wsrep-new-cluster"));
        assert!(NODE_SCRIPT.contains("--wsrep-recover"));
        assert!(NODE_SCRIPT.contains("--wsrep-start-position=$pos"));
        assert!(NODE_SCRIPT.trim_end().ends_with("exec \"$@\""));
    }

    /// Runs [`NODE_SCRIPT`] for a node whose data directory is `d`, with
    /// fake install-db and mariadbd programs that log how they were called;
    /// the log.
    fn run_script(dir: &Path, d: &Path, boot: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let log = dir.join("calls.log");
        let fake = |name: &str, body: &str| {
            let path = dir.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        let install = fake(
            "install-db",
            &format!(
                "echo install \"$@\" >> {0}; mkdir -p {1}; touch {1}/ibdata1",
                log.display(),
                d.display()
            ),
        );
        let server = fake(
            "mariadbd",
            &format!(
                "case \" $* \" in *' --wsrep-recover '*) echo 'x [Note] WSREP: Recovered position: u-u-i-d:42' >&2; exit 0;; esac\necho server \"$@\" >> {}",
                log.display()
            ),
        );
        let status = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(NODE_SCRIPT)
            .arg("galera-node")
            .arg(d)
            .arg(boot)
            .arg(&install)
            .arg("SELECT 1;")
            .arg(&server)
            .arg("--datadir=x")
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(&log).unwrap()
    }

    #[test]
    fn node_one_initialises_and_bootstraps_once_and_restarts_recover_their_position() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("n1");
        std::fs::create_dir(&d).unwrap();
        let first = run_script(dir.path(), &d, "1");
        assert!(
            first.starts_with("install --no-defaults --user=root"),
            "{first}"
        );
        assert!(
            first.contains("server --datadir=x --wsrep-new-cluster"),
            "{first}"
        );
        assert!(!first.contains("--wsrep-start-position"), "{first}");
        std::fs::remove_file(dir.path().join("calls.log")).unwrap();
        let again = run_script(dir.path(), &d, "1");
        assert_eq!(
            again.trim(),
            "server --datadir=x --wsrep-start-position=u-u-i-d:42"
        );
        let shim = std::fs::read_to_string(dir.path().join("n1.bin/rsync")).unwrap();
        assert!(shim.contains("--dparam=uid=0"), "{shim}");
        // A joiner's first start: no data yet, nothing to recover.
        let joiner = dir.path().join("n2");
        std::fs::create_dir(&joiner).unwrap();
        std::fs::remove_file(dir.path().join("calls.log")).unwrap();
        assert_eq!(
            run_script(dir.path(), &joiner, "0").trim(),
            "server --datadir=x"
        );
    }

    #[test]
    fn durable_and_extra_flags_come_after_faultlines_own() {
        let nodes = layout(3, Path::new("/tmp/run"), false);
        let mut g = galera();
        g.durable = true;
        g.extra_args = vec!["--innodb-flush-log-at-trx-commit=2".into()];
        let args = g.command(2, &nodes).args;
        let n = args.len();
        assert_eq!(
            &args[n - 3..],
            [
                "--innodb-flush-log-at-trx-commit=1",
                "--sync-binlog=1",
                "--innodb-flush-log-at-trx-commit=2"
            ]
        );
    }

    #[test]
    fn the_models_are_the_ones_the_levels_promise_cluster_wide() {
        let mut g = galera();
        assert_eq!(g.consistency_models(), ["repeatable-read"]);
        g.isolation = Some(Isolation::ReadCommitted);
        assert_eq!(g.consistency_models(), ["read-committed"]);
        assert_eq!(Isolation::Serializable.model(), "repeatable-read");
        assert_eq!(Isolation::ReadUncommitted.sql(), "READ UNCOMMITTED");
        assert!(g.supports(Func::Txn) && g.supports(Func::Cas));
        assert!(!g.supports(Func::Append) && !g.supports(Func::Watch));
    }

    #[test]
    fn only_a_synced_node_of_the_primary_component_is_ready() {
        let vars = |ready: &str, cluster: &str, state: &str| {
            vec![
                ("wsrep_ready".to_string(), ready.to_string()),
                ("wsrep_cluster_status".to_string(), cluster.to_string()),
                ("wsrep_local_state_comment".to_string(), state.to_string()),
                ("wsrep_cluster_conf_id".to_string(), "3".to_string()),
            ]
        };
        let s = status_of("n1", &vars("ON", "Primary", "Synced")).unwrap();
        assert_eq!((s.role.as_str(), s.term), (ROLE_UNKNOWN, 3));
        assert!(status_of("n1", &vars("ON", "Primary", "Joined")).is_none());
        assert!(status_of("n1", &vars("OFF", "non-Primary", "Synced")).is_none());
        assert!(status_of("n1", &[]).is_none());
    }
}
