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
//! | status | `{"type":"status"}` | `{"type":"status_ok","role":"leader","term":3}` |
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

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_workloads::{Func, Op, Reply};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::http::Http;
use super::{
    BoxFuture, ClientSpec, Flag, NodeCommand, NodeStatus, Registered, System, SystemClient,
    SystemError, SystemOptions, ROLE_UNKNOWN, UNKNOWN_DISK,
};
use crate::cluster::NodeSpec;

/// The name `--system` takes.
pub const NAME: &str = "exec";

/// The registry entry of `--system exec`.
pub const SYSTEM: Registered = Registered {
    name: NAME,
    disk: UNKNOWN_DISK,
    help: "any system in any language: --node-cmd as for http, plus --client-cmd 'CMD {node} {http_addr} ...', a client program speaking Maelstrom-style JSON lines on stdin/stdout",
    flags: &[Flag::NodeCmd, Flag::ClientCmd],
    build: |opts| Ok(Arc::new(Exec::new(opts)?)),
};

/// How long past the request timeout a client program may take to answer
/// before it counts as hung (so a program that times out on its own can
/// still say so).
pub const GRACE: Duration = Duration::from_millis(250);

/// How long a freshly started program may take on top of that for its
/// first answer (an interpreter's start-up on a busy machine).
pub const STARTUP: Duration = Duration::from_secs(5);

/// The key a readiness read asks for, when a program has no status.
const READY_KEY: &str = "faultline-ready";

/// Maelstrom's not-supported error code.
const NOT_SUPPORTED: i64 = 10;
/// Maelstrom's key-does-not-exist error code.
const KEY_DOES_NOT_EXIST: i64 = 20;

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
    /// The system of `opts.node_cmd` and `opts.client_cmd`.
    pub fn new(opts: &SystemOptions) -> Result<Exec, SystemError> {
        let (Some(node_cmd), Some(client_cmd)) = (&opts.node_cmd, &opts.client_cmd) else {
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
        Program {
            name: name.to_string(),
            argv,
            timeout,
            next_msg_id: 0,
            running: None,
        }
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
        snapshot_index: body["snapshot_index"].as_u64(),
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

    fn status<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Option<NodeStatus>> {
        Box::pin(self.ask_status(node, timeout))
    }

    fn client(&self, node: &NodeSpec, spec: &ClientSpec) -> Box<dyn SystemClient> {
        Box::new(ExecClient {
            program: self.program(node, &spec.name, spec.timeout),
        })
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

/// One client's program, restarted when it dies or misbehaves.
struct ExecClient {
    program: Program,
}

impl SystemClient for ExecClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let what = format!("{} {}", op.f, op.key_or_default());
            match self.program.call(request(op), &what).await {
                Ok(body) => reply(op, &body),
                Err(why) => Reply::Info(why),
            }
        })
    }
}

/// The request line of `op` (without its `msg_id`).
fn request(op: &Op) -> Value {
    let key = op.key_or_default();
    match op.f {
        Func::Read => json!({ "type": "read", "key": key }),
        Func::Write => json!({ "type": "write", "key": key, "value": op.value }),
        Func::Cas => {
            let (from, to) = op.cas_values();
            json!({ "type": "cas", "key": key, "from": from, "to": to })
        }
        Func::Add => json!({ "type": "add", "key": key, "element": op.value }),
        Func::Append => json!({ "type": "txn", "txn": [["append", key, op.value]] }),
        Func::Echo => json!({ "type": "echo", "echo": op.value }),
        Func::Generate => json!({ "type": "generate" }),
        Func::Broadcast => json!({ "type": "broadcast", "message": op.value }),
    }
}

/// The answer type that completes `op`.
fn ok_type(f: Func) -> &'static str {
    match f {
        Func::Read => "read_ok",
        Func::Write => "write_ok",
        Func::Cas => "cas_ok",
        Func::Add => "add_ok",
        Func::Append => "txn_ok",
        Func::Echo => "echo_ok",
        Func::Generate => "generate_ok",
        Func::Broadcast => "broadcast_ok",
    }
}

/// A Maelstrom error's code, if `body` is an error.
fn error_code(body: &Value) -> Option<i64> {
    if body["type"] != "error" {
        return None;
    }
    Some(body["code"].as_i64().unwrap_or(-1))
}

