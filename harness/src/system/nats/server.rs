//! The nats-server program: finding it, its version, JetStream's
//! `sync_interval`, and the config file each node runs from.

use std::path::{Path, PathBuf};

use super::MONITOR_PORT;
use crate::system::{on_path, SystemError};
use faultline_platform::cluster::NodeSpec;

/// JetStream's `sync_interval`: when the file store fsyncs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncInterval {
    /// The server's own default (nothing written to the config).
    ServerDefault,
    /// fsync before every acknowledgement.
    Always,
    /// In the background, at this interval (a Go duration: `10s`, `500ms`).
    Every(String),
}

impl SyncInterval {
    /// `--nats-sync-interval`'s value: None is the server's default.
    pub fn parse(given: Option<&str>) -> Result<SyncInterval, SystemError> {
        let Some(v) = given else {
            return Ok(SyncInterval::ServerDefault);
        };
        if v == "always" {
            return Ok(SyncInterval::Always);
        }
        let digits = v.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &v[digits.len()..];
        let number_ok = !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit());
        if number_ok && ["ms", "s", "m", "h"].contains(&unit) {
            Ok(SyncInterval::Every(v.to_string()))
        } else {
            Err(SystemError::BadOption(format!(
                "--nats-sync-interval {v:?}: expected `always` or a duration such as 10s, 500ms, 2m"
            )))
        }
    }

    /// Refuses a setting the server at `version` does not take.
    pub fn supported_by(&self, version: Version) -> Result<(), SystemError> {
        if *self == SyncInterval::ServerDefault || version >= Version(2, 10, 0) {
            return Ok(());
        }
        Err(SystemError::BadOption(format!(
            "--nats-sync-interval: nats-server {version} has no sync_interval setting (its config parser \
             refuses the field; it came with 2.10), so it cannot be made to fsync before acknowledging; \
             run without the flag to test its own default, or pass --nats-bin a nats-server 2.10 or later"
        )))
    }

    /// The line of the `jetstream` block, if any.
    fn config_line(&self) -> Option<String> {
        match self {
            SyncInterval::ServerDefault => None,
            SyncInterval::Always => Some("sync_interval: always".into()),
            SyncInterval::Every(d) => Some(format!("sync_interval: \"{d}\"")),
        }
    }
}

/// A nats-server version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// The version in `nats-server --version`'s answer (`nats-server: v2.9.10`).
    pub fn parse(text: &str) -> Option<Version> {
        let word = text.split_whitespace().find(|w| w.starts_with('v'))?;
        let mut parts = word[1..]
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>());
        Some(Version(
            parts.next()?.ok()?,
            parts.next()?.ok()?,
            parts.next()?.ok()?,
        ))
    }
}

/// nats-server: `given` (`--nats-bin`), `nats-server` on PATH, or Debian's
/// /usr/sbin/nats-server (not on an unprivileged user's PATH).
pub fn find_bin(given: Option<&Path>) -> Result<PathBuf, SystemError> {
    match given {
        Some(p) if p.is_file() => Ok(p.to_path_buf()),
        Some(p) => Err(SystemError::Missing(format!(
            "--nats-bin {}: no such file",
            p.display()
        ))),
        None => on_path("nats-server")
            .or_else(|| {
                let sbin = PathBuf::from("/usr/sbin/nats-server");
                sbin.is_file().then_some(sbin)
            })
            .ok_or_else(|| {
                SystemError::Missing(
                    "no nats-server on PATH or in /usr/sbin: install it with scripts/setup.sh \
                     (Debian's nats-server), or pass --nats-bin"
                        .into(),
                )
            }),
    }
}

/// The version of the nats-server at `bin`.
pub fn version_of(bin: &Path) -> Result<Version, SystemError> {
    let text = crate::system::pinned::version_text(bin)
        .map_err(|e| SystemError::Missing(format!("{} --version: {e}", bin.display())))?;
    Version::parse(&text).ok_or_else(|| {
        SystemError::Missing(format!(
            "{} --version said {:?}: not a nats-server",
            bin.display(),
            text.trim()
        ))
    })
}

