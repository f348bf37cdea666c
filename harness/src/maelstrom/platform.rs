//! [`MaelstromCluster`]: Maelstrom nodes as local processes whose only
//! link to the world is the router (stdin and stdout), behind the same
//! [`Platform`] every fault goes through.
//!
//! Process faults are real: a pause is SIGSTOP / SIGCONT to the node's
//! process group, a kill is SIGKILL; a restart starts the same command in
//! the same working directory (`data/nX` of the run), and the router sends
//! `init` again with the same id. Network faults are the router's: a
//! partition becomes its grudge, packet loss its drop rate.
//!
//! A node that breaks the protocol (the router names it with the line that
//! shows it) is stopped and reported as failed on its own, as a node that
//! exits is (with its last line on stderr): the run's crash watch and the
//! `node-logs` checker see both. The platform owns the router: shutting it
//! down stops the router and writes the message journal.

use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};

use crate::nemesis::partition::Cut;
use crate::node_log::last_words;
use crate::system::NodeCommand;
use faultline_platform::cluster::{
    node_process, open_node_log, ClusterError, Exit, NodeSpec, NodeState, Platform, Proc, Signal,
};

use super::router::{BadNode, Breach, Input, Router};

/// The router as the platform and the system's clients share it.
pub type SharedRouter = Arc<Mutex<Router>>;

/// Locks the shared router, whatever a panicking holder left.
pub fn lock_router(router: &SharedRouter) -> std::sync::MutexGuard<'_, Router> {
    router.lock().unwrap_or_else(|e| e.into_inner())
}

/// Maelstrom node processes wired to the router.
pub struct MaelstromCluster {
    command: NodeCommand,
    specs: Vec<NodeSpec>,
    procs: Vec<Proc>,
    router: SharedRouter,
    input: mpsc::Sender<Input>,
    /// Breaches the router found that were reported already.
    reported: usize,
    generation: u64,
    one_way: bool,
}

impl MaelstromCluster {
    /// Makes every partition one-way (see [`one_way_grudge`]).
    pub fn with_one_way_partitions(mut self, one_way: bool) -> Self {
        self.one_way = one_way;
        self
    }

    /// A cluster of `specs` each running `command`, wired to `router`.
    /// Nothing starts yet.
    pub fn new(command: NodeCommand, specs: Vec<NodeSpec>, router: SharedRouter) -> Self {
        let procs = specs
            .iter()
            .map(|_| Proc {
                child: None,
                state: NodeState::Killed,
            })
            .collect();
        let input = lock_router(&router).sender();
        MaelstromCluster {
            command,
            specs,
            procs,
            router,
            input,
            reported: 0,
            generation: 0,
            one_way: false,
        }
    }

    fn spawn(&self, i: usize) -> Result<Child, ClusterError> {
        let spec = &self.specs[i];
        let log = open_node_log(spec)?;
        let mut cmd = Command::new(&self.command.program);
        cmd.args(&self.command.args)
            .current_dir(&spec.data_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log);
        node_process(&mut cmd, None);
        cmd.spawn().map_err(|source| ClusterError::Spawn {
            node: spec.name.clone(),
            bin: self.command.program.clone(),
            source,
        })
    }

    fn kill_all(&mut self) {
        for (i, p) in self.procs.iter_mut().enumerate() {
            if p.kill(&self.specs[i].name) {
                let _ = self.input.send(Input::Detach { node: i });
            }
        }
    }

    /// The nodes that exited on their own since the last call, each told
    /// by its last line on stderr.
    fn exits(&mut self) -> Vec<(usize, Exit)> {
        let mut exited = Vec::new();
        for i in 0..self.procs.len() {
            if let Some(exit) = self.procs[i].exited(false) {
                let _ = self.input.send(Input::Detach { node: i });
                let log = self.read_log(i).unwrap_or_default();
                let bad = BadNode {
                    node: self.specs[i].name.clone(),
                    breach: Breach::Exited(exit.text.clone()),
                    line: last_words(&log, 1)
                        .pop()
                        .unwrap_or_else(|| "(nothing on stderr)".into()),
                };
                exited.push((
                    i,
                    Exit {
                        text: bad.to_string(),
                        ..exit
                    },
                ));
            }
        }
        exited
    }

    /// The nodes the router found breaking the protocol since the last
    /// call, each stopped (it would go on breaking it).
    fn breaches(&mut self) -> Vec<(usize, Exit)> {
        let bad = lock_router(&self.router).bad_nodes();
        let new = bad.get(self.reported..).unwrap_or_default().to_vec();
        self.reported = bad.len();
        let mut broken = Vec::new();
        for b in new {
            let Some(i) = self.specs.iter().position(|s| s.name == b.node) else {
                continue;
            };
            if self.procs[i].kill(&self.specs[i].name) {
                let _ = self.input.send(Input::Detach { node: i });
            }
            let exit = Exit {
                code: None,
                text: b.to_string(),
                after_corruption: false,
            };
            broken.push((i, exit));
        }
        broken
    }
}

