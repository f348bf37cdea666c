//! The one fault executor: the random schedule and scenarios both hand it
//! fault operations. It resolves targets against the cluster at that
//! moment, applies faults through the [`Platform`], records every start and
//! stop as a typed [`FaultEvent`], keeps track of what is active, and heals.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use faultline_diskfs::PowerLossOptions;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cluster::{ClusterError, NodeSpec, NodeState};
use crate::recorder::Recorder;
use crate::system::NodeStatus;

use super::event::{FaultEvent, LostFile, PowerLossEvent};
use super::fault::{FailpointName, Fault};
use super::partition::Cut;
use super::partition::Shapes;
use super::target::{leader_of, Resolver, Target};
use super::{kill, lock, pause, SharedPlatform};

/// The ChaCha stream of the executor's own choices (targets drawn among
/// several, partition orders drawn when a step fires); the schedule and
/// the clients use others.
pub const EXECUTOR_STREAM: u64 = 3;

/// A boxed future of the probes.
pub type ProbeFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What the executor asks of the system under test beyond the platform:
/// node statuses (roles, terms, logs) and failpoints. System-specific.
pub trait Probe: Send + Sync {
    /// Node `i`'s status; None when it does not answer.
    fn status(&self, i: usize) -> ProbeFuture<Option<NodeStatus>>;
    /// Arms (or disarms) failpoint `name` on node `i`; Err says why the
    /// node (or the system) refused.
    fn set_failpoint(
        &self,
        i: usize,
        name: &'static str,
        armed: bool,
    ) -> ProbeFuture<Result<(), String>>;
    /// Globs (relative to a node's data directory) of the files `corrupt`
    /// damages by default. The default: every file.
    fn data_files(&self) -> Vec<String> {
        vec!["**".into()]
    }
}

/// Identifies a started fault, to stop it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultId(u64);

/// A fault as it was applied: what stopping it must undo.
#[derive(Debug, Clone)]
enum Applied {
    /// Nodes down until the fault stops: `why` is kill, power-loss or corrupt.
    Down(&'static str, Vec<usize>),
    Pause(Vec<usize>),
    Partition(Cut),
    Drop(u8),
    Armed(FailpointName),
}

impl Applied {
    fn label(&self, nodes: &[NodeSpec]) -> String {
        let joined = |v: &[usize]| {
            v.iter()
                .map(|&i| nodes[i].name.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Applied::Down(why, v) => format!("{why} {}", joined(v)),
            Applied::Pause(v) => format!("pause {}", joined(v)),
            Applied::Partition(cut) => format!("partition {}", cut.shape),
            Applied::Drop(p) => format!("drop {p}%"),
            Applied::Armed(fp) => format!("armed {}", fp.name()),
        }
    }
}

/// A fault in force (its progress-line label derives from `applied`).
struct Active {
    id: FaultId,
    applied: Applied,
}

/// Applies, tracks and heals faults on one cluster.
pub struct Executor {
    platform: SharedPlatform,
    nodes: Vec<NodeSpec>,
    recorder: Recorder,
    probe: Arc<dyn Probe>,
    rng: ChaCha8Rng,
    previous: Option<usize>,
    next: usize,
    active: Vec<Active>,
    ids: u64,
    labels: Arc<Mutex<Vec<String>>>,
    damaged: Vec<usize>,
}

impl Executor {
    /// An executor for the cluster behind `platform`, recording into
    /// `recorder`, asking `probe` about nodes; its choices come from `seed`.
    pub fn new(
        platform: SharedPlatform,
        recorder: Recorder,
        probe: Arc<dyn Probe>,
        seed: u64,
    ) -> Executor {
        let nodes = lock(&platform).nodes().to_vec();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(EXECUTOR_STREAM);
        Executor {
            platform,
            nodes,
            recorder,
            probe,
            rng,
            previous: None,
            next: 0,
            active: Vec::new(),
            ids: 0,
            labels: Arc::default(),
            damaged: Vec::new(),
        }
    }

    /// The labels of the faults active now (`kill n2`, `partition halves`),
    /// shared with the progress line.
    pub fn labels(&self) -> Arc<Mutex<Vec<String>>> {
        self.labels.clone()
    }

    /// The recorder the executor writes to (its clock is the test's).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The cluster's nodes, by index.
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    /// The node the latest targeted fault hit first.
    pub fn previous(&self) -> Option<usize> {
        self.previous
    }

