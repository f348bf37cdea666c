//! The command-line shape (clap derive). Each subcommand's arguments live with
//! the module that runs it.

use clap::{Parser, Subcommand};

/// Jepsen-style fault injection on one machine, with a fast linearizability checker.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workload against a real cluster under faults, record the history and check it
    /// (exit 0 valid, 1 invalid, 2 unknown, 3+ harness failure, 130 interrupted).
    Run(faultline::run::RunArgs),
    /// Check recorded histories for linearizability (exit 0 valid, 1 invalid, 2 unknown, 3 error).
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
    /// Rebuild report.html and junit.xml of a stored run (e.g. store/latest).
    Report(ReportArgs),
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

/// Arguments of `faultline scenario`.
#[derive(Debug, clap::Args)]
pub struct ScenarioArgs {
    /// What to do with scenarios.
    #[command(subcommand)]
    pub action: ScenarioAction,
}

/// `faultline scenario` actions.
#[derive(Debug, Subcommand)]
pub enum ScenarioAction {
    /// Print a scenario (built-in or from --scenarios) as TOML.
    Show {
        /// The scenario.
        name: String,
        /// A TOML file of user scenarios (default: ./faultline.toml when present).
        #[arg(long, value_name = "FILE")]
        scenarios: Option<std::path::PathBuf>,
    },
}

/// Arguments of `faultline report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run folder (holding results.json and history.jsonl).
    pub dir: std::path::PathBuf,
}
