//! A client of one nats-server: each typed operation on the bucket or the
//! set stream (see the table in the module above), and what JetStream's
//! answers mean.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::{HeaderMap, RequestErrorKind, StatusCode};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use faultline_workloads::{Func, Op, Reply};
use futures_util::StreamExt;
use serde_json::{json, Value};

use super::streams::{connect, kv_stream};
use super::{BUCKET, SET_STREAM};
use crate::system::{root_cause, BoxFuture, SystemClient, SystemError};
use faultline_platform::cluster::NodeSpec;

/// How many read-then-update rounds an append tries before it fails.
const APPEND_ATTEMPTS: usize = 16;
/// JetStream's error code for a failed expected-last-sequence check.
const WRONG_LAST_SEQUENCE: u64 = 10071;

/// How key-value reads are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPath {
    /// Direct get: any replica answers (what NATS clients do for buckets
    /// that allow it, which their own bucket creation does).
    Direct,
    /// Message get: the stream leader answers.
    Leader,
}

impl ReadPath {
    /// `--nats-read`'s value: None is `direct`.
    pub fn parse(given: Option<&str>) -> Result<ReadPath, SystemError> {
        match given {
            None | Some("direct") => Ok(ReadPath::Direct),
            Some("leader") => Ok(ReadPath::Leader),
            Some(other) => Err(SystemError::BadOption(format!(
                "--nats-read {other:?}: expected direct or leader"
            ))),
        }
    }
}

/// A client of one nats-server.
pub(super) struct NatsClient {
    pub(super) node: NodeSpec,
    pub(super) timeout: Duration,
    pub(super) read: ReadPath,
    pub(super) conn: Option<async_nats::Client>,
    pub(super) set_in_use: Arc<AtomicBool>,
}

impl SystemClient for NatsClient {
    fn invoke<'a>(&'a mut self, op: &'a Op) -> BoxFuture<'a, Reply> {
        Box::pin(async move {
            let timeout = self.timeout;
            match tokio::time::timeout(timeout, self.perform(op)).await {
                Ok(reply) => reply,
                Err(_) if op.f.is_read() => Reply::Fail("timeout".into()),
                Err(_) => Reply::Info("timeout".into()),
            }
        })
    }
}

impl NatsClient {
    async fn perform(&mut self, op: &Op) -> Reply {
        if self.conn.is_none() {
            match connect(&self.node, self.timeout).await {
                Ok(c) => self.conn = Some(c),
                // Nothing was sent.
                Err(e) => return Reply::Fail(e),
            }
        }
        let Some(conn) = self.conn.as_ref() else {
            return Reply::Fail("not connected".into());
        };
        let js = Js {
            conn,
            read: self.read,
        };
        let key = op.key_or_default();
        let done = match op.f {
            Func::Read if self.set_in_use.load(Ordering::Relaxed) => js.read_set(key).await,
            Func::Read => js
                .get(key)
                .await
                .map(|e| e.map(|(v, _)| v).unwrap_or(Value::Null)),
            Func::Write => js
                .publish(&kv_subject(key), &op.value, None)
                .await
                .map(|_| op.value.clone()),
            Func::Cas => {
                let (from, to) = op.cas_values();
                js.cas(key, from, to).await.map(|()| op.value.clone())
            }
            Func::Append => js.append(key, &op.value).await.map(|()| op.value.clone()),
            Func::Add => {
                self.set_in_use.store(true, Ordering::Relaxed);
                js.publish(&set_subject(key), &op.value, None)
                    .await
                    .map(|_| op.value.clone())
            }
            Func::Echo | Func::Generate | Func::Broadcast | Func::Txn | Func::Watch => {
                Err(op.f.unsupported("nats"))
            }
        };
        match done {
            Ok(value) => Reply::Ok(value),
            Err(reply) => reply,
        }
    }
}

/// The subject of key `key` in the bucket.
fn kv_subject(key: &str) -> String {
    format!("$KV.{BUCKET}.{key}")
}

/// The subject of the set called `key`.
fn set_subject(key: &str) -> String {
    format!("faultline.set.{key}")
}

/// A value as stored: its JSON text.
fn encode(value: &Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// A stored value back (text that is not JSON comes back as a string).
fn decode(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Whether headers (as text) mark a key-value entry deleted or purged.
fn is_tombstone(headers: &str) -> bool {
    headers.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("kv-operation:") && (l.contains("del") || l.contains("purge"))
    })
}

/// What an operation gives back, or the reply to give at once.
type Outcome<T> = Result<T, Reply>;

/// JetStream through one connection.
struct Js<'a> {
    conn: &'a async_nats::Client,
    read: ReadPath,
}

