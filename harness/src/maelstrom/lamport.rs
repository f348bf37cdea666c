//! The Maelstrom section of `report.html`: messages per operation (all,
//! and between nodes only), messages by type, and a Lamport diagram of the
//! message journal drawn on a canvas (one vertical lane per client, node
//! and service, time downwards, an arrow per message from its send to its
//! delivery, dropped messages in red ending in a cross). The window is
//! chosen on the page (start and span, wheel to zoom, drag to pan); no
//! graphviz, no network. The page's section for the `messages` checker's
//! results.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use faultline_checker::history::Event;
use serde_json::{json, Value};

use super::checkers::net;
use super::journal::{self, JOURNAL_FILE};
use super::report::{is_node, Traffic};
use super::router::is_client;
use crate::record::CheckerResult;
use crate::report::{esc, Page, Section};

/// At most this many messages are embedded in the page (the first ones of
/// the test; the journal holds them all).
const MAX_MESSAGES: usize = 10_000;
/// Characters of a body kept for the diagram's tooltip.
const BODY_CHARS: usize = 160;

const SCRIPT: &str = include_str!("lamport.js");

/// The messages section of a Maelstrom run's page.
pub struct Messages;

/// The registered section.
pub const SECTION: Messages = Messages;

impl Section for Messages {
    fn kind(&self) -> &'static str {
        net::KIND
    }

    fn render(&self, result: &CheckerResult, page: &Page<'_>) -> String {
        match (page.dir, result.detail::<Traffic>()) {
            (Some(dir), Some(t)) => section(dir, page.events, &t).unwrap_or_default(),
            _ => String::new(),
        }
    }
}

/// The section, or None when the run has no journal.
fn section(dir: &Path, events: &[Event], t: &Traffic) -> Option<String> {
    let path = dir.join(JOURNAL_FILE);
    let entries = journal::read(&path).ok()?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<section id=\"maelstrom\"><h2>Messages</h2>\
         <table class=\"checkers\"><tr><th></th><th>messages</th><th>per operation</th></tr>\
         <tr><td>all (clients, nodes, services)</td><td>{}</td><td>{:.2}</td></tr>\
         <tr><td>between nodes</td><td>{}</td><td>{:.2}</td></tr></table>\
         <p class=\"hint\">{} client operations; setup messages (init, topology) left out. \
         Every message is in <a href=\"{JOURNAL_FILE}\">{JOURNAL_FILE}</a>.</p>",
        t.all, t.per_op_all, t.between_nodes, t.per_op_nodes, t.operations
    );
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let setup = super::router::SETUP_CLIENT;
    let test_messages = entries.iter().filter(|e| {
        e.ev == "send"
            && e.t >= 0
            && e.src.as_deref() != Some(setup)
            && e.dest.as_deref() != Some(setup)
    });
    for e in test_messages {
        let kind = e
            .body
            .as_ref()
            .and_then(|b| b.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        *by_type.entry(kind.to_string()).or_default() += 1;
    }
    h.push_str("<p class=\"hint\">By type: ");
    let types: Vec<String> = by_type
        .iter()
        .map(|(k, n)| format!("{} {n}", esc(k)))
        .collect();
    h.push_str(&types.join(" · "));
    h.push_str("</p>");
    let data = diagram_data(&entries, events);
    let _ = write!(
        h,
        "<h3>Lamport diagram</h3><p class=\"hint\">One lane per client, node and service; \
         time runs down; an arrow per message from send to delivery \
         (<span style=\"color:#2a6\">between nodes</span>, <span style=\"color:#36c\">client</span>, \
         <span style=\"color:#a6a\">service</span>, <span style=\"color:#d33\">dropped</span>). \
         Window from <input id=\"lamport-from\" type=\"number\" step=\"0.1\" size=\"7\"> s, \
         span <input id=\"lamport-span\" type=\"number\" step=\"0.05\" min=\"0.001\" size=\"6\"> s; \
         wheel to zoom, drag to pan, hover an arrow for its message. <span id=\"lamport-note\"></span></p>\
         <div class=\"scroll\"><canvas id=\"lamport\" style=\"width:100%;height:640px\"></canvas></div>\
         <pre id=\"lamport-tip\" class=\"cx-text\"></pre></section>\
         <script type=\"application/json\" id=\"lamport-data\">{}</script><script>{SCRIPT}</script>",
        data.to_string().replace('<', "\\u003c")
    );
    Some(h)
}

