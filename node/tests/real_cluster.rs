//! The real binary over real sockets: elections, the HTTP API through every
//! node, kill -9 of the leader, restart and catch-up, and what a damaged WAL
//! does at start. Each test has its own 127.0.N.0/24 addresses.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{wal_files, Cluster};

#[test]
fn three_nodes_elect_a_leader_and_serve_through_any_node() {
    let c = Cluster::new(3, 41, &[]).start();
    let (_, took) = c.await_leader(Duration::from_secs(10));
    eprintln!("leader elected after {took:?}");
    for i in 0..3 {
        let key = format!("/kv/k{i}");
        assert_eq!(c.call(i, "GET", &key, None).0, 404, "never written");
        assert_eq!(c.call(i, "PUT", &key, Some(json!({"value": i}))).0, 200);
        let (s, v) = c.call((i + 1) % 3, "GET", &key, None);
        assert_eq!(
            (s, &v["value"]),
            (200, &json!(i)),
            "read through another node"
        );
        let cas = format!("{key}/cas");
        let (s, v) = c.call(i, "POST", &cas, Some(json!({"from": i + 7, "to": 1})));
        assert_eq!(s, 409, "{v}");
        assert_eq!(v["definite"], true);
        let (s, _) = c.call(
            (i + 2) % 3,
            "POST",
            &cas,
            Some(json!({"from": i, "to": 100})),
        );
        assert_eq!(s, 200);
        assert_eq!(c.call(i, "GET", &key, None).1["value"], 100);
    }
    for (i, x) in [(0, 1), (1, 2), (2, 3)] {
        assert_eq!(
            c.call(i, "POST", "/kv/l/append", Some(json!({"value": x})))
                .0,
            200
        );
    }
    assert_eq!(c.call(1, "GET", "/kv/l", None).1["value"], json!([1, 2, 3]));
    let (s, v) = c.call(0, "PUT", "/kv/bad", Some(json!({"nope": 1})));
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("value"), "{v}");
    let status = c.status(0).unwrap();
    for field in [
        "id",
        "role",
        "term",
        "leader",
        "commit_index",
        "applied_index",
        "last_log_index",
        "state_digest",
    ] {
        assert!(
            status.get(field).is_some(),
            "status lacks {field}: {status}"
        );
    }
}

#[test]
fn acknowledged_writes_survive_kill_9_of_the_leader_and_the_node_catches_up() {
    let mut c = Cluster::new(3, 42, &["--snapshot-every", "40"]).start();
    let (leader, _) = c.await_leader(Duration::from_secs(10));
    let mut acked = Vec::new();
    for k in 0..60 {
        let (s, _) = c.call(
            k % 3,
            "PUT",
            &format!("/kv/k{k}"),
            Some(json!({"value": k})),
        );
        assert_eq!(s, 200);
        acked.push(k);
    }
    c.nodes[leader].kill();
    let (new_leader, took) = c.await_leader(Duration::from_secs(10));
    assert_ne!(new_leader, leader);
    eprintln!("new leader after {took:?}");
    let alive = (leader + 1) % 3;
    for &k in &acked {
        let (s, v) = c.call(alive, "GET", &format!("/kv/k{k}"), None);
        assert_eq!(
            (s, &v["value"]),
            (200, &json!(k)),
            "acknowledged write k{k} lost"
        );
    }
    // Writes while the old leader is down, enough to cross a snapshot.
    for k in 60..120 {
        assert_eq!(
            c.call(
                alive,
                "PUT",
                &format!("/kv/k{k}"),
                Some(json!({"value": k}))
            )
            .0,
            200
        );
    }
    c.nodes[leader].start();
    let target = c.status(new_leader).unwrap()["commit_index"]
        .as_u64()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let applied = c.status(leader).and_then(|s| s["applied_index"].as_u64());
        if applied.is_some_and(|a| a >= target) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "restarted node never caught up\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for k in (0..120).step_by(7) {
        let (s, v) = c.call(leader, "GET", &format!("/kv/k{k}?stale=true"), None);
        assert_eq!(
            (s, &v["value"]),
            (200, &json!(k)),
            "restarted node lacks k{k}"
        );
    }
    // Its whole local state, as `GET /state` shows it, is the leader's.
    let state = |i: usize| c.call(i, "GET", "/state", None).1;
    let (caught_up, current) = (state(leader), state(new_leader));
    assert_eq!(caught_up["kv"].as_object().map(|kv| kv.len()), Some(120));
    assert_eq!(caught_up["kv"], current["kv"], "the replicas differ");
    assert_eq!(caught_up["applied_index"], current["applied_index"]);
    // A state rebuilt from a snapshot has the same digest as one applied
    // entry by entry.
    let digest = |i: usize| {
        c.status(i)
            .map(|s| (s["applied_index"].clone(), s["state_digest"].clone()))
    };
    assert_eq!(digest(leader), digest(new_leader), "one index, two digests");
    assert_eq!(caught_up["kv"]["k7"], json!(7));
    let log = std::fs::read_to_string(&c.nodes[leader].log).unwrap();
    assert!(
        log.contains("installed a snapshot from the leader"),
        "the restarted node caught up without InstallSnapshot:\n{log}"
    );
}

