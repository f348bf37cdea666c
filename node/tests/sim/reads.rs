//! Linearizable reads by ReadIndex, and transactions as one log entry:
//! never stale, never half applied, under faults.

use super::client::ReadMode;
use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;
use super::workload::{run_chaos, Chaos};

/// ReadIndex reads at whichever node believes it leads (deposed leaders
/// included) while leaders are cut off and nodes isolated at random over a
/// lossy, reordering network: no read may miss a write applied before it
/// began. The leader is cut off with probability 0.1 per iteration: at 0.5 a
/// leader lived about two iterations (~7 ticks), less than a ReadIndex needs
/// (commit of the term's no-op, then a heartbeat round, each a round trip of
/// 2-6 ticks), so almost no read could complete and the check was empty.
/// Reads taken by a leader that then lost its term rightly never complete
/// (how many depends on how long deposed leaders keep believing they lead),
/// so liveness is asserted where it is owed: after the faults stop, no
/// leader still holds a read it took in its current term.
#[test]
fn read_index_reads_are_never_stale_under_faults() {
    for_seeds("read_index", 5000, 30, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed).unreliable());
        let mut chaos = Chaos::new(400);
        chaos.partition = 0.15;
        chaos.isolate_leader = true;
        chaos.leader_fault = 0.1;
        chaos.reads = Some(ReadMode::AtLeader);
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        c.run(50);
        c.assert_safe();
        let stuck = c.stuck_reads();
        assert!(
            stuck.is_empty(),
            "seed {seed}: reads stuck at their leader: {stuck:?}"
        );
        let served = c.client.reads_served;
        assert!(
            served >= 10,
            "seed {seed}: too few reads served: {served} of {} taken",
            c.client.reads_taken
        );
    });
}

#[test]
fn a_read_waits_for_the_leaders_first_commit_and_a_quorum() {
    for_seeds("read_index_quorum", 5100, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        c.one(3, 300).expect("agreement");
        let l = c.leader().unwrap();
        for f in c.ids().filter(|&i| i != l).collect::<Vec<_>>() {
            c.isolate(f);
        }
        assert!(c.read(l));
        c.run(10);
        assert_eq!(c.pending_reads(), 1, "a read completed without a quorum");
        c.heal();
        c.run(200);
        c.assert_safe();
    });
}

/// Transactions under the same faults: every read-only transaction (at
/// whichever node believes it leads) sees each writing transaction whole or
/// not at all, and every one acknowledged before it began; enough of them
/// are served for the check to mean something.
#[test]
fn transactions_are_atomic_and_fresh_under_faults() {
    for_seeds("txns", 5200, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed).unreliable());
        let mut chaos = Chaos::new(400);
        chaos.partition = 0.15;
        chaos.isolate_leader = true;
        chaos.leader_fault = 0.1;
        chaos.txns = Some(ReadMode::AtLeader);
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        c.run(50);
        c.assert_safe();
        let served = c.client.txns.reads_served;
        assert!(
            served >= 10,
            "seed {seed}: too few read-only transactions served: {served}"
        );
    });
}
