//! Persistence: crash-restart of leaders and followers keeps only what was
//! persisted, and the cluster carries on.

use super::cluster::{Cluster, SimConfig};
use super::seeds::for_seeds;

#[test]
fn crash_restart_of_everyone_leaders_and_followers() {
    for_seeds("persist_basic", 3000, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        c.await_leader(&[1, 2, 3], 300).expect("leader");
        c.one(3, 300).expect("agreement");
        // Everyone crashes and comes back.
        for id in 1..=3 {
            c.crash(id);
        }
        for id in 1..=3 {
            c.restart(id);
        }
        let before = c.commit_index();
        c.one(3, 600).expect("agreement after a full restart");
        assert!(c.commit_index() > before);
        // The leader crashes and comes back.
        let l = c.leader().unwrap();
        c.crash(l);
        c.restart(l);
        c.one(3, 600).expect("agreement after the leader restarted");
        // The leader crashes and stays down; a follower crashes and comes back.
        let l = c.leader().unwrap();
        c.crash(l);
        c.one(2, 600).expect("agreement with the leader down");
        let f = c.ids().find(|&i| i != l).unwrap();
        c.crash(f);
        c.restart(l);
        c.one(2, 600).expect("agreement with a follower down");
        c.restart(f);
        c.one(3, 600).expect("agreement with everyone back");
        c.assert_safe();
    });
}

#[test]
fn crash_restart_more_persistence() {
    for_seeds("persist_more", 3100, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(5, seed));
        let mut index = 1;
        for _ in 0..5 {
            c.one(5, 600).expect("agreement");
            index += 1;
            let l1 = c.leader().unwrap();
            let mut others = c.ids().filter(|&i| i != l1);
            let (a, b) = (others.next().unwrap(), others.next().unwrap());
            c.crash(a);
            c.crash(b);
            c.one(3, 600).expect("agreement with two down");
            let l2 = c.leader().unwrap();
            let rest: Vec<u64> = c.ids().filter(|&i| c.is_up(i) && i != l2).collect();
            c.crash(l2);
            c.crash(rest[0]);
            c.restart(a);
            c.restart(b);
            c.await_leader(&c.ids().filter(|&i| c.is_up(i)).collect::<Vec<_>>(), 600)
                .expect("leader of the survivors");
            c.restart(l2);
            c.one(4, 600).expect("agreement with four");
            c.restart(rest[0]);
        }
        c.one(5, 600).expect("agreement with everyone");
        assert!(c.commit_index() >= index);
        c.assert_safe();
    });
}

#[test]
fn partitioned_leader_and_a_follower_crash() {
    for_seeds("persist_partitioned", 3200, 20, |seed| {
        let mut c = Cluster::new(SimConfig::new(3, seed));
        c.one(3, 600).expect("agreement");
        let l = c.leader().unwrap();
        let f = c.ids().find(|&i| i != l).unwrap();
        c.isolate(f);
        c.one(2, 600).expect("agreement without one follower");
        c.crash(l);
        c.crash(c.ids().find(|&i| i != l && i != f).unwrap());
        c.rejoin(f);
        let third = c.ids().find(|&i| i != l && i != f).unwrap();
        c.restart(third);
        c.one(2, 600)
            .expect("agreement between the restarted and the lagging");
        c.restart(l);
        c.one(3, 600).expect("agreement with everyone");
        c.assert_safe();
    });
}
