//! The lost elements of a set run, each with when its add was invoked and
//! acknowledged and by which process: what a reader needs to find the loss
//! among the faults of the timeline. The page's section for set-full results.

use std::fmt::Write as _;

use faultline_checker::history::{Event, EventType, Process};
use faultline_checker::set_full::SetReport;
use serde_json::Value;

use super::{esc, Page, Section};
use crate::checkers::set_full::{self, SetFull};
use crate::record::CheckerResult;

/// The lost elements of a set-full result.
pub struct LostElements;

/// The registered section.
pub const SECTION: LostElements = LostElements;

impl Section for LostElements {
    fn kind(&self) -> &'static str {
        set_full::KIND
    }

    fn render(&self, result: &CheckerResult, page: &Page<'_>) -> String {
        match result.detail::<SetFull>() {
            Some(detail) => section(&lost_adds(&detail.set, page.events)),
            None => String::new(),
        }
    }
}

/// One lost element and its acknowledged add.
#[derive(Debug, Clone, PartialEq)]
pub struct LostAdd {
    /// The set's key (None for a run's single set).
    pub key: Option<String>,
    /// The element, as the history wrote it.
    pub element: Value,
    /// The process that added it.
    pub process: Option<u64>,
    /// When the add was invoked, ns since the test start.
    pub invoked: Option<u64>,
    /// When it was acknowledged, ns since the test start.
    pub acknowledged: Option<u64>,
}

/// The lost elements the checker names (at most 32 per key), with their
/// adds found in `events`.
pub fn lost_adds(sets: &[SetReport], events: &[Event]) -> Vec<LostAdd> {
    let mut out = Vec::new();
    for report in sets {
        for element in &report.lost {
            let adds = events.iter().filter(|e| {
                e.f == "add" && &e.value == element && e.key.as_deref() == report.key.as_deref()
            });
            let mut add = LostAdd {
                key: report.key.clone(),
                element: element.clone(),
                process: None,
                invoked: None,
                acknowledged: None,
            };
            for e in adds {
                match e.kind {
                    EventType::Invoke => add.invoked = Some(e.time),
                    EventType::Ok => add.acknowledged = Some(e.time),
                    _ => {}
                }
                if let Process::Client(p) = e.process {
                    add.process = Some(p);
                }
            }
            out.push(add);
        }
    }
    out
}

/// The section of the page, or nothing when no element was lost.
pub fn section(adds: &[LostAdd]) -> String {
    if adds.is_empty() {
        return String::new();
    }
    let mut h = String::from(
        "<section id=\"lost\"><h2>Lost elements</h2><p class=\"hint\">Acknowledged adds \
         that later reads, the final ones included, no longer returned (the first ones the \
         checker names), with when each was invoked and acknowledged: find them on the \
         timeline among the faults.</p><table class=\"checkers\"><tr><th>key</th>\
         <th>element</th><th>process</th><th>invoked (s)</th><th>acknowledged (s)</th></tr>",
    );
    let secs = |t: Option<u64>| t.map_or("?".to_string(), |t| format!("{:.3}", t as f64 / 1e9));
    for a in adds {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(a.key.as_deref().unwrap_or("")),
            esc(&a.element.to_string()),
            a.process.map_or("?".to_string(), |p| format!("p{p}")),
            secs(a.invoked),
            secs(a.acknowledged)
        );
    }
    h.push_str("</table></section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(time: u64, process: u64, kind: EventType, value: Value) -> Event {
        Event {
            index: time,
            time,
            process: Process::Client(process),
            kind,
            f: "add".into(),
            key: Some("set".into()),
            value,
            error: None,
        }
    }

    #[test]
    fn each_lost_element_gets_its_add_times_and_process() {
        let events = [
            ev(1_000_000, 3, EventType::Invoke, json!(7)),
            ev(2_500_000, 3, EventType::Ok, json!(7)),
            ev(3_000_000, 4, EventType::Invoke, json!(8)),
        ];
        let report: SetReport =
            serde_json::from_value(json!({"key": "set", "lost": [7], "lost_count": 1})).unwrap();
        let adds = lost_adds(&[report], &events);
        assert_eq!(
            adds,
            [LostAdd {
                key: Some("set".into()),
                element: json!(7),
                process: Some(3),
                invoked: Some(1_000_000),
                acknowledged: Some(2_500_000),
            }]
        );
        let html = section(&adds);
        assert!(
            html.contains("<td>7</td><td>p3</td><td>0.001</td><td>0.003</td>"),
            "{html}"
        );
        assert_eq!(section(&[]), "");
    }
}
