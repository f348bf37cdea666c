//! `faultline explore` and `faultline shrink` end to end on faultline-node:
//! the search's folder and records, its runs as normal run folders with
//! status samples and the states section, the refusal of a scenario; in
//! the nightly tier, a failing run shrunk to a scenario file that `faultline
//! run FILE` replays.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::support::faultline;
use crate::teardown::wait_bounded;

/// Runs `faultline ARGS` to its end (bounded); exit code and output.
fn bounded(args: &[&str], limit: Duration) -> (i32, String) {
    let mut child = faultline()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting faultline");
    let status = wait_bounded(&mut child, limit);
    let out = child.wait_with_output().expect("reading the output");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The one `explore-*` folder under `store`.
fn explore_dir(store: &Path) -> PathBuf {
    std::fs::read_dir(store)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("explore-"))
        })
        .expect("an explore folder")
}

/// Two runs at once (`--jobs 2`): each line of `explore.jsonl` names the
/// folder of its own run, though both share one store.
#[test]
fn a_search_on_the_correct_node_records_each_run_with_its_states() {
    crate::support::faultline_node();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let (code, out) = bounded(
        &[
            "explore",
            "--store",
            s,
            "--seed",
            "5",
            "--max-runs",
            "2",
            "--nodes",
            "3",
            "--time-limit",
            "3",
            "--nemesis",
            "kill,partition",
            "--budget",
            "5m",
            "--jobs",
            "2",
        ],
        Duration::from_secs(240),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing found in 2 runs"), "{out}");
    assert!(out.contains("2 at once"), "{out}");
    let dir = explore_dir(store.path());
    let log = std::fs::read_to_string(dir.join("explore.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let first_new = lines[0]["new_features"].as_array().unwrap();
    assert!(
        first_new
            .iter()
            .any(|f| f.as_str().unwrap().starts_with("state: 1 leader")),
        "the first run's features name the states it saw: {first_new:?}"
    );
    // The search's seed plans come first: the leader cut off, then killed.
    for (line, fault) in lines.iter().zip(["isolate leader", "kill leader"]) {
        let plan = line["plan"].as_array().unwrap();
        assert!(plan.iter().any(|s| s == fault), "{fault}: {line}");
    }
    for line in &lines {
        assert_eq!(line["verdict"], "valid", "{line}");
        let plan = line["plan"].as_array().unwrap();
        // A wait for the leader, the mode (an arm at most), at most 6
        // actions of a step and a gap, and the round's tail (hold,
        // restart, hold, disarm, heal, calm).
        assert!(
            !plan.is_empty() && plan.len() <= 1 + 1 + 2 * 6 + 6,
            "{line}"
        );
        let folder = PathBuf::from(line["folder"].as_str().unwrap());
        assert!(
            !folder.join(faultline_platform::node::DATA_DIR).exists()
                && folder.join("nodes").exists(),
            "a valid run keeps its node logs, not its nodes' data: {}",
            folder.display()
        );
        let samples = std::fs::read_to_string(folder.join("states.jsonl")).unwrap();
        assert!(
            samples.lines().count() >= 8,
            "3 s sampled every 250 ms: {samples}"
        );
        let test: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("test.json")).unwrap()).unwrap();
        assert!(
            test["scenario"]["steps"].is_array(),
            "a run plays a scenario: {test}"
        );
        assert_eq!(
            test["scenario"]["name"],
            format!("explore-{:03}", line["run"].as_u64().unwrap()),
            "the line's folder is its own run's, not the other one's"
        );
        assert_eq!(test["seed"], line["seed"], "{test}");
        let mark = std::fs::read_to_string(folder.join("explore.json")).unwrap();
        assert!(mark.contains("\"search_seed\": 5"), "{mark}");
        let page = std::fs::read_to_string(folder.join("report.html")).unwrap();
        assert!(
            page.contains("<section id=\"states\">") && page.contains("exploration"),
            "the report shows the states and the search's marks"
        );
    }
    let outcome: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("explore.json")).unwrap()).unwrap();
    assert_eq!(outcome["runs"], 2);
    assert!(outcome["found"].is_null(), "{outcome}");
}

#[test]
fn explore_refuses_a_scenario_and_shrink_a_folder_without_a_run() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let (code, out) = bounded(
        &["explore", "leader-isolation", "--store", s],
        Duration::from_secs(60),
    );
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("writes its own scenarios"), "{out}");
    let (code, out) = bounded(&["shrink", s], Duration::from_secs(60));
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("test.json"), "{out}");
}

