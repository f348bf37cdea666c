//! The Maelstrom system's clients: each a [`SystemClient`] bound to one
//! node, one request in flight, speaking Maelstrom's protocol through the
//! router: an operation becomes the workload's request body, the node's
//! reply its completion. A client id (`c1`, `c2`, ...) serves one process:
//! after an `info` the next request goes out under a fresh id (the
//! history's rule: a process that got `info` never invokes again), so a
//! late reply to the old one reaches nobody. No retries, no reordering.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use faultline_workloads::{Func, Op, Reply};
use serde_json::{json, Value};

use super::protocol::{code, is_definite, Envelope};
use super::router::Input;
use super::workload::Workload;
use crate::system::{BoxFuture, SystemClient};

/// One client connection: an id of its own and its reply channel.
pub struct Conn {
    id: String,
    replies: tokio::sync::mpsc::UnboundedReceiver<Envelope>,
    next_msg_id: u64,
    router: mpsc::Sender<Input>,
}

impl Conn {
    /// Opens client `c{number}` (`c0` is the harness's setup client).
    pub fn open(router: &mpsc::Sender<Input>, number: u64) -> Conn {
        let id = format!("c{number}");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = router.send(Input::OpenClient {
            id: id.clone(),
            replies: tx,
        });
        Conn {
            id,
            replies: rx,
            next_msg_id: 0,
            router: router.clone(),
        }
    }

    /// Sends `body` to `node` and waits up to `timeout` for the reply to
    /// it (replies to earlier, timed-out requests are skipped).
    pub async fn request(
        &mut self,
        node: &str,
        mut body: Value,
        timeout: Duration,
    ) -> Option<Envelope> {
        self.next_msg_id += 1;
        let msg_id = self.next_msg_id;
        body["msg_id"] = msg_id.into();
        let _ = self
            .router
            .send(Input::Client(Envelope::new(self.id.clone(), node, body)));
        let wait = async {
            while let Some(reply) = self.replies.recv().await {
                if reply.in_reply_to() == Some(msg_id) {
                    return Some(reply);
                }
            }
            None
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _ = self.router.send(Input::CloseClient {
            id: self.id.clone(),
        });
    }
}

/// A client of the Maelstrom system, bound to one node.
pub struct Client {
    /// The router's input.
    pub router: mpsc::Sender<Input>,
    /// The workload, whose protocol the requests follow.
    pub workload: Workload,
    /// The node's id (`n0`).
    pub node: String,
    /// How long a request may wait for its reply.
    pub timeout: Duration,
    /// Where fresh client numbers come from (shared by the run's clients).
    pub numbers: Arc<AtomicU64>,
    /// The connection of the current process (None: the next request opens one).
    pub conn: Option<Conn>,
}

impl SystemClient for Client {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let Some(body) = request(self.workload, op) else {
                return op.f.unsupported(super::SYSTEM_NAME);
            };
            let conn = self.conn.get_or_insert_with(|| {
                Conn::open(&self.router, self.numbers.fetch_add(1, Ordering::Relaxed))
            });
            let reply = match conn.request(&self.node, body, self.timeout).await {
                Some(envelope) => complete(self.workload, op, &envelope),
                None => Reply::Info(format!(
                    "no reply from {} within {} ms",
                    self.node,
                    self.timeout.as_millis()
                )),
            };
            if matches!(reply, Reply::Info(_)) {
                self.conn = None;
            }
            reply
        })
    }
}

/// The request body of `op` in `workload` (`msg_id` added when sent); None
/// for a function the workload has no request for.
pub fn request(workload: Workload, op: &Op) -> Option<Value> {
    let key = || op.key.as_deref().and_then(|k| k.parse::<u64>().ok());
    Some(match (op.f, workload) {
        (Func::Echo, _) => json!({"type": "echo", "echo": op.value}),
        (Func::Generate, _) => json!({"type": "generate"}),
        (Func::Broadcast, _) => json!({"type": "broadcast", "message": op.value}),
        (Func::Add, Workload::GSet) => json!({"type": "add", "element": op.value}),
        (Func::Add, Workload::GCounter | Workload::PnCounter) => {
            json!({"type": "add", "delta": op.value})
        }
        (Func::Read, Workload::LinKv) => json!({"type": "read", "key": key()?}),
        (Func::Read, w) if !w.is_txn() => json!({"type": "read"}),
        (Func::Write, Workload::LinKv) => {
            json!({"type": "write", "key": key()?, "value": op.value})
        }
        (Func::Cas, Workload::LinKv) => {
            let (from, to) = op.cas_values();
            json!({"type": "cas", "key": key()?, "from": from, "to": to})
        }
        (Func::Txn, Workload::TxnListAppend | Workload::TxnRwRegister) => {
            json!({"type": "txn", "txn": op.value})
        }
        _ => return None,
    })
}