    /// Starts `fault`; None when it had nothing to hit (no such node, the
    /// targets were already down, an isolation of nobody or everybody).
    /// A partition or packet loss replaces the one in force.
    pub async fn start(&mut self, fault: &Fault) -> Result<Option<FaultId>, ClusterError> {
        let n = self.nodes.len();
        let applied = match fault {
            Fault::Kill { target } | Fault::Pause { target } => {
                let killing = matches!(fault, Fault::Kill { .. });
                let targets = self.resolve(target).await;
                let start = if killing { kill::start } else { pause::start };
                let hit = start(&mut *lock(&self.platform), &targets)?;
                if hit.is_empty() {
                    return Ok(None);
                }
                self.previous = hit.first().copied();
                let names = self.names(&hit);
                let (event, applied) = if killing {
                    (FaultEvent::Kill(names), Applied::Down("kill", hit))
                } else {
                    (FaultEvent::Pause(names), Applied::Pause(hit))
                };
                self.recorder.fault(&event);
                applied
            }
            Fault::Isolate { target } => {
                let side = self.resolve(target).await;
                if side.is_empty() || side.len() >= n {
                    return Ok(None);
                }
                let shape = match target {
                    Target::Nodes(v) if v.len() == 1 => "isolate-one",
                    Target::LeaderOr(_) => "isolate-leader",
                    _ => "isolate",
                };
                self.previous = side.first().copied();
                self.partition(Cut::isolate(shape, n, &side))?
            }
            Fault::Partition { shape, order } => {
                let order = match order {
                    Some(o) if o.len() == n => o.clone(),
                    _ => {
                        let mut o: Vec<usize> = (0..n).collect();
                        o.shuffle(&mut self.rng);
                        o
                    }
                };
                self.partition(Cut::of_shape(*shape, &order))?
            }
            Fault::Star { center, except } => {
                let Some(&c) = self.resolve(center).await.first() else {
                    return Ok(None);
                };
                let out = match except {
                    Some(t) => self.resolve(t).await,
                    None => Vec::new(),
                };
                self.previous = Some(c);
                self.partition(Cut::star(n, c, &out))?
            }
            Fault::Drop { percent } => {
                for old in self.take(|a| matches!(a, Applied::Drop(_))) {
                    self.undo(old)?;
                }
                lock(&self.platform).set_packet_loss(Some(*percent))?;
                let between = self.names(&(0..n).collect::<Vec<_>>());
                self.recorder.fault(&FaultEvent::StartDrop {
                    percent: *percent,
                    between,
                });
                Applied::Drop(*percent)
            }
            Fault::PowerLoss {
                target,
                tear,
                survival,
                sector,
            } => {
                let targets = self.resolve(target).await;
                if targets.is_empty() {
                    return Ok(None);
                }
                self.previous = targets.first().copied();
                let event = self.power_loss(&targets, *tear, *survival, *sector)?;
                self.recorder.fault(&FaultEvent::PowerLoss(event));
                Applied::Down("power-loss", targets)
            }
            Fault::Corrupt {
                target,
                how,
                bits,
                files,
                majority,
            } => {
                let named = self.resolve(target).await;
                let targets = if *majority {
                    named.clone()
                } else {
                    within_minority(&named, &self.damaged, n)
                };
                if targets.len() < named.len() {
                    tracing::info!(
                        "corrupt: {} nodes named, damaging {} (at most a minority over the run; `majority = true` allows more)",
                        named.len(),
                        targets.len()
                    );
                }
                if targets.is_empty() {
                    return Ok(None);
                }
                for &i in &targets {
                    if !self.damaged.contains(&i) {
                        self.damaged.push(i);
                    }
                }
                self.previous = targets.first().copied();
                let patterns = files.clone().unwrap_or_else(|| self.probe.data_files());
                let mut p = lock(&self.platform);
                kill::start(&mut *p, &targets)?;
                for &i in &targets {
                    let seed = self.rng.gen();
                    let damage = p.corrupt(i, &patterns, *how, *bits, seed)?;
                    self.recorder.fault(&FaultEvent::Corrupt(damage));
                }
                drop(p);
                Applied::Down("corrupt", targets)
            }
        };
        Ok(Some(self.track(applied)))
    }

