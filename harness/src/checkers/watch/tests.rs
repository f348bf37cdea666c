//! Planted watch histories: one valid, and one for each kind of anomaly.

use super::*;
use crate::checkers::{check_all, RunEvidence};
use crate::record::CheckerResult;
use faultline_checker::history::{Event, EventType, Process};
use faultline_checker::CheckOptions;
use serde_json::json;

/// A history of whole operations, each invoked and completed in turn.
#[derive(Default)]
struct History {
    events: Vec<Event>,
}

impl History {
    fn op(
        &mut self,
        process: u64,
        f: &str,
        key: &str,
        input: Value,
        done: EventType,
        output: Value,
    ) {
        for (kind, value) in [(EventType::Invoke, input), (done, output)] {
            let index = self.events.len() as u64;
            self.events.push(Event {
                index,
                time: index * 1000,
                process: Process::Client(process),
                kind,
                f: f.into(),
                key: Some(key.into()),
                value,
                error: None,
            });
        }
    }

    /// An acknowledged write of `value` to `key` at `revision`.
    fn write(&mut self, process: u64, key: &str, value: u64, revision: u64) -> &mut Self {
        let output = json!({"value": value, "revision": revision});
        self.op(process, "write", key, json!(value), EventType::Ok, output);
        self
    }

    /// A watch from `from` that saw `events`.
    fn watch(&mut self, process: u64, from: u64, events: Value) -> &mut Self {
        let output = json!({ "events": events });
        self.op(
            process,
            "watch",
            "watch/",
            json!(from),
            EventType::Ok,
            output,
        );
        self
    }

    fn check(&self) -> CheckerResult {
        let results = check_all(
            &[&WATCH],
            &self.events,
            &CheckOptions::default(),
            &RunEvidence::default(),
        );
        results.into_iter().next().unwrap()
    }
}

/// Three writes at revisions 2, 3 and 4.
fn written() -> History {
    let mut h = History::default();
    h.write(0, "watch/0", 10, 2)
        .write(0, "watch/1", 11, 3)
        .write(2, "watch/0", 12, 4);
    h
}

/// Asserts `h` is invalid, first with `kind`, located at `index`.
fn invalid(h: &History, kind: AnomalyKind, index: u64) -> WatchReport {
    let r = h.check();
    assert_eq!(r.verdict, Verdict::Invalid, "{}", r.text);
    let report: WatchReport = r.detail().unwrap();
    let first = &report.anomalies[0];
    assert_eq!(first.kind, kind, "{}", r.text);
    assert_eq!(r.anomaly.as_ref().unwrap().index, Some(index), "{}", r.text);
    assert!(r.text.contains(kind.name()), "{}", r.text);
    assert_eq!(report.detected_at_index, Some(index));
    report
}

#[test]
fn watchers_that_agree_with_each_other_and_the_writes_are_valid() {
    let mut h = written();
    h.watch(1, 1, json!([[2, "watch/0", 10], [3, "watch/1", 11]]))
        .watch(1, 4, json!([[4, "watch/0", 12]]))
        .watch(3, 1, json!([[2, "watch/0", 10]]))
        .watch(3, 3, json!([]))
        .watch(3, 3, json!([[3, "watch/1", 11], [4, "watch/0", 12]]));
    let r = h.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.text);
    assert!(r.anomaly.is_none());
    let report: WatchReport = r.detail().unwrap();
    assert_eq!(
        (report.watchers, report.events, report.writes_with_revision),
        (2, 6, 3)
    );
    assert_eq!(report.last_revision, Some(4));
    assert!(
        r.text.starts_with("valid: 2 watchers saw 6 events"),
        "{}",
        r.text
    );
}

#[test]
fn a_revision_seen_again_after_a_later_one_went_back() {
    let mut h = written();
    h.watch(
        1,
        1,
        json!([[2, "watch/0", 10], [3, "watch/1", 11], [4, "watch/0", 12]]),
    )
    .watch(1, 5, json!([[3, "watch/1", 11]]));
    let report = invalid(&h, AnomalyKind::WentBack, 9);
    let first = &report.anomalies[0];
    assert_eq!(
        (first.process, first.revision, first.previous),
        (Some(1), 3, Some(4))
    );
    assert_eq!(first.other_index, Some(7));
    assert!(first.text.contains("after revision 4"), "{}", first.text);
}

