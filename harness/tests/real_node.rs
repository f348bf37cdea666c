//! `faultline run` against the real faultline-node: every workload under
//! every fault is valid, and a node with a known bug is caught.
//!
//! The node binary is found next to `faultline` (both are built by
//! `cargo test --workspace`, the README's test command).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn node_bin() -> PathBuf {
    let faultline = Path::new(env!("CARGO_BIN_EXE_faultline"));
    let node = faultline.with_file_name("faultline-node");
    assert!(
        node.is_file(),
        "{} is missing: run the workspace's tests (`cargo test --workspace --release`) \
         or build it with `cargo build --release -p faultline-node`",
        node.display()
    );
    node
}

/// Runs `faultline run ARGS` (bounded) and returns its exit code, stdout and the run folder.
fn run(args: &[&str]) -> (i32, String, PathBuf) {
    let store = tempfile::tempdir().unwrap().keep();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("run")
        .arg("--node-bin")
        .arg(node_bin())
        .arg("--store")
        .arg(&store)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting faultline");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("faultline run {args:?} did not end within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let dir = std::fs::canonicalize(store.join("latest")).expect("a run folder");
    (status.code().unwrap_or(-1), text, dir)
}

fn short(
    workload: &'static str,
    nemesis: &'static str,
    seed: &'static str,
    secs: &'static str,
) -> Vec<&'static str> {
    vec![
        "--workload",
        workload,
        "--nemesis",
        nemesis,
        "--seed",
        seed,
        "--time-limit",
        secs,
        "--nemesis-interval",
        "2",
        "--recovery-time",
        "2",
    ]
}

fn assert_valid(workload: &'static str) {
    let (code, out, dir) = run(&short(workload, "all", "5", "8"));
    assert_eq!(
        code, 0,
        "{workload} on the correct node is not valid:\n{out}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let oks = history.matches(r#""type":"ok""#).count();
    assert!(oks > 100, "only {oks} ok operations:\n{out}");
    assert!(
        history.contains(r#""process":"nemesis""#),
        "no faults injected"
    );
}

#[test]
fn register_under_every_fault_is_valid() {
    assert_valid("register");
}

#[test]
fn set_under_every_fault_is_valid() {
    assert_valid("set");
}

#[test]
fn list_append_under_every_fault_is_valid() {
    assert_valid("list-append");
}

#[test]
fn a_node_serving_stale_reads_is_caught_under_partitions() {
    let mut args = short("register", "partition", "1", "12");
    args.push("--node-arg=--bug=stale-read");
    let (code, out, dir) = run(&args);
    assert_eq!(code, 1, "stale reads were not caught:\n{out}");
    let results = std::fs::read_to_string(dir.join("results.json")).unwrap();
    assert!(results.contains("invalid"), "{results}");
}
