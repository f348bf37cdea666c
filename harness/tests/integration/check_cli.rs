//! `faultline check` from the outside: verdicts become exit codes, and a
//! malformed history exits 3 with a message naming the file and line.

use std::path::{Path, PathBuf};
use std::process::Command;

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/histories")
        .join(name)
}

fn run(args: &[&str], files: &[&Path]) -> (i32, String, String) {
    let out = faultline()
        .arg("check")
        .args(args)
        .args(files)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"write","value":1}"#;

fn write_history(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn verdicts_map_to_exit_codes_and_the_worst_wins() {
    let valid = example("register-valid.jsonl");
    let invalid = example("register-stale-read.jsonl");
    let (code, out, _) = run(&["--model", "register"], &[&valid]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("valid"), "{out}");
    let (code, out, _) = run(&[], &[&invalid]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot place: p2 read x -> ok 1"), "{out}");
    let (code, out, _) = run(&[], &[&valid, &invalid]);
    assert_eq!(code, 1);
    assert_eq!(
        out.lines().filter(|l| !l.starts_with(' ')).count(),
        2,
        "{out}"
    );
    let (code, out, _) = run(&["--json"], &[&invalid]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["result"]["verdict"], "invalid");
    assert_eq!(v["result"]["counterexample"]["operation"]["process"], 2);
}

#[test]
fn malformed_histories_exit_3_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "bad-json.jsonl",
            vec![GOOD, "{not json"],
            ":2: not valid JSON",
        ),
        (
            "unknown-type.jsonl",
            vec![
                GOOD,
                r#"{"index":1,"time":1,"process":0,"type":"done","f":"write","value":1}"#,
            ],
            ":2: not a history event: unknown variant `done`",
        ),
        (
            "orphan.jsonl",
            vec![r#"{"index":0,"time":0,"process":4,"type":"ok","f":"read","value":null}"#],
            "line 1: ok for process 4 without an open invocation",
        ),
        (
            "reused.jsonl",
            vec![
                GOOD,
                r#"{"index":1,"time":1,"process":0,"type":"info","f":"write","value":1}"#,
                r#"{"index":2,"time":2,"process":0,"type":"invoke","f":"write","value":2}"#,
            ],
            "line 3: process 0 invokes again after its info on line 2",
        ),
    ];
    for (name, lines, want) in cases {
        let p = write_history(dir.path(), name, &lines);
        let (code, _, err) = run(&[], &[&p]);
        assert_eq!(code, 3, "{name}: {err}");
        assert!(err.contains(name) && err.contains(want), "{name}: {err}");
    }
}

#[test]
fn a_truncated_last_line_is_reported_or_dropped_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("torn.jsonl");
    std::fs::write(&p, format!("{GOOD}\n{{\"index\":1,\"ti")).unwrap();
    let (code, _, err) = run(&[], &[&p]);
    assert_eq!(code, 3);
    assert!(err.contains("torn.jsonl:2:"), "{err}");
    let (code, out, err) = run(&["--allow-truncated"], &[&p]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("dropped a last line cut off mid-write"),
        "{err}"
    );
}

#[test]
fn other_tools_formats_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let edn = write_history(
        dir.path(),
        "history.edn",
        &[
            "{:type :invoke, :f :write, :value [1 3], :process 0, :time 1}",
            "{:type :ok, :f :write, :value [1 3], :process 0, :time 2}",
            "{:type :invoke, :f :read, :value [1 nil], :process 1, :time 3}",
            "{:type :ok, :f :read, :value [1 4], :process 1, :time 4}",
        ],
    );
    let (code, out, _) = run(&[], &[&edn]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("key 1"), "{out}");
}

#[test]
fn histories_of_run_folders_recorded_by_an_earlier_faultline_still_check() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (code, out, _) = run(&[], &[&fixtures.join("run-invalid/history.jsonl")]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot place"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("page.html");
    let (code, out, err) = run(
        &["--report", page.to_str().unwrap()],
        &[&fixtures.join("run-valid/history.jsonl")],
    );
    assert_eq!(code, 0, "{out}{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<td>register checker</td>") && html.contains("<td>stats</td>"));
}