/// Where node `node`'s config lives: next to its log, out of its data
/// directory.
pub fn config_path(node: &NodeSpec) -> PathBuf {
    node.log_path.with_extension("conf")
}

/// The nats-server config of node `i` of `nodes`.
pub fn config(i: usize, nodes: &[NodeSpec], sync: &SyncInterval) -> String {
    let node = &nodes[i];
    let routes = nodes
        .iter()
        .map(|n| format!("\"nats-route://{}\"", n.peer_addr))
        .collect::<Vec<_>>()
        .join(", ");
    let sync_line = sync
        .config_line()
        .map(|l| format!("  {l}\n"))
        .unwrap_or_default();
    format!(
        "# nats-server config of {name}, written by faultline.\n\
         server_name: \"{name}\"\n\
         listen: \"{client}\"\n\
         http: \"{ip}:{MONITOR_PORT}\"\n\
         cluster {{\n  name: \"faultline\"\n  listen: \"{peer}\"\n  no_advertise: true\n  routes: [{routes}]\n}}\n\
         jetstream {{\n  store_dir: \"{store}\"\n{sync_line}}}\n",
        name = node.name,
        client = node.http_addr,
        ip = node.ip,
        peer = node.peer_addr,
        store = node.data_dir.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;

    #[test]
    fn the_config_names_every_route_and_the_nodes_own_addresses() {
        let nodes = layout(3, Path::new("/tmp/run"), false);
        let text = config(1, &nodes, &SyncInterval::ServerDefault);
        for part in [
            "server_name: \"n2\"",
            "listen: \"127.0.0.12:8001\"",
            "http: \"127.0.0.12:8222\"",
            "listen: \"127.0.0.12:7001\"",
            "no_advertise: true",
            "routes: [\"nats-route://127.0.0.11:7001\", \"nats-route://127.0.0.12:7001\", \"nats-route://127.0.0.13:7001\"]",
            "store_dir: \"/tmp/run/data/n2\"",
        ] {
            assert!(text.contains(part), "{part} missing:\n{text}");
        }
        assert!(!text.contains("sync_interval"), "{text}");
        let always = config(0, &nodes, &SyncInterval::Always);
        assert!(always.contains("  sync_interval: always\n"), "{always}");
        let every = config(0, &nodes, &SyncInterval::Every("10s".into()));
        assert!(every.contains("sync_interval: \"10s\""), "{every}");
    }

    #[test]
    fn sync_intervals_parse_and_2_9_refuses_any_but_its_own() {
        assert_eq!(
            SyncInterval::parse(None).unwrap(),
            SyncInterval::ServerDefault
        );
        assert_eq!(
            SyncInterval::parse(Some("always")).unwrap(),
            SyncInterval::Always
        );
        assert_eq!(
            SyncInterval::parse(Some("500ms")).unwrap(),
            SyncInterval::Every("500ms".into())
        );
        assert!(SyncInterval::parse(Some("soon")).is_err());
        assert!(SyncInterval::parse(Some("10")).is_err());
        let old = Version(2, 9, 10);
        assert!(SyncInterval::ServerDefault.supported_by(old).is_ok());
        let err = SyncInterval::Always
            .supported_by(old)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nats-server 2.9.10 has no sync_interval"),
            "{err}"
        );
        assert!(SyncInterval::Always.supported_by(Version(2, 10, 0)).is_ok());
    }

    #[test]
    fn versions_parse_from_the_servers_answer() {
        assert_eq!(
            Version::parse("nats-server: v2.9.10\n"),
            Some(Version(2, 9, 10))
        );
        assert_eq!(
            Version::parse("nats-server: v2.10.0-beta.1"),
            Some(Version(2, 10, 0))
        );
        assert_eq!(Version::parse("something else"), None);
    }
}