    /// Kills those of `targets` that run, then returns each one's files to
    /// what was durable; what was lost, for the history.
    fn power_loss(
        &mut self,
        targets: &[usize],
        tear: bool,
        survival: f64,
        sector: u64,
    ) -> Result<PowerLossEvent, ClusterError> {
        let mut p = lock(&self.platform);
        kill::start(&mut *p, targets)?;
        let mut event = PowerLossEvent {
            nodes: self.names(targets),
            tear,
            survival,
            sector: tear.then_some(sector),
            files: Vec::new(),
            namespace: Vec::new(),
        };
        for &i in targets {
            let options = PowerLossOptions {
                seed: self.rng.gen(),
                tear,
                survival: survival.clamp(0.0, 1.0),
                sector,
            };
            let report = p.power_loss(i, options)?;
            let node = &self.nodes[i];
            let base = node.backing_dir.as_deref().unwrap_or(&node.data_dir);
            let rel = |path: &std::path::Path| {
                path.strip_prefix(base)
                    .unwrap_or(path)
                    .display()
                    .to_string()
            };
            for f in &report.files {
                let ranges = |v: &[faultline_diskfs::ByteRange]| {
                    v.iter().map(|r| [r.start, r.end]).collect::<Vec<_>>()
                };
                event.files.push(LostFile {
                    node: node.name.clone(),
                    file: rel(&f.path),
                    size_before: f.size_before,
                    durable_size: f.durable_size,
                    size_after: f.size_after,
                    restored: ranges(&f.restored),
                    kept: ranges(&f.kept),
                });
            }
            for u in &report.namespace {
                let what = serde_json::to_string(&u.op).unwrap_or_default();
                event.namespace.push(format!("{}: {what}", node.name));
            }
        }
        Ok(event)
    }

    /// Stops the fault `id` started (nothing when it is no longer active).
    pub fn stop(&mut self, id: FaultId) -> Result<(), ClusterError> {
        let Some(pos) = self.active.iter().position(|a| a.id == id) else {
            return Ok(());
        };
        let a = self.active.remove(pos);
        self.publish();
        self.undo(a.applied)
    }

    /// Restarts those of the `target` nodes that are down (killed or
    /// crashed), from their data directories.
    pub async fn restart(&mut self, target: &Target) -> Result<(), ClusterError> {
        let nodes = self.resolve(target).await;
        let done = self.restart_nodes(&nodes)?;
        self.healed_nodes(&done, false);
        Ok(())
    }

    /// Resumes those of the `target` nodes that are paused.
    pub async fn resume(&mut self, target: &Target) -> Result<(), ClusterError> {
        let nodes = self.resolve(target).await;
        let done = self.resume_nodes(&nodes)?;
        self.healed_nodes(&done, true);
        Ok(())
    }

    /// Arms `failpoint` on the running `target` nodes (it stays armed until
    /// `disarm`); a node that refuses is recorded.
    pub async fn arm(
        &mut self,
        failpoint: FailpointName,
        target: &Target,
    ) -> Result<(), ClusterError> {
        let nodes = self.resolve(target).await;
        let armed = self.set_failpoints(&nodes, &[failpoint], true).await;
        if armed.is_empty() {
            return Ok(());
        }
        self.previous = armed.first().copied();
        self.recorder.fault(&FaultEvent::Arm {
            failpoint: failpoint.name().into(),
            nodes: self.names(&armed),
        });
        self.take(|a| matches!(a, Applied::Armed(..)));
        self.track(Applied::Armed(failpoint));
        Ok(())
    }

    /// Disarms every failpoint on the running `target` nodes.
    pub async fn disarm(&mut self, target: &Target) -> Result<(), ClusterError> {
        let nodes = self.resolve(target).await;
        let done = self
            .set_failpoints(&nodes, &FailpointName::ALL, false)
            .await;
        if !done.is_empty() {
            self.recorder.fault(&FaultEvent::Disarm(self.names(&done)));
        }
        self.take(|a| matches!(a, Applied::Armed(..)));
        Ok(())
    }

    /// Stops every active fault (newest first), then makes sure no network
    /// fault is left and every node runs: paused nodes resume, killed and
    /// crashed ones restart. Armed failpoints stay armed.
    pub fn heal(&mut self) -> Result<(), ClusterError> {
        while let Some(a) = self.active.pop() {
            self.publish();
            self.undo(a.applied)?;
        }
        {
            let mut p = lock(&self.platform);
            p.set_partition(None)?;
            p.set_packet_loss(None)?;
        }
        let paused = self.nodes_in(|s| s == NodeState::Paused);
        self.resume_nodes(&paused)?;
        let down = self.nodes_in(|s| matches!(s, NodeState::Killed | NodeState::Exited));
        self.restart_nodes(&down)?;
        Ok(())
    }

