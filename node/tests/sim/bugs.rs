//! Every injectable bug breaks a safety property the simulation checks: with
//! the bug on, some seed among a bounded number shows a violation; with it
//! off, the same seeds pass. Every bug runs in the code the node ships: the
//! core bugs in the Raft core, the server bugs in the replica (`stale-read`
//! and `lease-without-checkquorum` serve reads from local state,
//! `ack-before-commit` acknowledges on local append, `txn-split` and
//! `txn-local-read` break transactions), and `no-fsync` through
//! `replica::syncs_writes`, which makes the simulated disk lose what was
//! not written back when a node crashes; `vote-without-repair` with disk
//! damage that cuts acknowledged entries off two logs.

use faultline_node::bugs::Bug;
use faultline_node::raft::NodeId;
use rand::Rng;

use super::client::ReadMode;
use super::cluster::{Cluster, SimConfig};
use super::invariants::{Invariant, Violation};
use super::seeds::{find_seed, for_seeds};
use super::workload::{run_chaos, Chaos};

/// One bug's scenario: the cluster and the faults, as a function of the seed.
struct Scenario {
    bug: Bug,
    /// How many seeds to try, from `base`.
    seeds: u64,
    base: u64,
    cluster: fn(u64) -> SimConfig,
    drive: Drive,
    /// The properties the bug is expected to break.
    breaks: &'static [Invariant],
}

/// How a scenario injects its faults.
enum Drive {
    /// The random fault workload.
    Chaos(fn() -> Chaos),
    /// A scripted schedule of faults (its timing still drawn from the seed).
    Script(fn(&mut Cluster)),
}

/// What one run showed.
#[derive(Debug)]
struct Outcome {
    settled: bool,
    violation: Option<Violation>,
}

impl Scenario {
    /// Runs the scenario at `seed` with the bug on or off.
    fn run(&self, seed: u64, bug_on: bool) -> Outcome {
        let bug = bug_on.then_some(self.bug);
        let mut cfg = (self.cluster)(seed).with_bug(bug);
        cfg.seed = seed;
        let mut c = Cluster::new(cfg);
        match self.drive {
            Drive::Chaos(chaos) => {
                let mut chaos = chaos();
                // One iteration at a time (the same draws as one long run),
                // stopping at the first violation: a broken log makes every
                // later step noisy, and a cluster whose safety is gone may
                // never settle.
                let iterations = chaos.iterations;
                chaos.iterations = 1;
                for _ in 0..iterations {
                    run_chaos(&mut c, &chaos);
                    if c.violation().is_some() {
                        break;
                    }
                }
            }
            Drive::Script(script) => script(&mut c),
        }
        if let Some(v) = c.violation() {
            return Outcome {
                settled: false,
                violation: Some(v.clone()),
            };
        }
        let settled = c.settle(3000);
        c.run(50);
        c.finish();
        Outcome {
            settled,
            violation: c.violation().cloned(),
        }
    }

    /// Asserts that the bug shows at some seed of `base .. base + seeds`
    /// (the first is reported, with the property it broke), and that the
    /// correct node passes every one of those seeds (`SIM_SEED` narrows
    /// both to one seed).
    fn check(&self) {
        let name = format!("bug_{}", self.bug.name().replace('-', "_"));
        let mut first = None;
        let found = find_seed(&name, self.base, self.seeds, |seed| {
            first = self.run(seed, true).violation;
            first.is_some()
        });
        let (Some(seed), Some(v)) = (found, first) else {
            panic!(
                "bug {} went unnoticed in seeds {}..{}",
                self.bug,
                self.base,
                self.base + self.seeds
            );
        };
        eprintln!("bug {} shows at seed {seed}: {v}", self.bug);
        assert!(
            self.breaks.contains(&v.invariant),
            "bug {} at seed {seed} broke {:?}, expected one of {:?}: {v}",
            self.bug,
            v.invariant,
            self.breaks
        );
        for_seeds(&name, self.base, self.seeds, |s| {
            let out = self.run(s, false);
            assert!(
                out.violation.is_none() && out.settled,
                "seed {s}: the correct node fails the {} scenario: {out:?}",
                self.bug
            );
        });
    }
}

