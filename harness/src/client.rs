//! Clients: each bound to one node, issuing its workload's operations at its
//! share of the rate, recording every invocation and completion.
//!
//! Each client owns a [`SystemClient`] bound to its node: the system turns
//! the workload's typed operations into its own requests and the answers
//! into outcomes. Outcomes follow Jepsen: `fail` only when the operation
//! certainly did not take effect (a refused operation, a cas whose value
//! differs, a connection refused before anything was sent); a timeout, a
//! connection lost after sending, or any doubt is `info`, after which the
//! client continues as a new process (its number plus the concurrency).
//! Clients never retry or reorder an operation. An operation the system
//! does not perform ([`System::supports`]) is never sent nor recorded: the
//! run stops, refused ([`Shared::refused`]).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_checker::history::{EventType, Process};
use faultline_workloads::{Func, Generator, Op, Reply, Workload};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::recorder::{Draft, Recorder};
use crate::system::{ClientSpec, System, SystemClient};
use faultline_platform::cluster::NodeSpec;

/// Counts shown by the progress line.
#[derive(Debug, Default)]
pub struct Counters {
    /// Operations that completed ok.
    pub ok: AtomicU64,
    /// Operations that certainly did not take effect.
    pub fail: AtomicU64,
    /// Operations whose outcome is unknown (timeouts, lost connections).
    pub info: AtomicU64,
}

impl Counters {
    /// Every completed operation, whatever its outcome.
    pub fn total(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.fail.load(Ordering::Relaxed)
            + self.info.load(Ordering::Relaxed)
    }
}

/// What every client of a run shares.
#[derive(Clone)]
pub struct Shared {
    /// The per-request timeout (past it an operation is `info`).
    pub timeout: Duration,
    /// The workload whose operations the clients draw.
    pub workload: Arc<dyn Workload>,
    /// The system under test (how operations reach it).
    pub system: Arc<dyn System>,
    /// Where every invocation and completion goes.
    pub recorder: Recorder,
    /// Outcome counts, for the progress line and `acked` waits.
    pub counters: Arc<Counters>,
    /// Keys the run used, for the final reads.
    pub keys: Arc<Mutex<BTreeSet<String>>>,
    /// Set when the clients should stop after their current operation.
    pub stop: Arc<AtomicBool>,
    /// Why the run cannot go on, once the workload drew an operation the
    /// system does not perform.
    pub refusal: Arc<Mutex<Option<String>>>,
}

