//! The router's unit tests: partitions at delivery, one-way grudges,
//! the `src` rule, setup and services.

use super::*;
use crate::maelstrom::journal;
use std::path::PathBuf;

struct Harness {
    router: Router,
    stdins: Vec<mpsc::Receiver<String>>,
    journal: PathBuf,
    _dir: tempfile::TempDir,
}

fn start(n: usize, latency_ms: f64) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("messages.jsonl");
    let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
    let router = Router::start(
        RouterConfig {
            ids,
            latency: Latency {
                mean_ms: latency_ms,
                dist: LatencyDist::Constant,
            },
            topology: None,
            seed: 1,
        },
        Journal::create(&journal).unwrap(),
    )
    .unwrap();
    let mut stdins = Vec::new();
    for node in 0..n {
        let (tx, rx) = mpsc::channel();
        router
            .sender()
            .send(Input::Attach {
                node,
                generation: 1,
                stdin: tx,
            })
            .unwrap();
        stdins.push(rx);
    }
    Harness {
        router,
        stdins,
        journal,
        _dir: dir,
    }
}

fn line(h: &Harness, node: usize, text: &str) {
    h.router
        .sender()
        .send(Input::NodeLine {
            node,
            generation: 1,
            line: text.to_string(),
        })
        .unwrap();
}

/// The lines node `i` got, waiting up to `wait` for the last ones.
fn received(h: &Harness, i: usize, wait: Duration) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = Instant::now() + wait;
    while let Ok(l) = h.stdins[i].recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        got.push(l);
    }
    got
}

#[test]
fn a_message_in_flight_when_a_partition_starts_is_dropped_at_delivery() {
    let mut h = start(2, 200.0);
    line(
        &h,
        0,
        r#"{"src":"n0","dest":"n1","body":{"type":"gossip","msg_id":1}}"#,
    );
    h.router
        .sender()
        .send(Input::SetGrudge(HashSet::from([(0, 1)])))
        .unwrap();
    let got = received(&h, 1, Duration::from_millis(500));
    assert!(got.iter().all(|l| !l.contains("gossip")), "{got:?}");
    h.router.stop().unwrap();
    let entries = journal::read(&h.journal).unwrap();
    assert!(entries
        .iter()
        .any(|e| e.ev == "drop" && e.why.as_deref() == Some("partition")));
    assert!(h.router.bad_nodes().is_empty());
}

#[test]
fn a_one_way_grudge_lets_the_other_direction_through() {
    let h = start(2, 0.0);
    h.router
        .sender()
        .send(Input::SetGrudge(HashSet::from([(0, 1)])))
        .unwrap();
    line(
        &h,
        1,
        r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":1}}"#,
    );
    let got = received(&h, 0, Duration::from_millis(300));
    assert!(got.iter().any(|l| l.contains("gossip")), "{got:?}");
}

/// Opens client `id` on the router; its replies come out of the receiver.
fn open_client(h: &Harness, id: &str) -> tokio::sync::mpsc::UnboundedReceiver<Envelope> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    h.router
        .sender()
        .send(Input::OpenClient {
            id: id.into(),
            replies: tx,
        })
        .unwrap();
    rx
}

#[test]
fn a_client_request_re_sent_by_a_follower_reaches_the_leader_and_the_answer_the_client() {
    let h = start(3, 0.0);
    let mut c1 = open_client(&h, "c1");
    // n1 re-sends c1's request to n0 with only dest changed (Maelstrom's
    // tutorial Raft); n0 answers c1 directly.
    line(
        &h,
        1,
        r#"{"src":"c1","dest":"n0","body":{"type":"write","key":1,"value":2,"msg_id":1}}"#,
    );
    let got = received(&h, 0, Duration::from_millis(300));
    assert!(
        got.iter()
            .any(|l| l.contains(r#""src":"c1""#) && l.contains("write")),
        "{got:?}"
    );
    line(
        &h,
        0,
        r#"{"src":"n0","dest":"c1","body":{"type":"write_ok","in_reply_to":1}}"#,
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    let reply = loop {
        match c1.try_recv() {
            Ok(m) => break m,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("no reply reached c1: {e}"),
        }
    };
    assert_eq!(reply.in_reply_to(), Some(1));
    // a node may also write another node's id
    line(
        &h,
        2,
        r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":5}}"#,
    );
    let got = received(&h, 0, Duration::from_millis(300));
    assert!(got.iter().any(|l| l.contains("gossip")), "{got:?}");
    assert!(
        h.router.bad_nodes().is_empty(),
        "{:?}",
        h.router.bad_nodes()
    );
}

#[test]
fn a_partition_stops_a_message_by_the_node_that_emitted_it_not_by_its_src() {
    let mut h = start(3, 0.0);
    let _c1 = open_client(&h, "c1");
    h.router
        .sender()
        .send(Input::SetGrudge(HashSet::from([(1, 0)])))
        .unwrap();
    // emitted by n1, which cannot reach n0: dropped, though c1 is never cut off
    line(
        &h,
        1,
        r#"{"src":"c1","dest":"n0","body":{"type":"read","key":1,"msg_id":1}}"#,
    );
    // emitted by n2, which can: delivered, though it names n1
    line(
        &h,
        2,
        r#"{"src":"n1","dest":"n0","body":{"type":"gossip","msg_id":2}}"#,
    );
    let got = received(&h, 0, Duration::from_millis(300));
    assert!(
        got.iter().all(|l| !l.contains(r#""type":"read""#)),
        "{got:?}"
    );
    assert!(got.iter().any(|l| l.contains("gossip")), "{got:?}");
    h.router.stop().unwrap();
    let entries = journal::read(&h.journal).unwrap();
    let drops: Vec<_> = entries.iter().filter(|e| e.ev == "drop").collect();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].why.as_deref(), Some("partition"));
}

#[test]
fn a_src_naming_nobody_and_an_unknown_dest_are_named() {
    let h = start(2, 0.0);
    line(
        &h,
        0,
        r#"{"src":"c7","dest":"n1","body":{"type":"gossip"}}"#,
    );
    line(
        &h,
        1,
        r#"{"src":"n1","dest":"lin-kvv","body":{"type":"read"}}"#,
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while h.router.bad_nodes().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let bad = h.router.bad_nodes();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert_eq!(bad[0].node, "n0");
    assert_eq!(bad[0].breach, Breach::WrongSrc("c7".into()));
    assert!(bad[0].to_string().contains("no node or client"));
    assert!(bad[0].to_string().contains(r#""src":"c7""#));
    assert_eq!(bad[1].breach, Breach::UnknownDest("lin-kvv".into()));
    assert!(bad[1].to_string().contains(r#""dest":"lin-kvv""#));
    let got = received(&h, 1, Duration::from_millis(200));
    assert!(got.iter().all(|l| !l.contains("gossip")), "{got:?}");
}

#[test]
fn nodes_get_init_with_every_id_and_services_answer() {
    let h = start(2, 0.0);
    let init = received(&h, 1, Duration::from_millis(100));
    assert!(
        init[0].contains(r#""node_id":"n1""#) && init[0].contains(r#""node_ids":["n0","n1"]"#),
        "{init:?}"
    );
    line(
        &h,
        1,
        r#"{"src":"n1","dest":"lin-tso","body":{"type":"ts","msg_id":7}}"#,
    );
    let got = received(&h, 1, Duration::from_millis(300));
    assert!(
        got.iter()
            .any(|l| l.contains("ts_ok") && l.contains(r#""in_reply_to":7"#)),
        "{got:?}"
    );
}
