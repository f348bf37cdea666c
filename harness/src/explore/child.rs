//! One child `faultline run` of a scenario the search or the shrinker
//! wrote: its TOML beside the runs, the run in a process of its own (a run
//! enters its namespace while single-threaded), its output in a file, its
//! verdict read back from its folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use faultline_checker::Verdict;

use crate::scenario::Scenario;
use crate::stored::StoredRun;
use crate::suite::child::run_child;

/// Where a child run goes and how it is started.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The faultline binary.
    pub exe: PathBuf,
    /// The store the runs go to.
    pub store: PathBuf,
    /// Where scenario files and outputs go.
    pub work: PathBuf,
    /// The run options passed through (system and its flags, ...).
    pub options: Vec<String>,
}

/// What one child run gave.
#[derive(Debug)]
pub struct ChildRun {
    /// Its run folder, when it made one.
    pub folder: Option<PathBuf>,
    /// Its exit code (None: killed).
    pub code: Option<i32>,
    /// Its verdict, when it checked.
    pub verdict: Option<Verdict>,
    /// Seconds from the first fault of the test to its first anomaly.
    pub time_to_detect_s: Option<f64>,
    /// Wall-clock seconds it took.
    pub seconds: f64,
    /// Its output.
    pub output: PathBuf,
    /// The run read back (history, records), when it checked.
    pub stored: Option<StoredRun>,
}

impl Launcher {
    /// The words after `faultline run` of a run of `scenario` (written to
    /// `file`) at `seed`.
    fn words(&self, scenario: &Scenario, file: &Path, seed: u64) -> Vec<String> {
        let mut w = vec![
            scenario.name.clone(),
            "--scenarios".into(),
            file.display().to_string(),
            "--seed".into(),
            seed.to_string(),
        ];
        w.extend(self.options.iter().cloned());
        w
    }

    /// Runs every `(scenario, seed)` of `runs` at once (each a cluster of
    /// its own, in its own network namespace), each at most `limit`; what
    /// each gave, in the order given. The scenario files are written
    /// before any run starts, so runs of one scenario at several seeds
    /// never read a file being rewritten.
    pub fn run_all(
        &self,
        runs: &[(Scenario, u64)],
        limit: Duration,
    ) -> anyhow::Result<Vec<ChildRun>> {
        let files = runs
            .iter()
            .map(|(scenario, _)| self.write(scenario))
            .collect::<anyhow::Result<Vec<PathBuf>>>()?;
        std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .iter()
                .zip(&files)
                .map(|((scenario, seed), file)| {
                    scope.spawn(move || self.launch(scenario, file, *seed, limit))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a child run's thread panicked")))
                })
                .collect()
        })
    }

    /// Writes `scenario` as `<work>/<name>.toml`.
    fn write(&self, scenario: &Scenario) -> anyhow::Result<PathBuf> {
        let file = self.work.join(format!("{}.toml", scenario.name));
        std::fs::write(&file, crate::scenario::to_toml(scenario))
            .with_context(|| format!("writing {}", file.display()))?;
        Ok(file)
    }

    /// Runs `scenario`, written to `file`, at `seed` (at most `limit`) and
    /// reads its verdict back; a run that checked valid then drops its
    /// nodes' data ([`drop_node_data`]).
    fn launch(
        &self,
        scenario: &Scenario,
        file: &Path,
        seed: u64,
        limit: Duration,
    ) -> anyhow::Result<ChildRun> {
        let output = self.work.join(format!("{}-{seed}.log", scenario.name));
        let words = self.words(scenario, file, seed);
        let end = run_child(&self.exe, &words, &self.store, &output, limit)?;
        let code = end.status.and_then(|s| s.code());
        let stored = match code {
            Some(0..=2) => end.folder.as_deref().and_then(|f| StoredRun::load(f).ok()),
            _ => None,
        };
        let verdict = stored.as_ref().map(|s| s.results.verdict);
        if let (Some(folder), Some(Verdict::Valid)) = (&end.folder, verdict) {
            drop_node_data(folder);
        }
        Ok(ChildRun {
            folder: end.folder,
            code,
            verdict,
            time_to_detect_s: stored.as_ref().and_then(|s| s.results.time_to_detect_s),
            seconds: end.seconds,
            output,
            stored,
        })
    }
}

/// Removes the nodes' data directories of a run that checked valid, once
/// read back: a search or a shrink makes a hundred runs or more, and a
/// node's data can be large (etcd preallocates 64 MB WAL files: about 600
/// MB per 5-node run, 70 GB in one 10-minute search). The history,
/// statuses, node logs and report stay; any other run keeps everything.
fn drop_node_data(folder: &Path) {
    let data = folder.join(faultline_platform::node::DATA_DIR);
    if let Err(e) = std::fs::remove_dir_all(&data) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("removing {}: {e}", data.display());
        }
    }
}

/// `words` without the options named in `valued` (with their values, as
/// `--flag v` or `--flag=v`) and in `flags` (no value).
pub fn without(words: &[String], valued: &[&str], flags: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip = false;
    for w in words {
        if std::mem::take(&mut skip) {
            continue;
        }
        let name = w.split('=').next().unwrap_or(w);
        if valued.contains(&name) {
            skip = !w.contains('=');
            continue;
        }
        if flags.contains(&w.as_str()) {
            continue;
        }
        out.push(w.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_left_out_with_their_values_in_both_spellings() {
        let w: Vec<String> = "--system etcd --budget 5m --seed=3 --shrink --nodes 3"
            .split(' ')
            .map(str::to_string)
            .collect();
        assert_eq!(
            without(&w, &["--budget", "--seed"], &["--shrink"]),
            vec!["--system", "etcd", "--nodes", "3"]
        );
    }
}
