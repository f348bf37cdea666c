//! `stutter`: the target nodes freeze and thaw again and again (SIGSTOP for
//! `frozen_ms` out of every `period_ms`, then SIGCONT) until the fault
//! stops: a node that is slow rather than dead, a fail-slow fault (a disk
//! or garbage-collection stall, a throttled machine). A `pause` is one long
//! freeze; a stutter keeps a node limping, in and out of its peers' and
//! clients' timeouts, and a leader in and out of its lease.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::AbortHandle;
use tokio::time::MissedTickBehavior;

use crate::nemesis::event::{from_parts, Reading};
use crate::nemesis::executor::{Active, Executor, Started};
use crate::nemesis::kind::{About, Drawn, FaultKind};
use crate::nemesis::target::Target;
use crate::nemesis::{lock, SharedPlatform};
use faultline_platform::cluster::{ClusterError, NodeSpec, NodeState, Platform, Signal};

/// Freeze the target nodes for `frozen_ms` out of every `period_ms`, again
/// and again, until the fault stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Written")]
pub struct Stutter {
    /// The nodes that stutter (the running ones among them when it starts).
    pub target: Target,
    /// How long each freeze lasts, milliseconds.
    pub frozen_ms: u64,
    /// Time from one freeze to the next, milliseconds (more than
    /// `frozen_ms`).
    pub period_ms: u64,
}

/// The step as written, before its durations are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    target: Target,
    #[serde(default = "default_frozen")]
    frozen_ms: u64,
    #[serde(default = "default_period")]
    period_ms: u64,
}

fn default_frozen() -> u64 {
    200
}

fn default_period() -> u64 {
    500
}

impl TryFrom<Written> for Stutter {
    type Error = String;
    fn try_from(w: Written) -> Result<Stutter, String> {
        if w.frozen_ms == 0 || w.frozen_ms >= w.period_ms {
            return Err(format!(
                "stutter: frozen_ms ({}) must be above 0 and below period_ms ({})",
                w.frozen_ms, w.period_ms
            ));
        }
        Ok(Stutter {
            target: w.target,
            frozen_ms: w.frozen_ms,
            period_ms: w.period_ms,
        })
    }
}

/// What `stutter` records: its start and end (not every freeze).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", content = "value", rename_all = "kebab-case")]
pub enum StutterEvent {
    /// These nodes started to stutter.
    StartStutter {
        /// The nodes.
        nodes: Vec<String>,
        /// Each freeze, milliseconds.
        frozen_ms: u64,
        /// From one freeze to the next, milliseconds.
        period_ms: u64,
    },
    /// These nodes stopped stuttering (and run).
    StopStutter(Vec<String>),
}

impl FaultKind for Stutter {
    const ABOUT: About = About {
        name: "stutter",
        help: "SIGSTOP then SIGCONT one node, a minority or the leader, again and again (frozen_ms of every period_ms): a slow node, not a dead one",
        example: r#"{ do = "stutter", target = "leader", frozen_ms = 300, period_ms = 600 }"#,
        family: None,
        in_all: false,
        disk_layer: false,
        firewall: false,
        min_nodes: 1,
    };
    /// Freezes shorter and longer than an election timeout.
    const DRAWN: Drawn<Self> = Drawn::Alone(|draw, rng| {
        let target = Target::draw(draw.nodes, rng);
        let frozen_ms = *[100, 200, 500, 1000].choose(rng).expect("not empty");
        Stutter {
            target,
            frozen_ms,
            period_ms: 2 * frozen_ms,
        }
    });

    fn target(&self) -> Option<&Target> {
        Some(&self.target)
    }

