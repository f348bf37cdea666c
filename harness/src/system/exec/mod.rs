//! `exec`: any system, in any language, through a client program of yours.
//!
//! The nodes start from `--node-cmd` exactly as for the [`http`](super::http)
//! system (same placeholders). Each client of the run starts its own
//! long-running client program from `--client-cmd`, with the placeholders
//! `{node}` (or `{id}`: n1, n2, ...), `{http_addr}`, `{peer_addr}`,
//! `{data_dir}` of the node it is bound to, `{client}` (its name: c0, c1,
//! ...) and `{timeout_ms}` (the request timeout) filled in; the environment
//! variable `FAULTLINE_TIMEOUT_MS` holds the timeout too. The program runs in
//! a process group of its own and reads one JSON request a line on stdin,
//! answering each with one JSON line on stdout, in Maelstrom's client
//! vocabulary (`msg_id` / `in_reply_to` pair them; stderr is free for logs):
//!
//! | operation | request | answer |
//! |---|---|---|
//! | read | `{"type":"read","key":k}` | `{"type":"read_ok","value":v}` (the whole list for set and list-append keys) |
//! | write | `{"type":"write","key":k,"value":v}` | `{"type":"write_ok"}` |
//! | cas | `{"type":"cas","key":k,"from":a,"to":b}` | `{"type":"cas_ok"}` |
//! | add (set) | `{"type":"add","key":k,"element":v}` | `{"type":"add_ok"}` |
//! | append (list-append) | `{"type":"txn","txn":[["append",k,v]]}` | `{"type":"txn_ok"}` |
//! | txn (txn-list-append, txn-rw-register) | `{"type":"txn","txn":[["append",k,v],["r",k,null],["w",k,v]]}` (the history's micro-operations, unchanged) | `{"type":"txn_ok","txn":[...]}`: the same micro-operations, each read with what it saw (`null`: never written) |
//! | status | `{"type":"status"}` | `{"type":"status_ok","role":"leader","term":3}` |
//!
//! A transaction must apply atomically; its answer is checked against the
//! request micro-operation by micro-operation (an answer that differs is
//! `info`), and 30 (txn-conflict) is a definite failure.
//!
//! Errors are `{"type":"error","code":N,"text":"..."}` with Maelstrom's
//! codes. 20 (key-does-not-exist) on a read is an `ok` read of `null` (a
//! key never written; the empty list for list workloads); 1, 10, 11, 12,
//! 14, 20, 21, 22 (precondition-failed: a cas whose value differs) and 30
//! are definite failures; 0 (timeout), 13 (crash), 1000 and up, and any
//! other code are indefinite (`info`).
//!
//! A client program that exits, answers nothing within the request timeout
//! (plus a grace of [`GRACE`]), or prints something that is not the answer
//! (a line that is not JSON, or not `in_reply_to` the request) leaves its
//! operation `info`
//! (a freshly started program gets [`STARTUP`] more for its first answer),
//! is killed with its process group, named in a warning with its last stderr
//! line, and started afresh for the client's next operation. It never stops
//! the run. Programs die with the harness (`PR_SET_PDEATHSIG`), even one
//! killed by SIGKILL. An answer of the wrong type is `info` too (the program keeps
//! running). Every program is killed when its client is dropped.
//!
//! Status: the harness keeps one extra client program per node (named
//! `status-n1`, ...) and sends it `status`. `status_ok` may also carry
//! `leader`, `last_log_index` and `snapshot_index`. A program answering
//! error 10 (not-supported) cannot name a leader: the node counts as ready
//! (role `unknown`) when a `read` of the key `faultline-ready` succeeds
//! through it, and faults aimed at the leader fall back to their planned
//! node.

mod program;
mod protocol;

pub use program::{GRACE, STARTUP};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_workloads::{Op, Reply};
use serde_json::{json, Value};

use super::http::{Http, HttpArgs};
use super::{
    BoxFuture, ClientSpec, NodeCommand, NodeStatus, Registered, Status, System, SystemClient,
    SystemError, ROLE_UNKNOWN, UNKNOWN_DISK,
};
use faultline_platform::cluster::NodeSpec;
use program::Program;
use protocol::{error_code, reply, request, KEY_DOES_NOT_EXIST, NOT_SUPPORTED};

/// The name `--system` takes.
pub const NAME: &str = "exec";

/// The registry entry of `--system exec`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: UNKNOWN_DISK,
    help: "any system in any language: --node-cmd as for http, plus --client-cmd 'CMD {node} {http_addr} ...', a client program speaking Maelstrom-style JSON lines on stdin/stdout",
    flags: <ExecArgs as clap::Args>::augment_args,
    build: |opts| Ok(Arc::new(Exec::new(&opts.parse()?)?)),
};

