//! `faultline suite merge DIR...`: the folders of a suite's shards, run
//! apart (e.g. on N CI runners), joined into one folder with one
//! `junit.xml`, one `index.html` and one `suite.json` that link into the
//! shards' folders. Runs keep the whole suite's order; a run no folder
//! holds (a shard whose results never arrived) is reported as skipped, so
//! a lost runner never makes the merged suite look complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;

use super::manifest::{Manifest, ManifestRun, PlanEntry};
use super::{exit_code, index_html, record_suite, PlannedRun, RunRecord, MANIFEST_FILE};
use crate::junit;

/// Arguments of `faultline suite merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' suite folders (each holding the `suite.json` that
    /// `faultline suite --shard I/N` writes).
    #[arg(required = true, num_args = 1..)]
    pub dirs: Vec<PathBuf>,
    /// The merged folder (made if missing); its junit.xml and index.html
    /// link into the shards' folders, so keep them beside it.
    #[arg(long, default_value = "merged")]
    pub out: PathBuf,
}

/// The merged records, in the suite's order, from `(folder, manifest)`
/// pairs; `out` is the merged folder (canonical). Refuses folders of
/// different suites and runs held twice.
pub fn merge_records(
    out: &Path,
    shards: &[(PathBuf, Manifest)],
) -> anyhow::Result<(Vec<RunRecord>, Vec<String>)> {
    let Some((first_dir, first)) = shards.first() else {
        bail!("nothing to merge");
    };
    let mut warnings = Vec::new();
    let mut by_index: BTreeMap<usize, (&PathBuf, &ManifestRun)> = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for (dir, m) in shards {
        if m.name != first.name || m.plan != first.plan {
            bail!(
                "{} and {} are folders of different suites ({} and {}, or their matrices differ)",
                first_dir.display(),
                dir.display(),
                first.name,
                m.name
            );
        }
        if let Some(s) = m.shard {
            if let Some(other) = counts.insert(s.index, (s.count, dir)) {
                bail!(
                    "shard {s} is given twice: {} and {}",
                    other.1.display(),
                    dir.display()
                );
            }
        }
        for run in &m.runs {
            let Some(entry) = m.plan.get(run.index) else {
                bail!(
                    "{}: run {} is outside the suite's {} runs",
                    dir.join(MANIFEST_FILE).display(),
                    run.index + 1,
                    m.plan.len()
                );
            };
            if let Some((other, _)) = by_index.insert(run.index, (dir, run)) {
                bail!(
                    "run {} ({} {} seed {}) is in both {} and {}",
                    run.index + 1,
                    entry.workload,
                    entry.nemesis,
                    entry.seed,
                    other.display(),
                    dir.display()
                );
            }
        }
    }
    let declared: Vec<usize> = counts.values().map(|(c, _)| *c).collect();
    if let Some(&n) = declared.first() {
        if declared.iter().any(|&c| c != n) {
            bail!("the folders come from different shard counts: {declared:?}");
        }
        for i in 1..=n {
            if !counts.contains_key(&i) {
                warnings.push(format!("shard {i}/{n} is missing: its runs are skipped"));
            }
        }
    }
    let records = first
        .plan
        .iter()
        .enumerate()
        .map(|(i, entry)| match by_index.get(&i) {
            Some((dir, run)) => run.record(entry, &crate::store::relative(out, dir)),
            None => not_merged(entry),
        })
        .collect();
    Ok((records, warnings))
}

/// The record of a planned run no merged folder holds.
fn not_merged(entry: &PlanEntry) -> RunRecord {
    RunRecord {
        run: PlannedRun {
            workload: entry.workload.clone(),
            nemesis: entry.nemesis.clone(),
            seed: entry.seed,
            args: Vec::new(),
            time_limit: 0.0,
            timeout: 0.0,
        },
        code: None,
        verdict: None,
        folder: None,
        output: None,
        seconds: 0.0,
        note: Some("not run: no merged folder holds this run".into()),
    }
}

