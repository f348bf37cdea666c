//! How a PostgreSQL node starts: the command line the platform runs, which
//! initialises the node's data directory on its first start (the primary
//! with `initdb`, a standby with `pg_basebackup` from the primary) and then
//! becomes the server.
//!
//! PostgreSQL refuses to run as root. The node runs under `unshare --user
//! --ipc --map-user=1000 --map-group=1000`: a user namespace of its own in
//! which it is uid 1000 with no capabilities outside it, mapped to the user
//! running faultline, so the files it creates are that user's (the run
//! folder, the disk-fault layer and the cleanup need nothing else); its
//! group is the node's group, so packet rules still match it. Its own IPC
//! namespace ends with its last process, so a killed server leaves no
//! System V shared memory behind, and dynamic shared memory is kept in the
//! data directory (`dynamic_shared_memory_type=mmap`) rather than in
//! `/dev/shm`. No Unix socket: clients and standbys use TCP on the node's
//! own address.

use std::path::Path;

use faultline_platform::cluster::NodeSpec;

use super::Replication;
use crate::system::NodeCommand;

/// The table the workloads use (`client.rs`), created by the primary's
/// initialisation in single-user mode, before it serves anyone.
pub const SCHEMA: &str = "CREATE TABLE kv (k text PRIMARY KEY, v jsonb);\n";

/// The node's start script: it initialises the data directory unless it
/// holds `faultline-initialised` (written and fsynced once the directory
/// is complete, so a start killed halfway begins again), then becomes the
/// server. Run by `sh -c SCRIPT postgres-node BIN DATA
/// ROLE PRIMARY_IP PORT SCHEMA SERVER_ARGS...`.
const SCRIPT: &str = r#"set -eu
bin=$1 data=$2 role=$3 primary=$4 port=$5 schema=$6
shift 6
if [ ! -e "$data/faultline-initialised" ]; then
  find "$data" -mindepth 1 -delete
  if [ "$role" = primary ]; then
    "$bin/initdb" -D "$data" -U postgres --auth=trust --data-checksums
    printf 'host all all 127.0.0.0/8 trust\nhost replication all 127.0.0.0/8 trust\n' >> "$data/pg_hba.conf"
    sync "$data/pg_hba.conf"
    printf '%s' "$schema" | "$bin/postgres" --single -D "$data" postgres > /dev/null
  else
    until "$bin/pg_basebackup" -h "$primary" -p "$port" -U postgres -D "$data" -X stream -R; do
      find "$data" -mindepth 1 -delete
      sleep 0.2
    done
  fi
  touch "$data/faultline-initialised"
  sync "$data/faultline-initialised" "$data"
fi
chmod 0700 "$data"
exec "$bin/postgres" -D "$data" "$@"
"#;

/// What every server of the cluster is started with.
pub struct ServerSettings<'a> {
    /// The folder holding `postgres`, `initdb` and `pg_basebackup`.
    pub bin_dir: &'a Path,
    /// `unshare`, which gives the server its own user namespace.
    pub unshare: &'a Path,
    /// Synchronous or asynchronous replication.
    pub replication: Replication,
    /// `--postgres-set NAME=VALUE` settings, after faultline's own.
    pub extra: &'a [String],
}

/// The command line of node `i` of `nodes`: node 0 is the primary, the
/// others its hot standbys.
pub fn command(settings: &ServerSettings<'_>, i: usize, nodes: &[NodeSpec]) -> NodeCommand {
    let node = &nodes[i];
    let primary = &nodes[0];
    let role = if i == 0 { "primary" } else { "standby" };
    let mut server = vec![
        format!("listen_addresses={}", node.ip),
        format!("port={}", node.http_addr.port()),
        "unix_socket_directories=".to_string(),
        "dynamic_shared_memory_type=mmap".to_string(),
        format!("cluster_name={}", node.name),
    ];
    if i == 0 {
        if settings.replication == Replication::Sync && nodes.len() > 1 {
            server.push("synchronous_standby_names=ANY 1 (*)".to_string());
        }
    } else {
        server.push(format!(
            "primary_conninfo=host={} port={} user=postgres application_name={}",
            primary.ip,
            primary.http_addr.port(),
            node.name
        ));
    }
    server.extend(settings.extra.iter().cloned());
    let mut args: Vec<String> = [
        "--user",
        "--ipc",
        "--map-user=1000",
        "--map-group=1000",
        "--",
        "/bin/sh",
        "-c",
        SCRIPT,
        "postgres-node",
    ]
    .map(str::to_string)
    .to_vec();
    args.extend([
        settings.bin_dir.display().to_string(),
        node.data_dir.display().to_string(),
        role.to_string(),
        primary.ip.to_string(),
        primary.http_addr.port().to_string(),
        SCHEMA.to_string(),
    ]);
    args.extend(server.into_iter().flat_map(|s| ["-c".to_string(), s]));
    NodeCommand {
        program: settings.unshare.to_path_buf(),
        args,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_platform::cluster::layout;

    fn settings(replication: Replication) -> ServerSettings<'static> {
        ServerSettings {
            bin_dir: Path::new("/usr/lib/postgresql/15/bin"),
            unshare: Path::new("/usr/bin/unshare"),
            replication,
            extra: &[],
        }
    }

    #[test]
    fn the_primary_initialises_and_standbys_copy_it_then_each_becomes_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = layout(3, dir.path(), false);
        let p = command(&settings(Replication::Sync), 0, &nodes);
        assert_eq!(p.program, Path::new("/usr/bin/unshare"));
        assert!(p.args.contains(&"primary".to_string()), "{:?}", p.args);
        assert!(p
            .args
            .contains(&format!("listen_addresses={}", nodes[0].ip)));
        assert!(p
            .args
            .contains(&"synchronous_standby_names=ANY 1 (*)".to_string()));
        assert!(!p.args.iter().any(|a| a.starts_with("primary_conninfo")));
        let s = command(&settings(Replication::Async), 2, &nodes);
        assert!(s.args.contains(&"standby".to_string()));
        assert!(s.args.contains(&format!(
            "primary_conninfo=host={} port={} user=postgres application_name=n3",
            nodes[0].ip,
            nodes[0].http_addr.port()
        )));
        assert!(!s.args.iter().any(|a| a.starts_with("synchronous")));
    }

    #[test]
    fn a_single_node_has_no_synchronous_standby_to_wait_for() {
        let dir = tempfile::tempdir().unwrap();
        let nodes = layout(1, dir.path(), false);
        let p = command(&settings(Replication::Sync), 0, &nodes);
        assert!(!p.args.iter().any(|a| a.starts_with("synchronous")));
    }
}
