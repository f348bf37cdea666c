//! etcd watches for the `watch` workload: one `POST /v3/watch` on the v3
//! JSON gateway per operation, a streaming answer read for a bounded
//! window.
//!
//! The request is `{"create_request": {"key", "range_end", "start_revision"}}`
//! (the operation's key as a prefix, from the revision its value names);
//! the gateway answers with newline-separated JSON messages,
//! `{"result": {"header", "created", "events", "canceled",
//! "compact_revision", "cancel_reason"}}` or `{"error": {...}}`. Each event
//! is recorded as `[mod_revision, key, value]` in the order etcd sent it
//! (a deletion carries `null`), nothing reordered, filtered or dropped.
//!
//! | what happened | completion |
//! |---|---|
//! | the window ([`MAX_WINDOW`], at most half the request timeout) ended, or [`MAX_EVENTS`] were reached at the end of a message | `ok`, the events (maybe none) |
//! | etcd cancelled the watch with a `compact_revision`: the start was compacted | `ok`, the events before it and `"compacted": C` (the watcher continues at C; the checker judges nothing below it) |
//! | the stream broke (connection lost, an error message, a cancellation, an event without a revision) after some events | `ok`, the events and `"lost": why` |
//! | the same before any event, or no `created` within the window | `fail` (a watch changes nothing) |
//!
//! A watcher is bound to its client's member; after a watch whose stream
//! broke (or never opened) its next watch goes to the next member, as an
//! etcd client reconnects through any endpoint, from the revision after
//! the last it saw. Every attempt is an operation of the history: nothing
//! is retried inside one.

use std::time::Duration;

use base64::Engine;
use faultline_workloads::watch::{WatchEvent, Watched};
use faultline_workloads::{Op, Reply};
use serde_json::{json, Value};
use tokio::time::{timeout_at, Instant};

use super::{b64, decode, revision, transport_error, EtcdClient, B64};

/// The most events one watch collects: it stops at the end of the message
/// that reaches this many.
pub const MAX_EVENTS: usize = 200;
/// The longest window of one watch (and at most half the request timeout).
pub const MAX_WINDOW: Duration = Duration::from_millis(500);

impl EtcdClient {
    /// Watches the prefix `op.key` from the revision `op.value` through
    /// the watcher's current member, moving on to the next member when the
    /// stream broke.
    pub(super) async fn watch(&mut self, op: &Op) -> Reply {
        let http = match &self.http {
            Ok(http) => http.clone(),
            Err(e) => return Reply::Fail(e.clone()),
        };
        let Some(from) = op.value.as_u64() else {
            return Reply::Fail(format!("a watch starts at a revision, not {}", op.value));
        };
        let member = self.members[self.watching % self.members.len()].clone();
        let window = (self.timeout / 2).min(MAX_WINDOW);
        let stream = watch_once(&http, &member, op.key_or_default(), from, window).await;
        if stream.broke.is_some() {
            self.watching = (self.watching + 1) % self.members.len();
        }
        stream.reply(&member)
    }
}

/// What one watch stream gave.
#[derive(Debug, Default)]
struct Stream {
    /// The events and the compaction revision, as etcd sent them.
    watched: Watched,
    /// Whether etcd said the watch was created.
    created: bool,
    /// Why the stream ended before its window, when it broke.
    broke: Option<String>,
}

impl Stream {
    /// The completion: `ok` with what it saw, or `fail` when it saw
    /// nothing because the stream broke or never opened.
    fn reply(mut self, member: &str) -> Reply {
        let saw = !self.watched.events.is_empty() || self.watched.compacted.is_some();
        match self.broke.take() {
            Some(why) if saw => {
                self.watched.lost = Some(why);
                Reply::Ok(self.watched.to_json())
            }
            Some(why) => Reply::Fail(format!("watch through {member}: {why}")),
            None => Reply::Ok(self.watched.to_json()),
        }
    }

    /// Takes one message of the gateway; false once the stream is over.
    fn take(&mut self, message: &Value) -> bool {
        if let Some(error) = message.get("error") {
            let text = error["message"].as_str().unwrap_or("");
            self.broke = Some(format!("etcd: {text} ({error})"));
            return false;
        }
        let result = &message["result"];
        self.created |= result["created"].as_bool().unwrap_or(false);
        for event in result["events"].as_array().into_iter().flatten() {
            match event_of(event) {
                Some(e) => self.watched.events.push(e),
                None => {
                    self.broke = Some(format!("etcd sent an event without a revision: {event}"));
                    return false;
                }
            }
        }
        if let Some(c) = revision(&result["compact_revision"]).filter(|c| *c > 0) {
            self.watched.compacted = Some(c);
            return false;
        }
        if result["canceled"].as_bool().unwrap_or(false) {
            let reason = result["cancel_reason"]
                .as_str()
                .unwrap_or("no reason given");
            self.broke = Some(format!("etcd cancelled the watch: {reason}"));
            return false;
        }
        true
    }
}

