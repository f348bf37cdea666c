//! The nodes of a run, and where they run.
//!
//! [`Platform`] is the small interface every fault and the run loop go
//! through: start a node, signal it, read its log, apply and remove
//! packet-filter rules. [`LocalCluster`] implements it with child processes
//! in the run's private namespace; [`crate::hosts::RemoteCluster`] with
//! processes on other machines over SSH; pods would be one more.
//!
//! Every node is a child process in its own process group, started with
//! `PR_SET_PDEATHSIG = SIGKILL` (it dies with the harness, even one killed by
//! SIGKILL) and killed with its whole group when the cluster is dropped
//! (normal end, error, panic or Ctrl-C).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde::Serialize;

use faultline_diskfs::{PowerLossOptions, PowerLossReport};

use crate::cut::Cut;
use crate::disk::{CorruptHow, Damage, DiskError, DiskSettings, Disks};
use crate::nft;

pub use crate::node::{layout, node_ip, NodeCommand, NodeSpec, GID_BASE, HTTP_PORT, PEER_PORT};

/// What a node process is doing, as far as the harness knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Its process runs (as far as the harness knows; `reap` notices exits).
    Running,
    /// Frozen by SIGSTOP until a SIGCONT.
    Paused,
    /// Killed by the harness (SIGKILL), not restarted yet.
    Killed,
    /// Exited on its own (a crash).
    Exited,
}

/// A signal the harness sends to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGKILL to the node's process group: no chance to flush or clean up.
    Kill,
    /// SIGSTOP to the node's process group: frozen, sockets open.
    Stop,
    /// SIGCONT to the node's process group: a paused node runs again.
    Cont,
}

/// Errors of starting or controlling nodes.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The node binary could not be started.
    #[error("starting {node} ({bin}): {source}")]
    Spawn {
        /// The node's name (n1, n2, ...).
        node: String,
        /// The program that could not start.
        bin: PathBuf,
        /// Why the OS refused (missing file, no permission, ...).
        source: io::Error,
    },
    /// A file of the node could not be prepared.
    #[error("preparing {path}: {source}")]
    Files {
        /// The file or folder.
        path: PathBuf,
        /// Why the OS refused.
        source: io::Error,
    },
    /// A signal could not be delivered to a node's process group.
    #[error("sending {signal:?} to {node}: {source}")]
    Signal {
        /// The node's name (n1, n2, ...).
        node: String,
        /// The signal that was refused.
        signal: Signal,
        /// Why the OS refused (usually: the group is already gone).
        source: io::Error,
    },
    /// The `nft` command refused a rule set (or is missing).
    #[error("nft failed applying rules to table {table}: {message}")]
    Nft {
        /// The nftables table (one per network fault kind).
        table: String,
        /// nft's own error output.
        message: String,
    },
    /// Packet rules were asked for where they are not allowed.
    #[error("packet-filter rules are not available with --net host")]
    NoFirewall,
    /// The disk-fault layer or a corruption failed.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// A node on a remote host could not be controlled over SSH.
    #[error("{node}: {message}")]
    Remote {
        /// The node's name (n1, n2, ...).
        node: String,
        /// What failed, naming the host.
        message: String,
    },
    /// A fault this platform cannot inject.
    #[error("{0}")]
    Unsupported(String),
}

/// The exit status faultline-node gives when it crashes on purpose at an
/// armed failpoint (the node's `failpoints::EXIT_CODE`): an injected fault,
/// not a failure of the node.
pub const FAILPOINT_EXIT: i32 = 86;

/// How a node's process ended on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code, when it exited rather than died of a signal.
    pub code: Option<i32>,
    /// The status as the OS describes it.
    pub text: String,
    /// Whether the node's files were corrupted on purpose since the run
    /// began: an exit is then its answer to the damage (refusing to start),
    /// not a crash.
    pub after_corruption: bool,
}

impl Exit {
    /// Whether the node crashed at an armed failpoint (on purpose).
    pub fn is_failpoint(&self) -> bool {
        self.code == Some(FAILPOINT_EXIT)
    }

