//! One Maelstrom run, start to verdict: nodes up (`init`, `topology`),
//! clients under the seeded fault schedule for the time limit, heal,
//! recovery, final reads, then the checker, `results.json`, the report.
//! Any node that breaks the protocol ends the run at once, named with the
//! line that shows it.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use faultline_checker::history::{Event, EventType};
use faultline_checker::CheckOptions;

use crate::checkers::{check_all, Checker, RunEvidence};
use crate::client::Counters;
use crate::cluster::{node_ip, NodeSpec, HTTP_PORT, PEER_PORT};
use crate::nemesis::schedule::{self, ScheduleOptions};
use crate::nemesis::{lock, Executor, NemesisKind, SharedPlatform};
use crate::record::{ResultsRecord, RunFacts, TestRecord};
use crate::recorder::Recorder;
use crate::run::{BadOptions, RunArgs};
use crate::store::RunDir;
use crate::system::{on_path, NodeCommand};

use super::client::{self, Conn, Shared};
use super::journal::{Journal, JOURNAL_FILE};
use super::platform::MaelstromCluster;
use super::probe::NoStatus;
use super::router::{BadNode, Breach, Latency, LatencyDist, Router, RouterConfig, SETUP_TIMEOUT};
use super::workload::{topology, Workload};

/// Attempts of each final read.
const FINAL_ATTEMPTS: usize = 3;

/// What a Maelstrom run takes beyond `faultline run`'s options.
#[derive(Debug, Clone)]
pub struct Extras {
    /// Latency on node hops.
    pub latency: Latency,
    /// The broadcast topology's name.
    pub topology: String,
    /// Whether partitions are one-way (see [`super::platform::one_way_grudge`]).
    pub one_way_partitions: bool,
}

impl Default for Extras {
    fn default() -> Self {
        Extras {
            latency: Latency {
                mean_ms: 0.0,
                dist: LatencyDist::Constant,
            },
            topology: "grid".into(),
            one_way_partitions: false,
        }
    }
}