/// Whether `workload`'s protocol has a request for operation `f`.
pub fn speaks(workload: Workload, f: Func) -> bool {
    let probe = Op::new(f, "0", json!([0, 0]));
    request(workload, &probe).is_some()
}

/// The completion of `op` in `workload` from the node's `reply`: an error
/// is `fail` when Maelstrom calls its code definite, `info` otherwise
/// (lin-kv: a read of a key that does not exist read nothing, a cas that
/// found another value failed; txn: 30 txn-conflict and 11 are definite,
/// 0 and 13 are not); a reply of another type is `info`, and so is a
/// `txn_ok` whose transaction is not the one sent ([`complete_txn`]).
pub fn complete(workload: Workload, op: &Op, reply: &Envelope) -> Reply {
    let body = &reply.body;
    if reply.kind() == "error" {
        let code = body.get("code").and_then(Value::as_u64).unwrap_or(u64::MAX);
        let text = body.get("text").and_then(Value::as_str).unwrap_or("");
        let why = format!("error {code}: {text}");
        if workload == Workload::LinKv {
            match (op.f, code) {
                (Func::Read, code::KEY_DOES_NOT_EXIST) => return Reply::Ok(Value::Null),
                (Func::Cas, code::KEY_DOES_NOT_EXIST | code::PRECONDITION_FAILED) => {
                    return Reply::Fail(why)
                }
                _ => {}
            }
        }
        return if is_definite(code) {
            Reply::Fail(why)
        } else {
            Reply::Info(why)
        };
    }
    let sent = request(workload, op)
        .and_then(|b| b["type"].as_str().map(str::to_string))
        .unwrap_or_default();
    let expected = format!("{sent}_ok");
    if reply.kind() != expected {
        return Reply::Info(format!(
            "expected {expected}, the node answered {}",
            reply.kind()
        ));
    }
    let field = |name: &str| body.get(name).cloned().unwrap_or(Value::Null);
    if op.f == Func::Txn {
        return complete_txn(workload, op, &field("txn"));
    }
    Reply::Ok(match (op.f, workload) {
        (Func::Echo, _) => field("echo"),
        (Func::Generate, _) => field("id"),
        (Func::Read, Workload::Broadcast) => field("messages"),
        (Func::Read, _) => field("value"),
        _ => op.value.clone(),
    })
}

/// The completion of the transaction `op` from the `txn` of its `txn_ok`:
/// the micro-operations sent, each read carrying what the node says it
/// read (in list-append a read of a key never appended to, `null` in
/// Maelstrom, is the empty list, as faultline's own txn-list-append
/// records it; in rw-register it stays `null`). An answer that is not the
/// transaction sent (another length, function or key, a write whose value
/// changed, a list-append read that is not a list) is `info`: the node
/// says it applied something, but what it read cannot be told.
pub fn complete_txn(workload: Workload, op: &Op, answer: &Value) -> Reply {
    match txn_answer(workload, op, answer) {
        Ok(mops) => Reply::Ok(Value::Array(mops)),
        Err(why) => Reply::Info(format!("the txn_ok's txn {answer}: {why}")),
    }
}