/// The name of a Maelstrom error code.
fn code_name(code: i64) -> &'static str {
    match code {
        0 => "timeout",
        1 => "node-not-found",
        10 => "not-supported",
        11 => "temporarily-unavailable",
        12 => "malformed-request",
        13 => "crash",
        14 => "abort",
        20 => "key-does-not-exist",
        21 => "key-already-exists",
        22 => "precondition-failed",
        30 => "txn-conflict",
        _ => "error",
    }
}

/// Whether an error code says the operation certainly did not happen.
fn definite(code: i64) -> bool {
    matches!(code, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30)
}

/// The completion of `op` from its answer (already paired by `in_reply_to`).
fn reply(op: &Op, body: &Value) -> Reply {
    if let Some(code) = error_code(body) {
        if code == KEY_DOES_NOT_EXIST && op.f == Func::Read {
            return Reply::Ok(Value::Null);
        }
        let text = body["text"].as_str().unwrap_or_default();
        let why = if text.is_empty() {
            format!("{} ({code})", code_name(code))
        } else {
            format!("{} ({code}): {text}", code_name(code))
        };
        return if definite(code) {
            Reply::Fail(why)
        } else {
            Reply::Info(why)
        };
    }
    if body["type"] != ok_type(op.f) {
        return Reply::Info(format!("the client program answered {} with {body}", op.f));
    }
    match op.f {
        Func::Read => Reply::Ok(body.get("value").cloned().unwrap_or(Value::Null)),
        Func::Echo => Reply::Ok(body.get("echo").cloned().unwrap_or(Value::Null)),
        Func::Generate => Reply::Ok(body.get("id").cloned().unwrap_or(Value::Null)),
        _ => Reply::Ok(op.value.clone()),
    }
}

/// A client program: started on demand, restarted after it misbehaves.
#[derive(Debug)]
struct Program {
    name: String,
    argv: Vec<String>,
    timeout: Duration,
    next_msg_id: u64,
    running: Option<Running>,
}

/// A started client program. Dropping it kills its process group.
#[derive(Debug)]
struct Running {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    last_stderr: Arc<Mutex<String>>,
    stderr_done: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_group(self.pid);
        self.stderr_done.abort();
    }
}

/// Kills the process group led by `pid`.
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: a signal to a process group this harness created.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

impl Program {
    fn start(&self) -> Result<Running, String> {
        let mut cmd = tokio::process::Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..])
            .env("FAULTLINE_TIMEOUT_MS", self.timeout.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure only makes async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || {
                // It dies with the harness, even one killed by SIGKILL.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting client program {:?}: {e}", self.argv[0]))?;
        let pid = child.id().unwrap_or_default();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill_group(pid);
            return Err("client program without pipes".into());
        };
        let last_stderr: Arc<Mutex<String>> = Arc::default();
        let stderr_done = tokio::spawn({
            let last = last_stderr.clone();
            async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if !line.trim().is_empty() {
                        *last.lock().unwrap_or_else(|p| p.into_inner()) = line;
                    }
                }
            }
        });
        Ok(Running {
            child,
            pid,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            last_stderr,
            stderr_done,
        })
    }

    /// Sends `body` (given the next `msg_id`) and returns the answer that
    /// replies to it; `Err` (the program is gone, and named in a warning)
    /// when the program cannot answer. `what` names the operation.
    async fn call(&mut self, mut body: Value, what: &str) -> Result<Value, String> {
        let mut allowance = self.timeout + GRACE;
        if self.running.is_none() {
            // Nothing was sent: the operation certainly did not happen, but
            // the harness says info all the same (it never guesses).
            self.running = Some(self.start()?);
            allowance += STARTUP;
        }
        self.next_msg_id += 1;
        let msg_id = self.next_msg_id;
        body["msg_id"] = json!(msg_id);
        let deadline = tokio::time::Instant::now() + allowance;
        let Some(running) = self.running.as_mut() else {
            return Err("client program not running".into());
        };
        let mut line = body.to_string();
        line.push('\n');
        let sent = async {
            running.stdin.write_all(line.as_bytes()).await?;
            running.stdin.flush().await
        };
        let trouble = match tokio::time::timeout_at(deadline, sent).await {
            Err(_) => Trouble::Hung(allowance),
            Ok(Err(_)) => Trouble::Exited,
            Ok(Ok(())) => match tokio::time::timeout_at(deadline, running.stdout.next_line()).await
            {
                Err(_) => Trouble::Hung(allowance),
                Ok(Err(e)) => Trouble::Garbage(format!("unreadable output: {e}")),
                Ok(Ok(None)) => Trouble::Exited,
                Ok(Ok(Some(text))) => match serde_json::from_str::<Value>(&text) {
                    Ok(answer) if answer["in_reply_to"] == json!(msg_id) => return Ok(answer),
                    Ok(_) => Trouble::Garbage(format!(
                        "an answer not in reply to msg_id {msg_id}: {}",
                        clip(&text)
                    )),
                    Err(_) => Trouble::Garbage(format!("a line that is not JSON: {}", clip(&text))),
                },
            },
        };
        Err(self.give_up(trouble, what).await)
    }

    /// Kills the program after `trouble` during `what`, warns, and says why
    /// the operation is unknown.
    async fn give_up(&mut self, trouble: Trouble, what: &str) -> String {
        let Some(mut running) = self.running.take() else {
            return "client program not running".into();
        };
        let pid = running.pid;
        let how = match trouble {
            Trouble::Exited => {
                // Its exit status, and the rest of its stderr.
                let status =
                    tokio::time::timeout(Duration::from_millis(500), running.child.wait()).await;
                let _ = tokio::time::timeout(Duration::from_millis(200), &mut running.stderr_done)
                    .await;
                match status {
                    Ok(Ok(s)) => match s.code() {
                        Some(code) => format!("exited with status {code}"),
                        None => format!("exited ({s})"),
                    },
                    _ => "closed its output".to_string(),
                }
            }
            Trouble::Hung(allowance) => {
                format!("did not answer within {} ms", allowance.as_millis())
            }
            Trouble::Garbage(what) => format!("printed {what}"),
        };
        let last = running
            .last_stderr
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        drop(running);
        let last = if last.is_empty() {
            "its stderr is empty".to_string()
        } else {
            format!("its last stderr line: {last}")
        };
        eprintln!(
            "faultline: warning: client {} (pid {pid}) {how} during {what}; {last}; killed, it restarts for the next operation",
            self.name
        );
        format!("client program {how}")
    }

    /// Kills the program, if it runs.
    fn stop(&mut self) {
        self.running = None;
    }
}

