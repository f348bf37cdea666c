//! `faultline run`: one run, start to verdict.
//!
//! 1. Enter the private network namespace (before any thread starts).
//! 2. Make the run's folder, draw the fault schedule from the seed, write
//!    `test.json`.
//! 3. Start the nodes and wait (bounded) until one leads.
//! 4. Drive the workload from `--concurrency` clients while the nemesis plays
//!    the schedule, for `--time-limit` seconds; every event goes to
//!    `history.jsonl` as it happens.
//! 5. Heal every fault, give the cluster `--recovery-time`, do the final reads.
//! 6. Stop the nodes, run the checkers, write `results.json`, print the
//!    summary; the exit code is the verdict's (0 valid, 1 invalid, 2 unknown).
//!
//! Whatever way the run ends (error, panic, Ctrl-C, SIGTERM), the nodes are
//! killed with their process groups, and the namespace with its rules dies
//! with the harness.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use faultline_checker::history::{Event, EventType, Process};
use faultline_checker::CheckOptions;
use faultline_workloads::{FinalRead, Workload};
use serde::Serialize;
use serde_json::json;

use crate::checkers::{check_workload, scan_logs, stats, Results};
use crate::client::{http_client, invoke_and_complete, Client, Counters, Shared};
use crate::cluster::{layout, LocalCluster};
use crate::nemesis::schedule::{schedule, ScheduleOptions, Step};
use crate::nemesis::{lock, Nemesis, NemesisKind, NemesisSet, SharedPlatform};
use crate::netns::{self, NetMode};
use crate::progress::Progress;
use crate::recorder::Recorder;
use crate::store::RunDir;
use crate::system::{System, SystemArgs};

/// Exit code of a run stopped by Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Arguments of `faultline run`. With none at all it is a short demo: the
/// register workload against 3 nodes under every fault for 20 seconds.
#[derive(Debug, Clone, Args, Serialize)]
pub struct RunArgs {
    /// A named scenario (see `faultline list scenarios`): its workload, its
    /// planned fault steps (in place of --nemesis) and its defaults for
    /// --workload, --nodes, --time-limit and --rate, which explicit options override.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
    /// A TOML file of user scenarios (default: ./faultline.toml when present).
    #[arg(long, value_name = "FILE")]
    pub scenarios: Option<PathBuf>,
    /// Options given explicitly on the command line (filled in by the CLI),
    /// so a scenario's defaults do not override them.
    #[arg(skip)]
    #[serde(skip)]
    pub explicit: Vec<String>,
    /// The workload (see `faultline list`): register, set or list-append.
    #[arg(long, default_value = "register", value_parser = parse_workload)]
    pub workload: String,
    /// Faults to inject: a comma list of kill, pause, partition, drop; or all; or none.
    #[arg(long, default_value = "all", value_parser = parse_nemesis)]
    pub nemesis: NemesisSet,
    /// Number of nodes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub nodes: u16,
    /// Seconds of workload under faults (healing, recovery and final reads come after).
    #[arg(long, default_value_t = 20.0)]
    pub time_limit: f64,
    /// Concurrent clients, each bound to one node (default: 2 × nodes).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Operations per second over all clients.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seed of every random choice (schedule, targets, keys, values, op mix);
    /// a fresh one is drawn, printed and stored when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds between fault starts.
    #[arg(long, default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// Share of node-to-node packets the drop fault drops, percent.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub drop_percent: u8,
    /// Seconds the cluster gets after the faults heal, before the final reads.
    #[arg(long, default_value_t = 5.0)]
    pub recovery_time: f64,
    /// Per-request timeout of the clients, milliseconds (past it: info).
    #[arg(long, default_value_t = 1000)]
    pub request_timeout_ms: u64,
    /// Seconds to wait for the cluster to elect a leader at start.
    #[arg(long, default_value_t = 20.0)]
    pub leader_timeout: f64,
    /// Seconds the checker may take before its verdict is unknown.
    #[arg(long, default_value_t = 120.0)]
    pub check_timeout: f64,
    /// The system under test and its flags (--system, --node-bin, --node-arg,
    /// --etcd-bin, --etcd-serializable-reads, --node-cmd, --client-cmd).
    #[command(flatten)]
    #[serde(flatten)]
    pub system: SystemArgs,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// private: a network namespace of the run's own (needs user namespaces or
    /// root); host: no namespace, no partition or drop faults.
    #[arg(long, value_enum, default_value = "private")]
    pub net: NetMode,
}