/// Runs `args` (`--system maelstrom`) with `extras`; returns the exit code.
pub fn run(args: RunArgs, extras: Extras) -> anyhow::Result<i32> {
    let workload = Workload::parse(&args.workload).map_err(BadOptions)?;
    let kinds = nemesis_kinds(&args)?;
    let scenario = match &args.scenario {
        Some(name) => {
            let known = crate::scenario::known(args.scenarios.as_deref())?;
            Some(crate::scenario::find(&known, name)?)
        }
        None => None,
    };
    if !(args.time_limit > 0.0 && args.rate > 0.0 && args.nemesis_interval > 0.0) {
        return Err(BadOptions(
            "--time-limit, --rate and --nemesis-interval must be positive".into(),
        )
        .into());
    }
    let flags: crate::system::http::HttpArgs = args.system.selected().parse()?;
    let command = node_command(flags.node_cmd.as_deref())?;
    let n = usize::from(args.nodes);
    let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let topo = if workload.needs_topology() {
        Some(topology(&extras.topology, &ids).map_err(BadOptions)?)
    } else {
        None
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let concurrency = args.concurrency.unwrap_or(n).max(1);
    let label = match &scenario {
        Some(s) => s.name.clone(),
        None => args.nemesis.label(),
    };
    let dir = RunDir::create(&args.store, &args.workload, &label, seed)
        .with_context(|| format!("creating the run folder under {}", args.store.display()))?;
    let specs = specs(&ids, &dir.path);
    let time_limit = Duration::from_secs_f64(args.time_limit);
    let kinds = if scenario.is_some() {
        Vec::new()
    } else {
        kinds
    };
    let steps = schedule::schedule(&ScheduleOptions {
        seed,
        kinds: kinds.clone(),
        nodes: n,
        interval: Duration::from_secs_f64(args.nemesis_interval),
        time_limit,
        drop_percent: args.drop_percent,
    });
    let line = command.to_vec();
    let mut test = TestRecord::new(RunFacts {
        options: &args,
        seed,
        concurrency,
        nemesis: &kinds,
        system: super::SYSTEM_NAME,
        node_bin: &command.program.display().to_string(),
        node_command_lines: &vec![line; n],
        nodes_tagged_with_groups: false,
        schedule: &steps,
        scenario: scenario.as_ref(),
    })
    .context("recording the test")?;
    let other = &mut test.options.other;
    other.insert("latency".into(), extras.latency.mean_ms.into());
    other.insert(
        "latency_dist".into(),
        serde_json::to_value(extras.latency.dist)?,
    );
    other.insert("topology".into(), extras.topology.clone().into());
    other.insert(
        "one_way_partitions".into(),
        extras.one_way_partitions.into(),
    );
    dir.write_json(&dir.test_json(), &test)
        .context("writing test.json")?;
    eprintln!(
        "faultline maelstrom: workload {} · {} · {n} nodes · {concurrency} clients · {} ops/s · {}s · latency {} ms {:?} · seed {seed}",
        workload.name(),
        match &scenario {
            Some(s) => format!("scenario {}", s.name),
            None => format!("nemesis {}", args.nemesis.label()),
        },
        args.rate,
        args.time_limit,
        extras.latency.mean_ms,
        extras.latency.dist,
    );
    eprintln!("  node: {}", command.to_vec().join(" "));
    eprintln!("  store: {}", dir.path.display());

    let journal =
        Journal::create(&dir.path.join(JOURNAL_FILE)).context("creating messages.jsonl")?;
    let mut router = Router::start(
        RouterConfig {
            ids: ids.clone(),
            latency: extras.latency,
            topology: topo,
            seed,
        },
        journal,
    )
    .context("starting the router")?;
    let cluster = MaelstromCluster::new(command, specs.clone(), router.sender())
        .with_one_way_partitions(extras.one_way_partitions);
    let platform: SharedPlatform = Arc::new(Mutex::new(cluster));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let live = Live {
        args: &args,
        workload,
        seed,
        concurrency,
        ids,
        router: &router,
        platform: platform.clone(),
        dir: &dir,
        steps: &steps,
        scenario: scenario.as_ref(),
    };
    let outcome = rt.block_on(async {
        tokio::select! {
            r = live.execute() => Some(r),
            sig = interrupted() => {
                eprintln!("faultline: interrupted by {sig}: nodes stopped; the run so far is in {}", dir.path.display());
                None
            }
        }
    });
    drop(rt);
    lock(&platform).shutdown();
    router.stop().context("writing messages.jsonl")?;
    let Some(outcome) = outcome else {
        return Ok(crate::run::EXIT_INTERRUPTED);
    };
    let (events, finals) = match outcome {
        Err(e) => {
            return Err(e.context(format!(
                "the run failed (its files are in {})",
                dir.path.display()
            )))
        }
        Ok(Started::Never(bad)) => bail!(
            "{bad}\nthe nodes never came up; their logs are in {}",
            dir.path.join("nodes").display()
        ),
        Ok(Started::Ran { events, finals }) => (events, finals),
    };
    let bad = router.bad_nodes();
    let opts = CheckOptions {
        timeout: Some(Duration::from_secs_f64(args.check_timeout.max(0.1))),
        ..CheckOptions::default()
    };
    eprintln!("checking {} events...", events.len());
    let evidence = RunEvidence {
        dir: Some(dir.path.clone()),
        logs: Vec::new(),
        crashes: bad.iter().map(ToString::to_string).collect(),
        final_reads: finals.into_iter().collect(),
    };
    let checkers: Vec<&dyn Checker> = [workload.name(), "stats", "node-logs", "messages"]
        .into_iter()
        .filter_map(crate::registry::checker)
        .collect();
    let results = check_all(&checkers, &events, &opts, &evidence);
    let record = ResultsRecord::new(&test, results, events.len());
    dir.write_json(&dir.results(), &record)
        .context("writing results.json")?;
    match crate::report::rebuild(&dir.path, &crate::registry::report()) {
        Ok(_) => {}
        Err(e) => eprintln!("faultline: warning: writing report.html and junit.xml: {e:#}"),
    }
    print_summary(&dir.path, &record, &bad);
    Ok(record.verdict.exit_code())
}

/// Waits for Ctrl-C or SIGTERM; returns which.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// The fault kinds asked for; the disk faults are refused (a Maelstrom
/// node's files are its own business).
fn nemesis_kinds(args: &RunArgs) -> Result<Vec<NemesisKind>, BadOptions> {
    for k in &args.nemesis.0 {
        if matches!(k, NemesisKind::PowerLoss | NemesisKind::Corrupt) {
            return Err(BadOptions(format!(
                "--nemesis {}: not available with --system maelstrom (kill, pause, partition and drop are)",
                k.name()
            )));
        }
    }
    Ok(args.nemesis.0.clone())
}

/// The node command from `--node-cmd` (or `--bin`): split like a shell
/// would, the program made absolute (nodes run in their own directory).
pub fn node_command(cmd: Option<&str>) -> anyhow::Result<NodeCommand> {
    let Some(cmd) = cmd else {
        return Err(BadOptions(
            "--system maelstrom needs --node-cmd (the node's command line)".into(),
        )
        .into());
    };
    let words =
        shell_words::split(cmd).map_err(|e| BadOptions(format!("--node-cmd {cmd:?}: {e}")))?;
    let Some((program, args)) = words.split_first() else {
        return Err(BadOptions("--node-cmd is empty".into()).into());
    };
    let path = PathBuf::from(program);
    let program = if program.contains('/') {
        path.canonicalize()
            .map_err(|e| BadOptions(format!("the node program {program}: {e}")))?
    } else {
        on_path(program)
            .ok_or_else(|| BadOptions(format!("the node program {program:?} is not on PATH")))?
    };
    Ok(NodeCommand {
        program,
        args: args.to_vec(),
    })
}

fn specs(ids: &[String], dir: &Path) -> Vec<NodeSpec> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| NodeSpec {
            name: id.clone(),
            ip: node_ip(i),
            peer_addr: SocketAddr::V4(SocketAddrV4::new(node_ip(i), PEER_PORT)),
            http_addr: SocketAddr::V4(SocketAddrV4::new(node_ip(i), HTTP_PORT)),
            data_dir: dir.join("data").join(id),
            backing_dir: None,
            log_path: dir.join("nodes").join(format!("{id}.log")),
            gid: None,
        })
        .collect()
}