/// Why a program gave no answer.
enum Trouble {
    Exited,
    Hung(Duration),
    Garbage(String),
}

/// The start of a long line, for messages.
fn clip(text: &str) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::layout;

    fn exec(client_cmd: &str) -> Exec {
        Exec::new(&SystemOptions {
            name: NAME.into(),
            node_cmd: Some("/opt/kv --id {id} --http {http_addr}".into()),
            client_cmd: Some(client_cmd.into()),
            ..SystemOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn operations_speak_maelstroms_vocabulary() {
        let cas = Op::new(Func::Cas, "r1", json!([1, 2]));
        assert_eq!(
            request(&cas),
            json!({"type": "cas", "key": "r1", "from": 1, "to": 2})
        );
        let append = Op::new(Func::Append, "l0", json!(7));
        assert_eq!(
            request(&append),
            json!({"type": "txn", "txn": [["append", "l0", 7]]})
        );
        let read = Op::new(Func::Read, "r1", Value::Null);
        assert_eq!(
            reply(&read, &json!({"type": "read_ok", "value": 3})),
            Reply::Ok(json!(3))
        );
        assert_eq!(
            reply(&read, &json!({"type": "error", "code": 20})),
            Reply::Ok(Value::Null)
        );
        assert_eq!(
            reply(&cas, &json!({"type": "cas_ok"})),
            Reply::Ok(json!([1, 2]))
        );
        assert!(matches!(
            reply(&cas, &json!({"type": "error", "code": 22, "text": "differs"})),
            Reply::Fail(ref e) if e.contains("precondition-failed")
        ));
        assert!(matches!(
            reply(&cas, &json!({"type": "error", "code": 11})),
            Reply::Fail(_)
        ));
        for indefinite in [0, 13, 1000, 7] {
            assert!(matches!(
                reply(&cas, &json!({"type": "error", "code": indefinite})),
                Reply::Info(_)
            ));
        }
        assert!(matches!(
            reply(&read, &json!({"type": "write_ok"})),
            Reply::Info(_)
        ));
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
        let missing = Exec::new(&SystemOptions {
            name: NAME.into(),
            node_cmd: Some("/opt/kv".into()),
            ..SystemOptions::default()
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
            http: reqwest::Client::new(),
            timeout: Duration::from_secs(2),
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
