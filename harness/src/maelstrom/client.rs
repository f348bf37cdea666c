//! Maelstrom clients: `c1`, `c2`, ... each bound to one node, one request
//! in flight, `msg_id` from 1. A request that gets no reply within the
//! timeout is `info`; the client then retires its id and process number
//! and carries on as a new client (the history's rule: a process that got
//! `info` never invokes again). No retries, no reordering.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use faultline_checker::history::{EventType, Process};
use faultline_workloads::Generator;
use serde_json::Value;

use crate::client::Counters;
use crate::recorder::{Draft, Recorder};

use super::protocol::Envelope;
use super::router::Input;
use super::workload::{Completion, Op, Workload};

/// What every client of a run shares.
#[derive(Clone)]
pub struct Shared {
    /// The router's input.
    pub router: mpsc::Sender<Input>,
    /// The history.
    pub recorder: Recorder,
    /// The workload.
    pub workload: Workload,
    /// The node ids, by index.
    pub ids: Vec<String>,
    /// How long a request may wait for its reply.
    pub timeout: Duration,
    /// Set when the clients must stop (each finishes its request in flight).
    pub stop: Arc<AtomicBool>,
    /// Operations completed, by outcome (scenario waits count them).
    pub counters: Arc<Counters>,
}

/// One client connection: an id of its own and its reply channel.
pub struct Conn {
    id: String,
    replies: tokio::sync::mpsc::UnboundedReceiver<Envelope>,
    next_msg_id: u64,
    router: mpsc::Sender<Input>,
}

impl Conn {
    /// Opens client `c{process + 1}` (`c0` is the harness's setup client).
    pub fn open(router: &mpsc::Sender<Input>, process: u64) -> Conn {
        let id = format!("c{}", process + 1);
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = router.send(Input::OpenClient {
            id: id.clone(),
            replies: tx,
        });
        Conn {
            id,
            replies: rx,
            next_msg_id: 0,
            router: router.clone(),
        }
    }

    /// Sends `body` to `node` and waits up to `timeout` for the reply to
    /// it (replies to earlier, timed-out requests are skipped).
    pub async fn request(
        &mut self,
        node: &str,
        mut body: Value,
        timeout: Duration,
    ) -> Option<Envelope> {
        self.next_msg_id += 1;
        let msg_id = self.next_msg_id;
        body["msg_id"] = msg_id.into();
        let _ = self
            .router
            .send(Input::Client(Envelope::new(self.id.clone(), node, body)));
        let wait = async {
            while let Some(reply) = self.replies.recv().await {
                if reply.in_reply_to() == Some(msg_id) {
                    return Some(reply);
                }
            }
            None
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _ = self.router.send(Input::CloseClient {
            id: self.id.clone(),
        });
    }
}

/// Performs `op` through `conn` against `node` as `process`, recording its
/// invocation and completion; returns how it ended.
pub async fn invoke(
    shared: &Shared,
    conn: &mut Conn,
    process: u64,
    node: &str,
    op: &Op,
) -> EventType {
    let draft = |kind: EventType, value: Value, error: Option<String>| Draft {
        process: Process::Client(process),
        kind,
        f: op.f.to_string(),
        key: op.key.clone(),
        value,
        error,
    };
    shared
        .recorder
        .record(draft(EventType::Invoke, op.value.clone(), None));
    let completion = match conn.request(node, op.body.clone(), shared.timeout).await {
        Some(reply) => shared.workload.complete(op, &reply),
        None => Completion::Info(format!(
            "no reply from {node} within {} ms",
            shared.timeout.as_millis()
        )),
    };
    let (kind, value, error) = match completion {
        Completion::Ok(v) => (EventType::Ok, v, None),
        Completion::Fail(e) => (EventType::Fail, op.value.clone(), e),
        Completion::Info(e) => (EventType::Info, op.value.clone(), Some(e)),
    };
    shared.recorder.record(draft(kind, value, error));
    let counter = match kind {
        EventType::Ok => &shared.counters.ok,
        EventType::Fail => &shared.counters.fail,
        _ => &shared.counters.info,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    kind
}

/// Client `slot` of `concurrency`: one operation every `interval` to node
/// `slot mod n` until told to stop. Returns the last process number it used.
pub async fn run(
    shared: Shared,
    slot: usize,
    concurrency: usize,
    interval: Duration,
    seed: u64,
) -> u64 {
    let mut gen = Generator::new(seed, slot, concurrency);
    let node = shared.ids[slot % shared.ids.len()].clone();
    let mut process = slot as u64;
    let mut conn = Conn::open(&shared.router, process);
    let stagger = interval.mul_f64(slot as f64 / concurrency.max(1) as f64);
    tokio::time::sleep(stagger).await;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !shared.stop.load(Ordering::Relaxed) {
        tick.tick().await;
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let op = shared.workload.next_op(&mut gen);
        if invoke(&shared, &mut conn, process, &node, &op).await == EventType::Info {
            process += concurrency as u64;
            conn = Conn::open(&shared.router, process);
        }
    }
    process
}