fn parse_workload(s: &str) -> Result<String, String> {
    faultline_workloads::by_name(s)
        .map(|w| w.name().to_string())
        .map_err(|e| e.to_string())
}

fn parse_nemesis(s: &str) -> Result<NemesisSet, String> {
    s.parse()
}

/// What `test.json` holds.
#[derive(Debug, Serialize)]
struct TestJson<'a> {
    options: &'a RunArgs,
    seed: u64,
    concurrency: usize,
    nemesis: Vec<NemesisKind>,
    faultline_version: &'static str,
    system: &'static str,
    node_bin: String,
    node_command_lines: Vec<Vec<String>>,
    nodes_tagged_with_groups: bool,
    started: String,
    schedule: &'a [Step],
    scenario: Option<&'a crate::scenario::Scenario>,
}

/// Runs `faultline run`; returns the exit code.
///
/// Must be called while the process is single-threaded (it enters the
/// network namespace first).
pub fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    let scenario = match &args.scenario {
        Some(name) => {
            let known =
                crate::scenario::known(args.scenarios.as_deref()).context("loading scenarios")?;
            let s = crate::scenario::find(&known, name)?;
            apply_scenario(&mut args, &s);
            Some(s)
        }
        None => None,
    };
    let workload: Arc<dyn Workload> =
        Arc::from(faultline_workloads::by_name(&args.workload).context("choosing the workload")?);
    if args.time_limit <= 0.0 || args.rate <= 0.0 || args.nemesis_interval <= 0.0 {
        bail!("--time-limit, --rate and --nemesis-interval must be positive");
    }
    let system = crate::system::build(&args.system.selected()).context("choosing the system")?;
    let seed = args.seed.unwrap_or_else(fresh_seed);
    args.seed = Some(seed);
    let mut kinds = if scenario.is_some() {
        Vec::new()
    } else {
        args.nemesis.0.clone()
    };
    match args.net {
        NetMode::Private => netns::enter_private().context("--net private")?,
        NetMode::Host => {
            let dropped: Vec<&str> = kinds
                .iter()
                .filter(|k| k.needs_firewall())
                .map(|k| k.name())
                .collect();
            if !dropped.is_empty() {
                eprintln!(
                    "faultline: --net host: {} unavailable without a private namespace; running without them",
                    dropped.join(" and ")
                );
            }
            kinds.retain(|k| !k.needs_firewall());
        }
    }
    let nemesis_set = NemesisSet(kinds.clone());
    let nodes = args.nodes as usize;
    let concurrency = args.concurrency.unwrap_or(2 * nodes).max(1);
    let tag_groups = args.net == NetMode::Private && netns::can_tag_groups();
    let label = match &scenario {
        Some(s) => s.name.clone(),
        None => nemesis_set.label(),
    };
    let dir = RunDir::create(&args.store, &args.workload, &label, seed)
        .with_context(|| format!("creating the run folder under {}", args.store.display()))?;
    let specs = layout(nodes, &dir.path, tag_groups);
    let cluster =
        LocalCluster::of_system(system.as_ref(), specs.clone(), args.net == NetMode::Private);
    let time_limit = Duration::from_secs_f64(args.time_limit);
    let steps = schedule(&ScheduleOptions {
        seed,
        kinds: kinds.clone(),
        nodes,
        interval: Duration::from_secs_f64(args.nemesis_interval),
        time_limit,
        drop_percent: args.drop_percent,
    });
    let test = TestJson {
        options: &args,
        seed,
        concurrency,
        nemesis: kinds.clone(),
        faultline_version: env!("CARGO_PKG_VERSION"),
        system: system.name(),
        node_bin: system.program(),
        node_command_lines: (0..nodes).map(|i| cluster.command_line(i)).collect(),
        nodes_tagged_with_groups: tag_groups,
        started: crate::store::timestamp(std::time::SystemTime::now()),
        schedule: &steps,
        scenario: scenario.as_ref(),
    };
    dir.write_json(&dir.test_json(), &test)
        .context("writing test.json")?;
    eprintln!(
        "faultline run: {} · workload {} · nemesis {} · {nodes} nodes · {concurrency} clients · {:.0} ops/s · {}s · seed {seed}",
        system.name(),
        args.workload,
        label,
        args.rate,
        args.time_limit,
    );
    eprintln!("  store: {}", dir.path.display());

    let shared_cluster = Arc::new(Mutex::new(cluster));
    let platform: SharedPlatform = shared_cluster.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ctx = Ctx {
        args: &args,
        workload: workload.clone(),
        system: system.clone(),
        platform: platform.clone(),
        steps: &steps,
        scenario: scenario.as_ref(),
        concurrency,
        seed,
        dir: &dir,
    };
    let mut progress = Progress::new();
    let crashes: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut recording: Option<(Recorder, crate::recorder::Writer)> = None;
    let ended = rt.block_on(async {
        tokio::select! {
            r = drive(&ctx, &mut progress, &crashes, &mut recording) => Ended::Done(r),
            sig = interrupted() => Ended::Interrupted(sig),
        }
    });
    progress.finish();
    drop(rt);
    // Teardown: every node and its process group.
    {
        let mut p = lock(&platform);
        for (i, status) in p.reap() {
            if !status.is_failpoint() {
                lock_vec(&crashes).push(format!("{}: {status}", specs[i].name));
            }
        }
        p.shutdown();
    }
    system.shutdown();
    // The runtime's signal handlers outlive it: give Ctrl-C back its default
    // meaning for the checking phase (the nodes are gone).
    // SAFETY: resetting signal dispositions to their defaults.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
    let events = match recording {
        Some((recorder, writer)) => {
            recorder.close();
            writer.finish().context("writing history.jsonl")?
        }
        None => Vec::new(),
    };
    match ended {
        Ended::Interrupted(sig) => {
            eprintln!(
                "faultline: interrupted by {sig}: nodes stopped; the history so far is in {}",
                dir.history().display()
            );
            Ok(EXIT_INTERRUPTED)
        }
        Ended::Done(Err(e)) => Err(e.context(format!(
            "the run failed (its files are in {})",
            dir.path.display()
        ))),
        Ended::Done(Ok(())) => {
            let logs: Vec<(String, String)> = {
                let p = lock(&platform);
                (0..nodes)
                    .map(|i| (specs[i].name.clone(), p.read_log(i).unwrap_or_default()))
                    .collect()
            };
            let opts = CheckOptions {
                timeout: Some(Duration::from_secs_f64(args.check_timeout.max(0.1))),
                ..CheckOptions::default()
            };
            eprintln!("checking {} events...", events.len());
            let results = Results::combine(
                check_workload(&events, workload.model(), &opts),
                stats(&events),
                scan_logs(&logs, lock_vec(&crashes).clone()),
            );
            let mut doc = serde_json::to_value(&results).context("serializing the results")?;
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("seed".into(), json!(seed));
                obj.insert("system".into(), json!(system.name()));
                obj.insert("workload_name".into(), json!(args.workload));
                obj.insert("model".into(), json!(workload.model().name()));
                obj.insert("nemesis".into(), json!(kinds));
                obj.insert("events".into(), json!(events.len()));
                obj.insert(
                    "scenario".into(),
                    json!(scenario.as_ref().map(|s| s.name.clone())),
                );
                // How fast the run caught the bug: from the start of the test to
                // the completion of the first operation that cannot be
                // linearized (or the first lost or unexpected element).
                let detected = results
                    .workload
                    .result
                    .as_ref()
                    .and_then(|r| r.detected_at_time);
                obj.insert(
                    "time_to_detect_s".into(),
                    json!(detected.map(|ns| (ns as f64 / 1e6).round() / 1e3)),
                );
            }
            dir.write_json(&dir.results(), &doc)
                .context("writing results.json")?;
            match crate::report::rebuild(&dir.path) {
                Ok(_) => eprintln!(
                    "report: {}",
                    dir.path.join(crate::report::REPORT_FILE).display()
                ),
                Err(e) => eprintln!("faultline: warning: writing report.html and junit.xml: {e:#}"),
            }
            print_summary(&dir, &events, &results, workload.as_ref());
            Ok(results.verdict.exit_code())
        }
    }
}

