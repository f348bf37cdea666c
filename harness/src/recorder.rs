//! The history, written as it happens (the format: docs/history.md).
//!
//! Every client and the nemesis record events through a [`Recorder`]. It
//! gives each event its `index` (the order written) and `time` (ns since the
//! test start, monotonic) under one lock, so index order and time order
//! agree, and an event recorded after another really happened after it. A
//! single writer thread appends the events to `history.jsonl`, flushing
//! after each batch it finds waiting, so a harness that dies still leaves a
//! history `faultline check --allow-truncated` can read.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use faultline_checker::history::{Event, EventType, Process};
use serde::Serialize;
use serde_json::Value;

struct Inner {
    next: u64,
    tx: Option<mpsc::Sender<Event>>,
    /// Also gets every event (the online checker).
    tap: Option<mpsc::Sender<Event>>,
}

/// Records events; cheap to clone, one per client and one for the nemesis.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

/// The writer thread; [`Writer::finish`] waits for it and returns the events.
pub struct Writer {
    join: JoinHandle<io::Result<Vec<Event>>>,
}

/// What one event says, before it gets its index and time.
#[derive(Debug, Clone)]
pub struct Draft {
    /// Client number or the nemesis.
    pub process: Process,
    /// invoke / ok / fail / info.
    pub kind: EventType,
    /// The operation's function (`read`, `write`, `kill`, ...).
    pub f: String,
    /// The key, if any.
    pub key: Option<String>,
    /// The operation's value (docs/history.md: what each function holds).
    pub value: Value,
    /// Why it failed, for fail and info.
    pub error: Option<String>,
}

impl Recorder {
    /// Creates `path` and starts the writer thread; `start` is the test's
    /// time zero.
    pub fn create(path: &Path, start: Instant) -> io::Result<(Recorder, Writer)> {
        let file = File::create(path)?;
        let (tx, rx) = mpsc::channel::<Event>();
        let join = std::thread::Builder::new()
            .name("history-writer".into())
            .spawn(move || write_loop(file, rx))?;
        let recorder = Recorder {
            start,
            inner: Arc::new(Mutex::new(Inner {
                next: 0,
                tx: Some(tx),
                tap: None,
            })),
        };
        Ok((recorder, Writer { join }))
    }

    /// Records an event now; returns its time (ns since the test start).
    pub fn record(&self, draft: Draft) -> u64 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let time = self.start.elapsed().as_nanos() as u64;
        let index = inner.next;
        inner.next += 1;
        let event = Event {
            index,
            time,
            process: draft.process,
            kind: draft.kind,
            f: draft.f,
            key: draft.key,
            value: draft.value,
            error: draft.error,
        };
        if let Some(tap) = &inner.tap {
            let _ = tap.send(event.clone());
        }
        if let Some(tx) = &inner.tx {
            let _ = tx.send(event);
        }
        time
    }

    /// Also sends every event recorded from now on to `tap`, until closed.
    pub fn tap(&self, tap: mpsc::Sender<Event>) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).tap = Some(tap);
    }

    /// Records a nemesis event (type info): a fault's start or stop, or a
    /// scenario step's outcome; `event` serializes as `{"f": .., "value": ..}`
    /// (a serde enum tagged `f` with content `value`, see [`to_parts`]).
    pub fn fault(&self, event: &impl Serialize) {
        let (f, value) = to_parts(event);
        self.record(Draft {
            process: Process::Nemesis,
            kind: EventType::Info,
            f,
            key: None,
            value,
            error: None,
        });
    }

    /// Time since the test start.
    pub fn elapsed(&self) -> std::time::Duration {
        self.start.elapsed()
    }

    /// Stops accepting events; the writer ends once it has written the rest.
    pub fn close(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.tx = None;
        inner.tap = None;
    }
}

impl Writer {
    /// Waits for the writer (after [`Recorder::close`]) and returns every
    /// event written.
    pub fn finish(self) -> io::Result<Vec<Event>> {
        self.join
            .join()
            .map_err(|_| io::Error::other("the history writer panicked"))?
    }
}

fn write_loop(file: File, rx: mpsc::Receiver<Event>) -> io::Result<Vec<Event>> {
    let mut out = BufWriter::new(file);
    let mut events = Vec::new();
    while let Ok(first) = rx.recv() {
        write_event(&mut out, &first)?;
        events.push(first);
        while let Ok(more) = rx.try_recv() {
            write_event(&mut out, &more)?;
            events.push(more);
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(events)
}

fn write_event(out: &mut impl Write, ev: &Event) -> io::Result<()> {
    serde_json::to_writer(&mut *out, ev)?;
    out.write_all(b"\n")
}

/// A typed event as a history event's `f` and `value`.
pub fn to_parts(event: &impl Serialize) -> (String, Value) {
    let mut v = serde_json::to_value(event).unwrap_or(Value::Null);
    let f = v
        .get("f")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let value = v.get_mut("value").map(Value::take).unwrap_or(Value::Null);
    (f, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_indexed_in_order_written_and_flushed_as_they_come() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (rec, writer) = Recorder::create(&path, Instant::now()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|p| {
                let rec = rec.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        rec.record(Draft {
                            process: Process::Client(p),
                            kind: if i % 2 == 0 {
                                EventType::Invoke
                            } else {
                                EventType::Ok
                            },
                            f: "write".into(),
                            key: Some("k".into()),
                            value: Value::from(i),
                            error: None,
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        rec.fault(&crate::nemesis::FaultEvent::Crash(vec!["n1".into()]));
        // Written before the recorder closes.
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::read_to_string(&path).unwrap().lines().count() < 201 {
            assert!(Instant::now() < deadline, "events were not flushed");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        rec.close();
        let events = writer.finish().unwrap();
        assert_eq!(events.len(), 201);
        for (i, ev) in events.iter().enumerate() {
            assert_eq!(ev.index, i as u64);
            if i > 0 {
                assert!(ev.time >= events[i - 1].time);
            }
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let last: Event = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last.process, Process::Nemesis);
    }
}