/// One client: runs until `shared.stop` is set.
pub struct Client {
    /// Its slot, 0-based (its first process number).
    pub slot: usize,
    /// All clients (process numbers advance by this after an info).
    pub concurrency: usize,
    /// The node it talks to.
    pub node: NodeSpec,
    /// Mean time between its operations.
    pub interval: Duration,
    /// The run's seed (each client draws from its own stream of it).
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
        let mut client = shared.open(&self.node, format!("c{}", self.slot));
        while !shared.stop.load(Ordering::Relaxed) {
            let started = tokio::time::Instant::now();
            let op = shared.workload.next_op(&mut gen);
            shared
                .keys
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(op.keys());
            let done = invoke_and_complete(&shared, client.as_mut(), process, &op).await;
            shared.workload.observe(&mut gen, &op, &done);
            if matches!(done, Reply::Info(_)) {
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

impl Shared {
    /// A client of the system bound to `node`, named `name` (`c3`).
    pub fn open(&self, node: &NodeSpec, name: String) -> Box<dyn SystemClient> {
        let spec = ClientSpec {
            name,
            timeout: self.timeout,
            write_revisions: self.workload.write_revisions(),
        };
        self.system.client(node, &spec)
    }

    /// Why the run was refused, if it was.
    pub fn refusal(&self) -> Option<String> {
        self.refusal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Resolves, with why, once the run is refused (see [`Shared::refusal`]).
    pub async fn refused(&self) -> String {
        loop {
            if let Some(why) = self.refusal() {
                return why;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Refuses the run: `f` is not an operation the system performs.
    fn refuse(&self, f: Func) {
        let why = format!(
            "the {} workload issues {f}, which --system {} does not perform",
            self.workload.name(),
            self.system.name()
        );
        self.stop.store(true, Ordering::Relaxed);
        let mut refusal = self.refusal.lock().unwrap_or_else(|p| p.into_inner());
        refusal.get_or_insert(why);
    }
}

/// Performs `op` as `process` through `client`, recording both events;
/// returns the completion as recorded (an `ok` with its value, a `fail` or
/// `info` with its error). An operation the system does not perform is
/// neither sent nor recorded: it refuses the run (and counts as `fail`
/// here, so the caller stops at once).
pub async fn invoke_and_complete(
    shared: &Shared,
    client: &mut dyn SystemClient,
    process: u64,
    op: &Op,
) -> Reply {
    if !shared.system.supports(op.f) {
        shared.refuse(op.f);
        return Reply::Fail(format!(
            "--system {} does not perform {}",
            shared.system.name(),
            op.f
        ));
    }
    shared.recorder.record(Draft {
        process: Process::Client(process),
        kind: EventType::Invoke,
        f: op.f.name().to_string(),
        key: op.key.clone(),
        value: op.value.clone(),
        error: None,
    });
    let reply = client.invoke(op).await;
    let reply = shared.workload.complete(op, reply);
    let (kind, value, error) = match &reply {
        Reply::Ok(v) => (EventType::Ok, v.clone(), None),
        Reply::Fail(e) => (EventType::Fail, op.value.clone(), Some(e.clone())),
        Reply::Info(e) => (EventType::Info, op.value.clone(), Some(e.clone())),
    };
    shared.recorder.record(Draft {
        process: Process::Client(process),
        kind,
        f: op.f.name().to_string(),
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
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::{BoxFuture, NodeCommand};

    /// A system whose clients only read, and answer every read with null.
    #[derive(Debug)]
    struct ReadOnly;

    struct Reader;

    impl SystemClient for Reader {
        fn invoke<'a>(&'a mut self, _op: &'a Op) -> BoxFuture<'a, Reply> {
            Box::pin(async { Reply::Ok(serde_json::Value::Null) })
        }
    }

    impl System for ReadOnly {
        fn name(&self) -> &'static str {
            "read-only"
        }
        fn program(&self) -> String {
            String::new()
        }
        fn command(&self, _i: usize, _nodes: &[NodeSpec]) -> NodeCommand {
            NodeCommand {
                program: "true".into(),
                args: Vec::new(),
            }
        }
        fn client(&self, _node: &NodeSpec, _spec: &ClientSpec) -> Box<dyn SystemClient> {
            Box::new(Reader)
        }
        fn supports(&self, f: Func) -> bool {
            f == Func::Read
        }
    }

    #[test]
    fn an_operation_the_system_does_not_perform_is_never_recorded_and_refuses_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let (recorder, writer) =
            Recorder::create(&dir.path().join("history.jsonl"), std::time::Instant::now()).unwrap();
        let shared = Shared {
            timeout: Duration::from_secs(1),
            workload: Arc::from(faultline_workloads::by_name("set").unwrap()),
            system: Arc::new(ReadOnly),
            recorder: recorder.clone(),
            counters: Arc::default(),
            keys: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            refusal: Arc::default(),
        };
        let nodes = faultline_platform::cluster::layout(1, dir.path(), false);
        let mut client = shared.open(&nodes[0], "c0".into());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let read = Op::new(Func::Read, "s", serde_json::Value::Null);
        let add = Op::new(Func::Add, "s", serde_json::json!(1));
        rt.block_on(async {
            assert_eq!(
                invoke_and_complete(&shared, client.as_mut(), 0, &read).await,
                Reply::Ok(serde_json::json!([]))
            );
            assert_eq!(shared.refusal(), None);
            invoke_and_complete(&shared, client.as_mut(), 0, &add).await;
            assert_eq!(
                shared.refused().await,
                "the set workload issues add, which --system read-only does not perform"
            );
        });
        assert!(shared.stop.load(Ordering::Relaxed));
        recorder.close();
        let events = writer.finish().unwrap();
        let fs: Vec<&str> = events.iter().map(|e| e.f.as_str()).collect();
        assert_eq!(fs, ["read", "read"], "only the read was recorded");
        assert_eq!(shared.counters.total(), 1);
    }
}