enum Ended {
    Done(anyhow::Result<()>),
    Interrupted(&'static str),
}

struct Ctx<'a> {
    args: &'a RunArgs,
    workload: Arc<dyn Workload>,
    system: Arc<dyn System>,
    platform: SharedPlatform,
    steps: &'a [Step],
    scenario: Option<&'a crate::scenario::Scenario>,
    concurrency: usize,
    seed: u64,
    dir: &'a RunDir,
}

/// Waits for Ctrl-C or SIGTERM; returns which.
async fn interrupted() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

fn lock_vec(v: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    v.lock().unwrap_or_else(|e| e.into_inner())
}

/// The run proper: cluster up, workload under faults, heal, final reads.
async fn drive(
    ctx: &Ctx<'_>,
    progress: &mut Progress,
    crashes: &Arc<Mutex<Vec<String>>>,
    recording: &mut Option<(Recorder, crate::recorder::Writer)>,
) -> anyhow::Result<()> {
    let args = ctx.args;
    let specs = lock(&ctx.platform).nodes().to_vec();
    let timeout = Duration::from_millis(args.request_timeout_ms.max(1));
    let http = http_client(timeout).context("building the HTTP client")?;
    {
        let mut p = lock(&ctx.platform);
        for i in 0..specs.len() {
            p.start(i).context("starting the nodes")?;
        }
    }
    wait_for_leader(ctx, &http, Duration::from_secs_f64(args.leader_timeout)).await?;

    // The test starts now: time zero of the history and of the schedule.
    let (recorder, writer) =
        Recorder::create(&ctx.dir.history(), Instant::now()).context("creating history.jsonl")?;
    *recording = Some((recorder.clone(), writer));
    let counters = Arc::new(Counters::default());
    let shared = Shared {
        http: http.clone(),
        timeout,
        workload: ctx.workload.clone(),
        system: ctx.system.clone(),
        recorder: recorder.clone(),
        counters: counters.clone(),
        keys: Arc::default(),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let per_client = Duration::from_secs_f64(ctx.concurrency as f64 / args.rate);
    let mut clients = tokio::task::JoinSet::new();
    for slot in 0..ctx.concurrency {
        let client = Client {
            slot,
            concurrency: ctx.concurrency,
            node: specs[slot % specs.len()].clone(),
            interval: per_client,
            seed: ctx.seed,
        };
        clients.spawn(client.run(shared.clone()));
    }
    let mut nemesis = Nemesis::new(
        ctx.platform.clone(),
        recorder.clone(),
        http.clone(),
        ctx.system.clone(),
    );
    let mut player = ctx.scenario.map(|_| {
        crate::scenario::play::Player::new(
            ctx.platform.clone(),
            recorder.clone(),
            probe(ctx.system.clone(), http.clone(), specs.clone()),
            http.clone(),
            counters.clone(),
            ctx.seed,
        )
    });
    let active = match &player {
        Some(p) => p.active.clone(),
        None => nemesis.active.clone(),
    };
    let time_limit = Duration::from_secs_f64(args.time_limit);

    // The progress line and the watch for nodes dying on their own.
    let watch = {
        let platform = ctx.platform.clone();
        let crashes = crashes.clone();
        let recorder = recorder.clone();
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let exited = lock(&platform).reap();
                for (i, status) in exited {
                    if status.is_failpoint() {
                        recorder.nemesis("crash", serde_json::json!([names[i]]));
                    } else {
                        lock_vec(&crashes).push(format!("{}: {status}", names[i]));
                    }
                }
            }
        }
    };
    let faulty = async {
        match (&mut player, ctx.scenario) {
            (Some(player), Some(scenario)) => player.play(scenario, time_limit).await?,
            _ => nemesis.play(ctx.steps, time_limit).await?,
        }
        let left = time_limit.saturating_sub(recorder.elapsed());
        tokio::time::sleep(left).await;
        anyhow::Ok(())
    };
    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let faults = active.lock().map(|a| a.clone()).unwrap_or_default();
            progress.update("run", recorder.elapsed(), &counters, &faults);
        }
    };
    tokio::select! {
        r = faulty => r.context("injecting faults")?,
        _ = watch => {}
        _ = ticker => {}
    }

    // Stop the clients (each finishes its operation in flight), heal.
    shared.stop.store(true, Ordering::Relaxed);
    let mut first_process = ctx.concurrency as u64;
    let drain = async {
        while let Some(done) = clients.join_next().await {
            if let Ok(last) = done {
                first_process = first_process.max(last + 1);
            }
        }
    };
    tokio::select! {
        _ = drain => {}
        _ = tick_progress("stopping clients", &recorder, &counters, progress) => {}
    }
    if let Some(player) = &mut player {
        player.heal().context("healing the scenario's faults")?;
    }
    nemesis.heal().context("healing the faults")?;
    let recover = tokio::time::sleep(Duration::from_secs_f64(args.recovery_time.max(0.0)));
    tokio::select! {
        _ = recover => {}
        _ = tick_progress("recovering", &recorder, &counters, progress) => {}
    }

    // Final reads, each through its node or any, retried while they fail.
    let keys: Vec<String> = shared
        .keys
        .lock()
        .map(|k| k.iter().cloned().collect())
        .unwrap_or_default();
    let reads = ctx.workload.final_reads(&keys, specs.len());
    let finals = final_phase(&shared, &specs, reads, first_process);
    tokio::select! {
        _ = finals => {}
        _ = tick_progress("final reads", &recorder, &counters, progress) => {}
    }
    Ok(())
}

