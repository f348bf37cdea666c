//! [`RemoteCluster`]: the [`Platform`] of nodes on other machines, over SSH.
//!
//! Node i runs on host i, from the binary uploaded to
//! `<data_dir>/bin/` (only when its checksum differs), with its data in
//! `<data_dir>/nX/` (emptied when a run connects: every run starts from
//! empty data), its output in `<data_dir>/nX.log` (fetched into the
//! run folder's `nodes/nX.log`) and its pid in `<data_dir>/nX.pid`. It is
//! started detached with `setsid` (its own session and process group) by a
//! shell that stays connected and prints the node's exit status, so a
//! crash is noticed without polling. Kill, pause and resume are signals to
//! the process group. Partitions and packet loss are one nftables table
//! of faultline's own, `inet faultline`, written whole on every host at
//! each change: every rule names its source and destination node
//! addresses, so the same table is right on separate machines and on
//! hosts that share a network namespace; healing both deletes it. Power
//! loss and corruption need faultline's filesystem layer on the host,
//! which this platform does not mount: they are refused.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faultline_diskfs::{PowerLossOptions, PowerLossReport};
use futures_util::future::join_all;

use super::clean::{clean_all, TABLE};
use super::preflight::{self, remote_bin};
use super::ssh::{Conn, Remote};
use super::Host;
use crate::cluster::NodeCommand;
use crate::cluster::{ClusterError, Exit, NodeSpec, NodeState, Platform, Signal, PEER_PORT};
use crate::cut::Cut;
use crate::disk::{CorruptHow, Damage};

/// How long a node's start may take to report its pid.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The node specs of a cluster on `hosts`: node i binds host i's address,
/// keeps its data in the host's data directory, its log in `dir/nodes/`.
pub fn layout(hosts: &[Host], dir: &Path) -> Vec<NodeSpec> {
    hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = format!("n{}", i + 1);
            NodeSpec {
                peer_addr: (h.bind, crate::cluster::PEER_PORT).into(),
                http_addr: (h.bind, crate::cluster::HTTP_PORT).into(),
                data_dir: PathBuf::from(format!("{}/{name}", h.data_dir)),
                backing_dir: None,
                log_path: dir.join("nodes").join(format!("{name}.log")),
                gid: None,
                ip: h.bind,
                name,
            }
        })
        .collect()
}

/// The body of the `inet faultline` table for a partition and a loss
/// share; None when neither is in force. Every rule names both addresses.
pub fn table_rules(cut: Option<&Cut>, loss: Option<u8>, nodes: &[NodeSpec]) -> Option<String> {
    if cut.is_none() && loss.is_none() {
        return None;
    }
    let mut out =
        String::from("  chain output {\n    type filter hook output priority 0; policy accept;\n");
    if let Some(cut) = cut {
        let mut by_source: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); nodes.len()];
        for &(i, j) in &cut.blocked {
            by_source[i].insert(j);
            by_source[j].insert(i);
        }
        for (i, dsts) in by_source.iter().enumerate() {
            if !dsts.is_empty() {
                out.push_str(&format!(
                    "    ip saddr {} ip daddr {{ {} }} drop\n",
                    nodes[i].ip,
                    addresses(dsts.iter().copied(), nodes)
                ));
            }
        }
    }
    if let Some(p) = loss {
        let share = if p >= 100 {
            String::new()
        } else {
            format!("numgen random mod 100 < {p} ")
        };
        for i in 0..nodes.len() {
            let others = addresses((0..nodes.len()).filter(|&j| j != i), nodes);
            if others.is_empty() {
                continue;
            }
            for dir in ["dport", "sport"] {
                out.push_str(&format!(
                    "    ip saddr {} ip daddr {{ {others} }} tcp {dir} {PEER_PORT} {share}drop\n",
                    nodes[i].ip
                ));
            }
        }
    }
    out.push_str("  }");
    Some(out)
}