    /// Whether the exit is a crash the verdict reports: neither an injected
    /// one (failpoint) nor a damaged node's answer to its damage.
    pub fn is_crash(&self) -> bool {
        !self.is_failpoint() && !self.after_corruption
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Where nodes run: the one interface faults and the run loop use.
pub trait Platform: Send {
    /// Every node's spec, by index (the order of `layout`).
    fn nodes(&self) -> &[NodeSpec];
    /// What node `i` is doing.
    fn state(&self, i: usize) -> NodeState;
    /// Starts (or restarts) node `i`; a running node is left alone.
    fn start(&mut self, i: usize) -> Result<(), ClusterError>;
    /// Sends `signal` to node `i` (and its process group).
    fn signal(&mut self, i: usize, signal: Signal) -> Result<(), ClusterError>;
    /// Node `i`'s log so far.
    fn read_log(&self, i: usize) -> io::Result<String>;
    /// Enforces `cut` between the nodes, replacing any partition in force
    /// (atomically: no moment of a whole network in between); None heals
    /// the partition (healing a whole network is fine).
    fn set_partition(&mut self, cut: Option<&Cut>) -> Result<(), ClusterError>;
    /// Drops `percent` % of the packets between nodes at random, replacing
    /// any earlier share; None stops dropping.
    fn set_packet_loss(&mut self, percent: Option<u8>) -> Result<(), ClusterError>;
    /// Notices nodes that exited on their own since the last call.
    fn reap(&mut self) -> Vec<(usize, Exit)>;
    /// Returns node `i`'s files to what was durable (fsynced) on its disk:
    /// a power loss. The node must be down. Refused where the disk-fault
    /// layer is not mounted.
    fn power_loss(
        &mut self,
        i: usize,
        options: PowerLossOptions,
    ) -> Result<PowerLossReport, ClusterError> {
        let _ = options;
        Err(DiskError::NoLayer {
            node: self.nodes()[i].name.clone(),
        }
        .into())
    }
    /// Damages one file of node `i` (down) matching `patterns` (globs
    /// relative to its data directory), choices drawn from `seed`: see
    /// [`crate::disk::corrupt`] (`last`: draw the damage in the last bytes
    /// of the file's written part only).
    fn corrupt(
        &mut self,
        i: usize,
        patterns: &[String],
        how: CorruptHow,
        bits: u32,
        last: Option<u64>,
        seed: u64,
    ) -> Result<Damage, ClusterError> {
        Ok(crate::disk::corrupt(
            &self.nodes()[i],
            patterns,
            how,
            bits,
            last,
            seed,
        )?)
    }
    /// Stops every node and removes every rule: the end of a run.
    fn shutdown(&mut self);
}

/// One node's process as a local platform holds it.
pub struct Proc {
    /// The running process (None when down).
    pub child: Option<Child>,
    /// What the node is doing.
    pub state: NodeState,
}

impl Proc {
    /// Sends `signal` to the process group the child leads (node `name`),
    /// and follows its state; a kill also reaps the child. Returns whether
    /// the node was killed. A node already down is left alone.
    pub fn signal(&mut self, name: &str, signal: Signal) -> Result<bool, ClusterError> {
        let Some(child) = self.child.as_mut() else {
            return Ok(false);
        };
        let sig = match signal {
            Signal::Kill => libc::SIGKILL,
            Signal::Stop => libc::SIGSTOP,
            Signal::Cont => libc::SIGCONT,
        };
        // SAFETY: signalling the group the child leads.
        if unsafe { libc::killpg(child.id() as libc::pid_t, sig) } != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::ESRCH) {
                return Err(ClusterError::Signal {
                    node: name.to_string(),
                    signal,
                    source: err,
                });
            }
        }
        match signal {
            Signal::Kill => {
                let _ = child.wait();
                self.child = None;
                self.state = NodeState::Killed;
                return Ok(true);
            }
            Signal::Stop => self.state = NodeState::Paused,
            Signal::Cont => self.state = NodeState::Running,
        }
        Ok(false)
    }

    /// How the process ended, if it exited on its own since the last look
    /// (it is then down).
    pub fn exited(&mut self, after_corruption: bool) -> Option<Exit> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        self.state = NodeState::Exited;
        Some(Exit {
            code: status.code(),
            text: status.to_string(),
            after_corruption,
        })
    }

    /// Kills the process group and reaps the child (node `name`); returns
    /// whether there was one to kill.
    pub fn kill(&mut self, name: &str) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        // SAFETY: killpg on the group the child leads.
        unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = child.kill();
        if let Err(e) = child.wait() {
            tracing::warn!("waiting for {name}: {e}");
        }
        self.state = NodeState::Killed;
        true
    }
}

/// Opens (appending) node `spec`'s log, creating its data and log folders,
/// and marks the start in it.
pub fn open_node_log(spec: &NodeSpec) -> Result<File, ClusterError> {
    let files = |path: &Path, e: io::Error| ClusterError::Files {
        path: path.to_path_buf(),
        source: e,
    };
    std::fs::create_dir_all(&spec.data_dir).map_err(|e| files(&spec.data_dir, e))?;
    if let Some(dir) = spec.log_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| files(dir, e))?;
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_path)
        .map_err(|e| files(&spec.log_path, e))?;
    let _ = writeln!(log, "--- faultline: starting {}", spec.name);
    Ok(log)
}