async fn tick_progress(
    phase: &str,
    recorder: &Recorder,
    counters: &Counters,
    progress: &mut Progress,
) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        progress.update(phase, recorder.elapsed(), counters, &[]);
    }
}

/// The final reads: one process per read attempt, several attempts.
async fn final_phase(
    shared: &Shared,
    specs: &[crate::cluster::NodeSpec],
    reads: Vec<FinalRead>,
    first_process: u64,
) {
    const ATTEMPTS: usize = 5;
    let mut process = first_process;
    let mut tasks = tokio::task::JoinSet::new();
    for (n, read) in reads.into_iter().enumerate() {
        let shared = shared.clone();
        let specs = specs.to_vec();
        let base_process = process;
        process += ATTEMPTS as u64;
        tasks.spawn(async move {
            for attempt in 0..ATTEMPTS {
                let node = read.node.unwrap_or(n + attempt) % specs.len();
                let p = base_process + attempt as u64;
                let mut client = shared.open(&specs[node], format!("c{p}"));
                let kind = invoke_and_complete(&shared, client.as_mut(), p, &read.op).await;
                if kind == EventType::Ok {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Waits until some node says it leads, failing early when a node dies.
async fn wait_for_leader(
    ctx: &Ctx<'_>,
    http: &reqwest::Client,
    limit: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let exited = lock(&ctx.platform).reap();
        if let Some((i, status)) = exited.first() {
            let p = lock(&ctx.platform);
            let name = &p.nodes()[*i].name;
            let log = p.read_log(*i).unwrap_or_default();
            bail!(
                "node {name} exited at start ({status}); the end of its log ({}):\n{}",
                p.nodes()[*i].log_path.display(),
                tail(&log, 15)
            );
        }
        let specs = lock(&ctx.platform).nodes().to_vec();
        if crate::system::ready(ctx.system.as_ref(), http, &specs).await {
            warn_if_partitions_are_blind(ctx, &specs);
            return Ok(());
        }
        if Instant::now() >= deadline {
            let p = lock(&ctx.platform);
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

/// Partition rules tell nodes apart by source address, or by the group id
/// each node runs with (root only). A node whose peer connections leave
/// from 127.0.0.1 without a group id of its own cannot be partitioned:
/// say so rather than pretend.
fn warn_if_partitions_are_blind(ctx: &Ctx<'_>, specs: &[crate::cluster::NodeSpec]) {
    let tagged = specs.iter().all(|s| s.gid.is_some());
    let partitions = ctx
        .steps
        .iter()
        .any(|s| s.fault.kind() == NemesisKind::Partition);
    if ctx.args.net == NetMode::Private && partitions && !tagged {
        let unbound = netns::unbound_peer_connections(crate::cluster::PEER_PORT);
        if unbound > 0 {
            eprintln!(
                "faultline: warning: {unbound} peer connections leave from 127.0.0.1, not from their node's own address, \
                 and nodes cannot run under group ids of their own (not root): partitions will not cut them. \
                 Run as root, or make the node bind its outgoing peer sockets to its --peer-addr address."
            );
        }
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// How a scenario player asks node `i` for its status: the system's answer
/// (role, term, and its log indexes where the system knows them).
fn probe(
    system: Arc<dyn System>,
    http: reqwest::Client,
    specs: Vec<crate::cluster::NodeSpec>,
) -> crate::scenario::play::ProbeFn {
    Arc::new(move |i| {
        let system = system.clone();
        let http = http.clone();
        let node = specs[i].clone();
        Box::pin(async move {
            let status = system
                .status(&http, &node, Duration::from_millis(500))
                .await?;
            Some(crate::scenario::play::Probed {
                role: status.role,
                term: status.term,
                last_log_index: status.last_log_index,
                snapshot_index: status.snapshot_index,
            })
        })
    })
}

/// A scenario's defaults, for the options not given explicitly; its node
/// arguments come before the user's (so a user's repeated flag wins).
fn apply_scenario(args: &mut RunArgs, s: &crate::scenario::Scenario) {
    let given = |name: &str| args.explicit.iter().any(|e| e == name);
    if !given("workload") {
        args.workload = s.workload.clone();
    }
    if !given("nodes") {
        args.nodes = s.nodes;
    }
    if !given("time_limit") {
        args.time_limit = s.time_limit;
    }
    if !given("rate") {
        args.rate = s.rate;
    }
    if let (false, Some(ms)) = (given("request_timeout_ms"), s.request_timeout_ms) {
        args.request_timeout_ms = ms;
    }
    let mut node_args = s.node_args.clone();
    node_args.append(&mut args.system.node_args);
    args.system.node_args = node_args;
}

/// A seed from the clock and the process id.
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Keep it short enough to type.
    (nanos ^ (std::process::id() as u64).rotate_left(32)) % 1_000_000_000
}

fn print_summary(dir: &RunDir, events: &[Event], results: &Results, workload: &dyn Workload) {
    let s = &results.stats;
    println!("run: {}", dir.path.display());
    let by_f: Vec<String> = s
        .by_f
        .iter()
        .map(|(f, c)| format!("{f} {}/{}/{}", c.ok, c.fail, c.info))
        .collect();
    println!(
        "operations: {} ok, {} fail, {} info  (ok/fail/info: {})",
        s.total.ok,
        s.total.fail,
        s.total.info,
        by_f.join(", ")
    );
    let mut faults: BTreeMap<&str, usize> = BTreeMap::new();
    for ev in events.iter().filter(|e| e.process == Process::Nemesis) {
        *faults.entry(ev.f.as_str()).or_default() += 1;
    }
    let faults: Vec<String> = faults.iter().map(|(f, n)| format!("{f} ×{n}")).collect();
    println!(
        "nemesis: {}",
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        }
    );
    match (&results.workload.result, &results.workload.error) {
        (Some(r), _) => {
            let text = r.render_text();
            let mut lines = text.lines();
            println!(
                "{} checker: {}",
                workload.model(),
                lines.next().unwrap_or_default()
            );
            for line in lines.take(40) {
                println!("  {line}");
            }
        }
        (None, Some(e)) => println!("{} checker: unknown: {e}", workload.model()),
        (None, None) => {}
    }
    println!("stats: {}", s.verdict);
    let logs = &results.logs;
    println!("node logs: {}", logs.verdict);
    for p in logs.panics.iter().chain(&logs.crashes) {
        println!("  {p}");
    }
    let verdict = json!(results.verdict);
    println!(
        "verdict: {}",
        verdict.as_str().unwrap_or_default().to_uppercase()
    );
}