/// The one-way form of `cut`: of each pair that cannot talk, only the
/// node on the smaller side (the smallest group it belongs to; the lower
/// index on a tie) cannot send to the other, which still reaches it. An
/// isolated node hears everyone and nobody hears it.
pub fn one_way_grudge(cut: &Cut) -> HashSet<(usize, usize)> {
    let side = |i: usize| {
        cut.groups
            .iter()
            .filter(|g| g.contains(&i))
            .map(Vec::len)
            .min()
            .unwrap_or(usize::MAX)
    };
    cut.blocked
        .iter()
        .map(|&(a, b)| {
            if (side(a), a) <= (side(b), b) {
                (a, b)
            } else {
                (b, a)
            }
        })
        .collect()
}

/// Copies lines from the router's queue to a node's stdin until either ends.
fn write_loop(mut stdin: ChildStdin, queue: mpsc::Receiver<String>) {
    for line in queue {
        let ok = stdin
            .write_all(line.as_bytes())
            .and_then(|_| stdin.write_all(b"\n"))
            .and_then(|_| stdin.flush());
        if ok.is_err() {
            return;
        }
    }
}

/// Hands every line a node prints on stdout to the router.
fn read_loop(stdout: ChildStdout, node: usize, generation: u64, router: mpsc::Sender<Input>) {
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\n', '\r'])
                    .to_string();
                if line.is_empty() {
                    continue;
                }
                let input = Input::NodeLine {
                    node,
                    generation,
                    line,
                };
                if router.send(input).is_err() {
                    return;
                }
            }
        }
    }
}

impl Platform for MaelstromCluster {
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
        let mut child = self.spawn(i)?;
        self.generation += 1;
        let generation = self.generation;
        let name = self.specs[i].name.clone();
        let pipes = child.stdin.take().zip(child.stdout.take());
        let Some((stdin, stdout)) = pipes else {
            return Err(ClusterError::Files {
                path: self.specs[i].log_path.clone(),
                source: io::Error::other("the node's stdin or stdout pipe is missing"),
            });
        };
        let (tx, rx) = mpsc::channel();
        let spawn_err = |e: io::Error| ClusterError::Spawn {
            node: name.clone(),
            bin: self.command.program.clone(),
            source: e,
        };
        std::thread::Builder::new()
            .name(format!("{name}-stdin"))
            .spawn(move || write_loop(stdin, rx))
            .map_err(spawn_err)?;
        let router = self.input.clone();
        std::thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || read_loop(stdout, i, generation, router))
            .map_err(spawn_err)?;
        let _ = self.input.send(Input::Attach {
            node: i,
            generation,
            stdin: tx,
        });
        self.procs[i] = Proc {
            child: Some(child),
            state: NodeState::Running,
        };
        Ok(())
    }

    fn signal(&mut self, i: usize, signal: Signal) -> Result<(), ClusterError> {
        if self.procs[i].signal(&self.specs[i].name, signal)? {
            let _ = self.input.send(Input::Detach { node: i });
        }
        Ok(())
    }

    fn read_log(&self, i: usize) -> io::Result<String> {
        let bytes = std::fs::read(&self.specs[i].log_path)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn set_partition(&mut self, cut: Option<&Cut>) -> Result<(), ClusterError> {
        let grudge: HashSet<(usize, usize)> = match cut {
            None => HashSet::new(),
            Some(c) if self.one_way => one_way_grudge(c),
            Some(c) => c
                .blocked
                .iter()
                .flat_map(|&(a, b)| [(a, b), (b, a)])
                .collect(),
        };
        let _ = self.input.send(Input::SetGrudge(grudge));
        Ok(())
    }

    fn set_packet_loss(&mut self, percent: Option<u8>) -> Result<(), ClusterError> {
        let _ = self.input.send(Input::SetLoss(percent));
        Ok(())
    }

    fn reap(&mut self) -> Vec<(usize, Exit)> {
        let mut failed = self.exits();
        failed.extend(self.breaches());
        failed
    }

    fn shutdown(&mut self) {
        self.kill_all();
        if let Err(e) = lock_router(&self.router).stop() {
            tracing::warn!("writing the message journal: {e}");
        }
    }
}

impl Drop for MaelstromCluster {
    fn drop(&mut self) {
        self.kill_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_way_isolation_mutes_the_isolated_node_only() {
        let cut = Cut::isolate("isolate", 3, &[1]);
        let g = one_way_grudge(&cut);
        assert_eq!(g, HashSet::from([(1, 0), (1, 2)]));
    }
}
