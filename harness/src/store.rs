//! The store: one folder per run, `<store>/<workload>-<nemesis>/<YYYYMMDDTHHMMSS>-<seed>/`,
//! holding `test.json`, `history.jsonl`, `results.json` and `nodes/*.log`,
//! and `<store>/latest` pointing at the newest run.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// A run's folder, made by [`RunDir::create`].
#[derive(Debug, Clone)]
pub struct RunDir {
    /// The folder, canonical (absolute, no symlink).
    pub path: PathBuf,
}

impl RunDir {
    /// Creates the folder of a new run and points `<store>/latest` at it.
    pub fn create(store: &Path, workload: &str, nemesis: &str, seed: u64) -> io::Result<RunDir> {
        let stamp = timestamp(SystemTime::now());
        let group = store.join(format!("{workload}-{nemesis}"));
        let mut path = group.join(format!("{stamp}-{seed}"));
        // Two runs with one seed in one second get distinct folders.
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = group.join(format!("{stamp}-{seed}-{n}"));
        }
        std::fs::create_dir_all(path.join("nodes"))?;
        let path = path.canonicalize()?;
        point_latest(store, &path)?;
        Ok(RunDir { path })
    }

    /// `test.json`: what was run.
    pub fn test_json(&self) -> PathBuf {
        self.path.join("test.json")
    }

    /// `history.jsonl`: every event, written as it happens.
    pub fn history(&self) -> PathBuf {
        self.path.join("history.jsonl")
    }

    /// `results.json`: what the checkers found.
    pub fn results(&self) -> PathBuf {
        self.path.join("results.json")
    }

    /// Writes `value` as pretty JSON to `path`.
    pub fn write_json(&self, path: &Path, value: &impl Serialize) -> io::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(path, text + "\n")
    }
}

/// Replaces `<store>/latest` with a symlink to `target` (atomically: a new
/// link renamed over the old one).
fn point_latest(store: &Path, target: &Path) -> io::Result<()> {
    let tmp = store.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, store.join("latest"))
}

/// `YYYYMMDDTHHMMSS` in UTC: the run folders' stamp.
pub fn timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A [`timestamp`] (`YYYYMMDDTHHMMSS`, UTC) back as seconds since 1970;
/// None when it is not one.
pub fn stamp_seconds(stamp: &str) -> Option<i64> {
    let s = stamp.as_bytes();
    if s.len() < 15 || s[8] != b'T' {
        return None;
    }
    let num = |a: usize, b: usize| stamp.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hh, mm, ss) = (num(9, 11)?, num(11, 13)?, num(13, 15)?);
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// The way from folder `from` to `to` (both absolute, canonical), as a
/// relative path (`../b/c`): how a merged suite or a trend page links
/// the run folders it shows.
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..a.len() {
        out.push("..");
    }
    for c in &b[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_read_back_as_the_times_they_were_made_from() {
        for secs in [0u64, 1_709_210_096, 1_800_000_000] {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let stamp = timestamp(t);
            assert_eq!(stamp_seconds(&stamp), Some(secs as i64), "{stamp}");
        }
        assert_eq!(stamp_seconds("2024"), None);
    }

    #[test]
    fn relative_paths_climb_to_the_common_folder() {
        assert_eq!(
            relative(Path::new("/a/merged"), Path::new("/a/slices/s1/suite-x")),
            PathBuf::from("../slices/s1/suite-x")
        );
        assert_eq!(
            relative(Path::new("/a"), Path::new("/a/b")),
            PathBuf::from("b")
        );
        assert_eq!(
            relative(Path::new("/a/out"), Path::new("/a/store/r/report.html")),
            PathBuf::from("../store/r/report.html")
        );
    }

    #[test]
    fn timestamps_are_utc_calendar_times() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000");
        // 2024-02-29 12:34:56 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(timestamp(t), "20240229T123456");
    }

    #[test]
    fn runs_get_their_own_folders_and_latest_follows() {
        let store = tempfile::tempdir().unwrap();
        let a = RunDir::create(store.path(), "register", "all", 7).unwrap();
        let b = RunDir::create(store.path(), "register", "all", 7).unwrap();
        assert_ne!(a.path, b.path);
        assert!(a.path.join("nodes").is_dir());
        let name = a.path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name.ends_with("-7") && name.len() == "YYYYMMDDTHHMMSS-7".len(),
            "{name}"
        );
        assert_eq!(
            a.path.parent().unwrap().file_name().unwrap(),
            "register-all"
        );
        let latest = std::fs::read_link(store.path().join("latest")).unwrap();
        assert_eq!(latest, b.path);
    }
}
