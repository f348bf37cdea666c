//! `faultline run --system`: etcd (a real system nobody here wrote) under
//! faults is valid, etcd's serializable reads are caught, etcd's watchers
//! see every revision of a healthy cluster, NATS JetStream
//! runs each workload on a healthy cluster, and faultline-node started
//! through the generic `http` system passes.
//!
//! The NATS tests need nats-server (scripts/setup.sh installs Debian's
//! nats-server): without it they fail.
//!
//! The etcd tests run when an `etcd` binary is on PATH (scripts/setup.sh
//! installs Debian's etcd-server); without it they say so and pass, except
//! under CI (`CI` set), where a missing etcd fails them.

use crate::support;

use std::path::Path;

use support::faultline_node;

/// Whether etcd can be tested here; fails under CI when it cannot.
pub(crate) fn etcd_present() -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("etcd").is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "etcd is not on PATH under CI: scripts/setup.sh should have installed etcd-server"
        );
        eprintln!("skipped: no etcd on PATH (run scripts/setup.sh)");
    }
    found
}

/// Runs `faultline run ARGS` (bounded); exit code, output, run folder.
fn run(args: &[&str]) -> (i32, String, support::RunDir) {
    support::run_bounded(args)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const SHORT: [&str; 6] = [
    "--time-limit",
    "6",
    "--nemesis-interval",
    "2",
    "--recovery-time",
    "2",
];

/// A short etcd run of `workload` under kills, pauses and partitions.
fn etcd_under_faults(workload: &str, seed: &str) -> (i32, String, support::RunDir) {
    let mut args = vec![
        "--system",
        "etcd",
        "--workload",
        workload,
        "--nemesis",
        "kill,pause,partition",
        "--seed",
        seed,
    ];
    args.extend(SHORT);
    run(&args)
}

#[test]
fn etcd_under_kills_pauses_and_partitions_is_linearizable() {
    if !etcd_present() {
        return;
    }
    let (code, out, dir) = etcd_under_faults("register", "1");
    assert_eq!(code, 0, "a false alarm against etcd:\n{out}");
    let results = json(&dir.join("results.json"));
    assert_eq!(results["system"], "etcd");
    let test = json(&dir.join("test.json"));
    let line = test["node_command_lines"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        line.contains("--initial-cluster n1=http://127.0.0.11:7001"),
        "{line}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"f\":\"start-partition\""),
        "no partition ran"
    );
    assert!(
        history.contains("\"type\":\"ok\",\"f\":\"cas\""),
        "no cas succeeded"
    );
}

#[test]
fn etcd_transactions_under_faults_are_strict_serializable() {
    if !etcd_present() {
        return;
    }
    let (code, out, dir) = etcd_under_faults("txn-list-append", "2");
    assert_eq!(code, 0, "a false alarm against etcd transactions:\n{out}");
    let results = json(&dir.join("results.json"));
    let txn = results["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "txn")
        .unwrap_or_else(|| panic!("no txn result: {results}"));
    assert_eq!(txn["detail"]["valid"], "valid", "{txn}");
    assert!(txn["detail"]["stats"]["ok"].as_u64().unwrap() > 10, "{txn}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("[\"r\",") && history.contains("\"type\":\"ok\",\"f\":\"txn\""),
        "no transaction read anything"
    );
}

#[test]
#[ignore = "nightly: a second etcd workload; etcd stays in the gate with register under kill, pause and partition"]
fn etcd_appends_keep_every_acknowledged_element_under_partitions() {
    if !etcd_present() {
        return;
    }
    let mut args = vec![
        "--system",
        "etcd",
        "--workload",
        "set",
        "--nemesis",
        "partition,pause",
        "--seed",
        "2",
    ];
    args.extend(SHORT);
    let (code, out, _) = run(&args);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("set checker: valid"), "{out}");
}

#[test]
#[ignore = "nightly: a detection run; etcd stays in the gate with register under kill, pause and partition"]
fn etcd_serializable_reads_are_caught_as_stale() {
    if !etcd_present() {
        return;
    }
    let mut args = vec![
        "--system",
        "etcd",
        "--etcd-serializable-reads",
        "--workload",
        "register",
        "--nemesis",
        "partition",
        "--seed",
        "1",
    ];
    args.extend(SHORT);
    let (code, out, _) = run(&args);
    assert_eq!(code, 1, "stale serializable reads were not caught:\n{out}");
    assert!(out.contains("not linearizable"), "{out}");
}

#[test]
fn etcd_watchers_see_every_revision_of_a_healthy_cluster() {
    if !etcd_present() {
        return;
    }
    let (code, out, dir) = run(&[
        "--system",
        "etcd",
        "--workload",
        "watch",
        "--nemesis",
        "none",
        "--time-limit",
        "8",
        "--recovery-time",
        "1",
        "--seed",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("watch checker: valid"), "{out}");
    let results = json(&dir.join("results.json"));
    let watch = results["checkers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "watch")
        .unwrap_or_else(|| panic!("no watch result: {results}"));
    let detail = &watch["detail"];
    assert!(detail["watchers"].as_u64().unwrap() >= 2, "{watch}");
    assert!(detail["events"].as_u64().unwrap() > 100, "{watch}");
    assert!(
        detail["writes_with_revision"].as_u64().unwrap() > 50,
        "etcd's put revisions were not recorded: {watch}"
    );
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains(
            "\"type\":\"ok\",\"f\":\"watch\",\"key\":\"watch/\",\"value\":{\"events\":[["
        ),
        "no watch recorded an event"
    );
}

/// Runs `faultline run --system nats --workload WORKLOAD` on a healthy
/// cluster, briefly; exit code, output, run folder.
fn nats_healthy(workload: &str) -> (i32, String, support::RunDir) {
    run(&[
        "--system",
        "nats",
        "--workload",
        workload,
        "--nemesis",
        "none",
        "--time-limit",
        "5",
        "--recovery-time",
        "1",
        "--seed",
        "1",
    ])
}

#[test]
fn nats_keeps_every_acknowledged_publish_of_a_healthy_cluster() {
    let (code, out, dir) = nats_healthy("set");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("set checker: valid"), "{out}");
    let test = json(&dir.join("test.json"));
    assert_eq!(test["system"], "nats");
    let conf = std::fs::read_to_string(dir.join("nodes").join("n2.conf")).unwrap();
    assert!(conf.contains("server_name: \"n2\""), "{conf}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"type\":\"ok\",\"f\":\"add\""),
        "no add acknowledged"
    );
    assert!(
        history.contains("\"type\":\"ok\",\"f\":\"read\""),
        "no set read"
    );
}