fn five(seed: u64) -> SimConfig {
    SimConfig::new(5, seed)
}

fn five_unreliable(seed: u64) -> SimConfig {
    SimConfig::new(5, seed).unreliable()
}

fn three_unreliable(seed: u64) -> SimConfig {
    SimConfig::new(3, seed).unreliable()
}

fn three(seed: u64) -> SimConfig {
    SimConfig::new(3, seed)
}

/// One entry per Append, so a follower can hold an old-term entry without
/// the new leader's no-op that follows it.
fn five_one_by_one(seed: u64) -> SimConfig {
    let mut c = SimConfig::new(5, seed);
    c.max_entries_per_msg = 1;
    c
}

fn leader_crashes() -> Chaos {
    let mut ch = Chaos::new(300);
    ch.crash_leader = true;
    ch.crash_any = 0.1;
    ch.recover = 0.3;
    ch
}

fn leader_isolations() -> Chaos {
    let mut ch = Chaos::new(300);
    ch.isolate_leader = true;
    ch.partition = 0.1;
    ch.recover = 0.2;
    ch
}

/// Reads sent to nodes that believe they lead (deposed leaders included).
fn reads_under_isolation() -> Chaos {
    let mut ch = leader_isolations();
    ch.leader_fault = 0.2;
    ch.reads = Some(ReadMode::AtLeader);
    ch
}

/// Reads sent to any node, while leaders are cut off.
fn reads_anywhere_under_isolation() -> Chaos {
    let mut ch = reads_under_isolation();
    ch.reads = Some(ReadMode::AtAnyNode);
    ch
}

/// Transactions at the leader, and read-only ones at the leader too, with
/// crashes and isolations.
fn txns_at_leader() -> Chaos {
    let mut ch = crashes();
    ch.txns = Some(ReadMode::AtLeader);
    ch
}

/// Transactions at the leader, read-only ones at any node, while leaders
/// are cut off.
fn txns_anywhere_under_isolation() -> Chaos {
    let mut ch = reads_under_isolation();
    ch.reads = None;
    ch.txns = Some(ReadMode::AtAnyNode);
    ch
}

fn crashes() -> Chaos {
    let mut ch = Chaos::new(300);
    ch.crash_any = 0.3;
    ch.crash_leader = true;
    ch.leader_fault = 0.2;
    ch.recover = 0.5;
    ch
}

/// Figure 8 of the Raft paper, with the no-op a new leader appends. S1
/// leads and gets an entry X (index i) only to S2, then crashes. L2, one of
/// the other three, wins the next term and is cut off before its no-op
/// reaches anyone, so it alone holds a newer-term entry at i. S1 (or S2)
/// wins the term after with the other two, and sends them X one entry at a
/// time: under `commit-old-term` X counts as committed as soon as a majority
/// holds it, before the new leader's no-op does. That leader is cut off and
/// crashes at once; L2 then wins with the two that hold X but not the no-op,
/// and replaces X with its own entry at i. Correct, the leader commits X only
/// with its no-op on a majority, and then L2 cannot win.
fn figure8(c: &mut Cluster) {
    let all: Vec<NodeId> = c.ids().collect();
    let Some(s1) = c.await_leader(&all, 500) else {
        return;
    };
    if c.one(all.len(), 300).is_none() {
        return;
    }
    let s2 = *all.iter().find(|&&i| i != s1).expect("five nodes");
    let others: Vec<NodeId> = all
        .iter()
        .copied()
        .filter(|&i| i != s1 && i != s2)
        .collect();
    c.partition(&[vec![s1, s2], others.clone()]);
    if c.submit_at(s1).is_none() {
        return;
    }
    let x = c.node(s1).expect("up").status().last_index;
    c.run(3);
    c.crash(s1);
    let Some(l2) = c.await_leader(&others, 500) else {
        return;
    };
    let rest: Vec<NodeId> = others.iter().copied().filter(|&i| i != l2).collect();
    c.partition(&[vec![s1, s2, rest[0], rest[1]], vec![l2]]);
    c.restart(s1);
    let Some(l3) = c.await_leader(&[s1, s2, rest[0], rest[1]], 500) else {
        return;
    };
    let p = if l3 == s1 { s2 } else { s1 };
    c.run_until(300, |c| c.node(l3).is_none_or(|n| n.status().commit >= x));
    c.partition(&[vec![p, rest[0], rest[1]], vec![l3], vec![l2]]);
    c.crash(l3);
    c.partition(&[vec![l2, rest[0], rest[1]], vec![p]]);
    c.await_leader(&[l2, rest[0], rest[1]], 800);
    c.run(100);
}

