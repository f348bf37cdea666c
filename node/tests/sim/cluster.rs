//! The simulated cluster: the node's real replicas driven by a virtual
//! clock (ticks), a simulated network, crash-restart that keeps only what
//! was persisted, and the invariant checker fed after every step.

use std::collections::{HashMap, VecDeque};

use faultline_node::bugs::{Bug, Bugs};
use faultline_node::raft::{Config, Index, NodeId, RaftNode, Ready, Role, Term};
use faultline_node::replica::{self, Input, Replica};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::client::Client;
use super::invariants::{Checker, Invariant, Violation};
use super::network::{NetConfig, Network};
use super::storage::Storage;

/// How a simulated cluster is built.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub n: usize,
    pub seed: u64,
    pub bugs: Bugs,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub net: NetConfig,
    /// Compact a node's log once it applied this many entries past its snapshot.
    pub compact_every: Option<u64>,
    pub max_entries_per_msg: usize,
    pub max_inflight_msgs: usize,
    /// Under `no-fsync`: how often the simulated OS writes dirty pages back.
    pub write_back_ticks: u64,
    /// Leaders send their Appends before persisting (`Config::persist_in_parallel`).
    pub persist_in_parallel: bool,
    /// With `persist_in_parallel`: a leader's write may stay in flight for
    /// a few ticks (seeded), while it keeps stepping; a crash loses it.
    pub lagging_disks: bool,
}

impl SimConfig {
    pub fn new(n: usize, seed: u64) -> Self {
        SimConfig {
            n,
            seed,
            bugs: Bugs::none(),
            pre_vote: true,
            check_quorum: true,
            net: NetConfig::reliable(),
            compact_every: None,
            max_entries_per_msg: 64,
            max_inflight_msgs: 16,
            write_back_ticks: 40,
            persist_in_parallel: false,
            lagging_disks: false,
        }
    }

    /// Leaders write in parallel with replication, and their writes lag.
    pub fn parallel_persist(mut self) -> Self {
        self.persist_in_parallel = true;
        self.lagging_disks = true;
        self
    }

    pub fn with_bug(mut self, bug: Option<Bug>) -> Self {
        self.bugs = Bugs::of(bug);
        self
    }

    pub fn unreliable(mut self) -> Self {
        self.net = NetConfig::unreliable();
        self
    }

    pub fn compact_every(mut self, every: u64) -> Self {
        self.compact_every = Some(every);
        self
    }
}

/// The replica the node ships, with the simulated clients' request ids
/// (command ids for writes, read ids for reads).
pub type SimReplica = Replica<u64, u64>;

/// A simulated cluster of `n` nodes with ids 1..=n.
pub struct Cluster {
    pub cfg: SimConfig,
    nodes: Vec<Option<SimReplica>>,
    pub storage: Vec<Storage>,
    /// Per node: the chain hash of what its state machine applied.
    chains: Vec<u64>,
    /// The chain hash of the state each snapshot holds, by (index, term), as
    /// the node that took it had applied it.
    snapshot_chains: HashMap<(Index, Term), u64>,
    pub net: Network,
    pub rng: ChaCha8Rng,
    pub now: u64,
    pub checker: Checker,
    pub client: Client,
    isolated: Vec<bool>,
    /// Held nodes do not tick (their clock is frozen) but still receive messages.
    held: Vec<bool>,
    /// Per node: writes handed to the disk and not yet durable, oldest
    /// first (what to persist, then what to send).
    in_flight: Vec<VecDeque<Ready>>,
    /// Per node: the disk completes no write until released.
    disk_held: Vec<bool>,
    restarts: u64,
}

