//! The local folders of SSH control sockets, one per run, and the master
//! connections a killed harness leaves behind.
//!
//! Each master `ssh` runs detached (it outlives the call that started it,
//! as multiplexing needs), so a harness killed with SIGKILL cannot end
//! them. A run's folder (`$TMPDIR/faultline-ssh*`) holds an `owner` file
//! with the harness's pid; `faultline clean` ends the masters of every
//! folder whose owner is gone and removes the folder.

use std::io;
use std::path::{Path, PathBuf};

/// The prefix of a run's control folder in the temporary directory.
pub const PREFIX: &str = "faultline-ssh";

/// The file naming the pid of the harness that owns a control folder.
const OWNER: &str = "owner";

/// Makes a run's control folder, owned by this process; removed on drop.
pub fn folder() -> io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix(PREFIX).tempdir()?;
    std::fs::write(dir.path().join(OWNER), std::process::id().to_string())?;
    Ok(dir)
}

/// Whether process `pid` exists.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The control folders under `tmp` whose owner is no longer running.
pub fn orphans(tmp: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .filter(|dir| {
            std::fs::read_to_string(dir.join(OWNER))
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .is_some_and(|pid| !alive(pid))
        })
        .collect()
}

/// The pids of the processes whose command line mentions `dir`.
fn users_of(dir: &Path) -> Vec<i32> {
    let needle = format!("{}/", dir.display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .is_ok_and(|c| c.contains(&needle))
        })
        .collect()
}

/// Ends the master connections of every orphaned control folder under
/// `tmp` and removes the folders; one line per thing removed.
pub fn sweep(tmp: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for dir in orphans(tmp) {
        for pid in users_of(&dir) {
            // SAFETY: a plain signal to a process of ours.
            if unsafe { libc::kill(pid, libc::SIGTERM) } == 0 {
                lines.push(format!(
                    "local: ended SSH master {pid} of {}",
                    dir.display()
                ));
            }
        }
        if std::fs::remove_dir_all(&dir).is_ok() {
            lines.push(format!("local: removed {}", dir.display()));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_whose_owner_is_gone_is_swept_with_its_processes() {
        let tmp = tempfile::tempdir().unwrap();
        let live = tmp.path().join(format!("{PREFIX}live"));
        std::fs::create_dir(&live).unwrap();
        std::fs::write(live.join(OWNER), std::process::id().to_string()).unwrap();
        let dead = tmp.path().join(format!("{PREFIX}dead"));
        std::fs::create_dir(&dead).unwrap();
        // A pid no process has (above the kernel's limit).
        std::fs::write(dead.join(OWNER), "2147483647").unwrap();
        // A process that names the folder, as a master's `-S DIR/...` does.
        let mut child = std::process::Command::new("tail")
            .arg("-f")
            .arg(dead.join(OWNER))
            .spawn()
            .unwrap();
        // Until the child has exec'ed, its command line is this test's.
        let cmdline = format!("/proc/{}/cmdline", child.id());
        let named = dead.join(OWNER).display().to_string();
        for _ in 0..500 {
            if std::fs::read_to_string(&cmdline).is_ok_and(|c| c.contains(&named)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(orphans(tmp.path()), vec![dead.clone()]);
        let lines = sweep(tmp.path());
        assert!(
            lines.iter().any(|l| l.contains("ended SSH master")),
            "{lines:?}"
        );
        assert!(
            child.wait().unwrap().code().is_none(),
            "the process was signalled"
        );
        assert!(!dead.exists() && live.exists());
    }
}
