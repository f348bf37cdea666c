//! Plays a scenario's steps against a running cluster: targets resolved by
//! role when each step fires, bounded waits, every fault and every wait's
//! outcome recorded in the history as a `"nemesis"` event.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::client::Counters;
use crate::cluster::{ClusterError, NodeSpec, NodeState};
use crate::nemesis::partition::{self, Cut};
use crate::nemesis::schedule::Shape;
use crate::nemesis::{drop, kill, lock, pause, SharedPlatform};
use crate::recorder::Recorder;

use super::{Condition, FailpointName, PartitionShape, Scenario, Step, Target};

/// The ChaCha stream of scenario choices (the schedule and clients use others).
pub const SCENARIO_STREAM: u64 = 3;

/// How often waits look at the cluster.
const POLL: Duration = Duration::from_millis(50);

/// One node's answer to a status probe.
#[derive(Debug, Clone, Default)]
pub struct Probed {
    /// `leader`, `follower`, ...
    pub role: String,
    /// Its term.
    pub term: u64,
    /// Its last log index, when the system says.
    pub last_log_index: Option<u64>,
    /// The index its log was compacted up to, when the system says.
    pub snapshot_index: Option<u64>,
}

/// How the player asks nodes for their status (system-specific).
pub type ProbeFn = Arc<
    dyn Fn(usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Probed>> + Send>>
        + Send
        + Sync,
>;

/// Plays scenarios.
pub struct Player {
    platform: SharedPlatform,
    nodes: Vec<NodeSpec>,
    recorder: Recorder,
    probe: ProbeFn,
    http: reqwest::Client,
    counters: Arc<Counters>,
    rng: ChaCha8Rng,
    /// Descriptions of the faults active now, for the progress line.
    pub active: Arc<Mutex<Vec<String>>>,
    cut: Option<Cut>,
    dropping: bool,
    previous: Option<usize>,
    next: usize,
}

impl Player {
    /// A player for the cluster behind `platform`; `counters` count the
    /// clients' outcomes (`acked` waits use the ok count); `http` arms
    /// failpoints; every choice comes from `seed`.
    pub fn new(
        platform: SharedPlatform,
        recorder: Recorder,
        probe: ProbeFn,
        http: reqwest::Client,
        counters: Arc<Counters>,
        seed: u64,
    ) -> Player {
        let nodes = lock(&platform).nodes().to_vec();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(SCENARIO_STREAM);
        Player {
            platform,
            nodes,
            recorder,
            probe,
            http,
            counters,
            rng,
            active: Arc::default(),
            cut: None,
            dropping: false,
            previous: None,
            next: 0,
        }
    }

    /// Plays the scenario's steps (again and again when it repeats) until
    /// they end or `until` (time since the test start) passes. Faults still
    /// active stay active: the run heals them.
    pub async fn play(&mut self, scenario: &Scenario, until: Duration) -> Result<(), ClusterError> {
        loop {
            for (i, step) in scenario.steps.iter().enumerate() {
                if self.recorder.elapsed() >= until {
                    return Ok(());
                }
                self.step(i, step, until).await?;
            }
            if !scenario.repeat {
                return Ok(());
            }
        }
    }

    async fn step(&mut self, i: usize, step: &Step, until: Duration) -> Result<(), ClusterError> {
        match step {
            Step::Kill { target } => {
                let targets = self.resolve(target).await;
                let hit = kill::start(&mut *lock(&self.platform), &targets)?;
                self.hit("kill", &hit);
            }
            Step::Restart { target } => {
                let targets = self.resolve(target).await;
                let done = kill::stop(&mut *lock(&self.platform), &targets)?;
                self.healed("restart", "kill", &done);
            }
            Step::Pause { target } => {
                let targets = self.resolve(target).await;
                let hit = pause::start(&mut *lock(&self.platform), &targets)?;
                self.hit("pause", &hit);
            }
            Step::Resume { target } => {
                let targets = self.resolve(target).await;
                let done = pause::stop(&mut *lock(&self.platform), &targets)?;
                self.healed("resume", "pause", &done);
            }
            Step::Isolate { target } => {
                let group = self.resolve(target).await;
                if group.is_empty() || group.len() == self.nodes.len() {
                    return Ok(());
                }
                let rest: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| !group.contains(i))
                    .collect();
                self.previous = group.first().copied();
                let cut = Cut::from_groups("isolate", self.nodes.len(), vec![group, rest]);
                self.partition(cut)?;
            }
            Step::Partition { shape } => {
                let mut order: Vec<usize> = (0..self.nodes.len()).collect();
                order.shuffle(&mut self.rng);
                let shape = match shape {
                    PartitionShape::MajoritiesRing => Shape::MajoritiesRing(order),
                    PartitionShape::Bridge => Shape::Bridge(order),
                };
                self.partition(Cut::resolve(&shape, self.nodes.len(), None))?;
            }
            Step::Star { center, except } => {
                let Some(&c) = self.resolve(center).await.first() else {
                    return Ok(());
                };
                let out = match except {
                    Some(t) => self.resolve(t).await,
                    None => Vec::new(),
                };
                self.previous = Some(c);
                self.partition(Cut::star(self.nodes.len(), c, &out))?;
            }
            Step::Drop { percent } => {
                lock(&self.platform).apply_rules(drop::TABLE, &drop::rules(*percent))?;
                self.dropping = true;
                self.recorder
                    .nemesis("start-drop", json!({ "percent": percent, "between": self.names(&(0..self.nodes.len()).collect::<Vec<_>>()) }));
                self.set_active(format!("drop {percent}%"), "drop");
            }
            Step::Arm { failpoint, target } => {
                let targets = self.resolve(target).await;
                let armed = self.set_failpoint(&targets, Some(*failpoint)).await;
                if !armed.is_empty() {
                    self.previous = armed.first().copied();
                    self.recorder.nemesis(
                        "arm",
                        json!({ "failpoint": failpoint.name(), "nodes": self.names(&armed) }),
                    );
                    self.set_active(format!("armed {}", failpoint.name()), "armed");
                }
            }
            Step::Disarm { target } => {
                let targets = self.resolve(target).await;
                let disarmed = self.set_failpoint(&targets, None).await;
                if !disarmed.is_empty() {
                    self.recorder.nemesis("disarm", self.names(&disarmed));
                }
                if let Ok(mut a) = self.active.lock() {
                    a.retain(|l| !l.starts_with("armed"));
                }
            }
            Step::Heal => self.heal()?,
            Step::Sleep { seconds } => {
                let left = until.saturating_sub(self.recorder.elapsed());
                tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0)).min(left)).await;
            }
            Step::Wait {
                until: cond,
                timeout,
            } => {
                let limit = Duration::from_secs_f64(timeout.max(0.0));
                let started = self.recorder.elapsed();
                let deadline = (started + limit).min(until);
                let outcome = self.wait(cond, deadline).await;
                let waited = self.recorder.elapsed().saturating_sub(started);
                self.recorder.nemesis(
                    "wait",
                    json!({
                        "step": i,
                        "until": serde_json::to_value(cond).unwrap_or(Value::Null),
                        "met": outcome.is_some(),
                        "detail": outcome,
                        "seconds": (waited.as_secs_f64() * 1000.0).round() / 1000.0,
                    }),
                );
            }
        }
        Ok(())
    }

    /// Removes every rule, resumes and restarts every node.
    pub fn heal(&mut self) -> Result<(), ClusterError> {
        let mut p = lock(&self.platform);
        if let Some(cut) = self.cut.take() {
            p.remove_rules(partition::TABLE)?;
            self.recorder
                .nemesis("stop-partition", cut.describe(&self.nodes));
        }
        if self.dropping {
            p.remove_rules(drop::TABLE)?;
            self.dropping = false;
            self.recorder.nemesis("stop-drop", Value::Null);
        }
        let paused: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| p.state(i) == NodeState::Paused)
            .collect();
        let down: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| matches!(p.state(i), NodeState::Killed | NodeState::Exited))
            .collect();
        let resumed = pause::stop(&mut *p, &paused)?;
        let restarted = kill::stop(&mut *p, &down)?;
        drop(p);
        if !resumed.is_empty() {
            self.recorder.nemesis("resume", self.names(&resumed));
        }
        if !restarted.is_empty() {
            self.recorder.nemesis("restart", self.names(&restarted));
        }
        if let Ok(mut a) = self.active.lock() {
            a.clear();
        }
        Ok(())
    }

    fn partition(&mut self, cut: Cut) -> Result<(), ClusterError> {
        let mut p = lock(&self.platform);
        if let Some(old) = self.cut.take() {
            self.recorder
                .nemesis("stop-partition", old.describe(&self.nodes));
        }
        p.apply_rules(partition::TABLE, &cut.rules(&self.nodes))?;
        drop(p);
        self.recorder
            .nemesis("start-partition", cut.describe(&self.nodes));
        let label = format!("partition {}", cut.shape);
        self.cut = Some(cut);
        self.set_active(label, "partition");
        Ok(())
    }

    /// Arms `failpoint` on `nodes` (or disarms every failpoint, for None);
    /// the nodes that answered. A node that is down is skipped; one that
    /// answers with an error (no `--failpoints`) is recorded.
    async fn set_failpoint(&self, nodes: &[usize], failpoint: Option<FailpointName>) -> Vec<usize> {
        let mut done = Vec::new();
        let running = self.running();
        let names: Vec<&str> = match failpoint {
            Some(f) => vec![f.name()],
            None => FailpointName::ALL.iter().map(|f| f.name()).collect(),
        };
        for &i in nodes.iter().filter(|i| running.contains(i)) {
            let base = format!("http://{}/debug/failpoints", self.nodes[i].http_addr);
            let mut ok = true;
            for &name in &names {
                let req = match failpoint {
                    Some(_) => self.http.put(format!("{base}/{name}")),
                    None => self.http.delete(format!("{base}/{name}")),
                };
                match req.timeout(Duration::from_millis(500)).send().await {
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => {
                        ok = false;
                        self.recorder.nemesis(
                            "failpoint-refused",
                            json!({ "node": self.nodes[i].name, "failpoint": name, "status": r.status().as_u16() }),
                        );
                    }
                    Err(_) => ok = false,
                }
            }
            if ok {
                done.push(i);
            }
        }
        done
    }

    fn hit(&mut self, f: &str, nodes: &[usize]) {
        if nodes.is_empty() {
            return;
        }
        self.previous = nodes.first().copied();
        self.recorder.nemesis(f, self.names(nodes));
        if let Ok(mut a) = self.active.lock() {
            a.push(format!("{f} {}", self.joined(nodes)));
        }
    }

    fn healed(&mut self, f: &str, fault: &str, nodes: &[usize]) {
        if nodes.is_empty() {
            return;
        }
        self.recorder.nemesis(f, self.names(nodes));
        let names: Vec<String> = nodes.iter().map(|&i| self.nodes[i].name.clone()).collect();
        if let Ok(mut a) = self.active.lock() {
            a.retain(|label| {
                !(label.starts_with(fault) && names.iter().any(|n| label.contains(n.as_str())))
            });
        }
    }

    fn set_active(&self, label: String, kind: &str) {
        if let Ok(mut a) = self.active.lock() {
            a.retain(|l| !l.starts_with(kind));
            a.push(label);
        }
    }

    fn names(&self, nodes: &[usize]) -> Value {
        Value::Array(nodes.iter().map(|&i| json!(self.nodes[i].name)).collect())
    }

    fn joined(&self, nodes: &[usize]) -> String {
        nodes
            .iter()
            .map(|&i| self.nodes[i].name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What each running node says about itself (`None` for nodes that are
    /// down, paused or silent: a paused node would only hold the step up).
    async fn statuses(&self) -> Vec<Option<Probed>> {
        let running = self.running();
        let asks: Vec<_> = running.iter().map(|&i| (i, (self.probe)(i))).collect();
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut set = tokio::task::JoinSet::new();
        for (i, ask) in asks {
            set.spawn(async move { (i, ask.await) });
        }
        out.resize(self.nodes.len(), None);
        while let Some(Ok((i, s))) = set.join_next().await {
            out[i] = s;
        }
        out
    }

    /// The nodes whose state passes `keep`.
    fn nodes_in(&self, keep: impl Fn(NodeState) -> bool) -> Vec<usize> {
        let p = lock(&self.platform);
        (0..self.nodes.len())
            .filter(|&i| keep(p.state(i)))
            .collect()
    }

    /// The nodes running now (neither down nor paused).
    fn running(&self) -> Vec<usize> {
        self.nodes_in(|s| s == NodeState::Running)
    }

    /// The nodes whose process has ended (killed or crashed).
    fn down(&self) -> Vec<usize> {
        self.nodes_in(|s| matches!(s, NodeState::Killed | NodeState::Exited))
    }

    /// The leader (highest term among nodes saying they lead) and its term.
    async fn leader(&self) -> Option<(usize, u64)> {
        leader_of(&self.statuses().await)
    }

    /// The nodes `target` names now (indexes).
    async fn resolve(&mut self, target: &Target) -> Vec<usize> {
        let n = self.nodes.len();
        let running = self.running();
        match target {
            Target::All => (0..n).collect(),
            Target::Down => self.down(),
            Target::Paused => self.nodes_in(|s| s == NodeState::Paused),
            Target::Previous => self.previous.into_iter().collect(),
            Target::Next => {
                let i = self.next % n;
                self.next += 1;
                vec![i]
            }
            Target::Leader
            | Target::Follower
            | Target::MinorityWithLeader
            | Target::MajorityWithoutLeader => {
                let statuses = self.statuses().await;
                let leader = leader_of(&statuses).map(|(l, _)| l);
                let mut followers: Vec<usize> = running
                    .iter()
                    .copied()
                    .filter(|&i| Some(i) != leader)
                    .collect();
                followers.shuffle(&mut self.rng);
                match (target, leader) {
                    (Target::Leader, Some(l)) => vec![l],
                    (Target::Leader, None) => {
                        // No leader: the most recent one or candidate, by term.
                        let terms: Vec<(u64, usize)> = running
                            .iter()
                            .filter_map(|&i| statuses[i].as_ref().map(|s| (s.term, i)))
                            .collect();
                        let top = terms.iter().map(|&(t, _)| t).max();
                        let newest: Vec<usize> = terms
                            .iter()
                            .filter(|&&(t, _)| Some(t) == top)
                            .map(|&(_, i)| i)
                            .collect();
                        let pool = if newest.is_empty() { &running } else { &newest };
                        pool.choose(&mut self.rng).copied().into_iter().collect()
                    }
                    (Target::Follower, _) => followers.into_iter().take(1).collect(),
                    (Target::MinorityWithLeader, l) => {
                        let mut v: Vec<usize> = l.into_iter().collect();
                        v.extend(followers);
                        v.truncate((n - 1) / 2);
                        v.sort_unstable();
                        v
                    }
                    (_, _) => {
                        let mut v = followers;
                        v.truncate(n / 2 + 1);
                        v.sort_unstable();
                        v
                    }
                }
            }
            Target::ShortestLog | Target::LongestLog => {
                let statuses = self.statuses().await;
                let logs = running.iter().copied().filter_map(|i| {
                    statuses[i]
                        .as_ref()
                        .and_then(|s| s.last_log_index)
                        .map(|l| (l, i))
                });
                let pick = if *target == Target::LongestLog {
                    logs.max_by_key(|&(l, i)| (l, std::cmp::Reverse(i)))
                } else {
                    logs.min()
                };
                match pick {
                    Some((_, i)) => vec![i],
                    None => running.choose(&mut self.rng).copied().into_iter().collect(),
                }
            }
        }
    }

    /// Waits until `cond` holds or `deadline` (since the test start) passes;
    /// what was seen when it held.
    async fn wait(&mut self, cond: &Condition, deadline: Duration) -> Option<Value> {
        let start_leader = match cond {
            Condition::NewLeader => self.leader().await,
            _ => None,
        };
        let start_acked = self.counters.ok.load(Ordering::Relaxed);
        let down_at_start = self.down();
        loop {
            let met = match cond {
                Condition::Leader => self
                    .leader()
                    .await
                    .map(|(l, term)| json!({ "leader": self.nodes[l].name, "term": term })),
                Condition::NewLeader => match (self.leader().await, start_leader) {
                    (Some((l, term)), Some((old, old_term))) if l != old || term > old_term => {
                        Some(json!({ "leader": self.nodes[l].name, "term": term }))
                    }
                    (Some((l, term)), None) => {
                        Some(json!({ "leader": self.nodes[l].name, "term": term }))
                    }
                    _ => None,
                },
                Condition::Acked(n) => {
                    let now = self.counters.ok.load(Ordering::Relaxed);
                    (now >= start_acked + n).then(|| json!({ "acked": now - start_acked }))
                }
                Condition::Crashed => {
                    let crashed: Vec<usize> = self
                        .down()
                        .into_iter()
                        .filter(|i| !down_at_start.contains(i))
                        .collect();
                    (!crashed.is_empty()).then(|| json!({ "crashed": self.names(&crashed) }))
                }
                Condition::CompactedPastPrevious => match self.previous {
                    None => Some(json!("no previous target")),
                    Some(p) => {
                        let statuses = self.statuses().await;
                        let lagging = statuses[p].as_ref().and_then(|s| s.last_log_index);
                        let compacted = leader_of(&statuses)
                            .and_then(|(l, _)| statuses[l].as_ref().and_then(|s| s.snapshot_index));
                        match (lagging, compacted) {
                            (Some(lag), Some(snap)) if snap > lag => Some(json!({
                                "node": self.nodes[p].name, "last_log_index": lag, "leader_snapshot_index": snap
                            })),
                            _ => None,
                        }
                    }
                },
            };
            if met.is_some() {
                return met;
            }
            if self.recorder.elapsed() >= deadline {
                return None;
            }
            let jitter = Duration::from_millis(self.rng.gen_range(0..10));
            tokio::time::sleep(POLL + jitter).await;
        }
    }
}

/// The node saying it leads with the highest term.
fn leader_of(statuses: &[Option<Probed>]) -> Option<(usize, u64)> {
    statuses
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.as_ref()
                .filter(|s| s.role == "leader")
                .map(|s| (s.term, i))
        })
        .max()
        .map(|(term, i)| (i, term))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(role: &str, term: u64) -> Option<Probed> {
        Some(Probed {
            role: role.into(),
            term,
            ..Probed::default()
        })
    }

    #[test]
    fn the_leader_is_the_one_with_the_highest_term() {
        let s = vec![
            probed("leader", 3),
            None,
            probed("leader", 5),
            probed("follower", 5),
        ];
        assert_eq!(leader_of(&s), Some((2, 5)));
        assert_eq!(leader_of(&[probed("follower", 1), None]), None);
    }
}