/// Runs `faultline suite merge`; returns the worst verdict's exit code.
pub fn run(args: &MergeArgs) -> anyhow::Result<i32> {
    let mut shards = Vec::new();
    for dir in &args.dirs {
        let dir = dir
            .canonicalize()
            .with_context(|| format!("opening the suite folder {}", dir.display()))?;
        let manifest = Manifest::read(&dir)?;
        shards.push((dir, manifest));
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let out = args
        .out
        .canonicalize()
        .with_context(|| format!("opening {}", args.out.display()))?;
    let (records, warnings) = merge_records(&out, &shards)?;
    for w in warnings {
        eprintln!("faultline suite merge: warning: {w}");
    }
    let name = shards[0].1.name.clone();
    let started = shards
        .iter()
        .map(|(_, m)| m.started.clone())
        .min()
        .unwrap_or_default();
    let suites: Vec<junit::TestSuite> = records.iter().map(|r| record_suite(&out, r)).collect();
    let junit_path = out.join(junit::JUNIT_FILE);
    std::fs::write(&junit_path, junit::document(&name, &suites))
        .with_context(|| format!("writing {}", junit_path.display()))?;
    let index_path = out.join("index.html");
    std::fs::write(&index_path, index_html(&name, &started, &records))
        .with_context(|| format!("writing {}", index_path.display()))?;
    let all: Vec<usize> = (0..records.len()).collect();
    let plan: Vec<PlannedRun> = records.iter().map(|r| r.run.clone()).collect();
    Manifest::new(&name, &started, None, &plan, &all, &records)
        .write(&out)
        .with_context(|| format!("writing {}", out.join(MANIFEST_FILE).display()))?;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *counts.entry(r.status()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("merged: {} folders into {}", shards.len(), out.display());
    println!("runs: {}", counts.join(", "));
    println!("junit: {}", junit_path.display());
    println!("index: {}", index_path.display());
    Ok(exit_code(&records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::manifest::PlanEntry;

    /// A suite folder (in `root`) holding one run: a copy of the fixture
    /// `run-invalid`, recorded by a faultline whose `results.json` had a
    /// workload checker, `stats` and `logs` in fields of their own.
    fn shard_with_an_old_run(root: &Path) -> PathBuf {
        let shard = root.join("shard");
        let run = shard.join("run-invalid");
        std::fs::create_dir_all(&run).unwrap();
        // The unit tests are built by the package in harness/unit.
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/run-invalid");
        for entry in std::fs::read_dir(fixture).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
        }
        let manifest = Manifest {
            name: "old".into(),
            started: "20240101T000000".into(),
            shard: None,
            plan: vec![PlanEntry {
                workload: "register".into(),
                nemesis: "kill,pause".into(),
                seed: 2,
            }],
            runs: vec![ManifestRun {
                index: 0,
                args: Vec::new(),
                time_limit: 10.0,
                timeout: 60.0,
                code: Some(1),
                verdict: Some(faultline_checker::Verdict::Invalid),
                folder: Some(PathBuf::from("run-invalid")),
                output: None,
                seconds: 12.0,
                note: None,
            }],
        };
        manifest.write(&shard).unwrap();
        shard
    }

    #[test]
    fn runs_recorded_by_an_earlier_faultline_merge_with_their_checkers() {
        let tmp = tempfile::tempdir().unwrap();
        let shard = shard_with_an_old_run(tmp.path());
        let out = tmp.path().join("merged");
        let code = run(&MergeArgs {
            dirs: vec![shard],
            out: out.clone(),
        })
        .unwrap();
        assert_eq!(code, 1);
        let xml = std::fs::read_to_string(out.join(junit::JUNIT_FILE)).unwrap();
        for name in ["register checker", "stats", "node logs"] {
            assert!(xml.contains(&format!("<testcase name=\"{name}\"")), "{xml}");
        }
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\""),
            "{xml}"
        );
        assert!(xml.contains("cannot place"), "{xml}");
    }
}
