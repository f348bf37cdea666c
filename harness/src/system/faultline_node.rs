//! faultline-node, the Raft key-value node shipped with faultline: its
//! command line, and its HTTP API (which the `http` system speaks too).
//!
//! | operation | request | ok | fail |
//! |---|---|---|---|
//! | read | `GET /kv/{k}` | 200 `{"value": v}`; 404: `null` | |
//! | write | `PUT /kv/{k}` `{"value": v}` | 200 | |
//! | cas | `POST /kv/{k}/cas` `{"from": a, "to": b}` | 200 | 409 |
//! | add, append | `POST /kv/{k}/append` `{"value": v}` | 200 | |
//! | txn | `POST /txn` `{"txn": [[f, k, v], ...]}` | 200 `{"txn": [...]}`: each read with what it saw | 409 (a key of the other kind) |
//!
//! Any other answer with a body `{"error": CODE, "definite": BOOL}` is a
//! failure when definite and unknown otherwise; a connection refused before
//! anything was sent fails; a timeout or a connection lost after sending is
//! unknown. `GET /status` gives the role, term and log indexes;
//! `PUT`/`DELETE /debug/failpoints/{name}` arm and disarm failpoints (nodes
//! started with `--failpoints`). Replicas: `GET /state` gives a node's whole
//! state machine and the index it was applied up to, in one answer of the
//! node's Raft loop (atomic, never forwarded): a node's keys are compared
//! without knowing which ones clients touched, and a key only one replica
//! holds shows too; the position is its `applied_index`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_workloads::{Func, Op, Reply};
use serde_json::{json, Value};

use super::replicas::{Position, ReplicaError, ReplicaState, Replicas};
use super::transport::HttpTransport;
use super::{
    root_cause, BoxFuture, ClientSpec, DiskProfile, Failpoints, NodeCommand, NodeStatus,
    Registered, Status, System, SystemClient, SystemError,
};
use faultline_platform::cluster::NodeSpec;

/// The name `--system` takes.
pub const NAME: &str = "faultline-node";

/// The registry entry of `--system faultline-node`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: DiskProfile {
        data_files: &["wal/*.log", "snap/*.snap"],
        power_loss: "survives: every acknowledged write was fdatasynced to the WAL first (--bug no-fsync skips it)",
        corruption: "recovers (protocol-aware): a CRC per WAL record and snapshot, and a record of what was made durable (two checksummed slots at the start of each WAL segment, synced with the records); damage anywhere in the WAL or snapshot is set aside and the node restarts as a non-voting learner until a leader gives back the entries it had acknowledged; a torn tail it never acknowledged is cut; damage to a majority stops the node naming file, offset and the missing entries",
    },
    help: "the Raft key-value node shipped with faultline (found next to faultline, or --node-bin)",
    flags: <FaultlineNodeArgs as clap::Args>::augment_args,
    build: |opts| {
        let args: FaultlineNodeArgs = opts.parse()?;
        Ok(Arc::new(FaultlineNode::new(
            find_bin(args.node_bin.as_deref())?,
            args.node_args,
        )))
    },
};

/// The flags of `--system faultline-node`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FaultlineNodeArgs {
    /// The node binary (default: faultline-node next to faultline).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// An extra argument for every node, e.g. `--node-arg=--bug=stale-read` (repeatable).
    #[arg(long = "node-arg", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
}

/// The id of `--node-arg` (a scenario's `node_args` go before the user's).
pub const NODE_ARGS: &str = "node_args";

/// faultline-node run from `bin`, with `extra` arguments for every node.
#[derive(Debug, Clone)]
pub struct FaultlineNode {
    bin: PathBuf,
    extra: Vec<String>,
    api: NodeApi,
}

impl FaultlineNode {
    /// The node at `bin`, every node given `extra` arguments too.
    pub fn new(bin: PathBuf, extra: Vec<String>) -> FaultlineNode {
        FaultlineNode {
            bin,
            extra,
            api: NodeApi::default(),
        }
    }
}