    /// What each running node says about itself (None for nodes that are
    /// down, paused or silent: a paused node would only hold a step up).
    pub async fn statuses(&self) -> Vec<Option<NodeStatus>> {
        let running = self.nodes_in(|s| s == NodeState::Running);
        let mut set = tokio::task::JoinSet::new();
        for i in running {
            let ask = self.probe.status(i);
            set.spawn(async move { (i, ask.await) });
        }
        let mut out = vec![None; self.nodes.len()];
        while let Some(Ok((i, s))) = set.join_next().await {
            out[i] = s;
        }
        out
    }

    /// The leader (highest term among running nodes saying they lead) and
    /// its term.
    pub async fn leader(&self) -> Option<(usize, u64)> {
        leader_of(&self.statuses().await)
    }

    /// The nodes whose process state passes `keep`.
    pub fn nodes_in(&self, keep: impl Fn(NodeState) -> bool) -> Vec<usize> {
        let p = lock(&self.platform);
        (0..self.nodes.len())
            .filter(|&i| keep(p.state(i)))
            .collect()
    }

    /// The nodes' names, for the history.
    pub fn names(&self, nodes: &[usize]) -> Vec<String> {
        nodes.iter().map(|&i| self.nodes[i].name.clone()).collect()
    }

    /// The nodes `target` names now (indexes).
    pub async fn resolve(&mut self, target: &Target) -> Vec<usize> {
        let statuses = if target.needs_statuses() {
            self.statuses().await
        } else {
            vec![None; self.nodes.len()]
        };
        let states: Vec<NodeState> = {
            let p = lock(&self.platform);
            (0..self.nodes.len()).map(|i| p.state(i)).collect()
        };
        Resolver {
            states: &states,
            statuses: &statuses,
            rng: &mut self.rng,
            previous: self.previous,
            next: &mut self.next,
        }
        .resolve(target)
    }

    /// Replaces the partition in force (if any) by `cut`.
    fn partition(&mut self, cut: Cut) -> Result<Applied, ClusterError> {
        let old: Vec<Cut> = self
            .take(|a| matches!(a, Applied::Partition(_)))
            .into_iter()
            .filter_map(|a| match a {
                Applied::Partition(c) => Some(c),
                _ => None,
            })
            .collect();
        for c in old {
            self.recorder
                .fault(&FaultEvent::StopPartition(c.sides(&self.nodes)));
        }
        lock(&self.platform).set_partition(Some(&cut))?;
        self.recorder
            .fault(&FaultEvent::StartPartition(cut.sides(&self.nodes)));
        Ok(Applied::Partition(cut))
    }

    fn undo(&mut self, applied: Applied) -> Result<(), ClusterError> {
        match applied {
            Applied::Down(_, nodes) => {
                self.restart_nodes(&nodes)?;
            }
            Applied::Pause(nodes) => {
                self.resume_nodes(&nodes)?;
            }
            Applied::Partition(cut) => {
                lock(&self.platform).set_partition(None)?;
                self.recorder
                    .fault(&FaultEvent::StopPartition(cut.sides(&self.nodes)));
            }
            Applied::Drop(_) => {
                lock(&self.platform).set_packet_loss(None)?;
                self.recorder.fault(&FaultEvent::StopDrop);
            }
            Applied::Armed(..) => {}
        }
        Ok(())
    }

    /// Restarts those of `nodes` that are down and records it; the nodes
    /// restarted.
    fn restart_nodes(&mut self, nodes: &[usize]) -> Result<Vec<usize>, ClusterError> {
        let done = kill::stop(&mut *lock(&self.platform), nodes)?;
        if !done.is_empty() {
            self.recorder.fault(&FaultEvent::Restart(self.names(&done)));
        }
        Ok(done)
    }

    /// Resumes those of `nodes` that are paused and records it; the nodes
    /// resumed.
    fn resume_nodes(&mut self, nodes: &[usize]) -> Result<Vec<usize>, ClusterError> {
        let done = pause::stop(&mut *lock(&self.platform), nodes)?;
        if !done.is_empty() {
            self.recorder.fault(&FaultEvent::Resume(self.names(&done)));
        }
        Ok(done)
    }

