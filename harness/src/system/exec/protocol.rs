//! The `exec` system's client protocol: Maelstrom's client vocabulary as
//! JSON lines. Each typed operation becomes one request; each answer (or
//! Maelstrom error code) becomes `ok`, `fail` (the operation certainly did
//! not happen) or `info`.

use faultline_workloads::{Func, Op, Reply};
use serde_json::{json, Value};

/// Maelstrom's not-supported error code.
pub(super) const NOT_SUPPORTED: i64 = 10;
/// Maelstrom's key-does-not-exist error code.
pub(super) const KEY_DOES_NOT_EXIST: i64 = 20;

/// The request line of `op` (without its `msg_id`); None for `watch`,
/// which the protocol has no request for.
pub(super) fn request(op: &Op) -> Option<Value> {
    let key = op.key_or_default();
    Some(match op.f {
        Func::Read => json!({ "type": "read", "key": key }),
        Func::Write => json!({ "type": "write", "key": key, "value": op.value }),
        Func::Cas => {
            let (from, to) = op.cas_values();
            json!({ "type": "cas", "key": key, "from": from, "to": to })
        }
        Func::Add => json!({ "type": "add", "key": key, "element": op.value }),
        Func::Append => json!({ "type": "txn", "txn": [["append", key, op.value]] }),
        Func::Echo => json!({ "type": "echo", "echo": op.value }),
        Func::Generate => json!({ "type": "generate" }),
        Func::Broadcast => json!({ "type": "broadcast", "message": op.value }),
        Func::Txn => json!({ "type": "txn", "txn": op.value }),
        Func::Watch => return None,
    })
}

/// The answer type that completes `op` (None for `watch`, never sent).
fn ok_type(f: Func) -> Option<&'static str> {
    Some(match f {
        Func::Read => "read_ok",
        Func::Write => "write_ok",
        Func::Cas => "cas_ok",
        Func::Add => "add_ok",
        Func::Append => "txn_ok",
        Func::Echo => "echo_ok",
        Func::Generate => "generate_ok",
        Func::Broadcast => "broadcast_ok",
        Func::Txn => "txn_ok",
        Func::Watch => return None,
    })
}

/// A Maelstrom error's code, if `body` is an error.
pub(super) fn error_code(body: &Value) -> Option<i64> {
    if body["type"] != "error" {
        return None;
    }
    Some(body["code"].as_i64().unwrap_or(-1))
}

/// The name of a Maelstrom error code.
fn code_name(code: i64) -> &'static str {
    match code {
        0 => "timeout",
        1 => "node-not-found",
        10 => "not-supported",
        11 => "temporarily-unavailable",
        12 => "malformed-request",
        13 => "crash",
        14 => "abort",
        20 => "key-does-not-exist",
        21 => "key-already-exists",
        22 => "precondition-failed",
        30 => "txn-conflict",
        _ => "error",
    }
}

/// Whether an error code says the operation certainly did not happen.
fn definite(code: i64) -> bool {
    matches!(code, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30)
}

/// The completion of `op` from its answer (already paired by `in_reply_to`).
pub(super) fn reply(op: &Op, body: &Value) -> Reply {
    if let Some(code) = error_code(body) {
        if code == KEY_DOES_NOT_EXIST && op.f == Func::Read {
            return Reply::Ok(Value::Null);
        }
        let text = body["text"].as_str().unwrap_or_default();
        let why = if text.is_empty() {
            format!("{} ({code})", code_name(code))
        } else {
            format!("{} ({code}): {text}", code_name(code))
        };
        return if definite(code) {
            Reply::Fail(why)
        } else {
            Reply::Info(why)
        };
    }
    if body["type"].as_str() != ok_type(op.f) {
        return Reply::Info(format!("the client program answered {} with {body}", op.f));
    }
    match op.f {
        Func::Read => Reply::Ok(body.get("value").cloned().unwrap_or(Value::Null)),
        Func::Echo => Reply::Ok(body.get("echo").cloned().unwrap_or(Value::Null)),
        Func::Generate => Reply::Ok(body.get("id").cloned().unwrap_or(Value::Null)),
        Func::Txn => Reply::Ok(body.get("txn").cloned().unwrap_or(Value::Null)),
        _ => Reply::Ok(op.value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_speak_maelstroms_vocabulary() {
        let cas = Op::new(Func::Cas, "r1", json!([1, 2]));
        assert_eq!(
            request(&cas).unwrap(),
            json!({"type": "cas", "key": "r1", "from": 1, "to": 2})
        );
        let append = Op::new(Func::Append, "l0", json!(7));
        assert_eq!(
            request(&append).unwrap(),
            json!({"type": "txn", "txn": [["append", "l0", 7]]})
        );
        assert_eq!(request(&Op::new(Func::Watch, "w/", json!(1))), None);
        let read = Op::new(Func::Read, "r1", Value::Null);
        assert_eq!(
            reply(&read, &json!({"type": "read_ok", "value": 3})),
            Reply::Ok(json!(3))
        );
        assert_eq!(
            reply(&read, &json!({"type": "error", "code": 20})),
            Reply::Ok(Value::Null)
        );
        assert_eq!(
            reply(&cas, &json!({"type": "cas_ok"})),
            Reply::Ok(json!([1, 2]))
        );
        assert!(matches!(
            reply(&cas, &json!({"type": "error", "code": 22, "text": "differs"})),
            Reply::Fail(ref e) if e.contains("precondition-failed")
        ));
        assert!(matches!(
            reply(&cas, &json!({"type": "error", "code": 11})),
            Reply::Fail(_)
        ));
        for indefinite in [0, 13, 1000, 7] {
            assert!(matches!(
                reply(&cas, &json!({"type": "error", "code": indefinite})),
                Reply::Info(_)
            ));
        }
        assert!(matches!(
            reply(&read, &json!({"type": "write_ok"})),
            Reply::Info(_)
        ));
        let txn = Op {
            f: Func::Txn,
            key: None,
            value: json!([["append", "k1", 3], ["r", "k2", null]]),
        };
        assert_eq!(
            request(&txn).unwrap(),
            json!({"type": "txn", "txn": [["append", "k1", 3], ["r", "k2", null]]})
        );
        let done = json!([["append", "k1", 3], ["r", "k2", [1]]]);
        assert_eq!(
            reply(&txn, &json!({"type": "txn_ok", "txn": done})),
            Reply::Ok(done)
        );
    }
}
