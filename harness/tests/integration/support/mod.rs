//! What the test files that run `faultline` share: finding the node
//! binary, a bounded `faultline run`, and a quick one that must be refused;
//! a child reaped on drop, a bounded command; headless Chromium.
//! Each test file uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest a test's `faultline run` may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The results every faultline-node run adds after its workload's checker
/// (`stats`, `node-logs`, then the system's own), by title: junit's test
/// cases in order.
pub const NODE_RUN_CHECKERS: [&str; 6] = [
    "stats",
    "node logs",
    "replica agreement",
    "cluster states",
    "election safety",
    "state machine safety",
];

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

/// A run folder in a temporary store, deleted (with the store) on drop:
/// a run keeps its nodes' data directories, hundreds of megabytes for some
/// systems, which must not pile up test after test.
pub struct RunDir {
    dir: PathBuf,
    _store: tempfile::TempDir,
}

impl std::ops::Deref for RunDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.dir
    }
}

impl AsRef<Path> for RunDir {
    fn as_ref(&self) -> &Path {
        &self.dir
    }
}

/// Runs `faultline run ARGS` in a fresh store, killed past [`RUN_LIMIT`];
/// its exit code, stdout then stderr, and the run folder (the store goes
/// when it is dropped).
pub fn run_bounded(args: &[&str]) -> (i32, String, RunDir) {
    let store = tempfile::tempdir().unwrap();
    let (code, out, dir) = run_bounded_as(
        Command::new(env!("CARGO_BIN_EXE_faultline")),
        store.path(),
        args,
    );
    (code, out, RunDir { dir, _store: store })
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

/// The `faultline` binary under test.
pub fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

/// Kills the child (and waits for it) when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to its end within `limit`; returns its exit code, stdout and stderr.
pub fn bounded(mut cmd: Command, limit: Duration) -> (i32, String, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let (out, err) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("starting the command");
    let mut child = Reaped(child);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "{cmd:?} did not end within {limit:?}:\n{}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(out).unwrap_or_default(),
        std::fs::read_to_string(err).unwrap_or_default(),
    )
}

/// `browser` (headless, a fresh profile) dumping the DOM of `url` after
/// its script ran, within 90 s: its exit code, the DOM and its log.
pub fn headless_dom(browser: &Path, url: &str) -> (i32, String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--window-size=1400,1000",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg("--dump-dom")
    .arg(url);
    bounded(cmd, Duration::from_secs(90))
}

/// The console lines of a Chromium log; asserts none is an error.
pub fn console_without_errors(log: &str) -> Vec<&str> {
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    for line in &console {
        assert!(
            !line.contains("Uncaught") && !line.to_lowercase().contains("error"),
            "console error: {line}"
        );
    }
    console
}