/// A node votes twice in one term. In a 3-node cluster the two followers A
/// and B cannot hear each other; the old leader V restarts (its clock held,
/// so it only votes). The first of A and B to win takes V's vote, and its
/// first Append to V is lost; V restarts again. Under `vote-twice` V forgot
/// its vote and grants it to the other in the same term: two leaders.
fn vote_twice(c: &mut Cluster) {
    let all: Vec<NodeId> = c.ids().collect();
    let Some(v) = c.await_leader(&all, 300) else {
        return;
    };
    if c.one(all.len(), 300).is_none() {
        return;
    }
    let ab: Vec<NodeId> = all.iter().copied().filter(|&i| i != v).collect();
    c.link(ab[0], ab[1], false);
    c.crash(v);
    c.restart(v);
    c.hold(v, true);
    let Some(first) = c.await_leader(&ab, 300) else {
        return;
    };
    c.link(first, v, false);
    c.crash(v);
    c.restart(v);
    c.run(200);
}

/// The leader commits with two followers while the other two are down;
/// disk damage then cuts the newest entries off both followers' logs (as a
/// WAL tail lost to corruption), the leader is cut off and the four others
/// come back: the two damaged and the two lagging are a majority without
/// the committed entries. Under `vote-without-repair` they elect one of
/// theirs; recovering, the damaged two refuse to vote until the old leader
/// returns (the heal when the run settles) and gives the entries back.
fn damaged_tails(c: &mut Cluster) {
    let all: Vec<NodeId> = c.ids().collect();
    let Some(leader) = c.await_leader(&all, 300) else {
        return;
    };
    if c.one(all.len(), 300).is_none() {
        return;
    }
    let others: Vec<NodeId> = all.iter().copied().filter(|&i| i != leader).collect();
    let (lagging, acked) = others.split_at(2);
    for &i in lagging {
        c.crash(i);
    }
    for _ in 0..c.rng.gen_range(2..6) {
        if c.one(3, 300).is_none() {
            return;
        }
    }
    for &i in acked {
        c.crash(i);
        let count = c.rng.gen_range(1..=3);
        c.damage_tail(i, count);
    }
    c.isolate(leader);
    for &i in &others {
        c.restart(i);
    }
    c.run(600);
}

