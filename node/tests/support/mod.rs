//! Real `faultline-node` processes on loopback for integration tests and the
//! benchmark: each node in its own process group, killed on drop.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A cluster of real node processes on `127.0.<net>.{1..n}`.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
    pub http: reqwest::blocking::Client,
}

/// One node: its addresses, data dir, log file and process (when running).
pub struct Node {
    pub name: String,
    pub peer_addr: String,
    pub http_addr: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub extra: Vec<String>,
    pub peers: String,
    pub child: Option<Child>,
}

impl Node {
    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline-node"));
        cmd.args(["--id", &self.name])
            .args(["--peer-addr", &self.peer_addr])
            .args(["--http-addr", &self.http_addr])
            .args(["--peers", &self.peers])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null());
        cmd.process_group(0);
        cmd
    }

    /// Starts the process (its output appended to the node's log file).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already runs", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = self
            .command()
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawning faultline-node");
        self.child = Some(child);
    }

    /// Runs the node until it exits by itself (bounded), returning its status and output.
    pub fn run_to_exit(&self, limit: Duration) -> (std::process::ExitStatus, String) {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning faultline-node");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let out = child.wait_with_output().unwrap();
                let text = String::from_utf8_lossy(&out.stderr).to_string()
                    + &String::from_utf8_lossy(&out.stdout);
                return (status, text);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not exit within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the node's process group.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }

    /// Waits (bounded) for the running process to exit by itself; its exit
    /// code (None: killed by a signal, or still running at the limit).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Cluster {
    /// `n` nodes on 127.0.`net`.1.. (each test its own `net`), not started.
    pub fn new(n: usize, net: u8, extra: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let peers: Vec<String> = (1..=n)
            .map(|i| format!("n{i}=127.0.{net}.{i}:7001"))
            .collect();
        let peers = peers.join(",");
        let nodes = (1..=n)
            .map(|i| Node {
                name: format!("n{i}"),
                peer_addr: format!("127.0.{net}.{i}:7001"),
                http_addr: format!("127.0.{net}.{i}:8001"),
                data_dir: dir.path().join(format!("n{i}")),
                log: dir.path().join(format!("n{i}.log")),
                extra: extra.iter().map(|s| s.to_string()).collect(),
                peers: peers.clone(),
                child: None,
            })
            .collect();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(3))
            .no_proxy()
            .build()
            .unwrap();
        Cluster { dir, nodes, http }
    }

    /// Spawns every node's process without waiting for it to serve.
    pub fn start(mut self) -> Cluster {
        for node in &mut self.nodes {
            node.start();
        }
        self
    }

    /// A node's `/status`, if it answers.
    pub fn status(&self, i: usize) -> Option<Value> {
        let url = format!("http://{}/status", self.nodes[i].http_addr);
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_millis(500))
            .send()
            .ok()?;
        resp.json().ok()
    }

    /// Waits (up to `limit`) until a running node says it leads and every
    /// running node agrees; returns its index and how long it took.
    pub fn await_leader(&self, limit: Duration) -> (usize, Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            let statuses: Vec<(usize, Value)> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].is_running())
                .filter_map(|i| self.status(i).map(|s| (i, s)))
                .collect();
            if let Some((l, s)) = statuses.iter().find(|(_, s)| s["role"] == "leader") {
                let name = &s["id"];
                let agreed = statuses.len() == self.running()
                    && statuses.iter().all(|(_, o)| &o["leader"] == name);
                if agreed {
                    return (*l, start.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let logs = self.logs();
        panic!("no agreed leader within {limit:?}\n{logs}");
    }

    pub fn running(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_running()).count()
    }

    /// The last lines of every node's log.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            out.push_str(&format!("--- {} ---\n{}\n", node.name, tail.join("\n")));
        }
        out
    }

    /// A request to node `i`, retried (bounded) while the answer is a 503;
    /// returns the final status code and JSON body.
    pub fn call(&self, i: usize, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://{}{}", self.nodes[i].http_addr, path);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut req = match method {
                "GET" => self.http.get(&url),
                "PUT" => self.http.put(&url),
                _ => self.http.post(&url),
            };
            if let Some(b) = &body {
                req = req.json(b);
            }
            match req.send() {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let value: Value = resp.json().unwrap_or(Value::Null);
                    if status != 503 || Instant::now() > deadline {
                        return (status, value);
                    }
                }
                Err(e) => {
                    if Instant::now() > deadline {
                        panic!("{method} {url}: {e}\n{}", self.logs());
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Every WAL segment under a data dir, sorted.
pub fn wal_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![data_dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "log" || e == "wal") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}
