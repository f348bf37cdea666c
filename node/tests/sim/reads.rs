//! Linearizable reads by ReadIndex: never stale, under faults.

use super::client::ReadMode;
use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;
use super::workload::{run_chaos, Chaos};

#[test]
fn read_index_reads_are_never_stale_under_faults() {
    for_seeds("read_index", 5000, 4, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed).unreliable());
        let mut chaos = Chaos::new(400);
        chaos.partition = 0.15;
        chaos.isolate_leader = true;
        chaos.reads = Some(ReadMode::ReadIndex);
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        c.run(50);
        assert!(
            c.client.reads_served > 20,
            "too few reads served: {}",
            c.client.reads_served
        );
        c.assert_safe();
    });
}

#[test]
fn a_read_waits_for_the_leaders_first_commit_and_a_quorum() {
    for_seeds("read_index_quorum", 5100, 10, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        c.one(3, 300).expect("agreement");
        let l = c.leader().unwrap();
        for f in c.ids().filter(|&i| i != l).collect::<Vec<_>>() {
            c.isolate(f);
        }
        assert!(c.read(l, ReadMode::ReadIndex));
        c.run(10);
        assert_eq!(c.pending_reads(), 1, "a read completed without a quorum");
        c.heal();
        c.run(200);
        c.assert_safe();
    });
}
