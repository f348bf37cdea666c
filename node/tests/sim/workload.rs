//! A random fault workload shared by the Figure 8, churn and bug scenarios:
//! clients submit (and read), while leaders crash, nodes crash and restart,
//! and the network splits and heals, all drawn from the cluster's seed.

use rand::Rng;

use super::client::ReadMode;
use super::cluster::Cluster;

/// What faults to inject, how often.
#[derive(Debug, Clone)]
pub struct Chaos {
    pub iterations: u32,
    /// Crash the leader after each burst (Figure 8).
    pub crash_leader: bool,
    /// Cut the leader off after each burst instead of crashing it (Figure 8 unreliable).
    pub isolate_leader: bool,
    /// Probability per iteration of crashing a random node.
    pub crash_any: f64,
    /// Probability per iteration of a random partition.
    pub partition: f64,
    /// Read at a random node each iteration, served this way.
    pub reads: Option<ReadMode>,
    /// At least this many nodes stay up (and connected).
    pub min_up: usize,
}

impl Chaos {
    pub fn new(iterations: u32) -> Self {
        Chaos {
            iterations,
            crash_leader: false,
            isolate_leader: false,
            crash_any: 0.0,
            partition: 0.0,
            reads: None,
            min_up: 0,
        }
    }
}

/// Runs the workload. The caller settles and checks afterwards.
pub fn run_chaos(c: &mut Cluster, ch: &Chaos) {
    let n = c.cfg.n;
    let min_up = if ch.min_up == 0 { n / 2 + 1 } else { ch.min_up };
    for _ in 0..ch.iterations {
        // Every node that believes it leads takes a command or two.
        let leaders: Vec<u64> = c.leaders().into_iter().map(|(id, _)| id).collect();
        for &l in &leaders {
            for _ in 0..c.rng.gen_range(1..=2) {
                c.submit_at(l);
            }
        }
        if let Some(mode) = ch.reads {
            let at = c.rng.gen_range(1..=n as u64);
            c.read(at, mode);
        }
        let pause = if c.rng.gen_bool(0.1) {
            c.rng.gen_range(0..50)
        } else {
            c.rng.gen_range(0..3)
        };
        c.run(pause);
        let up = |c: &Cluster| c.ids().filter(|&i| c.is_up(i) && !c.is_isolated(i)).count();
        if ch.crash_leader || ch.isolate_leader {
            if let Some(l) = c.leader() {
                if c.rng.gen_bool(0.5) {
                    if ch.crash_leader {
                        c.crash(l);
                    } else {
                        c.isolate(l);
                    }
                }
            }
        }
        if ch.crash_any > 0.0 && c.rng.gen_bool(ch.crash_any) {
            let victim = c.rng.gen_range(1..=n as u64);
            c.crash(victim);
        }
        if ch.partition > 0.0 && c.rng.gen_bool(ch.partition) {
            let victim = c.rng.gen_range(1..=n as u64);
            if c.is_isolated(victim) {
                c.rejoin(victim);
            } else {
                c.isolate(victim);
            }
        }
        while up(c) < min_up {
            let down: Vec<u64> = c
                .ids()
                .filter(|&i| !c.is_up(i) || c.is_isolated(i))
                .collect();
            let pick = down[c.rng.gen_range(0..down.len())];
            if !c.is_up(pick) {
                c.restart(pick);
            }
            if c.is_isolated(pick) {
                c.rejoin(pick);
            }
        }
    }
}
