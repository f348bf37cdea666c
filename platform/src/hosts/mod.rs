//! Clusters on real machines, reached over SSH: `faultline run --hosts
//! FILE` or `--ssh a,b,c`, and `faultline clean --hosts FILE`.
//!
//! - this file: the hosts file and the command-line options, read into one
//!   [`Host`] per node (node i runs on host i);
//! - [`ssh`]: the SSH sessions (the `openssh` crate: multiplexed master
//!   connections over the system's `ssh` client), driven from the
//!   harness's synchronous fault path;
//! - [`preflight`]: every host checked before any is touched;
//! - [`platform`]: [`RemoteCluster`], the [`crate::cluster::Platform`] of
//!   remote nodes;
//! - [`clean`]: what a run leaves on a host, and its removal.
//! - [`control`]: the local folders of SSH control sockets, and the masters a
//!   killed harness leaves.
//!
//! A hosts file:
//!
//! ```toml
//! [defaults]                   # every host's, unless it says otherwise
//! user = "root"
//! port = 22
//! key = "~/.ssh/faultline"     # or agent = true (SSH_AUTH_SOCK)
//! data_dir = "/var/lib/faultline"
//!
//! [[host]]
//! ssh = "10.0.0.11"            # where to reach it
//! bind = "10.0.0.11"           # the node's own address (default: ssh)
//!
//! [[host]]
//! ssh = "db2.example.net"
//! bind = "10.0.0.12"
//! ```

pub mod clean;
pub mod control;
pub mod platform;
pub mod preflight;
pub mod ssh;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

pub use platform::RemoteCluster;

/// The SSH port when none is given.
pub const DEFAULT_PORT: u16 = 22;
/// Where nodes keep their files when no `data_dir` is given.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/faultline";

/// `faultline run` options that put the nodes on other machines.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct HostArgs {
    /// A TOML file of the hosts the nodes run on (one node per host; see
    /// the README's "Real machines"): SSH address, user, key or agent,
    /// port, the address the node binds, a data directory.
    #[arg(long, value_name = "FILE", conflicts_with = "ssh")]
    pub hosts: Option<PathBuf>,
    /// The hosts as a comma list of addresses (each also the node's bind
    /// address), with --ssh-user, --ssh-port, --ssh-key, --ssh-data-dir.
    #[arg(long, value_name = "HOST,HOST,...", value_delimiter = ',')]
    pub ssh: Vec<String>,
    /// --ssh: the user to log in as.
    #[arg(long, value_name = "USER", requires = "ssh")]
    pub ssh_user: Option<String>,
    /// --ssh: the SSH port.
    #[arg(long, value_name = "PORT", requires = "ssh")]
    pub ssh_port: Option<u16>,
    /// --ssh: the private key (default: the agent, then ssh's own defaults).
    #[arg(long, value_name = "FILE", requires = "ssh")]
    pub ssh_key: Option<PathBuf>,
    /// --ssh: where nodes keep their files on each host.
    #[arg(long, value_name = "DIR", requires = "ssh")]
    pub ssh_data_dir: Option<String>,
    /// Largest clock difference allowed between this machine and a host, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    pub max_clock_skew: f64,
}

impl HostArgs {
    /// Whether the nodes run on other machines.
    pub fn remote(&self) -> bool {
        self.hosts.is_some() || !self.ssh.is_empty()
    }

    /// The hosts these options name (None: local nodes).
    pub fn load(&self) -> Result<Option<Vec<Host>>, HostsError> {
        if let Some(path) = &self.hosts {
            let text = std::fs::read_to_string(path).map_err(|source| HostsError::Read {
                path: path.clone(),
                source,
            })?;
            return parse(&text, path).map(Some);
        }
        if self.ssh.is_empty() {
            return Ok(None);
        }
        let defaults = Entry {
            user: self.ssh_user.clone(),
            port: self.ssh_port,
            key: self.ssh_key.clone(),
            data_dir: self.ssh_data_dir.clone(),
            ..Entry::default()
        };
        let entries: Vec<Entry> = self
            .ssh
            .iter()
            .map(|a| Entry {
                ssh: Some(a.trim().to_string()),
                ..Entry::default()
            })
            .collect();
        build(&defaults, &entries, Path::new("--ssh")).map(Some)
    }
}

