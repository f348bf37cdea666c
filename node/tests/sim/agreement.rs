//! Agreement: basic, despite a failed follower, none without a majority, a
//! partitioned leader rejoining, fast back-up over conflicting entries.

use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;

#[test]
fn basic_agreement() {
    for_seeds("basic_agreement", 1000, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        c.await_leader(&[1, 2, 3], 200).expect("leader");
        for i in 1..=5u64 {
            let cmd = c.one(3, 200).expect("agreement");
            let index = c.client.committed_index(cmd, &c.checker).unwrap();
            // One no-op, then one entry per command.
            assert_eq!(index, i + 1, "command {i} at an unexpected index");
        }
        c.assert_safe();
    });
}

#[test]
fn agreement_despite_a_failed_follower() {
    for_seeds("agreement_despite_failed_follower", 1100, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        let l = c.await_leader(&[1, 2, 3], 200).expect("leader");
        c.one(3, 200).expect("agreement");
        let f = c.ids().find(|&i| i != l).unwrap();
        c.isolate(f);
        for _ in 0..4 {
            c.one(2, 300).expect("agreement without one follower");
        }
        c.rejoin(f);
        for _ in 0..3 {
            c.one(3, 400).expect("agreement after it rejoined");
        }
        c.assert_safe();
    });
}

#[test]
fn no_agreement_without_a_majority() {
    for_seeds("no_agreement_without_majority", 1200, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed));
        c.await_leader(&[1, 2, 3, 4, 5], 300).expect("leader");
        c.one(5, 200).expect("agreement");
        let l = c.leader().unwrap();
        let followers: Vec<u64> = c.ids().filter(|&i| i != l).take(3).collect();
        for &f in &followers {
            c.isolate(f);
        }
        let cmd = c.submit_at(l).expect("the leader takes the command");
        c.run(300);
        assert_eq!(c.applied_count(cmd), 0, "committed without a majority");
        for &f in &followers {
            c.rejoin(f);
        }
        c.await_leader(&[1, 2, 3, 4, 5], 400)
            .expect("leader after repair");
        c.one(5, 400).expect("agreement after repair");
        c.assert_safe();
    });
}

#[test]
fn partitioned_leader_rejoins() {
    for_seeds("partitioned_leader_rejoins", 1300, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        c.await_leader(&[1, 2, 3], 200).expect("leader");
        c.one(3, 200).expect("agreement");
        let l1 = c.leader().unwrap();
        c.isolate(l1);
        // The old leader takes commands it cannot commit.
        for _ in 0..3 {
            c.submit_at(l1);
        }
        let rest: Vec<u64> = c.ids().filter(|&i| i != l1).collect();
        c.await_leader(&rest, 300).expect("new leader");
        c.one(2, 300).expect("agreement in the majority");
        let l2 = c.leader().unwrap();
        c.isolate(l2);
        c.rejoin(l1);
        c.one(2, 500)
            .expect("agreement after the old leader rejoined");
        c.rejoin(l2);
        c.one(3, 500).expect("agreement with everyone");
        c.assert_safe();
    });
}

#[test]
fn fast_backup_over_50_conflicting_entries() {
    for_seeds("fast_backup", 1400, 10, |seed| {
        let mut cfg = SimConfig::new(5, seed);
        cfg.max_entries_per_msg = 16;
        let mut c = Cluster::new(cfg);
        c.await_leader(&[1, 2, 3, 4, 5], 300).expect("leader");
        c.one(5, 300).expect("agreement");
        let l1 = c.leader().unwrap();
        let mut others: Vec<u64> = c.ids().filter(|&i| i != l1).collect();
        let f1 = others.remove(0);
        // The leader and one follower, cut from the other three, take 50
        // commands that will never commit.
        c.partition(&[vec![l1, f1], others.clone()]);
        for _ in 0..50 {
            c.submit_at(l1);
        }
        c.run(20);
        // The other three elect a leader and commit 50 commands.
        c.await_leader(&others, 400).expect("leader of the three");
        for _ in 0..50 {
            c.one(3, 300).expect("agreement among three");
        }
        // Their leader and one more (cut from the third) take 50 more that never commit.
        let l2 = c.leader().unwrap();
        let other = *others.iter().find(|&&i| i != l2).unwrap();
        let third = *others.iter().find(|&&i| i != l2 && i != other).unwrap();
        c.partition(&[vec![l2, other], vec![third], vec![l1, f1]]);
        for _ in 0..50 {
            c.submit_at(l2);
        }
        c.run(20);
        // The first pair and the third elect a leader and commit 50 commands:
        // the first pair's 50 conflicting entries must be replaced, fast.
        c.partition(&[vec![l1, f1, third], vec![l2, other]]);
        c.await_leader(&[l1, f1, third], 500)
            .expect("leader of the mixed three");
        let start = c.now;
        for _ in 0..50 {
            c.one(3, 300).expect("agreement after backing up");
        }
        assert!(
            c.now - start < 50 * 60,
            "backing up took {} ticks",
            c.now - start
        );
        c.heal();
        c.one(5, 600).expect("agreement with everyone");
        c.assert_safe();
    });
}

/// The Appends carrying a command are lost and nothing else is proposed: the
/// leader must resend them on its own (it used to send each entry once in
/// Replicate, so the command never committed until another one came).
#[test]
fn a_lost_append_is_resent_without_new_proposals() {
    for_seeds("lost_append_resent", 1500, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        c.one(3, 300).expect("agreement");
        c.run(20);
        let l = c.leader().unwrap();
        let followers: Vec<u64> = c.ids().filter(|&i| i != l).collect();
        let cmd = c.submit_at(l).expect("the leader takes the command");
        // The Appends are in flight: cut the links for the tick they arrive.
        for &f in &followers {
            c.link(l, f, false);
        }
        c.tick();
        for &f in &followers {
            c.link(l, f, true);
        }
        let all = c.run_until(300, |c| c.applied_count(cmd) == 3);
        assert!(all, "the lost command was never resent");
        c.assert_safe();
    });
}
