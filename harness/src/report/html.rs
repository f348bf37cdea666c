//! The page itself: header, timeline, plots, the sections that draw the
//! checkers' details, the checkers, files. Script and style are inline;
//! nothing refers to the network.

use std::fmt::Write as _;
use std::path::Path;

use faultline_checker::history::Event;
use faultline_checker::Verdict;

use super::{esc, timeline, Section};
use crate::record::{ResultsRecord, INTERRUPTED_NOTE};

const SCRIPT: &str = include_str!("report.js");
const STYLE: &str = include_str!("report.css");

/// What one page shows.
#[derive(Clone)]
pub struct Page<'a> {
    /// The title: `register · partition · seed 1`.
    pub title: String,
    /// Header facts, in order: (name, value).
    pub facts: Vec<(String, String)>,
    /// The command line that reproduces the run, when there is one.
    pub command: Option<String>,
    /// The checkers' results: the verdict badge, the summary and the checkers' table.
    pub results: &'a ResultsRecord,
    /// The history, drawn as the timeline and plots.
    pub events: &'a [Event],
    /// Links to the run's files: (label, relative path).
    pub links: Vec<(String, String)>,
    /// The run folder, for sections that draw files of the run (None for
    /// a history checked alone).
    pub dir: Option<&'a Path>,
    /// The sections that may draw the checkers' details, each drawing the
    /// results of its kind.
    pub sections: &'a [&'a dyn Section],
}

/// The page as HTML text.
pub fn render(page: &Page<'_>) -> String {
    let r = page.results;
    let data = timeline::encode(page.events, r.detected_at());
    let mut h = String::with_capacity(data.len() + 64 * 1024);
    let verdict = r.verdict;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} {} — faultline</title><style>{STYLE}</style></head>\
         <body data-rendered=\"pending\" data-verdict=\"{verdict}\">",
        verdict.to_string().to_uppercase(),
        esc(&page.title)
    );
    header(&mut h, page);
    let _ = write!(
        h,
        "<section><h2>Timeline</h2>\
         <p class=\"hint\">One lane per client process; bars from invocation to completion \
         (<span class=\"sw ok\"></span>ok <span class=\"sw fail\"></span>fail \
         <span class=\"sw info\"></span>info/unknown); shaded bands are faults. \
         Wheel or +/− to zoom, drag to pan, double-click to reset.\
         <button id=\"zoom-in\" type=\"button\">+</button>\
         <button id=\"zoom-out\" type=\"button\">−</button>\
         <button id=\"zoom-reset\" type=\"button\">reset</button> <span id=\"range\"></span></p>\
         <div class=\"scroll\"><canvas id=\"timeline\"></canvas></div>\
         <div id=\"tip\" hidden></div></section>\
         <section><h2>Latency</h2><p class=\"hint\">Every completed operation by outcome \
         (log scale), with the 50th, 95th and 99th percentiles.</p>\
         <canvas id=\"latency\"></canvas></section>\
         <section><h2>Throughput</h2><p class=\"hint\">Completions per second by outcome.</p>\
         <canvas id=\"throughput\"></canvas></section>"
    );
    for result in &r.checkers {
        for section in page.sections.iter().filter(|s| s.kind() == result.kind) {
            h.push_str(&section.render(result, page));
        }
    }
    checkers(&mut h, r);
    if !page.links.is_empty() {
        h.push_str("<section><h2>Files</h2><ul class=\"files\">");
        for (label, href) in &page.links {
            let _ = write!(h, "<li><a href=\"{}\">{}</a></li>", esc(href), esc(label));
        }
        h.push_str("</ul></section>");
    }
    // '<' only occurs inside JSON strings, where \u003c means the same.
    let data = data.replace('<', "\\u003c");
    let _ = writeln!(
        h,
        "<footer id=\"status\">rendering…</footer>\
         <script type=\"application/json\" id=\"data\">{data}</script>\
         <script>{SCRIPT}</script></body></html>"
    );
    h
}

fn verdict_badge(v: Verdict) -> String {
    format!(
        "<span class=\"verdict {v}\">{}</span>",
        v.to_string().to_uppercase()
    )
}

fn header(h: &mut String, page: &Page<'_>) {
    let r = page.results;
    let _ = write!(
        h,
        "<header><h1>{} <span class=\"title\">{}</span></h1>",
        verdict_badge(r.verdict),
        esc(&page.title)
    );
    if r.interrupted {
        let _ = write!(
            h,
            "<p class=\"interrupted\" id=\"interrupted\"><strong>INTERRUPTED</strong> {}</p>",
            esc(INTERRUPTED_NOTE.trim_start_matches("interrupted: "))
        );
    }
    if let Some(first) = r.checkers.first() {
        let _ = write!(
            h,
            "<p class=\"summary\">{}: {}</p>",
            esc(&first.name),
            esc(first.first_line())
        );
    }
    h.push_str("<table class=\"facts\">");
    for (k, v) in &page.facts {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    h.push_str("</table>");
    if let Some(cmd) = &page.command {
        let _ = write!(
            h,
            "<p class=\"hint\">Reproduce (same seed, same schedule):</p><pre class=\"cmd\">{}</pre>",
            esc(cmd)
        );
    }
    h.push_str("</header>");
}

fn checkers(h: &mut String, r: &ResultsRecord) {
    h.push_str(
        "<section><h2>Checkers</h2><table class=\"checkers\">\
         <tr><th>checker</th><th>verdict</th><th>details</th></tr>",
    );
    for c in &r.checkers {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            esc(&c.name),
            verdict_badge(c.verdict),
            esc(&c.text)
        );
    }
    h.push_str("</table></section>");
}
