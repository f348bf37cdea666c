//! `faultline run` leaves no process behind: after a normal end, after
//! SIGINT mid-run, and after the harness itself is SIGKILLed (the nodes die
//! of PR_SET_PDEATHSIG). A history cut off mid-line by that crash is still
//! checkable.
//!
//! The nodes are a small Python stand-in (tests/integration/support/fake_node.py) so
//! these tests exercise supervision without depending on the real node.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn faultline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

fn fake_node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support/fake_node.py")
}

/// Kills the child on drop, so a failing test leaves nothing behind.
pub(crate) struct Guard(pub(crate) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_run(store: &Path, extra: &[&str]) -> Guard {
    let mut cmd = faultline();
    cmd.args(["run", "--node-bin"])
        .arg(fake_node())
        .arg("--store")
        .arg(store)
        .args(["--seed", "11", "--recovery-time", "0.5", "--rate", "100"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Guard(cmd.spawn().expect("starting faultline"))
}

pub(crate) fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "faultline did not end within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Live (non-zombie) processes whose command line mentions `needle`.
pub(crate) fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let path = entry.path();
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(needle) {
            continue;
        }
        let zombie = std::fs::read_to_string(path.join("stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie {
            found.push(format!("{}: {cmdline}", path.display()));
        }
    }
    found
}

/// Waits (bounded) until no process mentions `needle`; the survivors otherwise.
pub(crate) fn survivors(needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn history_of(store: &Path) -> PathBuf {
    std::fs::canonicalize(store.join("latest"))
        .expect("the latest link")
        .join("history.jsonl")
}

/// Waits (bounded) until the run's history holds `lines` lines.
pub(crate) fn wait_for_history(store: &Path, lines: usize, run: &mut Guard) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = store
            .join("latest")
            .exists()
            .then(|| std::fs::read_to_string(history_of(store)).unwrap_or_default())
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if n >= lines {
            return;
        }
        if let Some(status) = run.0.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            run.0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("faultline ended early ({status}):\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "the history never reached {lines} lines"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_run_that_ends_normally_leaves_no_process_and_a_verdict() {
    let store = tempfile::tempdir().unwrap();
    let mut run = start_run(
        store.path(),
        &[
            "--time-limit",
            "3",
            "--nemesis",
            "kill,pause,partition",
            "--nemesis-interval",
            "1",
        ],
    );
    let status = wait_bounded(&mut run.0, Duration::from_secs(60));
    let out = std::mem::take(&mut run.0.stdout)
        .map(|mut s| {
            let mut t = String::new();
            std::io::Read::read_to_string(&mut s, &mut t).unwrap();
            t
        })
        .unwrap_or_default();
    // Fake nodes do not replicate: the verdict may be invalid, never a harness failure.
    assert!(matches!(status.code(), Some(0 | 1)), "{status}: {out}");
    assert!(out.contains("verdict: "), "{out}");
    let run_dir = std::fs::canonicalize(store.path().join("latest")).unwrap();
    for file in [
        "test.json",
        "history.jsonl",
        "results.json",
        "nodes/n1.log",
        "nodes/n3.log",
    ] {
        assert!(run_dir.join(file).is_file(), "{file} missing");
    }
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains(r#""process":"nemesis""#),
        "no nemesis events"
    );
    let left = survivors(&store.path().display().to_string());
    assert!(left.is_empty(), "processes survived the run: {left:#?}");
}

#[test]
fn sigint_mid_run_tears_everything_down() {
    let store = tempfile::tempdir().unwrap();
    let mut run = start_run(
        store.path(),
        &["--time-limit", "60", "--nemesis", "pause,partition"],
    );
    wait_for_history(store.path(), 40, &mut run);
    assert!(!processes_mentioning(&store.path().display().to_string()).is_empty());
    // SAFETY: signalling our own child.
    unsafe { libc::kill(run.0.id() as libc::pid_t, libc::SIGINT) };
    let status = wait_bounded(&mut run.0, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130), "{status}");
    let left = survivors(&store.path().display().to_string());
    assert!(left.is_empty(), "processes survived SIGINT: {left:#?}");
    // What was recorded is a complete, checkable history.
    let check = faultline()
        .args(["check", "--model", "register"])
        .arg(history_of(store.path()))
        .output()
        .unwrap();
    assert!(
        matches!(check.status.code(), Some(0..=2)),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn a_killed_harness_takes_its_nodes_along_and_its_cut_history_is_checkable() {
    let store = tempfile::tempdir().unwrap();
    // One node and pauses only: the fake node is then a correct register.
    let mut run = start_run(
        store.path(),
        &[
            "--time-limit",
            "60",
            "--nodes",
            "1",
            "--nemesis",
            "pause",
            "--nemesis-interval",
            "0.5",
        ],
    );
    wait_for_history(store.path(), 200, &mut run);
    run.0.kill().unwrap();
    run.0.wait().unwrap();
    let left = survivors(&store.path().display().to_string());
    assert!(left.is_empty(), "nodes survived the harness: {left:#?}");

    // Cut the history mid-line, as a crash in the middle of a write would.
    let history = history_of(store.path());
    let text = std::fs::read_to_string(&history).unwrap();
    let whole = text.trim_end().len();
    let last_line = text.trim_end().rfind('\n').unwrap() + 1;
    let cut = last_line + (whole - last_line) / 2;
    std::fs::write(&history, &text[..cut]).unwrap();
    let check = faultline()
        .args(["check", "--model", "register", "--allow-truncated"])
        .arg(&history)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(stdout.starts_with("valid"), "{stdout}");
}

#[test]
fn a_linearizable_system_under_pauses_and_partitions_is_valid() {
    // The fake keeps one copy on n1 and forwards to it: linearizable as long
    // as n1 is not killed. A harness that recorded events out of order, or
    // called an unknown outcome a failure, would make this history invalid.
    let store = tempfile::tempdir().unwrap();
    let mut run = start_run(
        store.path(),
        &[
            "--time-limit",
            "5",
            "--nemesis",
            "pause,partition",
            "--nemesis-interval",
            "1",
            "--request-timeout-ms",
            "300",
        ],
    );
    let status = wait_bounded(&mut run.0, Duration::from_secs(60));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut run.0.stdout.take().unwrap(), &mut out).unwrap();
    assert_eq!(status.code(), Some(0), "{out}");
    let history = std::fs::read_to_string(history_of(store.path())).unwrap();
    for f in [
        "\"pause\"",
        "\"resume\"",
        "\"start-partition\"",
        "\"stop-partition\"",
    ] {
        assert!(history.contains(&format!("\"f\":{f}")), "no {f} event");
    }
    assert!(
        history.contains(r#""type":"info""#),
        "no unknown outcome at all"
    );
}

/// The lines of `pid`'s mountinfo (its mount namespace) naming `dir`.
fn mounts_of(pid: &str, dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    let dir = dir.display().to_string();
    text.lines()
        .filter(|l| l.contains(&dir))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_disk_layer_is_mounted_only_in_the_runs_namespace_and_dies_with_it() {
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGKILL, "SIGKILL")] {
        let store = tempfile::tempdir().unwrap();
        let dir = store.path().canonicalize().unwrap();
        let mut run = start_run(
            &dir,
            &[
                "--time-limit",
                "60",
                "--nodes",
                "1",
                "--nemesis",
                "pause",
                "--disk-faults",
            ],
        );
        wait_for_history(&dir, 20, &mut run);
        let pid = run.0.id().to_string();
        let inside = mounts_of(&pid, &dir);
        assert!(
            inside
                .iter()
                .any(|l| l.contains("/mnt/n1 ") && l.contains("fuse")),
            "{name}: no disk layer over the node's data directory in the run's namespace: {inside:#?}"
        );
        assert_eq!(
            mounts_of("self", &dir),
            Vec::<String>::new(),
            "{name}: the host sees the run's mounts"
        );
        // SAFETY: signalling our own child.
        unsafe { libc::kill(run.0.id() as libc::pid_t, signal) };
        let status = wait_bounded(&mut run.0, Duration::from_secs(20));
        if signal == libc::SIGINT {
            assert_eq!(status.code(), Some(130), "{status}");
        }
        let left = survivors(&dir.display().to_string());
        assert!(left.is_empty(), "{name}: processes survived: {left:#?}");
        assert_eq!(mounts_of("self", &dir), Vec::<String>::new(), "{name}");
        // The node's files stay in the run folder, in the backing directory.
        let data = std::fs::canonicalize(dir.join("latest"))
            .unwrap()
            .join("data/n1");
        assert!(data.is_dir(), "{name}: {} is gone", data.display());
    }
}