/// The `--peers` list of faultline-node: `n1=ADDR,n2=ADDR,...`.
pub fn peers(nodes: &[NodeSpec]) -> String {
    nodes
        .iter()
        .map(|s| format!("{}={}", s.name, s.peer_addr))
        .collect::<Vec<_>>()
        .join(",")
}

/// faultline-node's arguments for `node` of `nodes`, then `extra`.
pub fn args(node: &NodeSpec, nodes: &[NodeSpec], extra: &[String]) -> Vec<String> {
    let mut a = vec![
        "--id".to_string(),
        node.name.clone(),
        "--peer-addr".into(),
        node.peer_addr.to_string(),
        "--http-addr".into(),
        node.http_addr.to_string(),
        "--peers".into(),
        peers(nodes),
        "--data-dir".into(),
        node.data_dir.display().to_string(),
        // Scenarios may arm crashes at named moments (harmless otherwise).
        "--failpoints".into(),
    ];
    a.extend(extra.iter().cloned());
    a
}

impl System for FaultlineNode {
    fn name(&self) -> &'static str {
        NAME
    }

    fn program(&self) -> String {
        self.bin.display().to_string()
    }

    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
        NodeCommand {
            program: self.bin.clone(),
            args: args(&nodes[i], nodes, &self.extra),
        }
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        self.api.client(node, spec)
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(&self.api)
    }

    fn status_is_exact(&self) -> bool {
        true
    }

    fn failpoints(&self) -> Option<&dyn Failpoints> {
        Some(&self.api)
    }

    fn replicas(&self) -> Option<&dyn Replicas> {
        Some(&self.api)
    }
}

/// faultline-node's HTTP API as the harness uses it (clients, status,
/// failpoints, replicas), through one HTTP client: what the `faultline-node` and
/// `http` systems share.
#[derive(Debug, Clone, Default)]
pub struct NodeApi {
    http: HttpTransport,
    local_reads: bool,
}

impl NodeApi {
    /// The API with every read served by the node's local replica
    /// (`GET /kv/{k}?stale=true`), stale by design; the rest as usual.
    pub fn local_reads() -> NodeApi {
        NodeApi {
            local_reads: true,
            ..NodeApi::default()
        }
    }

    /// A client of `node`'s API.
    pub fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        Box::new(HttpClient {
            http: self.http.client().cloned(),
            base: format!("http://{}", node.http_addr),
            timeout: spec.timeout,
            local_reads: self.local_reads,
        })
    }
}

impl Status for NodeApi {
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(async move { status(self.http.client().ok()?, node, timeout).await })
    }
}

impl Failpoints for NodeApi {
    fn set_failpoint<'a>(
        &'a self,
        node: &'a NodeSpec,
        name: &'a str,
        armed: bool,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { set_failpoint(self.http.client()?, node, name, armed).await })
    }
}

impl Replicas for NodeApi {
    fn position<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Position, ReplicaError>> {
        Box::pin(async move {
            let body = get_json(self.http.client()?, node, "/status", timeout).await?;
            Ok(Position::of(&[("applied_index", applied_index(&body)?)]))
        })
    }

    fn state<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ReplicaState, ReplicaError>> {
        Box::pin(async move {
            let body = get_json(self.http.client()?, node, "/state", timeout).await?;
            local_state(&body)
        })
    }
}

/// A node's `applied_index` in a `/status` or `/state` answer (a node
/// without one speaks another API).
fn applied_index(body: &Value) -> Result<u64, ReplicaError> {
    body["applied_index"]
        .as_u64()
        .ok_or_else(|| ReplicaError::Unsupported(format!("no applied_index in {body}")))
}

