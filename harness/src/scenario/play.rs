//! Plays a scenario's steps: fault steps go to the [`Executor`] (which
//! resolves their targets by role when they fire, applies and records
//! them); the scenario's own steps (sleep, bounded waits on the cluster's
//! status, restart, resume, arm, disarm, heal) are played here, every
//! wait's outcome recorded in the history.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::client::Counters;
use crate::nemesis::event::WaitOutcome;
use crate::nemesis::{Executor, FaultEvent};
use faultline_platform::cluster::{ClusterError, NodeState};

use super::{Condition, Control, Scenario, Step};

/// The ChaCha stream of the waits' polling jitter.
pub const WAIT_STREAM: u64 = 4;

/// How often waits look at the cluster.
const POLL: Duration = Duration::from_millis(50);

/// Plays `scenario` through `executor` (again and again when it repeats)
/// until its steps end or `until` (time since the test start) passes.
/// Faults still active stay active: the run heals them. `counters` count
/// the clients' outcomes (`acked` waits use the ok count).
pub async fn play(
    executor: &mut Executor,
    scenario: &Scenario,
    counters: Arc<Counters>,
    seed: u64,
    until: Duration,
) -> Result<(), ClusterError> {
    let mut jitter = ChaCha8Rng::seed_from_u64(seed);
    jitter.set_stream(WAIT_STREAM);
    loop {
        // The leader before the fault that a `new-leader` wait follows: a
        // platform slow to apply faults (remote hosts) may return after
        // the new leader is already elected.
        let mut before_fault = None;
        for (i, step) in scenario.steps.iter().enumerate() {
            if executor.recorder().elapsed() >= until {
                return Ok(());
            }
            match step {
                Step::Fault(fault) => {
                    let next = scenario.steps.get(i + 1);
                    if matches!(
                        next,
                        Some(Step::Control(Control::Wait {
                            until: Condition::NewLeader,
                            ..
                        }))
                    ) {
                        before_fault = Some(executor.leader().await);
                    }
                    executor.start(fault).await?;
                }
                Step::Control(control) => {
                    let mut waits = Waits {
                        executor: &mut *executor,
                        counters: &counters,
                        jitter: &mut jitter,
                        before_fault: before_fault.take(),
                    };
                    waits.control(i, control, until).await?;
                }
            }
        }
        if !scenario.repeat {
            return Ok(());
        }
    }
}

/// The scenario's own steps, played against the executor's view of the
/// cluster.
struct Waits<'a> {
    executor: &'a mut Executor,
    counters: &'a Counters,
    jitter: &'a mut ChaCha8Rng,
    /// The leader seen just before the fault this step follows, when a
    /// `new-leader` wait follows a fault.
    before_fault: Option<Option<(usize, u64)>>,
}

impl Waits<'_> {
    async fn control(
        &mut self,
        i: usize,
        control: &Control,
        until: Duration,
    ) -> Result<(), ClusterError> {
        match control {
            Control::Restart { target } => self.executor.restart(target).await?,
            Control::Resume { target } => self.executor.resume(target).await?,
            Control::Arm { failpoint, target } => self.executor.arm(*failpoint, target).await?,
            Control::Disarm { target } => self.executor.disarm(target).await?,
            Control::Heal => self.executor.heal()?,
            Control::Sleep { seconds } => {
                let left = until.saturating_sub(self.executor.recorder().elapsed());
                tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0)).min(left)).await;
            }
            Control::Wait {
                until: cond,
                timeout,
            } => {
                let limit = Duration::from_secs_f64(timeout.max(0.0));
                let started = self.executor.recorder().elapsed();
                let deadline = (started + limit).min(until);
                let detail = self.wait(cond, deadline).await;
                let waited = self.executor.recorder().elapsed().saturating_sub(started);
                self.executor
                    .recorder()
                    .fault(&FaultEvent::Wait(WaitOutcome {
                        step: i,
                        until: serde_json::to_value(cond).unwrap_or(Value::Null),
                        met: detail.is_some(),
                        detail,
                        seconds: (waited.as_secs_f64() * 1000.0).round() / 1000.0,
                    }));
            }
        }
        Ok(())
    }

    /// The nodes whose process has ended (killed or crashed).
    fn down(&self) -> Vec<usize> {
        self.executor
            .nodes_in(|s| matches!(s, NodeState::Killed | NodeState::Exited))
    }

    fn leader_detail(&self, l: usize, term: u64) -> Value {
        json!({ "leader": self.executor.nodes()[l].name, "term": term })
    }

    /// Waits until `cond` holds or `deadline` (since the test start) passes;
    /// what was seen when it held.
    async fn wait(&mut self, cond: &Condition, deadline: Duration) -> Option<Value> {
        let start_leader = match cond {
            Condition::NewLeader => match self.before_fault {
                Some(before) => before,
                None => self.executor.leader().await,
            },
            _ => None,
        };
        let start_acked = self.counters.ok.load(Ordering::Relaxed);
        let down_at_start = self.down();
        loop {
            let met = match cond {
                Condition::Leader => self
                    .executor
                    .leader()
                    .await
                    .map(|(l, term)| self.leader_detail(l, term)),
                Condition::NewLeader => match (self.executor.leader().await, start_leader) {
                    (Some((l, term)), Some((old, old_term))) if l != old || term > old_term => {
                        Some(self.leader_detail(l, term))
                    }
                    (Some((l, term)), None) => Some(self.leader_detail(l, term)),
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
                    (!crashed.is_empty())
                        .then(|| json!({ "crashed": self.executor.names(&crashed) }))
                }
                Condition::CompactedPastPrevious => self.compacted_past_previous().await,
            };
            if met.is_some() {
                return met;
            }
            if self.executor.recorder().elapsed() >= deadline {
                return None;
            }
            let jitter = Duration::from_millis(self.jitter.gen_range(0..10));
            tokio::time::sleep(POLL + jitter).await;
        }
    }

    /// Whether the leader compacted its log past the end of the previous
    /// target's log.
    async fn compacted_past_previous(&self) -> Option<Value> {
        let Some(p) = self.executor.previous() else {
            return Some(json!("no previous target"));
        };
        let statuses = self.executor.statuses().await;
        let lagging = statuses[p].as_ref().and_then(|s| s.last_log_index);
        let compacted = crate::nemesis::target::leader_of(&statuses)
            .and_then(|(l, _)| statuses[l].as_ref().and_then(|s| s.snapshot_index));
        match (lagging, compacted) {
            (Some(lag), Some(snap)) if snap > lag => Some(json!({
                "node": self.executor.nodes()[p].name, "last_log_index": lag, "leader_snapshot_index": snap
            })),
            _ => None,
        }
    }
}
