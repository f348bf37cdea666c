//! One child `faultline run` of a suite: started with its output in a file,
//! stopped past its time or when the suite is signalled.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use super::{PlannedRun, RunRecord, SuiteArgs};
use crate::stored::StoredRun;

/// Catches SIGINT and SIGTERM from now on (see [`SIGNALLED`]).
pub(crate) fn catch_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// Whether the suite was signalled.
pub(crate) fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst) != 0
}

/// The signal (SIGINT or SIGTERM) the suite received, 0 while none.
static SIGNALLED: AtomicI32 = AtomicI32::new(0);

/// Notes the signal; the suite stops between runs.
extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// `<store>/<prefix>-<stamp>` (a suffix when it exists), made; its
/// canonical path (a suite's folder, an exploration's).
pub(crate) fn make_stamped_dir(
    store: &Path,
    prefix: &str,
    now: SystemTime,
) -> std::io::Result<PathBuf> {
    let stamp = crate::store::timestamp(now);
    let mut path = store.join(format!("{prefix}-{stamp}"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = store.join(format!("{prefix}-{stamp}-{n}"));
    }
    std::fs::create_dir_all(&path)?;
    path.canonicalize()
}

/// What one child `faultline run` left: how it ended, why it was stopped
/// (if it was), how long it took, and the run folder it made.
pub(crate) struct ChildEnd {
    /// Its exit status (None when it could not be waited for).
    pub status: Option<ExitStatus>,
    /// Why it was stopped, when it was.
    pub note: Option<String>,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// The run folder it made (the one it announced, else where
    /// `<store>/latest` moved to), absolute.
    pub folder: Option<PathBuf>,
}

/// Runs `exe run ARGS --store STORE` with its stdout and stderr in
/// `output`, stopping it (SIGTERM, then SIGKILL) past `limit` or when
/// signalled; the folder is the one the run announced in its output (or,
/// failing that, where `<store>/latest` moved).
pub(crate) fn run_child(
    exe: &Path,
    args: &[String],
    store: &Path,
    output: &Path,
    limit: Duration,
) -> anyhow::Result<ChildEnd> {
    let out = File::create(output).with_context(|| format!("creating {}", output.display()))?;
    let err = out.try_clone().context("duplicating the output file")?;
    let latest = store.join("latest");
    let before = std::fs::read_link(&latest).ok();
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("run")
        .args(args)
        .arg("--store")
        .arg(store)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {} run", exe.display()))?;
    let (status, note) = wait_bounded(&mut child, limit)?;
    let folder = announced_folder(output).or_else(|| {
        std::fs::read_link(&latest)
            .ok()
            .filter(|a| Some(a) != before.as_ref())
            .map(|a| store.join(a))
    });
    Ok(ChildEnd {
        status,
        note,
        seconds: started.elapsed().as_secs_f64(),
        folder,
    })
}

/// The run folder a child `faultline run` named on its second line
/// (`  store: PATH`), if it got that far: what tells children that share
/// a store apart, where `<store>/latest` only says which started last.
fn announced_folder(output: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(output).ok()?;
    text.lines()
        .take(20)
        .find_map(|l| l.strip_prefix("  store: "))
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| p.is_dir())
}

/// Runs one child `faultline run` with its output in `output/`, stopping it
/// (SIGTERM, then SIGKILL) past `limit` or when the suite is signalled.
pub(super) fn one_run(
    exe: &Path,
    args: &SuiteArgs,
    dir: &Path,
    i: usize,
    planned: &PlannedRun,
    limit: Duration,
) -> anyhow::Result<RunRecord> {
    let output_rel = PathBuf::from("output").join(format!(
        "{:02}-{}-{}-{}.log",
        i + 1,
        planned.workload,
        planned.nemesis.replace(',', "+"),
        planned.seed
    ));
    let mut words = planned.args.clone();
    if let Some(node) = &args.node_bin {
        words.extend(["--node-bin".to_string(), node.display().to_string()]);
    }
    let end = run_child(exe, &words, dir, &dir.join(&output_rel), limit)?;
    let folder = end
        .folder
        .and_then(|a| a.strip_prefix(dir).ok().map(Path::to_path_buf));
    let code = end.status.and_then(|s| s.code());
    let verdict = match code {
        Some(0..=2) => folder
            .as_ref()
            .and_then(|f| StoredRun::load(&dir.join(f)).ok())
            .map(|r| r.results.verdict),
        _ => None,
    };
    let note = end.note.or_else(|| match (code, verdict) {
        (_, Some(_)) => None,
        (Some(c), None) => Some(format!("faultline run exited with {c}")),
        (None, None) => Some("faultline run was killed by a signal".into()),
    });
    Ok(RunRecord {
        run: planned.clone(),
        code,
        verdict,
        folder,
        output: Some(output_rel),
        seconds: end.seconds,
        note,
    })
}

/// Waits for `child`; past `limit`, or when the suite is signalled, sends
/// SIGTERM, then SIGKILL 15 s later. Returns its status and why it was stopped.
pub(crate) fn wait_bounded(
    child: &mut Child,
    limit: Duration,
) -> anyhow::Result<(Option<ExitStatus>, Option<String>)> {
    let deadline = Instant::now() + limit;
    let mut stopping: Option<(Instant, String)> = None;
    loop {
        if let Some(status) = child.try_wait().context("waiting for faultline run")? {
            return Ok((Some(status), stopping.map(|(_, why)| why)));
        }
        let now = Instant::now();
        match &stopping {
            None => {
                let why = if SIGNALLED.load(Ordering::SeqCst) != 0 {
                    Some("stopped: the suite was interrupted".to_string())
                } else if now >= deadline {
                    Some(format!(
                        "stopped after {:.0}s (the run's timeout or the suite's budget)",
                        limit.as_secs_f64()
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    // SAFETY: signalling our own child by its id.
                    unsafe {
                        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
                    }
                    stopping = Some((now, why));
                }
            }
            Some((since, why)) if now.duration_since(*since) > Duration::from_secs(15) => {
                let why = why.clone();
                let _ = child.kill();
                let status = child.wait().context("waiting for faultline run")?;
                return Ok((Some(status), Some(why)));
            }
            Some(_) => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_is_the_one_the_run_announced_when_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("register-x").join("20261207T000000-7");
        std::fs::create_dir_all(&folder).unwrap();
        let output = dir.path().join("out.log");
        let banner = format!(
            "faultline run: faultline-node · workload register\n  store: {}\nrun 1.0s\n",
            folder.display()
        );
        std::fs::write(&output, banner).unwrap();
        assert_eq!(announced_folder(&output), Some(folder.clone()));
        std::fs::remove_dir(&folder).unwrap();
        assert_eq!(announced_folder(&output), None, "gone: not a run folder");
        std::fs::write(&output, "error: no such scenario\n").unwrap();
        assert_eq!(announced_folder(&output), None, "a run that never started");
    }
}
