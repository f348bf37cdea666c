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
//! | read (set) | stream info (answered by the stream leader) gives the last sequence; an ephemeral pull consumer (deliver all, no acks) fetches the stream through that sequence, keeping the messages of `faultline.set.<key>`; `stream not found` (the meta leader says the stream does not exist): the empty set |
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
//! Durability: `--nats-sync-interval` sets JetStream's `sync_interval`
//! (`always`: fsync before every acknowledgement). nats-server 2.9 has no
//! such setting (its config parser refuses the field: `unknown field
//! "sync_interval"`), so on 2.9 the flag is refused and the server syncs
//! on its own background schedule.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::{HeaderMap, RequestErrorKind, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use faultline_workloads::{Func, Op, Reply};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::{
    on_path, root_cause, BoxFuture, ClientSpec, DiskProfile, Flag, NodeCommand, NodeStatus,
    Registered, System, SystemClient, SystemError,
};
use crate::cluster::NodeSpec;

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
    help: "NATS JetStream 2.9+: a key-value bucket and a stream (--nats-bin or PATH; --nats-sync-interval, --nats-read)",
    flags: &[Flag::NatsBin, Flag::NatsSyncInterval, Flag::NatsRead],
    build: |opts| {
        let bin = find_bin(opts.nats_bin.as_deref())?;
        let version = version_of(&bin)?;
        let sync = SyncInterval::parse(opts.nats_sync_interval.as_deref())?;
        sync.supported_by(version)?;
        let read = ReadPath::parse(opts.nats_read.as_deref())?;
        Ok(Arc::new(Nats::new(bin, version, sync, read)))
    },
};

/// The most replicas a JetStream stream may have.
pub const MAX_REPLICAS: usize = 5;
/// The key-value bucket of the register and list-append workloads.
pub const BUCKET: &str = "faultline";
/// The stream of the set workload.
pub const SET_STREAM: &str = "faultline-set";
/// The monitoring port of every node, on the node's own address.
pub const MONITOR_PORT: u16 = 8222;
/// How many read-then-update rounds an append tries before it fails.
const APPEND_ATTEMPTS: usize = 16;
/// The longest the creation of the bucket and the stream may take.
const CREATE_TIMEOUT: Duration = Duration::from_secs(5);
/// JetStream's error code for a failed expected-last-sequence check.
const WRONG_LAST_SEQUENCE: u64 = 10071;

/// JetStream's `sync_interval`: when the file store fsyncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncInterval {
    /// The server's own default (nothing written to the config).
    ServerDefault,
    /// fsync before every acknowledgement.
    Always,
    /// In the background, at this interval (a Go duration: `10s`, `500ms`).
    Every(String),
}

impl SyncInterval {
    /// `--nats-sync-interval`'s value: None is the server's default.
    pub fn parse(given: Option<&str>) -> Result<SyncInterval, SystemError> {
        let Some(v) = given else {
            return Ok(SyncInterval::ServerDefault);
        };
        if v == "always" {
            return Ok(SyncInterval::Always);
        }
        let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &v[digits.len()..];
        let number_ok = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
        if number_ok && ["ms", "s", "m", "h"].contains(&unit) {
            Ok(SyncInterval::Every(v.to_string()))
        } else {
            Err(SystemError::BadOption(format!(
                "--nats-sync-interval {v:?}: expected `always` or a duration such as 10s, 500ms, 2m"
            )))
        }
    }

    /// Refuses a setting the server at `version` does not take.
    pub fn supported_by(&self, version: Version) -> Result<(), SystemError> {
        if *self == SyncInterval::ServerDefault || version >= Version(2, 10, 0) {
            return Ok(());
        }
        Err(SystemError::BadOption(format!(
            "--nats-sync-interval: nats-server {version} has no sync_interval setting (its config parser \
             refuses the field; it came with 2.10), so it cannot be made to fsync before acknowledging; \
             run without the flag to test its own default, or pass --nats-bin a nats-server 2.10 or later"
        )))
    }

    /// The line of the `jetstream` block, if any.
    fn config_line(&self) -> Option<String> {
        match self {
            SyncInterval::ServerDefault => None,
            SyncInterval::Always => Some("sync_interval: always".into()),
            SyncInterval::Every(d) => Some(format!("sync_interval: \"{d}\"")),
        }
    }
}

