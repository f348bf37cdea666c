//! The store listed: every run folder (a folder holding `test.json`) with
//! what its `test.json` and the verdict of its `results.json` say, and
//! every suite folder (`suite.json`, or a `suite-*` folder still running).
//!
//! Each run costs two small reads, done on rayon's threads: the listing of
//! 10,000 runs is what `faultline serve` sends on every load of its page.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

use faultline_checker::Verdict;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ServeError;
use crate::suite::{Manifest, MANIFEST_FILE};

/// How deep under the store run folders are looked for (a CI artifact
/// holds `slices/nightly-slice-1/suite-*/<workload>-<nemesis>/<run>/`).
const MAX_DEPTH: usize = 6;

/// A run without `results.json` whose files changed this recently is still
/// running; one quieter than that stopped without a verdict.
const RUNNING_QUIET_S: u64 = 600;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Checked: every checker passed.
    Valid,
    /// Checked: an anomaly was found.
    Invalid,
    /// Checked: out of time or memory, or interrupted.
    Unknown,
    /// No `results.json` yet, and its files are still being written.
    Running,
    /// No `results.json`, and nothing written for a while: the run stopped
    /// before its verdict (`faultline report DIR` checks it).
    Unfinished,
}

impl Status {
    /// The status of a checked run with `verdict`.
    pub fn checked(verdict: Verdict) -> Status {
        match verdict {
            Verdict::Valid => Status::Valid,
            Verdict::Invalid => Status::Invalid,
            Verdict::Unknown => Status::Unknown,
        }
    }

    /// Whether the run has its verdict (neither running nor unfinished).
    pub fn is_checked(self) -> bool {
        matches!(self, Status::Valid | Status::Invalid | Status::Unknown)
    }

    /// Its name, as the page shows it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Unknown => "unknown",
            Status::Running => "running",
            Status::Unfinished => "unfinished",
        }
    }
}

/// One run folder, as the index page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// The folder, relative to the store, `/`-separated.
    pub path: String,
    /// The suite folder it belongs to, relative to the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// The system under test (`faultline-node` when the record is older than systems).
    pub system: String,
    /// The workload.
    pub workload: String,
    /// The scenario's name, or the faults (`kill,pause`, `none`).
    pub faults: String,
    /// The seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The version of the system's binary, when the run recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The git commit of the faultline build that ran it, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// When it started, `YYYYMMDDTHHMMSS` UTC.
    pub started: String,
    /// Its verdict, or whether it is still running.
    pub status: Status,
    /// Seconds from the start of the test to the first anomaly found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttd: Option<f64>,
    /// Seconds from its start to its verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

/// One suite folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteRow {
    /// The folder, relative to the store, `/`-separated.
    pub path: String,
    /// The suite's name.
    pub name: String,
    /// When it started, `YYYYMMDDTHHMMSS` UTC.
    pub started: String,
    /// The shard it ran (`2/4`), if one.
    #[serde(default)]
    pub shard: Option<String>,
    /// Runs in the whole suite's plan (0 while it runs: no `suite.json` yet).
    pub planned: usize,
    /// Whether it is finished (its `suite.json` and `index.html` written).
    pub finished: bool,
}

/// Everything the store holds, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Listing {
    /// Every run folder, newest first.
    pub runs: Vec<RunRow>,
    /// Every suite folder, newest first.
    pub suites: Vec<SuiteRow>,
}

/// A folder to look at, with the suite it is in.
struct Visit {
    dir: PathBuf,
    depth: usize,
    suite: Option<String>,
}

/// What one folder turned out to be.
enum Found {
    Run(RunRow),
    Folder {
        suite: Option<SuiteRow>,
        children: Vec<Visit>,
    },
}

/// The rows of finished runs, kept between listings of one store: a run
/// whose `results.json` has not changed since is not read again (one
/// `stat` instead of two reads). Listings through one cache take turns.
#[derive(Debug, Default)]
pub struct Cache {
    rows: RwLock<HashMap<PathBuf, (SystemTime, RunRow)>>,
    turn: Mutex<()>,
}

/// Lists the store at `store` (see the module docs). Symbolic links are
/// not followed (`latest` would list its run twice).
pub fn list(store: &Path) -> Result<Listing, ServeError> {
    list_with(store, &Cache::default())
}

