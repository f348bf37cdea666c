//! What the test files that run `faultline` share: finding the node
//! binary, a bounded `faultline run`, and a quick one that must be refused.
//! Each test file uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a test's `faultline run` may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// faultline-node, built next to the faultline binary under test.
pub fn faultline_node() -> PathBuf {
    let node = Path::new(env!("CARGO_BIN_EXE_faultline")).with_file_name("faultline-node");
    assert!(
        node.is_file(),
        "{} is missing: build it with `cargo build --release -p faultline-node` \
         (or run the workspace's tests)",
        node.display()
    );
    node
}

/// Runs `faultline run ARGS` in a fresh store, killed past [`RUN_LIMIT`];
/// its exit code, stdout then stderr, and the run folder.
pub fn run_bounded(args: &[&str]) -> (i32, String, PathBuf) {
    let store = tempfile::tempdir().unwrap().keep();
    run_bounded_as(Command::new(env!("CARGO_BIN_EXE_faultline")), &store, args)
}

/// Runs `faultline run --store STORE ARGS` through `cmd` (faultline, or a
/// wrapper such as `setpriv ... faultline`), killed past [`RUN_LIMIT`]; its
/// exit code, stdout then stderr, and the run folder.
pub fn run_bounded_as(mut cmd: Command, store: &Path, args: &[&str]) -> (i32, String, PathBuf) {
    let mut child = cmd
        .arg("run")
        .arg("--store")
        .arg(store)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting faultline");
    let deadline = Instant::now() + RUN_LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("faultline run {args:?} did not end within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let dir = std::fs::canonicalize(store.join("latest")).expect("a run folder");
    (out.status.code().unwrap_or(-1), text, dir)
}

/// Runs `faultline run ARGS` that should be refused before anything
/// starts; its exit code and stderr.
pub fn run_refused(args: &[&str]) -> (Option<i32>, String) {
    let store = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("run")
        .arg("--store")
        .arg(store.path())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// chromium, or None when absent outside CI (where it must be installed:
/// a browser test that cannot run there fails instead of skipping).
pub fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {name}"))
            .output()
        {
            let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !path.is_empty() {
                return Some(PathBuf::from(path));
            }
        }
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium is missing in CI: scripts/setup.sh installs it"
    );
    eprintln!("SKIPPED: chromium is not installed (scripts/setup.sh installs it); no page was opened in a browser");
    None
}
