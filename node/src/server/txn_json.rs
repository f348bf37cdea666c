//! Transactions on the client API, as JSON: a request's micro-operations
//! `[f, key, value]` (`["append", k, v]`, `["w", k, v]`, `["r", k, null]`;
//! a key is a string, or an integer taken as its decimal text) in, and the
//! same micro-operations out, each read with what it saw (`null`: never
//! written). The shape of Maelstrom's `txn` messages.

use serde_json::{json, Value};

use crate::kv::{Completed, MicroOp, Stored};

/// The micro-operations of a `POST /txn` body `{"txn": [...]}`; the error
/// is the message of a `400`.
pub fn parse(body: &[u8]) -> Result<Vec<MicroOp>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let mops = value
        .get("txn")
        .ok_or("the body has no field \"txn\"")?
        .as_array()
        .ok_or("\"txn\" is not an array of micro-operations")?;
    mops.iter().map(micro_op).collect()
}

fn micro_op(mop: &Value) -> Result<MicroOp, String> {
    let parts = mop
        .as_array()
        .filter(|p| p.len() == 3)
        .ok_or_else(|| format!("{mop} is not a micro-operation [f, key, value]"))?;
    let key = match &parts[1] {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        other => return Err(format!("the key {other} is not a string or an integer")),
    };
    let value = parts[2].to_string();
    match parts[0].as_str() {
        Some("append") => Ok(MicroOp::Append { key, value }),
        Some("w") => Ok(MicroOp::Write { key, value }),
        Some("r") => Ok(MicroOp::Read { key }),
        _ => Err(format!("{} is not append, r or w", parts[0])),
    }
}

/// The answer's micro-operations, `[f, key, value]` each.
pub fn render(done: &[Completed]) -> Value {
    let text = |s: &str| serde_json::from_str(s).unwrap_or(Value::Null);
    Value::Array(
        done.iter()
            .map(|c| match &c.op {
                MicroOp::Append { key, value } => json!(["append", key, text(value)]),
                MicroOp::Write { key, value } => json!(["w", key, text(value)]),
                MicroOp::Read { key } => {
                    json!([
                        "r",
                        key,
                        c.saw.as_ref().map_or(Value::Null, Stored::to_json)
                    ])
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{Applied, KvStore};

    #[test]
    fn transactions_parse_apply_and_render_as_they_came() {
        let body = json!({"txn": [["append", "x", 1], ["r", "x", null], ["w", 7, {"a": 1}], ["r", "y", null]]});
        let ops = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(ops[2].key(), "7");
        let Applied::Txn(done) = KvStore::new().transact(&ops) else {
            panic!("refused")
        };
        assert_eq!(
            render(&done),
            json!([["append", "x", 1], ["r", "x", [1]], ["w", "7", {"a": 1}], ["r", "y", null]])
        );
    }

    #[test]
    fn malformed_transactions_say_what_is_wrong() {
        for (body, says) in [
            ("nope", "not JSON"),
            ("{}", "no field"),
            (r#"{"txn": 3}"#, "not an array"),
            (r#"{"txn": [["r", "x"]]}"#, "not a micro-operation"),
            (r#"{"txn": [["inc", "x", 1]]}"#, "not append, r or w"),
            (
                r#"{"txn": [["r", [1], null]]}"#,
                "not a string or an integer",
            ),
        ] {
            let err = parse(body.as_bytes()).unwrap_err();
            assert!(err.contains(says), "{body}: {err}");
        }
        assert_eq!(parse(br#"{"txn": []}"#).unwrap(), []);
    }
}
