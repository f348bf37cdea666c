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
    /// Test time zero, once known.
    zero: Option<Instant>,
    /// Entries made before time zero was known, with when they happened.
    early: Vec<(Instant, Entry)>,
    created: Instant,
    next_id: u64,
    failed: Option<io::Error>,
}

impl Journal {
    /// Creates `path`. Entries wait in memory until [`Journal::set_zero`]
    /// says when the test starts (their times are then negative).
    pub fn create(path: &Path) -> io::Result<Journal> {
        Ok(Journal {
            out: BufWriter::new(File::create(path)?),
            zero: None,
            early: Vec::new(),
            created: Instant::now(),
            next_id: 0,
            failed: None,
        })
    }

    /// Sets time zero (the test start) and writes the entries made before it.
    pub fn set_zero(&mut self, zero: Instant) {
        self.zero = Some(zero);
        for (at, mut entry) in std::mem::take(&mut self.early) {
            entry.t = since(zero, at);
            self.write_now(&entry);
        }
    }

    /// Journals a message arriving at the router; returns its id.
    pub fn send(&mut self, msg: &Envelope) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.write(Entry {
            t: 0,
            id,
            ev: "send".into(),
            src: Some(msg.src.clone()),
            dest: Some(msg.dest.clone()),
            body: Some(msg.body.clone()),
            why: None,
        });
        id
    }

    /// Journals the delivery of message `id`.
    pub fn deliver(&mut self, id: u64) {
        self.write(Entry {
            t: 0,
            id,
            ev: "deliver".into(),
            src: None,
            dest: None,
            body: None,
            why: None,
        });
    }

    /// Journals that message `id` was dropped, and why.
    pub fn drop_message(&mut self, id: u64, why: &str) {
        self.write(Entry {
            t: 0,
            id,
            ev: "drop".into(),
            src: None,
            dest: None,
            body: None,
            why: Some(why.to_string()),
        });
    }

    /// Writes `entry` stamped now (or keeps it until time zero is known).
    fn write(&mut self, mut entry: Entry) {
        let now = Instant::now();
        match self.zero {
            Some(zero) => {
                entry.t = since(zero, now);
                self.write_now(&entry);
            }
            None => self.early.push((now, entry)),
        }
    }

    fn write_now(&mut self, entry: &Entry) {
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
        if self.zero.is_none() {
            // The test never started: times count from the journal's creation.
            let created = self.created;
            self.set_zero(created);
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

/// Nanoseconds from `zero` to `at` (negative when `at` came first).
fn since(zero: Instant, at: Instant) -> i64 {
    if at >= zero {
        (at - zero).as_nanos() as i64
    } else {
        -((zero - at).as_nanos() as i64)
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