/// The flags of `--system exec`: the http system's `--node-cmd`, and the
/// client command.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ExecArgs {
    /// The nodes' command template (`--node-cmd`).
    #[command(flatten)]
    pub nodes: HttpArgs,
    /// `--system exec`: the client program started per client, speaking JSON
    /// lines; placeholders {node} {http_addr} {peer_addr} {data_dir} {client}
    /// {timeout_ms} filled in (see README, section Systems).
    #[arg(long)]
    pub client_cmd: Option<String>,
}

/// The key a readiness read asks for, when a program has no status.
const READY_KEY: &str = "faultline-ready";

const PLACEHOLDERS: [&str; 7] = [
    "{node}",
    "{id}",
    "{http_addr}",
    "{peer_addr}",
    "{data_dir}",
    "{client}",
    "{timeout_ms}",
];

/// Nodes from `--node-cmd`, clients from `--client-cmd`.
#[derive(Debug)]
pub struct Exec {
    nodes: Http,
    client_template: String,
    client_words: Vec<String>,
    /// One status program per node, started on first use.
    status: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Program>>>>,
    /// Set once a status program answered not-supported.
    no_status: AtomicBool,
}

impl Exec {
    /// The system of `args`' node and client commands.
    pub fn new(args: &ExecArgs) -> Result<Exec, SystemError> {
        let (Some(node_cmd), Some(client_cmd)) = (&args.nodes.node_cmd, &args.client_cmd) else {
            return Err(SystemError::BadOption(
                "--system exec needs --node-cmd 'CMD {id} {peer_addr} {http_addr} {peers} {data_dir}' and --client-cmd 'CMD {node} {http_addr} ...'".into(),
            ));
        };
        let client_words = shell_words::split(client_cmd)
            .map_err(|e| SystemError::BadOption(format!("--client-cmd {client_cmd:?}: {e}")))?;
        if client_words.is_empty() {
            return Err(SystemError::BadOption("--client-cmd is empty".into()));
        }
        if !PLACEHOLDERS.iter().any(|p| client_cmd.contains(p)) {
            tracing::warn!(
                "--client-cmd has no placeholder ({}): every client talks to the same place",
                PLACEHOLDERS.join(" ")
            );
        }
        Ok(Exec {
            nodes: Http::new(node_cmd)?,
            client_template: client_cmd.clone(),
            client_words,
            status: Mutex::new(HashMap::new()),
            no_status: AtomicBool::new(false),
        })
    }

    /// The client program of `spec` bound to `node`.
    fn program(&self, node: &NodeSpec, name: &str, timeout: Duration) -> Program {
        let argv = self
            .client_words
            .iter()
            .map(|w| fill(w, node, name, timeout))
            .collect();
        Program::new(name, argv, timeout)
    }

    /// The status program of `node`.
    fn status_program(
        &self,
        node: &NodeSpec,
        timeout: Duration,
    ) -> Arc<tokio::sync::Mutex<Program>> {
        let mut map = self.status.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(node.name.clone())
            .or_insert_with(|| {
                let name = format!("status-{}", node.name);
                Arc::new(tokio::sync::Mutex::new(self.program(node, &name, timeout)))
            })
            .clone()
    }

    async fn ask_status(&self, node: &NodeSpec, timeout: Duration) -> Option<NodeStatus> {
        let program = self.status_program(node, timeout);
        let mut program = program.lock().await;
        if !self.no_status.load(Ordering::Relaxed) {
            let answer = program.call(json!({ "type": "status" }), "status").await;
            match answer {
                Ok(body) if body["type"] == "status_ok" => {
                    return Some(status_of(&node.name, &body));
                }
                Ok(body) if error_code(&body) == Some(NOT_SUPPORTED) => {
                    self.no_status.store(true, Ordering::Relaxed);
                }
                _ => return None,
            }
        }
        let read = json!({ "type": "read", "key": READY_KEY });
        match program.call(read, "readiness read").await {
            Ok(body)
                if body["type"] == "read_ok" || error_code(&body) == Some(KEY_DOES_NOT_EXIST) =>
            {
                Some(NodeStatus {
                    id: node.name.clone(),
                    role: ROLE_UNKNOWN.to_string(),
                    ..NodeStatus::default()
                })
            }
            _ => None,
        }
    }
}