fn txn_answer(workload: Workload, op: &Op, answer: &Value) -> Result<Vec<Value>, String> {
    let sent = op
        .value
        .as_array()
        .ok_or("the transaction sent is not a list")?;
    let got = answer.as_array().ok_or("not a list of micro-operations")?;
    if sent.len() != got.len() {
        return Err(format!(
            "{} micro-operations for {} sent",
            got.len(),
            sent.len()
        ));
    }
    let lists = workload == Workload::TxnListAppend;
    sent.iter()
        .zip(got)
        .map(|(sent, got)| {
            let (f, key) = (&sent[0], &sent[1]);
            let same =
                got.as_array().is_some_and(|g| g.len() == 3) && got[0] == *f && got[1] == *key;
            if !same {
                return Err(format!("{got} answered for {sent}"));
            }
            if *f != "r" {
                return match got[2] == sent[2] {
                    true => Ok(sent.clone()),
                    false => Err(format!("{got} answered for {sent}: the value changed")),
                };
            }
            let read = match &got[2] {
                Value::Null if lists => json!([]),
                v if lists && !v.is_array() => {
                    return Err(format!("the read of {key} is not a list"))
                }
                v => v.clone(),
            };
            Ok(json!([f, key, read]))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: Value) -> Envelope {
        Envelope::new("n0", "c1", body)
    }

    #[test]
    fn lin_kv_errors_map_to_what_they_observed() {
        let cas = Op::new(Func::Cas, "0", json!([1, 2]));
        let read = Op::new(Func::Read, "0", Value::Null);
        let w = Workload::LinKv;
        assert_eq!(
            request(w, &cas),
            Some(json!({"type": "cas", "key": 0, "from": 1, "to": 2}))
        );
        assert!(matches!(
            complete(w, &cas, &reply(json!({"type":"error","code":22}))),
            Reply::Fail(_)
        ));
        assert_eq!(
            complete(w, &read, &reply(json!({"type":"error","code":20}))),
            Reply::Ok(Value::Null)
        );
        assert!(matches!(
            complete(w, &cas, &reply(json!({"type":"error","code":11}))),
            Reply::Fail(_)
        ));
        assert!(matches!(
            complete(w, &cas, &reply(json!({"type":"error","code":0}))),
            Reply::Info(_)
        ));
        assert_eq!(
            complete(w, &read, &reply(json!({"type":"read_ok","value":3}))),
            Reply::Ok(json!(3))
        );
        assert!(matches!(
            complete(w, &read, &reply(json!({"type":"write_ok"}))),
            Reply::Info(_)
        ));
    }

    #[test]
    fn txn_requests_and_replies_are_maelstroms() {
        let w = Workload::TxnListAppend;
        let op = Op {
            f: Func::Txn,
            key: None,
            value: json!([["r", 1, null], ["append", 1, 3]]),
        };
        assert_eq!(
            request(w, &op),
            Some(json!({"type": "txn", "txn": [["r", 1, null], ["append", 1, 3]]}))
        );
        let ok = |txn: Value| complete(w, &op, &reply(json!({"type": "txn_ok", "txn": txn})));
        assert_eq!(
            ok(json!([["r", 1, [3, 4]], ["append", 1, 3]])),
            Reply::Ok(json!([["r", 1, [3, 4]], ["append", 1, 3]]))
        );
        assert_eq!(
            ok(json!([["r", 1, null], ["append", 1, 3]])),
            Reply::Ok(json!([["r", 1, []], ["append", 1, 3]])),
            "a list never appended to reads empty"
        );
        for wrong in [
            json!([["r", 1, [3]]]),
            json!([["r", 2, [3]], ["append", 1, 3]]),
            json!([["r", 1, [3]], ["append", 1, 4]]),
            json!([["r", 1, 3], ["append", 1, 3]]),
            json!([["w", 1, 3], ["append", 1, 3]]),
            json!([["r", 1], ["append", 1, 3]]),
            json!({"r": 1}),
            Value::Null,
        ] {
            assert!(matches!(ok(wrong.clone()), Reply::Info(_)), "{wrong}");
        }
        assert!(matches!(
            complete(w, &op, &reply(json!({"type": "read_ok", "txn": []}))),
            Reply::Info(_)
        ));
        for (code, definite) in [
            (30, true),
            (11, true),
            (10, true),
            (0, false),
            (13, false),
            (1000, false),
        ] {
            let got = complete(
                w,
                &op,
                &reply(json!({"type": "error", "code": code, "text": "x"})),
            );
            assert_eq!(
                matches!(got, Reply::Fail(_)),
                definite,
                "code {code}: {got:?}"
            );
            assert_eq!(
                matches!(got, Reply::Info(_)),
                !definite,
                "code {code}: {got:?}"
            );
        }
        let rw = Workload::TxnRwRegister;
        let op = Op {
            f: Func::Txn,
            key: None,
            value: json!([["r", 2, null], ["w", 2, 7], ["r", 3, null]]),
        };
        assert_eq!(
            complete(
                rw,
                &op,
                &reply(
                    json!({"type": "txn_ok", "txn": [["r", 2, 5], ["w", 2, 7], ["r", 3, null]]})
                )
            ),
            Reply::Ok(json!([["r", 2, 5], ["w", 2, 7], ["r", 3, null]])),
            "a register never written reads null"
        );
        assert!(
            speaks(rw, Func::Txn) && !speaks(rw, Func::Read) && !speaks(Workload::LinKv, Func::Txn)
        );
    }

    #[test]
    fn each_workload_speaks_its_own_requests() {
        let add = Op {
            f: Func::Add,
            key: None,
            value: json!(3),
        };
        assert_eq!(request(Workload::GSet, &add).unwrap()["element"], 3);
        assert_eq!(request(Workload::PnCounter, &add).unwrap()["delta"], 3);
        let read = Op {
            f: Func::Read,
            key: None,
            value: Value::Null,
        };
        assert_eq!(
            complete(
                Workload::Broadcast,
                &read,
                &reply(json!({"type":"read_ok","messages":[1]}))
            ),
            Reply::Ok(json!([1]))
        );
        assert_eq!(
            request(Workload::Echo, &Op::new(Func::Append, "l", json!(1))),
            None
        );
    }
}
