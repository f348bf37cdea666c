//! Elections: the first leader, re-election after leader loss, no leader
//! without a quorum, many elections under random disconnects.

use rand::seq::SliceRandom;

use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;

#[test]
fn initial_election() {
    for_seeds("initial_election", 100, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        let leader = c.await_leader(&[1, 2, 3], 200);
        assert!(leader.is_some(), "no leader elected");
        // Everyone agrees on the term, and it stays put without failures.
        c.run(10);
        let terms = c.terms();
        assert!(
            terms.iter().all(|&t| t == terms[0]),
            "terms differ: {terms:?}"
        );
        c.run(500);
        assert_eq!(c.terms(), terms, "term changed without failures");
        assert_eq!(c.leader(), leader);
        c.assert_safe();
    });
}

#[test]
fn reelection_after_leader_loss() {
    for_seeds("reelection_after_leader_loss", 200, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        let l1 = c.await_leader(&[1, 2, 3], 200).expect("first leader");
        c.isolate(l1);
        let rest: Vec<u64> = c.ids().filter(|&i| i != l1).collect();
        let l2 = c
            .await_leader(&rest, 300)
            .expect("a new leader after the leader left");
        assert_ne!(l1, l2);
        // The old leader rejoins: it must not disturb the new one.
        c.rejoin(l1);
        let l3 = c
            .await_leader(&[1, 2, 3], 300)
            .expect("one leader after rejoin");
        // No quorum: no leader.
        let other = c.ids().find(|&i| i != l3).expect("another node");
        c.isolate(l3);
        c.isolate(other);
        let last: Vec<u64> = c.ids().filter(|&i| i != l3 && i != other).collect();
        c.run(400);
        assert!(
            c.leaders().iter().all(|&(id, _)| !last.contains(&id)),
            "a leader without a quorum"
        );
        // A quorum again: a leader again.
        c.rejoin(other);
        let mut with_other = last.clone();
        with_other.push(other);
        c.await_leader(&with_other, 400)
            .expect("a leader once a quorum is back");
        c.rejoin(l3);
        c.await_leader(&[1, 2, 3], 400)
            .expect("one leader once all are back");
        c.assert_safe();
    });
}

#[test]
fn no_leader_without_a_quorum_and_no_term_inflation() {
    for_seeds("no_leader_without_a_quorum", 300, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed));
        let l = c.await_leader(&[1, 2, 3, 4, 5], 300).expect("leader");
        let term = c.node(l).unwrap().status().term;
        let minority: Vec<u64> = c.ids().filter(|&i| i != l).take(2).collect();
        for &m in &minority {
            c.isolate(m);
        }
        c.run(1000);
        for &m in &minority {
            let st = c.node(m).unwrap().status();
            assert_ne!(st.role, faultline_node::raft::Role::Leader);
            // PreVote: an isolated node does not keep raising its term.
            assert_eq!(st.term, term, "isolated n{m} inflated its term");
        }
        for &m in &minority {
            c.rejoin(m);
        }
        c.run(200);
        assert_eq!(
            c.leader(),
            Some(l),
            "rejoining nodes disturbed a healthy leader"
        );
        c.assert_safe();
    });
}

#[test]
fn many_elections_under_random_disconnects() {
    for_seeds("many_elections", 400, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(7, seed));
        let all: Vec<u64> = c.ids().collect();
        c.await_leader(&all, 300).expect("first leader");
        for _ in 0..10 {
            let mut ids = all.clone();
            ids.shuffle(&mut c.rng);
            let (gone, rest) = ids.split_at(3);
            for &g in gone {
                c.isolate(g);
            }
            c.await_leader(rest, 500)
                .unwrap_or_else(|| panic!("no leader among {rest:?}"));
            for &g in gone {
                c.rejoin(g);
            }
        }
        c.await_leader(&all, 500).expect("a leader at the end");
        c.assert_safe();
    });
}