impl Cluster {
    pub fn new(cfg: SimConfig) -> Self {
        let n = cfg.n;
        let no_fsync = !replica::syncs_writes(&cfg.bugs);
        let mut c = Cluster {
            nodes: (0..n).map(|_| None).collect(),
            storage: (0..n).map(|_| Storage::new(no_fsync)).collect(),
            chains: vec![0; n],
            snapshot_chains: HashMap::new(),
            net: Network::new(n, cfg.net),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            now: 0,
            checker: Checker::default(),
            client: Client::new(),
            isolated: vec![false; n + 1],
            held: vec![false; n + 1],
            in_flight: (0..n).map(|_| VecDeque::new()).collect(),
            disk_held: vec![false; n],
            restarts: 0,
            cfg,
        };
        for id in c.ids() {
            c.start(id);
        }
        c
    }

    pub fn ids(&self) -> std::ops::RangeInclusive<NodeId> {
        1..=self.cfg.n as NodeId
    }

    fn node_config(&self, id: NodeId) -> Config {
        let voters = self.ids().collect();
        let seed = self.cfg.seed ^ self.restarts.wrapping_mul(0x517C_C1B7_2722_0A95);
        let mut c = Config::new(id, voters, seed);
        c.bugs = self.cfg.bugs.clone();
        c.pre_vote = self.cfg.pre_vote;
        c.check_quorum = self.cfg.check_quorum;
        c.max_entries_per_msg = self.cfg.max_entries_per_msg;
        c.max_inflight_msgs = self.cfg.max_inflight_msgs;
        c.persist_in_parallel = self.cfg.persist_in_parallel;
        c
    }

    fn start(&mut self, id: NodeId) {
        let i = (id - 1) as usize;
        let restored = self.storage[i].live.restored();
        let meta = restored
            .snapshot
            .as_ref()
            .map(|s| s.meta)
            .unwrap_or_default();
        self.chains[i] = self.snapshot_chain(meta.index, meta.term);
        self.checker.restored(id, meta.index, self.chains[i]);
        let snapshot = restored.snapshot.clone();
        self.storage[i].hold_claim(restored.recovery.is_some());
        let raft = RaftNode::new(self.node_config(id), restored);
        let every = self.cfg.compact_every.unwrap_or(u64::MAX);
        let node = Replica::new(raft, snapshot.as_ref(), every).expect("snapshots decode");
        self.nodes[i] = Some(node);
        self.client.node_restarted(id);
    }

    /// Kills a node: it loses everything but its (durable) storage.
    pub fn crash(&mut self, id: NodeId) {
        let i = (id - 1) as usize;
        if self.nodes[i].take().is_some() {
            // Writes still in flight never reached the disk.
            self.in_flight[i].clear();
            self.storage[i].crash();
            self.net.drop_to(id);
        }
    }

    /// Damages a crashed node's disk: its last `count` log entries are cut
    /// off (as a WAL tail lost to corruption); it finds out at restart.
    pub fn damage_tail(&mut self, id: NodeId, count: usize) -> usize {
        assert!(!self.is_up(id), "damage a node's disk while it is down");
        self.storage[(id - 1) as usize].damage_tail(count)
    }

    /// Damages a crashed node's snapshot: it restarts from an empty log.
    pub fn damage_snapshot(&mut self, id: NodeId) -> bool {
        assert!(!self.is_up(id), "damage a node's disk while it is down");
        self.storage[(id - 1) as usize].damage_snapshot()
    }

    /// Whether node `id` is up and a learner recovering lost entries.
    pub fn is_recovering(&self, id: NodeId) -> bool {
        self.node(id).is_some_and(|n| n.is_recovering())
    }

    /// Restarts a crashed node from its storage.
    pub fn restart(&mut self, id: NodeId) {
        if self.nodes[(id - 1) as usize].is_none() {
            self.restarts += 1;
            self.start(id);
        }
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes[(id - 1) as usize].is_some()
    }

    /// The Raft core of node `id`, if it is up.
    pub fn node(&self, id: NodeId) -> Option<&RaftNode> {
        self.nodes[(id - 1) as usize].as_ref().map(Replica::raft)
    }

    /// The replica of node `id`, if it is up.
    pub fn node_mut(&mut self, id: NodeId) -> Option<&mut SimReplica> {
        self.nodes[(id - 1) as usize].as_mut()
    }

