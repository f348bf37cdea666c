//! Fault intervals from the nemesis events of a history. Each event is
//! read by the fault kind that recorded it (or as one of the shared
//! events: restart, resume, crash, ...; see `nemesis::event::Reading`):
//! an event opens a band until an event it names closes it (`kill` …
//! `restart`, matched per node; `start-partition` … `stop-partition`),
//! or is an instant. A fault still active at the end of the history ends
//! there; a nemesis event no kind knows (other tools' nemeses) is an
//! instant.

use faultline_checker::history::{Event, Process};
use serde_json::Value;

use crate::nemesis::event::{Opening, Reading};
use crate::nemesis::faults::read_event;

/// One fault interval, labelled for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Start, ns since the test start.
    pub start: u64,
    /// End, ns (equal to `start` for an instant).
    pub end: u64,
    /// The fault: kill, crash, pause, partition, drop, or the event's own name.
    pub kind: String,
    /// What a person reads: `kill n3`, `partition {n1 n2} | {n3}`, `drop 20%`.
    pub label: String,
}

/// The fault intervals of `events`, by start time; `end` closes what is open.
pub fn bands(events: &[Event], end: u64) -> Vec<Band> {
    let mut open: Vec<(u64, Opening)> = Vec::new();
    let mut done: Vec<Band> = Vec::new();
    for ev in events.iter().filter(|e| e.process == Process::Nemesis) {
        match read_event(&ev.f, &ev.value) {
            Some(Reading::Opens(o)) => open.push((ev.time, o)),
            Some(Reading::Closes { nodes }) => {
                let per_node = !nodes.is_empty();
                let mut i = 0;
                while i < open.len() {
                    let o = &open[i].1;
                    let hit = o.until.contains(&ev.f.as_str())
                        && (!per_node || o.nodes.iter().any(|n| nodes.contains(n)));
                    if hit {
                        let (start, o) = open.remove(i);
                        done.push(close(start, o, ev.time));
                        if !per_node {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            Some(Reading::Instant(label)) => done.push(instant(ev.time, &ev.f, label)),
            None => done.push(instant(ev.time, &ev.f, other_label(&ev.f, &ev.value))),
        }
    }
    for (start, o) in open {
        done.push(close(start, o, end));
    }
    done.sort_by_key(|b| (b.start, b.end));
    done
}

fn instant(at: u64, kind: &str, label: String) -> Band {
    Band {
        start: at,
        end: at,
        kind: kind.to_string(),
        label,
    }
}

fn close(start: u64, o: Opening, at: u64) -> Band {
    Band {
        start,
        end: at.max(start),
        kind: o.kind.to_string(),
        label: o.label,
    }
}

/// The label of a nemesis event this version does not know.
fn other_label(f: &str, v: &Value) -> String {
    match v {
        Value::Null => f.to_string(),
        Value::String(s) => format!("{f} {s}"),
        other => format!("{f} {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::history::EventType;
    use serde_json::json;

    fn nem(time: u64, f: &str, value: Value) -> Event {
        Event {
            index: time,
            time,
            process: Process::Nemesis,
            kind: EventType::Info,
            f: f.into(),
            key: None,
            value,
            error: None,
        }
    }

    #[test]
    fn starts_and_stops_pair_into_labelled_bands() {
        let events = vec![
            nem(10, "kill", json!(["n3"])),
            nem(
                20,
                "start-partition",
                json!({"shape": "halves", "groups": [["n1", "n2"], ["n3", "n4", "n5"]]}),
            ),
            nem(30, "restart", json!(["n3"])),
            nem(40, "stop-partition", json!({"groups": []})),
            nem(50, "pause", json!(["n1", "n2"])),
            nem(55, "start-drop", json!({"percent": 20, "between": ["n1"]})),
            nem(60, "resume", json!(["n2"])),
        ];
        let b = bands(&events, 100);
        let got: Vec<(u64, u64, &str)> = b
            .iter()
            .map(|b| (b.start, b.end, b.label.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (10, 30, "kill n3"),
                (20, 40, "partition {n1 n2} | {n3 n4 n5}"),
                (50, 60, "pause n1 n2"),
                (55, 100, "drop 20%"),
            ]
        );
    }

    #[test]
    fn scenario_steps_read_as_steps() {
        let events = vec![
            nem(
                5,
                "arm",
                json!({"failpoint": "crash-after-vote", "nodes": ["n1", "n2"]}),
            ),
            nem(10, "crash", json!(["n2"])),
            nem(
                12,
                "wait",
                json!({"until": "crashed", "met": true, "seconds": 0.16, "step": 4}),
            ),
            nem(
                14,
                "wait",
                json!({"until": {"acked": 100}, "met": false, "seconds": 3.0, "step": 5}),
            ),
            nem(30, "restart", json!(["n2"])),
        ];
        let got: Vec<(u64, u64, String)> = bands(&events, 100)
            .into_iter()
            .map(|b| (b.start, b.end, b.label))
            .collect();
        assert_eq!(
            got,
            vec![
                (5, 5, "arm crash-after-vote on n1 n2".to_string()),
                (10, 30, "crash n2".to_string()),
                (12, 12, "wait crashed: met after 0.16 s".to_string()),
                (
                    14,
                    14,
                    "wait {\"acked\":100}: gave up after 3.00 s".to_string()
                ),
            ]
        );
    }
}
