//! NATS JetStream's replicas, each server asked about its own: the
//! monitoring endpoint `/jsz?accounts=true&streams=true` reports the state
//! of the server's replica of every stream (messages, first and last
//! sequence). Each stream of the run (the bucket's, the set's) is one
//! "key" whose value is its replica's `{messages, first_seq, last_seq}`,
//! and the position is every stream's last sequence.
//!
//! The client API cannot read one replica's messages (a direct get is
//! answered by whichever replica the server picks), so the set stream's
//! elements are read from the server's own message blocks (`blocks.rs`):
//! each element is a key, `set <key> element <element>`, whose value is
//! its sequence in that copy (a list when it is there more than once). A
//! node lacking an acknowledged element, or holding it at another
//! sequence, then shows by name. The bucket's stream is compared by its
//! counts only (its older revisions are removed, which the blocks record
//! in ways the harness does not read).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::blocks::{self, StreamCopy};
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
        Box::pin(async move {
            let mut state = streams_of(&self.jsz(node, timeout).await?);
            let want = state
                .position
                .0
                .get(&format!("{SET_STREAM} last_seq"))
                .copied();
            let copy = set_copy(node, want).await?;
            state.kv.extend(elements_of(&copy));
            Ok(state)
        })
    }
}

/// How many times the set stream's blocks are read again while they end
/// before the sequence the server reports (its writes reach the file
/// within milliseconds of the acknowledgement), and how long apart.
const BLOCK_READS: u32 = 10;
const BLOCK_READ_PAUSE: Duration = Duration::from_millis(100);

/// `node`'s copy of the set stream, from its blocks; read again (a few
/// times) while it ends before `want`, the last sequence the server
/// reports.
async fn set_copy(node: &NodeSpec, want: Option<u64>) -> Result<StreamCopy, ReplicaError> {
    let mut reads = 0;
    loop {
        let dir = node.data_dir.clone();
        let copy = tokio::task::spawn_blocking(move || blocks::read_stream(&dir, SET_STREAM))
            .await
            .map_err(|e| format!("reading the set stream's blocks: {e}"))??;
        let last = copy.messages.keys().next_back().copied().unwrap_or(0);
        reads += 1;
        tracing::debug!(
            "{}: read {} messages of {SET_STREAM} from {} (read {reads})",
            node.name,
            copy.messages.len(),
            blocks::msgs_dir(&node.data_dir, SET_STREAM).display()
        );
        if !matches!(want, Some(w) if last < w) || reads >= BLOCK_READS {
            for (file, offset) in &copy.stopped {
                tracing::debug!(
                    "{}: {} holds no record at offset {offset}; read up to there",
                    node.name,
                    file.display()
                );
            }
            return Ok(copy);
        }
        tokio::time::sleep(BLOCK_READ_PAUSE).await;
    }
}

/// The set elements of a copy of the set stream: `set <key> element <e>`
/// to the element's sequence (a list of them when it is there twice).
fn elements_of(copy: &StreamCopy) -> BTreeMap<String, Value> {
    let mut seqs: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in copy.messages.values() {
        let Some(key) = r.subject.strip_prefix("faultline.set.") else {
            continue;
        };
        let element = String::from_utf8_lossy(&r.payload);
        seqs.entry(format!("set {key} element {element}"))
            .or_default()
            .push(r.seq);
    }
    seqs.into_iter()
        .map(|(k, s)| match s.as_slice() {
            [one] => (k, json!(one)),
            _ => (k, json!(s)),
        })
        .collect()
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

    #[test]
    fn each_set_element_of_a_copy_is_a_key_holding_its_sequence() {
        let record = |seq: u64, subject: &str, payload: &str| blocks::Record {
            seq,
            subject: subject.into(),
            payload: payload.as_bytes().to_vec(),
        };
        let copy = StreamCopy {
            messages: [
                record(1, "faultline.set.set", "8"),
                record(2, "faultline.set.set", "2"),
                record(3, "faultline.set.other", "2"),
                record(4, "faultline.set.set", "8"),
                record(5, "unrelated", "9"),
            ]
            .into_iter()
            .map(|r| (r.seq, r))
            .collect(),
            stopped: Vec::new(),
        };
        let kv = elements_of(&copy);
        assert_eq!(kv.len(), 3);
        assert_eq!(kv["set set element 2"], json!(2));
        assert_eq!(kv["set other element 2"], json!(3));
        assert_eq!(kv["set set element 8"], json!([1, 4]));
    }
}