/// How a host's key is checked against `known_hosts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KnownHosts {
    /// Only hosts already known (StrictHostKeyChecking=yes).
    Strict,
    /// New hosts are added, changed keys refused (accept-new).
    #[default]
    Add,
    /// Any key is accepted: only for throw-away test machines.
    Accept,
}

/// One machine a node runs on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    /// How messages name it: `user@address:port`.
    pub label: String,
    /// The SSH address (name or IP).
    pub address: String,
    /// The SSH port.
    pub port: u16,
    /// The user to log in as (None: ssh's own default).
    pub user: Option<String>,
    /// The private key (None: the agent or ssh's defaults).
    pub key: Option<PathBuf>,
    /// The address the node binds (and partition rules name).
    pub bind: Ipv4Addr,
    /// Where the node keeps its files on the host.
    pub data_dir: String,
    /// How the host's key is checked.
    pub known_hosts: KnownHosts,
    /// A known_hosts file of its own (None: ssh's default).
    pub known_hosts_file: Option<PathBuf>,
}

/// What is wrong with the hosts.
#[derive(Debug, thiserror::Error)]
pub enum HostsError {
    /// The file could not be read.
    #[error("reading the hosts file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML of the hosts file's shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// toml's message (with line and column).
        message: String,
    },
    /// One host's entry is wrong.
    #[error("{path}: host {index} ({name}): {message}")]
    Host {
        /// The file (or `--ssh`).
        path: PathBuf,
        /// 1-based position.
        index: usize,
        /// Its address as given.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// No host at all.
    #[error("{0}: no [[host]] entries")]
    Empty(PathBuf),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    ssh: Option<String>,
    user: Option<String>,
    port: Option<u16>,
    key: Option<PathBuf>,
    agent: Option<bool>,
    bind: Option<String>,
    data_dir: Option<String>,
    known_hosts: Option<KnownHosts>,
    known_hosts_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    defaults: Entry,
    #[serde(default)]
    host: Vec<Entry>,
}

/// Parses a hosts file's text (`path` names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Host>, HostsError> {
    let file: File = toml::from_str(text).map_err(|e| HostsError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    build(&file.defaults, &file.host, path)
}

fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

fn build(defaults: &Entry, entries: &[Entry], path: &Path) -> Result<Vec<Host>, HostsError> {
    if entries.is_empty() {
        return Err(HostsError::Empty(path.to_path_buf()));
    }
    let mut hosts: Vec<Host> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        let bad = |message: String| HostsError::Host {
            path: path.to_path_buf(),
            index: i + 1,
            name: e.ssh.clone().unwrap_or_else(|| "?".into()),
            message,
        };
        let host = host_of(defaults, e).map_err(bad)?;
        for (what, k) in [
            ("SSH address", format!("{}:{}", host.address, host.port)),
            ("node address", host.bind.to_string()),
        ] {
            if let Some(first) = seen.insert(format!("{what} {k}"), i + 1) {
                return Err(bad(format!(
                    "listed twice: host {first} has the same {what} {k}"
                )));
            }
        }
        hosts.push(host);
    }
    Ok(hosts)
}

