//! Figure 8 (random leader crashes, hundreds of iterations), Figure 8 over an
//! unreliable reordering network, and churn.

use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;
use super::workload::{run_chaos, Chaos};

#[test]
fn figure8_random_leader_crashes() {
    for_seeds("figure8", 2000, 4, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed));
        c.await_leader(&[1, 2, 3, 4, 5], 300).expect("leader");
        let mut chaos = Chaos::new(300);
        chaos.crash_leader = true;
        run_chaos(&mut c, &chaos);
        assert!(c.settle(2000), "no agreement after the faults stopped");
        c.assert_safe();
    });
}

#[test]
fn figure8_unreliable_reordering_network() {
    for_seeds("figure8_unreliable", 2100, 3, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed).unreliable());
        c.await_leader(&[1, 2, 3, 4, 5], 500).expect("leader");
        let mut chaos = Chaos::new(300);
        chaos.isolate_leader = true;
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        c.assert_safe();
    });
}

#[test]
fn churn_reliable() {
    for_seeds("churn_reliable", 2200, 3, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed));
        let mut chaos = Chaos::new(400);
        chaos.crash_any = 0.2;
        chaos.partition = 0.1;
        chaos.min_up = 1;
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        assert!(
            c.client.acked > 20,
            "too little got through: {}",
            c.client.acked
        );
        c.assert_safe();
    });
}

#[test]
fn churn_unreliable() {
    for_seeds("churn_unreliable", 2300, 3, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed).unreliable());
        let mut chaos = Chaos::new(400);
        chaos.crash_any = 0.2;
        chaos.partition = 0.1;
        chaos.min_up = 1;
        run_chaos(&mut c, &chaos);
        assert!(c.settle(3000), "no agreement after the faults stopped");
        c.assert_safe();
    });
}
