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
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use clap::{Args, Parser};
use faultline_checker::Verdict;
use serde::Deserialize;

use crate::junit::{self, Outcome, TestCase, TestSuite};
use crate::report::{self, esc, StoredRun};
use crate::run::{RunArgs, EXIT_INTERRUPTED};

/// Exit code when the harness failed on some run.
pub const EXIT_HARNESS: i32 = 3;

mod manifest;
mod merge;
mod shard;

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

/// A suite file: its name, budget, shared options and matrices.
#[derive(Debug, Clone, Deserialize)]
pub struct SuiteFile {
    /// The suite's name (default: the file's stem).
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds for the whole suite; runs that cannot start within it are
    /// skipped, a run still going when it ends is stopped.
    #[serde(default)]
    pub budget: Option<f64>,
    /// Seconds one run may take, start to verdict (default: its time limit,
    /// recovery time and 90 s for start-up, final reads and checking).
    #[serde(default)]
    pub run_timeout: Option<f64>,
    /// Every run's options, by `faultline run` long name.
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
    /// The matrices, expanded in order.
    #[serde(default)]
    pub matrix: Vec<Matrix>,
    /// Keys this version does not know.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, toml::Value>,
}

/// One matrix: every workload × nemesis × seed, and every scenario × seed.
#[derive(Debug, Clone, Deserialize)]
pub struct Matrix {
    /// Workloads (`register`, `set`, `list-append`), each run with every nemesis.
    #[serde(default)]
    pub workloads: Vec<String>,
    /// Nemeses, each as `faultline run --nemesis` takes it (`kill,pause`, `none`).
    #[serde(default)]
    pub nemeses: Vec<String>,
    /// Named scenarios (`faultline list scenarios`; ./faultline.toml adds
    /// user ones), each run at every seed with its own workload and defaults.
    #[serde(default)]
    pub scenarios: Vec<String>,
    /// Seeds: every combination runs once with each.
    pub seeds: Vec<u64>,
    /// Options of these runs, over the suite's.
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
    /// Keys this version does not know.
    #[serde(flatten)]
    pub unknown: BTreeMap<String, toml::Value>,
}

/// One run of the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// The workload (a scenario's own for a scenario run).
    pub workload: String,
    /// The nemesis as `--nemesis` takes it, or the scenario's name.
    pub nemesis: String,
    /// The seed, passed as `--seed`.
    pub seed: u64,
    /// Arguments after `faultline run` (without `--store`).
    pub args: Vec<String>,
    /// Seconds of workload (its `--time-limit`).
    pub time_limit: f64,
    /// Seconds it may take in all.
    pub timeout: f64,
}

impl PlannedRun {
    /// `register kill,pause seed 1`.
    pub fn label(&self) -> String {
        format!("{} {} seed {}", self.workload, self.nemesis, self.seed)
    }
}

/// What is wrong with a suite file.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// Not TOML of the suite's shape.
    #[error("{0}")]
    Parse(#[from] toml::de::Error),
    /// An option a run would refuse.
    #[error("run {run}: {message}")]
    BadRun {
        /// Which run: its workload, nemesis and seed.
        run: String,
        /// What `faultline run` says.
        message: String,
    },
    /// The matrices name no run at all.
    #[error("the suite has no runs: add a [[matrix]] with workloads, nemeses and seeds")]
    Empty,
    /// A value of an unusable type.
    #[error("option {0}: use a string, number, boolean or a list of them")]
    BadValue(String),
}

/// Parses a suite file's text; returns it and warnings for unknown keys.
pub fn parse(text: &str) -> Result<(SuiteFile, Vec<String>), SuiteError> {
    let file: SuiteFile = toml::from_str(text)?;
    let mut warnings: Vec<String> = file
        .unknown
        .keys()
        .map(|k| format!("unknown key `{k}` ignored"))
        .collect();
    for (i, m) in file.matrix.iter().enumerate() {
        for k in m.unknown.keys() {
            warnings.push(format!("matrix {}: unknown key `{k}` ignored", i + 1));
        }
    }
    Ok((file, warnings))
}