/// A node's `GET /state` answer as a replica's state.
fn local_state(body: &Value) -> Result<ReplicaState, ReplicaError> {
    let kv = body["kv"]
        .as_object()
        .ok_or_else(|| ReplicaError::Unsupported(format!("no kv in {body}")))?;
    Ok(ReplicaState {
        position: Position::of(&[("applied_index", applied_index(body)?)]),
        digest: None,
        kv: kv.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}

/// `GET path` of `node`, its JSON answer; Err says why there is none (a
/// 404: the node has no such request).
async fn get_json(
    http: &reqwest::Client,
    node: &NodeSpec,
    path: &str,
    timeout: Duration,
) -> Result<Value, ReplicaError> {
    let url = format!("http://{}{path}", node.http_addr);
    let resp = http
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| format!("{path}: {}", root_cause(&e)))?;
    match resp.status().as_u16() {
        200 => {}
        404 => return Err(ReplicaError::Unsupported(format!("no {path} (404)"))),
        status => return Err(format!("{path}: status {status}").into()),
    }
    Ok(resp
        .json()
        .await
        .map_err(|e| format!("{path}: {}", root_cause(&e)))?)
}

/// A client of one node speaking faultline-node's HTTP API.
#[derive(Debug, Clone)]
struct HttpClient {
    /// The system's HTTP client (Err: why it could not be built).
    http: Result<reqwest::Client, String>,
    base: String,
    timeout: Duration,
    local_reads: bool,
}

impl SystemClient for HttpClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            match &self.http {
                Ok(http) => perform(http, &self.base, op, self.timeout, self.local_reads).await,
                // Nothing was sent.
                Err(e) => Reply::Fail(e.clone()),
            }
        })
    }
}

/// The HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Put,
    Post,
}

/// The request that performs `op`: method, path, JSON body. A read (and a
/// read-only transaction) asks the local replica with `local_reads`.
fn request(op: &Op, local_reads: bool) -> (Method, String, Option<Value>) {
    let path = format!("/kv/{}", op.key_or_default());
    match op.f {
        Func::Txn => {
            let stale = if local_reads { "?stale=true" } else { "" };
            (
                Method::Post,
                format!("/txn{stale}"),
                Some(json!({ "txn": op.value })),
            )
        }
        Func::Read if local_reads => (Method::Get, format!("{path}?stale=true"), None),
        Func::Read | Func::Echo | Func::Generate | Func::Broadcast | Func::Watch => {
            (Method::Get, path, None)
        }
        Func::Write => (Method::Put, path, Some(json!({ "value": op.value }))),
        Func::Cas => {
            let (from, to) = op.cas_values();
            (
                Method::Post,
                format!("{path}/cas"),
                Some(json!({ "from": from, "to": to })),
            )
        }
        Func::Add | Func::Append => (
            Method::Post,
            format!("{path}/append"),
            Some(json!({ "value": op.value })),
        ),
    }
}

/// The completion of `op` from the node's answer (`status`, JSON `body` or
/// `null`).
fn reply(op: &Op, status: u16, body: &Value) -> Reply {
    match (op.f, status) {
        (Func::Read, 200) => Reply::Ok(body.get("value").cloned().unwrap_or(Value::Null)),
        (Func::Read, 404) => Reply::Ok(Value::Null),
        (Func::Txn, 200) => Reply::Ok(body.get("txn").cloned().unwrap_or(Value::Null)),
        (_, 200) => Reply::Ok(op.value.clone()),
        (Func::Cas, 409) => Reply::Fail("value differs".into()),
        _ => match error_body(body) {
            Some((code, true)) => Reply::Fail(code),
            Some((code, false)) => Reply::Info(code),
            None => Reply::Info(format!("unexpected status {status}: {body}")),
        },
    }
}

/// Sends `op` to the node whose API is at `base` (`http://ip:port`) and
/// reads the answer, giving up (`info`) after `timeout`; reads from the
/// node's local replica with `local_reads`.
pub async fn perform(
    http: &reqwest::Client,
    base: &str,
    op: &Op,
    timeout: Duration,
    local_reads: bool,
) -> Reply {
    if matches!(
        op.f,
        Func::Echo | Func::Generate | Func::Broadcast | Func::Watch
    ) {
        return op.f.unsupported("faultline-node");
    }
    let (method, path, body) = request(op, local_reads);
    let url = format!("{base}{path}");
    let builder = match method {
        Method::Get => http.get(&url),
        Method::Put => http.put(&url),
        Method::Post => http.post(&url),
    };
    let builder = match &body {
        Some(body) => builder.json(body),
        None => builder,
    }
    .timeout(timeout);
    let resp = match builder.send().await {
        Ok(r) => r,
        Err(e) => return transport_error(&e),
    };
    let status = resp.status().as_u16();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return transport_error(&e),
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    reply(op, status, &body)
}

