//! `faultline run`: one run, start to verdict, in phases.
//!
//! 1. [`Plan::prepare`]: options and scenario merged, seed drawn, the
//!    private network namespace entered (before any thread starts), the
//!    run folder made, the fault schedule drawn; the platform started
//!    (`platforms`: local processes, remote hosts, or the platform a
//!    system brings along, such as Maelstrom's router); `test.json` written.
//! 2. [`Session::execute`]: start the nodes and wait (bounded) until one
//!    leads; drive the workload from `--concurrency` clients while the
//!    fault executor plays the scenario or the schedule, for `--time-limit`
//!    seconds, every event streamed to `history.jsonl`; heal every fault,
//!    give the cluster `--recovery-time`; the final reads; when the system
//!    can show each replica's state, wait (bounded) for the replicas to
//!    settle and write their states to `replicas.json` ([`replica_survey`]).
//! 3. [`Session::finish`]: stop the nodes, close the history.
//! 4. [`analyze`]: the checkers (the workload's, every run's, the
//!    platform's, the system's: `replica-agreement`); then the records (`results.json`, the report) and the
//!    summary. The exit code is the verdict's (0 valid, 1 invalid, 2 unknown).
//!
//! Whatever way the run ends (error, panic, Ctrl-C, SIGTERM), the nodes are
//! killed with their process groups, and the namespace with its rules dies
//! with the harness.

mod plan;
mod platforms;
mod probe;
pub mod replica_survey;
mod session;
mod states;
mod summary;

pub use plan::{enter_namespace, local_cluster, local_specs, BadOptions, Plan};
pub use session::{start_cluster, Session};

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use faultline_checker::history::Event;
use faultline_checker::CheckOptions;
use serde::Serialize;

use crate::checkers::replicas::REPLICA_AGREEMENT;
use crate::checkers::{check_all, Checker, RunEvidence};
use crate::nemesis::NemesisSet;
use crate::record::OnlineDetection;
use crate::record::{ResultsRecord, RunFacts, TestRecord};
use crate::system::SystemArgs;
use faultline_platform::netns::NetMode;

/// `--disk-metadata`: when namespace changes become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskMetadata {
    /// As LazyFS: creates, renames and unlinks are never lost.
    Lazyfs,
    /// Strict POSIX: lost unless their directory was fsynced afterwards.
    Posix,
}

impl DiskMetadata {
    /// The layer's settings for this choice; `allow_other` when nodes run
    /// under group ids of their own.
    pub fn settings(self, allow_other: bool) -> faultline_platform::disk::DiskSettings {
        faultline_platform::disk::DiskSettings {
            allow_other,
            metadata: match self {
                DiskMetadata::Lazyfs => faultline_diskfs::MetadataMode::Lazyfs,
                DiskMetadata::Posix => faultline_diskfs::MetadataMode::Posix,
            },
        }
    }
}

/// When a run's history is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckMode {
    /// Once, after the final reads.
    Final,
    /// Also while the run goes (see [`crate::online`]).
    Online,
}

impl RunArgs {
    /// Whether the run is judged while it goes.
    pub fn online(&self) -> bool {
        self.check == CheckMode::Online || self.stop_on_anomaly
    }
}