    async fn start(&self, ex: &mut Executor) -> Started {
        let targets = ex.resolve(&self.target).await;
        let nodes: Vec<usize> = {
            let p = ex.platform();
            targets
                .into_iter()
                .filter(|&i| p.state(i) == NodeState::Running)
                .collect()
        };
        let Some(&first) = nodes.first() else {
            return Ok(None);
        };
        ex.set_previous(first);
        ex.record(&StutterEvent::StartStutter {
            nodes: ex.names(&nodes),
            frozen_ms: self.frozen_ms,
            period_ms: self.period_ms,
        });
        let cycle = Arc::new(Cycle::default());
        let task = tokio::spawn(run(
            ex.shared_platform(),
            nodes.clone(),
            Duration::from_millis(self.frozen_ms),
            Duration::from_millis(self.period_ms),
            cycle.clone(),
        ));
        Ok(Some(Box::new(Stuttering {
            nodes,
            cycle,
            task: task.abort_handle(),
        })))
    }

    fn read(f: &str, value: &Value) -> Option<Reading> {
        Some(match from_parts(f, value)? {
            StutterEvent::StartStutter {
                nodes,
                frozen_ms,
                period_ms,
            } => {
                let label = format!(
                    "stutter {}: frozen {frozen_ms} of every {period_ms} ms",
                    nodes.join(" ")
                );
                Reading::opens("stutter", label, nodes, &["stop-stutter"])
            }
            StutterEvent::StopStutter(nodes) => Reading::Closes { nodes },
        })
    }
}

/// Freezes `nodes` every `period` for `frozen`, until the cycle is over.
async fn run(
    platform: SharedPlatform,
    nodes: Vec<usize>,
    frozen: Duration,
    period: Duration,
    cycle: Arc<Cycle>,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if !cycle.freeze(&mut *lock(&platform), &nodes) {
            return;
        }
        tokio::time::sleep(frozen).await;
        if !cycle.thaw(&mut *lock(&platform)) {
            return;
        }
    }
}

/// A stutter's state, shared by its task and its undo. Both act with the
/// platform locked, so once the undo has marked the cycle over and thawed,
/// the task can freeze nothing more.
#[derive(Debug, Default)]
struct Cycle {
    /// The fault stopped.
    over: AtomicBool,
    /// The nodes this stutter froze and has not thawed yet.
    held: Mutex<Vec<usize>>,
}

impl Cycle {
    /// Freezes those of `nodes` that run (not a node paused, killed or
    /// crashed by anything else); false once the cycle is over.
    fn freeze(&self, p: &mut dyn Platform, nodes: &[usize]) -> bool {
        if self.over.load(Ordering::SeqCst) {
            return false;
        }
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for &i in nodes {
            if p.state(i) == NodeState::Running {
                match p.signal(i, Signal::Stop) {
                    Ok(()) => held.push(i),
                    Err(e) => tracing::warn!("stutter: {e}"),
                }
            }
        }
        true
    }

    /// Thaws the nodes it froze that are still frozen (not one killed
    /// meanwhile); false once the cycle is over.
    fn thaw(&self, p: &mut dyn Platform) -> bool {
        if self.over.load(Ordering::SeqCst) {
            return false;
        }
        self.release(p);
        true
    }

    fn release(&self, p: &mut dyn Platform) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        for i in held.drain(..) {
            if p.state(i) == NodeState::Paused {
                if let Err(e) = p.signal(i, Signal::Cont) {
                    tracing::warn!("stutter: {e}");
                }
            }
        }
    }
}

/// A stutter in force.
struct Stuttering {
    nodes: Vec<usize>,
    cycle: Arc<Cycle>,
    task: AbortHandle,
}

impl Active for Stuttering {
    fn label(&self, nodes: &[NodeSpec]) -> String {
        let names: Vec<&str> = self.nodes.iter().map(|&i| nodes[i].name.as_str()).collect();
        format!("stutter {}", names.join(","))
    }
    fn undo(self: Box<Self>, ex: &mut Executor) -> Result<(), ClusterError> {
        {
            let mut p = ex.platform();
            self.cycle.over.store(true, Ordering::SeqCst);
            self.cycle.release(&mut *p);
        }
        ex.record(&StutterEvent::StopStutter(ex.names(&self.nodes)));
        Ok(())
    }
}

