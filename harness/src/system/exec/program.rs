//! A client program of the `exec` system: started on demand in a process
//! group of its own (dying with the harness), one JSON request a line on
//! its stdin, one answer a line on its stdout; killed, named in a warning
//! and started afresh after it exits, hangs or prints something that is
//! not the answer.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// How long past the request timeout a client program may take to answer
/// before it counts as hung (so a program that times out on its own can
/// still say so).
pub const GRACE: Duration = Duration::from_millis(250);

/// How long a freshly started program may take on top of that for its
/// first answer (an interpreter's start-up on a busy machine).
pub const STARTUP: Duration = Duration::from_secs(5);

/// A client program: started on demand, restarted after it misbehaves.
#[derive(Debug)]
pub(super) struct Program {
    name: String,
    pub(super) argv: Vec<String>,
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
    /// The program `argv`, named `name` in warnings, whose requests may
    /// take `timeout`; not started yet.
    pub(super) fn new(name: &str, argv: Vec<String>, timeout: Duration) -> Program {
        Program {
            name: name.to_string(),
            argv,
            timeout,
            next_msg_id: 0,
            running: None,
        }
    }

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
    pub(super) async fn call(&mut self, mut body: Value, what: &str) -> Result<Value, String> {
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
    pub(super) fn stop(&mut self) {
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