/// Exit code of a run stopped by Ctrl-C or SIGTERM.
pub const EXIT_INTERRUPTED: i32 = crate::exit::INTERRUPTED;

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
    /// The workload (see `faultline list`): register, set, list-append,
    /// txn-list-append, txn-rw-register or watch (--system etcd) (and
    /// Maelstrom's, with --system maelstrom).
    #[arg(long, default_value = "register", value_parser = parse_workload)]
    pub workload: String,
    /// Faults to inject: a comma list of kill, pause, partition, drop,
    /// power-loss, corrupt; or all (kill, pause, partition, drop; add disk
    /// faults by name: all,power-loss); or none.
    #[arg(long, default_value = "all", value_parser = parse_nemesis)]
    pub nemesis: NemesisSet,
    /// Number of nodes in the cluster.
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
    /// The consistency models the txn workloads are held to, comma-separated,
    /// Elle's names (read-committed, snapshot-isolation, serializable,
    /// strict-serializable, ...). Default: what the system's settings
    /// promise (recorded in test.json), strict-serializable for a system
    /// that names no weaker model.
    #[arg(long, value_delimiter = ',', value_name = "MODELS")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub consistency_models: Vec<String>,
    /// When to check: final (after the run) or online (also while the run
    /// goes, every 250 ms, on the keys that changed; the final check still
    /// decides the verdict).
    #[arg(long, value_enum, default_value = "final")]
    pub check: CheckMode,
    /// Stop the workload at the first anomaly the online check finds, heal,
    /// and check and report as usual (implies --check online).
    #[arg(long)]
    pub stop_on_anomaly: bool,
    /// The system under test and its flags (--system, and each system's own:
    /// see `harness/src/system/`).
    #[command(flatten)]
    #[serde(flatten)]
    pub system: SystemArgs,
    /// Mount the disk-fault layer over the nodes' data directories even when
    /// no fault needs it (it is mounted whenever a power-loss fault is planned).
    #[arg(long)]
    pub disk_faults: bool,
    /// The disk layer's metadata semantics: lazyfs (creates, renames and
    /// unlinks are never lost) or posix (lost at a power loss unless their
    /// directory was fsynced).
    #[arg(long, value_enum, default_value = "lazyfs")]
    pub disk_metadata: DiskMetadata,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The nodes on other machines, over SSH (--hosts FILE or --ssh a,b,c).
    #[command(flatten)]
    #[serde(flatten)]
    pub hosts: faultline_platform::hosts::HostArgs,
    /// private: a network namespace of the run's own (needs user namespaces or
    /// root); host: no namespace, no partition or drop faults.
    #[arg(long, value_enum, default_value = "private")]
    pub net: NetMode,
    /// Options of a platform a system brings along, which `faultline run`
    /// has no flags for (Maelstrom's latency, topology and one-way
    /// partitions, set by `faultline maelstrom test`); test.json records
    /// them with the others.
    #[arg(skip)]
    #[serde(flatten)]
    pub platform: std::collections::BTreeMap<String, serde_json::Value>,
}

