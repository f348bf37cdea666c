//! The replica on its own: one node, or two where the second never answers,
//! driven the way the Raft loop drives it.

use serde_json::json;

use super::*;
use crate::kv::{Applied, Command, MicroOp, Stored};
use crate::raft::{Config, Message, MessageBody, Restored};

type TestReplica = Replica<u64, u64>;

fn replica(voters: Vec<u64>, bugs: Bugs) -> TestReplica {
    let mut cfg = Config::new(1, voters, 7);
    cfg.bugs = bugs;
    Replica::new(RaftNode::new(cfg, Restored::default()), None, 3).unwrap()
}

/// Handles every Ready as the Raft loop does (persisting is a no-op here);
/// returns the messages it would send and the answers, in order.
fn drain(r: &mut TestReplica) -> (Vec<Message>, Vec<Answer<u64, u64>>) {
    let mut sent = Vec::new();
    let mut answers: Vec<_> = r.take_answers().collect();
    while r.has_ready() {
        let mut rd = r.ready();
        sent.append(&mut rd.early_messages);
        r.persisted(&rd);
        answers.extend(r.take_answers());
        sent.append(&mut rd.messages);
        r.advance(rd).unwrap();
        answers.extend(r.take_answers());
        if let Some(s) = r.compaction() {
            r.compacted(s);
        }
    }
    (sent, answers)
}

fn elect(r: &mut TestReplica) {
    for _ in 0..100 {
        r.handle(Input::Tick);
        drain(r);
        if r.is_leader() {
            return;
        }
    }
    panic!("a single node did not elect itself");
}

fn put(value: &str) -> Command {
    Command::Put {
        key: "k".into(),
        value: value.into(),
    }
}

fn write_outcome(answers: &[Answer<u64, u64>], want: u64) -> Option<&Result<Applied, Refusal>> {
    answers.iter().find_map(|a| match a {
        Answer::Write { id, outcome } if *id == want => Some(outcome),
        _ => None,
    })
}

fn read_outcome(
    answers: &[Answer<u64, u64>],
    want: u64,
) -> Option<&Result<Option<Stored>, Refusal>> {
    answers.iter().find_map(|a| match a {
        Answer::Read { id, outcome } if *id == want => Some(outcome),
        _ => None,
    })
}

#[test]
fn a_follower_refuses_writes_and_linearizable_reads_at_once() {
    let mut r = replica(vec![1, 2, 3], Bugs::none());
    r.handle(Input::Write {
        cmd: put("1"),
        id: 5,
    });
    r.handle(Input::Read {
        key: "k".into(),
        local: false,
        id: 6,
    });
    let answers: Vec<_> = r.take_answers().collect();
    assert!(matches!(
        write_outcome(&answers, 5),
        Some(Err(Refusal::NotLeader { leader: None }))
    ));
    assert!(matches!(
        read_outcome(&answers, 6),
        Some(Err(Refusal::NotLeader { .. }))
    ));
}

#[test]
fn writes_are_answered_on_apply_and_reads_see_them() {
    let mut r = replica(vec![1], Bugs::none());
    elect(&mut r);
    r.handle(Input::Write {
        cmd: put("1"),
        id: 1,
    });
    r.handle(Input::Read {
        key: "k".into(),
        local: false,
        id: 2,
    });
    let (_, answers) = drain(&mut r);
    assert_eq!(write_outcome(&answers, 1), Some(&Ok(Applied::Done)));
    assert_eq!(
        read_outcome(&answers, 2),
        Some(&Ok(Some(Stored::Value("1".into()))))
    );
    assert_eq!(r.get("k"), Some(&Stored::Value("1".into())));
}

#[test]
fn the_state_is_compacted_every_snapshot_every_entries() {
    let mut r = replica(vec![1], Bugs::none());
    elect(&mut r);
    for i in 0..10 {
        r.handle(Input::Write {
            cmd: put(&i.to_string()),
            id: i,
        });
        drain(&mut r);
    }
    assert!(r.raft().status().snapshot_index >= r.applied() - 3);
    assert_eq!(r.keys(), 1);
}

#[test]
fn ack_before_commit_acknowledges_a_write_nobody_else_has() {
    // Two voters, the other silent: nothing ever commits.
    for (bugs, early) in [
        (Bugs::none(), false),
        (Bugs::of([Bug::AckBeforeCommit]), true),
    ] {
        let mut r = replica(vec![1, 2], bugs);
        let mut won = false;
        let mut sent = Vec::new();
        for _ in 0..100 {
            r.handle(Input::Tick);
            sent.extend(drain(&mut r).0);
            // Grant the (pre-)votes the candidate asks for.
            for m in std::mem::take(&mut sent) {
                let body = match m.body {
                    MessageBody::PreVote { .. } => MessageBody::PreVoteResp { granted: true },
                    MessageBody::Vote { .. } => MessageBody::VoteResp { granted: true },
                    _ => continue,
                };
                r.handle(Input::Peer(Message {
                    from: 2,
                    to: 1,
                    term: m.term,
                    body,
                }));
                sent.extend(drain(&mut r).0);
            }
            if r.is_leader() {
                won = true;
                break;
            }
        }
        assert!(won, "no leader");
        r.handle(Input::Write {
            cmd: put("1"),
            id: 9,
        });
        let (_, answers) = drain(&mut r);
        assert_eq!(write_outcome(&answers, 9).is_some(), early, "{answers:?}");
    }
}