/// [`list`], reading only the runs `cache` does not hold as they are.
pub fn list_with(store: &Path, cache: &Cache) -> Result<Listing, ServeError> {
    let _turn = cache.turn.lock().unwrap_or_else(|e| e.into_inner());
    let root = store.canonicalize().map_err(|e| ServeError::Store {
        path: store.to_path_buf(),
        source: e,
    })?;
    let now = SystemTime::now();
    let mut listing = Listing::default();
    let mut level = vec![Visit {
        dir: root.clone(),
        depth: 0,
        suite: None,
    }];
    while !level.is_empty() {
        let found: Vec<Found> = level
            .par_iter()
            .map(|v| visit(&root, v, now, cache))
            .collect();
        level = Vec::new();
        for f in found {
            match f {
                Found::Run(row) => listing.runs.push(row),
                Found::Folder { suite, children } => {
                    listing.suites.extend(suite);
                    level.extend(children);
                }
            }
        }
    }
    listing
        .runs
        .sort_by(|a, b| (&b.started, &b.path).cmp(&(&a.started, &a.path)));
    listing
        .suites
        .sort_by(|a, b| (&b.started, &b.path).cmp(&(&a.started, &a.path)));
    Ok(listing)
}

/// `dir` relative to `root`, `/`-separated.
fn relative(root: &Path, dir: &Path) -> String {
    dir.strip_prefix(root)
        .unwrap_or(dir)
        .to_string_lossy()
        .into_owned()
}

fn visit(root: &Path, v: &Visit, now: SystemTime, cache: &Cache) -> Found {
    let results = v.dir.join("results.json");
    let modified = || std::fs::metadata(&results).and_then(|m| m.modified()).ok();
    let rows = cache.rows.read().unwrap_or_else(|e| e.into_inner());
    if let Some((at, row)) = rows.get(&v.dir) {
        if modified() == Some(*at) {
            return Found::Run(row.clone());
        }
    }
    drop(rows);
    let rel = relative(root, &v.dir);
    if let Some(row) = read_run(&v.dir, rel.clone(), v.suite.clone(), now) {
        if let Some(at) = modified().filter(|_| row.status.is_checked()) {
            let mut rows = cache.rows.write().unwrap_or_else(|e| e.into_inner());
            rows.insert(v.dir.clone(), (at, row.clone()));
        }
        return Found::Run(row);
    }
    let name = v
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let manifest = Manifest::read(&v.dir).ok();
    let suite = (v.depth > 0 && (manifest.is_some() || name.starts_with("suite-"))).then(|| {
        let stamp = name.trim_start_matches("suite-").to_string();
        match &manifest {
            Some(m) => SuiteRow {
                path: rel.clone(),
                name: m.name.clone(),
                started: m.started.clone(),
                shard: m.shard.map(|s| s.to_string()),
                planned: m.plan.len(),
                finished: true,
            },
            None => SuiteRow {
                path: rel.clone(),
                name: name.clone(),
                started: stamp.chars().take(15).collect(),
                shard: None,
                planned: 0,
                finished: v.dir.join(MANIFEST_FILE).is_file(),
            },
        }
    });
    let inside = suite.as_ref().map(|s| s.path.clone()).or(v.suite.clone());
    let mut children = Vec::new();
    if v.depth < MAX_DEPTH {
        if let Ok(entries) = std::fs::read_dir(&v.dir) {
            for e in entries.flatten() {
                // file_type does not follow symbolic links: `latest` and
                // any link out of the store are skipped.
                if e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != "nodes" {
                    children.push(Visit {
                        dir: e.path(),
                        depth: v.depth + 1,
                        suite: inside.clone(),
                    });
                }
            }
        }
    }
    Found::Folder { suite, children }
}

