//! Fault intervals from the nemesis events of a history: `kill` … `restart`,
//! `pause` … `resume` (matched per node), `start-X` … `stop-X` (matched per
//! fault name). A fault still active at the end of the history ends there;
//! any other nemesis event is an instant.

use faultline_checker::history::{Event, Process};
use serde_json::Value;

/// One fault interval, labelled for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Band {
    /// Start, ns since the test started.
    pub start: u64,
    /// End, ns (equal to `start` for an instant).
    pub end: u64,
    /// The fault: kill, pause, partition, drop, or the event's own name.
    pub kind: String,
    /// What a person reads: `kill n3`, `partition {n1 n2} | {n3}`, `drop 20%`.
    pub label: String,
}

struct Open {
    start: u64,
    kind: String,
    label: String,
    nodes: Vec<String>,
}

/// The fault intervals of `events`, by start time; `end` closes what is open.
pub fn bands(events: &[Event], end: u64) -> Vec<Band> {
    let mut open: Vec<Open> = Vec::new();
    let mut done: Vec<Band> = Vec::new();
    for ev in events.iter().filter(|e| e.process == Process::Nemesis) {
        let f = ev.f.as_str();
        let closes: &[&str] = match f {
            "restart" => &["kill", "crash"],
            "resume" => &["pause"],
            _ => &[],
        };
        if !closes.is_empty() {
            let nodes = names(&ev.value);
            let mut i = 0;
            while i < open.len() {
                let o = &open[i];
                if closes.contains(&o.kind.as_str()) && o.nodes.iter().any(|n| nodes.contains(n)) {
                    let o = open.remove(i);
                    done.push(close(o, ev.time));
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if let Some(kind) = f.strip_prefix("stop-") {
            if let Some(i) = open.iter().position(|o| o.kind == kind) {
                let o = open.remove(i);
                done.push(close(o, ev.time));
            }
            continue;
        }
        if f == "kill" || f == "pause" || f == "crash" {
            let nodes = names(&ev.value);
            open.push(Open {
                start: ev.time,
                kind: f.to_string(),
                label: format!("{f} {}", nodes.join(" ")),
                nodes,
            });
            continue;
        }
        if let Some(kind) = f.strip_prefix("start-") {
            open.push(Open {
                start: ev.time,
                kind: kind.to_string(),
                label: label(kind, &ev.value),
                nodes: Vec::new(),
            });
            continue;
        }
        done.push(Band {
            start: ev.time,
            end: ev.time,
            kind: f.to_string(),
            label: label(f, &ev.value),
        });
    }
    for o in open {
        done.push(close(o, end));
    }
    done.sort_by_key(|b| (b.start, b.end));
    done
}

fn close(o: Open, at: u64) -> Band {
    Band {
        start: o.start,
        end: at.max(o.start),
        kind: o.kind,
        label: o.label,
    }
}

fn names(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|n| {
                n.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| n.to_string())
            })
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn label(kind: &str, v: &Value) -> String {
    if let Some(groups) = v.get("groups").and_then(Value::as_array) {
        let parts: Vec<String> = groups
            .iter()
            .map(|g| format!("{{{}}}", names(g).join(" ")))
            .collect();
        return format!("{kind} {}", parts.join(" | "));
    }
    if let Some(p) = v.get("percent") {
        return format!("{kind} {p}%");
    }
    if let (Some(fp), Some(nodes)) = (v.get("failpoint").and_then(Value::as_str), v.get("nodes")) {
        return format!("{kind} {fp} on {}", names(nodes).join(" "));
    }
    if let (Some(until), Some(met)) = (v.get("until"), v.get("met").and_then(Value::as_bool)) {
        let until = until
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| until.to_string());
        let secs = v.get("seconds").and_then(Value::as_f64).unwrap_or(0.0);
        let outcome = if met { "met after" } else { "gave up after" };
        return format!("{kind} {until}: {outcome} {secs:.2} s");
    }
    match v {
        Value::Null => kind.to_string(),
        Value::Array(_) | Value::String(_) => format!("{kind} {}", names(v).join(" ")),
        other => format!("{kind} {other}"),
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