#[test]
fn a_revision_another_watcher_saw_skipped_in_between_is_a_gap() {
    let mut h = History::default();
    h.op(0, "write", "watch/0", json!(10), EventType::Ok, json!(10));
    h.op(0, "write", "watch/1", json!(11), EventType::Ok, json!(11));
    h.op(0, "write", "watch/0", json!(12), EventType::Ok, json!(12));
    h.watch(
        1,
        1,
        json!([[2, "watch/0", 10], [3, "watch/1", 11], [4, "watch/0", 12]]),
    )
    .watch(3, 1, json!([[2, "watch/0", 10], [4, "watch/0", 12]]));
    let report = invalid(&h, AnomalyKind::Gap, 9);
    let first = &report.anomalies[0];
    assert_eq!((first.process, first.revision), (Some(3), 3));
    assert_eq!(first.expected, Some(json!([3, "watch/1", 11])));
    assert_eq!(
        report.counts.len(),
        1,
        "no revisions known: {:?}",
        report.counts
    );
}

#[test]
fn two_watchers_with_different_events_at_one_revision_disagree() {
    let mut h = written();
    h.write(2, "watch/3", 13, 5)
        .watch(1, 1, json!([[2, "watch/0", 10], [3, "watch/1", 11]]))
        .watch(3, 1, json!([[2, "watch/0", 10], [3, "watch/3", 13]]));
    let report = invalid(&h, AnomalyKind::Disagree, 11);
    let first = &report.anomalies[0];
    assert_eq!(first.seen, Some(json!([3, "watch/3", 13])));
    assert_eq!(first.expected, Some(json!([3, "watch/1", 11])));
    assert_eq!(report.counts["missing-write"], 1, "and not the write's");
}

#[test]
fn an_acknowledged_write_missing_at_its_revision_is_named() {
    let mut h = written();
    h.watch(1, 1, json!([[2, "watch/0", 10], [4, "watch/0", 12]]));
    let report = invalid(&h, AnomalyKind::MissingWrite, 7);
    let first = &report.anomalies[0];
    assert_eq!(
        (first.process, first.revision, first.seen.clone()),
        (Some(1), 3, None)
    );
    assert_eq!(first.expected, Some(json!([3, "watch/1", 11])));
    assert_eq!(first.other_index, Some(3));
}

#[test]
fn a_value_nobody_wrote_is_reported_and_writes_past_a_watch_are_not_judged() {
    let mut h = written();
    h.op(2, "write", "watch/2", json!(99), EventType::Fail, json!(99));
    h.watch(
        1,
        1,
        json!([
            [2, "watch/0", 10],
            [3, "watch/1", 11],
            [4, "watch/0", 12],
            [5, "watch/2", 99]
        ]),
    );
    let report = invalid(&h, AnomalyKind::Unwritten, 9);
    assert_eq!(report.counts["unwritten"], 1);

    let mut h = written();
    h.watch(1, 1, json!([[2, "watch/0", 10]]));
    assert_eq!(
        h.check().verdict,
        Verdict::Valid,
        "revisions 3 and 4 are past it"
    );
}

#[test]
fn a_compacted_start_is_not_judged_below_the_compaction() {
    let mut h = written();
    h.op(
        1,
        "watch",
        "watch/",
        json!(1),
        EventType::Ok,
        json!({"events": [], "compacted": 4}),
    );
    h.watch(1, 4, json!([[4, "watch/0", 12]]));
    let r = h.check();
    assert_eq!(r.verdict, Verdict::Valid, "{}", r.text);
    let report: WatchReport = r.detail().unwrap();
    assert_eq!(report.compacted, 1);
}

#[test]
fn no_watch_event_at_all_is_unknown_and_a_malformed_watch_cannot_be_judged() {
    let mut h = written();
    h.watch(1, 1, json!([]));
    h.op(3, "watch", "watch/", json!(1), EventType::Fail, json!(1));
    let r = h.check();
    assert_eq!(r.verdict, Verdict::Unknown, "{}", r.text);
    assert!(
        r.text
            .starts_with("unknown: no watch events in the history (2 watch operations, 1 ok)"),
        "{}",
        r.text
    );

    let mut h = History::default();
    h.op(
        1,
        "watch",
        "watch/",
        json!(1),
        EventType::Ok,
        json!([[2, "k", 1]]),
    );
    let r = h.check();
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.text.contains("not an object with events"), "{}", r.text);
}
