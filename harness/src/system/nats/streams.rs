//! The JetStream streams a run uses, the bucket's and the set's, created
//! through one node once its meta group has a leader; and how the harness
//! connects to a node.

use std::time::Duration;

use serde_json::{json, Value};

use super::{BUCKET, SET_STREAM};
use crate::system::root_cause;
use faultline_platform::cluster::NodeSpec;

/// The longest the creation of the bucket and the stream may take.
pub(super) const CREATE_TIMEOUT: Duration = Duration::from_secs(5);

/// The stream behind the bucket.
pub(super) fn kv_stream() -> String {
    format!("KV_{BUCKET}")
}

/// The JSON config of the bucket's stream, as NATS's clients make it.
fn kv_config(replicas: usize) -> Value {
    json!({
        "name": kv_stream(),
        "subjects": [format!("$KV.{BUCKET}.>")],
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": 1,
        "max_msg_size": -1,
        "storage": "file",
        "discard": "new",
        "num_replicas": replicas,
        "duplicate_window": 120_000_000_000u64,
        "allow_rollup_hdrs": true,
        "deny_delete": true,
        "deny_purge": false,
        "allow_direct": true,
        "mirror_direct": false,
    })
}

/// The JSON config of the set stream.
fn set_config(replicas: usize) -> Value {
    json!({
        "name": SET_STREAM,
        "subjects": ["faultline.set.>"],
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msg_size": -1,
        "storage": "file",
        "discard": "old",
        "num_replicas": replicas,
        "duplicate_window": 120_000_000_000u64,
    })
}

/// Connects to `node`'s client port, to it alone.
pub(super) async fn connect(
    node: &NodeSpec,
    timeout: Duration,
) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .ignore_discovered_servers()
        .connection_timeout(timeout)
        .request_timeout(Some(timeout))
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connect(format!("nats://{}", node.http_addr))
        .await
        .map_err(|e| format!("connect: {}", root_cause(&e)))
}

/// Creates the bucket and the set stream with `replicas` replicas each.
pub(super) async fn create_streams(node: &NodeSpec, replicas: usize) -> Result<(), String> {
    let client = connect(node, CREATE_TIMEOUT).await?;
    for (name, config) in [
        (kv_stream(), kv_config(replicas)),
        (SET_STREAM.to_string(), set_config(replicas)),
    ] {
        let answer = client
            .request(
                format!("$JS.API.STREAM.CREATE.{name}"),
                config.to_string().into_bytes().into(),
            )
            .await
            .map_err(|e| format!("creating {name}: {e}"))?;
        let body: Value = serde_json::from_slice(&answer.payload).unwrap_or(Value::Null);
        if let Some(err) = body.get("error") {
            return Err(format!("creating {name}: {err}"));
        }
    }
    Ok(())
}