/// How the live phases ended.
enum Started {
    /// A node never answered its setup: nothing was tested.
    Never(BadNode),
    /// The run happened (perhaps cut short by a broken node).
    Ran {
        events: Vec<Event>,
        finals: HashMap<u64, String>,
    },
}

struct Live<'a> {
    args: &'a RunArgs,
    workload: Workload,
    seed: u64,
    concurrency: usize,
    ids: Vec<String>,
    router: &'a Router,
    platform: SharedPlatform,
    dir: &'a RunDir,
    steps: &'a [schedule::Planned],
    scenario: Option<&'a crate::scenario::Scenario>,
}

impl Live<'_> {
    async fn execute(&self) -> anyhow::Result<Started> {
        {
            let mut p = lock(&self.platform);
            for i in 0..self.ids.len() {
                p.start(i).context("starting the nodes")?;
            }
        }
        if let Some(bad) = self.wait_for_setup().await {
            return Ok(Started::Never(bad));
        }
        let zero = Instant::now();
        let (recorder, writer) =
            Recorder::create(&self.dir.history(), zero).context("creating history.jsonl")?;
        let _ = self.router.sender().send(super::router::Input::Zero(zero));
        let finals = self.case(&recorder).await;
        recorder.close();
        let events = writer.finish().context("writing history.jsonl")?;
        Ok(Started::Ran {
            events,
            finals: finals?,
        })
    }

    /// Waits until every node answered `init` (and `topology`); the first
    /// node that breaks the protocol or exits instead.
    async fn wait_for_setup(&self) -> Option<BadNode> {
        let limit = Instant::now() + SETUP_TIMEOUT * 2 + Duration::from_secs(2);
        loop {
            self.reap_exits();
            if let Some(bad) = self.router.bad_nodes().into_iter().next() {
                return Some(bad);
            }
            if self.router.all_ready() {
                return None;
            }
            if Instant::now() > limit {
                let i = self.router.first_not_ready().unwrap_or(0);
                return Some(BadNode {
                    node: self.ids[i].clone(),
                    breach: Breach::NoSetupReply("init".into()),
                    line: "(the router never heard back)".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Nodes that exited on their own become bad nodes.
    fn reap_exits(&self) {
        let exited = lock(&self.platform).reap();
        for (i, exit) in exited {
            let log = lock(&self.platform).read_log(i).unwrap_or_default();
            let last = last_line(&log);
            self.router.report(BadNode {
                node: self.ids[i].clone(),
                breach: Breach::Exited(exit.to_string()),
                line: last,
            });
        }
    }

    /// Resolves when a node breaks the protocol or exits.
    async fn watch(&self) {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.reap_exits();
            if !self.router.bad_nodes().is_empty() {
                return;
            }
        }
    }

    /// Clients under faults, heal, recovery, final reads. Returns the final
    /// reads' processes and nodes.
    async fn case(&self, recorder: &Recorder) -> anyhow::Result<HashMap<u64, String>> {
        let args = self.args;
        let shared = Shared {
            router: self.router.sender(),
            recorder: recorder.clone(),
            workload: self.workload,
            ids: self.ids.clone(),
            timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
            stop: Arc::new(AtomicBool::new(false)),
            counters: Arc::new(Counters::default()),
        };
        let mut executor = Executor::new(
            self.platform.clone(),
            recorder.clone(),
            Arc::new(NoStatus),
            self.seed,
        );
        let interval = Duration::from_secs_f64(self.concurrency as f64 / args.rate);
        let mut clients = tokio::task::JoinSet::new();
        for slot in 0..self.concurrency {
            clients.spawn(client::run(
                shared.clone(),
                slot,
                self.concurrency,
                interval,
                self.seed,
            ));
        }
        let time_limit = Duration::from_secs_f64(args.time_limit);
        let counters = shared.counters.clone();
        let faulty = async {
            match self.scenario {
                Some(s) => {
                    crate::scenario::play::play(&mut executor, s, counters, self.seed, time_limit)
                        .await?
                }
                None => schedule::play(&mut executor, self.steps, time_limit).await?,
            }
            let left = time_limit.saturating_sub(recorder.elapsed());
            tokio::time::sleep(left).await;
            anyhow::Ok(())
        };
        let broken = tokio::select! {
            r = faulty => { r.context("injecting faults")?; false }
            _ = self.watch() => true,
        };
        shared.stop.store(true, Ordering::Relaxed);
        let mut next_process = self.concurrency as u64;
        let drain = async {
            while let Some(done) = clients.join_next().await {
                if let Ok(last) = done {
                    next_process = next_process.max(last + 1);
                }
            }
        };
        let _ = tokio::time::timeout(shared.timeout + Duration::from_secs(1), drain).await;
        clients.abort_all();
        executor.heal().context("healing the faults")?;
        let mut finals = HashMap::new();
        if broken || !self.workload.has_final_reads() {
            return Ok(finals);
        }
        let recovery = tokio::time::sleep(Duration::from_secs_f64(args.recovery_time.max(0.0)));
        tokio::select! {
            _ = recovery => {}
            _ = self.watch() => return Ok(finals),
        }
        let reads = self.final_reads(&shared, next_process, &mut finals);
        tokio::select! {
            _ = reads => {}
            _ = self.watch() => {}
        }
        Ok(finals)
    }

    /// One read through every node, each retried (as a new process) while
    /// it does not succeed.
    async fn final_reads(&self, shared: &Shared, first: u64, finals: &mut HashMap<u64, String>) {
        let Some(op) = self.workload.final_read() else {
            return;
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (i, node) in self.ids.iter().enumerate() {
            for attempt in 0..FINAL_ATTEMPTS {
                let process = first + (i * FINAL_ATTEMPTS + attempt) as u64;
                finals.insert(process, node.clone());
            }
            let shared = shared.clone();
            let node = node.clone();
            let op = op.clone();
            let base = first + (i * FINAL_ATTEMPTS) as u64;
            tasks.spawn(async move {
                for attempt in 0..FINAL_ATTEMPTS {
                    let process = base + attempt as u64;
                    let mut conn = Conn::open(&shared.router, process);
                    if client::invoke(&shared, &mut conn, process, &node, &op).await
                        == EventType::Ok
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// The last non-empty line a node wrote since it was last started.
fn last_line(log: &str) -> String {
    let since = log
        .rsplit_once("--- faultline: starting")
        .map_or(log, |(_, rest)| rest);
    since
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .last()
        .unwrap_or("(nothing on stderr)")
        .to_string()
}

fn print_summary(dir: &Path, record: &ResultsRecord, bad: &[BadNode]) {
    println!("run: {}", dir.display());
    for b in bad {
        println!("broken node: {b}");
    }
    for c in &record.checkers {
        let mut lines = c.text.lines();
        println!("{}: {}", c.name, lines.next().unwrap_or_default());
        for line in lines {
            println!("  {line}");
        }
    }
    println!("verdict: {}", record.verdict);
}
