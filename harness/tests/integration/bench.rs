//! `faultline bench`: a short closed-loop load against a healthy cluster
//! gives a table and bench.json; `--compare` measures two systems and gives
//! their ratios (with etcd, when it is on PATH; required under CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn node_bin() -> PathBuf {
    let node = Path::new(env!("CARGO_BIN_EXE_faultline")).with_file_name("faultline-node");
    assert!(node.is_file(), "{} is missing", node.display());
    node
}

/// Runs `faultline bench ARGS` (bounded): exit code, stdout, bench.json.
fn bench(args: &[&str]) -> (i32, String, serde_json::Value) {
    let store = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("bench")
        .arg("--store")
        .arg(store.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting faultline");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("faultline bench {args:?} did not end within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let dir = std::fs::read_dir(store.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("bench-"))
        .expect("a bench folder")
        .path();
    let doc =
        serde_json::from_str(&std::fs::read_to_string(dir.join("bench.json")).unwrap()).unwrap();
    (code, stdout, doc)
}

#[test]
fn a_bench_reports_writes_and_reads_with_their_percentiles() {
    let node = node_bin();
    let (_, table, doc) = bench(&[
        "--node-bin",
        node.to_str().unwrap(),
        "--nodes",
        "3",
        "--concurrency",
        "8",
        "--duration",
        "2",
        "--warmup",
        "0.5",
        "--reads",
        "50",
    ]);
    let r = &doc["results"][0];
    assert_eq!(r["system"], "faultline-node");
    for op in ["writes", "reads"] {
        let s = &r[op];
        assert!(s["ok"].as_u64().unwrap() > 0, "no {op}: {doc}");
        let p = |k: &str| s[k].as_f64().unwrap();
        assert!(
            p("p50_ms") <= p("p90_ms")
                && p("p90_ms") <= p("p99_ms")
                && p("p99_ms") <= p("p999_ms")
                && p("p999_ms") <= p("max_ms"),
            "{s}"
        );
    }
    assert_eq!(r["command_lines"].as_array().unwrap().len(), 3);
    for op in ["write", "read"] {
        let row = |l: &&str| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.len() > 2 && words[0] == "faultline-node" && words[1] == op
        };
        assert!(table.lines().any(|l| row(&l)), "no {op} row:\n{table}");
    }
}

#[test]
fn compare_measures_both_systems_and_their_ratio() {
    let has_etcd = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("etcd").is_file()))
        .unwrap_or(false);
    if !has_etcd {
        assert!(
            std::env::var_os("CI").is_none(),
            "etcd is not on PATH under CI: scripts/setup.sh should have installed etcd-server"
        );
        eprintln!("skipped: no etcd on PATH (run scripts/setup.sh)");
        return;
    }
    let node = node_bin();
    let (_, table, doc) = bench(&[
        "--compare",
        "faultline-node,etcd",
        "--node-bin",
        node.to_str().unwrap(),
        "--concurrency",
        "8",
        "--duration",
        "1",
        "--warmup",
        "0.5",
    ]);
    let systems: Vec<&str> = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["faultline-node", "etcd"]);
    assert!(doc["ratios"][0]["write_throughput"].as_f64().unwrap() > 0.0);
    assert!(
        table.contains("faultline-node / etcd: write throughput"),
        "{table}"
    );
}
