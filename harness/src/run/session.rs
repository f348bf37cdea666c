//! The live phases of a run: start the cluster, run the case (clients under
//! faults), heal and recover, the final reads. A [`Session`] holds what
//! they share; whatever way they end, the history recorded so far stays in
//! it for the analysis.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use faultline_checker::history::Event;
use faultline_workloads::{FinalRead, Reply};

use crate::checkers::Checker;
use crate::client::{invoke_and_complete, Client, Counters, Shared};
use crate::nemesis::{lock, schedule, Executor, FaultEvent, SharedPlatform};
use crate::node_log::last_words;
use crate::online::OnlineChecker;
use crate::progress::Progress;
use crate::record::OnlineDetection;
use crate::recorder::{Recorder, Writer};
use crate::system::{ClusterView, System};
use faultline_platform::cluster::NodeSpec;
use faultline_platform::netns::{self, NetMode};

use super::plan::Plan;
use super::probe::SystemProbe;

/// Attempts of each final read (through a different node each time).
const FINAL_ATTEMPTS: usize = 5;

/// What the live phases of one run share.
pub struct Session<'a> {
    plan: &'a Plan,
    platform: SharedPlatform,
    /// Per-request timeout of the clients (past it: info).
    timeout: Duration,
    progress: Progress,
    /// Nodes that exited on their own (not at a failpoint), with how.
    crashes: Arc<Mutex<Vec<String>>>,
    recording: Option<(Recorder, Writer)>,
    /// The checkers that judge while the run goes (`--check online`).
    online_checkers: Vec<&'static dyn Checker>,
    /// The online checker, once the history began.
    online: Option<OnlineChecker>,
    /// Told the test's time zero when the history begins (a platform's
    /// own clock, e.g. Maelstrom's message journal).
    zero: Option<Box<dyn Fn(Instant) + Send + Sync>>,
    /// The processes of the final reads and the node each read through.
    final_reads: BTreeMap<u64, String>,
    /// The system offers its replicas' states, but its nodes cannot show
    /// them (the program they run has no such request).
    replicas_unsupported: bool,
}

/// What the live phases leave for the analysis, once the nodes stopped.
pub struct Finished {
    /// The history recorded (empty when the run ended before it began).
    pub events: Vec<Event>,
    /// Every node's log, by name.
    pub logs: Vec<(String, String)>,
    /// `node: how` for each node that failed on its own.
    pub crashes: Vec<String>,
    /// What the online check found.
    pub online: Option<OnlineDetection>,
    /// The processes of the final reads and the node each read through.
    pub final_reads: BTreeMap<u64, String>,
    /// The nodes could not show their own states: the replicas were not
    /// compared (the run drops `replica-agreement`).
    pub replicas_unsupported: bool,
}