/// The part of `test.json` the listing shows.
#[derive(Default, Deserialize)]
#[serde(default)]
struct TestHead {
    options: OptionsHead,
    seed: Option<u64>,
    nemesis: Option<Vec<String>>,
    system: Option<String>,
    system_binary: Option<BinaryHead>,
    started: Option<String>,
    faultline_commit: Option<String>,
    scenario: Value,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct OptionsHead {
    workload: Option<String>,
    scenario: Option<String>,
    seed: Option<u64>,
    nemesis: Vec<String>,
}

#[derive(Deserialize)]
struct BinaryHead {
    version: String,
}

/// The part of `results.json` the listing shows (both of its shapes).
#[derive(Deserialize)]
struct ResultsHead {
    verdict: Verdict,
    #[serde(default)]
    time_to_detect_s: Option<f64>,
}

/// The row of the run in `dir`, or None when `dir` holds no `test.json`.
fn read_run(dir: &Path, path: String, suite: Option<String>, now: SystemTime) -> Option<RunRow> {
    let test_text = match std::fs::read(dir.join("test.json")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(_) => Vec::new(),
    };
    // A test.json being written reads as empty fields, not as an error.
    let test: TestHead = serde_json::from_slice(&test_text).unwrap_or_default();
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let group = dir
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = test
        .started
        .clone()
        .unwrap_or_else(|| name.chars().take(15).collect());
    let results = std::fs::File::open(dir.join("results.json"))
        .ok()
        .map(|mut f| {
            let modified = f.metadata().and_then(|m| m.modified()).ok();
            let mut text = Vec::new();
            let head = std::io::Read::read_to_end(&mut f, &mut text)
                .ok()
                .and_then(|_| serde_json::from_slice::<ResultsHead>(&text).ok());
            (head, modified)
        });
    let (status, ttd, seconds) = match results {
        Some((Some(r), modified)) => {
            let status = Status::checked(r.verdict);
            let seconds = modified.and_then(|m| seconds_between(&started, m));
            (status, r.time_to_detect_s, seconds)
        }
        // results.json being written, or none yet.
        _ => (running_or_not(dir, now), None, None),
    };
    let faults = test
        .scenario
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(test.options.scenario)
        .unwrap_or_else(|| {
            let kinds = test.nemesis.unwrap_or(test.options.nemesis);
            if kinds.is_empty() && test_text.is_empty() {
                "?".to_string()
            } else {
                crate::record::nemesis_label(&kinds)
            }
        });
    Some(RunRow {
        path,
        suite,
        system: test.system.unwrap_or_else(|| "faultline-node".to_string()),
        workload: test.options.workload.unwrap_or(group),
        faults,
        seed: test.seed.or(test.options.seed),
        version: test.system_binary.map(|b| b.version),
        commit: test.faultline_commit,
        started,
        status,
        ttd,
        seconds,
    })
}

/// Running when `history.jsonl` (or `test.json`) changed within
/// [`RUNNING_QUIET_S`], else unfinished.
fn running_or_not(dir: &Path, now: SystemTime) -> Status {
    let recent = ["history.jsonl", "test.json"].iter().any(|f| {
        std::fs::metadata(dir.join(f))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age.as_secs() < RUNNING_QUIET_S)
    });
    if recent {
        Status::Running
    } else {
        Status::Unfinished
    }
}

/// Seconds from the stamp `started` (`YYYYMMDDTHHMMSS` UTC) to `end`;
/// None when the stamp does not parse or the span is not plausible (a
/// store copied, its files' times reset).
fn seconds_between(started: &str, end: SystemTime) -> Option<f64> {
    let start = crate::store::stamp_seconds(started)?;
    let end = end
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let span = end - start as f64;
    (0.0..86_400.0).contains(&span).then_some(span.round())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_suites_and_running_runs_are_listed_newest_first() {
        let store = tempfile::tempdir().unwrap();
        let run = |rel: &str, test: &str, results: Option<&str>| {
            let dir = store.path().join(rel);
            std::fs::create_dir_all(dir.join("nodes")).unwrap();
            std::fs::write(dir.join("test.json"), test).unwrap();
            if let Some(r) = results {
                std::fs::write(dir.join("results.json"), r).unwrap();
            }
        };
        run(
            "register-kill/20240101T000000-1",
            r#"{"options":{"workload":"register"},"seed":1,"nemesis":["kill"],"system":"etcd",
               "system_binary":{"path":"/x","version":"3.5.1","sha256":"","source":""},
               "started":"20240101T000000","faultline_commit":"abc1234"}"#,
            Some(r#"{"verdict":"invalid","checkers":[],"time_to_detect_s":2.5}"#),
        );
        run(
            "suite-20240102T000000/set-none/20240102T000001-2",
            r#"{"options":{"workload":"set"},"seed":2,"nemesis":[],"started":"20240102T000001"}"#,
            Some(r#"{"verdict":"valid","checkers":[]}"#),
        );
        run("set-pause/20240103T000000-3", "{\"options\":", None);
        std::os::unix::fs::symlink(
            store.path().join("set-pause/20240103T000000-3"),
            store.path().join("latest"),
        )
        .unwrap();
        let l = list(store.path()).unwrap();
        let paths: Vec<&str> = l.runs.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "set-pause/20240103T000000-3",
                "suite-20240102T000000/set-none/20240102T000001-2",
                "register-kill/20240101T000000-1"
            ]
        );
        assert_eq!(l.runs[0].status, Status::Running);
        assert_eq!(l.runs[0].workload, "set-pause");
        assert_eq!(l.runs[1].suite.as_deref(), Some("suite-20240102T000000"));
        assert_eq!(l.runs[1].faults, "none");
        assert_eq!(l.runs[1].system, "faultline-node");
        let r = &l.runs[2];
        assert_eq!(
            (r.status, r.ttd, r.version.as_deref(), r.commit.as_deref()),
            (Status::Invalid, Some(2.5), Some("3.5.1"), Some("abc1234"))
        );
        assert_eq!((r.system.as_str(), r.faults.as_str()), ("etcd", "kill"));
        assert_eq!(l.suites.len(), 1);
        assert!(!l.suites[0].finished);
        assert_eq!(l.suites[0].started, "20240102T000000");
    }
}