#[test]
fn stale_read_serves_from_local_state_anywhere() {
    let mut r = replica(vec![1, 2, 3], Bugs::of([Bug::StaleRead]));
    r.handle(Input::Read {
        key: "k".into(),
        local: false,
        id: 3,
    });
    let answers: Vec<_> = r.take_answers().collect();
    assert_eq!(read_outcome(&answers, 3), Some(&Ok(None)));
}

fn txn(ops: &[(&str, &str, Option<&str>)]) -> Vec<MicroOp> {
    ops.iter()
        .map(|&(f, key, value)| match (f, value) {
            ("append", Some(v)) => MicroOp::Append {
                key: key.into(),
                value: v.into(),
            },
            ("w", Some(v)) => MicroOp::Write {
                key: key.into(),
                value: v.into(),
            },
            _ => MicroOp::Read { key: key.into() },
        })
        .collect()
}

/// What the reads of transaction `want` saw, as JSON (null: nothing).
fn txn_reads(answers: &[Answer<u64, u64>], want: u64) -> Vec<serde_json::Value> {
    match write_outcome(answers, want) {
        Some(Ok(Applied::Txn(done))) => done
            .iter()
            .filter(|c| c.op.is_read())
            .map(|c| {
                c.saw
                    .as_ref()
                    .map_or(serde_json::Value::Null, Stored::to_json)
            })
            .collect(),
        other => panic!("transaction {want}: {other:?}"),
    }
}

#[test]
fn a_transaction_is_one_entry_whose_reads_see_its_own_writes() {
    let mut r = replica(vec![1], Bugs::none());
    elect(&mut r);
    let before = r.raft().status().last_index;
    r.handle(Input::Txn {
        ops: txn(&[
            ("append", "x", Some("1")),
            ("r", "x", None),
            ("r", "y", None),
        ]),
        local: false,
        id: 1,
    });
    let (_, answers) = drain(&mut r);
    assert_eq!(txn_reads(&answers, 1), [json!([1]), json!(null)]);
    assert_eq!(r.raft().status().last_index, before + 1);
    r.handle(Input::Write {
        cmd: Command::Txn {
            ops: txn(&[("w", "x", Some("2"))]),
        },
        id: 2,
    });
    let (_, answers) = drain(&mut r);
    assert!(
        matches!(
            write_outcome(&answers, 2),
            Some(Ok(Applied::TypeMismatch { key })) if key == "x"
        ),
        "{answers:?}"
    );
}

#[test]
fn txn_split_lets_another_transaction_in_between_its_halves() {
    for (bugs, y) in [
        (Bugs::none(), json!([1, 2])),
        (Bugs::of([Bug::TxnSplit]), json!([2, 1])),
    ] {
        let mut r = replica(vec![1], bugs);
        elect(&mut r);
        r.handle(Input::Txn {
            ops: txn(&[("append", "x", Some("1")), ("append", "y", Some("1"))]),
            local: false,
            id: 1,
        });
        // Proposed while (the first entry of) 1 waits to commit.
        r.handle(Input::Txn {
            ops: txn(&[("append", "y", Some("2"))]),
            local: false,
            id: 2,
        });
        let (_, answers) = drain(&mut r);
        assert!(
            matches!(write_outcome(&answers, 1), Some(Ok(Applied::Txn(done))) if done.len() == 2),
            "{answers:?}"
        );
        assert!(matches!(write_outcome(&answers, 2), Some(Ok(_))));
        assert_eq!(
            r.get("y").unwrap().to_json(),
            y,
            "2 applied between the halves of 1"
        );
    }
}

#[test]
fn txn_local_read_answers_read_only_transactions_on_a_follower() {
    let reads = || txn(&[("r", "k", None)]);
    let mut r = replica(vec![1, 2, 3], Bugs::none());
    r.handle(Input::Txn {
        ops: reads(),
        local: false,
        id: 1,
    });
    r.handle(Input::Txn {
        ops: reads(),
        local: true,
        id: 2,
    });
    let answers: Vec<_> = r.take_answers().collect();
    assert!(matches!(
        write_outcome(&answers, 1),
        Some(Err(Refusal::NotLeader { .. }))
    ));
    assert_eq!(txn_reads(&answers, 2), [json!(null)]);

    let mut r = replica(vec![1, 2, 3], Bugs::of([Bug::TxnLocalRead]));
    r.handle(Input::Txn {
        ops: reads(),
        local: false,
        id: 3,
    });
    r.handle(Input::Txn {
        ops: txn(&[("r", "k", None), ("append", "k", Some("1"))]),
        local: false,
        id: 4,
    });
    let answers: Vec<_> = r.take_answers().collect();
    assert_eq!(txn_reads(&answers, 3), [json!(null)]);
    assert!(matches!(
        write_outcome(&answers, 4),
        Some(Err(Refusal::NotLeader { .. }))
    ));
}