    /// The chain hash of the state a snapshot at (`index`, `term`) holds.
    fn snapshot_chain(&self, index: Index, term: Term) -> u64 {
        self.snapshot_chains
            .get(&(index, term))
            .copied()
            .or_else(|| self.checker.chain_at(index))
            .unwrap_or(0)
    }

    /// Cuts every link of `id`.
    pub fn isolate(&mut self, id: NodeId) {
        self.isolated[id as usize] = true;
        for other in self.ids() {
            if other != id {
                self.net.set_link(id, other, false);
            }
        }
    }

    /// Restores the links of `id` to every node that is not isolated.
    pub fn rejoin(&mut self, id: NodeId) {
        self.isolated[id as usize] = false;
        for other in self.ids() {
            if other != id && !self.isolated[other as usize] {
                self.net.set_link(id, other, true);
            }
        }
    }

    /// Splits the cluster into groups that cannot talk to each other.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        self.heal();
        let group_of = |id: NodeId| groups.iter().position(|g| g.contains(&id));
        for a in self.ids() {
            for b in self.ids() {
                if a < b && group_of(a) != group_of(b) {
                    self.net.set_link(a, b, false);
                }
            }
        }
    }

    /// Restores every link, ends every isolation and unfreezes every clock (held disks stay held).
    pub fn heal(&mut self) {
        self.held.iter_mut().for_each(|x| *x = false);
        self.isolated.iter_mut().for_each(|x| *x = false);
        self.net.heal();
    }

    /// Stalls (or releases) the disk of `id`: its writes stay in flight,
    /// and complete in order once released.
    pub fn hold_disk(&mut self, id: NodeId, held: bool) {
        self.disk_held[(id - 1) as usize] = held;
        if !held {
            self.complete_writes(id);
            self.after_step(id);
        }
    }

    /// Freezes (or unfreezes) the clock of `id`.
    pub fn hold(&mut self, id: NodeId, held: bool) {
        self.held[id as usize] = held;
    }

    /// Cuts or restores the link between `a` and `b`.
    pub fn link(&mut self, a: NodeId, b: NodeId, up: bool) {
        self.net.set_link(a, b, up);
    }

    pub fn is_isolated(&self, id: NodeId) -> bool {
        self.isolated[id as usize]
    }

    /// One tick of virtual time: every live node ticks, then every message
    /// due is delivered; each step is followed by its Ready and the checks.
    pub fn tick(&mut self) {
        self.now += 1;
        self.checker.now = self.now;
        if self.cfg.bugs.has(Bug::NoFsync)
            && self.now.is_multiple_of(self.cfg.write_back_ticks.max(1))
        {
            self.storage.iter_mut().for_each(Storage::write_back);
        }
        for id in self.ids() {
            let i = (id - 1) as usize;
            if !self.disk_held[i] && !self.in_flight[i].is_empty() && self.rng.gen_bool(0.5) {
                self.complete_writes(id);
                self.after_step(id);
            }
        }
        for id in self.ids() {
            if self.held[id as usize] {
                continue;
            }
            if let Some(node) = self.node_mut(id) {
                node.handle(Input::Tick);
                self.after_step(id);
            }
        }
        for msg in self.net.due(self.now) {
            let to = msg.to;
            if let Some(node) = self.node_mut(to) {
                node.handle(Input::Peer(msg));
                self.after_step(to);
            }
        }
    }

    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.tick();
        }
    }

    /// Ticks until `pred` holds (checked before each tick), at most `max` ticks.
    pub fn run_until(&mut self, max: u64, mut pred: impl FnMut(&Cluster) -> bool) -> bool {
        for _ in 0..max {
            if pred(self) {
                return true;
            }
            self.tick();
        }
        pred(self)
    }

    /// Handles a node's Ready (persist, send, apply, reads, compaction) and
    /// feeds the checker. Call after every input given to a node.
    pub fn after_step(&mut self, id: NodeId) {
        let i = (id - 1) as usize;
        self.deliver(id);
        // A completed write may move the commit index: drain until idle.
        for _ in 0..8 {
            let Some(node) = self.nodes[i].as_mut() else {
                return;
            };
            if !node.has_ready() {
                break;
            }
            let rd = node.ready();
            self.handle_ready(id, rd);
        }
        let Some(node) = self.nodes[i].as_ref() else {
            return;
        };
        let st = node.raft().status();
        if !st.recovering {
            self.storage[i].hold_claim(false);
        }
        if st.role == Role::Leader {
            self.checker.saw_leader(id, st.term, &self.storage[i].live);
        }
    }

    fn handle_ready(&mut self, id: NodeId, mut rd: Ready) {
        let i = (id - 1) as usize;
        // 0. a leader's Appends may leave before its own write
        for m in std::mem::take(&mut rd.early_messages) {
            self.net.send(m, self.now, &mut self.rng);
        }
        // 1. persist, 2. send: now, or (a lagging disk) once the write completes
        let write = Ready {
            hard_state: rd.hard_state,
            snapshot: rd.snapshot.clone(),
            entries: std::mem::take(&mut rd.entries),
            messages: std::mem::take(&mut rd.messages),
            ..Ready::default()
        };
        let lag = self.cfg.lagging_disks && self.rng.gen_bool(0.5);
        let queued = !self.in_flight[i].is_empty();
        self.in_flight[i].push_back(write);
        if !(lag || queued || self.disk_held[i]) {
            self.complete_writes(id);
        }
        // 3. apply, in the replica (the checker watches what it applies)
        let mut applied = self.nodes[i].as_ref().map_or(0, Replica::applied);
        if let Some(s) = &rd.snapshot {
            applied = s.meta.index;
            self.chains[i] = self.snapshot_chain(s.meta.index, s.meta.term);
            self.checker.restored(id, applied, self.chains[i]);
        }
        for e in &rd.committed {
            if e.index != applied + 1 {
                self.checker.violate(
                    Invariant::StateMachineSafety,
                    format!("n{id} applied index {} after {applied}", e.index),
                );
            }
            self.chains[i] = self.checker.applied(id, e, self.chains[i]);
            applied = e.index;
            self.client.applied(e);
        }
        if let Some(node) = self.nodes[i].as_mut() {
            node.advance(rd).expect("snapshots decode");
        }
        // 4. answers (reads included)
        self.deliver(id);
        // compaction (of what is on disk)
        if self.in_flight[i].is_empty() {
            let Some(node) = self.nodes[i].as_mut() else {
                return;
            };
            if let Some(snapshot) = node.compaction() {
                let meta = snapshot.meta;
                self.snapshot_chains
                    .entry((meta.index, meta.term))
                    .or_insert(self.chains[i]);
                self.storage[i]
                    .live
                    .compact(meta.index, snapshot.data.clone());
                node.compacted(snapshot);
            }
        }
    }

    /// Hands node `id`'s answers to the clients and records stale reads.
    fn deliver(&mut self, id: NodeId) {
        if let Some(node) = self.nodes[(id - 1) as usize].as_mut() {
            for answer in node.take_answers() {
                self.client.answered(id, answer);
            }
        }
        for v in self.client.take_stale() {
            self.checker.violate(Invariant::StaleRead, v);
        }
        for (invariant, v) in self.client.txns.take_broken() {
            self.checker.violate(invariant, v);
        }
    }

    /// Completes the writes in flight of `id`, in order: each becomes
    /// durable, is reported to the node, and its messages leave.
    fn complete_writes(&mut self, id: NodeId) {
        let i = (id - 1) as usize;
        while let Some(rd) = self.in_flight[i].pop_front() {
            self.storage[i].live.persist(&rd);
            self.checker
                .persisted(id, &rd.entries, &self.storage[i].live);
            if let Some(node) = self.nodes[i].as_mut() {
                node.persisted(&rd);
            }
            self.deliver(id);
            for m in rd.messages {
                self.net.send(m, self.now, &mut self.rng);
            }
        }
    }

    /// Live nodes that believe they lead, with their terms.
    pub fn leaders(&self) -> Vec<(NodeId, Term)> {
        self.ids()
            .filter_map(|id| {
                let st = self.node(id)?.status();
                (st.role == Role::Leader).then_some((id, st.term))
            })
            .collect()
    }

    /// The leader of the highest term among live, non-isolated nodes.
    pub fn leader(&self) -> Option<NodeId> {
        self.leaders()
            .into_iter()
            .filter(|&(id, _)| !self.is_isolated(id))
            .max_by_key(|&(_, t)| t)
            .map(|(id, _)| id)
    }

    /// Runs until exactly one leader leads the highest term among `among`
    /// (live nodes), within `max` ticks.
    pub fn await_leader(&mut self, among: &[NodeId], max: u64) -> Option<NodeId> {
        let among = among.to_vec();
        let mut found = None;
        self.run_until(max, |c| {
            let top = among
                .iter()
                .filter_map(|&id| c.node(id).map(|n| n.status().term))
                .max();
            let leaders: Vec<NodeId> = among
                .iter()
                .copied()
                .filter(|&id| {
                    c.node(id).is_some_and(|n| {
                        let st = n.status();
                        st.role == Role::Leader && Some(st.term) == top
                    })
                })
                .collect();
            found = (leaders.len() == 1).then(|| leaders[0]);
            found.is_some()
        });
        found
    }

    /// The terms of every live node.
    pub fn terms(&self) -> Vec<Term> {
        self.ids()
            .filter_map(|id| self.node(id).map(|n| n.status().term))
            .collect()
    }

    /// How many live nodes applied command `cmd`.
    pub fn applied_count(&self, cmd: u64) -> usize {
        let Some(index) = self.client.committed_index(cmd, &self.checker) else {
            return 0;
        };
        self.ids()
            .filter(|&id| {
                self.nodes[(id - 1) as usize]
                    .as_ref()
                    .is_some_and(|n| n.applied() >= index)
            })
            .count()
    }

    /// Submits commands until one is applied by at least `expected` live
    /// nodes (the "one" of the Raft labs), within `max` ticks.
    pub fn one(&mut self, expected: usize, max: u64) -> Option<u64> {
        let deadline = self.now + max;
        while self.now < deadline {
            if let Some(cmd) = self.submit() {
                let until = (self.now + 60).min(deadline);
                while self.now < until {
                    if self.applied_count(cmd) >= expected {
                        return Some(cmd);
                    }
                    self.tick();
                }
            } else {
                self.tick();
            }
        }
        None
    }

    /// Proposes a fresh command at the current leader.
    pub fn submit(&mut self) -> Option<u64> {
        let leader = self.leader()?;
        self.submit_at(leader)
    }

    /// Proposes a fresh command at node `id`.
    pub fn submit_at(&mut self, id: NodeId) -> Option<u64> {
        let node = self.nodes[(id - 1) as usize].as_mut()?;
        let cmd = self.client.propose(id, node)?;
        self.after_step(id);
        Some(cmd)
    }

    /// The first violation, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.checker.violations.first()
    }

    /// Checks every invariant that needs the end of the run (acknowledged
    /// writes), then panics with the seed if anything broke.
    pub fn assert_safe(&mut self) {
        self.finish();
        if let Some(v) = self.violation() {
            panic!("seed {}: {v}", self.cfg.seed);
        }
    }

    /// Runs the end-of-run checks.
    pub fn finish(&mut self) {
        let lost = self.client.lost_acked_writes(&self.checker);
        for l in lost {
            self.checker.violate(Invariant::AckedWriteLost, l);
        }
    }

    /// Heals the network, restarts every node and runs until every node
    /// applied the whole committed log (or `max` ticks pass).
    pub fn settle(&mut self, max: u64) -> bool {
        self.heal();
        for id in self.ids() {
            self.restart(id);
        }
        self.net.config = NetConfig::reliable();
        // A fresh entry of the final term pulls every earlier one into the committed log.
        let n = self.cfg.n;
        self.one(n, max).is_some()
    }

    /// The highest index applied anywhere.
    pub fn commit_index(&self) -> Index {
        self.checker.commit_index()
    }
}
