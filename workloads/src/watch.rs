//! `watch`: writers put unique values to a few keys under one prefix while
//! watchers follow every change under that prefix, each from where it left
//! off, so that each watcher's events, concatenated over its operations,
//! are its view of the prefix's whole change history. The `watch` checker
//! compares those views with each other and with the revisions the system
//! gave the acknowledged writes (etcd-io/etcd#15271: a member that rejoins
//! after a snapshot sends its watchers revisions that go back in time).
//!
//! Odd client slots watch, even slots write (a run of one client only
//! writes, and the checker then has nothing to judge). Forms
//! (docs/history.md, "Watches"):
//!
//! | op | `invoke` value | `ok` value |
//! |---|---|---|
//! | `watch` (key: the prefix) | the revision to start from (the first watch: 1) | `{"events": [[revision, key, value], ...]}`, plus `"compacted": C` when the system no longer has the revisions from the start (continue at C), plus `"lost": why` when the stream broke after some events |
//! | `write` (key: `watch/0` .. `watch/4`) | a value unique in the run | `{"value": v, "revision": r}` when the system tells the revision, else `v` |
//!
//! A watch that errors before it got anything is `fail` (it changes
//! nothing); one that got events and then lost its connection is `ok` with
//! what it got. A watcher's next watch starts at its last event's revision
//! plus one (or at the compaction revision, when that is later).

use rand::Rng;
use serde_json::{json, Map, Value};

use crate::{FinalRead, Func, Generator, Op, Reply, Workload};

/// The prefix every key of the workload starts with, and the key of every
/// watch operation (watches follow every key under it).
pub const PREFIX: &str = "watch/";
/// How many keys the writers write.
pub const KEYS: u64 = 5;
/// The revision a watcher's first watch starts from: the whole history.
pub const FIRST_REVISION: u64 = 1;

/// The watch workload.
#[derive(Debug, Clone, Copy, Default)]
pub struct Watch;

impl Workload for Watch {
    fn name(&self) -> &'static str {
        "watch"
    }

    fn description(&self) -> &'static str {
        "writers put unique values to 5 keys under one prefix, watchers follow the prefix from where they left off; revisions back in time, gaps, watchers disagreeing, acknowledged writes missing (watch)"
    }

    fn checkers(&self) -> &'static [&'static str] {
        &["watch"]
    }

    fn next_op(&self, gen: &mut Generator) -> Op {
        if is_watcher(gen) {
            gen.count();
            let from = gen.cursor.max(FIRST_REVISION);
            Op::new(Func::Watch, PREFIX, json!(from))
        } else {
            let key = format!("{PREFIX}{}", gen.rng.gen_range(0..KEYS));
            let value = gen.unique();
            Op::new(Func::Write, key, json!(value))
        }
    }

    /// A watch answer that is not the documented form is `info`: the watch
    /// ran, but nobody can say what it saw.
    fn complete(&self, op: &Op, reply: Reply) -> Reply {
        match (op.f, reply) {
            (Func::Watch, Reply::Ok(value)) => match Watched::from_json(&value) {
                Ok(_) => Reply::Ok(value),
                Err(e) => Reply::Info(format!("the watch's answer {value}: {e}")),
            },
            (_, reply) => reply,
        }
    }

    /// A watcher continues after the last revision it saw.
    fn observe(&self, gen: &mut Generator, op: &Op, completion: &Reply) {
        if let (Func::Watch, Reply::Ok(value)) = (op.f, completion) {
            if let (Some(from), Ok(watched)) = (op.value.as_u64(), Watched::from_json(value)) {
                gen.cursor = watched.next_start(from);
            }
        }
    }

    fn write_revisions(&self) -> bool {
        true
    }

    /// None. A watch changes nothing, and each watcher's own operations are
    /// already its complete view up to the last revision it reached: the
    /// checker judges acknowledged writes up to there. A final watch from
    /// revision 1 would have to read the whole run in one bounded window.
    fn final_reads(&self, _keys: &[String], _nodes: usize) -> Vec<FinalRead> {
        Vec::new()
    }
}

/// Whether the client owning `gen` watches (odd slots) rather than writes.
pub fn is_watcher(gen: &Generator) -> bool {
    gen.slot() % 2 == 1
}

/// One change a watch saw: `[revision, key, value]` (a deletion carries
/// `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// The revision the system gave the change.
    pub revision: u64,
    /// The key that changed.
    pub key: String,
    /// Its new value.
    pub value: Value,
}

impl WatchEvent {
    /// Its JSON form, `[revision, key, value]`.
    pub fn to_json(&self) -> Value {
        json!([self.revision, self.key, self.value])
    }

    /// The event `[revision, key, value]` in `value`.
    pub fn from_json(value: &Value) -> Result<WatchEvent, BadWatch> {
        let bad = || BadWatch(format!("{value} is not an event [revision, key, value]"));
        let parts = value.as_array().filter(|p| p.len() == 3).ok_or_else(bad)?;
        Ok(WatchEvent {
            revision: parts[0].as_u64().ok_or_else(bad)?,
            key: parts[1].as_str().ok_or_else(bad)?.to_string(),
            value: parts[2].clone(),
        })
    }
}

