//! The suite file (TOML) and its plan: every run it names, in order, each
//! checked by `faultline run`'s own argument parser before anything starts.

use std::collections::BTreeMap;

use clap::Parser;
use serde::Deserialize;

use crate::run::RunArgs;

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

/// `faultline run`'s parser, to check a run's arguments.
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
        if m.workloads.is_empty() != m.nemeses.is_empty() {
            return Err(SuiteError::BadRun {
                run: "matrix".into(),
                message: "a matrix needs both workloads and nemeses (or only scenarios)".into(),
            });
        }
        let base = option_args(&options)?;
        let time_limit_given =
            options.contains_key("time_limit") || options.contains_key("time-limit");
        for name in &m.scenarios {
            runs.extend(scenario_runs(file, m, name, &base, time_limit_given)?);
        }
        for workload in &m.workloads {
            for nemesis in &m.nemeses {
                for &seed in &m.seeds {
                    runs.push(matrix_run(file, workload, nemesis, seed, &base)?);
                }
            }
        }
    }
    if runs.is_empty() {
        return Err(SuiteError::Empty);
    }
    Ok(runs)
}

/// The runs of scenario `name` at every seed of `m`: its own workload, and
/// its own time limit unless the options give one.
fn scenario_runs(
    file: &SuiteFile,
    m: &Matrix,
    name: &str,
    base: &[String],
    time_limit_given: bool,
) -> Result<Vec<PlannedRun>, SuiteError> {
    let bad = |e: &dyn std::fmt::Display| SuiteError::BadRun {
        run: name.to_string(),
        message: e.to_string(),
    };
    let known = crate::scenario::known(None).map_err(|e| bad(&e))?;
    let scenario = crate::scenario::find(&known, name).map_err(|e| bad(&e))?;
    let mut runs = Vec::new();
    for &seed in &m.seeds {
        let mut args = vec![name.to_string(), format!("--seed={seed}")];
        args.extend(base.iter().cloned());
        let a = probe(&format!("{name} seed {seed}"), &args)?;
        let time_limit = if time_limit_given {
            a.time_limit
        } else {
            scenario.time_limit
        };
        runs.push(PlannedRun {
            workload: scenario.workload.clone(),
            nemesis: name.to_string(),
            seed,
            args,
            time_limit,
            timeout: timeout(file, time_limit, a.recovery_time),
        });
    }
    Ok(runs)
}

/// The run of `workload` under `nemesis` at `seed`.
fn matrix_run(
    file: &SuiteFile,
    workload: &str,
    nemesis: &str,
    seed: u64,
    base: &[String],
) -> Result<PlannedRun, SuiteError> {
    let mut args = vec![
        format!("--workload={workload}"),
        format!("--nemesis={nemesis}"),
        format!("--seed={seed}"),
    ];
    args.extend(base.iter().cloned());
    let a = probe(&format!("{workload} {nemesis} seed {seed}"), &args)?;
    Ok(PlannedRun {
        workload: a.workload,
        nemesis: nemesis.to_string(),
        seed,
        args,
        time_limit: a.time_limit,
        timeout: timeout(file, a.time_limit, a.recovery_time),
    })
}

/// `args` parsed as `faultline run` would (the run's `label` names it in
/// the error).
fn probe(label: &str, args: &[String]) -> Result<RunArgs, SuiteError> {
    Probe::try_parse_from(std::iter::once("faultline run".to_string()).chain(args.iter().cloned()))
        .map(|p| p.args)
        .map_err(|e| SuiteError::BadRun {
            run: label.to_string(),
            message: e.to_string().lines().next().unwrap_or_default().to_string(),
        })
}

/// Seconds a run may take: the file's `run_timeout`, or its time limit,
/// recovery time and 90 s for start-up, final reads and checking.
fn timeout(file: &SuiteFile, time_limit: f64, recovery_time: f64) -> f64 {
    file.run_timeout
        .unwrap_or(time_limit + recovery_time.max(0.0) + 90.0)
}
