//! `faultline run --check online` and `--stop-on-anomaly`: the run is
//! judged while it goes; a stale read stops the workload long before its
//! time limit, and the run still heals, checks the whole history and writes
//! its report. Clusters run in the run's private namespace (127.0.0.0/8),
//! bounded by the support module's limit.

use crate::support;

use support::{faultline_node, run_bounded, run_refused};

#[test]
fn a_stale_read_stops_the_run_at_its_first_anomaly_with_the_report_written() {
    let node = faultline_node();
    // A time limit the test's own bound (120 s) could never wait for: the
    // run ends only because it stops at the anomaly.
    let (code, out, dir) = run_bounded(&[
        "--node-bin",
        node.to_str().unwrap(),
        "--nemesis",
        "partition",
        "--seed",
        "1",
        "--time-limit",
        "600",
        "--node-arg=--bug=stale-read",
        "--stop-on-anomaly",
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("stopping the workload"), "{out}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let online = &results["online"];
    let (anomaly, found, stopped) = (
        online["anomaly_s"].as_f64().unwrap(),
        online["detected_s"].as_f64().unwrap(),
        online["stopped_s"].as_f64().unwrap(),
    );
    assert!(anomaly <= found && found <= stopped, "{online}");
    assert_eq!(results["verdict"], "invalid");
    assert!(dir.join("report.html").is_file());
}

#[test]
fn a_correct_cluster_checked_online_passes_and_says_so() {
    let node = faultline_node();
    let (code, out, _) = run_bounded(&[
        "--node-bin",
        node.to_str().unwrap(),
        "--nemesis",
        "partition",
        "--seed",
        "2",
        "--time-limit",
        "4",
        "--check",
        "online",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("online check: no anomaly"), "{out}");
}

#[test]
fn set_workloads_cannot_be_judged_online_and_are_refused_before_starting() {
    let (code, err) = run_refused(&["--workload", "set", "--check", "online"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("final reads"), "{err}");
}
