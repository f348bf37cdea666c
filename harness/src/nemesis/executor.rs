//! The one fault executor: the random schedule and scenarios both hand it
//! faults. It dispatches each to its kind (`faults/`), which resolves its
//! targets through the executor, applies it through the [`Platform`] and
//! records it; the executor tracks what is active, stops it, heals, and
//! plays the scenario steps that are not faults (restart, resume, arm,
//! disarm).

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use faultline_checker::history::{EventType, Process};

use crate::recorder::{Draft, Recorder};
use crate::system::NodeStatus;
use faultline_platform::cluster::{ClusterError, NodeSpec, NodeState, Platform};

use super::event::{self, FaultEvent};
use super::failpoint::FailpointName;
use super::target::{leader_of, Resolver, Target};
use super::{lock, SharedPlatform};

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

/// What starting a fault gives: what stopping it must undo, or None when
/// it had nothing to hit.
pub type Started = Result<Option<Box<dyn Active>>, ClusterError>;

/// A fault in force: what stopping it must undo.
pub trait Active: Send + Sync {
    /// Its label on the progress line (`kill n2`, `partition halves`).
    fn label(&self, nodes: &[NodeSpec]) -> String;
    /// What it holds alone: a new fault holding the same slot replaces it
    /// (one partition, one packet loss at a time). None: nothing.
    fn slot(&self) -> Option<&'static str> {
        None
    }
    /// Undoes the fault and records that it ended.
    fn undo(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError>;
    /// Ends the fault because a new one takes its slot (and will replace
    /// what it set up): by default, undoes it.
    fn replaced(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError> {
        self.undo(ex)
    }
    /// A scenario step brought `nodes` back (`how`); whether anything of
    /// the fault is left.
    fn nodes_back(&mut self, nodes: &[usize], how: Back) -> bool {
        let _ = (nodes, how);
        true
    }
}

/// How nodes came back by a scenario step rather than by a fault's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Back {
    /// Started again after a kill or a crash.
    Restarted,
    /// Sent SIGCONT after a pause.
    Resumed,
}

/// What the executor can start: a [`Fault`](super::Fault), whose kind
/// does the work (the registry implements it).
pub trait Start: Sync {
    /// Starts the fault on `ex`.
    fn start<'a>(&'a self, ex: &'a mut Executor) -> impl Future<Output = Started> + Send + 'a;
}

/// Identifies a started fault, to stop it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultId(u64);

/// A fault in force and its id.
struct Tracked {
    id: FaultId,
    fault: Box<dyn Active>,
}

/// The slot of the armed failpoints (one entry, for the progress line).
const FAILPOINTS: &str = "failpoints";

/// Failpoints armed by a scenario: shown while they stay armed; nothing
/// to undo (they stay armed through a heal, until `disarm`).
struct Armed(FailpointName);

impl Active for Armed {
    fn label(&self, _: &[NodeSpec]) -> String {
        format!("armed {}", self.0.name())
    }
    fn slot(&self) -> Option<&'static str> {
        Some(FAILPOINTS)
    }
    fn undo(self: Box<Self>, _: &mut Executor) -> Result<(), ClusterError> {
        Ok(())
    }
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
    active: Vec<Tracked>,
    ids: u64,
    labels: Arc<Mutex<Vec<String>>>,
    memory: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
    tap: Option<StatusTap>,
    /// The nodes a failpoint may be armed on: armed, and neither disarmed
    /// nor restarted since (a heal leaves failpoints armed).
    armed: BTreeSet<usize>,
}

