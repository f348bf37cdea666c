//! Fault intervals from the nemesis events of a history, read back as
//! typed [`FaultEvent`]s: `kill`/`crash` … `restart` and `pause` … `resume`
//! (matched per node), `start-partition` … `stop-partition` and
//! `start-drop` … `stop-drop`. A fault still active at the end of the
//! history ends there; any other nemesis event (scenario steps, other
//! tools' nemeses) is an instant.

use faultline_checker::history::{Event, Process};
use serde_json::Value;

use crate::nemesis::FaultEvent;

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

struct Open {
    start: u64,
    kind: &'static str,
    label: String,
    nodes: Vec<String>,
}

/// The fault intervals of `events`, by start time; `end` closes what is open.
pub fn bands(events: &[Event], end: u64) -> Vec<Band> {
    let mut open: Vec<Open> = Vec::new();
    let mut done: Vec<Band> = Vec::new();
    for ev in events.iter().filter(|e| e.process == Process::Nemesis) {
        let Some(fault) = FaultEvent::from_parts(&ev.f, &ev.value) else {
            done.push(instant(ev.time, &ev.f, other_label(&ev.f, &ev.value)));
            continue;
        };
        let (opens, closes): (Option<&'static str>, &[&str]) = match &fault {
            FaultEvent::Kill(_) => (Some("kill"), &[]),
            FaultEvent::Crash(_) => (Some("crash"), &[]),
            FaultEvent::Pause(_) => (Some("pause"), &[]),
            FaultEvent::StartPartition(_) => (Some("partition"), &[]),
            FaultEvent::StartDrop { .. } => (Some("drop"), &[]),
            FaultEvent::PowerLoss(_) => (Some("power-loss"), &[]),
            FaultEvent::Corrupt(_) => (Some("corrupt"), &[]),
            FaultEvent::Restart(_) => (None, &["kill", "crash", "power-loss", "corrupt"]),
            FaultEvent::Resume(_) => (None, &["pause"]),
            FaultEvent::StopPartition(_) => (None, &["partition"]),
            FaultEvent::StopDrop => (None, &["drop"]),
            _ => (None, &[]),
        };
        let nodes = fault.nodes().to_vec();
        if let Some(kind) = opens {
            open.push(Open {
                start: ev.time,
                kind,
                label: label(&ev.f, &fault),
                nodes,
            });
        } else if !closes.is_empty() {
            let per_node = !nodes.is_empty();
            let mut i = 0;
            while i < open.len() {
                let o = &open[i];
                let hit = closes.contains(&o.kind)
                    && (!per_node || o.nodes.iter().any(|n| nodes.contains(n)));
                if hit {
                    let o = open.remove(i);
                    done.push(close(o, ev.time));
                    if !per_node {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            done.push(instant(ev.time, &ev.f, label(&ev.f, &fault)));
        }
    }
    for o in open {
        done.push(close(o, end));
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

fn close(o: Open, at: u64) -> Band {
    Band {
        start: o.start,
        end: at.max(o.start),
        kind: o.kind.to_string(),
        label: o.label,
    }
}

/// What a person reads for a fault event recorded under the name `f`.
fn label(f: &str, fault: &FaultEvent) -> String {
    match fault {
        FaultEvent::StartPartition(sides) | FaultEvent::StopPartition(sides) => {
            let parts: Vec<String> = sides
                .groups
                .iter()
                .map(|g| format!("{{{}}}", g.join(" ")))
                .collect();
            format!("partition {}", parts.join(" | "))
        }
        FaultEvent::StartDrop { percent, .. } => format!("drop {percent}%"),
        FaultEvent::Arm { failpoint, nodes } => format!("arm {failpoint} on {}", nodes.join(" ")),
        FaultEvent::FailpointRefused {
            node, failpoint, ..
        } => format!("{node} refused failpoint {failpoint}"),
        FaultEvent::Wait(w) => {
            let until = w
                .until
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| w.until.to_string());
            let outcome = if w.met { "met after" } else { "gave up after" };
            format!("wait {until}: {outcome} {:.2} s", w.seconds)
        }
        FaultEvent::StopDrop => f.to_string(),
        FaultEvent::PowerLoss(p) => format!(
            "power-loss {}: {} bytes of un-fsynced data lost in {} files{}",
            p.nodes.join(" "),
            p.lost_bytes(),
            p.files.len(),
            if p.tear { " (last writes torn)" } else { "" }
        ),
        FaultEvent::Corrupt(d) => {
            let what = match (&d.file, d.truncated) {
                (None, _) => "no data file to damage".to_string(),
                (Some(file), Some([from, to])) => format!("{file} truncated {from} -> {to} bytes"),
                (Some(file), None) => {
                    let flips: Vec<String> = d
                        .flips
                        .iter()
                        .map(|x| format!("bit {} of byte {}", x.bit, x.offset))
                        .collect();
                    format!("{file}: {}", flips.join(", "))
                }
            };
            format!("corrupt {}: {what}", d.node)
        }
        FaultEvent::CorruptExit { node, status, .. } => {
            format!("{node} (damaged) exited: {status}")
        }
        other => format!("{f} {}", other.nodes().join(" ")),
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
