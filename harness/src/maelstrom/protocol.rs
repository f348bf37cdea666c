//! Maelstrom's wire format: one JSON object a line, `{"src", "dest",
//! "body"}`, `body.type` required, `msg_id` and `in_reply_to` integers
//! (Maelstrom's `doc/protocol.md`), and its error codes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One message between nodes, clients and services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Who sent it (`n0`, `c3`, `lin-kv`, ...).
    pub src: String,
    /// Who it is for.
    pub dest: String,
    /// The body: a JSON object with at least `type`.
    pub body: Value,
}

impl Envelope {
    /// A message from `src` to `dest` with `body`.
    pub fn new(src: impl Into<String>, dest: impl Into<String>, body: Value) -> Envelope {
        Envelope {
            src: src.into(),
            dest: dest.into(),
            body,
        }
    }

    /// The body's `type` (empty when absent).
    pub fn kind(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The body's `msg_id`, if any.
    pub fn msg_id(&self) -> Option<u64> {
        self.body.get("msg_id").and_then(Value::as_u64)
    }

    /// The body's `in_reply_to`, if any.
    pub fn in_reply_to(&self) -> Option<u64> {
        self.body.get("in_reply_to").and_then(Value::as_u64)
    }

    /// The message as one line (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Why a line a node printed on its stdout is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not JSON at all.
    #[error("not a JSON message ({0})")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// No `src` (or not a string).
    #[error("no \"src\" field")]
    MissingSrc,
    /// No `dest` (or not a string).
    #[error("no \"dest\" field")]
    MissingDest,
    /// No `body` object.
    #[error("no \"body\" object")]
    MissingBody,
    /// A body without a string `type`.
    #[error("the body has no \"type\"")]
    MissingType,
}

/// Parses one stdout line of a node.
pub fn parse_line(line: &str) -> Result<Envelope, LineError> {
    let value: Value = serde_json::from_str(line).map_err(|e| LineError::NotJson(e.to_string()))?;
    let Value::Object(mut map) = value else {
        return Err(LineError::NotObject);
    };
    let src = take_string(&mut map, "src").ok_or(LineError::MissingSrc)?;
    let dest = take_string(&mut map, "dest").ok_or(LineError::MissingDest)?;
    let body = match map.remove("body") {
        Some(Value::Object(b)) => Value::Object(b),
        _ => return Err(LineError::MissingBody),
    };
    if !body.get("type").is_some_and(Value::is_string) {
        return Err(LineError::MissingType);
    }
    Ok(Envelope { src, dest, body })
}

fn take_string(map: &mut Map<String, Value>, field: &str) -> Option<String> {
    match map.remove(field) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Maelstrom's error codes used by the router and the services.
pub mod code {
    /// Indefinite: the request timed out.
    pub const TIMEOUT: u64 = 0;
    /// Definite: the node does not exist.
    pub const NODE_NOT_FOUND: u64 = 1;
    /// Definite: the operation is not supported.
    pub const NOT_SUPPORTED: u64 = 10;
    /// Definite: temporarily unavailable.
    pub const TEMPORARILY_UNAVAILABLE: u64 = 11;
    /// Definite: the request was malformed.
    pub const MALFORMED_REQUEST: u64 = 12;
    /// Indefinite: the node crashed.
    pub const CRASH: u64 = 13;
    /// Definite: aborted.
    pub const ABORT: u64 = 14;
    /// Definite: no such key.
    pub const KEY_DOES_NOT_EXIST: u64 = 20;
    /// Definite: the key exists already.
    pub const KEY_ALREADY_EXISTS: u64 = 21;
    /// Definite: a precondition (cas `from`) did not hold.
    pub const PRECONDITION_FAILED: u64 = 22;
    /// Definite: a transaction conflicted.
    pub const TXN_CONFLICT: u64 = 30;
}

/// Whether error `code` means the operation certainly did not happen
/// (Maelstrom's definite errors); codes 0, 13 and every code from 1000 up
/// (the node's own) are indefinite.
pub fn is_definite(code: u64) -> bool {
    matches!(code, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30)
}

/// An error body replying to `msg_id`.
pub fn error_body(in_reply_to: Option<u64>, code: u64, text: &str) -> Value {
    let mut body = serde_json::json!({"type": "error", "code": code, "text": text});
    if let Some(id) = in_reply_to {
        body["in_reply_to"] = id.into();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_or_say_what_is_missing() {
        let e = parse_line(r#"{"src":"n0","dest":"c1","body":{"type":"echo_ok","in_reply_to":1}}"#)
            .unwrap();
        assert_eq!(
            (e.src.as_str(), e.kind(), e.in_reply_to()),
            ("n0", "echo_ok", Some(1))
        );
        assert!(matches!(parse_line("hello"), Err(LineError::NotJson(_))));
        assert_eq!(parse_line("[1]"), Err(LineError::NotObject));
        assert_eq!(
            parse_line(r#"{"dest":"c1","body":{"type":"x"}}"#),
            Err(LineError::MissingSrc)
        );
        assert_eq!(
            parse_line(r#"{"src":"n0","body":{"type":"x"}}"#),
            Err(LineError::MissingDest)
        );
        assert_eq!(
            parse_line(r#"{"src":"n0","dest":"c1","body":{"msg_id":1}}"#),
            Err(LineError::MissingType)
        );
    }

    #[test]
    fn definite_and_indefinite_codes() {
        assert!(is_definite(code::KEY_DOES_NOT_EXIST));
        assert!(is_definite(code::PRECONDITION_FAILED));
        assert!(!is_definite(code::TIMEOUT));
        assert!(!is_definite(code::CRASH));
        assert!(!is_definite(1000));
    }
}