/// Where an executor sends every set of statuses it asks for (the run's
/// status log keeps them beside its samples).
pub type StatusTap = tokio::sync::mpsc::UnboundedSender<Vec<Option<NodeStatus>>>;

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
            memory: HashMap::new(),
            tap: None,
            armed: BTreeSet::new(),
        }
    }

    /// Sends every set of statuses the executor asks for (to aim a fault,
    /// to wait for a leader) to `tap` as well: the moments a sampler
    /// every few hundred milliseconds would miss (a leader killed right
    /// after it was elected).
    pub fn tap_statuses(&mut self, tap: StatusTap) {
        self.tap = Some(tap);
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
    /// A fault holding a slot (a partition, packet loss) replaces the one
    /// in force.
    pub async fn start(&mut self, fault: &impl Start) -> Result<Option<FaultId>, ClusterError> {
        Ok(fault.start(self).await?.map(|active| self.track(active)))
    }

    /// Stops the fault `id` started (nothing when it is no longer active).
    pub fn stop(&mut self, id: FaultId) -> Result<(), ClusterError> {
        let Some(pos) = self.active.iter().position(|a| a.id == id) else {
            return Ok(());
        };
        let a = self.active.remove(pos);
        self.publish();
        a.fault.undo(self)
    }

    /// Restarts those of the `target` nodes that are down (killed or
    /// crashed), from their data directories.
    pub async fn restart(&mut self, target: &Target) -> Result<(), ClusterError> {
        let nodes = self.resolve(target).await;
        let done = self.restart_nodes(&nodes)?;
        self.nodes_back(&done, Back::Restarted);
        Ok(())
    }

    /// Resumes those of the `target` nodes that are paused.
    pub async fn resume(&mut self, target: &Target) -> Result<(), ClusterError> {
        let nodes = self.resolve(target).await;
        let done = self.resume_nodes(&nodes)?;
        self.nodes_back(&done, Back::Resumed);
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
        self.armed.extend(armed.iter().copied());
        self.record(&FaultEvent::Arm {
            failpoint: failpoint.name().into(),
            nodes: self.names(&armed),
        });
        self.take(FAILPOINTS);
        self.track(Box::new(Armed(failpoint)));
        Ok(())
    }

    /// Disarms every failpoint on the running `target` nodes.
    pub async fn disarm(&mut self, target: &Target) -> Result<(), ClusterError> {
        let nodes = self.resolve(target).await;
        let done = self
            .set_failpoints(&nodes, &FailpointName::ALL, false)
            .await;
        if !done.is_empty() {
            self.record(&FaultEvent::Disarm(self.names(&done)));
        }
        for i in &done {
            self.armed.remove(i);
        }
        self.take(FAILPOINTS);
        Ok(())
    }

    /// Ends the run's faults before recovery: disarms the failpoints a
    /// scenario left armed (its time ran out between `arm` and `disarm`;
    /// an armed node would crash at it while the cluster recovers or
    /// answers the final reads), then [`Executor::heal`]s; a node paused
    /// while armed is disarmed once it runs again.
    pub async fn end(&mut self) -> Result<(), ClusterError> {
        self.disarm_armed().await?;
        self.heal()?;
        self.disarm_armed().await
    }

    /// Disarms the running nodes a failpoint may still be armed on.
    async fn disarm_armed(&mut self) -> Result<(), ClusterError> {
        let running = self.nodes_in(|s| s == NodeState::Running);
        let armed: Vec<usize> = running
            .into_iter()
            .filter(|i| self.armed.contains(i))
            .collect();
        if armed.is_empty() {
            return Ok(());
        }
        self.disarm(&Target::Nodes(armed)).await
    }

    /// Stops every active fault (newest first), then makes sure no network
    /// fault is left and every node runs: paused nodes resume, killed and
    /// crashed ones restart. Armed failpoints stay armed.
    pub fn heal(&mut self) -> Result<(), ClusterError> {
        while let Some(a) = self.active.pop() {
            self.publish();
            a.fault.undo(self)?;
        }
        {
            let mut p = self.platform();
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
        if let Some(tap) = &self.tap {
            let _ = tap.send(out.clone());
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
        let p = self.platform();
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
            let p = self.platform();
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

    /// The platform, locked (for a fault kind: hold it for no longer than
    /// a step, and never across an await).
    pub fn platform(&self) -> MutexGuard<'_, dyn Platform + 'static> {
        lock(&self.platform)
    }

    /// The platform itself, for a fault that keeps acting while it is in
    /// force (from a task of its own).
    pub fn shared_platform(&self) -> SharedPlatform {
        self.platform.clone()
    }

    /// The system's probe (its data files, statuses, failpoints).
    pub fn probe(&self) -> &dyn Probe {
        &*self.probe
    }

    /// The executor's seeded choices (targets, partition orders, seeds of
    /// power losses and corruption).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Remembers `node` as the one the latest targeted fault hit first
    /// ([`Target::Previous`]).
    pub fn set_previous(&mut self, node: usize) {
        self.previous = Some(node);
    }

    /// What a fault kind keeps over the run, one value per type (corrupt:
    /// the nodes damaged so far); a fresh default the first time.
    pub fn memory<T: Default + Send + Sync + 'static>(&mut self) -> &mut T {
        self.memory
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("memory is keyed by its type")
    }

    /// Records a typed nemesis event (see [`event`]) now.
    pub fn record(&self, event: &impl Serialize) {
        let (f, value) = event::to_parts(event);
        self.recorder.record(Draft {
            process: Process::Nemesis,
            kind: EventType::Info,
            f,
            key: None,
            value,
            error: None,
        });
    }

    /// Ends the faults in force holding `slot` (see [`Active::replaced`]),
    /// before a new one takes it.
    pub fn replace(&mut self, slot: &str) -> Result<(), ClusterError> {
        for old in self.take(slot) {
            old.replaced(self)?;
        }
        Ok(())
    }

    /// Restarts those of `nodes` that are down, from their data
    /// directories, and records it; the nodes restarted.
    pub fn restart_nodes(&mut self, nodes: &[usize]) -> Result<Vec<usize>, ClusterError> {
        let mut done = Vec::new();
        {
            let mut p = self.platform();
            for &i in nodes {
                if matches!(p.state(i), NodeState::Killed | NodeState::Exited) {
                    p.start(i)?;
                    done.push(i);
                }
            }
        }
        if !done.is_empty() {
            self.record(&FaultEvent::Restart(self.names(&done)));
        }
        for i in &done {
            self.armed.remove(i);
        }
        Ok(done)
    }

    /// Resumes those of `nodes` that are paused and records it; the nodes
    /// resumed.
    pub fn resume_nodes(&mut self, nodes: &[usize]) -> Result<Vec<usize>, ClusterError> {
        let mut done = Vec::new();
        {
            let mut p = self.platform();
            for &i in nodes {
                if p.state(i) == NodeState::Paused {
                    p.signal(i, faultline_platform::cluster::Signal::Cont)?;
                    done.push(i);
                }
            }
        }
        if !done.is_empty() {
            self.record(&FaultEvent::Resume(self.names(&done)));
        }
        Ok(done)
    }

    /// Removes the active faults holding `slot` without undoing them.
    fn take(&mut self, slot: &str) -> Vec<Box<dyn Active>> {
        let mut taken = Vec::new();
        let mut i = 0;
        while i < self.active.len() {
            if self.active[i].fault.slot() == Some(slot) {
                taken.push(self.active.remove(i).fault);
            } else {
                i += 1;
            }
        }
        self.publish();
        taken
    }

    /// Tells every active fault that `nodes` came back; a fault with
    /// nothing left is gone.
    fn nodes_back(&mut self, nodes: &[usize], how: Back) {
        self.active.retain_mut(|a| a.fault.nodes_back(nodes, how));
        self.publish();
    }

    fn track(&mut self, fault: Box<dyn Active>) -> FaultId {
        self.ids += 1;
        let id = FaultId(self.ids);
        self.active.push(Tracked { id, fault });
        self.publish();
        id
    }

    fn publish(&self) {
        if let Ok(mut l) = self.labels.lock() {
            *l = self
                .active
                .iter()
                .map(|a| a.fault.label(&self.nodes))
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
                if let Err(reason) = self.probe.set_failpoint(i, fp.name(), armed).await {
                    ok = false;
                    self.record(&FaultEvent::FailpointRefused {
                        node: self.nodes[i].name.clone(),
                        failpoint: fp.name().into(),
                        reason,
                        status: None,
                    });
                }
            }
            if ok {
                done.push(i);
            }
        }
        done
    }
}