impl Js<'_> {
    /// The last entry of `key`: its value and revision; None when the key
    /// was never written. Any failure is definite: a read changes nothing.
    async fn get(&self, key: &str) -> Outcome<Option<(Value, u64)>> {
        let request = json!({ "last_by_subj": kv_subject(key) }).to_string();
        let api = match self.read {
            ReadPath::Direct => format!("$JS.API.DIRECT.GET.{}", kv_stream()),
            ReadPath::Leader => format!("$JS.API.STREAM.MSG.GET.{}", kv_stream()),
        };
        let answer = self
            .conn
            .request(api, request.into_bytes().into())
            .await
            .map_err(|e| Reply::Fail(request_error(&e)))?;
        match self.read {
            ReadPath::Direct => direct_entry(&answer),
            ReadPath::Leader => leader_entry(&answer.payload),
        }
        .map_err(Reply::Fail)
    }

    /// Publishes `value` to `subject` and waits for JetStream's ack; with
    /// `expected`, only if the subject's last sequence is that. The stored
    /// message's sequence.
    async fn publish(&self, subject: &str, value: &Value, expected: Option<u64>) -> Outcome<u64> {
        let mut headers = HeaderMap::new();
        if let Some(rev) = expected {
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                rev.to_string().as_str(),
            );
        }
        let answer = self
            .conn
            .request_with_headers(subject.to_string(), headers, encode(value).into())
            .await;
        let answer = match answer {
            Ok(a) => a,
            Err(e) if e.kind() == RequestErrorKind::NoResponders => {
                return Err(Reply::Fail(
                    "no responders: no stream took the message".into(),
                ))
            }
            Err(e) => return Err(Reply::Info(request_error(&e))),
        };
        publish_outcome(&answer.payload)
    }

    async fn cas(&self, key: &str, from: &Value, to: &Value) -> Outcome<()> {
        match self.get(key).await? {
            None => Err(Reply::Fail("no value".into())),
            Some((value, _)) if value != *from => Err(Reply::Fail("value differs".into())),
            Some((_, rev)) => self
                .publish(&kv_subject(key), to, Some(rev))
                .await
                .map(|_| ()),
        }
    }

    async fn append(&self, key: &str, element: &Value) -> Outcome<()> {
        for _ in 0..APPEND_ATTEMPTS {
            // Every earlier round definitely failed: a failed read here
            // leaves the append definitely not done.
            let (mut list, rev) = match self.get(key).await? {
                Some((Value::Array(items), rev)) => (items, rev),
                Some((Value::Null, rev)) => (Vec::new(), rev),
                Some((other, _)) => {
                    return Err(Reply::Fail(format!("append to a non-list value {other}")))
                }
                None => (Vec::new(), 0),
            };
            list.push(element.clone());
            match self
                .publish(&kv_subject(key), &Value::Array(list), Some(rev))
                .await
            {
                Ok(_) => return Ok(()),
                Err(Reply::Fail(e)) if e.contains("wrong last sequence") => continue,
                Err(other) => return Err(other),
            }
        }
        Err(Reply::Fail(format!(
            "append: the key changed under {APPEND_ATTEMPTS} attempts"
        )))
    }

    /// Every element added to the set `key`, in stream order, through
    /// the last sequence the stream leader reported when the read began.
    async fn read_set(&self, key: &str) -> Outcome<Value> {
        let fail = |what: &str, e: &dyn std::fmt::Display| Reply::Fail(format!("{what}: {e}"));
        let js = async_nats::jetstream::new(self.conn.clone());
        // Stream info is answered by the stream leader; `stream not found`
        // by the meta leader, for whom the stream, and every element in
        // it, does not exist. While a replicated stream has no leader the
        // meta leader answers stream info itself, with no leader named and
        // a state that is not the stream's (often last sequence 0): that
        // says nothing about what the stream holds, so the read fails.
        let stream = match js.get_stream(SET_STREAM).await {
            Ok(stream) => stream,
            Err(e) if stream_not_found(e.kind()) => {
                tracing::debug!(
                    "set read through {}: stream not found",
                    self.conn.server_info().server_name
                );
                return Ok(Value::Array(Vec::new()));
            }
            Err(e) => return Err(fail("stream info", &e)),
        };
        let info = stream.cached_info();
        let last = info.state.last_sequence;
        let leader = info.cluster.as_ref().and_then(|c| c.leader.clone());
        tracing::debug!(
            "set read through {}: stream info says last sequence {last}, leader {leader:?}",
            self.conn.server_info().server_name,
        );
        if leader.is_none() && info.config.num_replicas > 1 {
            return Err(Reply::Fail(format!(
                "stream info without a stream leader (last sequence {last}): not the stream's state"
            )));
        }
        if last == 0 {
            return Ok(Value::Array(Vec::new()));
        }
        let consumer = stream
            .create_consumer(pull::Config {
                deliver_policy: DeliverPolicy::All,
                ack_policy: AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                num_replicas: 1,
                ..Default::default()
            })
            .await
            .map_err(|e| fail("consumer", &e))?;
        let name = consumer.cached_info().name.clone();
        let subject = set_subject(key);
        let mut elements = Vec::new();
        let read = async {
            let mut seen = 0;
            while seen < last {
                let mut batch = consumer
                    .fetch()
                    .max_messages((last - seen).min(1_000) as usize)
                    .expires(Duration::from_millis(500))
                    .messages()
                    .await
                    .map_err(|e| fail("fetch", &e))?;
                while let Some(msg) = batch.next().await {
                    let msg = msg.map_err(|e| fail("fetch", &e))?;
                    seen = msg.info().map_err(|e| fail("fetch", &e))?.stream_sequence;
                    if msg.subject.as_str() == subject {
                        elements.push(decode(&msg.payload));
                    }
                }
            }
            Ok(())
        }
        .await;
        // Ephemeral: it would go away by itself after its inactive threshold.
        let _ = stream.delete_consumer(&name).await;
        read.map(|()| Value::Array(elements))
    }
}