/// `word` with the placeholders of client `name` bound to `node` filled in.
fn fill(word: &str, node: &NodeSpec, name: &str, timeout: Duration) -> String {
    word.replace("{node}", &node.name)
        .replace("{id}", &node.name)
        .replace("{http_addr}", &node.http_addr.to_string())
        .replace("{peer_addr}", &node.peer_addr.to_string())
        .replace("{data_dir}", &node.data_dir.display().to_string())
        .replace("{client}", name)
        .replace("{timeout_ms}", &timeout.as_millis().to_string())
}

/// A node's status from a `status_ok` answer.
fn status_of(name: &str, body: &Value) -> NodeStatus {
    NodeStatus {
        id: name.to_string(),
        role: body["role"].as_str().unwrap_or(ROLE_UNKNOWN).to_string(),
        term: body["term"].as_u64().unwrap_or(0),
        leader: body["leader"].as_str().map(str::to_string),
        last_log_index: body["last_log_index"].as_u64(),
        commit_index: body["commit_index"].as_u64(),
        snapshot_index: body["snapshot_index"].as_u64(),
        applied_index: body["applied_index"].as_u64(),
        state_digest: body["state_digest"].as_str().map(str::to_string),
    }
}

impl System for Exec {
    fn name(&self) -> &'static str {
        NAME
    }

    fn program(&self) -> String {
        format!(
            "{} (clients: {})",
            self.nodes.program(),
            self.client_template
        )
    }

    fn command(&self, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
        self.nodes.command(i, nodes)
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        Box::new(ExecClient {
            program: self.program(node, &spec.name, spec.timeout),
        })
    }

    fn status(&self) -> Option<&dyn Status> {
        Some(self)
    }

    fn shutdown(&self) {
        let mut map = self.status.lock().unwrap_or_else(|p| p.into_inner());
        for program in map.values() {
            if let Ok(mut p) = program.try_lock() {
                p.stop();
            }
        }
        map.clear();
    }
}

impl Status for Exec {
    fn status<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(self.ask_status(node, timeout))
    }
}

/// One client's program, restarted when it dies or misbehaves.
struct ExecClient {
    program: Program,
}

impl SystemClient for ExecClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let Some(request) = request(op) else {
                return op.f.unsupported("exec");
            };
            let what = format!("{} {}", op.f, op.key_or_default());
            match self.program.call(request, &what).await {
                Ok(body) => reply(op, &body),
                Err(why) => Reply::Info(why),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;

    use faultline_workloads::Func;

    fn exec(client_cmd: &str) -> Exec {
        Exec::new(&ExecArgs {
            nodes: HttpArgs {
                node_cmd: Some("/opt/kv --id {id} --http {http_addr}".into()),
            },
            client_cmd: Some(client_cmd.into()),
        })
        .unwrap()
    }

    #[test]
    fn client_placeholders_are_filled_per_node_and_client() {
        let nodes = layout(3, std::path::Path::new("/tmp/run"), false);
        let e = exec("client.py {node} {http_addr} {client} {timeout_ms}");
        let p = e.program(&nodes[1], "c4", Duration::from_millis(900));
        assert_eq!(p.argv, ["client.py", "n2", "127.0.0.12:8001", "c4", "900"]);
        assert_eq!(
            e.command(0, &nodes).args,
            ["--id", "n1", "--http", "127.0.0.11:8001"]
        );
    }

    #[test]
    fn both_commands_are_needed() {
        let missing = Exec::new(&ExecArgs {
            nodes: HttpArgs {
                node_cmd: Some("/opt/kv".into()),
            },
            client_cmd: None,
        });
        assert!(missing.is_err());
    }

    #[test]
    fn a_client_program_that_misbehaves_leaves_info_and_restarts() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let nodes = layout(1, std::path::Path::new("/tmp/run"), false);
        // Answers the first request, prints garbage for the second, then
        // (restarted) answers again.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("client.sh");
        std::fs::write(
            &script,
            r#"read l; id=$(echo "$l" | sed 's/.*"msg_id":\([0-9]*\).*/\1/')
echo "{\"type\":\"write_ok\",\"in_reply_to\":$id}"
read l; echo oops >&2; echo not json
"#,
        )
        .unwrap();
        let e = exec(&format!("sh {}", script.display()));
        let spec = ClientSpec {
            name: "c0".into(),
            timeout: Duration::from_secs(2),
            write_revisions: false,
        };
        let mut c = e.client(&nodes[0], &spec);
        let write = Op::new(Func::Write, "r1", json!(1));
        rt.block_on(async {
            assert_eq!(c.invoke(&write).await, Reply::Ok(json!(1)));
            let second = c.invoke(&write).await;
            assert!(
                matches!(second, Reply::Info(ref e) if e.contains("not JSON")),
                "{second:?}"
            );
            assert_eq!(c.invoke(&write).await, Reply::Ok(json!(1)));
        });
    }
}
