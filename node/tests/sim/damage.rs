//! Disk damage that loses entries a node had acknowledged (protocol-aware
//! recovery): the damaged node is a learner, neither voting nor campaigning,
//! until a leader has given the entries back; the cluster stays safe.

use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;
use super::workload::{run_chaos, Chaos};

/// Three nodes that agreed on three writes, and their leader.
fn three_with_writes(seed: u64) -> (Cluster, u64) {
    let mut c = Cluster::new(SimConfig::new(3, seed));
    let leader = c.await_leader(&[1, 2, 3], 300).expect("leader");
    for _ in 0..3 {
        c.one(3, 300).expect("agreement");
    }
    (c, leader)
}

#[test]
fn a_damaged_follower_refuses_to_vote_until_the_leader_repairs_it() {
    for_seeds("damage_learner", 8200, 20, |seed| {
        let (mut c, leader) = three_with_writes(seed);
        let mut followers = c.ids().filter(|&i| i != leader);
        let damaged = followers.next().unwrap();
        c.crash(damaged);
        assert_eq!(c.damage_tail(damaged, 2), 2);
        c.restart(damaged);
        assert!(c.is_recovering(damaged), "the lost tail was acknowledged");
        // Without the leader, the other follower cannot win the damaged
        // one's vote.
        c.isolate(leader);
        c.run(400);
        let leaders: Vec<_> = c
            .leaders()
            .into_iter()
            .filter(|&(id, _)| id != leader)
            .collect();
        assert!(
            leaders.is_empty(),
            "elected without the damaged vote: {leaders:?}"
        );
        assert!(c.node(damaged).unwrap().status().recovering);
        // Back with the leader: the damaged node is repaired and votes again.
        c.rejoin(leader);
        c.one(3, 600).expect("agreement after the repair");
        assert!(!c.is_recovering(damaged), "repaired from the leader");
        c.assert_safe();
    });
}

#[test]
fn damage_under_chaos_is_repaired_and_safe() {
    let mut damaged = 0;
    for_seeds("damage_chaos", 8300, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed).unreliable().compact_every(8));
        let mut chaos = Chaos::new(120);
        chaos.crash_any = 0.05;
        chaos.partition = 0.1;
        chaos.recover = 0.3;
        chaos.damage = 0.15;
        chaos.reads = Some(super::client::ReadMode::AtLeader);
        damaged += run_chaos(&mut c, &chaos).damaged_restarts;
        assert!(c.settle(3000), "seed {seed}: did not settle");
        for id in c.ids() {
            assert!(!c.is_recovering(id), "seed {seed}: n{id} still recovering");
        }
        c.assert_safe();
    });
    eprintln!("restarts that found acknowledged entries lost: {damaged}");
    assert!(damaged > 0, "no restart found acknowledged entries lost");
}

#[test]
fn damage_to_a_majority_stops_the_damaged_nodes_naming_what_is_missing() {
    for_seeds("damage_majority", 8400, 10, |seed| {
        let (mut c, leader) = three_with_writes(seed);
        let followers: Vec<_> = c.ids().filter(|&i| i != leader).collect();
        for &f in &followers {
            c.crash(f);
            c.damage_tail(f, 2);
        }
        c.isolate(leader);
        for &f in &followers {
            c.restart(f);
        }
        c.run(400);
        for &f in &followers {
            let why = c
                .node(f)
                .unwrap()
                .unrepairable()
                .unwrap_or_else(|| panic!("seed {seed}: n{f} did not stop"))
                .to_string();
            assert!(
                why.contains("are missing") && why.contains("a majority"),
                "seed {seed}: {why}"
            );
            // The isolated leader holds the entries but cannot answer.
            assert!(why.contains("no node that answered holds them"), "{why}");
        }
        assert!(c.leaders().iter().all(|&(id, _)| id == leader));
        c.assert_safe();
    });
}