/// Writes to a single-node cluster, then kills it.
fn single_node_with_data(net: u8) -> Cluster {
    let mut c = Cluster::new(1, net, &[]).start();
    c.await_leader(Duration::from_secs(10));
    for k in 0..20 {
        assert_eq!(
            c.call(0, "PUT", &format!("/kv/k{k}"), Some(json!({"value": k})))
                .0,
            200
        );
    }
    c.nodes[0].kill();
    c
}

/// Where the records of a WAL segment end (`len | crc | header crc | body`
/// frames after the two 64-byte acknowledgement slots; zeros past them are
/// space the segment was grown with).
fn records_end(bytes: &[u8]) -> usize {
    let slots = [0, 64]
        .iter()
        .any(|&at| bytes.get(at..at + 8) == Some(b"FLACKED1"));
    let mut at = if slots { 128 } else { 0 };
    while at + 12 <= bytes.len() && bytes[at..at + 12].iter().any(|&b| b != 0) {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 12 + len;
    }
    at.min(bytes.len())
}

#[test]
fn a_wal_with_a_torn_tail_starts_and_keeps_every_acknowledged_write() {
    let mut c = single_node_with_data(43);
    let files = wal_files(&c.nodes[0].data_dir);
    let last = files.last().expect("a WAL segment");
    let mut bytes = std::fs::read(last).unwrap();
    // Half a record where the next write goes, right after the last record
    // (the killed node's segment may go on with the zeros it was grown with):
    // a length prefix promising more than follows.
    bytes.truncate(records_end(&bytes));
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
    std::fs::write(last, &bytes).unwrap();
    c.nodes[0].start();
    c.await_leader(Duration::from_secs(10));
    for k in 0..20 {
        let (s, v) = c.call(0, "GET", &format!("/kv/k{k}"), None);
        assert_eq!((s, &v["value"]), (200, &json!(k)));
    }
    assert_eq!(
        c.call(0, "PUT", "/kv/after", Some(json!({"value": 1}))).0,
        200
    );
    let log = std::fs::read_to_string(&c.nodes[0].log).unwrap();
    assert!(
        log.contains("torn") || log.contains("truncat"),
        "no warning about the torn tail:\n{log}"
    );
}

#[test]
fn a_single_node_with_a_corrupted_middle_record_stops_naming_file_offset_and_what_is_missing() {
    let c = single_node_with_data(44);
    let files = wal_files(&c.nodes[0].data_dir);
    let first = files.first().expect("a WAL segment");
    let mut bytes = std::fs::read(first).unwrap();
    let middle = records_end(&bytes) / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(first, &bytes).unwrap();
    let (status, output) = c.nodes[0].run_to_exit(Duration::from_secs(10));
    // Alone, the node is a majority that lost acknowledged entries: no
    // peer can give them back.
    assert!(!status.success(), "served on a corrupted WAL:\n{output}");
    assert!(
        output.contains("beyond repair") && output.contains("are missing"),
        "the error does not say what is missing:\n{output}"
    );
    assert!(
        std::path::Path::new(&format!("{}.damaged", first.display())).exists(),
        "the damaged segment was not kept"
    );
    let name = first.file_name().unwrap().to_string_lossy();
    assert!(
        output.contains(name.as_ref()),
        "the error does not name the file:\n{output}"
    );
    assert!(
        output.contains("offset"),
        "the error does not give the offset:\n{output}"
    );
}

