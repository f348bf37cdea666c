//! Clients: each bound to one node, issuing its workload's operations at its
//! share of the rate, recording every invocation and completion.
//!
//! Outcomes follow Jepsen: an answer with `definite: true`, a refused
//! operation (409 on cas) or a connection refused before anything was sent
//! is `fail`; a timeout, a connection lost after sending, or
//! `definite: false` is `info`, after which the client continues as a new
//! process (its number plus the concurrency).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_checker::history::{EventType, Process};
use faultline_workloads::{Generator, Method, Op, Reply, Workload};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::Value;

use crate::cluster::NodeSpec;
use crate::recorder::{Draft, Recorder};
use crate::system::System;

/// Counts shown by the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    /// Completed ok.
    pub ok: AtomicU64,
    /// Completed fail.
    pub fail: AtomicU64,
    /// Completed info.
    pub info: AtomicU64,
}

impl Counters {
    /// Every completed operation.
    pub fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
    }
}

/// What every client of a run shares.
#[derive(Clone)]
pub struct Shared {
    /// The HTTP client (per-request timeout set).
    pub http: reqwest::Client,
    /// The workload.
    pub workload: Arc<dyn Workload>,
    /// The system under test (how operations reach it).
    pub system: Arc<dyn System>,
    /// The history.
    pub recorder: Recorder,
    /// Progress counts.
    pub counters: Arc<Counters>,
    /// Keys the run used, for the final reads.
    pub keys: Arc<Mutex<BTreeSet<String>>>,
    /// Set when the clients should stop after their current operation.
    pub stop: Arc<AtomicBool>,
}

/// Builds the HTTP client every client and the nemesis use.
pub fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(4)
        .no_proxy()
        .build()
}

/// One client: runs until `shared.stop` is set.
pub struct Client {
    /// Its slot, 0-based (its first process number).
    pub slot: usize,
    /// All clients (process numbers advance by this after an info).
    pub concurrency: usize,
    /// The node it talks to.
    pub node: SocketAddr,
    /// Mean time between its operations.
    pub interval: Duration,
    /// The run's seed.
    pub seed: u64,
}

impl Client {
    /// Issues operations until told to stop; returns the process number
    /// it ended with.
    pub async fn run(self, shared: Shared) -> u64 {
        let mut gen = Generator::new(self.seed, self.slot, self.concurrency);
        let mut timing = ChaCha8Rng::seed_from_u64(self.seed);
        timing.set_stream(10_000 + self.slot as u64);
        let mut process = self.slot as u64;
        let base = format!("http://{}", self.node);
        while !shared.stop.load(Ordering::Relaxed) {
            let started = tokio::time::Instant::now();
            let op = shared.workload.next_op(&mut gen);
            if let Some(k) = &op.key {
                if !shared
                    .keys
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .contains(k)
                {
                    shared
                        .keys
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(k.clone());
                }
            }
            let kind = invoke_and_complete(&shared, &base, process, &op).await;
            if kind == EventType::Info {
                process += self.concurrency as u64;
            }
            // Jepsen's stagger: starts uniform in [0, 2 × mean) apart; an
            // operation slower than that is followed at once (no catching up).
            let pause = self.interval.mul_f64(timing.gen_range(0.0..2.0));
            tokio::time::sleep_until(started + pause).await;
        }
        process
    }
}

/// Performs `op` as `process` against the node at `base` (http://ip:port),
/// recording both events; returns the completion's type.
pub async fn invoke_and_complete(shared: &Shared, base: &str, process: u64, op: &Op) -> EventType {
    shared.recorder.record(Draft {
        process: Process::Client(process),
        kind: EventType::Invoke,
        f: op.f.clone(),
        key: op.key.clone(),
        value: op.value.clone(),
        error: None,
    });
    let reply = shared
        .system
        .perform(&shared.http, base, shared.workload.as_ref(), op)
        .await;
    let (kind, value, error) = match reply {
        Reply::Ok(v) => (EventType::Ok, v, None),
        Reply::Fail(e) => (EventType::Fail, op.value.clone(), Some(e)),
        Reply::Info(e) => (EventType::Info, op.value.clone(), Some(e)),
    };
    shared.recorder.record(Draft {
        process: Process::Client(process),
        kind,
        f: op.f.clone(),
        key: op.key.clone(),
        value,
        error,
    });
    let counter = match kind {
        EventType::Ok => &shared.counters.ok,
        EventType::Fail => &shared.counters.fail,
        _ => &shared.counters.info,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    kind
}

/// Sends `op` to a node speaking faultline-node's HTTP API and reads the
/// answer.
pub async fn perform(
    http: &reqwest::Client,
    base: &str,
    workload: &dyn Workload,
    op: &Op,
) -> Reply {
    let req = workload.request(op);
    let url = format!("{base}{}", req.path);
    let builder = match req.method {
        Method::Get => http.get(&url),
        Method::Put => http.put(&url),
        Method::Post => http.post(&url),
    };
    let builder = match &req.body {
        Some(body) => builder.json(body),
        None => builder,
    };
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
    if matches!(status, 200 | 404 | 409) {
        return workload.reply(op, status, &body);
    }
    match error_body(&body) {
        Some((code, true)) => Reply::Fail(code),
        Some((code, false)) => Reply::Info(code),
        None => workload.reply(op, status, &body),
    }
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

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A node's `GET /status`.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeStatus {
    /// Its name.
    #[serde(default)]
    pub id: String,
    /// leader / follower / candidate / ...
    #[serde(default)]
    pub role: String,
    /// Its term.
    #[serde(default)]
    pub term: u64,
    /// Who it believes leads.
    #[serde(default)]
    pub leader: Option<String>,
}

/// Asks one node for its status (None when it does not answer).
pub async fn status(
    http: &reqwest::Client,
    node: &NodeSpec,
    timeout: Duration,
) -> Option<NodeStatus> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_say_whether_the_failure_is_definite() {
        assert_eq!(
            error_body(&json!({"error": "not-leader", "definite": true})),
            Some(("not-leader".into(), true))
        );
        assert_eq!(
            error_body(&json!({"error": "timeout", "definite": false})),
            Some(("timeout".into(), false))
        );
        assert_eq!(error_body(&json!({"value": 1})), None);
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
        let http = http_client(Duration::from_secs(2)).unwrap();
        let w = faultline_workloads::by_name("register").unwrap();
        let op = Op::new("write", "r0", json!(1));
        let reply = rt.block_on(perform(&http, &format!("http://{addr}"), w.as_ref(), &op));
        assert!(
            matches!(reply, Reply::Fail(ref e) if e.contains("connect")),
            "{reply:?}"
        );
    }
}