#[test]
#[ignore = "nightly: shrinking makes dozens of runs"]
fn a_failing_run_shrinks_to_a_scenario_that_replays() {
    crate::support::faultline_node();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    let (code, out) = bounded(
        &[
            "run",
            "leader-isolation",
            "--store",
            s,
            "--seed",
            "1",
            "--nodes",
            "3",
            "--time-limit",
            "8",
            "--node-arg=--bug=stale-read",
        ],
        Duration::from_secs(180),
    );
    assert_eq!(code, 1, "stale-read is caught by leader-isolation: {out}");
    let run = std::fs::canonicalize(store.path().join("latest")).unwrap();
    let (code, out) = bounded(
        &[
            "shrink",
            run.to_str().unwrap(),
            "--reps",
            "3",
            "--need",
            "2",
            "--budget",
            "6m",
        ],
        Duration::from_secs(900),
    );
    assert_eq!(code, 0, "{out}");
    let file = run.join("shrink/shrunk.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let steps = text.matches("[[scenario.steps]]").count();
    assert!((1..6).contains(&steps), "{text}");
    assert!(out.contains("replay: faultline run"), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("shrink/shrink.json")).unwrap()).unwrap();
    assert!(report["time_limit"][1].as_f64().unwrap() <= 8.0, "{report}");
    let mut dropped = 0;
    for candidate in std::fs::read_dir(run.join("shrink/runs")).unwrap() {
        let candidate = candidate.unwrap().path();
        if candidate.is_symlink() || !candidate.is_dir() {
            continue;
        }
        for folder in std::fs::read_dir(&candidate).unwrap() {
            let folder = folder.unwrap().path();
            let Ok(results) = std::fs::read(folder.join("results.json")) else {
                continue;
            };
            let results: serde_json::Value = serde_json::from_slice(&results).unwrap();
            let valid = results["verdict"] == "valid";
            assert_eq!(
                folder.join(faultline_platform::node::DATA_DIR).exists(),
                !valid,
                "a candidate's run drops its nodes' data only when it checked valid: {}",
                folder.display()
            );
            assert!(folder.join("nodes").exists(), "{}", folder.display());
            dropped += usize::from(valid);
        }
    }
    eprintln!("{dropped} valid candidate runs dropped their nodes' data");
    let caught = ["1", "2", "3"].iter().any(|seed| {
        let replay = tempfile::tempdir().unwrap();
        let (code, out) = bounded(
            &[
                "run",
                file.to_str().unwrap(),
                "--store",
                replay.path().to_str().unwrap(),
                "--node-arg=--bug=stale-read",
                "--seed",
                seed,
            ],
            Duration::from_secs(180),
        );
        assert!(code == 0 || code == 1, "the file replays: {out}");
        code == 1
    });
    assert!(caught, "the shrunk scenario fails again in one of 3 seeds");
}

#[test]
#[ignore = "nightly: shrinking makes a dozen runs"]
fn a_run_that_does_not_fail_again_still_shrinks_when_a_smaller_plan_does() {
    crate::support::faultline_node();
    let store = tempfile::tempdir().unwrap();
    let s = store.path().to_str().unwrap();
    // Every node paused for the whole run hides the stale read the rest of
    // the plan makes: the run (like an unlucky repetition) passes.
    let file = store.path().join("hidden.toml");
    std::fs::write(
        &file,
        r#"[[scenario]]
name = "hidden"
description = "leader isolation behind a pause of every node"
workload = "register"
nodes = 3
time_limit = 8
steps = [
  { do = "pause", target = "all" },
  { do = "sleep", seconds = 8 },
  { do = "resume" },
  { do = "wait", until = "leader", timeout = 10 },
  { do = "sleep", seconds = 1 },
  { do = "isolate", target = "leader" },
  { do = "wait", until = "new-leader", timeout = 5 },
  { do = "sleep", seconds = 2 },
  { do = "heal" },
]
"#,
    )
    .unwrap();
    let (code, out) = bounded(
        &[
            "run",
            file.to_str().unwrap(),
            "--store",
            s,
            "--seed",
            "1",
            "--node-arg=--bug=lease-without-checkquorum",
        ],
        Duration::from_secs(180),
    );
    assert_eq!(code, 0, "nothing runs while every node is paused: {out}");
    let run = std::fs::canonicalize(store.path().join("latest")).unwrap();
    let (code, out) = bounded(
        &[
            "shrink",
            run.to_str().unwrap(),
            "--reps",
            "2",
            "--need",
            "1",
            "--budget",
            "6m",
        ],
        Duration::from_secs(900),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("looking for a smaller scenario"), "{out}");
    let file = run.join("shrink/shrunk.toml");
    let shrunk = faultline::scenario::resolve(file.to_str().unwrap(), None).unwrap();
    let faults: Vec<String> = shrunk
        .steps
        .iter()
        .filter_map(|st| match st {
            faultline::scenario::Step::Fault(f) => Some(serde_json::to_string(f).unwrap()),
            _ => None,
        })
        .collect();
    assert!(
        faults.len() <= 1 && !faults.iter().any(|f| f.contains("pause")),
        "the pause that hid the bug is gone: {faults:?}"
    );
}

#[test]
fn the_shrunk_fixtures_of_the_nightly_tier_are_small_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/shrunk");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let s = faultline::scenario::resolve(path.to_str().unwrap(), None)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let faults = s
            .steps
            .iter()
            .filter(|st| matches!(st, faultline::scenario::Step::Fault(_)))
            .count();
        assert!(faults <= 5, "{}: {faults} fault steps", path.display());
        assert!(
            s.time_limit <= 10.0 / 3.0 + 0.01,
            "{}: {} s",
            path.display(),
            s.time_limit
        );
        seen += 1;
    }
    assert!(seen > 0, "no fixture in {}", dir.display());
}