/// One watch of `prefix` from `from` through the gateway at `base`, read
/// for at most `window`.
async fn watch_once(
    http: &reqwest::Client,
    base: &str,
    prefix: &str,
    from: u64,
    window: Duration,
) -> Stream {
    let deadline = Instant::now() + window;
    let mut stream = Stream::default();
    let body = json!({ "create_request": {
        "key": b64(prefix.as_bytes()),
        "range_end": b64(&prefix_end(prefix.as_bytes())),
        "start_revision": from,
    }});
    let request = http.post(format!("{base}/v3/watch")).json(&body).send();
    let mut resp = match timeout_at(deadline, request).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => {
            stream.broke = Some(transport_error(&e));
            return stream;
        }
        Err(_) => {
            stream.broke = Some(format!("no answer within {} ms", window.as_millis()));
            return stream;
        }
    };
    if !resp.status().is_success() {
        let status = resp.status();
        let text = match timeout_at(deadline, resp.text()).await {
            Ok(Ok(text)) => text,
            _ => String::new(),
        };
        stream.broke = Some(format!("status {status}: {text}"));
        return stream;
    }
    let mut pending: Vec<u8> = Vec::new();
    loop {
        if stream.watched.events.len() >= MAX_EVENTS {
            return stream;
        }
        let chunk = match timeout_at(deadline, resp.chunk()).await {
            Err(_) => break,
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => {
                // A last message without its newline.
                if take_line(&mut stream, &pending) {
                    stream.broke = Some("the member closed the stream".into());
                }
                return stream;
            }
            Ok(Err(e)) => {
                stream.broke = Some(transport_error(&e));
                break;
            }
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if !take_line(&mut stream, &line) {
                return stream;
            }
        }
    }
    if !stream.created && stream.broke.is_none() && stream.watched.events.is_empty() {
        stream.broke = Some(format!(
            "the watch was not created within {} ms",
            window.as_millis()
        ));
    }
    stream
}

/// Takes one line of the answer (blank lines are skipped); false once the
/// stream is over.
fn take_line(stream: &mut Stream, line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return true;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(message) => stream.take(&message),
        Err(e) => {
            stream.broke = Some(format!("etcd sent a line that is not JSON ({e}): {text}"));
            false
        }
    }
}

/// The event `[mod_revision, key, value]` of one gateway event (None
/// without a revision).
fn event_of(event: &Value) -> Option<WatchEvent> {
    let kv = &event["kv"];
    let revision = revision(&kv["mod_revision"])?;
    let key = B64
        .decode(kv["key"].as_str().unwrap_or(""))
        .map(|k| String::from_utf8_lossy(&k).into_owned())
        .unwrap_or_default();
    let value = if event["type"] == "DELETE" {
        Value::Null
    } else {
        decode(kv["value"].as_str().unwrap_or(""))
    };
    Some(WatchEvent {
        revision,
        key,
        value,
    })
}

/// The end of the key range holding every key that starts with `prefix`:
/// the prefix with its last byte below 0xff incremented (etcd's
/// `GetPrefixRangeEnd`); `[0]` (every key) when there is none.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn events_are_kept_in_the_order_sent_and_a_compaction_is_reported() {
        let mut s = Stream::default();
        assert!(s.take(&message(
            r#"{"result":{"header":{"revision":"3"},"created":true}}"#
        )));
        let events = format!(
            r#"{{"result":{{"events":[{{"kv":{{"key":"{}","mod_revision":"3","value":"{}"}}}},{{"type":"DELETE","kv":{{"key":"{}","mod_revision":"2"}}}}]}}}}"#,
            b64(b"watch/1"),
            b64(b"7"),
            b64(b"watch/2")
        );
        assert!(s.take(&message(&events)));
        assert!(s.created);
        assert_eq!(
            s.watched.to_json(),
            json!({"events": [[3, "watch/1", 7], [2, "watch/2", null]]}),
            "nothing reordered"
        );
        assert!(!s.take(&message(
            r#"{"result":{"canceled":true,"compact_revision":"9"}}"#
        )));
        assert_eq!(
            s.reply("m").clone(),
            Reply::Ok(json!({"events": [[3, "watch/1", 7], [2, "watch/2", null]], "compacted": 9}))
        );
    }

    #[test]
    fn a_stream_broken_before_any_event_fails_and_after_some_is_ok_with_why() {
        let mut s = Stream::default();
        assert!(!s.take(&message(
            r#"{"error":{"grpc_code":14,"message":"unavailable"}}"#
        )));
        assert!(
            matches!(s.reply("m1"), Reply::Fail(e) if e.contains("m1") && e.contains("unavailable"))
        );
        let mut s = Stream::default();
        let one = format!(
            r#"{{"result":{{"events":[{{"kv":{{"key":"{}","mod_revision":"4","value":"{}"}}}}]}}}}"#,
            b64(b"watch/0"),
            b64(b"1")
        );
        assert!(s.take(&message(&one)));
        assert!(!take_line(&mut s, b"not json\n"));
        match s.reply("m") {
            Reply::Ok(v) => {
                assert_eq!(v["events"], json!([[4, "watch/0", 1]]));
                assert!(v["lost"].as_str().unwrap().contains("not JSON"), "{v}");
            }
            other => panic!("{other:?}"),
        }
        let mut s = Stream::default();
        assert!(!s.take(&message(r#"{"result":{"events":[{"kv":{"key":"eA=="}}]}}"#)));
        assert!(matches!(s.reply("m"), Reply::Fail(e) if e.contains("without a revision")));
    }

    #[test]
    fn a_prefix_ends_past_its_last_byte() {
        assert_eq!(prefix_end(b"watch/"), b"watch0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