    /// Removes the active faults matching `which` without undoing them.
    fn take(&mut self, which: impl Fn(&Applied) -> bool) -> Vec<Applied> {
        let mut taken = Vec::new();
        let mut i = 0;
        while i < self.active.len() {
            if which(&self.active[i].applied) {
                taken.push(self.active.remove(i).applied);
            } else {
                i += 1;
            }
        }
        self.publish();
        taken
    }

    /// Takes `nodes` out of the active kills (or pauses); an entry left
    /// with no node is gone.
    fn healed_nodes(&mut self, nodes: &[usize], paused: bool) {
        for a in &mut self.active {
            match (&mut a.applied, paused) {
                (Applied::Down(_, v), false) | (Applied::Pause(v), true) => {
                    v.retain(|i| !nodes.contains(i))
                }
                _ => {}
            }
        }
        self.active.retain(
            |a| !matches!(&a.applied, Applied::Down(_, v) | Applied::Pause(v) if v.is_empty()),
        );
        self.publish();
    }

    fn track(&mut self, applied: Applied) -> FaultId {
        self.ids += 1;
        let id = FaultId(self.ids);
        self.active.push(Active { id, applied });
        self.publish();
        id
    }

    fn publish(&self) {
        if let Ok(mut l) = self.labels.lock() {
            *l = self
                .active
                .iter()
                .map(|a| a.applied.label(&self.nodes))
                .collect();
        }
    }

