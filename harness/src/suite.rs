//! `faultline suite FILE.toml`: a matrix of runs for CI.
//!
//! The file names the matrix (workloads × nemeses × seeds, one or more
//! `[[matrix]]` entries), the options of every run (any `faultline run`
//! option, by its long name in snake case or with dashes) and a total
//! budget:
//!
//! ```toml
//! name = "smoke"
//! budget = 110          # seconds for the whole suite (optional)
//! run_timeout = 90      # seconds one run may take, start to verdict (optional)
//!
//! [options]             # every run's `faultline run` options
//! time_limit = 8
//! recovery_time = 2
//!
//! [[matrix]]
//! workloads = ["register", "set"]
//! nemeses = ["kill,pause", "partition"]
//! seeds = [1, 2]
//! options = { rate = 100 }   # this entry's own options, over the shared ones
//!
//! [[matrix]]            # named scenarios, each with its own workload and
//! scenarios = ["leader-isolation", "kill-all"]   # defaults (shared options
//! seeds = [1, 2, 3]     # given here still override them)
//! ```
//!
//! Each run is a child `faultline run` (its own process, so its own network
//! namespace), stored under `<store>/suite-<YYYYMMDDTHHMMSS>/`, which also
//! gets the suite's `junit.xml` (one `testsuite` per run), an `index.html`
//! linking every run's report and each run's output in `output/`. The exit
//! code is the worst verdict: 1 if any run is invalid, else 3 if the
//! harness failed on any, else 2 if any is unknown or was not run within
//! the budget, else 0; 130 when interrupted.
//!
//! Keys the suite does not know are reported and ignored, so a file written
//! for a newer faultline still runs what this one understands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::Args;
use faultline_checker::Verdict;

use crate::exit::INTERRUPTED as EXIT_INTERRUPTED;
use crate::junit::{self, TestSuite};
use crate::report;

pub(crate) mod child;
mod file;
mod index;
mod manifest;
mod merge;
mod shard;

pub use file::{parse, plan, Matrix, PlannedRun, SuiteError, SuiteFile};
pub(crate) use index::{index_html, record_suite};
pub use manifest::{Manifest, ManifestRun, MANIFEST_FILE};
pub use merge::MergeArgs;
pub use shard::{shard_of, Shard, ShardError};

/// Arguments of `faultline suite`: a suite file to run, or `merge`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SuiteArgs {
    /// `merge`: join the results of shards run apart.
    #[command(subcommand)]
    pub action: Option<SuiteAction>,
    /// The suite file (TOML), e.g. suites/smoke.toml.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// Run only slice I of N of the matrix (`--shard 2/4`): the slices of
    /// 1/N .. N/N together run every run of the suite exactly once.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Where the suite's folder (`suite-<time>/`) is made.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The node binary every run uses (default: faultline-node next to faultline).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Seconds for the whole suite, over the file's `budget`.
    #[arg(long)]
    pub budget: Option<f64>,
}

/// `faultline suite` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SuiteAction {
    /// Join the folders of suite shards (`faultline suite FILE --shard I/N`)
    /// into one junit.xml and one index.html (exit: the worst verdict).
    Merge(MergeArgs),
}

/// How one run ended.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The run as planned.
    pub run: PlannedRun,
    /// Its exit code (None: it did not start, or was stopped).
    pub code: Option<i32>,
    /// Its verdict, when it reached one.
    pub verdict: Option<Verdict>,
    /// Its folder, relative to the suite's, when it made one.
    pub folder: Option<PathBuf>,
    /// Its output file, relative to the suite's.
    pub output: Option<PathBuf>,
    /// Seconds it took, start to exit.
    pub seconds: f64,
    /// Why it has no verdict, when it has none.
    pub note: Option<String>,
}

impl RunRecord {
    /// The record of a run that was not started, and why.
    pub fn skipped(run: &PlannedRun, note: &str) -> RunRecord {
        RunRecord {
            run: run.clone(),
            code: None,
            verdict: None,
            folder: None,
            output: None,
            seconds: 0.0,
            note: Some(note.to_string()),
        }
    }