/// One scenario per bug.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        bug: Bug::NoLogCheck,
        seeds: 20,
        base: 7000,
        cluster: five,
        drive: Drive::Chaos(leader_crashes),
        breaks: &[Invariant::LeaderCompleteness, Invariant::StateMachineSafety],
    },
    Scenario {
        bug: Bug::CommitOldTerm,
        seeds: 20,
        base: 7100,
        cluster: five_one_by_one,
        drive: Drive::Script(figure8),
        breaks: &[Invariant::LeaderCompleteness, Invariant::StateMachineSafety],
    },
    Scenario {
        bug: Bug::NoTruncate,
        seeds: 20,
        base: 7200,
        cluster: five_unreliable,
        drive: Drive::Chaos(leader_isolations),
        breaks: &[Invariant::LogMatching, Invariant::StateMachineSafety],
    },
    Scenario {
        bug: Bug::VoteTwice,
        seeds: 20,
        base: 7300,
        cluster: three,
        drive: Drive::Script(vote_twice),
        breaks: &[Invariant::ElectionSafety],
    },
    Scenario {
        bug: Bug::LeaseWithoutCheckQuorum,
        seeds: 20,
        base: 7400,
        cluster: five_unreliable,
        drive: Drive::Chaos(reads_under_isolation),
        breaks: &[Invariant::StaleRead],
    },
    Scenario {
        bug: Bug::StaleRead,
        seeds: 20,
        base: 7500,
        cluster: five_unreliable,
        drive: Drive::Chaos(reads_anywhere_under_isolation),
        breaks: &[Invariant::StaleRead],
    },
    Scenario {
        bug: Bug::AckBeforeCommit,
        seeds: 20,
        base: 7600,
        cluster: five,
        drive: Drive::Chaos(leader_crashes),
        breaks: &[Invariant::AckedWriteLost],
    },
    Scenario {
        bug: Bug::NoFsync,
        seeds: 20,
        base: 7700,
        cluster: three_unreliable,
        drive: Drive::Chaos(crashes),
        breaks: &[
            Invariant::StateMachineSafety,
            Invariant::AckedWriteLost,
            Invariant::ElectionSafety,
            Invariant::LeaderCompleteness,
            Invariant::LogMatching,
        ],
    },
    Scenario {
        bug: Bug::TxnSplit,
        seeds: 20,
        base: 7800,
        cluster: three_unreliable,
        drive: Drive::Chaos(txns_at_leader),
        breaks: &[Invariant::TxnAtomicity],
    },
    Scenario {
        bug: Bug::TxnLocalRead,
        seeds: 20,
        base: 7900,
        cluster: five_unreliable,
        drive: Drive::Chaos(txns_anywhere_under_isolation),
        breaks: &[Invariant::StaleRead],
    },
    Scenario {
        bug: Bug::VoteWithoutRepair,
        seeds: 20,
        base: 8000,
        cluster: five,
        drive: Drive::Script(damaged_tails),
        breaks: &[
            Invariant::LeaderCompleteness,
            Invariant::StateMachineSafety,
            Invariant::AckedWriteLost,
        ],
    },
];

fn scenario(bug: Bug) -> &'static Scenario {
    SCENARIOS
        .iter()
        .find(|s| s.bug == bug)
        .unwrap_or_else(|| panic!("no scenario for bug {bug}"))
}

#[test]
fn every_bug_has_a_scenario() {
    for bug in Bug::ALL {
        scenario(bug);
    }
    assert_eq!(SCENARIOS.len(), Bug::ALL.len());
}

#[test]
fn no_log_check_elects_a_leader_without_committed_entries() {
    scenario(Bug::NoLogCheck).check();
}

#[test]
fn commit_old_term_loses_a_committed_entry_figure8() {
    scenario(Bug::CommitOldTerm).check();
}

#[test]
fn no_truncate_breaks_log_matching() {
    scenario(Bug::NoTruncate).check();
}

#[test]
fn vote_twice_elects_two_leaders_in_a_term() {
    scenario(Bug::VoteTwice).check();
}

#[test]
fn lease_without_checkquorum_serves_stale_reads() {
    scenario(Bug::LeaseWithoutCheckQuorum).check();
}

#[test]
fn stale_read_serves_stale_reads() {
    scenario(Bug::StaleRead).check();
}

#[test]
fn ack_before_commit_loses_acknowledged_writes() {
    scenario(Bug::AckBeforeCommit).check();
}

#[test]
fn no_fsync_loses_what_a_crash_did_not_write_back() {
    scenario(Bug::NoFsync).check();
}

#[test]
fn txn_split_lets_a_read_see_half_a_transaction() {
    scenario(Bug::TxnSplit).check();
}

#[test]
fn txn_local_read_serves_stale_transactions() {
    scenario(Bug::TxnLocalRead).check();
}

#[test]
fn vote_without_repair_elects_a_leader_without_acknowledged_entries() {
    scenario(Bug::VoteWithoutRepair).check();
}
