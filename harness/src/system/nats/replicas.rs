//! NATS JetStream's replicas, each server asked about its own: the
//! monitoring endpoint `/jsz?accounts=true&streams=true` reports the state
//! of the server's replica of every stream (messages, first and last
//! sequence). The client API cannot read one replica's messages (a direct
//! get is answered by whichever replica the server picks), so the
//! replicas are compared by their streams' states: each stream of the run
//! (the bucket's, the set's) is one "key" whose value is its replica's
//! `{messages, first_seq, last_seq}`, and the position is every stream's
//! last sequence. Cheap, and a replica that lost or gained messages shows;
//! a replica holding other messages under the same counts does not.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::{kv_stream, Nats, MONITOR_PORT, SET_STREAM};
use crate::system::replicas::{Position, ReplicaError, ReplicaState, Replicas};
use crate::system::{root_cause, BoxFuture};
use faultline_platform::cluster::NodeSpec;

impl Replicas for Nats {
    fn position<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Position, ReplicaError>> {
        Box::pin(async move { Ok(streams_of(&self.jsz(node, timeout).await?).position) })
    }

    fn state<'a>(
        &'a self,
        node: &'a NodeSpec,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<ReplicaState, ReplicaError>> {
        Box::pin(async move { Ok(streams_of(&self.jsz(node, timeout).await?)) })
    }
}

impl Nats {
    /// The `/jsz` answer of `node`, with every stream's detail.
    async fn jsz(&self, node: &NodeSpec, timeout: Duration) -> Result<Value, ReplicaError> {
        let url = format!(
            "http://{}:{MONITOR_PORT}/jsz?accounts=true&streams=true",
            node.ip
        );
        let resp = self
            .http
            .client()?
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| format!("/jsz: {}", root_cause(&e)))?;
        match resp.status().as_u16() {
            200 => {}
            404 => return Err(ReplicaError::Unsupported("no /jsz (404)".into())),
            status => return Err(format!("/jsz: status {status}").into()),
        }
        Ok(resp
            .json()
            .await
            .map_err(|e| format!("/jsz: {}", root_cause(&e)))?)
    }
}

/// The state of a server's replicas of the run's streams, from its `/jsz`.
fn streams_of(jsz: &Value) -> ReplicaState {
    let wanted = [kv_stream(), SET_STREAM.to_string()];
    let mut position = BTreeMap::new();
    let mut kv = BTreeMap::new();
    let details = jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten());
    for detail in details {
        let Some(name) = detail["name"]
            .as_str()
            .filter(|n| wanted.iter().any(|w| w == n))
        else {
            continue;
        };
        let state = &detail["state"];
        let count = |field: &str| state[field].as_u64().unwrap_or(0);
        position.insert(format!("{name} last_seq"), count("last_seq"));
        // An empty stream's first sequence says nothing about its content
        // (0 on one replica, last_seq + 1 on another that purged or
        // restored): it is compared only when the stream holds messages.
        let messages = count("messages");
        let first = if messages == 0 {
            Value::Null
        } else {
            count("first_seq").into()
        };
        kv.insert(
            format!("stream {name}"),
            json!({
                "messages": messages,
                "first_seq": first,
                "last_seq": count("last_seq"),
            }),
        );
    }
    ReplicaState {
        position: Position(position),
        digest: None,
        kv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stream_of_the_run_is_compared_by_its_replicas_counts() {
        let jsz = json!({"account_details": [{"stream_detail": [
            {"name": "KV_faultline", "state": {"messages": 12, "bytes": 900, "first_seq": 3, "last_seq": 40}},
            {"name": "faultline-set", "state": {"messages": 7, "first_seq": 1, "last_seq": 7}},
            {"name": "other", "state": {"messages": 1, "first_seq": 1, "last_seq": 1}},
        ]}]});
        let s = streams_of(&jsz);
        assert_eq!(
            s.position,
            Position::of(&[("KV_faultline last_seq", 40), ("faultline-set last_seq", 7)])
        );
        assert_eq!(
            s.kv["stream KV_faultline"],
            json!({"messages": 12, "first_seq": 3, "last_seq": 40})
        );
        assert_eq!(s.kv.len(), 2);
        assert!(streams_of(&json!({})).kv.is_empty());
        // Empty replicas agree whatever first sequence each reports.
        let empty = |first: u64| {
            streams_of(&json!({"account_details": [{"stream_detail": [
                {"name": "KV_faultline", "state": {"messages": 0, "first_seq": first, "last_seq": 0}},
            ]}]}))
            .kv
        };
        assert_eq!(empty(0), empty(1));
    }
}
