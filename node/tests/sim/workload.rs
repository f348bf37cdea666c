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
    /// Probability per iteration that the leader is crashed or cut off (with
    /// `crash_leader` or `isolate_leader`).
    pub leader_fault: f64,
    /// Probability per iteration of crashing a random node.
    pub crash_any: f64,
    /// Probability per iteration of a random partition.
    pub partition: f64,
    /// Probability per iteration of bringing one crashed or cut-off node back.
    pub recover: f64,
    /// Probability per iteration of crashing a random node and restarting it
    /// at once (a supervisor restarting a killed process).
    pub bounce: f64,
    /// Read each iteration, sent to a node that believes it leads or to any
    /// node (how the node serves it is the replica's business).
    pub reads: Option<ReadMode>,
    /// Each iteration, a transaction appending to two keys at every node
    /// that believes it leads, and a read-only transaction of both, sent
    /// as reads are.
    pub txns: Option<ReadMode>,
    /// Probability per iteration of disk damage: a random node crashes,
    /// loses the last one to three entries of its log (a WAL tail lost to
    /// corruption) or, one time in four, its snapshot and the log built on
    /// it, and restarts, unless some node is still recovering from
    /// earlier damage (damage stays within what the others can repair).
    pub damage: f64,
    /// At least this many nodes stay up (and connected).
    pub min_up: usize,
}

impl Chaos {
    pub fn new(iterations: u32) -> Self {
        Chaos {
            iterations,
            crash_leader: false,
            isolate_leader: false,
            leader_fault: 0.5,
            crash_any: 0.0,
            partition: 0.0,
            recover: 0.0,
            bounce: 0.0,
            reads: None,
            txns: None,
            damage: 0.0,
            min_up: 0,
        }
    }
}

/// What a chaos run went through.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChaosStats {
    /// Iterations that ended with a majority up and connected: the chances
    /// the cluster had to make progress.
    pub majority_iterations: u32,
    /// Restarts after disk damage that found acknowledged entries gone.
    pub damaged_restarts: u32,
}

/// Where a read goes: a node drawn as `mode` says (None: no leader to send it to).
fn pick(c: &mut Cluster, mode: ReadMode) -> Option<u64> {
    match mode {
        ReadMode::AtAnyNode => Some(c.rng.gen_range(1..=c.cfg.n as u64)),
        ReadMode::AtLeader => {
            let leaders = c.leaders();
            (!leaders.is_empty()).then(|| leaders[c.rng.gen_range(0..leaders.len())].0)
        }
    }
}

/// Runs the workload. The caller settles and checks afterwards.
pub fn run_chaos(c: &mut Cluster, ch: &Chaos) -> ChaosStats {
    let mut stats = ChaosStats::default();
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
            if let Some(at) = pick(c, mode) {
                c.read(at);
            }
        }
        if let Some(mode) = ch.txns {
            for &l in &leaders {
                c.txn_write(l);
            }
            if let Some(at) = pick(c, mode) {
                c.txn_read(at);
            }
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
                if c.rng.gen_bool(ch.leader_fault) {
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
        if ch.bounce > 0.0 && c.rng.gen_bool(ch.bounce) {
            let victim = c.rng.gen_range(1..=n as u64);
            c.crash(victim);
            c.restart(victim);
        }
        if ch.damage > 0.0 && c.rng.gen_bool(ch.damage) {
            let victim = c.rng.gen_range(1..=n as u64);
            if !c.ids().any(|i| c.is_recovering(i)) && c.is_up(victim) {
                c.crash(victim);
                if c.rng.gen_bool(0.25) {
                    c.damage_snapshot(victim);
                } else {
                    let count = c.rng.gen_range(1..=3);
                    c.damage_tail(victim, count);
                }
                c.restart(victim);
                if c.is_recovering(victim) {
                    stats.damaged_restarts += 1;
                }
            }
        }
        if ch.partition > 0.0 && c.rng.gen_bool(ch.partition) {
            let victim = c.rng.gen_range(1..=n as u64);
            if c.is_isolated(victim) {
                c.rejoin(victim);
            } else {
                c.isolate(victim);
            }
        }
        if ch.recover > 0.0 && c.rng.gen_bool(ch.recover) {
            let down: Vec<u64> = c
                .ids()
                .filter(|&i| !c.is_up(i) || c.is_isolated(i))
                .collect();
            if !down.is_empty() {
                let pick = down[c.rng.gen_range(0..down.len())];
                c.restart(pick);
                if c.is_isolated(pick) {
                    c.rejoin(pick);
                }
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
        if up(c) > n / 2 {
            stats.majority_iterations += 1;
        }
    }
    stats
}