    /// valid, invalid, unknown, skipped, or harness failure.
    pub fn status(&self) -> &'static str {
        match (self.verdict, self.code) {
            (Some(Verdict::Valid), _) => "valid",
            (Some(Verdict::Invalid), _) => "invalid",
            (Some(Verdict::Unknown), _) => "unknown",
            (None, None) if self.output.is_none() => "skipped",
            _ => "harness failure",
        }
    }
}

/// The suite's exit code from its runs (see the module docs).
pub fn exit_code(records: &[RunRecord]) -> i32 {
    let any = |s: &str| records.iter().any(|r| r.status() == s);
    if any("invalid") {
        1
    } else if any("harness failure") {
        crate::exit::FAILURE
    } else if any("unknown") || any("skipped") {
        2
    } else {
        0
    }
}

/// Runs `faultline suite` (or `faultline suite merge`); returns the exit code.
pub fn run(args: &SuiteArgs) -> anyhow::Result<i32> {
    let suite_file = match (&args.action, &args.file) {
        (Some(SuiteAction::Merge(m)), _) => return merge::run(m),
        (None, Some(f)) => f,
        (None, None) => anyhow::bail!("faultline suite needs a suite file (or `merge DIR...`)"),
    };
    let (file, all_runs) = load(suite_file)?;
    let picked: Vec<usize> = match args.shard {
        Some(shard) => shard_of(&all_runs, shard),
        None => (0..all_runs.len()).collect(),
    };
    let runs: Vec<PlannedRun> = picked.iter().map(|&i| all_runs[i].clone()).collect();
    let name = file.name.clone().unwrap_or_else(|| {
        suite_file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "suite".into())
    });
    let budget = args.budget.or(file.budget).map(Duration::from_secs_f64);
    let started = SystemTime::now();
    let dir = child::make_stamped_dir(&args.store, "suite", started)
        .with_context(|| format!("creating the suite folder under {}", args.store.display()))?;
    std::fs::create_dir_all(dir.join("output"))
        .with_context(|| format!("creating {}", dir.join("output").display()))?;
    let shard_note = args
        .shard
        .map(|s| format!(" (shard {s}: {} of {})", runs.len(), all_runs.len()))
        .unwrap_or_default();
    eprintln!(
        "faultline suite {name}: {} runs{shard_note}{} · {}",
        runs.len(),
        budget
            .map(|b| format!(" · budget {:.0}s", b.as_secs_f64()))
            .unwrap_or_default(),
        dir.display()
    );
    child::catch_signals();
    let (records, interrupted) = run_all(args, &dir, &runs, &picked, budget)?;
    let stamp = crate::store::timestamp(started);
    write_summary(&dir, &name, &stamp, args, &all_runs, &picked, &records)?;
    Ok(if interrupted {
        EXIT_INTERRUPTED
    } else {
        exit_code(&records)
    })
}

/// The suite file at `path`, parsed (warnings printed) and planned.
fn load(path: &Path) -> anyhow::Result<(SuiteFile, Vec<PlannedRun>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the suite file {}", path.display()))?;
    let (file, warnings) =
        parse(&text).with_context(|| format!("parsing the suite file {}", path.display()))?;
    for w in warnings {
        eprintln!("faultline suite: warning: {}: {w}", path.display());
    }
    let runs = plan(&file).with_context(|| format!("in {}", path.display()))?;
    Ok((file, runs))
}