/// `{"error": CODE, "definite": BOOL}`.
fn error_body(body: &Value) -> Option<(String, bool)> {
    let code = body.get("error")?;
    let code = code
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| code.to_string());
    let definite = body
        .get("definite")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Some((code, definite))
}

/// A request that got no answer: refused before sending is a definite
/// failure, anything else unknown.
fn transport_error(e: &reqwest::Error) -> Reply {
    if e.is_timeout() {
        Reply::Info("timeout".into())
    } else if e.is_connect() {
        Reply::Fail(format!("connect: {}", root_cause(e)))
    } else {
        Reply::Info(format!("connection lost: {}", root_cause(e)))
    }
}

/// Asks one node for its `GET /status` (None when it does not answer).
async fn status(http: &reqwest::Client, node: &NodeSpec, timeout: Duration) -> Option<NodeStatus> {
    let resp = http
        .get(format!("http://{}/status", node.http_addr))
        .timeout(timeout)
        .send()
        .await
        .ok()?;
    if !resp.status().is_success() {
        return None;
    }
    resp.json().await.ok()
}

/// Arms (`PUT`) or disarms (`DELETE`) failpoint `name` on `node`.
async fn set_failpoint(
    http: &reqwest::Client,
    node: &NodeSpec,
    name: &str,
    armed: bool,
) -> Result<(), String> {
    let url = format!("http://{}/debug/failpoints/{name}", node.http_addr);
    let req = if armed {
        http.put(url)
    } else {
        http.delete(url)
    };
    match req.timeout(Duration::from_millis(500)).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!(
            "failpoint {name} on {}: status {}",
            node.name,
            r.status().as_u16()
        )),
        Err(e) => Err(format!(
            "failpoint {name} on {}: {}",
            node.name,
            root_cause(&e)
        )),
    }
}

