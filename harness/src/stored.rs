//! A run folder read back (`test.json`, `results.json`, `history.jsonl`,
//! the node logs): what its report page and its `junit.xml` are made of.

use std::path::{Path, PathBuf};

use anyhow::Context;
use faultline_checker::history::Event;
use faultline_checker::import::{read_history_file_with, Format, ImportOptions};

use crate::record::{ResultsRecord, TestRecord};

/// A stored run read back: what its report and its `junit.xml` are made of.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The run folder, where the page and `junit.xml` are written.
    pub dir: PathBuf,
    /// `test.json` (every field at its default when the file is missing).
    pub test: TestRecord,
    /// `results.json`: what the checkers found.
    pub results: ResultsRecord,
    /// `history.jsonl`, a last line cut off mid-write dropped.
    pub events: Vec<Event>,
    /// Node log files, relative to the folder (`nodes/n1.log`, ...).
    pub logs: Vec<String>,
}

/// Reads `test.json` of the run in `dir`; None when there is none.
pub fn read_test(dir: &Path) -> anyhow::Result<Option<TestRecord>> {
    let path = dir.join("test.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let test =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Some(test))
}

/// Reads `history.jsonl` of the run in `dir`. A history cut off mid-line (a
/// crashed recorder) loses its last line, as `faultline check
/// --allow-truncated` does.
pub fn read_history(dir: &Path) -> anyhow::Result<Vec<Event>> {
    let history = dir.join("history.jsonl");
    Ok(read_history_file_with(
        &history,
        Format::Jsonl,
        ImportOptions {
            allow_truncated: true,
        },
    )
    .with_context(|| format!("reading {}", history.display()))?
    .events)
}

/// The node log files of the run in `dir`, relative to it (`nodes/n1.log`,
/// ...), in node order.
pub fn node_logs(dir: &Path) -> Vec<String> {
    let mut logs: Vec<String> = std::fs::read_dir(dir.join("nodes"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(".log"))
                .map(|n| format!("nodes/{n}"))
                .collect()
        })
        .unwrap_or_default();
    logs.sort_by_key(|l| {
        let digits: String = l.chars().filter(char::is_ascii_digit).collect();
        (digits.parse::<u64>().unwrap_or(u64::MAX), l.clone())
    });
    logs
}

impl StoredRun {
    /// Reads the run in `dir` (see [`read_history`] for a truncated history).
    pub fn load(dir: &Path) -> anyhow::Result<StoredRun> {
        let results_path = dir.join("results.json");
        let text = std::fs::read_to_string(&results_path).with_context(|| {
            format!(
                "reading {} (is {} a run folder whose check finished?)",
                results_path.display(),
                dir.display()
            )
        })?;
        let results = crate::checkers::legacy::read_results(&text)
            .with_context(|| format!("reading {}", results_path.display()))?;
        Ok(StoredRun {
            dir: dir.to_path_buf(),
            test: read_test(dir)?.unwrap_or_default(),
            results,
            events: read_history(dir)?,
            logs: node_logs(dir),
        })
    }
}
