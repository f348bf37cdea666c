//! SSH sessions to the hosts, through the `openssh` crate: one master
//! connection per host (the system's `ssh` client with ControlMaster),
//! every command a multiplexed channel over it, so a fault costs one round
//! trip and no new handshake.
//!
//! The harness's fault path is synchronous (the [`crate::cluster::Platform`]
//! trait), and runs inside the run's single-threaded runtime; `openssh` is
//! async. [`Remote`] owns a small runtime of its own and [`Remote::block`]
//! hands it a future and waits for the answer, which is safe from inside
//! another runtime (nothing is entered, only a channel waited on).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openssh::{KnownHosts as Check, Session, SessionBuilder};

use super::{Host, KnownHosts};

/// How long connecting to a host may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to a host.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host could not be reached (no route, refused, timed out, name unknown).
    #[error("host {host}: unreachable: {message}")]
    Unreachable {
        /// The host's label.
        host: String,
        /// ssh's own words.
        message: String,
    },
    /// The host answered but refused the key (or agent).
    #[error("host {host}: authentication failed ({how}): {message}")]
    Auth {
        /// The host's label.
        host: String,
        /// The key or agent tried.
        how: String,
        /// ssh's own words.
        message: String,
    },
    /// A command on the host could not run or failed.
    #[error("host {host}: `{command}`: {message}")]
    Command {
        /// The host's label.
        host: String,
        /// The command, shortened.
        command: String,
        /// What it said, or why it did not run.
        message: String,
    },
    /// The local runtime driving the sessions is gone.
    #[error("the SSH runtime stopped")]
    Runtime,
}

/// A command's result on a host.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its exit code (None: killed by a signal, or the connection dropped).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// The runtime that drives every SSH session of a run.
pub struct Remote {
    rt: Option<tokio::runtime::Runtime>,
}

impl Remote {
    /// A runtime of two worker threads.
    pub fn new() -> std::io::Result<Remote> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("faultline-ssh")
            .enable_all()
            .build()?;
        Ok(Remote { rt: Some(rt) })
    }

    /// A handle to spawn tasks on the runtime.
    pub fn handle(&self) -> tokio::runtime::Handle {
        self.rt
            .as_ref()
            .map(|r| r.handle().clone())
            .expect("the SSH runtime lives until drop")
    }

    /// Runs `fut` on the SSH runtime and waits for its result.
    pub fn block<T, F>(&self, fut: F) -> Result<T, SshError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| SshError::Runtime)
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // Never blocks, so dropping inside another runtime is fine.
            rt.shutdown_background();
        }
    }
}

/// One host's master connection.
#[derive(Clone)]
pub struct Conn {
    /// The host it reaches.
    pub host: Host,
    session: Arc<Session>,
}

/// Connects to `host` (one master connection, sockets under `control_dir`).
pub async fn connect(host: &Host, control_dir: &std::path::Path) -> Result<Conn, SshError> {
    let mut b = SessionBuilder::default();
    b.port(host.port)
        .connect_timeout(CONNECT_TIMEOUT)
        .server_alive_interval(Duration::from_secs(5))
        .control_directory(control_dir)
        .known_hosts_check(match host.known_hosts {
            KnownHosts::Strict => Check::Strict,
            KnownHosts::Add => Check::Add,
            KnownHosts::Accept => Check::Accept,
        });
    if let Some(u) = &host.user {
        b.user(u.clone());
    }
    if let Some(k) = &host.key {
        b.keyfile(k);
    }
    if let Some(f) = &host.known_hosts_file {
        b.user_known_hosts_file(f);
    }
    match b.connect(&host.address).await {
        Ok(session) => Ok(Conn {
            host: host.clone(),
            session: Arc::new(session),
        }),
        Err(e) => {
            let message = error_text(&e);
            if message.contains("Permission denied") || message.contains("Too many authentication")
            {
                Err(SshError::Auth {
                    host: host.label.clone(),
                    how: match &host.key {
                        Some(k) => format!("key {}", k.display()),
                        None => "agent or ssh's default keys".into(),
                    },
                    message,
                })
            } else {
                Err(SshError::Unreachable {
                    host: host.label.clone(),
                    message,
                })
            }
        }
    }
}

/// An error and its sources, on one line.
fn error_text(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.join(": ").replace('\n', " ")
}

