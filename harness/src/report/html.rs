//! The page itself: header, timeline, plots, counterexample, checkers,
//! files. Script and style are inline; nothing refers to the network.

use std::fmt::Write as _;

use faultline_checker::history::Event;
use faultline_checker::Verdict;

use super::{counterexample, esc, lost, timeline};
use crate::record::{ResultsRecord, INTERRUPTED_NOTE};

const SCRIPT: &str = include_str!("report.js");
const STYLE: &str = include_str!("report.css");

/// What one page shows.
#[derive(Debug, Clone)]
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
}

/// The page as HTML text.
pub fn render(page: &Page<'_>) -> String {
    let r = page.results;
    let detected = r.workload.result.as_ref().and_then(|c| c.detected_at_time);
    let data = timeline::encode(page.events, detected);
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
    if let Some(c) = r
        .workload
        .result
        .as_ref()
        .and_then(|c| c.counterexample.as_ref())
    {
        let _ = write!(
            h,
            "<section id=\"counterexample\"><h2>Counterexample</h2>\
             <p class=\"hint\">The operations around the failure, a row each, grouped by \
             process, in history order: the end of the longest linearizable order found is \
             numbered #1, #2, … and reaches the state shown; the operation outlined in red \
             cannot be placed after it.</p>{}\
             <pre class=\"cx-text\">{}</pre></section>",
            counterexample::svg(c),
            esc(&c.render_lines().join("\n"))
        );
    }
    if let Some(c) = r.workload.result.as_ref() {
        h.push_str(&lost::section(&lost::lost_adds(&c.set, page.events)));
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
    let first = r.workload_text();
    let first = first.lines().next().unwrap_or_default();
    let _ = write!(
        h,
        "<p class=\"summary\">{}: {}</p><table class=\"facts\">",
        esc(&r.workload_checker_name()),
        esc(first)
    );
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
    let mut row = |name: &str, v: Verdict, text: &str| {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            esc(name),
            verdict_badge(v),
            esc(text)
        );
    };
    row(
        &r.workload_checker_name(),
        r.workload.verdict,
        &r.workload_text(),
    );
    if let Some(s) = &r.stats {
        row("stats", s.verdict, &s.summary());
    }
    if let Some(l) = &r.logs {
        row("node logs", l.verdict, &l.summary());
    }
    h.push_str("</table></section>");
}