/// What one watch saw: the `ok` value of a `watch` operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watched {
    /// The events, in the order the system sent them.
    pub events: Vec<WatchEvent>,
    /// The system's compaction revision, when it no longer had the
    /// revisions from the start (nothing below it can be judged).
    pub compacted: Option<u64>,
    /// Why the stream broke after some events, if it did.
    pub lost: Option<String>,
}

impl Watched {
    /// Its JSON form (docs/history.md, "Watches").
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert(
            "events".into(),
            Value::Array(self.events.iter().map(WatchEvent::to_json).collect()),
        );
        if let Some(c) = self.compacted {
            out.insert("compacted".into(), json!(c));
        }
        if let Some(why) = &self.lost {
            out.insert("lost".into(), json!(why));
        }
        Value::Object(out)
    }

    /// The watch result in `value`.
    pub fn from_json(value: &Value) -> Result<Watched, BadWatch> {
        let obj = value
            .as_object()
            .ok_or_else(|| BadWatch(format!("{value} is not an object with events")))?;
        let events = obj
            .get("events")
            .and_then(Value::as_array)
            .ok_or_else(|| BadWatch(format!("{value} has no array of events")))?
            .iter()
            .map(WatchEvent::from_json)
            .collect::<Result<_, _>>()?;
        let compacted = match obj.get("compacted") {
            None | Some(Value::Null) => None,
            Some(c) => Some(
                c.as_u64()
                    .ok_or_else(|| BadWatch(format!("compacted {c} is not a revision")))?,
            ),
        };
        let lost = obj.get("lost").and_then(Value::as_str).map(str::to_string);
        Ok(Watched {
            events,
            compacted,
            lost,
        })
    }

    /// Where the watcher's next watch starts after this one, which started
    /// at `from`: past its last event, or at the compaction revision when
    /// that is later.
    pub fn next_start(&self, from: u64) -> u64 {
        let after = self.events.last().map_or(from, |e| e.revision + 1);
        after.max(self.compacted.unwrap_or(0))
    }
}

/// A value that is not of the watch workload's forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a watch result: {0}")]
pub struct BadWatch(pub String);

/// A write's `ok` value as the watch workload records it: the value and,
/// when the system told it, the revision it got.
pub fn written(output: &Value) -> (Value, Option<u64>) {
    match output {
        Value::Object(o) if o.contains_key("value") && o.contains_key("revision") => {
            (o["value"].clone(), o["revision"].as_u64())
        }
        other => (other.clone(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_slots_watch_from_where_they_left_off_and_even_slots_write_unique_values() {
        let w = Watch;
        let mut writer = Generator::new(1, 0, 4);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let op = w.next_op(&mut writer);
            assert_eq!(op.f, Func::Write);
            assert!(op.key.as_deref().unwrap().starts_with(PREFIX), "{op:?}");
            assert!(seen.insert(op.value.as_u64().unwrap()));
        }
        let mut watcher = Generator::new(1, 1, 4);
        let first = w.next_op(&mut watcher);
        assert_eq!(
            (first.f, first.key.as_deref(), &first.value),
            (Func::Watch, Some(PREFIX), &json!(1))
        );
        let got = Reply::Ok(json!({"events": [[2, "watch/1", 0], [3, "watch/4", 2]]}));
        w.observe(&mut watcher, &first, &got);
        let second = w.next_op(&mut watcher);
        assert_eq!(second.value, json!(4));
        w.observe(&mut watcher, &second, &Reply::Ok(json!({"events": []})));
        assert_eq!(w.next_op(&mut watcher).value, json!(4), "nothing seen");
        let failed = Reply::Fail("connect: refused".into());
        w.observe(&mut watcher, &second, &failed);
        assert_eq!(
            w.next_op(&mut watcher).value,
            json!(4),
            "a failure moves nothing"
        );
        let compacted = Reply::Ok(json!({"events": [], "compacted": 40}));
        w.observe(&mut watcher, &second, &compacted);
        assert_eq!(w.next_op(&mut watcher).value, json!(40));
        assert!(w.final_reads(&[PREFIX.into()], 3).is_empty());
        assert!(w.write_revisions());
    }

    #[test]
    fn results_round_trip_and_answers_of_another_form_are_unknown() {
        let watched = Watched {
            events: vec![WatchEvent {
                revision: 5,
                key: "watch/0".into(),
                value: json!(8),
            }],
            compacted: Some(3),
            lost: Some("connection reset".into()),
        };
        let v = watched.to_json();
        assert_eq!(
            v,
            json!({"events": [[5, "watch/0", 8]], "compacted": 3, "lost": "connection reset"})
        );
        assert_eq!(Watched::from_json(&v).unwrap(), watched);
        let op = Op::new(Func::Watch, PREFIX, json!(1));
        for bad in [
            json!([]),
            json!({"events": [[1, "k"]]}),
            json!({"events": [["x", "k", 1]]}),
            json!({"events": [], "compacted": "x"}),
        ] {
            assert!(
                matches!(Watch.complete(&op, Reply::Ok(bad.clone())), Reply::Info(_)),
                "{bad}"
            );
        }
        let ok = Reply::Ok(json!({"events": []}));
        assert_eq!(Watch.complete(&op, ok.clone()), ok);
    }

    #[test]
    fn a_write_names_its_revision_when_the_system_told_it() {
        assert_eq!(
            written(&json!({"value": 7, "revision": 12})),
            (json!(7), Some(12))
        );
        assert_eq!(written(&json!(7)), (json!(7), None));
    }
}