/// The first line of `script`, at most 60 characters.
fn short(script: &str) -> String {
    let line = script.lines().next().unwrap_or_default();
    let cut: String = line.chars().take(60).collect();
    if cut.len() < line.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

impl Conn {
    /// The error of `script` failing on this host with `message`.
    fn failed(&self, script: &str, message: String) -> SshError {
        SshError::Command {
            host: self.host.label.clone(),
            command: short(script),
            message,
        }
    }

    /// Runs `script` with `sh -c` on the host; its output and code.
    pub async fn sh(&self, script: &str) -> Result<Output, SshError> {
        let out = self
            .session
            .shell(script)
            .stdin(openssh::Stdio::null())
            .output()
            .await
            .map_err(|e| self.failed(script, error_text(&e)))?;
        Ok(Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `script`; an error unless it exits 0.
    pub async fn sh_ok(&self, script: &str) -> Result<String, SshError> {
        let out = self.sh(script).await?;
        if out.code == Some(0) {
            Ok(out.stdout)
        } else {
            Err(self.failed(
                script,
                format!(
                    "exit {}: {}",
                    out.code.map(|c| c.to_string()).unwrap_or("?".into()),
                    out.stderr.trim()
                ),
            ))
        }
    }

    /// Writes `bytes` to `path` on the host, mode 0755, through a temporary
    /// file of its own (`mktemp` beside `path`) renamed into place: hosts
    /// whose data directories lie on one shared file system (an NFS home,
    /// containers on one volume) upload the same path at once without
    /// racing on one temporary name.
    pub async fn upload(&self, bytes: Vec<u8>, path: &str) -> Result<(), SshError> {
        use tokio::io::AsyncWriteExt;
        let script = upload_script(path);
        let fail = |message: String| SshError::Command {
            host: self.host.label.clone(),
            command: format!("upload {path}"),
            message,
        };
        let mut child = self
            .session
            .clone()
            .arc_command("sh")
            .arg("-c")
            .arg(&script)
            .stdin(openssh::Stdio::piped())
            .stdout(openssh::Stdio::null())
            .stderr(openssh::Stdio::piped())
            .spawn()
            .await
            .map_err(|e| fail(error_text(&e)))?;
        let mut stdin = child
            .stdin()
            .take()
            .ok_or_else(|| fail("no stdin".into()))?;
        stdin
            .write_all(&bytes)
            .await
            .map_err(|e| fail(e.to_string()))?;
        stdin.shutdown().await.map_err(|e| fail(e.to_string()))?;
        drop(stdin);
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| fail(error_text(&e)))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(fail(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }

    /// Starts `script` with `sh -c` and hands back its stdout lines as they come.
    pub async fn stream(
        &self,
        script: &str,
    ) -> Result<tokio::sync::mpsc::UnboundedReceiver<String>, SshError> {
        use tokio::io::AsyncBufReadExt;
        let mut child = self
            .session
            .clone()
            .arc_command("sh")
            .arg("-c")
            .arg(script)
            .stdin(openssh::Stdio::null())
            .stdout(openssh::Stdio::piped())
            .stderr(openssh::Stdio::null())
            .spawn()
            .await
            .map_err(|e| self.failed(script, error_text(&e)))?;
        let stdout = child.stdout().take();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            if let Some(out) = stdout {
                let mut lines = tokio::io::BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
            let _ = child.wait().await;
        });
        Ok(rx)
    }
}

/// The shell script that writes stdin to `path`: a temporary file made by
/// `mktemp` in `path`'s directory (unique per upload), made executable,
/// then renamed over `path` (atomic on one file system).
fn upload_script(path: &str) -> String {
    format!(
        "set -e; d=\"$(dirname '{path}')\"; mkdir -p \"$d\"; \
         t=\"$(mktemp \"$d/.upload.XXXXXX\")\"; trap 'rm -f \"$t\"' EXIT; \
         cat > \"$t\"; chmod 0755 \"$t\"; mv -f \"$t\" '{path}'; trap - EXIT"
    )
}

#[cfg(test)]
mod tests {
    use super::upload_script;
    use std::process::{Command, Stdio};

    /// Three uploads of one path at once (hosts sharing a file system) all
    /// succeed and leave the file whole, executable and nothing else.
    #[test]
    fn concurrent_uploads_of_one_path_do_not_race() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin/faultline-node");
        let script = upload_script(path.to_str().unwrap());
        let body = vec![b'x'; 1 << 20];
        let mut children: Vec<_> = (0..3)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", &script])
                    .stdin(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Interleaved, so that every upload is under way before any ends.
        let mut stdins: Vec<_> = children
            .iter_mut()
            .map(|c| c.stdin.take().unwrap())
            .collect();
        for chunk in body.chunks(64 << 10) {
            for stdin in &mut stdins {
                stdin.write_all(chunk).unwrap();
            }
        }
        drop(stdins);
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(std::fs::read(&path).unwrap(), body);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["faultline-node"]);
    }
}
