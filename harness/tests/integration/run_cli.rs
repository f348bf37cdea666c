//! The `run` and `list` command lines: listings, argument errors (exit 64,
//! apart from every verdict's code) and harness failures (exit 3).

use std::process::Command;

fn faultline(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .output()
        .expect("running faultline");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_shows_workloads_nemeses_and_models() {
    let (code, out, _) = faultline(&["list"]);
    assert_eq!(code, Some(0));
    for name in [
        "register",
        "set",
        "list-append",
        "kill",
        "pause",
        "partition",
        "drop",
        "kv",
    ] {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
}

#[test]
fn unknown_workloads_and_nemeses_are_argument_errors() {
    let (code, _, err) = faultline(&["run", "--workload", "bank"]);
    assert_eq!(code, Some(64));
    assert!(
        err.contains("invalid value 'bank'") && err.contains("list-append"),
        "{err}"
    );
    let (code, _, err) = faultline(&["run", "--nemesis", "kill,clock-skew"]);
    assert_eq!(code, Some(64));
    assert!(err.contains("unknown nemesis \"clock-skew\""), "{err}");
}

#[test]
fn usage_errors_exit_64_never_a_verdicts_code_and_help_lists_every_code() {
    for args in [
        &["run", "--workload", "nope"][..],
        &["run", "--no-such-option"],
        &["check", "--model", "bogus", "h.jsonl"],
        &["check"],
        &["frobnicate"],
    ] {
        let (code, _, err) = faultline(args);
        assert_eq!(code, Some(64), "{args:?}: {err}");
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
    let (code, out, _) = faultline(&["--help"]);
    assert_eq!(code, Some(0));
    for line in [
        "0    valid",
        "1    invalid",
        "2    unknown",
        "3    the harness failed",
        "64   usage error",
        "130  ",
    ] {
        assert!(out.contains(line), "--help lacks {line:?}:\n{out}");
    }
    let (code, _, _) = faultline(&["--version"]);
    assert_eq!(code, Some(0));
}

#[test]
fn a_flag_of_another_system_is_a_usage_error_naming_the_systems_that_take_it() {
    for (args, message) in [
        (
            &["run", "--etcd-bin", "/opt/etcd"][..],
            "--etcd-bin is for --system etcd, not --system faultline-node",
        ),
        (
            &["run", "--system", "etcd", "--node-bin", "/opt/node"],
            "--node-bin is for --system faultline-node or local-reads, not --system etcd",
        ),
        (
            &["run", "--system", "nats", "--node-cmd", "kv {id}"],
            "--node-cmd is for --system http or exec or maelstrom, not --system nats",
        ),
        (
            &[
                "run",
                "--system",
                "http",
                "--node-cmd",
                "kv",
                "--nats-read",
                "leader",
            ],
            "--nats-read is for --system nats, not --system http",
        ),
        (
            &["bench", "--etcd-serializable-reads"],
            "--etcd-serializable-reads is for --system etcd, not --system faultline-node",
        ),
        (
            &[
                "bench",
                "--compare",
                "faultline-node,etcd",
                "--nats-read",
                "leader",
            ],
            "--nats-read is for --system nats, not --system faultline-node or etcd",
        ),
    ] {
        let store = tempfile::tempdir().unwrap();
        let mut args = args.to_vec();
        args.extend(["--store", store.path().to_str().unwrap()]);
        let (code, _, err) = faultline(&args);
        assert_eq!(code, Some(64), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    let (code, out, _) = faultline(&["run", "--help"]);
    assert_eq!(code, Some(0));
    for flag in [
        "--system <SYSTEM>",
        "--node-bin",
        "--node-arg",
        "--etcd-bin",
        "--etcd-serializable-reads",
        "--node-cmd",
        "--client-cmd",
        "--nats-bin",
        "--nats-sync-interval",
        "--nats-read",
    ] {
        let lines = out.lines().filter(|l| l.trim_start().starts_with(flag));
        assert_eq!(lines.count(), 1, "{flag} in:\n{out}");
    }
}

#[test]
fn a_missing_node_binary_is_a_harness_failure_naming_the_fix() {
    let store = tempfile::tempdir().unwrap();
    let (code, _, err) = faultline(&[
        "run",
        "--node-bin",
        "/nonexistent/faultline-node",
        "--store",
        store.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(3));
    assert!(
        err.starts_with("faultline: error: ")
            && err.contains("--node-bin /nonexistent/faultline-node: no such file"),
        "{err}"
    );
}

#[test]
fn a_node_that_cannot_start_fails_the_run_with_its_log() {
    let store = tempfile::tempdir().unwrap();
    let (code, _, err) = faultline(&[
        "run",
        "--node-bin",
        "/bin/false",
        "--time-limit",
        "1",
        "--store",
        store.path().to_str().unwrap(),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("exited at start"), "{err}");
}

#[test]
fn logs_into_a_pipe_carry_no_colour_codes() {
    let store = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        // A node command without placeholders is warned about.
        .args(["run", "--system", "http", "--node-cmd", "/bin/false"])
        .args([
            "--time-limit",
            "1",
            "--store",
            store.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARN") && err.contains("no placeholder"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "{err:?}");
}