fn parse_workload(s: &str) -> Result<String, String> {
    match crate::registry::workload(s) {
        Ok(w) => Ok(w.name().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_nemesis(s: &str) -> Result<NemesisSet, String> {
    s.parse()
}

/// Runs `faultline run`; returns the exit code.
///
/// Must be called while the process is single-threaded (it enters the
/// network namespace first).
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    platforms::check(&args)?;
    let mut plan = Plan::prepare(args)?;
    fits(&plan)?;
    let mut checkers = crate::registry::run_checkers(plan.workload.as_ref(), plan.system.name())?;
    checkers.extend(crate::registry::system_checkers(
        plan.system.as_ref(),
        plan.specs.len(),
    ));
    let online = match plan.args.online() {
        true => crate::online::online_checkers(plan.workload.name(), &checkers)
            .map_err(|e| BadOptions(e.to_string()))?,
        false => Vec::new(),
    };
    let wired = platforms::start(&mut plan)?;
    let test = write_test_record(&plan)?;
    announce(&plan);
    let (ended, finished) = live(&plan, wired, online)?;
    // The runtime's signal handlers outlive it: give Ctrl-C back its default
    // meaning for the checking phase (the nodes are gone).
    // SAFETY: resetting signal dispositions to their defaults.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
    match ended {
        Ended::Interrupted(sig) => {
            eprintln!(
                "faultline: interrupted by {sig}: nodes stopped; the history so far is in {}; \
                 `faultline report {}` checks it",
                plan.dir.history().display(),
                plan.dir.path.display()
            );
            Ok(EXIT_INTERRUPTED)
        }
        Ended::Done(Err(e)) => Err(e.context(format!(
            "the run failed (its files are in {})",
            plan.dir.path.display()
        ))),
        Ended::Done(Ok(())) => {
            let evidence = RunEvidence {
                dir: Some(plan.dir.path.clone()),
                logs: finished.logs,
                crashes: finished.crashes,
                final_reads: finished.final_reads,
            };
            let events = &finished.events;
            let mut checkers = checkers;
            if finished.replicas_unsupported {
                checkers.retain(|c| c.name() != REPLICA_AGREEMENT.name());
            }
            let results = analyze(&plan, &checkers, events, &evidence);
            let record = write_results(&plan, &test, results, finished.online, events.len())?;
            summary::print(&plan, events, &record);
            Ok(record.verdict.exit_code())
        }
    }
}

/// Refuses a workload whose operations are another system's protocol, and
/// a system with a platform of its own whose protocol has no such workload.
fn fits(plan: &Plan) -> Result<(), BadOptions> {
    let (workload, system) = (plan.workload.name(), plan.system.name());
    match plan.workload.system() {
        Some(needs) if needs != system => Err(BadOptions(format!(
            "--workload {workload} is a workload of --system {needs}"
        ))),
        None if crate::registry::own_platform(system).is_some() => Err(BadOptions(format!(
            "--system {system} runs its own workloads, not {workload} (faultline list workloads)"
        ))),
        _ => Ok(()),
    }
}

/// The live phases on the platform `wired`, until they end or a signal
/// interrupts them; then the nodes are stopped and the history closed.
fn live(
    plan: &Plan,
    wired: platforms::Wired,
    online: Vec<&'static dyn Checker>,
) -> anyhow::Result<(Ended, session::Finished)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut session = Session::new(plan, wired.platform, online)?;
    if let Some(zero) = wired.zero {
        session.at_zero(zero);
    }
    let ended = rt.block_on(async {
        tokio::select! {
            r = session.execute() => Ended::Done(r),
            sig = interrupted() => Ended::Interrupted(sig),
        }
    });
    drop(rt);
    Ok((ended, session.finish()?))
}

/// How the live phases ended.
enum Ended {
    Done(anyhow::Result<()>),
    Interrupted(&'static str),
}

/// Writes `test.json`: the options, the seed, the schedule, the command
/// lines, before anything starts.
fn write_test_record(plan: &Plan) -> anyhow::Result<TestRecord> {
    let node_command_lines: Vec<Vec<String>> = (0..plan.specs.len())
        .map(|i| plan.command_line(i))
        .collect();
    let test = TestRecord::new(RunFacts {
        options: serde_json::to_value(&plan.args)?,
        seed: plan.seed,
        concurrency: plan.concurrency,
        nemesis: serde_json::to_value(&plan.kinds)?,
        system: plan.system.name(),
        node_bin: &plan.system.program(),
        system_binary: plan.system.binary(),
        node_command_lines: &node_command_lines,
        nodes_tagged_with_groups: plan.tag_groups,
        schedule: serde_json::to_value(&plan.steps)?,
        scenario: serde_json::to_value(plan.scenario.as_ref())?,
    })
    .context("recording the test")?;
    plan.dir
        .write_json(&plan.dir.test_json(), &test)
        .context("writing test.json")?;
    Ok(test)
}

/// The run's one-line header and where its files go.
fn announce(plan: &Plan) {
    eprintln!(
        "faultline run: {} · workload {} · nemesis {} · {} nodes · {} clients · {:.0} ops/s · {}s · seed {}",
        plan.system.name(),
        plan.args.workload,
        plan.label(),
        plan.specs.len(),
        plan.concurrency,
        plan.args.rate,
        plan.args.time_limit,
        plan.seed,
    );
    eprintln!("  store: {}", plan.dir.path.display());
}

/// Runs `checkers` (the workload's, then every run's) on the history and
/// what the run left beside it.
pub fn analyze(
    plan: &Plan,
    checkers: &[&'static dyn Checker],
    events: &[Event],
    evidence: &RunEvidence,
) -> Vec<crate::record::CheckerResult> {
    let opts = CheckOptions {
        timeout: Some(Duration::from_secs_f64(plan.args.check_timeout.max(0.1))),
        consistency_models: plan.args.consistency_models.clone(),
        ..CheckOptions::default()
    };
    eprintln!("checking {} events...", events.len());
    check_all(checkers, events, &opts, evidence)
}

/// Writes `results.json`, then the report and `junit.xml`; returns the record.
fn write_results(
    plan: &Plan,
    test: &TestRecord,
    results: Vec<crate::record::CheckerResult>,
    online: Option<OnlineDetection>,
    events: usize,
) -> anyhow::Result<ResultsRecord> {
    let dir = &plan.dir;
    let mut record = ResultsRecord::new(test, results, events);
    record.online = online;
    dir.write_json(&dir.results(), &record)
        .context("writing results.json")?;
    match crate::report::rebuild(&dir.path, &crate::registry::report()) {
        Ok(_) => eprintln!(
            "report: {}",
            dir.path.join(crate::report::REPORT_FILE).display()
        ),
        Err(e) => eprintln!("faultline: warning: writing report.html and junit.xml: {e:#}"),
    }
    Ok(record)
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