impl<'a> Session<'a> {
    /// A session for `plan` on the cluster behind `platform`; with
    /// `online` checkers, the history is judged while it is recorded.
    pub fn new(
        plan: &'a Plan,
        platform: SharedPlatform,
        online: Vec<&'static dyn Checker>,
    ) -> anyhow::Result<Session<'a>> {
        let timeout = Duration::from_millis(plan.args.request_timeout_ms.max(1));
        Ok(Session {
            plan,
            platform,
            timeout,
            progress: Progress::new(),
            crashes: Arc::default(),
            recording: None,
            online_checkers: online,
            online: None,
            zero: None,
            final_reads: BTreeMap::new(),
            replicas_unsupported: false,
        })
    }

    /// Has `zero` told the test's time zero when the history begins.
    pub fn at_zero(&mut self, zero: Box<dyn Fn(Instant) + Send + Sync>) {
        self.zero = Some(zero);
    }

    /// Whether the run logs its nodes' status (`states.jsonl`): on local
    /// clusters of systems that can tell it (remote hosts: not sampled).
    fn samples_states(&self) -> bool {
        self.plan.system.status().is_some() && self.plan.hosts.is_none()
    }

    /// Every live phase, in order.
    pub async fn execute(&mut self) -> anyhow::Result<()> {
        self.start_cluster().await?;
        let shared = self.begin_history()?;
        let probe = Arc::new(SystemProbe {
            system: self.plan.system.clone(),
            specs: self.plan.specs.clone(),
        });
        let mut executor = Executor::new(
            self.platform.clone(),
            shared.recorder.clone(),
            probe.clone(),
            self.plan.seed,
        );
        let tapped = self.samples_states().then(|| {
            let (tap, tapped) = tokio::sync::mpsc::unbounded_channel();
            executor.tap_statuses(tap);
            tapped
        });
        let first_process = self.run_case(&shared, &mut executor, probe, tapped).await?;
        executor.end().await.context("ending the faults")?;
        self.recover(&shared).await;
        self.final_reads(&shared, first_process).await;
        self.survey_replicas(&shared).await;
        match shared.refusal() {
            Some(why) => bail!(why),
            None => Ok(()),
        }
    }

    /// Stops every node (after reading their logs), closes the history,
    /// and returns what the analysis needs.
    pub fn finish(mut self) -> anyhow::Result<Finished> {
        self.progress.finish();
        let logs = {
            let mut p = lock(&self.platform);
            let logs = self
                .plan
                .specs
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.clone(), p.read_log(i).unwrap_or_default()))
                .collect();
            for (i, status) in p.reap() {
                if status.is_crash() {
                    lock_vec(&self.crashes).push(format!("{}: {status}", self.plan.specs[i].name));
                }
            }
            p.shutdown();
            logs
        };
        self.plan.system.shutdown();
        let events = match self.recording.take() {
            Some((recorder, writer)) => {
                recorder.close();
                writer.finish().context("writing history.jsonl")?
            }
            None => Vec::new(),
        };
        let online = self.online.take().and_then(OnlineChecker::finish);
        let crashes = lock_vec(&self.crashes).clone();
        Ok(Finished {
            events,
            logs,
            crashes,
            online,
            final_reads: std::mem::take(&mut self.final_reads),
            replicas_unsupported: self.replicas_unsupported,
        })
    }

    /// Starts every node and waits (bounded) until one leads.
    async fn start_cluster(&mut self) -> anyhow::Result<()> {
        let limit = Duration::from_secs_f64(self.plan.args.leader_timeout);
        let plan = self.plan;
        start_cluster(&self.platform, plan.system.as_ref(), &plan.specs, limit).await?;
        self.warn_if_partitions_are_blind();
        Ok(())
    }

    /// Time zero of the history and of the schedule: the recorder starts.
    fn begin_history(&mut self) -> anyhow::Result<Shared> {
        let start = Instant::now();
        let (recorder, writer) =
            Recorder::create(&self.plan.dir.history(), start).context("creating history.jsonl")?;
        if let Some(zero) = &self.zero {
            zero(start);
        }
        if !self.online_checkers.is_empty() {
            let checker = OnlineChecker::start(self.online_checkers.clone(), start);
            if let Some(tap) = checker.sender() {
                recorder.tap(tap);
            }
            self.online = Some(checker);
        }
        self.recording = Some((recorder.clone(), writer));
        Ok(Shared {
            timeout: self.timeout,
            workload: self.plan.workload.clone(),
            system: self.plan.system.clone(),
            recorder,
            counters: Arc::new(Counters::default()),
            keys: Arc::default(),
            stop: Arc::new(AtomicBool::new(false)),
            refusal: Arc::default(),
        })
    }

    /// The clients drive the workload while the executor plays the
    /// scenario or the random schedule, for the time limit; then the
    /// clients stop (each finishing its operation in flight); `probe`
    /// samples the nodes' status meanwhile into the status log, with what
    /// the executor saw (`tapped`; None: the run logs no statuses). Returns the first process
    /// number free for the final reads.
    async fn run_case(
        &mut self,
        shared: &Shared,
        executor: &mut Executor,
        probe: Arc<SystemProbe>,
        tapped: Option<
            tokio::sync::mpsc::UnboundedReceiver<Vec<Option<crate::system::NodeStatus>>>,
        >,
    ) -> anyhow::Result<u64> {
        let plan = self.plan;
        let mut clients = self.spawn_clients(shared);
        let labels = executor.labels();
        let time_limit = plan.time_limit();
        let faulty = async {
            match &plan.scenario {
                Some(s) => {
                    crate::scenario::play::play(
                        executor,
                        s,
                        shared.counters.clone(),
                        plan.seed,
                        time_limit,
                    )
                    .await?
                }
                None => schedule::play(executor, &plan.steps, time_limit).await?,
            }
            let left = time_limit.saturating_sub(shared.recorder.elapsed());
            tokio::time::sleep(left).await;
            anyhow::Ok(())
        };
        let progress = &mut self.progress;
        let ticker = async {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let faults = labels.lock().map(|a| a.clone()).unwrap_or_default();
                progress.update("run", shared.recorder.elapsed(), &shared.counters, &faults);
            }
        };
        let sampler = async {
            match tapped {
                Some(tapped) => {
                    let path = plan.dir.path.join(crate::checkers::states::STATES_FILE);
                    let recorder = shared.recorder.clone();
                    super::states::sample(probe, plan.specs.len(), &path, recorder, tapped).await
                }
                None => std::future::pending().await,
            }
        };
        let online = self.online.as_ref();
        let anomaly = async {
            match online {
                Some(checker) if plan.args.stop_on_anomaly => checker.anomaly().await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            r = faulty => r.context("injecting faults")?,
            _ = watch_exits(&self.platform, &self.crashes, &shared.recorder, &plan.specs) => {}
            _ = ticker => {}
            _ = sampler => {}
            why = shared.refused() => bail!(why),
            _ = anomaly => {
                if let Some(checker) = online {
                    checker.stopped_at(shared.recorder.elapsed());
                    if let Some(d) = checker.detection() {
                        self.progress.finish();
                        eprintln!(
                            "online check: {} cannot be linearized (completed at {}), found at {:.2} s: \
                             stopping the workload",
                            d.operation,
                            d.anomaly_s.map(|t| format!("{t:.2} s")).unwrap_or_else(|| "?".into()),
                            d.detected_s
                        );
                    }
                }
            }
        }
        shared.stop.store(true, Ordering::Relaxed);
        let mut first_process = plan.concurrency as u64;
        let drain = async {
            while let Some(done) = clients.join_next().await {
                if let Ok(last) = done {
                    first_process = first_process.max(last + 1);
                }
            }
        };
        tokio::select! {
            _ = drain => {}
            _ = tick_progress("stopping clients", shared, &mut self.progress) => {}
        }
        Ok(first_process)
    }

    fn spawn_clients(&self, shared: &Shared) -> tokio::task::JoinSet<u64> {
        let plan = self.plan;
        let per_client = Duration::from_secs_f64(plan.concurrency as f64 / plan.args.rate);
        let mut clients = tokio::task::JoinSet::new();
        for slot in 0..plan.concurrency {
            let client = Client {
                slot,
                concurrency: plan.concurrency,
                node: plan.specs[slot % plan.specs.len()].clone(),
                interval: per_client,
                seed: plan.seed,
            };
            clients.spawn(client.run(shared.clone()));
        }
        clients
    }

    /// Gives the healed cluster `--recovery-time`.
    async fn recover(&mut self, shared: &Shared) {
        let recover = tokio::time::sleep(Duration::from_secs_f64(
            self.plan.args.recovery_time.max(0.0),
        ));
        tokio::select! {
            _ = recover => {}
            _ = tick_progress("recovering", shared, &mut self.progress) => {}
        }
    }

    /// The final reads of the keys the run used: one process per attempt,
    /// each read through its node or through the next node on failure.
    async fn final_reads(&mut self, shared: &Shared, first_process: u64) {
        let keys: Vec<String> = shared
            .keys
            .lock()
            .map(|k| k.iter().cloned().collect())
            .unwrap_or_default();
        let reads = self.plan.workload.final_reads(&keys, self.plan.specs.len());
        let specs = &self.plan.specs;
        let (planned, finals) = read_finally(shared, specs, reads, first_process);
        self.final_reads = planned;
        tokio::select! {
            _ = finals => {}
            _ = tick_progress("final reads", shared, &mut self.progress) => {}
        }
    }

    /// When the system can show each replica's own state (and there are
    /// two nodes or more): waits for the
    /// replicas to settle, reads every node's state and writes them to
    /// `replicas.json`. Nothing (and no time) for other systems.
    async fn survey_replicas(&mut self, shared: &Shared) {
        let specs = &self.plan.specs;
        let Some(replicas) =
            crate::system::replicas::compared(self.plan.system.as_ref(), specs.len())
        else {
            return;
        };
        let recovery = Duration::from_secs_f64(self.plan.args.recovery_time.max(0.0));
        let wait = super::replica_survey::Wait::after_recovery(recovery);
        let survey = super::replica_survey::survey(replicas, specs, wait);
        let mut surveyed = None;
        tokio::select! {
            s = survey => surveyed = Some(s),
            _ = tick_progress("comparing replicas", shared, &mut self.progress) => {}
        }
        let survey = match surveyed {
            Some(Ok(survey)) => survey,
            Some(Err(why)) => {
                eprintln!(
                    "faultline: warning: the nodes cannot show their own state ({why}): \
                     the replicas are not compared"
                );
                self.replicas_unsupported = true;
                return;
            }
            None => return,
        };
        let path = self.plan.dir.path.join(crate::system::replicas::FILE);
        if let Err(e) = self.plan.dir.write_json(&path, &survey) {
            tracing::warn!(path = %path.display(), error = %e, "writing the replicas' states");
        }
    }

    /// Partition rules tell nodes apart by source address, or by the group
    /// id each node runs with (root only). A node whose peer connections
    /// leave from 127.0.0.1 without a group id of its own cannot be
    /// partitioned: say so rather than pretend.
    fn warn_if_partitions_are_blind(&self) {
        let tagged = self.plan.specs.iter().all(|s| s.gid.is_some());
        if self.plan.args.net == NetMode::Private && self.plan.partitions() && !tagged {
            let unbound = netns::unbound_peer_connections(faultline_platform::cluster::PEER_PORT);
            if unbound > 0 {
                eprintln!(
                    "faultline: warning: {unbound} peer connections leave from 127.0.0.1, not from their node's own address, \
                     and nodes cannot run under group ids of their own (not root): partitions will not cut them. \
                     Run as root, or make the node bind its outgoing peer sockets to its --peer-addr address."
                );
            }
        }
    }
}