/// `--time-limit=8`-style arguments of an options table (lists repeat the flag).
fn option_args(options: &BTreeMap<String, toml::Value>) -> Result<Vec<String>, SuiteError> {
    let mut args = Vec::new();
    for (k, v) in options {
        let flag = k.replace('_', "-");
        // `node_args` is the field; `--node-arg` the flag.
        let flag = if flag == "node-args" {
            "node-arg".to_string()
        } else {
            flag
        };
        let values = match v {
            toml::Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        for v in values {
            let text = match v {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(SuiteError::BadValue(k.clone())),
            };
            args.push(format!("--{flag}={text}"));
        }
    }
    Ok(args)
}

#[derive(Parser)]
#[command(name = "faultline run")]
struct Probe {
    #[command(flatten)]
    args: RunArgs,
}

/// Every run of the suite, in order, each checked against `faultline run`'s
/// own argument parser.
pub fn plan(file: &SuiteFile) -> Result<Vec<PlannedRun>, SuiteError> {
    let mut runs = Vec::new();
    for m in &file.matrix {
        let mut options = file.options.clone();
        options.extend(m.options.clone());
        for key in ["workload", "nemesis", "seed", "store"] {
            if options.remove(key).is_some() {
                return Err(SuiteError::BadRun {
                    run: "options".into(),
                    message: format!("`{key}` is set by the matrix or the suite, not by options"),
                });
            }
        }
        let base = option_args(&options)?;
        if m.workloads.is_empty() != m.nemeses.is_empty() {
            return Err(SuiteError::BadRun {
                run: "matrix".into(),
                message: "a matrix needs both workloads and nemeses (or only scenarios)".into(),
            });
        }
        for name in &m.scenarios {
            let known = crate::scenario::known(None).map_err(|e| SuiteError::BadRun {
                run: name.clone(),
                message: e.to_string(),
            })?;
            let scenario = crate::scenario::find(&known, name).map_err(|e| SuiteError::BadRun {
                run: name.clone(),
                message: e.to_string(),
            })?;
            for &seed in &m.seeds {
                let mut args = vec![name.clone(), format!("--seed={seed}")];
                args.extend(base.iter().cloned());
                let label = format!("{name} seed {seed}");
                let probe = Probe::try_parse_from(
                    std::iter::once("faultline run".to_string()).chain(args.iter().cloned()),
                )
                .map_err(|e| SuiteError::BadRun {
                    run: label.clone(),
                    message: e.to_string().lines().next().unwrap_or_default().to_string(),
                })?;
                let a = probe.args;
                let time_limit =
                    if options.contains_key("time_limit") || options.contains_key("time-limit") {
                        a.time_limit
                    } else {
                        scenario.time_limit
                    };
                let timeout = file
                    .run_timeout
                    .unwrap_or(time_limit + a.recovery_time.max(0.0) + 90.0);
                runs.push(PlannedRun {
                    workload: scenario.workload.clone(),
                    nemesis: name.clone(),
                    seed,
                    args,
                    time_limit,
                    timeout,
                });
            }
        }
        for workload in &m.workloads {
            for nemesis in &m.nemeses {
                for &seed in &m.seeds {
                    let mut args = vec![
                        format!("--workload={workload}"),
                        format!("--nemesis={nemesis}"),
                        format!("--seed={seed}"),
                    ];
                    args.extend(base.iter().cloned());
                    let label = format!("{workload} {nemesis} seed {seed}");
                    let probe = Probe::try_parse_from(
                        std::iter::once("faultline run".to_string()).chain(args.iter().cloned()),
                    )
                    .map_err(|e| SuiteError::BadRun {
                        run: label.clone(),
                        message: e.to_string().lines().next().unwrap_or_default().to_string(),
                    })?;
                    let a = probe.args;
                    let timeout = file
                        .run_timeout
                        .unwrap_or(a.time_limit + a.recovery_time.max(0.0) + 90.0);
                    runs.push(PlannedRun {
                        workload: a.workload,
                        nemesis: nemesis.clone(),
                        seed,
                        args,
                        time_limit: a.time_limit,
                        timeout,
                    });
                }
            }
        }
    }
    if runs.is_empty() {
        return Err(SuiteError::Empty);
    }
    Ok(runs)
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
        EXIT_HARNESS
    } else if any("unknown") || any("skipped") {
        2
    } else {
        0
    }
}

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// Runs `faultline suite` (or `faultline suite merge`); returns the exit code.
pub fn run(args: &SuiteArgs) -> anyhow::Result<i32> {
    let suite_file = match (&args.action, &args.file) {
        (Some(SuiteAction::Merge(m)), _) => return merge::run(m),
        (None, Some(f)) => f,
        (None, None) => anyhow::bail!("faultline suite needs a suite file (or `merge DIR...`)"),
    };
    let text = std::fs::read_to_string(suite_file)
        .with_context(|| format!("reading the suite file {}", suite_file.display()))?;
    let (file, warnings) =
        parse(&text).with_context(|| format!("parsing the suite file {}", suite_file.display()))?;
    for w in warnings {
        eprintln!("faultline suite: warning: {}: {w}", suite_file.display());
    }
    let all_runs = plan(&file).with_context(|| format!("in {}", suite_file.display()))?;
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
    let exe = std::env::current_exe().context("locating the faultline executable")?;
    let started = SystemTime::now();
    let dir = make_suite_dir(&args.store, started)
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
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    let t0 = Instant::now();
    let mut records: Vec<RunRecord> = Vec::new();
    let mut interrupted = false;
    for (i, planned) in runs.iter().enumerate() {
        let left = budget.map(|b| b.saturating_sub(t0.elapsed()));
        let prefix = format!("[{}/{}] {}", i + 1, runs.len(), planned.label());
        // Output files are numbered by the run's place in the whole suite,
        // so the shards' files never share a name.
        let number = picked[i];
        if interrupted || left.is_some_and(|l| l.as_secs_f64() < planned.time_limit) {
            let note = if interrupted {
                "not run: the suite was interrupted"
            } else {
                "not run: the suite's budget ran out"
            };
            eprintln!("{prefix}: skipped ({note})");
            records.push(RunRecord {
                run: planned.clone(),
                code: None,
                verdict: None,
                folder: None,
                output: None,
                seconds: 0.0,
                note: Some(note.to_string()),
            });
            continue;
        }
        let limit = Duration::from_secs_f64(planned.timeout);
        let limit = left.map(|l| l.min(limit)).unwrap_or(limit);
        let record = one_run(&exe, args, &dir, number, planned, limit)?;
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
        if record.code == Some(EXIT_INTERRUPTED) || SIGNALLED.load(Ordering::SeqCst) != 0 {
            interrupted = true;
        }
        records.push(record);
    }
    let _ = std::fs::remove_file(dir.join("latest"));
    let suites: Vec<TestSuite> = records.iter().map(|r| record_suite(&dir, r)).collect();
    std::fs::write(dir.join(junit::JUNIT_FILE), junit::document(&name, &suites))
        .with_context(|| format!("writing {}", dir.join(junit::JUNIT_FILE).display()))?;
    let stamp = crate::store::timestamp(started);
    std::fs::write(dir.join("index.html"), index_html(&name, &stamp, &records))
        .with_context(|| format!("writing {}", dir.join("index.html").display()))?;
    Manifest::new(&name, &stamp, args.shard, &all_runs, &picked, &records)
        .write(&dir)
        .with_context(|| format!("writing {}", dir.join(MANIFEST_FILE).display()))?;
    let code = if interrupted {
        EXIT_INTERRUPTED
    } else {
        exit_code(&records)
    };
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *counts.entry(r.status()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("suite: {}", dir.display());
    println!("runs: {}", counts.join(", "));
    println!("junit: {}", dir.join(junit::JUNIT_FILE).display());
    println!("index: {}", dir.join("index.html").display());
    Ok(code)
}

fn make_suite_dir(store: &Path, now: SystemTime) -> std::io::Result<PathBuf> {
    let stamp = crate::store::timestamp(now);
    let mut path = store.join(format!("suite-{stamp}"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = store.join(format!("suite-{stamp}-{n}"));
    }
    std::fs::create_dir_all(&path)?;
    path.canonicalize()
}

/// Runs one child `faultline run` with its output in `output/`, stopping it
/// (SIGTERM, then SIGKILL) past `limit` or when the suite is signalled.
fn one_run(
    exe: &Path,
    args: &SuiteArgs,
    dir: &Path,
    i: usize,
    planned: &PlannedRun,
    limit: Duration,
) -> anyhow::Result<RunRecord> {
    let output_rel = PathBuf::from("output").join(format!(
        "{:02}-{}-{}-{}.log",
        i + 1,
        planned.workload,
        planned.nemesis.replace(',', "+"),
        planned.seed
    ));
    let out = File::create(dir.join(&output_rel))
        .with_context(|| format!("creating {}", dir.join(&output_rel).display()))?;
    let err = out.try_clone().context("duplicating the output file")?;
    let before = std::fs::read_link(dir.join("latest")).ok();
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .args(&planned.args)
        .arg("--store")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    if let Some(node) = &args.node_bin {
        cmd.arg("--node-bin").arg(node);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {} run", exe.display()))?;
    let (status, note) = wait_bounded(&mut child, limit)?;
    let seconds = started.elapsed().as_secs_f64();
    let after = std::fs::read_link(dir.join("latest")).ok();
    let folder = after
        .filter(|a| Some(a) != before.as_ref())
        .and_then(|a| a.strip_prefix(dir).ok().map(Path::to_path_buf));
    let code = status.and_then(|s| s.code());
    let verdict = match code {
        Some(0..=2) => folder
            .as_ref()
            .and_then(|f| StoredRun::load(&dir.join(f)).ok())
            .map(|r| r.results.verdict),
        _ => None,
    };
    let note = note.or_else(|| match (code, verdict) {
        (_, Some(_)) => None,
        (Some(c), None) => Some(format!("faultline run exited with {c}")),
        (None, None) => Some("faultline run was killed by a signal".into()),
    });
    Ok(RunRecord {
        run: planned.clone(),
        code,
        verdict,
        folder,
        output: Some(output_rel),
        seconds,
        note,
    })
}

fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> anyhow::Result<(Option<ExitStatus>, Option<String>)> {
    let deadline = Instant::now() + limit;
    let mut stopping: Option<(Instant, String)> = None;
    loop {
        if let Some(status) = child.try_wait().context("waiting for faultline run")? {
            return Ok((Some(status), stopping.map(|(_, why)| why)));
        }
        let now = Instant::now();
        match &stopping {
            None => {
                let why = if SIGNALLED.load(Ordering::SeqCst) != 0 {
                    Some("stopped: the suite was interrupted".to_string())
                } else if now >= deadline {
                    Some(format!(
                        "stopped after {:.0}s (the run's timeout or the suite's budget)",
                        limit.as_secs_f64()
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    // SAFETY: signalling our own child by its id.
                    unsafe {
                        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
                    }
                    stopping = Some((now, why));
                }
            }
            Some((since, why)) if now.duration_since(*since) > Duration::from_secs(15) => {
                let why = why.clone();
                let _ = child.kill();
                let status = child.wait().context("waiting for faultline run")?;
                return Ok((Some(status), Some(why)));
            }
            Some(_) => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The JUnit suite of one record: the run's own checkers, or one case
/// saying why there are none.
pub(crate) fn record_suite(dir: &Path, r: &RunRecord) -> TestSuite {
    if r.verdict.is_some() {
        if let Some(run) = r
            .folder
            .as_ref()
            .and_then(|f| StoredRun::load(&dir.join(f)).ok())
        {
            let mut s = junit::run_suite(&run);
            s.time = r.seconds;
            return s;
        }
    }
    let output = r
        .output
        .as_ref()
        .and_then(|o| std::fs::read_to_string(dir.join(o)).ok())
        .map(|t| tail(&t, 40));
    let note = r.note.clone().unwrap_or_else(|| "no verdict".into());
    let outcome = if r.status() == "skipped" {
        Outcome::Skipped { message: note }
    } else {
        Outcome::Error {
            message: note.clone(),
            text: format!("{note}\n{}", output.clone().unwrap_or_default()),
        }
    };
    TestSuite {
        name: format!("{}-{} seed {}", r.run.workload, r.run.nemesis, r.run.seed),
        timestamp: None,
        time: r.seconds,
        cases: vec![TestCase {
            name: "faultline run".into(),
            classname: format!("faultline.{}-{}", r.run.workload, r.run.nemesis),
            time: r.seconds,
            outcome,
            system_out: output,
        }],
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The suite's `index.html`: every run, its verdict and links to its files;
/// `started` is the suite's `YYYYMMDDTHHMMSS` stamp.
pub(crate) fn index_html(name: &str, started: &str, records: &[RunRecord]) -> String {
    let worst = match exit_code(records) {
        0 => "valid",
        1 => "invalid",
        _ => "unknown",
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>suite {} — faultline</title>\
         <style>body{{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1d2430}}\
         table{{border-collapse:collapse}}td,th{{border-top:1px solid #dde1e7;padding:4px 10px;text-align:left}}\
         .v{{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-weight:700;font-size:.85em}}\
         .valid{{background:#2f8f4e}}.invalid{{background:#c9302c}}.unknown,.skipped{{background:#c88a12}}\
         .harness{{background:#6b7380}}</style></head><body>\
         <h1><span class=\"v {worst}\">{}</span> suite {}</h1><p>started {} UTC · {} runs · \
         <a href=\"junit.xml\">junit.xml</a></p><table><tr><th>#</th><th>workload</th><th>nemesis</th>\
         <th>seed</th><th>verdict</th><th>seconds</th><th>report</th><th>files</th><th>output</th></tr>",
        esc(name),
        worst.to_uppercase(),
        esc(name),
        esc(started),
        records.len()
    );
    for (i, r) in records.iter().enumerate() {
        let status = r.status();
        let class = status.split(' ').next().unwrap_or(status);
        let link = |rel: Option<PathBuf>, text: &str| match rel {
            Some(p) => format!("<a href=\"{}\">{text}</a>", esc(&p.to_string_lossy())),
            None => String::new(),
        };
        let report = link(
            r.folder.as_ref().map(|f| f.join(report::REPORT_FILE)),
            "report.html",
        );
        let files = [
            link(
                r.folder.as_ref().map(|f| f.join(junit::JUNIT_FILE)),
                "junit.xml",
            ),
            link(
                r.folder.as_ref().map(|f| f.join("history.jsonl")),
                "history",
            ),
            link(r.folder.clone(), "folder"),
        ]
        .join(" ");
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"v {class}\">{}</span>{}</td>\
             <td>{:.1}</td><td>{report}</td><td>{files}</td><td>{}</td></tr>",
            i + 1,
            esc(&r.run.workload),
            esc(&r.run.nemesis),
            r.run.seed,
            esc(&status.to_uppercase()),
            r.note
                .as_ref()
                .map(|n| format!(" <small>{}</small>", esc(n)))
                .unwrap_or_default(),
            r.seconds,
            link(r.output.clone(), "output"),
        );
    }
    h.push_str("</table></body></html>\n");
    h
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