/// Runs `runs` one after the other within `budget` (skipping what cannot
/// start in it or after an interruption); their records, and whether the
/// suite was interrupted.
fn run_all(
    args: &SuiteArgs,
    dir: &Path,
    runs: &[PlannedRun],
    picked: &[usize],
    budget: Option<Duration>,
) -> anyhow::Result<(Vec<RunRecord>, bool)> {
    let exe = std::env::current_exe().context("locating the faultline executable")?;
    let t0 = Instant::now();
    let mut records: Vec<RunRecord> = Vec::new();
    let mut interrupted = false;
    for (i, planned) in runs.iter().enumerate() {
        let left = budget.map(|b| b.saturating_sub(t0.elapsed()));
        let prefix = format!("[{}/{}] {}", i + 1, runs.len(), planned.label());
        if interrupted || left.is_some_and(|l| l.as_secs_f64() < planned.time_limit) {
            let note = if interrupted {
                "not run: the suite was interrupted"
            } else {
                "not run: the suite's budget ran out"
            };
            eprintln!("{prefix}: skipped ({note})");
            records.push(RunRecord::skipped(planned, note));
            continue;
        }
        let limit = Duration::from_secs_f64(planned.timeout);
        let limit = left.map(|l| l.min(limit)).unwrap_or(limit);
        // Output files are numbered by the run's place in the whole suite,
        // so the shards' files never share a name.
        let record = child::one_run(&exe, args, dir, picked[i], planned, limit)?;
        eprintln!(
            "{prefix}: {} ({:.1}s){}",
            record.status().to_uppercase(),
            record.seconds,
            record
                .folder
                .as_ref()
                .map(|f| format!("  {}", dir.join(f).join(report::REPORT_FILE).display()))
                .unwrap_or_default()
        );
        if record.code == Some(EXIT_INTERRUPTED) || child::signalled() {
            interrupted = true;
        }
        records.push(record);
    }
    Ok((records, interrupted))
}

