//! Maelstrom's built-in services, reached through the router like any node:
//! `lin-kv`, `seq-kv`, `lww-kv` (read / write / cas with
//! `create_if_not_exists`) and `lin-tso` (`ts`).
//!
//! Each keeps the promise Maelstrom makes for it, and no more:
//!
//! - `lin-kv` is linearizable: the router handles one request at a time and
//!   answers from the one current state;
//! - `seq-kv` is sequentially consistent: writes and cas act on the latest
//!   state, and a read returns some state no older than the last one its
//!   caller observed or wrote (so a caller never goes back in time, but may
//!   not see another caller's recent writes);
//! - `lww-kv` is eventually consistent: writes go to the latest state
//!   (last writer wins), a read returns any of the recent states, with no
//!   per-caller guarantee;
//! - `lin-tso` hands out strictly increasing timestamps.

use std::collections::HashMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::protocol::{code, error_body};

/// How many recent states an `lww-kv` read may be served from.
const LWW_WINDOW: u64 = 8;

/// The services' names, as nodes address them.
pub const NAMES: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// One versioned key-value store.
#[derive(Debug, Default)]
struct Versioned {
    /// Per key: (version, value) in version order; `Value::Null` never
    /// appears (keys are never deleted).
    keys: HashMap<String, Vec<(u64, Value)>>,
    /// The latest version.
    version: u64,
}

impl Versioned {
    fn read_at(&self, key: &str, version: u64) -> Option<&Value> {
        let history = self.keys.get(key)?;
        let pos = history.partition_point(|(v, _)| *v <= version);
        pos.checked_sub(1).map(|p| &history[p].1)
    }

    fn latest(&self, key: &str) -> Option<&Value> {
        self.keys.get(key).and_then(|h| h.last()).map(|(_, v)| v)
    }

    fn put(&mut self, key: &str, value: Value) {
        self.version += 1;
        let v = self.version;
        self.keys
            .entry(key.to_string())
            .or_default()
            .push((v, value));
    }
}

/// The consistency a key-value service offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Consistency {
    Linearizable,
    Sequential,
    LastWriterWins,
}

/// A key-value service.
#[derive(Debug)]
struct KvService {
    consistency: Consistency,
    store: Versioned,
    /// The version each caller last observed or wrote (seq-kv).
    seen: HashMap<String, u64>,
}

impl KvService {
    fn new(consistency: Consistency) -> KvService {
        KvService {
            consistency,
            store: Versioned::default(),
            seen: HashMap::new(),
        }
    }

    fn handle(&mut self, caller: &str, body: &Value, rng: &mut ChaCha8Rng) -> Value {
        let reply_to = body.get("msg_id").and_then(Value::as_u64);
        let Some(key) = key_of(body) else {
            return error_body(reply_to, code::MALFORMED_REQUEST, "no key");
        };
        match body.get("type").and_then(Value::as_str).unwrap_or("") {
            "read" => {
                let version = self.read_version(caller, rng);
                match self.store.read_at(&key, version) {
                    Some(v) => json!({"type": "read_ok", "value": v}),
                    None => error_body(reply_to, code::KEY_DOES_NOT_EXIST, "key does not exist"),
                }
            }
            "write" => {
                let value = body.get("value").cloned().unwrap_or(Value::Null);
                self.store.put(&key, value);
                self.seen.insert(caller.to_string(), self.store.version);
                json!({"type": "write_ok"})
            }
            "cas" => {
                let from = body.get("from").cloned().unwrap_or(Value::Null);
                let to = body.get("to").cloned().unwrap_or(Value::Null);
                let create = body
                    .get("create_if_not_exists")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let reply = match self.store.latest(&key) {
                    None if create => {
                        self.store.put(&key, to);
                        json!({"type": "cas_ok"})
                    }
                    None => error_body(reply_to, code::KEY_DOES_NOT_EXIST, "key does not exist"),
                    Some(current) if *current == from => {
                        self.store.put(&key, to);
                        json!({"type": "cas_ok"})
                    }
                    Some(current) => error_body(
                        reply_to,
                        code::PRECONDITION_FAILED,
                        &format!("expected {from}, but had {current}"),
                    ),
                };
                self.seen.insert(caller.to_string(), self.store.version);
                reply
            }
            other => error_body(
                reply_to,
                code::NOT_SUPPORTED,
                &format!("{other:?} is not a key-value operation"),
            ),
        }
    }

    /// The version a read by `caller` is served from.
    fn read_version(&mut self, caller: &str, rng: &mut ChaCha8Rng) -> u64 {
        let latest = self.store.version;
        match self.consistency {
            Consistency::Linearizable => latest,
            Consistency::Sequential => {
                let floor = self.seen.get(caller).copied().unwrap_or(0).min(latest);
                let v = rng.gen_range(floor..=latest);
                self.seen.insert(caller.to_string(), v);
                v
            }
            Consistency::LastWriterWins => {
                let floor = latest.saturating_sub(LWW_WINDOW);
                rng.gen_range(floor..=latest)
            }
        }
    }
}