/// Makes `cmd` start in a process group of its own, die with the harness
/// (also if the harness dies before the child is set up), and take group
/// `gid` when given.
pub fn node_process(cmd: &mut Command, gid: Option<u32>) {
    cmd.process_group(0);
    // SAFETY: plain syscalls.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The harness died between fork and prctl: die now.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            if let Some(g) = gid {
                if libc::setgid(g) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// A cluster of local node processes.
pub struct LocalCluster {
    commands: Vec<NodeCommand>,
    specs: Vec<NodeSpec>,
    procs: Vec<Proc>,
    firewall: bool,
    corrupted: Vec<bool>,
    disks: Option<Disks>,
}

impl LocalCluster {
    /// Mounts the disk-fault layer over the nodes' data directories (those
    /// with a backing directory, see [`crate::disk::place_layers`]), before
    /// any node starts. Needs a mount namespace of the run's own.
    pub fn mount_disks(&mut self, settings: DiskSettings) -> Result<(), ClusterError> {
        self.disks = Some(Disks::mount(&self.specs, settings)?);
        Ok(())
    }

    /// Replaces packet-filter table `table` with `rules` (nft syntax, the
    /// body of an `ip` table).
    fn apply_rules(&mut self, table: &str, rules: &str) -> Result<(), ClusterError> {
        if !self.firewall {
            return Err(ClusterError::NoFirewall);
        }
        // Declaring then deleting makes the replacement atomic and idempotent.
        let script = format!(
            "table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n{rules}\n}}\n"
        );
        run_nft(table, &script)
    }

    /// Removes packet-filter table `table` (absent is fine).
    fn remove_rules(&mut self, table: &str) -> Result<(), ClusterError> {
        if !self.firewall {
            return Ok(());
        }
        run_nft(
            table,
            &format!("table ip {table}\ndelete table ip {table}\n"),
        )
    }

    /// A cluster of `specs`, node `i` started with `commands[i]` (its
    /// system's command line). `firewall`: whether packet rules may be
    /// applied (only inside the private namespace). Nothing starts yet.
    pub fn new(commands: Vec<NodeCommand>, specs: Vec<NodeSpec>, firewall: bool) -> LocalCluster {
        let procs = specs
            .iter()
            .map(|_| Proc {
                child: None,
                state: NodeState::Killed,
            })
            .collect();
        LocalCluster {
            commands,
            corrupted: vec![false; specs.len()],
            specs,
            procs,
            firewall,
            disks: None,
        }
    }

    /// The full command line of node `i`, for test.json.
    pub fn command_line(&self, i: usize) -> Vec<String> {
        self.commands[i].to_vec()
    }

    /// Starts every node (each a process group of its own).
    pub fn start_all(&mut self) -> Result<(), ClusterError> {
        for i in 0..self.specs.len() {
            self.start(i)?;
        }
        Ok(())
    }

    /// The process ids of the nodes now alive (for tests and diagnostics).
    pub fn pids(&self) -> Vec<u32> {
        self.procs
            .iter()
            .filter_map(|p| p.child.as_ref().map(Child::id))
            .collect()
    }

    fn kill_all(&mut self) {
        for (p, spec) in self.procs.iter_mut().zip(&self.specs) {
            p.kill(&spec.name);
        }
    }

    fn spawn(&self, i: usize) -> Result<Child, ClusterError> {
        let spec = &self.specs[i];
        let log = open_node_log(spec)?;
        let err_log = log.try_clone().map_err(|source| ClusterError::Files {
            path: spec.log_path.clone(),
            source,
        })?;
        let program = &self.commands[i].program;
        let mut cmd = Command::new(program);
        cmd.args(&self.commands[i].args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log);
        node_process(&mut cmd, spec.gid);
        cmd.spawn().map_err(|source| ClusterError::Spawn {
            node: spec.name.clone(),
            bin: program.clone(),
            source,
        })
    }
}

impl Platform for LocalCluster {
    fn nodes(&self) -> &[NodeSpec] {
        &self.specs
    }

    fn state(&self, i: usize) -> NodeState {
        self.procs[i].state
    }

    fn start(&mut self, i: usize) -> Result<(), ClusterError> {
        match self.procs[i].state {
            NodeState::Running | NodeState::Paused => return Ok(()),
            NodeState::Killed | NodeState::Exited => {}
        }
        if let Some(mut old) = self.procs[i].child.take() {
            let _ = old.wait();
        }
        let child = self.spawn(i)?;
        self.procs[i] = Proc {
            child: Some(child),
            state: NodeState::Running,
        };
        Ok(())
    }

    fn signal(&mut self, i: usize, signal: Signal) -> Result<(), ClusterError> {
        self.procs[i].signal(&self.specs[i].name, signal)?;
        Ok(())
    }

    fn read_log(&self, i: usize) -> io::Result<String> {
        let bytes = std::fs::read(&self.specs[i].log_path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn set_partition(&mut self, cut: Option<&Cut>) -> Result<(), ClusterError> {
        match cut {
            Some(cut) => {
                let rules = nft::partition_rules(cut, &self.specs);
                self.apply_rules(nft::PARTITION_TABLE, &rules)
            }
            None => self.remove_rules(nft::PARTITION_TABLE),
        }
    }

    fn set_packet_loss(&mut self, percent: Option<u8>) -> Result<(), ClusterError> {
        match percent {
            Some(p) => self.apply_rules(nft::DROP_TABLE, &nft::drop_rules(p)),
            None => self.remove_rules(nft::DROP_TABLE),
        }
    }

    /// Kills every node's process group and waits for them, then unmounts
    /// the disk layers. Called by drop as well. The rules die with the
    /// namespace.
    fn shutdown(&mut self) {
        self.kill_all();
        if let Some(d) = self.disks.as_mut() {
            d.unmount_all();
        }
    }

    fn power_loss(
        &mut self,
        i: usize,
        options: PowerLossOptions,
    ) -> Result<PowerLossReport, ClusterError> {
        match self.disks.as_mut() {
            Some(d) => Ok(d.power_loss(i, options)?),
            None => Err(DiskError::NoLayer {
                node: self.specs[i].name.clone(),
            }
            .into()),
        }
    }

    fn corrupt(
        &mut self,
        i: usize,
        patterns: &[String],
        how: CorruptHow,
        bits: u32,
        last: Option<u64>,
        seed: u64,
    ) -> Result<Damage, ClusterError> {
        let damage = crate::disk::corrupt(&self.specs[i], patterns, how, bits, last, seed)?;
        self.corrupted[i] |= damage.file.is_some();
        Ok(damage)
    }

    fn reap(&mut self) -> Vec<(usize, Exit)> {
        let corrupted = &self.corrupted;
        self.procs
            .iter_mut()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.exited(corrupted[i])?)))
            .collect()
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs `nft -f -` with `script` on stdin.
pub fn run_nft(table: &str, script: &str) -> Result<(), ClusterError> {
    let fail = |message: String| ClusterError::Nft {
        table: table.to_string(),
        message,
    };
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run nft ({e}); install nftables")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| fail(format!("writing the rules: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for nft: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(fail(format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            script
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_gives_each_node_its_own_address_and_files() {
        let specs = layout(3, Path::new("/tmp/run"), true);
        assert_eq!(specs[0].peer_addr.to_string(), "127.0.0.11:7001");
        assert_eq!(specs[2].http_addr.to_string(), "127.0.0.13:8001");
        assert_eq!(specs[1].log_path, Path::new("/tmp/run/nodes/n2.log"));
        assert_eq!(specs[1].gid, Some(GID_BASE + 2));
    }

    #[test]
    fn processes_are_killed_with_their_group_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        // `sh -c` ignores the node arguments; it starts a grandchild in the
        // same group, which must die too.
        let script = dir.path().join("node.sh");
        std::fs::write(&script, "#!/bin/sh\nsleep 300 &\nexec sleep 300\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let specs = layout(2, dir.path(), false);
        let commands = (0..specs.len())
            .map(|_| NodeCommand {
                program: script.clone(),
                args: vec![],
            })
            .collect();
        let mut c = LocalCluster::new(commands, specs, false);
        c.start_all().unwrap();
        assert_eq!(c.pids().len(), 2);
        std::thread::sleep(std::time::Duration::from_millis(200));
        c.signal(0, Signal::Stop).unwrap();
        assert_eq!(c.state(0), NodeState::Paused);
        c.signal(0, Signal::Cont).unwrap();
        c.signal(1, Signal::Kill).unwrap();
        assert_eq!(c.state(1), NodeState::Killed);
        c.start(1).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let groups: Vec<i32> = c.pids().iter().map(|&p| p as i32).collect();
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().all(|&g| live_in_group(g) == 2));
        drop(c);
        // A killed grandchild is reaped by init, not by the cluster: give it
        // a moment (bounded) to stop being listed as live.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while groups.iter().any(|&g| live_in_group(g) > 0) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for g in groups {
            assert_eq!(live_in_group(g), 0, "process group {g} survived");
        }
    }

    /// Processes of group `g` that are not zombies.
    fn live_in_group(g: i32) -> usize {
        let mut n = 0;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // Fields after the command name: state ppid pgrp ...
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() > 2 && fields[2] == g.to_string() && fields[0] != "Z" {
                n += 1;
            }
        }
        n
    }
}
