//! Snapshots: log compaction, InstallSnapshot for followers behind the
//! compacted log, also across crashes and over an unreliable network.

use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;
use super::workload::{run_chaos, Chaos};

#[test]
fn lagging_follower_gets_a_snapshot() {
    for_seeds("snapshot_install", 4000, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed).compact_every(10));
        c.one(3, 300).expect("agreement");
        let l = c.leader().unwrap();
        let f = c.ids().find(|&i| i != l).unwrap();
        c.isolate(f);
        for _ in 0..40 {
            c.one(2, 300).expect("agreement without the follower");
        }
        let leader_first = c.node(l).unwrap().status().first_index;
        assert!(
            leader_first > 20,
            "the leader did not compact: first index {leader_first}"
        );
        assert_eq!(c.node(f).unwrap().status().snapshot_index, 0);
        c.rejoin(f);
        c.one(3, 600)
            .expect("agreement after the follower caught up");
        let st = c.node(f).unwrap().status();
        assert!(
            st.snapshot_index >= leader_first - 1,
            "the follower did not install a snapshot: {st:?}"
        );
        c.assert_safe();
    });
}

#[test]
fn snapshot_install_across_crashes() {
    for_seeds("snapshot_crash", 4100, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed).compact_every(8));
        c.one(3, 300).expect("agreement");
        for round in 0..4 {
            let l = c.leader().unwrap();
            let victim = if round % 2 == 0 {
                c.ids().find(|&i| i != l).unwrap()
            } else {
                l
            };
            c.crash(victim);
            for _ in 0..25 {
                c.one(2, 600).expect("agreement with one down");
            }
            c.restart(victim);
            c.one(3, 800).expect("agreement after the restart");
        }
        // Everyone restarts from its snapshot.
        for id in 1..=3 {
            c.crash(id);
        }
        for id in 1..=3 {
            c.restart(id);
        }
        c.one(3, 800)
            .expect("agreement after restarting from snapshots");
        c.assert_safe();
    });
}

#[test]
fn snapshots_under_churn_and_an_unreliable_network() {
    for_seeds("snapshot_churn", 4200, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed).unreliable().compact_every(15));
        let mut chaos = Chaos::new(300);
        chaos.crash_any = 0.2;
        chaos.partition = 0.1;
        chaos.crash_leader = true;
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        c.assert_safe();
    });
}