    /// Sets `failpoints` on the running ones of `nodes`; the nodes that
    /// took every one.
    async fn set_failpoints(
        &self,
        nodes: &[usize],
        failpoints: &[FailpointName],
        armed: bool,
    ) -> Vec<usize> {
        let running = self.nodes_in(|s| s == NodeState::Running);
        let mut done = Vec::new();
        for &i in nodes.iter().filter(|i| running.contains(i)) {
            let mut ok = true;
            for fp in failpoints {
                match self.probe.set_failpoint(i, fp.name(), armed).await {
                    Ok(()) => {}
                    Err(reason) => {
                        ok = false;
                        self.recorder.fault(&FaultEvent::FailpointRefused {
                            node: self.nodes[i].name.clone(),
                            failpoint: fp.name().into(),
                            reason,
                            status: None,
                        });
                    }
                }
            }
            if ok {
                done.push(i);
            }
        }
        done
    }
}

/// Those of `named` that can be damaged while the nodes damaged over the
/// run (`damaged`) plus them stay a minority of `n` (one node of a cluster
/// of one or two): nodes already damaged always can be.
fn within_minority(named: &[usize], damaged: &[usize], n: usize) -> Vec<usize> {
    let bound = ((n - 1) / 2).max(1);
    let mut all = damaged.to_vec();
    let mut out = Vec::new();
    for &i in named {
        if all.contains(&i) {
            out.push(i);
        } else if all.len() < bound {
            all.push(i);
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{layout, Exit, Platform, Signal};
    use crate::nemesis::fault::Shape;
    use std::io;
    use std::time::Instant;

    /// A platform of pretend processes that records the network faults.
    struct Fake {
        specs: Vec<NodeSpec>,
        states: Vec<NodeState>,
        cut: Option<Cut>,
        loss: Option<u8>,
    }

    impl Platform for Fake {
        fn nodes(&self) -> &[NodeSpec] {
            &self.specs
        }
        fn state(&self, i: usize) -> NodeState {
            self.states[i]
        }
        fn start(&mut self, i: usize) -> Result<(), ClusterError> {
            self.states[i] = NodeState::Running;
            Ok(())
        }
        fn signal(&mut self, i: usize, signal: Signal) -> Result<(), ClusterError> {
            self.states[i] = match signal {
                Signal::Kill => NodeState::Killed,
                Signal::Stop => NodeState::Paused,
                Signal::Cont => NodeState::Running,
            };
            Ok(())
        }
        fn read_log(&self, _: usize) -> io::Result<String> {
            Ok(String::new())
        }
        fn set_partition(&mut self, cut: Option<&Cut>) -> Result<(), ClusterError> {
            self.cut = cut.cloned();
            Ok(())
        }
        fn set_packet_loss(&mut self, percent: Option<u8>) -> Result<(), ClusterError> {
            self.loss = percent;
            Ok(())
        }
        fn reap(&mut self) -> Vec<(usize, Exit)> {
            Vec::new()
        }
        fn shutdown(&mut self) {}
        /// Every node loses 10 bytes of `wal` past its durable size.
        fn power_loss(
            &mut self,
            i: usize,
            options: PowerLossOptions,
        ) -> Result<faultline_diskfs::PowerLossReport, ClusterError> {
            assert_eq!(
                self.states[i],
                NodeState::Killed,
                "power loss of a running node"
            );
            Ok(faultline_diskfs::PowerLossReport {
                options,
                files: vec![faultline_diskfs::FileLoss {
                    path: self.specs[i].data_dir.join("wal"),
                    size_before: 30,
                    durable_size: 20,
                    size_after: 20,
                    ..Default::default()
                }],
                namespace: Vec::new(),
            })
        }
    }

    /// Node 1 leads in term 2; failpoints are refused by node 2.
    struct FakeProbe;

    impl Probe for FakeProbe {
        fn status(&self, i: usize) -> ProbeFuture<Option<NodeStatus>> {
            Box::pin(async move {
                Some(NodeStatus {
                    role: if i == 1 { "leader" } else { "follower" }.into(),
                    term: 2,
                    ..NodeStatus::default()
                })
            })
        }
        fn set_failpoint(
            &self,
            i: usize,
            _: &'static str,
            _: bool,
        ) -> ProbeFuture<Result<(), String>> {
            Box::pin(async move {
                if i == 2 {
                    Err("no failpoints here".into())
                } else {
                    Ok(())
                }
            })
        }
    }

    fn fixture(dir: &std::path::Path) -> (Executor, SharedPlatform, crate::recorder::Writer) {
        let specs = layout(3, dir, false);
        let platform: SharedPlatform = Arc::new(Mutex::new(Fake {
            specs,
            states: vec![NodeState::Running; 3],
            cut: None,
            loss: None,
        }));
        let (recorder, writer) = Recorder::create(&dir.join("h.jsonl"), Instant::now()).unwrap();
        let exec = Executor::new(platform.clone(), recorder, Arc::new(FakeProbe), 1);
        (exec, platform, writer)
    }

    #[test]
    fn power_loss_kills_loses_and_restarts_and_corruption_stays_within_a_minority() {
        let dir = tempfile::tempdir().unwrap();
        let (mut exec, platform, writer) = fixture(dir.path());
        for n in ["n1", "n2", "n3"] {
            let d = dir.path().join("data").join(n);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("wal"), vec![0u8; 64]).unwrap();
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let all = Fault::PowerLoss {
                target: Target::All,
                tear: true,
                survival: 0.0,
                sector: 512,
            };
            let id = exec.start(&all).await.unwrap().unwrap();
            assert!((0..3).all(|i| lock(&platform).state(i) == NodeState::Killed));
            assert_eq!(exec.labels().lock().unwrap()[0], "power-loss n1,n2,n3");
            exec.stop(id).unwrap();
            assert!((0..3).all(|i| lock(&platform).state(i) == NodeState::Running));
            let corrupt = |target| Fault::Corrupt {
                target,
                how: Default::default(),
                bits: 2,
                files: None,
                majority: false,
            };
            // Three named, one damaged: a minority of three.
            exec.start(&corrupt(Target::All)).await.unwrap().unwrap();
            assert_eq!(lock(&platform).state(0), NodeState::Killed);
            assert_eq!(lock(&platform).state(1), NodeState::Running);
            // Another node would make two of three: refused; the same one again is fine.
            assert_eq!(
                exec.start(&corrupt(Target::Nodes(vec![2]))).await.unwrap(),
                None
            );
            exec.heal().unwrap();
            assert!(exec
                .start(&corrupt(Target::Nodes(vec![0])))
                .await
                .unwrap()
                .is_some());
            exec.heal().unwrap();
        });
        let got = faults(&exec, writer);
        assert!(
            got[0]
                .starts_with(r#"power-loss {"files":[{"durable_size":20,"file":"wal","node":"n1""#),
            "{got:?}"
        );
        assert!(
            got[0].contains(r#""nodes":["n1","n2","n3"]"#) && got[0].contains(r#""tear":true"#),
            "{got:?}"
        );
        assert_eq!(got[1], r#"restart ["n1","n2","n3"]"#);
        assert!(
            got[2].starts_with(r#"corrupt {"candidates":1,"file":"wal","flips":[{"#),
            "{got:?}"
        );
        assert!(got[2].ends_with(r#""node":"n1"}"#), "{got:?}");
        assert_eq!(got[3], r#"restart ["n1"]"#);
        assert!(
            got[4].starts_with("corrupt ") && got[4].contains(r#""node":"n1""#),
            "{got:?}"
        );
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(
            within_minority(&[0, 1, 2, 3, 4], &[], 5),
            vec![0, 1],
            "two of five at most"
        );
        assert_eq!(within_minority(&[3, 1], &[1, 2], 5), vec![1]);
    }

    fn faults(exec: &Executor, writer: crate::recorder::Writer) -> Vec<String> {
        exec.recorder().close();
        writer
            .finish()
            .unwrap()
            .into_iter()
            .map(|e| format!("{} {}", e.f, e.value))
            .collect()
    }

    #[test]
    fn faults_start_stop_replace_and_heal_through_one_path() {
        let dir = tempfile::tempdir().unwrap();
        let (mut exec, platform, writer) = fixture(dir.path());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let kill = exec
                .start(&Fault::Kill {
                    target: Target::Leader,
                })
                .await
                .unwrap()
                .unwrap();
            assert_eq!(lock(&platform).state(1), NodeState::Killed);
            assert_eq!(exec.previous(), Some(1));
            // Killing a node already down hits nothing.
            let again = Fault::Kill {
                target: Target::Nodes(vec![1]),
            };
            assert_eq!(exec.start(&again).await.unwrap(), None);
            exec.start(&Fault::Isolate {
                target: Target::Nodes(vec![0]),
            })
            .await
            .unwrap();
            // A second partition replaces the first.
            exec.start(&Fault::Partition {
                shape: Shape::Halves,
                order: Some(vec![2, 0, 1]),
            })
            .await
            .unwrap();
            assert_eq!(exec.labels().lock().unwrap().len(), 2);
            exec.stop(kill).unwrap();
            assert_eq!(lock(&platform).state(1), NodeState::Running);
            exec.arm(FailpointName::CrashAfterVote, &Target::All)
                .await
                .unwrap();
            exec.start(&Fault::Pause {
                target: Target::Nodes(vec![2]),
            })
            .await
            .unwrap();
            exec.start(&Fault::Drop { percent: 30 }).await.unwrap();
            exec.heal().unwrap();
        });
        {
            let p = lock(&platform);
            assert!((0..3).all(|i| p.state(i) == NodeState::Running));
        }
        assert!(exec.labels().lock().unwrap().is_empty());
        let got = faults(&exec, writer);
        let want = [
            r#"kill ["n2"]"#,
            r#"start-partition {"groups":[["n1"],["n2","n3"]],"shape":"isolate-one"}"#,
            r#"stop-partition {"groups":[["n1"],["n2","n3"]],"shape":"isolate-one"}"#,
            r#"start-partition {"groups":[["n1","n2"],["n3"]],"shape":"halves"}"#,
            r#"restart ["n2"]"#,
            r#"failpoint-refused {"failpoint":"crash-after-vote","node":"n3","reason":"no failpoints here"}"#,
            r#"arm {"failpoint":"crash-after-vote","nodes":["n1","n2"]}"#,
            r#"pause ["n3"]"#,
            r#"start-drop {"between":["n1","n2","n3"],"percent":30}"#,
            r#"stop-drop null"#,
            r#"resume ["n3"]"#,
            r#"stop-partition {"groups":[["n1","n2"],["n3"]],"shape":"halves"}"#,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_scenario_restart_takes_the_nodes_out_of_the_active_kill() {
        let dir = tempfile::tempdir().unwrap();
        let (mut exec, platform, writer) = fixture(dir.path());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            exec.start(&Fault::Kill {
                target: Target::Nodes(vec![0, 2]),
            })
            .await
            .unwrap();
            exec.restart(&Target::Nodes(vec![0])).await.unwrap();
            assert_eq!(*exec.labels().lock().unwrap(), vec!["kill n3".to_string()]);
            exec.restart(&Target::Down).await.unwrap();
            assert!(exec.labels().lock().unwrap().is_empty());
        });
        assert_eq!(lock(&platform).state(2), NodeState::Running);
        assert_eq!(
            faults(&exec, writer),
            [
                r#"kill ["n1","n3"]"#,
                r#"restart ["n1"]"#,
                r#"restart ["n3"]"#
            ]
        );
    }
}
