//! Disk faults against the real faultline-node: a node acknowledging
//! before fsync is caught by a power loss, the correct node survives power
//! losses and repairs a damaged WAL from its peers (naming file and offset),
//! and the power-loss path works for an unprivileged user (run as `nobody`
//! through `setpriv` when the tests run as root).

use crate::support;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

/// Runs `faultline run ARGS` (bounded) with the node built here; its exit
/// code, output and run folder.
fn run(args: &[&str]) -> (i32, String, support::RunDir) {
    let node = support::faultline_node();
    let node = node.to_str().expect("a UTF-8 path");
    support::run_bounded(&[&["--node-bin", node][..], args].concat())
}

#[test]
fn a_node_acknowledging_before_fsync_is_caught_by_a_power_loss() {
    let (code, out, dir) = run(&[
        "power-loss-all",
        "--seed",
        "1",
        "--time-limit",
        "6",
        "--recovery-time",
        "2",
        "--node-arg=--bug=no-fsync",
    ]);
    assert_eq!(code, 1, "no-fsync was not caught:\n{out}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains(r#""f":"power-loss""#),
        "no power loss:\n{out}"
    );
    assert!(out.contains("lost"), "{out}");
}

#[test]
fn the_correct_node_survives_power_loss_and_repairs_a_damaged_wal_from_its_peers() {
    let (code, out, _) = run(&[
        "power-loss-all",
        "--seed",
        "2",
        "--time-limit",
        "6",
        "--recovery-time",
        "2",
    ]);
    assert_eq!(
        code, 0,
        "the correct node lost data at a power loss:\n{out}"
    );

    let (code, out, dir) = run(&[
        "corrupt-minority",
        "--seed",
        "1",
        "--time-limit",
        "12",
        "--recovery-time",
        "2",
    ]);
    assert_eq!(
        code, 0,
        "corruption of a minority made the correct node fail:\n{out}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let corrupt: Vec<&str> = history
        .lines()
        .filter(|l| l.contains(r#""f":"corrupt""#))
        .collect();
    assert!(!corrupt.is_empty(), "nothing corrupted:\n{out}");
    assert!(
        corrupt.iter().all(|l| l.contains(r#""flips":[{"#)),
        "{corrupt:#?}"
    );
    // Flips land in the written records: a damaged node sets the damaged
    // segment aside, restarts as a learner (protocol-aware recovery) naming
    // the file and offset, and gets what it had acknowledged back from the
    // leader; none refuses to start.
    assert!(
        !history.contains(r#""f":"corrupt-exit""#),
        "a damaged node refused to start:\n{out}"
    );
    let logs: String = std::fs::read_dir(dir.join("nodes"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(
        logs.contains("damaged WAL record at offset") || logs.contains("were cut off"),
        "no damaged node named what it set aside:\n{out}"
    );
    assert!(
        logs.contains("recovered from the leader"),
        "no damaged node was repaired:\n{out}"
    );
}

/// The user the unprivileged run takes when the tests run as root.
const NOBODY: u32 = 65534;

/// The disk layer and its power losses work for a user without privileges
/// (the FUSE mount in the run's own user and mount namespaces).
#[test]
#[ignore = "nightly: the unprivileged mount path; power loss itself stays in the gate (a_node_acknowledging_before_fsync_is_caught_by_a_power_loss)"]
fn power_loss_works_without_root() {
    // SAFETY: a plain syscall.
    let root = unsafe { libc::geteuid() } == 0;
    let store = tempfile::tempdir().unwrap();
    let cmd = if root {
        std::os::unix::fs::chown(store.path(), Some(NOBODY), Some(NOBODY)).unwrap();
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_faultline"),
        ]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_faultline"))
    };
    let node = support::faultline_node();
    let (code, text, dir) = support::run_bounded_as(
        cmd,
        store.path(),
        &[
            "power-loss-all",
            "--seed",
            "3",
            "--nodes",
            "3",
            "--time-limit",
            "5",
            "--recovery-time",
            "2",
            "--node-bin",
            node.to_str().expect("a UTF-8 path"),
            // A node that never fsyncs always has un-synced data to lose, so
            // the layer's work shows whatever the machine's load (a correct
            // node may have synced everything by the time the power goes).
            "--node-arg=--bug=no-fsync",
        ],
    );
    assert_eq!(code, 1, "the lost writes must be caught:\n{text}");
    if root {
        assert_eq!(std::fs::metadata(&dir).unwrap().uid(), NOBODY, "{text}");
    }
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let losses: Vec<&str> = history
        .lines()
        .filter(|l| l.contains(r#""f":"power-loss""#))
        .collect();
    assert!(!losses.is_empty(), "no power loss:\n{text}");
    assert!(
        losses[0].contains(r#""files":[{"#),
        "a node that never fsyncs lost nothing? {}",
        losses[0]
    );
}