/// How key-value reads are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Direct get: any replica answers (what NATS clients do for buckets
    /// that allow it, which their own bucket creation does).
    Direct,
    /// Message get: the stream leader answers.
    Leader,
}

impl ReadPath {
    /// `--nats-read`'s value: None is `direct`.
    pub fn parse(given: Option<&str>) -> Result<ReadPath, SystemError> {
        match given {
            None | Some("direct") => Ok(ReadPath::Direct),
            Some("leader") => Ok(ReadPath::Leader),
            Some(other) => Err(SystemError::BadOption(format!(
                "--nats-read {other:?}: expected direct or leader"
            ))),
        }
    }
}

/// A nats-server version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// The version in `nats-server --version`'s answer (`nats-server: v2.9.10`).
    pub fn parse(text: &str) -> Option<Version> {
        let word = text.split_whitespace().find(|w| w.starts_with('v'))?;
        let mut parts = word[1..]
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>());
        Some(Version(
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        ))
    }
}

/// nats-server: `given` (`--nats-bin`), `nats-server` on PATH, or Debian's
/// /usr/sbin/nats-server (not on an unprivileged user's PATH).
pub fn find_bin(given: Option<&Path>) -> Result<PathBuf, SystemError> {
    match given {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(SystemError::Missing(format!(
            "--nats-bin {}: no such file",
            p.display()
        ))),
        None => on_path("nats-server")
            .or_else(|| {
                let sbin = PathBuf::from("/usr/sbin/nats-server");
                sbin.is_file().then_some(sbin)
            })
            .ok_or_else(|| {
                SystemError::Missing(
                    "no nats-server on PATH or in /usr/sbin: install it with scripts/setup.sh \
                     (Debian's nats-server), or pass --nats-bin"
                        .into(),
                )
            }),
    }
}

/// The version of the nats-server at `bin`.
pub fn version_of(bin: &Path) -> Result<Version, SystemError> {
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| SystemError::Missing(format!("{} --version: {e}", bin.display())))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Version::parse(&text).ok_or_else(|| {
        SystemError::Missing(format!(
            "{} --version said {:?}: not a nats-server",
            bin.display(),
            text.trim()
        ))
    })
}

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

/// The stream behind the bucket.
fn kv_stream() -> String {
    format!("KV_{BUCKET}")
}

/// Where node `node`'s config lives: next to its log, out of its data
/// directory.
pub fn config_path(node: &NodeSpec) -> PathBuf {
    node.log_path.with_extension("conf")
}

/// The nats-server config of node `i` of `nodes`.
pub fn config(i: usize, nodes: &[NodeSpec], sync: &SyncInterval) -> String {
    let node = &nodes[i];
    let routes = nodes
        .iter()
        .map(|n| format!("\"nats-route://{}\"", n.peer_addr))
        .collect::<Vec<_>>()
        .join(", ");
    let sync_line = sync
        .config_line()
        .map(|l| format!("  {l}\n"))
        .unwrap_or_default();
    format!(
        "# nats-server config of {name}, written by faultline.\n\
         server_name: \"{name}\"\n\
         listen: \"{client}\"\n\
         http: \"{ip}:{MONITOR_PORT}\"\n\
         cluster {{\n  name: \"faultline\"\n  listen: \"{peer}\"\n  no_advertise: true\n  routes: [{routes}]\n}}\n\
         jetstream {{\n  store_dir: \"{store}\"\n{sync_line}}}\n",
        name = node.name,
        client = node.http_addr,
        ip = node.ip,
        peer = node.peer_addr,
        store = node.data_dir.display(),
    )
}

/// The JSON config of the bucket's stream, as NATS's clients make it.
fn kv_config(replicas: usize) -> Value {
    json!({
        "name": kv_stream(),
        "subjects": [format!("$KV.{BUCKET}.>")],
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": 1,
        "max_msg_size": -1,
        "storage": "file",
        "discard": "new",
        "num_replicas": replicas,
        "duplicate_window": 120_000_000_000u64,
        "allow_rollup_hdrs": true,
        "deny_delete": true,
        "deny_purge": false,
        "allow_direct": true,
        "mirror_direct": false,
    })
}