/// The lane order: clients, nodes, services, each in natural order.
fn lane_key(name: &str) -> (u8, u64, String) {
    let num = |s: &str| s[1..].parse::<u64>().unwrap_or(0);
    if is_client(name) {
        (0, num(name), String::new())
    } else if is_node(name) {
        (1, num(name), String::new())
    } else {
        (2, 0, name.to_string())
    }
}

/// A message sent: source, destination, time, type, body (cut short).
type Sent = (String, String, i64, String, String);

/// The journal's first [`MAX_MESSAGES`] sends, in order, and how each
/// ended (time, 0 delivered or 1 dropped).
struct Sends {
    order: Vec<u64>,
    sends: HashMap<u64, Sent>,
    ends: HashMap<u64, (i64, u8)>,
}

fn messages(entries: &[journal::Entry]) -> Sends {
    let mut order: Vec<u64> = Vec::new();
    let mut sends: HashMap<u64, Sent> = HashMap::new();
    let mut ends: HashMap<u64, (i64, u8)> = HashMap::new();
    for e in entries {
        match e.ev.as_str() {
            "send" if order.len() < MAX_MESSAGES => {
                let (Some(src), Some(dest)) = (&e.src, &e.dest) else {
                    continue;
                };
                let body = e.body.clone().unwrap_or(Value::Null);
                let kind = body
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string();
                order.push(e.id);
                sends.insert(
                    e.id,
                    (src.clone(), dest.clone(), e.t, kind, cut(body.to_string())),
                );
            }
            "deliver" => {
                ends.insert(e.id, (e.t, 0));
            }
            "drop" => {
                ends.insert(e.id, (e.t, 1));
            }
            _ => {}
        }
    }
    Sends { order, sends, ends }
}

/// `text` cut to [`BODY_CHARS`] (on a character boundary), marked when cut.
fn cut(mut text: String) -> String {
    if text.len() > BODY_CHARS {
        let at = (0..=BODY_CHARS)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(at);
        text.push('…');
    }
    text
}

/// The page's data: lanes, type names, and messages as
/// `[src, dest, sent_ms, end_ms, status, type, body]` (status 0 delivered,
/// 1 dropped, 2 never delivered).
fn diagram_data(entries: &[journal::Entry], events: &[Event]) -> Value {
    let Sends { order, sends, ends } = messages(entries);
    let mut lanes: Vec<String> = sends
        .values()
        .flat_map(|(s, d, ..)| [s.clone(), d.clone()])
        .collect();
    lanes.sort_by_key(|l| lane_key(l));
    lanes.dedup();
    let lane: HashMap<&str, usize> = lanes
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut types: Vec<String> = Vec::new();
    let mut type_index: HashMap<String, usize> = HashMap::new();
    let ms = |t: i64| (t as f64 / 1e6 * 1000.0).round() / 1000.0;
    let mut messages = Vec::with_capacity(order.len());
    for id in &order {
        let (src, dest, t, kind, text) = &sends[id];
        let (end, status) = ends.get(id).copied().unwrap_or((*t, 2));
        let ti = *type_index.entry(kind.clone()).or_insert_with(|| {
            types.push(kind.clone());
            types.len() - 1
        });
        messages.push(json!([
            lane[src.as_str()],
            lane[dest.as_str()],
            ms(*t),
            ms(end),
            status,
            ti,
            text
        ]));
    }
    let end_ms = events.iter().map(|e| e.time).max().unwrap_or(0) as f64 / 1e6;
    let faults: Vec<Value> = events
        .iter()
        .filter(|e| e.f.starts_with("start-") || e.f.starts_with("stop-"))
        .map(|e| json!([e.time as f64 / 1e6, e.f]))
        .collect();
    json!({
        "lanes": lanes,
        "types": types,
        "messages": messages,
        "truncated": order.len() >= MAX_MESSAGES,
        "end_ms": end_ms,
        "faults": faults,
    })
}
