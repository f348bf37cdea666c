//! `stutter` against the real faultline-node: the node it targets really
//! freezes and thaws again and again (its process state, watched in /proc
//! while the run goes), no other node is touched, the correct node stays
//! linearizable, and the history and the report show the stutter.

use crate::support;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"
[[scenario]]
name = "stutter-leader"
description = "the leader freezes 300 ms of every 600 ms for 4 s"
nodes = 3
time_limit = 6
rate = 100
steps = [
  { do = "stutter", target = "leader", frozen_ms = 300, period_ms = 600 },
  { do = "sleep", seconds = 4 },
  { do = "heal" },
]
"#;

/// Each live node process of the run in `store` (its `--id`), with its
/// process state letter (`T`: stopped).
fn node_states(store: &Path) -> Vec<(String, char)> {
    let needle = store.to_string_lossy().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = String::from_utf8_lossy(&cmdline)
            .split('\0')
            .map(str::to_string)
            .collect();
        if !args.iter().any(|a| a.contains(&needle)) {
            continue;
        }
        let Some(id) = args.iter().position(|a| a == "--id").map(|p| &args[p + 1]) else {
            continue;
        };
        let state = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit_once(')')?.1.trim_start().chars().next());
        if let Some(state) = state {
            found.push((id.clone(), state));
        }
    }
    found
}

#[test]
fn a_stuttering_node_freezes_and_thaws_again_and_again_and_stays_correct() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = dir.path().join("stutter.toml");
    std::fs::write(&scenarios, SCENARIO).unwrap();
    let store = dir.path().join("store");
    let node = support::faultline_node();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args([
            "run",
            "stutter-leader",
            "--seed",
            "1",
            "--recovery-time",
            "1",
        ])
        .arg("--scenarios")
        .arg(&scenarios)
        .arg("--store")
        .arg(&store)
        .arg("--node-bin")
        .arg(&node)
        .stdout(File::create(dir.path().join("out")).unwrap())
        .stderr(File::create(dir.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    // Every node's states as they changed: "STST..." for one that stutters.
    let mut changes: BTreeMap<String, String> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("faultline run did not end within 120 s");
        }
        for (id, state) in node_states(&store) {
            let state = if state == 'T' { 'T' } else { 'S' };
            let seen = changes.entry(id).or_default();
            if !seen.ends_with(state) {
                seen.push(state);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = std::fs::read_to_string(dir.path().join("out")).unwrap()
        + &std::fs::read_to_string(dir.path().join("err")).unwrap();
    assert_eq!(status.code(), Some(0), "{out}");
    let run = std::fs::canonicalize(store.join("latest")).unwrap();
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    let start = history
        .lines()
        .find(|l| l.contains(r#""f":"start-stutter""#))
        .unwrap_or_else(|| panic!("no stutter:\n{history}"));
    assert!(start.contains(r#""frozen_ms":300"#), "{start}");
    assert!(
        history.contains(r#""f":"stop-stutter""#),
        "the stutter never ended"
    );
    let frozen: Vec<&String> = changes
        .iter()
        .filter(|(_, seen)| seen.contains('T'))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(frozen.len(), 1, "{changes:?}");
    let (id, seen) = (frozen[0], &changes[frozen[0]]);
    assert!(
        start.contains(&format!(r#""nodes":["{id}"]"#)),
        "{id} froze, not the node stuttering: {start}"
    );
    // About 7 freezes in 4 s; a loaded machine may hide some from the poll.
    let freezes = seen.matches("TS").count();
    assert!(freezes >= 3, "{id} thawed after {freezes} freezes: {seen}");
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        report.contains(&format!("stutter {id}: frozen 300 of every 600 ms")),
        "no stutter band in the report"
    );
}
