//! The message journal, `messages.jsonl`: every message the router saw,
//! one JSON object a line, in the order the router handled them:
//!
//! - `{"t", "id", "ev": "send", "src", "dest", "body"}` when it arrived at
//!   the router (from a node's stdout, a client or a service);
//! - `{"t", "id", "ev": "deliver"}` when it was written to its destination;
//! - `{"t", "id", "ev": "drop", "why"}` when it was not (a partition, packet
//!   loss, a dead or killed destination, a retired client).
//!
//! `t` is nanoseconds since the test start (the history's clock, negative
//! before it: init and topology). The report reads it back for messages per
//! operation and the Lamport diagram.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::protocol::Envelope;

/// The journal's file name in the run folder.
pub const JOURNAL_FILE: &str = "messages.jsonl";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Nanoseconds since the test start (negative before it).
    pub t: i64,
    /// The message's number in the run.
    pub id: u64,
    /// `send`, `deliver` or `drop`.
    pub ev: String,
    /// The sender (on `send`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The destination (on `send`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// The body (on `send`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Why it was dropped (on `drop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Writes the journal; owned by the router thread.
pub struct Journal {
    out: BufWriter<File>,
    zero: Instant,
    next_id: u64,
    failed: Option<io::Error>,
}

impl Journal {
    /// Creates `path`; times count from `zero`.
    pub fn create(path: &Path, zero: Instant) -> io::Result<Journal> {
        Ok(Journal {
            out: BufWriter::new(File::create(path)?),
            zero,
            next_id: 0,
            failed: None,
        })
    }

    /// Moves time zero (to the test start, once the nodes are up).
    pub fn set_zero(&mut self, zero: Instant) {
        self.zero = zero;
    }

    fn now(&self) -> i64 {
        let now = Instant::now();
        if now >= self.zero {
            (now - self.zero).as_nanos() as i64
        } else {
            -((self.zero - now).as_nanos() as i64)
        }
    }

    /// Journals a message arriving at the router; returns its id.
    pub fn send(&mut self, msg: &Envelope) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let entry = Entry {
            t: self.now(),
            id,
            ev: "send".into(),
            src: Some(msg.src.clone()),
            dest: Some(msg.dest.clone()),
            body: Some(msg.body.clone()),
            why: None,
        };
        self.write(&entry);
        id
    }

    /// Journals the delivery of message `id`.
    pub fn deliver(&mut self, id: u64) {
        let entry = Entry {
            t: self.now(),
            id,
            ev: "deliver".into(),
            src: None,
            dest: None,
            body: None,
            why: None,
        };
        self.write(&entry);
    }

    /// Journals that message `id` was dropped, and why.
    pub fn drop_message(&mut self, id: u64, why: &str) {
        let entry = Entry {
            t: self.now(),
            id,
            ev: "drop".into(),
            src: None,
            dest: None,
            body: None,
            why: Some(why.to_string()),
        };
        self.write(&entry);
    }

    fn write(&mut self, entry: &Entry) {
        if self.failed.is_some() {
            return;
        }
        let line = serde_json::to_string(entry).unwrap_or_default();
        if let Err(e) = writeln!(self.out, "{line}") {
            tracing::warn!("writing the message journal: {e}");
            self.failed = Some(e);
        }
    }

    /// Flushes what is buffered; the first write error, if any.
    pub fn finish(mut self) -> io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

/// Reads a journal back; lines that do not parse are skipped (a run cut
/// short may end in half a line).
pub fn read(path: &Path) -> io::Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
