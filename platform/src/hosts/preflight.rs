//! Every host checked before any is touched: reachable, authenticated,
//! `nft` present and usable, its clock within the bound, the node binary
//! present (same checksum) or its folder writable for an upload. Every
//! problem is one line naming its host; with any problem nothing starts.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;

use super::ssh::{connect, Conn, Remote, SshError};
use super::Host;

/// What preflight found wrong, one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{} with the hosts; no node was started:\n  {}", count(.0.len()), .0.join("\n  "))]
pub struct PreflightError(pub Vec<String>);

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".into()
    } else {
        format!("{n} problems")
    }
}

/// A host that passed, and whether its node binary must be uploaded.
pub struct Checked {
    /// The connection.
    pub conn: Conn,
    /// Whether the binary there differs from the local one (or is missing).
    pub upload: bool,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// How far a host's clock reading `t` is certainly off this machine's,
/// given that it was taken between `before` and `after` here: zero when it
/// falls inside that window. A slow round trip (a loaded host hashing a
/// large binary) widens the window instead of counting as skew.
pub fn clock_skew(t: f64, before: f64, after: f64) -> f64 {
    (before - t).max(t - after).max(0.0)
}

/// The remote path of the node binary on `host`.
pub fn remote_bin(host: &Host, local: &Path) -> String {
    let name = local
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "node".into());
    format!("{}/bin/{name}", host.data_dir)
}

async fn check_one(
    host: Host,
    control: std::path::PathBuf,
    bin_path: String,
    sum: String,
    max_skew: f64,
) -> Result<Checked, Vec<String>> {
    let conn = connect(&host, &control)
        .await
        .map_err(|e| vec![e.to_string()])?;
    let script = format!(
        "if command -v nft >/dev/null 2>&1; then echo nft=yes; else echo nft=no; fi\n\
         if nft list tables >/dev/null 2>&1; then echo nftok=yes; else echo nftok=no; fi\n\
         echo sum=$(sha256sum '{bin_path}' 2>/dev/null | cut -d' ' -f1)\n\
         d='{dir}'; while [ ! -e \"$d\" ]; do d=$(dirname \"$d\"); done\n\
         if [ -w \"$d\" ]; then echo writable=yes; else echo writable=no; fi\n\
         echo time=$(date +%s.%N)",
        dir = host.data_dir
    );
    let before = now();
    let out = conn.sh(&script).await.map_err(|e| vec![e.to_string()])?;
    let after = now();
    let field = |k: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_string))
            .unwrap_or_default()
    };
    let name = &host.label;
    let mut problems = Vec::new();
    if field("nft") != "yes" {
        problems.push(format!(
            "host {name}: `nft` not found (install nftables): partitions and packet loss need it"
        ));
    } else if field("nftok") != "yes" {
        problems.push(format!(
            "host {name}: `nft list tables` fails: log in as root (or a user with CAP_NET_ADMIN)"
        ));
    }
    match field("time").parse::<f64>() {
        Ok(t) => {
            let skew = clock_skew(t, before, after);
            if skew > max_skew {
                problems.push(format!(
                    "host {name}: its clock is {skew:.1}s off this machine's (more than {max_skew}s; run NTP)"
                ));
            }
        }
        Err(_) => problems.push(format!("host {name}: `date +%s.%N` gave no time")),
    }
    let upload = field("sum") != sum;
    if field("writable") != "yes" {
        problems.push(format!(
            "host {name}: cannot write under {} (the data directory)",
            host.data_dir
        ));
    }
    if problems.is_empty() {
        Ok(Checked { conn, upload })
    } else {
        Err(problems)
    }
}

/// Checks every host at once; their connections, or every problem.
pub fn check(
    remote: &Remote,
    hosts: &[Host],
    control: &Path,
    local_bin: &Path,
    max_skew: f64,
) -> Result<Vec<Checked>, PreflightError> {
    let sum = match std::fs::read(local_bin) {
        Ok(bytes) => sha256_hex(&bytes),
        Err(e) => {
            return Err(PreflightError(vec![format!(
                "the node binary {}: {e}",
                local_bin.display()
            )]))
        }
    };
    let futures: Vec<_> = hosts
        .iter()
        .map(|h| {
            check_one(
                h.clone(),
                control.to_path_buf(),
                remote_bin(h, local_bin),
                sum.clone(),
                max_skew,
            )
        })
        .collect();
    let results = remote
        .block(join_all(futures))
        .map_err(|e: SshError| PreflightError(vec![e.to_string()]))?;
    let mut problems = Vec::new();
    let mut ok = Vec::new();
    for r in results {
        match r {
            Ok(c) => ok.push(c),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(ok)
    } else {
        Err(PreflightError(problems))
    }
}

/// The SHA-256 of `bytes`, lowercase hex (what `sha256sum` prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::clock_skew;

    #[test]
    fn a_reading_inside_the_round_trip_is_no_skew_and_outside_counts_from_the_edge() {
        assert_eq!(clock_skew(102.0, 100.0, 104.4), 0.0);
        assert!((clock_skew(107.0, 100.0, 104.0) - 3.0).abs() < 1e-9);
        assert!((clock_skew(95.5, 100.0, 104.0) - 4.5).abs() < 1e-9);
    }
}
