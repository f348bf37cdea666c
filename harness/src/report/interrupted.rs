//! `faultline report` on a run stopped before its verdict (Ctrl-C or SIGTERM
//! leave `test.json` and `history.jsonl` but no `results.json`): the history
//! it has is checked by the run's checkers, under the run's checker
//! timeout, and `results.json` is written marked as interrupted, so the
//! report and `junit.xml` can be built as for any run.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use faultline_checker::CheckOptions;

use crate::checkers::{check_all, Checker, RunEvidence};
use crate::record::{ResultsRecord, TestRecord};
use crate::stored::{node_logs, read_history, read_test};

/// Seconds the checker may take when `test.json` does not say (`faultline
/// run --check-timeout`'s default).
const CHECK_TIMEOUT: f64 = 120.0;

/// Whether the run in `dir` stopped before its check: it has a history but
/// no `results.json`.
pub fn unchecked(dir: &Path) -> bool {
    !dir.join("results.json").exists() && dir.join("history.jsonl").exists()
}

/// Checks the history of the interrupted run in `dir` with the checkers
/// `checkers_of` gives for its `test.json`, and writes its `results.json`;
/// returns what it wrote.
pub fn check(
    dir: &Path,
    checkers_of: impl Fn(&TestRecord) -> anyhow::Result<Vec<&'static dyn Checker>>,
) -> anyhow::Result<ResultsRecord> {
    let test = read_test(dir)?.with_context(|| {
        format!(
            "{} has neither results.json nor test.json: not a run folder",
            dir.display()
        )
    })?;
    let checkers = checkers_of(&test)?;
    let events = read_history(dir)?;
    let timeout = test.options.check_timeout.unwrap_or(CHECK_TIMEOUT).max(0.1);
    let opts = CheckOptions {
        timeout: Some(Duration::from_secs_f64(timeout)),
        ..CheckOptions::default()
    };
    let logs: Vec<(String, String)> = node_logs(dir)
        .into_iter()
        .map(|rel| {
            let text = std::fs::read_to_string(dir.join(&rel)).unwrap_or_default();
            let name = Path::new(&rel)
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or(rel);
            (name, text)
        })
        .collect();
    eprintln!(
        "{}: interrupted before its verdict; checking {} events...",
        dir.display(),
        events.len()
    );
    let evidence = RunEvidence {
        dir: Some(dir.to_path_buf()),
        logs,
        ..RunEvidence::default()
    };
    let results = check_all(&checkers, &events, &opts, &evidence);
    let record = ResultsRecord::new(&test, results, events.len()).interrupted();
    let path = dir.join("results.json");
    let text = serde_json::to_string_pretty(&record).context("serializing the results")?;
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(record)
}