/// Writes the suite's junit.xml, index.html and manifest, and prints where
/// they are with the count of runs by status.
fn write_summary(
    dir: &Path,
    name: &str,
    stamp: &str,
    args: &SuiteArgs,
    all_runs: &[PlannedRun],
    picked: &[usize],
    records: &[RunRecord],
) -> anyhow::Result<()> {
    let _ = std::fs::remove_file(dir.join("latest"));
    let suites: Vec<TestSuite> = records.iter().map(|r| record_suite(dir, r)).collect();
    std::fs::write(dir.join(junit::JUNIT_FILE), junit::document(name, &suites))
        .with_context(|| format!("writing {}", dir.join(junit::JUNIT_FILE).display()))?;
    std::fs::write(dir.join("index.html"), index_html(name, stamp, records))
        .with_context(|| format!("writing {}", dir.join("index.html").display()))?;
    Manifest::new(name, stamp, args.shard, all_runs, picked, records)
        .write(dir)
        .with_context(|| format!("writing {}", dir.join(MANIFEST_FILE).display()))?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        *counts.entry(r.status()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("suite: {}", dir.display());
    println!("runs: {}", counts.join(", "));
    println!("junit: {}", dir.join(junit::JUNIT_FILE).display());
    println!("index: {}", dir.join("index.html").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = r#"
name = "t"
budget = 100
[options]
time_limit = 8
recovery_time = 2
node_args = ["--bug=stale-read"]
[[matrix]]
workloads = ["register", "set"]
nemeses = ["kill,pause", "partition"]
seeds = [1, 2]
options = { rate = 50 }
[[matrix]]
workloads = ["list-append"]
nemeses = ["none"]
seeds = [3]
colour = "blue"
"#;

    #[test]
    fn the_matrix_expands_in_order_with_options() {
        let (file, warnings) = parse(SUITE).unwrap();
        assert_eq!(warnings, vec!["matrix 2: unknown key `colour` ignored"]);
        let runs = plan(&file).unwrap();
        assert_eq!(runs.len(), 2 * 2 * 2 + 1);
        assert_eq!(runs[0].label(), "register kill,pause seed 1");
        assert_eq!(runs[1].label(), "register kill,pause seed 2");
        assert_eq!(runs[8].label(), "list-append none seed 3");
        assert_eq!(
            runs[0].args,
            vec![
                "--workload=register",
                "--nemesis=kill,pause",
                "--seed=1",
                "--node-arg=--bug=stale-read",
                "--rate=50",
                "--recovery-time=2",
                "--time-limit=8",
            ]
        );
        assert!(!runs[8].args.iter().any(|a| a.starts_with("--rate")));
        assert_eq!(runs[0].time_limit, 8.0);
        assert_eq!(runs[0].timeout, 100.0);
    }

    #[test]
    fn bad_runs_are_refused_before_anything_starts() {
        let bad = "[[matrix]]\nworkloads=[\"register\"]\nnemeses=[\"flood\"]\nseeds=[1]\n";
        let err = plan(&parse(bad).unwrap().0).unwrap_err().to_string();
        assert!(err.contains("register flood seed 1"), "{err}");
        let bad = "[options]\ntime_limits = 3\n[[matrix]]\nworkloads=[\"register\"]\nnemeses=[\"none\"]\nseeds=[1]\n";
        assert!(plan(&parse(bad).unwrap().0).is_err());
        assert!(matches!(
            plan(&parse("name = \"x\"").unwrap().0),
            Err(SuiteError::Empty)
        ));
    }

    fn record(verdict: Option<Verdict>, code: Option<i32>, ran: bool) -> RunRecord {
        RunRecord {
            run: PlannedRun {
                workload: "register".into(),
                nemesis: "none".into(),
                seed: 1,
                args: vec![],
                time_limit: 1.0,
                timeout: 1.0,
            },
            code,
            verdict,
            folder: None,
            output: ran.then(|| PathBuf::from("output/01.log")),
            seconds: 1.0,
            note: None,
        }
    }

    #[test]
    fn the_exit_code_is_the_worst_verdict() {
        let valid = record(Some(Verdict::Valid), Some(0), true);
        let invalid = record(Some(Verdict::Invalid), Some(1), true);
        let unknown = record(Some(Verdict::Unknown), Some(2), true);
        let failed = record(None, Some(3), true);
        let skipped = record(None, None, false);
        assert_eq!(exit_code(std::slice::from_ref(&valid)), 0);
        assert_eq!(exit_code(&[valid.clone(), skipped.clone()]), 2);
        assert_eq!(exit_code(&[valid.clone(), unknown]), 2);
        assert_eq!(exit_code(&[valid.clone(), failed.clone(), skipped]), 3);
        assert_eq!(exit_code(&[failed, invalid, valid]), 1);
    }

    #[test]
    fn scenarios_run_at_every_seed_with_their_own_workload_and_time_limit() {
        let text = "[[matrix]]\nscenarios = [\"leader-isolation\", \"lagging-follower\"]\nseeds = [1, 2]\n";
        let file: SuiteFile = toml::from_str(text).unwrap();
        let runs = plan(&file).unwrap();
        assert_eq!(runs.len(), 4);
        assert_eq!(runs[0].args[0], "leader-isolation");
        assert_eq!(runs[0].workload, "register");
        assert_eq!(runs[2].workload, "set");
        assert_eq!(runs[0].time_limit, 40.0);
        let bad: SuiteFile =
            toml::from_str("[[matrix]]\nscenarios = [\"no-such\"]\nseeds = [1]\n").unwrap();
        let e = plan(&bad).unwrap_err().to_string();
        assert!(
            e.contains("no-such") && e.contains("leader-isolation"),
            "{e}"
        );
    }

    #[test]
    fn the_shipped_suites_plan() {
        for text in [
            include_str!("../../suites/nightly.toml"),
            include_str!("../../suites/smoke.toml"),
        ] {
            let (file, warnings) = parse(text).unwrap();
            assert!(warnings.is_empty(), "{warnings:?}");
            assert!(!plan(&file).unwrap().is_empty());
        }
    }

    #[test]
    fn the_nightly_suite_runs_every_builtin_scenario() {
        let (file, _) = parse(include_str!("../../suites/nightly.toml")).unwrap();
        let listed: Vec<&String> = file.matrix.iter().flat_map(|m| &m.scenarios).collect();
        for s in crate::scenario::builtins() {
            assert!(listed.contains(&&s.name), "nightly misses {}", s.name);
        }
    }
}