/// One entry of the hosts file with the defaults filled in, or what is
/// wrong with it.
fn host_of(defaults: &Entry, e: &Entry) -> Result<Host, String> {
    let address = e
        .ssh
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or("`ssh` (the address to reach it) is missing")?;
    let user = e.user.clone().or_else(|| defaults.user.clone());
    let port = e.port.or(defaults.port).unwrap_or(DEFAULT_PORT);
    let agent = e.agent.or(defaults.agent).unwrap_or(false);
    if agent && e.key.is_some() {
        return Err("give `key` or `agent = true`, not both".into());
    }
    let key = match agent {
        true => None,
        false => e
            .key
            .clone()
            .or_else(|| defaults.key.clone())
            .map(|k| expand_home(&k)),
    };
    let bind_text = e.bind.clone().unwrap_or_else(|| address.clone());
    let bind: Ipv4Addr = bind_text.parse().map_err(|_| {
        format!(
            "`bind` {bind_text:?} is not an IPv4 address (the node's own address; \
             give `bind` when `ssh` is a name)"
        )
    })?;
    let data_dir = e
        .data_dir
        .clone()
        .or_else(|| defaults.data_dir.clone())
        .unwrap_or_else(|| DEFAULT_DATA_DIR.into());
    if !data_dir.starts_with('/') || data_dir.contains(['\'', '\n']) || data_dir == "/" {
        return Err(format!(
            "`data_dir` {data_dir:?} must be an absolute folder other than / (no quotes)"
        ));
    }
    let label = format!(
        "{}{address}:{port}",
        user.as_deref().map(|u| format!("{u}@")).unwrap_or_default()
    );
    Ok(Host {
        label,
        address,
        port,
        user,
        key,
        bind,
        data_dir,
        known_hosts: e.known_hosts.or(defaults.known_hosts).unwrap_or_default(),
        known_hosts_file: e
            .known_hosts_file
            .clone()
            .or_else(|| defaults.known_hosts_file.clone())
            .map(|k| expand_home(&k)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_file_reads_with_defaults_and_overrides() {
        let text = "[defaults]\nuser = \"root\"\nkey = \"/k\"\ndata_dir = \"/srv/f\"\n\
                    [[host]]\nssh = \"127.0.0.21\"\n\
                    [[host]]\nssh = \"db2\"\nbind = \"127.0.0.22\"\nport = 2222\nagent = true\n";
        let hosts = parse(text, Path::new("h.toml")).unwrap();
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0].label, "root@127.0.0.21:22");
        assert_eq!(hosts[0].key.as_deref(), Some(Path::new("/k")));
        assert_eq!(hosts[1].bind, Ipv4Addr::new(127, 0, 0, 22));
        assert_eq!(hosts[1].key, None);
        assert_eq!(hosts[1].data_dir, "/srv/f");
        assert_eq!(hosts[1].port, 2222);
    }

    #[test]
    fn ssh_lists_take_the_common_options() {
        let args = HostArgs {
            ssh: vec!["127.0.0.21".into(), "127.0.0.22".into()],
            ssh_user: Some("admin".into()),
            ssh_port: Some(2200),
            ssh_data_dir: Some("/srv/fl".into()),
            ..HostArgs::default()
        };
        let hosts = args.load().unwrap().unwrap();
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[1].label, "admin@127.0.0.22:2200");
        assert_eq!(hosts[1].data_dir, "/srv/fl");
        assert_eq!(hosts[0].bind, Ipv4Addr::new(127, 0, 0, 21));
        assert!(HostArgs::default().load().unwrap().is_none());
    }

    #[test]
    fn bad_hosts_are_named() {
        let twice = "[[host]]\nssh = \"127.0.0.21\"\n[[host]]\nssh = \"127.0.0.21\"\n";
        let e = parse(twice, Path::new("h.toml")).unwrap_err().to_string();
        assert!(
            e.contains("h.toml: host 2 (127.0.0.21): listed twice: host 1"),
            "{e}"
        );
        let name = "[[host]]\nssh = \"db1\"\n";
        let e = parse(name, Path::new("h.toml")).unwrap_err().to_string();
        assert!(e.contains("host 1 (db1)") && e.contains("bind"), "{e}");
        let typo = "[[host]]\nssh = \"127.0.0.21\"\nusr = \"x\"\n";
        let e = parse(typo, Path::new("h.toml")).unwrap_err().to_string();
        assert!(e.contains("usr"), "{e}");
        assert!(matches!(
            parse("", Path::new("h.toml")),
            Err(HostsError::Empty(_))
        ));
    }
}