/// Starts every node of `specs` and waits (bounded by `limit`) until the
/// cluster is ready ([`ClusterView`]), failing early when a node dies;
/// returns the node that leads, when the system can say. `faultline run`
/// and `faultline bench` both start their clusters this way.
pub async fn start_cluster(
    platform: &SharedPlatform,
    system: &dyn System,
    specs: &[NodeSpec],
    limit: Duration,
) -> anyhow::Result<Option<usize>> {
    {
        let mut p = lock(platform);
        for i in 0..specs.len() {
            p.start(i).context("starting the nodes")?;
        }
    }
    let deadline = Instant::now() + limit;
    loop {
        let exited = lock(platform).reap();
        if let Some((i, status)) = exited.first() {
            let p = lock(platform);
            let node = &p.nodes()[*i];
            bail!(
                "node {} exited at start ({status}); the end of its log ({}):\n{}",
                node.name,
                node.log_path.display(),
                tail(&p.read_log(*i).unwrap_or_default(), 15)
            );
        }
        let view = ClusterView::ask(system, specs).await;
        if view.ready {
            return Ok(view.leader);
        }
        if Instant::now() >= deadline {
            let p = lock(platform);
            bail!(
                "no leader after {:.0}s; the end of {}:\n{}",
                limit.as_secs_f64(),
                specs[0].log_path.display(),
                tail(&p.read_log(0).unwrap_or_default(), 15)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Watches for nodes exiting on their own: an exit at a failpoint is an
/// injected crash (recorded as a fault), the exit of a node whose files were
/// damaged on purpose is its answer to the damage (recorded with its log's
/// last lines), any other is a crash the verdict reports. Never ends.
async fn watch_exits(
    platform: &SharedPlatform,
    crashes: &Mutex<Vec<String>>,
    recorder: &Recorder,
    specs: &[NodeSpec],
) {
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let exited = lock(platform).reap();
        for (i, status) in exited {
            if status.is_failpoint() {
                recorder.fault(&FaultEvent::Crash(vec![specs[i].name.clone()]));
            } else if status.after_corruption {
                let log = lock(platform).read_log(i).unwrap_or_default();
                recorder.fault(&FaultEvent::CorruptExit {
                    node: specs[i].name.clone(),
                    status: status.to_string(),
                    log: last_words(&log, 3),
                });
            } else {
                lock_vec(crashes).push(format!("{}: {status}", specs[i].name));
            }
        }
    }
}

/// Shows `phase` on the progress line until dropped.
async fn tick_progress(phase: &str, shared: &Shared, progress: &mut Progress) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        progress.update(phase, shared.recorder.elapsed(), &shared.counters, &[]);
    }
}

/// The final reads: which process reads through which node (each read
/// retried up to [`FINAL_ATTEMPTS`] times while it fails, as a new process
/// each time, through its own node or else the next one), and the reads
/// themselves, to await.
fn read_finally<'a>(
    shared: &'a Shared,
    specs: &'a [NodeSpec],
    reads: Vec<FinalRead>,
    first_process: u64,
) -> (
    BTreeMap<u64, String>,
    impl std::future::Future<Output = ()> + 'a,
) {
    let mut planned = BTreeMap::new();
    for (n, read) in reads.iter().enumerate() {
        for attempt in 0..FINAL_ATTEMPTS {
            let process = first_process + (n * FINAL_ATTEMPTS + attempt) as u64;
            let node = node_of_read(n, read, attempt, specs.len());
            planned.insert(process, specs[node].name.clone());
        }
    }
    let reads = async move {
        let mut tasks = tokio::task::JoinSet::new();
        for (n, read) in reads.into_iter().enumerate() {
            let shared = shared.clone();
            let specs = specs.to_vec();
            let base_process = first_process + (n * FINAL_ATTEMPTS) as u64;
            tasks.spawn(async move {
                for attempt in 0..FINAL_ATTEMPTS {
                    let node = node_of_read(n, &read, attempt, specs.len());
                    let process = base_process + attempt as u64;
                    let mut client = shared.open(&specs[node], format!("c{process}"));
                    let done =
                        invoke_and_complete(&shared, client.as_mut(), process, &read.op).await;
                    if matches!(done, Reply::Ok(_)) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    };
    (planned, reads)
}

/// The node final read `n` goes through at `attempt`: its own, or else the
/// next one.
fn node_of_read(n: usize, read: &FinalRead, attempt: usize, nodes: usize) -> usize {
    read.node.unwrap_or(n + attempt) % nodes
}

fn lock_vec(v: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    v.lock().unwrap_or_else(|e| e.into_inner())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