#[test]
fn nats_registers_read_write_and_cas_on_a_healthy_cluster() {
    let (code, out, dir) = nats_healthy("register");
    // What NATS does is the result (docs/findings.md): the run must
    // complete and check, with every kind of operation answered.
    assert!(code == 0 || code == 1, "{out}");
    assert!(out.contains("register checker:"), "{out}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    for f in ["read", "write", "cas"] {
        assert!(
            history.contains(&format!("\"type\":\"ok\",\"f\":\"{f}\"")),
            "no {f} succeeded:\n{out}"
        );
    }
    assert!(
        history.contains("\"type\":\"fail\",\"f\":\"cas\""),
        "no cas failed: a mismatch must be a definite failure"
    );
}

#[test]
#[ignore = "nightly: a third NATS workload over the key-value path the register test covers"]
fn nats_list_appends_run_on_a_healthy_cluster() {
    let (code, out, dir) = nats_healthy("list-append");
    // Concurrent conditional updates of nats-server 2.9.10 can both succeed
    // (docs/findings.md): valid or not, the run must check.
    assert!(code == 0 || code == 1, "{out}");
    assert!(out.contains("list-append checker:"), "{out}");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"type\":\"ok\",\"f\":\"append\""),
        "no append succeeded:\n{out}"
    );
}

#[test]
fn nats_refuses_more_nodes_than_replicas_and_sync_settings_it_lacks() {
    let (code, out, _) = run(&[
        "--system",
        "nats",
        "--workload",
        "set",
        "--nodes",
        "6",
        "--time-limit",
        "1",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("at most 5 replicas"), "{out}");
    let (code, err) = support::run_refused(&["--system", "nats", "--nats-sync-interval", "soon"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("expected `always` or a duration"), "{err}");
    let bin = faultline::system::nats::find_bin(None).expect("nats-server (scripts/setup.sh)");
    let version = faultline::system::nats::version_of(&bin).unwrap();
    if version < faultline::system::nats::Version(2, 10, 0) {
        let (code, err) =
            support::run_refused(&["--system", "nats", "--nats-sync-interval", "always"]);
        assert_eq!(code, Some(64), "{err}");
        assert!(
            err.contains(&format!("nats-server {version} has no sync_interval")),
            "{err}"
        );
    }
    let (code, err) = support::run_refused(&["--nats-read", "leader"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("--nats-read is for --system nats"), "{err}");
}

#[test]
fn local_reads_are_caught_as_stale_under_partitions() {
    // Reads served by the local replica: a follower cut off from the
    // leader answers from the state it had. A seed fixes the schedule, not
    // which client lands on the cut-off node when, so up to three seeds.
    let mut outs = Vec::new();
    for seed in ["1", "2", "3"] {
        let node_bin = faultline_node().display().to_string();
        let mut args = vec![
            "--system",
            "local-reads",
            "--node-bin",
            &node_bin,
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--seed",
            seed,
        ];
        args.extend(SHORT);
        let (code, out, dir) = run(&args);
        if code == 1 {
            assert!(out.contains("not linearizable"), "{out}");
            assert_eq!(json(&dir.join("test.json"))["system"], "local-reads");
            return;
        }
        outs.push(format!("seed {seed}: exit {code}\n{out}"));
    }
    panic!("local reads were never caught:\n{}", outs.join("\n"));
}

#[test]
fn faultline_node_through_the_http_system_passes() {
    let template = format!(
        "'{}' --id {{id}} --peer-addr {{peer_addr}} --http-addr {{http_addr}} --peers {{peers}} --data-dir {{data_dir}}",
        faultline_node().display()
    );
    let mut args = vec![
        "--system",
        "http",
        "--node-cmd",
        &template,
        "--workload",
        "register",
        "--nemesis",
        "kill,partition",
        "--seed",
        "4",
    ];
    args.extend(SHORT);
    let (code, out, dir) = run(&args);
    assert_eq!(code, 0, "{out}");
    let test = json(&dir.join("test.json"));
    assert_eq!(test["system"], "http");
    assert_eq!(test["node_command_lines"][1][2], "n2", "{test}");
}

#[test]
fn options_of_another_system_and_unknown_systems_are_refused() {
    let run = support::run_refused;
    let (code, err) = run(&["--system", "zookeeper"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("faultline-node, etcd, http"), "{err}");
    let (code, err) = run(&["--etcd-serializable-reads"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(
        err.contains("--etcd-serializable-reads is for --system etcd"),
        "{err}"
    );
    let (code, err) = run(&["--system", "http"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("needs --node-cmd"), "{err}");
}
