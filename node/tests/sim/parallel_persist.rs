//! The leader writing its log in parallel with replicating it (Raft thesis
//! 10.2.1, `Config::persist_in_parallel`): its Appends leave before its own
//! write, and it counts itself toward a commit quorum only once the write
//! is reported durable. A stalled leader disk must hold the commit back
//! unless the followers alone make a majority; lagging disks under crashes
//! and partitions must lose no acknowledged write.

use super::client::ReadMode;
use super::cluster::{Cluster, SimConfig};
use super::figure8::random_leader_crashes;
use super::seeds::for_seeds;
use super::workload::{run_chaos, Chaos};

/// Three nodes persisting in parallel (disks that only lag when held), in
/// agreement: the cluster, its leader and the two followers.
fn three_in_agreement(seed: u64) -> (Cluster, u64, u64, u64) {
    let mut cfg = SimConfig::new(3, seed).parallel_persist();
    cfg.lagging_disks = false;
    let mut c = Cluster::new(cfg);
    let l = c.await_leader(&[1, 2, 3], 300).expect("leader");
    c.one(3, 300).expect("agreement");
    let followers: Vec<u64> = c.ids().filter(|&i| i != l).collect();
    let (near, far) = (followers[0], followers[1]);
    (c, l, near, far)
}

#[test]
fn a_leader_never_counts_an_entry_it_has_not_persisted() {
    for_seeds("parallel_persist_rule", 6000, 10, |seed| {
        let (mut c, l, near, far) = three_in_agreement(seed);

        // Only one follower hears the leader, and the leader's disk stalls:
        // the new entry is durable on one node of three, so it must not commit.
        c.link(l, far, false);
        c.hold_disk(l, true);
        let commit = |c: &Cluster| c.node(l).expect("up").status().commit;
        let before = commit(&c);
        let cmd = c.submit_at(l).expect("the leader takes the proposal");
        c.run(60);
        assert_eq!(
            c.node(near).expect("up").status().last_index,
            before + 1,
            "seed {seed}: the Append left before the leader's write"
        );
        assert_eq!(
            commit(&c),
            before,
            "seed {seed}: committed with only one durable replica"
        );
        assert_eq!(c.applied_count(cmd), 0, "seed {seed}: acknowledged early");

        // The leader's write completes: leader + one follower commit it.
        c.hold_disk(l, false);
        c.run(20);
        assert!(commit(&c) > before, "seed {seed}: no commit once durable");

        // Both followers hear it while the leader's disk stalls: they alone
        // are a majority, so it commits without the leader's own write.
        c.link(l, far, true);
        c.run(20);
        c.hold_disk(l, true);
        let before = commit(&c);
        c.submit_at(l).expect("the leader takes the proposal");
        c.run(60);
        assert!(
            commit(&c) > before,
            "seed {seed}: two durable followers are a majority"
        );
        c.hold_disk(l, false);
        c.one(3, 300).expect("agreement at the end");
        c.assert_safe();
    });
}

/// The end-to-end form of the rule: the leader crashes before its write
/// lands, and the one follower that has the entry is cut off; the other two
/// elect a leader without it. Nothing acknowledged may be missing.
#[test]
fn a_leader_crash_before_its_write_lands_loses_no_acknowledged_write() {
    for_seeds("parallel_persist_crash", 6050, 10, |seed| {
        let (mut c, l, near, far) = three_in_agreement(seed);
        c.link(l, far, false);
        c.hold_disk(l, true);
        for _ in 0..3 {
            c.submit_at(l).expect("the leader takes the proposal");
            c.run(10);
        }
        c.crash(l);
        c.hold_disk(l, false);
        c.isolate(near);
        c.link(l, far, true);
        c.restart(l);
        c.await_leader(&[l, far], 600)
            .expect("a leader among the two");
        c.one(2, 600)
            .expect("agreement without the cut-off follower");
        c.assert_safe();
    });
}

#[test]
fn lagging_leader_disks_under_leader_crashes() {
    for_seeds("parallel_persist_figure8", 6100, 30, |seed| {
        random_leader_crashes(SimConfig::new(5, seed).parallel_persist());
    });
}

#[test]
fn lagging_disks_under_churn_with_reads() {
    for_seeds("parallel_persist_churn", 6200, 30, |seed| {
        let n = if seed % 2 == 0 { 3 } else { 5 };
        let mut c = Cluster::new(SimConfig::new(n, seed).parallel_persist().unreliable());
        let mut chaos = Chaos::new(300);
        chaos.crash_any = 0.2;
        chaos.bounce = 0.1;
        chaos.partition = 0.1;
        chaos.recover = 0.3;
        chaos.reads = Some(ReadMode::AtLeader);
        chaos.min_up = 1;
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        c.assert_safe();
        assert!(c.client.acked > 0, "seed {seed}: nothing acknowledged");
    });
}