#[test]
fn a_follower_whose_acknowledged_wal_tail_was_cut_repairs_from_the_leader_before_it_votes() {
    let mut c = Cluster::new(3, 49, &[]).start();
    let (leader, _) = c.await_leader(Duration::from_secs(10));
    for k in 0..30 {
        let (s, _) = c.call(
            leader,
            "PUT",
            &format!("/kv/k{k}"),
            Some(json!({"value": k})),
        );
        assert_eq!(s, 200);
    }
    let f = (leader + 1) % 3;
    c.nodes[f].kill();
    // Cut the follower's last 300 bytes of records: entries it had
    // acknowledged (a WAL tail lost to damage, not a torn write).
    let files = wal_files(&c.nodes[f].data_dir);
    let last = files.last().expect("a WAL segment");
    let bytes = std::fs::read(last).unwrap();
    let end = records_end(&bytes);
    std::fs::write(last, &bytes[..end - 300]).unwrap();
    c.nodes[f].start();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&c.nodes[f].log).unwrap_or_default();
        if log.contains("recovered from the leader") {
            assert!(
                log.contains("storage lost acknowledged entries") && log.contains("are missing"),
                "{log}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no repair:\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = c.status(f).expect("status");
    assert_eq!(status["recovering"], json!(false), "{status}");
    // The repaired follower and the leader alone elect and serve everything.
    let other = 3 - leader - f;
    c.nodes[other].kill();
    c.await_leader(Duration::from_secs(10));
    for k in 0..30 {
        let (s, v) = c.call(f, "GET", &format!("/kv/k{k}"), None);
        assert_eq!((s, &v["value"]), (200, &json!(k)), "k{k}");
    }
}

#[test]
fn unknown_bugs_and_bad_peer_lists_are_refused_with_the_names() {
    let c = Cluster::new(1, 45, &["--bug", "no-such-bug"]);
    let (status, output) = c.nodes[0].run_to_exit(Duration::from_secs(10));
    assert!(!status.success());
    assert!(
        output.contains("stale-read") && output.contains("no-truncate"),
        "{output}"
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_of_every_node_at_once() {
    let mut c = Cluster::new(3, 46, &[]).start();
    c.await_leader(Duration::from_secs(10));
    for k in 0..40 {
        let (s, _) = c.call(k % 3, "POST", "/kv/list/append", Some(json!({"value": k})));
        assert_eq!(s, 200);
    }
    for node in &mut c.nodes {
        node.kill();
    }
    for node in &mut c.nodes {
        node.start();
    }
    c.await_leader(Duration::from_secs(10));
    let (s, v) = c.call(2, "GET", "/kv/list", None);
    assert_eq!(s, 200);
    assert_eq!(
        v["value"],
        json!((0..40).collect::<Vec<_>>()),
        "acknowledged appends lost"
    );
}

#[test]
fn failpoints_crash_the_node_at_their_moment_with_exit_code_86() {
    let mut c = Cluster::new(3, 47, &["--failpoints"]).start();
    let (leader, _) = c.await_leader(Duration::from_secs(10));
    let (s, v) = c.call(leader, "PUT", "/debug/failpoints/nope", None);
    assert_eq!(s, 404, "{v}");
    assert!(v.to_string().contains("crash-after-commit"), "{v}");
    let arm = |c: &Cluster, i: usize, name: &str| {
        let (s, v) = c.call(i, "PUT", &format!("/debug/failpoints/{name}"), None);
        assert!((200..300).contains(&s), "arming {name} answered {s}: {v}");
    };
    arm(&c, leader, "crash-after-commit");
    // The write commits, is answered, and then the leader dies.
    let (s, v) = c.call(leader, "PUT", "/kv/fp", Some(json!({"value": 7})));
    assert_eq!(s, 200, "{v}");
    let code = c.nodes[leader].wait_exit(Duration::from_secs(5));
    assert_eq!(code, Some(86), "{}", c.logs());
    let (next, _) = c.await_leader(Duration::from_secs(10));
    assert_eq!(c.call(next, "GET", "/kv/fp", None).1["value"], 7);
    // With the leader gone and both others armed, whichever grants its vote
    // in the next election dies right after.
    c.nodes[leader].start();
    c.await_leader(Duration::from_secs(10));
    let voters: Vec<usize> = (0..3).filter(|&i| i != next).collect();
    for &i in &voters {
        arm(&c, i, "crash-after-vote");
    }
    c.nodes[next].kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut crashed = Vec::new();
    while crashed.is_empty() && std::time::Instant::now() < deadline {
        for &i in &voters {
            if let Some(code) = c.nodes[i].wait_exit(Duration::from_millis(50)) {
                crashed.push((i, code));
            }
        }
    }
    assert_eq!(crashed.len(), 1, "{crashed:?}\n{}", c.logs());
    assert_eq!(crashed[0].1, 86, "{}", c.logs());
}

/// `POST /txn` with `ops` through node `i`: the status and the answer's
/// micro-operations (or the error body).
fn txn(c: &Cluster, i: usize, ops: serde_json::Value) -> (u16, serde_json::Value) {
    let (s, v) = c.call(i, "POST", "/txn", Some(json!({ "txn": ops })));
    if s == 200 {
        (s, v["txn"].clone())
    } else {
        (s, v)
    }
}

#[test]
fn transactions_apply_atomically_through_any_node_and_survive_a_restart() {
    // Snapshots every 20 entries: the restart restores transactions from both.
    let mut c = Cluster::new(3, 48, &["--snapshot-every", "20"]).start();
    c.await_leader(Duration::from_secs(10));
    // Reads see the transaction's own writes, through every node.
    for i in 0..3 {
        let (s, done) = txn(
            &c,
            i,
            json!([
                ["r", "x", null],
                ["append", "x", i],
                ["r", "x", null],
                ["w", format!("r{i}"), i],
                ["r", format!("r{i}"), null]
            ]),
        );
        assert_eq!(s, 200, "{done}");
        let before = done[0][2].as_array().map_or(0, Vec::len);
        assert_eq!(done[2][2].as_array().unwrap().len(), before + 1, "{done}");
        assert_eq!(done[2][2].as_array().unwrap().last(), Some(&json!(i)));
        assert_eq!(
            (&done[3], &done[4][2]),
            (&json!(["w", format!("r{i}"), i]), &json!(i))
        );
    }
    let (s, done) = txn(&c, 1, json!([["r", "x", null], ["r", "never", null]]));
    assert_eq!(
        (s, &done),
        (200, &json!([["r", "x", [0, 1, 2]], ["r", "never", null]]))
    );
    // A key of the other kind refuses the whole transaction, definitely.
    let (s, v) = txn(&c, 2, json!([["append", "y", 1], ["append", "r0", 5]]));
    assert_eq!(
        (s, &v["error"], &v["definite"]),
        (409, &json!("type-mismatch"), &json!(true))
    );
    let (s, v) = txn(&c, 0, json!([["w", "x", 1]]));
    assert_eq!((s, &v["error"]), (409, &json!("type-mismatch")));
    assert_eq!(
        txn(&c, 0, json!([["r", "y", null]])).1,
        json!([["r", "y", null]])
    );
    let (s, v) = txn(&c, 0, json!([["inc", "y", 1]]));
    assert_eq!((s, &v["definite"]), (400, &json!(true)), "{v}");

    // Concurrent transactions, each appending its own element and reading
    // the list back: its read ends with its own element, and every read is
    // a prefix of the final list.
    let reads: Vec<Vec<u64>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..6u64)
            .map(|w| {
                let c = &c;
                s.spawn(move || {
                    (0..15u64)
                        .map(|n| {
                            let v = w * 100 + n;
                            let ops = json!([["append", "c", v], ["r", "c", null]]);
                            let (s, done) = txn(c, (w % 3) as usize, ops);
                            assert_eq!(s, 200, "{done}");
                            let seen: Vec<u64> =
                                serde_json::from_value(done[1][2].clone()).unwrap();
                            assert_eq!(seen.last(), Some(&v), "{seen:?}");
                            seen
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let (_, done) = txn(&c, 0, json!([["r", "c", null]]));
    let list: Vec<u64> = serde_json::from_value(done[0][2].clone()).unwrap();
    assert_eq!(list.len(), 90, "{list:?}");
    for seen in &reads {
        assert_eq!(
            &list[..seen.len()],
            &seen[..],
            "a read that is not a prefix"
        );
    }

    // Every node killed at once: the transactions are in the WAL.
    for node in &mut c.nodes {
        node.kill();
    }
    for node in &mut c.nodes {
        node.start();
    }
    c.await_leader(Duration::from_secs(10));
    let (s, after) = txn(
        &c,
        2,
        json!([["r", "c", null], ["r", "x", null], ["r", "r1", null]]),
    );
    assert_eq!(s, 200);
    assert_eq!(
        after,
        json!([["r", "c", list], ["r", "x", [0, 1, 2]], ["r", "r1", 1]])
    );
}