/// The JSON config of the set stream.
fn set_config(replicas: usize) -> Value {
    json!({
        "name": SET_STREAM,
        "subjects": ["faultline.set.>"],
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msg_size": -1,
        "storage": "file",
        "discard": "old",
        "num_replicas": replicas,
        "duplicate_window": 120_000_000_000u64,
    })
}

/// Connects to `node`'s client port, to it alone.
async fn connect(node: &NodeSpec, timeout: Duration) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .ignore_discovered_servers()
        .connection_timeout(timeout)
        .request_timeout(Some(timeout))
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connect(format!("nats://{}", node.http_addr))
        .await
        .map_err(|e| format!("connect: {}", root_cause(&e)))
}

/// Creates the bucket and the set stream with `replicas` replicas each.
async fn create_streams(node: &NodeSpec, replicas: usize) -> Result<(), String> {
    let client = connect(node, CREATE_TIMEOUT).await?;
    for (name, config) in [
        (kv_stream(), kv_config(replicas)),
        (SET_STREAM.to_string(), set_config(replicas)),
    ] {
        let answer = client
            .request(
                format!("$JS.API.STREAM.CREATE.{name}"),
                config.to_string().into_bytes().into(),
            )
            .await
            .map_err(|e| format!("creating {name}: {e}"))?;
        let body: Value = serde_json::from_slice(&answer.payload).unwrap_or(Value::Null);
        if let Some(err) = body.get("error") {
            return Err(format!("creating {name}: {err}"));
        }
    }
    Ok(())
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

    fn status<'a>(
        &'a self,
        http: &'a reqwest::Client,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(async move {
            let url = format!(
                "http://{}:{MONITOR_PORT}/jsz?accounts=true&streams=true",
                node.ip
            );
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

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        Box::new(NatsClient {
            node: node.clone(),
            timeout: spec.timeout,
            read: self.read,
            conn: None,
            set_in_use: self.set_in_use.clone(),
        })
    }
}

impl Nats {
    /// The server's version, as `nats-server --version` gave it.
    pub fn version(&self) -> Version {
        self.version
    }
}

/// A client of one nats-server.
struct NatsClient {
    node: NodeSpec,
    timeout: Duration,
    read: ReadPath,
    conn: Option<async_nats::Client>,
    set_in_use: Arc<AtomicBool>,
}

impl SystemClient for NatsClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let timeout = self.timeout;
            match tokio::time::timeout(timeout, self.perform(op)).await {
                Ok(reply) => reply,
                Err(_) if op.f.is_read() => Reply::Fail("timeout".into()),
                Err(_) => Reply::Info("timeout".into()),
            }
        })
    }
}

impl NatsClient {
    async fn perform(&mut self, op: &Op) -> Reply {
        if self.conn.is_none() {
            match connect(&self.node, self.timeout).await {
                Ok(c) => self.conn = Some(c),
                // Nothing was sent.
                Err(e) => return Reply::Fail(e),
            }
        }
        let Some(conn) = self.conn.as_ref() else {
            return Reply::Fail("not connected".into());
        };
        let js = Js {
            conn,
            read: self.read,
        };
        let key = op.key_or_default();
        let done = match op.f {
            Func::Read if self.set_in_use.load(Ordering::Relaxed) => js.read_set(key).await,
            Func::Read => js
                .get(key)
                .await
                .map(|e| e.map(|(v, _)| v).unwrap_or(Value::Null)),
            Func::Write => js
                .publish(&kv_subject(key), &op.value, None)
                .await
                .map(|_| op.value.clone()),
            Func::Cas => {
                let (from, to) = op.cas_values();
                js.cas(key, from, to).await.map(|()| op.value.clone())
            }
            Func::Append => js.append(key, &op.value).await.map(|()| op.value.clone()),
            Func::Add => {
                self.set_in_use.store(true, Ordering::Relaxed);
                js.publish(&set_subject(key), &op.value, None)
                    .await
                    .map(|_| op.value.clone())
            }
            Func::Echo | Func::Generate | Func::Broadcast => Err(op.f.unsupported("nats")),
        };
        match done {
            Ok(value) => Reply::Ok(value),
            Err(reply) => reply,
        }
    }
}

