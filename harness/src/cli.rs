//! The command-line shape (clap derive). Each subcommand's arguments live with
//! the module that runs it.

use clap::{Parser, Subcommand};

/// The exit codes, as `faultline --help` lists them.
const EXIT_CODES: &str = "\
Exit codes:
  0    valid: every checker passed
  1    invalid: an anomaly was found
  2    unknown: the checker ran out of time or memory, or the run was interrupted
       before its end (`faultline report` on an interrupted run)
  3    the harness failed (cluster would not start, file not writable), or
       `faultline check` could not read a history
  64   usage error: an unknown option, a bad value, an option of another
       system, an unknown scenario (nothing was run)
  130  `faultline run` or `faultline suite` interrupted by Ctrl-C or SIGTERM
`faultline report` on a finished run exits 0 once the report is written; on a run
interrupted before its verdict it checks the history and exits with the verdict.";

/// Jepsen-style fault injection on one machine, with a fast linearizability checker.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands; each one's arguments live with its module.
// Parsed once per process: the size of `run`'s options does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workload against a real cluster under faults, record the history and check it
    /// (exit 0 valid, 1 invalid, 2 unknown, 3 harness failure, 64 usage, 130 interrupted).
    Run(faultline::run::RunArgs),
    /// Search for a failing fault plan: many short runs, each fault plan chosen from what
    /// the cluster did in the runs before (new cluster states rewarded); stops at the first
    /// invalid run (exit 1) or when --budget is spent (exit 0).
    Explore(faultline::explore::ExploreArgs),
    /// Shrink a failing run (its scenario or schedule) to a small scenario that still fails
    /// in --need of --reps runs; writes RUN_DIR/shrink/shrunk.toml and prints the replay line.
    Shrink(faultline::explore::shrink::ShrinkArgs),
    /// Check recorded histories for linearizability (exit 0 valid, 1 invalid, 2 unknown,
    /// 3 unreadable history, 64 usage).
    Check(crate::check::CheckArgs),
    /// List workloads, nemeses, models, systems and scenarios
    /// (`faultline list scenarios`: the scenarios only).
    List(ListArgs),
    /// Named fault scenarios: `faultline scenario show NAME` prints one as
    /// TOML, a start for a scenario of your own.
    Scenario(ScenarioArgs),
    /// Measure throughput and latency of a healthy cluster (closed-loop clients, no faults);
    /// `--compare a,b` measures two systems one after the other and prints the ratios.
    Bench(faultline::bench::BenchArgs),
    /// Run a matrix of runs from a suite file (TOML) for CI: an aggregate junit.xml and an
    /// index.html under <store>/suite-<time>/ (exit: the worst verdict; 3 if the harness failed).
    Suite(faultline::suite::SuiteArgs),
    /// Remove what runs left on remote hosts (node processes, the `inet faultline`
    /// nftables table, mounts): `faultline clean --hosts FILE` after a harness crash.
    Clean(faultline_platform::hosts::clean::CleanArgs),
    /// Rebuild report.html and junit.xml of a stored run (e.g. store/latest); a run
    /// interrupted before its verdict is checked first (exit: its verdict).
    Report(ReportArgs),
    /// Fetch official release binaries into the cache for `--SYSTEM-version`
    /// (`faultline install nats 2.12.1 2.15.1`), so later runs need no network.
    Install(InstallArgs),
    /// Maelstrom nodes (JSON lines on stdin/stdout) with Maelstrom's flags:
    /// `faultline maelstrom test -w echo --bin ./node --node-count 3 --time-limit 10`.
    Maelstrom(crate::maelstrom_cli::MaelstromArgs),
    /// Serve the store read-only over HTTP: every run newest first with its verdict,
    /// filters, links to reports and files, and the trend (`/trend`).
    Serve(crate::serve_cli::ServeArgs),
    /// Write the trend of the store's runs (per system, workload and scenario: verdicts in
    /// time order, onsets and flaky builds marked) as static HTML into --out.
    Trend(crate::serve_cli::TrendArgs),
}

/// Arguments of `faultline list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only this part: workloads, nemeses, models, systems or scenarios.
    pub what: Option<String>,
    /// A TOML file of user scenarios to list too (default: ./faultline.toml when present).
    #[arg(long, value_name = "FILE")]
    pub scenarios: Option<std::path::PathBuf>,
}

/// Arguments of `faultline install`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The system (`nats`, `etcd`; `faultline list systems` shows which can be pinned).
    pub system: String,
    /// The versions to fetch (`2.12.1`).
    #[arg(required = true)]
    pub versions: Vec<String>,
}

/// Arguments of `faultline scenario`.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// What to do with scenarios.
    #[command(subcommand)]
    pub action: ScenarioAction,
}

/// `faultline scenario` actions: only `show` today.
#[derive(Debug, Subcommand)]
pub enum ScenarioAction {
    /// Print a scenario (built-in or from --scenarios) as TOML.
    Show {
        /// The scenario's name (`faultline list scenarios`).
        name: String,
        /// A TOML file of user scenarios (default: ./faultline.toml when present).
        #[arg(long, value_name = "FILE")]
        scenarios: Option<std::path::PathBuf>,
    },
}

/// Arguments of `faultline report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run folder (holding test.json, history.jsonl and, once checked, results.json).
    pub dir: std::path::PathBuf,
}