fn key_of(body: &Value) -> Option<String> {
    match body.get("key")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Every service of a run.
#[derive(Debug)]
pub struct Services {
    lin: KvService,
    seq: KvService,
    lww: KvService,
    tso: u64,
}

impl Default for Services {
    fn default() -> Self {
        Services::new()
    }
}

impl Services {
    /// Fresh services, every store empty.
    pub fn new() -> Services {
        Services {
            lin: KvService::new(Consistency::Linearizable),
            seq: KvService::new(Consistency::Sequential),
            lww: KvService::new(Consistency::LastWriterWins),
            tso: 0,
        }
    }

    /// Whether `name` is a service.
    pub fn is_service(name: &str) -> bool {
        NAMES.contains(&name)
    }

    /// The reply body of service `name` to `body` from `caller`, with
    /// `in_reply_to` set; None when the request has no `msg_id` (nothing
    /// to reply to).
    pub fn handle(
        &mut self,
        name: &str,
        caller: &str,
        body: &Value,
        rng: &mut ChaCha8Rng,
    ) -> Option<Value> {
        let msg_id = body.get("msg_id").and_then(Value::as_u64)?;
        let mut reply = match name {
            "lin-kv" => self.lin.handle(caller, body, rng),
            "seq-kv" => self.seq.handle(caller, body, rng),
            "lww-kv" => self.lww.handle(caller, body, rng),
            "lin-tso" => match body.get("type").and_then(Value::as_str) {
                Some("ts") => {
                    self.tso += 1;
                    json!({"type": "ts_ok", "ts": self.tso})
                }
                _ => error_body(Some(msg_id), code::NOT_SUPPORTED, "lin-tso serves only ts"),
            },
            _ => error_body(Some(msg_id), code::NODE_NOT_FOUND, "no such service"),
        };
        reply["in_reply_to"] = msg_id.into();
        Some(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ask(s: &mut Services, name: &str, caller: &str, body: Value, rng: &mut ChaCha8Rng) -> Value {
        s.handle(name, caller, &body, rng).unwrap()
    }

    #[test]
    fn lin_kv_reads_the_latest_and_cas_checks_from() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut s = Services::new();
        let r = ask(
            &mut s,
            "lin-kv",
            "n0",
            json!({"type":"read","key":"k","msg_id":1}),
            &mut rng,
        );
        assert_eq!(r["code"], code::KEY_DOES_NOT_EXIST);
        let r = ask(
            &mut s,
            "lin-kv",
            "n0",
            json!({"type":"cas","key":"k","from":0,"to":1,"create_if_not_exists":true,"msg_id":2}),
            &mut rng,
        );
        assert_eq!(
            (r["type"].as_str(), r["in_reply_to"].as_u64()),
            (Some("cas_ok"), Some(2))
        );
        let r = ask(
            &mut s,
            "lin-kv",
            "n1",
            json!({"type":"cas","key":"k","from":0,"to":2,"msg_id":3}),
            &mut rng,
        );
        assert_eq!(r["code"], code::PRECONDITION_FAILED);
        let r = ask(
            &mut s,
            "lin-kv",
            "n1",
            json!({"type":"read","key":"k","msg_id":4}),
            &mut rng,
        );
        assert_eq!(r["value"], 1);
    }

    #[test]
    fn seq_kv_never_goes_back_for_one_caller_but_may_lag_for_others() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut s = Services::new();
        let mut stale_seen = false;
        for i in 1..200u64 {
            ask(
                &mut s,
                "seq-kv",
                "n0",
                json!({"type":"write","key":"k","value":i,"msg_id":i}),
                &mut rng,
            );
            let mine = ask(
                &mut s,
                "seq-kv",
                "n0",
                json!({"type":"read","key":"k","msg_id":i}),
                &mut rng,
            );
            assert_eq!(mine["value"], i, "a caller sees its own writes");
            let other = ask(
                &mut s,
                "seq-kv",
                "n1",
                json!({"type":"read","key":"k","msg_id":i}),
                &mut rng,
            );
            stale_seen |= other.get("value").and_then(Value::as_u64) != Some(i);
        }
        assert!(stale_seen, "seq-kv never served an old state");
        let mut last = 0;
        for i in 0..50 {
            let r = ask(
                &mut s,
                "seq-kv",
                "n2",
                json!({"type":"read","key":"k","msg_id":i}),
                &mut rng,
            );
            let v = r["value"].as_u64().unwrap_or(0);
            assert!(v >= last, "n2 went back from {last} to {v}");
            last = v;
        }
    }

    #[test]
    fn lin_tso_counts_up() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut s = Services::new();
        let a = ask(
            &mut s,
            "lin-tso",
            "n0",
            json!({"type":"ts","msg_id":1}),
            &mut rng,
        );
        let b = ask(
            &mut s,
            "lin-tso",
            "n1",
            json!({"type":"ts","msg_id":1}),
            &mut rng,
        );
        assert!(b["ts"].as_u64() > a["ts"].as_u64());
    }
}