/// faultline-node: `given` (`--node-bin`), or next to this executable.
pub fn find_bin(given: Option<&Path>) -> Result<PathBuf, SystemError> {
    if let Some(p) = given {
        if !p.is_file() {
            return Err(SystemError::Missing(format!(
                "--node-bin {}: no such file",
                p.display()
            )));
        }
        return Ok(p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
    }
    let exe = std::env::current_exe()
        .map_err(|e| SystemError::Missing(format!("locating the faultline executable: {e}")))?;
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    // Integration tests run from target/<profile>/deps.
    for candidate in [dir.join("faultline-node"), dir.join("../faultline-node")] {
        if candidate.is_file() {
            return Ok(candidate.canonicalize().unwrap_or(candidate));
        }
    }
    Err(SystemError::Missing(format!(
        "cannot find faultline-node next to {}; build it with `cargo build --release -p faultline-node`, or pass --node-bin",
        exe.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_gets_its_addresses_peers_and_the_extra_arguments() {
        let specs = faultline_platform::cluster::layout(3, std::path::Path::new("/tmp/run"), true);
        let node = FaultlineNode::new("/bin/node".into(), vec!["--bug=x".into()]);
        let line = node.command(0, &specs).to_vec().join(" ");
        assert!(line.contains("--id n1 --peer-addr 127.0.0.11:7001 --http-addr 127.0.0.11:8001 --peers n1=127.0.0.11:7001,n2=127.0.0.12:7001,n3=127.0.0.13:7001"), "{line}");
        assert!(line.ends_with("--bug=x"), "{line}");
    }

    #[test]
    fn operations_map_to_the_node_api_and_back() {
        let cas = Op::new(Func::Cas, "r1", json!([1, 2]));
        let (method, path, body) = request(&cas, false);
        assert_eq!(method, Method::Post);
        assert_eq!(path, "/kv/r1/cas");
        assert_eq!(body, Some(json!({"from": 1, "to": 2})));
        assert_eq!(reply(&cas, 200, &Value::Null), Reply::Ok(json!([1, 2])));
        assert!(matches!(reply(&cas, 409, &Value::Null), Reply::Fail(_)));
        let read = Op::new(Func::Read, "r1", Value::Null);
        assert_eq!(reply(&read, 404, &Value::Null), Reply::Ok(Value::Null));
        assert_eq!(reply(&read, 200, &json!({"value": 3})), Reply::Ok(json!(3)));
        assert!(matches!(reply(&read, 500, &Value::Null), Reply::Info(_)));
        let write = Op::new(Func::Write, "r1", json!(4));
        assert_eq!(request(&write, false).2, Some(json!({"value": 4})));
        let add = Op::new(Func::Add, "set", json!(7));
        assert_eq!(request(&add, false).1, "/kv/set/append");
        let refused = json!({"error": "not-leader", "definite": true});
        assert_eq!(
            reply(&write, 503, &refused),
            Reply::Fail("not-leader".into())
        );
        let unsure = json!({"error": "timeout", "definite": false});
        assert_eq!(reply(&write, 503, &unsure), Reply::Info("timeout".into()));
    }

    #[test]
    fn transactions_go_to_the_txn_endpoint_and_come_back_completed() {
        let txn = Op {
            f: Func::Txn,
            key: None,
            value: json!([["append", "k1", 3], ["r", "k2", null]]),
        };
        let (method, path, body) = request(&txn, false);
        assert_eq!((method, path.as_str()), (Method::Post, "/txn"));
        assert_eq!(
            body,
            Some(json!({"txn": [["append", "k1", 3], ["r", "k2", null]]}))
        );
        assert_eq!(request(&txn, true).1, "/txn?stale=true");
        let done = json!([["append", "k1", 3], ["r", "k2", [1, 2]]]);
        assert_eq!(reply(&txn, 200, &json!({ "txn": done })), Reply::Ok(done));
        let mismatch = json!({"error": "type-mismatch", "definite": true});
        assert_eq!(
            reply(&txn, 409, &mismatch),
            Reply::Fail("type-mismatch".into())
        );
        for (status, unsure) in [
            (503, json!({"error": "timeout", "definite": false})),
            (503, json!({"error": "unknown", "definite": false})),
            (500, Value::Null),
        ] {
            assert!(
                matches!(reply(&txn, status, &unsure), Reply::Info(_)),
                "{unsure}"
            );
        }
        let refused = json!({"error": "no-leader", "definite": true});
        assert_eq!(reply(&txn, 503, &refused), Reply::Fail("no-leader".into()));
    }

    #[test]
    fn a_nodes_state_answer_is_its_replicas_keys_at_its_applied_index() {
        let body = json!({"id": "n2", "applied_index": 17, "kv": {"r1": 3, "l2": [1, 2]}});
        let state = local_state(&body).unwrap();
        assert_eq!(state.position, Position::of(&[("applied_index", 17)]));
        assert_eq!(state.kv["l2"], json!([1, 2]));
        assert_eq!(state.kv.len(), 2);
        assert!(local_state(&json!({"applied_index": 1})).is_err());
        assert!(local_state(&json!({"kv": {}})).is_err());
    }

    #[test]
    fn a_refused_connection_is_a_definite_failure() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing listens on this port of the loopback range.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let transport = HttpTransport::new();
        let http = transport.client().unwrap();
        let op = Op::new(Func::Write, "r0", json!(1));
        let base = format!("http://{addr}");
        let reply = rt.block_on(perform(http, &base, &op, Duration::from_secs(2), false));
        assert!(
            matches!(reply, Reply::Fail(ref e) if e.contains("connect")),
            "{reply:?}"
        );
    }
}
