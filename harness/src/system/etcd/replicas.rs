//! etcd's replicas, each read on its own member's client address:
//!
//! - position: `POST /v3/maintenance/status`: `raftAppliedIndex` (3.4 and
//!   up; `raftIndex` when a member does not report it) and the header's
//!   `revision`;
//! - keys: `POST /v3/kv/range` from `\0` to `\0` (every key) with
//!   `serializable: true`, served by the member from its own store without
//!   asking the leader; the answer's header revision is the revision the
//!   keys were read at;
//! - digest: `POST /v3/maintenance/hashkv` at that revision (the hash of
//!   the MVCC key space, what etcd's own corruption check compares; etcd
//!   3.5's gateway serves it) or, where the gateway has no such route
//!   (etcd 3.4: 404), `POST /v3/maintenance/hash`, the hash of the whole
//!   backend but its consistent index (etcd documents it as for testing;
//!   agreeing 3.4.23 members give equal hashes, a SIGKILLed member's
//!   included). A digest read at another revision than the keys is left out.

use std::time::Duration;

use serde_json::{json, Value};

use super::{b64, decode, Etcd};
use crate::system::replicas::{Position, ReplicaError, ReplicaState, Replicas};
use crate::system::{root_cause, BoxFuture};
use faultline_platform::cluster::NodeSpec;

impl Replicas for Etcd {
    fn position<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Position, ReplicaError>> {
        Box::pin(async move {
            let member = self.member(node, timeout)?;
            let status = member.answer("maintenance/status", json!({})).await?;
            Ok(Position::of(&[
                ("applied_index", applied_index(&status)?),
                ("revision", revision(&status)?),
            ]))
        })
    }

    fn state<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ReplicaState, ReplicaError>> {
        Box::pin(async move {
            let member = self.member(node, timeout)?;
            let status = member.answer("maintenance/status", json!({})).await?;
            let every_key =
                json!({ "key": b64(b"\0"), "range_end": b64(b"\0"), "serializable": true });
            let range = member.answer("kv/range", every_key).await?;
            let at = revision(&range)?;
            Ok(ReplicaState {
                position: Position::of(&[
                    ("applied_index", applied_index(&status)?),
                    ("revision", at),
                ]),
                digest: member.digest(at).await,
                kv: keys_of(&range),
            })
        })
    }
}

impl Etcd {
    fn member<'a>(&'a self, node: &NodeSpec, timeout: Duration) -> Result<Member<'a>, String> {
        Ok(Member {
            http: self.http.client()?,
            base: format!("http://{}/v3", node.http_addr),
            timeout,
        })
    }
}

/// One member's gateway, asked about itself.
struct Member<'a> {
    http: &'a reqwest::Client,
    base: String,
    timeout: Duration,
}

/// What a member's gateway said to a call that did not succeed.
enum Refused {
    /// The gateway has no such route (404).
    NoRoute,
    /// Any other failure: why.
    Other(String),
}

impl Member<'_> {
    async fn call(&self, endpoint: &str, body: Value) -> Result<Value, Refused> {
        let resp = self
            .http
            .post(format!("{}/{endpoint}", self.base))
            .json(&body)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| Refused::Other(format!("{endpoint}: {}", root_cause(&e))))?;
        match resp.status().as_u16() {
            200 => resp
                .json()
                .await
                .map_err(|e| Refused::Other(format!("{endpoint}: {}", root_cause(&e)))),
            404 => Err(Refused::NoRoute),
            status => Err(Refused::Other(format!("{endpoint}: status {status}"))),
        }
    }

    /// The answer to `endpoint`; a gateway without it cannot show its state.
    async fn answer(&self, endpoint: &str, body: Value) -> Result<Value, ReplicaError> {
        self.call(endpoint, body).await.map_err(|r| match r {
            Refused::NoRoute => ReplicaError::Unsupported(format!("no {endpoint} (404)")),
            Refused::Other(why) => ReplicaError::Unreachable(why),
        })
    }

    /// The member's digest of its key space at revision `at`: `hashkv`
    /// where the gateway has it, else `hash`; None when neither answers at
    /// that revision.
    async fn digest(&self, at: u64) -> Option<String> {
        let (name, answer) = match self
            .call("maintenance/hashkv", json!({ "revision": at.to_string() }))
            .await
        {
            Err(Refused::NoRoute) => ("hash", self.call("maintenance/hash", json!({})).await),
            answer => ("hashkv", answer),
        };
        let body = answer.ok()?;
        if revision(&body).ok()? != at {
            return None;
        }
        Some(format!("{name} {}", body["hash"].as_u64()?))
    }
}

/// A number of a gateway answer (int64 fields come as strings).
fn number(v: &Value) -> Option<u64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64())
}

/// The applied index of a status answer.
fn applied_index(status: &Value) -> Result<u64, String> {
    number(&status["raftAppliedIndex"])
        .or_else(|| number(&status["raftIndex"]))
        .ok_or_else(|| format!("no raftAppliedIndex in {status}"))
}

/// The revision in an answer's header.
fn revision(body: &Value) -> Result<u64, String> {
    number(&body["header"]["revision"]).ok_or_else(|| format!("no header revision in {body}"))
}

/// Every key of a range answer and its value (keys as text, values as
/// the JSON their text holds).
fn keys_of(range: &Value) -> std::collections::BTreeMap<String, Value> {
    use base64::Engine;
    let kvs = range["kvs"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    kvs.iter()
        .map(|kv| {
            let key = kv["key"].as_str().unwrap_or_default();
            let key = base64::engine::general_purpose::STANDARD
                .decode(key)
                .unwrap_or_default();
            let value = kv["value"].as_str().map(decode).unwrap_or(Value::Null);
            (String::from_utf8_lossy(&key).into_owned(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_of_every_key_becomes_the_replicas_keys_at_its_revision() {
        let range = json!({
            "header": {"revision": "13", "raft_term": "2"},
            "kvs": [
                {"key": b64(b"r1"), "mod_revision": "4", "value": b64(b"3")},
                {"key": b64(b"l2"), "mod_revision": "9", "value": b64(b"[1,2]")},
            ],
            "count": "2",
        });
        let kv = keys_of(&range);
        assert_eq!(kv["r1"], json!(3));
        assert_eq!(kv["l2"], json!([1, 2]));
        assert_eq!(revision(&range), Ok(13));
        assert!(keys_of(&json!({"header": {"revision": "1"}})).is_empty());
    }

    #[test]
    fn the_applied_index_comes_from_raft_applied_index_or_else_raft_index() {
        let status =
            json!({"header": {"revision": "3"}, "raftIndex": "21", "raftAppliedIndex": "20"});
        assert_eq!(applied_index(&status), Ok(20));
        assert_eq!(applied_index(&json!({"raftIndex": "21"})), Ok(21));
        assert!(applied_index(&json!({})).is_err());
    }
}
