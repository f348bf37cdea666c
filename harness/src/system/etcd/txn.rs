//! etcd transactions for the `txn-*` workloads, as Jepsen's etcd append
//! test runs them: one etcd `txn` reads every key the transaction touches
//! (a single revision: one snapshot), the client works out what each
//! micro-operation reads and what each key becomes, then a second `txn`
//! writes the new values only if no touched key's `mod_revision` changed
//! since the snapshot. So a committed transaction behaves as if it ran
//! entirely at the second txn's revision: etcd's own serializability of
//! txns, nothing the client adds.
//!
//! | step | etcd | outcome |
//! |---|---|---|
//! | read every touched key | `txn` with one `request_range` per key (`serializable` with `--etcd-serializable-reads`) | any error: `fail` (nothing was written) |
//! | read-only transaction | done after the read | `ok` |
//! | write | `txn`: compare `MOD == revision read` for every touched key, then `request_put` each written key | comparison failed: `fail` (a key changed: nothing written); no answer or an etcd error: `info`, refused before sending: `fail` |
//!
//! Lists (append) and registers (w) are stored as their JSON text like
//! every other value; a key never written reads `null` (the workload makes
//! that `[]` for lists).

use serde_json::{json, Value};

use faultline_workloads::Reply;

use super::{b64, encode, first_kv, write_failed, Answer, Done, Gateway, Translated};

/// One micro-operation `[f, key, value]` of the history.
struct Mop<'a> {
    f: &'a str,
    key: String,
    value: &'a Value,
}

fn mops(value: &Value) -> Result<Vec<Mop<'_>>, Reply> {
    let bad = |m: &Value| Reply::Fail(format!("not a micro-operation [f, key, value]: {m}"));
    let Some(items) = value.as_array() else {
        return Err(Reply::Fail(format!(
            "a transaction is a list of micro-operations, got {value}"
        )));
    };
    items
        .iter()
        .map(|m| {
            let [f, k, v] = m.as_array().map(Vec::as_slice).ok_or_else(|| bad(m))? else {
                return Err(bad(m));
            };
            let key = match k {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => return Err(bad(m)),
            };
            Ok(Mop {
                f: f.as_str().ok_or_else(|| bad(m))?,
                key,
                value: v,
            })
        })
        .collect()
}

impl Gateway<'_> {
    /// Runs one transaction; its completed micro-operations on success.
    pub(super) async fn transaction(&self, value: &Value, serializable: bool) -> Translated {
        let mops = mops(value)?;
        let mut keys: Vec<&str> = Vec::new();
        for m in &mops {
            if !keys.contains(&m.key.as_str()) {
                keys.push(&m.key);
            }
        }
        let (mut state, revisions) = self.snapshot(&keys, serializable).await?;
        let mut done = Vec::with_capacity(mops.len());
        let mut written: Vec<&str> = Vec::new();
        for m in &mops {
            let i = keys.iter().position(|k| *k == m.key).unwrap_or(0);
            match m.f {
                "r" => done.push(json!(["r", m.key, state[i]])),
                "w" => {
                    state[i] = m.value.clone();
                    written.push(keys[i]);
                    done.push(json!(["w", m.key, m.value]));
                }
                "append" => {
                    let mut list = match &state[i] {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items.clone(),
                        other => {
                            return Err(Reply::Fail(format!(
                                "append to {}: not a list ({other})",
                                m.key
                            )))
                        }
                    };
                    list.push(m.value.clone());
                    state[i] = Value::Array(list);
                    written.push(keys[i]);
                    done.push(json!(["append", m.key, m.value]));
                }
                other => return Err(Reply::Fail(format!("unknown micro-operation {other:?}"))),
            }
        }
        if written.is_empty() {
            return Ok(Done::Read(Value::Array(done)));
        }
        let compare: Vec<Value> = keys
            .iter()
            .zip(&revisions)
            .map(|(k, rev)| {
                json!({ "key": b64(k.as_bytes()), "target": "MOD", "result": "EQUAL", "mod_revision": rev })
            })
            .collect();
        let puts: Vec<Value> = keys
            .iter()
            .zip(&state)
            .filter(|(k, _)| written.contains(k))
            .map(
                |(k, v)| json!({ "request_put": { "key": b64(k.as_bytes()), "value": encode(v) } }),
            )
            .collect();
        match self
            .call("kv/txn", json!({ "compare": compare, "success": puts }))
            .await
        {
            // The gateway leaves out `succeeded` when it is false.
            Answer::Body(body) if body["succeeded"].as_bool().unwrap_or(false) => {
                Ok(Done::Read(Value::Array(done)))
            }
            Answer::Body(_) => Err(Reply::Fail(
                "txn conflict: a key changed since it was read".into(),
            )),
            Answer::Failed { refused, error } => Err(write_failed(refused, error)),
        }
    }

    /// Every key's value (`null` when never written) and `mod_revision`
    /// (`"0"` then), read in one etcd txn: one revision for all.
    async fn snapshot(
        &self,
        keys: &[&str],
        serializable: bool,
    ) -> Result<(Vec<Value>, Vec<String>), Reply> {
        let ranges: Vec<Value> = keys
            .iter()
            .map(|k| {
                let mut r = json!({ "key": b64(k.as_bytes()) });
                if serializable {
                    r["serializable"] = json!(true);
                }
                json!({ "request_range": r })
            })
            .collect();
        let body = match self.call("kv/txn", json!({ "success": ranges })).await {
            Answer::Body(body) => body,
            // Nothing was written: a definite failure.
            Answer::Failed { error, .. } => return Err(Reply::Fail(error)),
        };
        let responses = body["responses"].as_array().cloned().unwrap_or_default();
        if responses.len() != keys.len() {
            return Err(Reply::Fail(format!(
                "etcd answered {} reads of {} keys",
                responses.len(),
                keys.len()
            )));
        }
        Ok(responses
            .iter()
            .map(|r| match first_kv(&r["response_range"]) {
                Some((v, rev)) => (v, rev),
                None => (Value::Null, "0".to_string()),
            })
            .unzip())
    }
}