impl Drop for Stuttering {
    /// The task ends with the fault, even one never undone.
    fn drop(&mut self) {
        self.cycle.over.store(true, Ordering::SeqCst);
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::testing::{block_on, faults, fixture};
    use crate::nemesis::Fault;

    fn stutter(frozen_ms: u64, period_ms: u64) -> Fault {
        Fault::Stutter(Stutter {
            target: Target::Nodes(vec![0]),
            frozen_ms,
            period_ms,
        })
    }

    #[test]
    fn a_stuttering_node_freezes_and_thaws_until_the_fault_stops() {
        let dir = tempfile::tempdir().unwrap();
        let (mut exec, platform, writer) = fixture(dir.path());
        let signals = |node: usize, s: Signal| {
            let p = platform.lock().unwrap();
            p.signals.iter().filter(|&&x| x == (node, s)).count()
        };
        block_on(async {
            let id = exec.start(&stutter(20, 50)).await.unwrap().unwrap();
            assert_eq!(*exec.labels().lock().unwrap(), ["stutter n1"]);
            tokio::time::sleep(Duration::from_millis(400)).await;
            exec.stop(id).unwrap();
            let (stops, conts) = (signals(0, Signal::Stop), signals(0, Signal::Cont));
            assert!(stops >= 4, "{stops} freezes in 400 ms of a 50 ms period");
            assert_eq!(stops, conts, "every freeze thawed");
            tokio::time::sleep(Duration::from_millis(150)).await;
            assert_eq!(
                signals(0, Signal::Stop),
                stops,
                "froze after the fault stopped"
            );
        });
        let p = platform.lock().unwrap();
        assert!(p.states.iter().all(|&s| s == NodeState::Running));
        assert!(p.signals.iter().all(|&(i, _)| i == 0));
        drop(p);
        assert_eq!(
            faults(&exec, writer),
            [
                r#"start-stutter {"frozen_ms":20,"nodes":["n1"],"period_ms":50}"#,
                r#"stop-stutter ["n1"]"#
            ]
        );
    }

    #[test]
    fn a_stutter_leaves_nodes_that_others_paused_or_killed_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (_, platform, _writer) = fixture(dir.path());
        let mut p = platform.lock().unwrap();
        p.states[1] = NodeState::Paused;
        let cycle = Cycle::default();
        assert!(cycle.freeze(&mut *p, &[0, 1, 2]));
        assert_eq!(p.signals, [(0, Signal::Stop), (2, Signal::Stop)]);
        // Node 2 is killed while frozen: only node 0 thaws, node 1 stays paused.
        p.states[2] = NodeState::Killed;
        assert!(cycle.thaw(&mut *p));
        assert_eq!(p.signals[2..], [(0, Signal::Cont)]);
        assert_eq!(p.states[1], NodeState::Paused);
        cycle.over.store(true, Ordering::SeqCst);
        assert!(!cycle.freeze(&mut *p, &[0]));
        assert_eq!(p.signals.len(), 3);
    }

    #[test]
    fn a_freeze_must_be_shorter_than_its_period() {
        let step = |frozen: u64, period: u64| {
            serde_json::from_value::<Fault>(serde_json::json!({
                "do": "stutter", "target": "leader", "frozen_ms": frozen, "period_ms": period
            }))
        };
        assert!(step(100, 300).is_ok());
        let err = step(300, 300).unwrap_err().to_string();
        assert!(err.contains("frozen_ms (300)"), "{err}");
        assert!(step(0, 300).is_err());
        let defaults: Fault =
            serde_json::from_value(serde_json::json!({"do": "stutter", "target": "all"})).unwrap();
        assert_eq!(
            serde_json::to_value(&defaults).unwrap(),
            serde_json::json!({"do": "stutter", "target": "all", "frozen_ms": 200, "period_ms": 500})
        );
    }
}