/// Whether JetStream said the stream does not exist.
fn stream_not_found(kind: async_nats::jetstream::context::GetStreamErrorKind) -> bool {
    use async_nats::jetstream::context::GetStreamErrorKind;
    use async_nats::jetstream::ErrorCode;
    matches!(kind, GetStreamErrorKind::JetStream(e) if e.error_code() == ErrorCode::STREAM_NOT_FOUND)
}

/// The entry in a direct get's answer (status 404: none).
fn direct_entry(answer: &async_nats::Message) -> Result<Option<(Value, u64)>, String> {
    match answer.status {
        Some(StatusCode::NOT_FOUND) => return Ok(None),
        Some(s) if s != StatusCode::OK => {
            return Err(format!(
                "direct get: {s} {}",
                answer.description.clone().unwrap_or_default()
            ))
        }
        _ => {}
    }
    let headers = answer.headers.clone().unwrap_or_default();
    let seq = headers
        .get("Nats-Sequence")
        .and_then(|v| v.as_str().parse::<u64>().ok())
        .ok_or("direct get: no Nats-Sequence header")?;
    let tombstone = headers
        .get("KV-Operation")
        .is_some_and(|v| is_tombstone(&format!("KV-Operation: {}", v.as_str())));
    let value = if tombstone {
        Value::Null
    } else {
        decode(&answer.payload)
    };
    Ok(Some((value, seq)))
}

/// The entry in a message get's answer (error 404: none).
fn leader_entry(payload: &[u8]) -> Result<Option<(Value, u64)>, String> {
    let body: Value = serde_json::from_slice(payload).map_err(|e| format!("message get: {e}"))?;
    if let Some(err) = body.get("error") {
        if err["code"] == 404 {
            return Ok(None);
        }
        return Err(format!("message get: {err}"));
    }
    let msg = &body["message"];
    let seq = msg["seq"].as_u64().ok_or("message get: no seq")?;
    let raw = |field: &str| {
        msg[field]
            .as_str()
            .and_then(|d| B64.decode(d).ok())
            .unwrap_or_default()
    };
    let value = if is_tombstone(&String::from_utf8_lossy(&raw("hdrs"))) {
        Value::Null
    } else {
        decode(&raw("data"))
    };
    Ok(Some((value, seq)))
}

/// What JetStream's answer to a publish means: its sequence (`ok`), a
/// definite failure (`wrong last sequence`), or unknown (any other error).
fn publish_outcome(payload: &[u8]) -> Outcome<u64> {
    let body: Value =
        serde_json::from_slice(payload).map_err(|e| Reply::Info(format!("unreadable ack: {e}")))?;
    if let Some(err) = body.get("error") {
        let text = err["description"].as_str().unwrap_or("error").to_string();
        return Err(if err["err_code"] == WRONG_LAST_SEQUENCE {
            Reply::Fail(text)
        } else {
            Reply::Info(text)
        });
    }
    body["seq"]
        .as_u64()
        .ok_or_else(|| Reply::Info(format!("ack without a sequence: {body}")))
}

fn request_error(e: &async_nats::RequestError) -> String {
    match e.kind() {
        RequestErrorKind::TimedOut => "timeout".into(),
        RequestErrorKind::NoResponders => "no responders".into(),
        _ => root_cause(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_errors_and_entries_map_to_outcomes() {
        assert_eq!(publish_outcome(br#"{"stream":"s","seq":7}"#), Ok(7));
        let wrong =
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}"#;
        assert!(matches!(publish_outcome(wrong), Err(Reply::Fail(_))));
        let other = br#"{"error":{"code":503,"err_code":10008,"description":"JetStream system temporarily unavailable"}}"#;
        assert!(matches!(publish_outcome(other), Err(Reply::Info(_))));
        let none = br#"{"error":{"code":404,"err_code":10037,"description":"no message found"}}"#;
        assert_eq!(leader_entry(none), Ok(None));
        let data = B64.encode(b"[1,2]");
        let found =
            format!(r#"{{"message":{{"subject":"$KV.faultline.l1","seq":9,"data":"{data}"}}}}"#);
        assert_eq!(leader_entry(found.as_bytes()), Ok(Some((json!([1, 2]), 9))));
        assert!(is_tombstone("NATS/1.0\r\nKV-Operation: DEL\r\n\r\n"));
        assert!(!is_tombstone("NATS/1.0\r\nOther: DEL\r\n"));
    }
}
