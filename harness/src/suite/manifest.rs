//! `suite.json`: what a suite folder holds, for `faultline suite merge`.
//!
//! Every suite folder gets one: the suite's name and start, the shard it
//! ran (if any), the whole suite's plan (so a merge can name the runs of a
//! shard whose results never arrived) and, for each run it made, where the
//! run sits in that plan and how it ended.

use std::path::{Path, PathBuf};

use faultline_checker::Verdict;
use serde::{Deserialize, Serialize};

use super::{PlannedRun, RunRecord, Shard};

/// The manifest's file name in a suite folder.
pub const MANIFEST_FILE: &str = "suite.json";

/// One run of the whole suite's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The workload.
    pub workload: String,
    /// The nemesis or scenario.
    pub nemesis: String,
    /// The seed.
    pub seed: u64,
}

/// One run this folder made, and how it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestRun {
    /// Its position in the whole suite's plan (0-based).
    pub index: usize,
    /// The arguments it ran with, after `faultline run`.
    pub args: Vec<String>,
    /// Its workload seconds.
    pub time_limit: f64,
    /// The seconds it was allowed.
    pub timeout: f64,
    /// Its exit code (None: not started, or killed).
    pub code: Option<i32>,
    /// Its verdict, when it reached one.
    pub verdict: Option<Verdict>,
    /// Its run folder, relative to the suite folder.
    pub folder: Option<PathBuf>,
    /// Its output file, relative to the suite folder.
    pub output: Option<PathBuf>,
    /// Seconds it took.
    pub seconds: f64,
    /// Why it has no verdict, when it has none.
    pub note: Option<String>,
}

/// The contents of `suite.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The suite's name.
    pub name: String,
    /// When it started, `YYYYMMDDTHHMMSS` (UTC).
    pub started: String,
    /// The slice this folder ran; None for the whole suite (or a merge).
    pub shard: Option<Shard>,
    /// The whole suite's runs, in order.
    pub plan: Vec<PlanEntry>,
    /// The runs this folder holds.
    pub runs: Vec<ManifestRun>,
}

impl Manifest {
    /// The manifest of a suite folder whose `records` are the runs at
    /// positions `picked` of `plan`.
    pub fn new(
        name: &str,
        started: &str,
        shard: Option<Shard>,
        plan: &[PlannedRun],
        picked: &[usize],
        records: &[RunRecord],
    ) -> Manifest {
        Manifest {
            name: name.to_string(),
            started: started.to_string(),
            shard,
            plan: plan
                .iter()
                .map(|r| PlanEntry {
                    workload: r.workload.clone(),
                    nemesis: r.nemesis.clone(),
                    seed: r.seed,
                })
                .collect(),
            runs: picked
                .iter()
                .zip(records)
                .map(|(&index, r)| ManifestRun {
                    index,
                    args: r.run.args.clone(),
                    time_limit: r.run.time_limit,
                    timeout: r.run.timeout,
                    code: r.code,
                    verdict: r.verdict,
                    folder: r.folder.clone(),
                    output: r.output.clone(),
                    seconds: r.seconds,
                    note: r.note.clone(),
                })
                .collect(),
        }
    }

    /// Writes `dir/suite.json`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(MANIFEST_FILE), text + "\n")
    }

    /// Reads `dir/suite.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        use anyhow::Context;
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is {} a suite folder made by `faultline suite`?)",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

impl ManifestRun {
    /// The run as a [`RunRecord`], its paths prefixed with `prefix` (the
    /// way from the folder that will link them to this suite folder).
    pub fn record(&self, entry: &PlanEntry, prefix: &Path) -> RunRecord {
        RunRecord {
            run: PlannedRun {
                workload: entry.workload.clone(),
                nemesis: entry.nemesis.clone(),
                seed: entry.seed,
                args: self.args.clone(),
                time_limit: self.time_limit,
                timeout: self.timeout,
            },
            code: self.code,
            verdict: self.verdict,
            folder: self.folder.as_ref().map(|f| prefix.join(f)),
            output: self.output.as_ref().map(|o| prefix.join(o)),
            seconds: self.seconds,
            note: self.note.clone(),
        }
    }
}
