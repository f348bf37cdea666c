//! `faultline suite`: the repository's smoke suite passes on the correct
//! node and leaves an aggregate junit.xml of the shape CI reads and an
//! index.html linking every run's report; a suite whose budget cannot fit
//! a run skips it (unknown, exit 2); a suite with an option `faultline run`
//! refuses fails before anything runs.

use crate::junit;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support;

/// `faultline suite ARGS` within `limit`; returns the exit code and its output.
fn suite(args: &[&Path], limit: Duration) -> (i32, String) {
    let node = Path::new(env!("CARGO_BIN_EXE_faultline")).with_file_name("faultline-node");
    assert!(
        node.is_file(),
        "{} is missing: build it with `cargo build --release -p faultline-node`",
        node.display()
    );
    let mut cmd = support::faultline();
    cmd.arg("suite").args(args).arg("--node-bin").arg(&node);
    let (code, out, err) = support::bounded(cmd, limit);
    (code, out + &err)
}

fn suite_dir(store: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(store)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("suite-")
        })
        .collect();
    assert_eq!(dirs.len(), 1, "one suite folder: {dirs:?}");
    dirs[0].clone()
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn the_smoke_suite_passes_with_junit_and_an_index() {
    let store = tempfile::tempdir().unwrap();
    let (code, out) = suite(
        &[
            &repo_file("suites/smoke.toml"),
            Path::new("--store"),
            store.path(),
        ],
        Duration::from_secs(180),
    );
    assert_eq!(code, 0, "{out}");
    let dir = suite_dir(store.path());
    let xml = std::fs::read_to_string(dir.join("junit.xml")).expect("the suite's junit.xml");
    let suites = junit::read(&xml);
    assert_eq!(suites.len(), 3, "one testsuite per run");
    for s in &suites {
        assert_eq!(
            s.cases.len(),
            1 + support::NODE_RUN_CHECKERS.len(),
            "one testcase per checker in {}",
            s.name
        );
        let names: Vec<&str> = s.cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[1..], support::NODE_RUN_CHECKERS, "{}", s.name);
        assert!(s.cases.iter().all(|c| c.outcome.is_none()), "{s:?}");
    }
    let index = std::fs::read_to_string(dir.join("index.html")).expect("index.html");
    let reports: Vec<&str> = index
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.ends_with("report.html"))
        .collect();
    assert_eq!(reports.len(), 3, "{index}");
    for r in reports {
        assert!(dir.join(r).is_file(), "{r} is linked but missing");
        // Each run's reproduce line is the `faultline run` the suite started.
        let test = dir.join(r).with_file_name("test.json");
        let test: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(test).unwrap()).unwrap();
        let line = test["command_line"].to_string();
        assert!(
            line.starts_with("[\"faultline\",\"run\",") && line.contains("\"--seed="),
            "{line}"
        );
    }
    assert!(!index.contains("http:") && !index.contains("https:"));
}

#[test]
fn runs_that_do_not_fit_the_budget_are_skipped_and_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tiny.toml");
    std::fs::write(
        &file,
        "budget = 1\n[options]\ntime_limit = 30\n[[matrix]]\nworkloads = [\"register\"]\nnemeses = [\"none\", \"kill\"]\nseeds = [1]\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let (code, out) = suite(
        &[&file, Path::new("--store"), &store],
        Duration::from_secs(30),
    );
    assert_eq!(code, 2, "{out}");
    let suites =
        junit::read(&std::fs::read_to_string(suite_dir(&store).join("junit.xml")).unwrap());
    assert_eq!(suites.len(), 2);
    for s in suites {
        assert_eq!(s.cases.len(), 1);
        assert_eq!(s.cases[0].outcome.as_deref(), Some("skipped"));
    }
}

#[test]
fn a_suite_with_a_bad_option_fails_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[options]\ntime_limitt = 3\n[[matrix]]\nworkloads = [\"register\"]\nnemeses = [\"none\"]\nseeds = [1]\n",
    )
    .unwrap();
    let store = dir.path().join("store");
    let (code, out) = suite(
        &[&file, Path::new("--store"), &store],
        Duration::from_secs(30),
    );
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("register none seed 1"), "{out}");
    assert!(!store.exists(), "nothing may run");
}

#[test]
fn shards_run_apart_merge_into_one_valid_junit_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("three.toml");
    std::fs::write(
        &file,
        "name = \"three\"\n[options]\ntime_limit = 2\nrecovery_time = 0\nnodes = 3\n\
         [[matrix]]\nworkloads = [\"register\", \"set\", \"list-append\"]\nnemeses = [\"none\"]\nseeds = [1]\n",
    )
    .unwrap();
    let mut slices = Vec::new();
    for i in 1..=2 {
        let store = dir.path().join(format!("slice-{i}"));
        let shard = format!("{i}/2");
        let (code, out) = suite(
            &[
                &file,
                Path::new("--shard"),
                Path::new(&shard),
                Path::new("--store"),
                &store,
            ],
            Duration::from_secs(90),
        );
        assert_eq!(code, 0, "{out}");
        assert!(out.contains(&format!("shard {i}/2")), "{out}");
        slices.push(suite_dir(&store));
    }
    let one = junit::read(&std::fs::read_to_string(slices[0].join("junit.xml")).unwrap());
    let two = junit::read(&std::fs::read_to_string(slices[1].join("junit.xml")).unwrap());
    assert_eq!((one.len(), two.len()), (2, 1), "runs dealt 2 + 1");

    let merged = dir.path().join("merged");
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["suite", "merge"])
        .args(&slices)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let suites = junit::read(&std::fs::read_to_string(merged.join("junit.xml")).unwrap());
    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for (name, workload) in names.iter().zip(["register", "set", "list-append"]) {
        assert!(name.starts_with(&format!("{workload}-none")), "{names:?}");
    }
    assert!(suites
        .iter()
        .all(|s| s.cases.len() == 1 + support::NODE_RUN_CHECKERS.len()
            && s.cases.iter().all(|c| c.outcome.is_none())));
    let index = std::fs::read_to_string(merged.join("index.html")).unwrap();
    let reports: Vec<&str> = index
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|h| h.ends_with("report.html"))
        .collect();
    assert_eq!(reports.len(), 3, "{index}");
    for r in reports {
        assert!(merged.join(r).is_file(), "{r} is linked but missing");
    }

    // One shard alone: the other's run is skipped, not silently absent.
    let partial = dir.path().join("partial");
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["suite", "merge"])
        .arg(&slices[0])
        .arg("--out")
        .arg(&partial)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("shard 2/2 is missing"), "{text}");
    let suites = junit::read(&std::fs::read_to_string(partial.join("junit.xml")).unwrap());
    assert_eq!(suites.len(), 3);
    assert_eq!(suites[1].cases[0].outcome.as_deref(), Some("skipped"));

    // The same shard twice is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["suite", "merge"])
        .args([&slices[0], &slices[0]])
        .arg("--out")
        .arg(dir.path().join("twice"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("given twice"));
}