fn addresses(idx: impl Iterator<Item = usize>, nodes: &[NodeSpec]) -> String {
    idx.map(|j| nodes[j].ip.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

struct Node {
    state: NodeState,
    pid: Option<u32>,
    /// Bumped at every start and kill, so a late exit report of an older
    /// process is ignored.
    generation: u64,
}

/// Nodes on remote hosts, one per host.
pub struct RemoteCluster {
    remote: Remote,
    conns: Vec<Conn>,
    specs: Vec<NodeSpec>,
    commands: Vec<NodeCommand>,
    nodes: Vec<Node>,
    exits_tx: mpsc::Sender<(usize, u64, Exit)>,
    exits: Mutex<mpsc::Receiver<(usize, u64, Exit)>>,
    cut: Option<Cut>,
    loss: Option<u8>,
    shut: bool,
    _control: tempfile::TempDir,
}

/// A node's command line as it runs on `host` (the program at its
/// uploaded path).
pub fn remote_command(mut command: NodeCommand, host: &Host) -> NodeCommand {
    command.program = PathBuf::from(remote_bin(host, &command.program));
    command
}

impl RemoteCluster {
    /// Checks every host (see [`preflight`]), refusing with every problem
    /// before touching any; then uploads the node binary where it
    /// differs and removes what an earlier run left. Node `i` runs
    /// `commands[i]` (its program uploaded). Nothing starts yet.
    pub fn connect(
        commands: Vec<NodeCommand>,
        hosts: &[Host],
        specs: Vec<NodeSpec>,
        max_skew: f64,
    ) -> anyhow::Result<RemoteCluster> {
        use anyhow::Context;
        let local_bin = commands[0].program.clone();
        let remote = Remote::new().context("starting the SSH runtime")?;
        let control =
            super::control::folder().context("making a folder for SSH control sockets")?;
        let checked = preflight::check(&remote, hosts, control.path(), &local_bin, max_skew)?;
        let conns = ready_hosts(&remote, checked, &local_bin, &specs)?;
        let commands = commands
            .into_iter()
            .zip(hosts)
            .map(|(c, h)| remote_command(c, h))
            .collect();
        let (exits_tx, exits) = mpsc::channel();
        Ok(RemoteCluster {
            nodes: specs
                .iter()
                .map(|_| Node {
                    state: NodeState::Killed,
                    pid: None,
                    generation: 0,
                })
                .collect(),
            remote,
            conns,
            specs,
            commands,
            exits_tx,
            exits: Mutex::new(exits),
            cut: None,
            loss: None,
            shut: false,
            _control: control,
        })
    }

    /// The full command line of node `i` on its host.
    pub fn command_line(&self, i: usize) -> Vec<String> {
        self.commands[i].to_vec()
    }

    fn host_dir(&self, i: usize) -> &str {
        &self.conns[i].host.data_dir
    }

    fn ssh_err(&self, i: usize, e: impl std::fmt::Display) -> ClusterError {
        ClusterError::Remote {
            node: self.specs[i].name.clone(),
            message: e.to_string(),
        }
    }

    /// Writes (or deletes) the `inet faultline` table on every host.
    fn apply_table(&mut self) -> Result<(), ClusterError> {
        let script = match table_rules(self.cut.as_ref(), self.loss, &self.specs) {
            Some(body) => format!(
                "nft -f - <<'EOF'\ntable {TABLE}\ndelete table {TABLE}\ntable {TABLE} {{\n{body}\n}}\nEOF\n"
            ),
            None => format!(
                "nft -f - <<'EOF'\ntable {TABLE}\ndelete table {TABLE}\nEOF\n"
            ),
        };
        let conns = self.conns.clone();
        let results = self
            .remote
            .block(async move { join_all(conns.iter().map(|c| c.sh_ok(&script))).await })
            .map_err(|e| ClusterError::Nft {
                table: TABLE.into(),
                message: e.to_string(),
            })?;
        for r in results {
            if let Err(e) = r {
                return Err(ClusterError::Nft {
                    table: TABLE.into(),
                    message: e.to_string(),
                });
            }
        }
        Ok(())
    }

    fn fetch_log(&self, i: usize) -> io::Result<String> {
        let conn = self.conns[i].clone();
        let path = format!("{}/{}.log", self.host_dir(i), self.specs[i].name);
        let text = self
            .remote
            .block(async move {
                conn.sh_ok(&format!("cat '{path}' 2>/dev/null || true"))
                    .await
            })
            .map_err(io::Error::other)?
            .map_err(io::Error::other)?;
        if let Some(dir) = self.specs[i].log_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.specs[i].log_path, &text)?;
        Ok(text)
    }
}

fn quote(s: &str) -> String {
    shell_words::quote(s).into_owned()
}

impl Platform for RemoteCluster {
    fn nodes(&self) -> &[NodeSpec] {
        &self.specs
    }

    fn state(&self, i: usize) -> NodeState {
        self.nodes[i].state
    }

    fn start(&mut self, i: usize) -> Result<(), ClusterError> {
        if matches!(self.nodes[i].state, NodeState::Running | NodeState::Paused) {
            return Ok(());
        }
        let dir = self.host_dir(i).to_string();
        let name = self.specs[i].name.clone();
        let cmd = &self.commands[i];
        let line: Vec<String> = std::iter::once(cmd.program.display().to_string())
            .chain(cmd.args.iter().cloned())
            .map(|a| quote(&a))
            .collect();
        let script = format!(
            "mkdir -p {data} && echo '--- faultline: starting {name}' >> '{dir}/{name}.log' && \
             {{ setsid {line} >> '{dir}/{name}.log' 2>&1 < /dev/null & \
             pid=$!; echo $pid > '{dir}/{name}.pid'; echo \"pid $pid\"; wait $pid; echo \"exit $?\"; }}",
            data = quote(&self.specs[i].data_dir.display().to_string()),
            line = line.join(" ")
        );
        self.nodes[i].generation += 1;
        let generation = self.nodes[i].generation;
        let conn = self.conns[i].clone();
        let tx = self.exits_tx.clone();
        let pid = self
            .remote
            .block(async move {
                let mut lines = conn.stream(&script).await?;
                let first = tokio::time::timeout(START_TIMEOUT, lines.recv()).await;
                let pid = match first {
                    Ok(Some(l)) => l
                        .strip_prefix("pid ")
                        .and_then(|p| p.trim().parse::<u32>().ok()),
                    _ => None,
                };
                tokio::spawn(async move {
                    while let Some(l) = lines.recv().await {
                        if let Some(code) = l
                            .strip_prefix("exit ")
                            .and_then(|c| c.trim().parse::<i32>().ok())
                        {
                            let text = if code > 128 {
                                format!("signal: {}", code - 128)
                            } else {
                                format!("exit status: {code}")
                            };
                            let code = (code <= 128).then_some(code);
                            let _ = tx.send((
                                i,
                                generation,
                                Exit {
                                    code,
                                    text,
                                    after_corruption: false,
                                },
                            ));
                        }
                    }
                });
                Ok::<_, super::ssh::SshError>(pid)
            })
            .map_err(|e| self.ssh_err(i, e))?
            .map_err(|e| self.ssh_err(i, e))?;
        let Some(pid) = pid else {
            return Err(self.ssh_err(i, "the node did not start (no pid reported)"));
        };
        self.nodes[i].pid = Some(pid);
        self.nodes[i].state = NodeState::Running;
        Ok(())
    }

    fn signal(&mut self, i: usize, signal: Signal) -> Result<(), ClusterError> {
        let Some(pid) = self.nodes[i].pid else {
            return Ok(());
        };
        // A group already gone is no error (the node exited, as ESRCH
        // locally); a group that is there but refuses the signal is.
        let send = |sig: &str| {
            format!("kill -{sig} -{pid} || {{ if kill -0 -{pid} 2>/dev/null; then exit 1; fi; }}")
        };
        let script = match signal {
            Signal::Kill => format!(
                "{}; i=0; while kill -0 -{pid} 2>/dev/null && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done; true",
                send("KILL")
            ),
            Signal::Stop => send("STOP"),
            Signal::Cont => send("CONT"),
        };
        let conn = self.conns[i].clone();
        self.remote
            .block(async move { conn.sh_ok(&script).await })
            .map_err(|e| self.ssh_err(i, e))?
            .map_err(|e| ClusterError::Remote {
                node: self.specs[i].name.clone(),
                message: format!("sending {signal:?}: {e}"),
            })?;
        match signal {
            Signal::Kill => {
                self.nodes[i].generation += 1;
                self.nodes[i].pid = None;
                self.nodes[i].state = NodeState::Killed;
            }
            Signal::Stop => self.nodes[i].state = NodeState::Paused,
            Signal::Cont => self.nodes[i].state = NodeState::Running,
        }
        Ok(())
    }

    fn read_log(&self, i: usize) -> io::Result<String> {
        self.fetch_log(i)
    }

    fn set_partition(&mut self, cut: Option<&Cut>) -> Result<(), ClusterError> {
        self.cut = cut.cloned();
        self.apply_table()
    }

    fn set_packet_loss(&mut self, percent: Option<u8>) -> Result<(), ClusterError> {
        self.loss = percent;
        self.apply_table()
    }

    fn reap(&mut self) -> Vec<(usize, Exit)> {
        let got: Vec<(usize, u64, Exit)> = match self.exits.lock() {
            Ok(rx) => rx.try_iter().collect(),
            Err(_) => Vec::new(),
        };
        let mut exited = Vec::new();
        for (i, generation, exit) in got {
            let n = &mut self.nodes[i];
            if generation == n.generation
                && matches!(n.state, NodeState::Running | NodeState::Paused)
            {
                n.state = NodeState::Exited;
                n.pid = None;
                exited.push((i, exit));
            }
        }
        exited
    }

    fn power_loss(
        &mut self,
        i: usize,
        _options: PowerLossOptions,
    ) -> Result<PowerLossReport, ClusterError> {
        Err(ClusterError::Unsupported(format!(
            "power loss on {}: hosts reached over SSH do not run faultline's filesystem layer",
            self.specs[i].name
        )))
    }

    fn corrupt(
        &mut self,
        i: usize,
        _patterns: &[String],
        _how: CorruptHow,
        _bits: u32,
        _last: Option<u64>,
        _seed: u64,
    ) -> Result<Damage, ClusterError> {
        Err(ClusterError::Unsupported(format!(
            "corrupt on {}: hosts reached over SSH do not run faultline's filesystem layer",
            self.specs[i].name
        )))
    }

    /// Kills every node's process group, deletes the table, removes any
    /// mount under the data directories, and fetches the logs.
    fn shutdown(&mut self) {
        if self.shut {
            return;
        }
        self.shut = true;
        let conns = self.conns.clone();
        match self.remote.block(async move { clean_all(&conns).await }) {
            Ok(lines) => {
                for l in lines.iter().filter(|l| !l.contains("killed process group")) {
                    tracing::info!("{l}");
                }
            }
            Err(e) => eprintln!("faultline: cleaning the hosts: {e}"),
        }
        for n in &mut self.nodes {
            if matches!(n.state, NodeState::Running | NodeState::Paused) {
                n.state = NodeState::Killed;
            }
            n.pid = None;
            n.generation += 1;
        }
        for i in 0..self.specs.len() {
            if let Err(e) = self.fetch_log(i) {
                eprintln!("faultline: fetching the log of {}: {e}", self.specs[i].name);
            }
        }
    }
}

impl Drop for RemoteCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Makes the checked hosts ready for a run: uploads the node binary where
/// it differs, removes what an earlier run left (reported on stderr) and
/// this run's node files from an earlier run on the same host (and only
/// those: a run starts from empty data).
fn ready_hosts(
    remote: &Remote,
    checked: Vec<preflight::Checked>,
    local_bin: &Path,
    specs: &[NodeSpec],
) -> anyhow::Result<Vec<Conn>> {
    use anyhow::Context;
    let bytes = std::fs::read(local_bin)
        .with_context(|| format!("reading the node binary {}", local_bin.display()))?;
    let bytes = Arc::new(bytes);
    let uploads: Vec<_> = checked
        .iter()
        .filter(|c| c.upload)
        .map(|c| {
            let conn = c.conn.clone();
            let path = remote_bin(&conn.host, local_bin);
            let bytes = bytes.clone();
            async move { conn.upload(bytes.to_vec(), &path).await }
        })
        .collect();
    let conns: Vec<Conn> = checked.into_iter().map(|c| c.conn).collect();
    let cleaned_conns = conns.clone();
    let wipes: Vec<(Conn, String)> = conns
        .iter()
        .zip(specs)
        .map(|(c, spec)| {
            let dir = &c.host.data_dir;
            let name = &spec.name;
            (
                c.clone(),
                format!("rm -rf '{dir}/{name}' '{dir}/{name}.log' '{dir}/{name}.pid'"),
            )
        })
        .collect();
    let (uploaded, leftovers, wiped) = remote.block(async move {
        let up = join_all(uploads).await;
        let left = clean_all(&cleaned_conns).await;
        let wiped = join_all(wipes.iter().map(|(c, script)| c.sh_ok(script))).await;
        (up, left, wiped)
    })?;
    for r in wiped {
        r.context("removing the node files of an earlier run")?;
    }
    for r in uploaded {
        r.context("uploading the node binary")?;
    }
    for l in leftovers {
        eprintln!("faultline: left by an earlier run: {l}");
    }
    Ok(conns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Vec<Host> {
        let text: String = (0..n)
            .map(|i| format!("[[host]]\nssh = \"127.0.0.{}\"\n", 21 + i))
            .collect();
        super::super::parse(&text, Path::new("h.toml")).unwrap()
    }

    #[test]
    fn every_rule_names_source_and_destination() {
        let nodes = layout(&hosts(3), Path::new("/tmp/run"));
        assert_eq!(nodes[1].data_dir, Path::new("/var/lib/faultline/n2"));
        let cut = Cut::isolate("isolate-one", 3, &[0]);
        let rules = table_rules(Some(&cut), Some(20), &nodes).unwrap();
        assert!(
            rules.contains("ip saddr 127.0.0.21 ip daddr { 127.0.0.22, 127.0.0.23 } drop"),
            "{rules}"
        );
        assert!(
            rules.contains("ip saddr 127.0.0.22 ip daddr { 127.0.0.21 } drop"),
            "{rules}"
        );
        assert!(
            rules.contains("ip saddr 127.0.0.23 ip daddr { 127.0.0.21, 127.0.0.22 } tcp sport 7001 numgen random mod 100 < 20 drop"),
            "{rules}"
        );
        for line in rules.lines().filter(|l| l.contains("drop")) {
            assert!(
                line.contains("ip saddr") && line.contains("ip daddr"),
                "{line}"
            );
        }
        assert_eq!(table_rules(None, None, &nodes), None);
    }
}