/// The subject of key `key` in the bucket.
fn kv_subject(key: &str) -> String {
    format!("$KV.{BUCKET}.{key}")
}

/// The subject of the set called `key`.
fn set_subject(key: &str) -> String {
    format!("faultline.set.{key}")
}

/// A value as stored: its JSON text.
fn encode(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// A stored value back (text that is not JSON comes back as a string).
fn decode(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Whether headers (as text) mark a key-value entry deleted or purged.
fn is_tombstone(headers: &str) -> bool {
    headers.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("kv-operation:") && (l.contains("del") || l.contains("purge"))
    })
}

/// What an operation gives back, or the reply to give at once.
type Outcome<T> = Result<T, Reply>;

/// JetStream through one connection.
struct Js<'a> {
    conn: &'a async_nats::Client,
    read: ReadPath,
}

impl Js<'_> {
    /// The last entry of `key`: its value and revision; None when the key
    /// was never written. Any failure is definite: a read changes nothing.
    async fn get(&self, key: &str) -> Outcome<Option<(Value, u64)>> {
        let request = json!({ "last_by_subj": kv_subject(key) }).to_string();
        let api = match self.read {
            ReadPath::Direct => format!("$JS.API.DIRECT.GET.{}", kv_stream()),
            ReadPath::Leader => format!("$JS.API.STREAM.MSG.GET.{}", kv_stream()),
        };
        let answer = self
            .conn
            .request(api, request.into_bytes().into())
            .await
            .map_err(|e| Reply::Fail(request_error(&e)))?;
        match self.read {
            ReadPath::Direct => direct_entry(&answer),
            ReadPath::Leader => leader_entry(&answer.payload),
        }
        .map_err(Reply::Fail)
    }

    /// Publishes `value` to `subject` and waits for JetStream's ack; with
    /// `expected`, only if the subject's last sequence is that. The stored
    /// message's sequence.
    async fn publish(&self, subject: &str, value: &Value, expected: Option<u64>) -> Outcome<u64> {
        let mut headers = HeaderMap::new();
        if let Some(rev) = expected {
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                rev.to_string().as_str(),
            );
        }
        let answer = self
            .conn
            .request_with_headers(subject.to_string(), headers, encode(value).into())
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                return Err(Reply::Fail(
                    "no responders: no stream took the message".into(),
                ))
            }
            Err(e) => return Err(Reply::Info(request_error(&e))),
        };
        publish_outcome(&answer.payload)
    }

    async fn cas(&self, key: &str, from: &Value, to: &Value) -> Outcome<()> {
        match self.get(key).await? {
            None => Err(Reply::Fail("no value".into())),
            Some((value, _)) if value != *from => Err(Reply::Fail("value differs".into())),
            Some((_, rev)) => self
                .publish(&kv_subject(key), to, Some(rev))
                .await
                .map(|_| ()),
        }
    }

    async fn append(&self, key: &str, element: &Value) -> Outcome<()> {
        for _ in 0..APPEND_ATTEMPTS {
            // Every earlier round definitely failed: a failed read here
            // leaves the append definitely not done.
            let (mut list, rev) = match self.get(key).await? {
                Some((Value::Array(items), rev)) => (items, rev),
                Some((Value::Null, rev)) => (Vec::new(), rev),
                Some((other, _)) => {
                    return Err(Reply::Fail(format!("append to a non-list value {other}")))
                }
                None => (Vec::new(), 0),
            };
            list.push(element.clone());
            match self
                .publish(&kv_subject(key), &Value::Array(list), Some(rev))
                .await
            {
                Ok(_) => return Ok(()),
                Err(Reply::Fail(e)) if e.contains("wrong last sequence") => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Reply::Fail(format!(
            "append: the key changed under {APPEND_ATTEMPTS} attempts"
        )))
    }

    /// Every element added to the set `key`, in stream order, through
    /// the last sequence the stream leader reported when the read began.
    async fn read_set(&self, key: &str) -> Outcome<Value> {
        let fail = |what: &str, e: &dyn std::fmt::Display| Reply::Fail(format!("{what}: {e}"));
        let js = async_nats::jetstream::new(self.conn.clone());
        // Stream info is answered by the stream leader; `stream not found`
        // by the meta leader, for whom the stream, and every element in
        // it, does not exist.
        let stream = match js.get_stream(SET_STREAM).await {
            Ok(stream) => stream,
            Err(e) if stream_not_found(e.kind()) => return Ok(Value::Array(Vec::new())),
            Err(e) => return Err(fail("stream info", &e)),
        };
        let last = stream.cached_info().state.last_sequence;
        if last == 0 {
            return Ok(Value::Array(Vec::new()));
        }
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| fail("consumer", &e))?;
        let name = consumer.cached_info().name.clone();
        let subject = set_subject(key);
        let mut elements = Vec::new();
        let read = async {
            let mut seen = 0;
            while seen < last {
                let mut batch = consumer
                    .fetch()
                    .max_messages((last - seen).min(1_000) as usize)
                    .expires(Duration::from_millis(500))
                    .messages()
                    .await
                    .map_err(|e| fail("fetch", &e))?;
                while let Some(msg) = batch.next().await {
                    let msg = msg.map_err(|e| fail("fetch", &e))?;
                    seen = msg.info().map_err(|e| fail("fetch", &e))?.stream_sequence;
                    if msg.subject.as_str() == subject {
                        elements.push(decode(&msg.payload));
                    }
                }
            }
            Ok(())
        }
        .await;
        // Ephemeral: it would go away by itself after its inactive threshold.
        let _ = stream.delete_consumer(&name).await;
        read.map(|()| Value::Array(elements))
    }
}

/// Whether JetStream said the stream does not exist.
fn stream_not_found(kind: async_nats::jetstream::context::GetStreamErrorKind) -> bool {
    use async_nats::jetstream::context::GetStreamErrorKind;
    use async_nats::jetstream::ErrorCode;
    matches!(kind, GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// The entry in a direct get's answer (status 404: none).
fn direct_entry(answer: &async_nats::Message) -> Result<Option<(Value, u64)>, String> {
    match answer.status {
        Some(StatusCode::NOT_FOUND) => return Ok(None),
        Some(s) if s != StatusCode::OK => {
            return Err(format!(
                "direct get: {s} {}",
                answer.description.clone().unwrap_or_default()
            ))
        }
        _ => {}
    }
    let headers = answer.headers.clone().unwrap_or_default();
    let seq = headers
        .get("Nats-Sequence")
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .ok_or("direct get: no Nats-Sequence header")?;
    let tombstone = headers
        .get("KV-Operation")
        .is_some_and(|v| is_tombstone(&format!("KV-Operation: {}", v.as_str())));
    let value = if tombstone {
        Value::Null
    } else {
        decode(&answer.payload)
    };
    Ok(Some((value, seq)))
}

/// The entry in a message get's answer (error 404: none).
fn leader_entry(payload: &[u8]) -> Result<Option<(Value, u64)>, String> {
    let body: Value = serde_json::from_slice(payload).map_err(|e| format!("message get: {e}"))?;
    if let Some(err) = body.get("error") {
        if err["code"] == 404 {
            return Ok(None);
        }
        return Err(format!("message get: {err}"));
    }
    let msg = &body["message"];
    let seq = msg["seq"].as_u64().ok_or("message get: no seq")?;
    let raw = |field: &str| {
        msg[field]
            .as_str()
            .and_then(|d| B64.decode(d).ok())
            .unwrap_or_default()
    };
    let value = if is_tombstone(&String::from_utf8_lossy(&raw("hdrs"))) {
        Value::Null
    } else {
        decode(&raw("data"))
    };
    Ok(Some((value, seq)))
}

/// What JetStream's answer to a publish means: its sequence (`ok`), a
/// definite failure (`wrong last sequence`), or unknown (any other error).
fn publish_outcome(payload: &[u8]) -> Outcome<u64> {
    let body: Value =
        serde_json::from_slice(payload).map_err(|e| Reply::Info(format!("unreadable ack: {e}")))?;
    if let Some(err) = body.get("error") {
        let text = err["description"].as_str().unwrap_or("error").to_string();
        return Err(if err["err_code"] == WRONG_LAST_SEQUENCE {
            Reply::Fail(text)
        } else {
            Reply::Info(text)
        });
    }
    body["seq"]
        .as_u64()
        .ok_or_else(|| Reply::Info(format!("ack without a sequence: {body}")))
}

fn request_error(e: &async_nats::RequestError) -> String {
    match e.kind() {
        RequestErrorKind::TimedOut => "timeout".into(),
        RequestErrorKind::NoResponders => "no responders".into(),
        _ => root_cause(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::layout;

    #[test]
    fn the_config_names_every_route_and_the_nodes_own_addresses() {
        let nodes = layout(3, Path::new("/tmp/run"), false);
        let text = config(1, &nodes, &SyncInterval::ServerDefault);
        for part in [
            "server_name: \"n2\"",
            "listen: \"127.0.0.12:8001\"",
            "http: \"127.0.0.12:8222\"",
            "listen: \"127.0.0.12:7001\"",
            "no_advertise: true",
            "routes: [\"nats-route://127.0.0.11:7001\", \"nats-route://127.0.0.12:7001\", \"nats-route://127.0.0.13:7001\"]",
            "store_dir: \"/tmp/run/data/n2\"",
        ] {
            assert!(text.contains(part), "{part} missing:\n{text}");
        }
        assert!(!text.contains("sync_interval"), "{text}");
        let always = config(0, &nodes, &SyncInterval::Always);
        assert!(always.contains("  sync_interval: always\n"), "{always}");
        let every = config(0, &nodes, &SyncInterval::Every("10s".into()));
        assert!(every.contains("sync_interval: \"10s\""), "{every}");
    }

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
    fn sync_intervals_parse_and_2_9_refuses_any_but_its_own() {
        assert_eq!(
            SyncInterval::parse(None).unwrap(),
            SyncInterval::ServerDefault
        );
        assert_eq!(
            SyncInterval::parse(Some("always")).unwrap(),
            SyncInterval::Always
        );
        assert_eq!(
            SyncInterval::parse(Some("500ms")).unwrap(),
            SyncInterval::Every("500ms".into())
        );
        assert!(SyncInterval::parse(Some("soon")).is_err());
        assert!(SyncInterval::parse(Some("10")).is_err());
        let old = Version(2, 9, 10);
        assert!(SyncInterval::ServerDefault.supported_by(old).is_ok());
        let err = SyncInterval::Always
            .supported_by(old)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nats-server 2.9.10 has no sync_interval"),
            "{err}"
        );
        assert!(SyncInterval::Always.supported_by(Version(2, 10, 0)).is_ok());
    }

    #[test]
    fn versions_parse_from_the_servers_answer() {
        assert_eq!(
            Version::parse("nats-server: v2.9.10\n"),
            Some(Version(2, 9, 10))
        );
        assert_eq!(
            Version::parse("nats-server: v2.10.0-beta.1"),
            Some(Version(2, 10, 0))
        );
        assert_eq!(Version::parse("something else"), None);
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

    #[test]
    fn acks_errors_and_entries_map_to_outcomes() {
        assert_eq!(publish_outcome(br#"{"stream":"s","seq":7}"#), Ok(7));
        let wrong =
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}"#;
        assert!(matches!(publish_outcome(wrong), Err(Reply::Fail(_))));
        let other = br#"{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}"#;
        assert!(matches!(publish_outcome(other), Err(Reply::Info(_))));
        let none = br#"{"error":{"code":404,"err_code":10037,"description":"no message found"}}"#;
        assert_eq!(leader_entry(none), Ok(None));
        let data = B64.encode(b"[1,2]");
        let found =
            format!(r#"{{"message":{{"subject":"$KV.faultline.l1","seq":9,"data":"{data}"}}}}"#);
        assert_eq!(leader_entry(found.as_bytes()), Ok(Some((json!([1, 2]), 9))));
        assert!(is_tombstone("NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"));
        assert!(!is_tombstone("NATS/1.0\r\nOther: DEL\r\n"));
    }
}
