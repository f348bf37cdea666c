//! What a suite writes about its runs: a JUnit suite per run and the
//! suite's `index.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{exit_code, RunRecord};
use crate::junit::{self, Outcome, TestCase, TestSuite};
use crate::report::{self, esc};
use crate::stored::StoredRun;

/// The JUnit suite of one record: the run's own checkers, or one case
/// saying why there are none.
pub(crate) fn record_suite(dir: &Path, r: &RunRecord) -> TestSuite {
    if r.verdict.is_some() {
        if let Some(run) = r
            .folder
            .as_ref()
            .and_then(|f| StoredRun::load(&dir.join(f)).ok())
        {
            let mut s = junit::run_suite(&run);
            s.time = r.seconds;
            return s;
        }
    }
    let output = r
        .output
        .as_ref()
        .and_then(|o| std::fs::read_to_string(dir.join(o)).ok())
        .map(|t| tail(&t, 40));
    let note = r.note.clone().unwrap_or_else(|| "no verdict".into());
    let outcome = if r.status() == "skipped" {
        Outcome::Skipped { message: note }
    } else {
        Outcome::Error {
            message: note.clone(),
            text: format!("{note}\n{}", output.clone().unwrap_or_default()),
        }
    };
    TestSuite {
        name: format!("{}-{} seed {}", r.run.workload, r.run.nemesis, r.run.seed),
        timestamp: None,
        time: r.seconds,
        cases: vec![TestCase {
            name: "faultline run".into(),
            classname: format!("faultline.{}-{}", r.run.workload, r.run.nemesis),
            time: r.seconds,
            outcome,
            system_out: output,
        }],
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The suite's `index.html`: every run, its verdict and links to its files;
/// `started` is the suite's `YYYYMMDDTHHMMSS` stamp.
pub(crate) fn index_html(name: &str, started: &str, records: &[RunRecord]) -> String {
    let worst = match exit_code(records) {
        0 => "valid",
        1 => "invalid",
        _ => "unknown",
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>suite {} — faultline</title>\
         <style>body{{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1d2430}}\
         table{{border-collapse:collapse}}td,th{{border-top:1px solid #dde1e7;padding:4px 10px;text-align:left}}\
         .v{{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-weight:700;font-size:.85em}}\
         .valid{{background:#2f8f4e}}.invalid{{background:#c9302c}}.unknown,.skipped{{background:#c88a12}}\
         .harness{{background:#6b7380}}</style></head><body>\
         <h1><span class=\"v {worst}\">{}</span> suite {}</h1><p>started {} UTC · {} runs · \
         <a href=\"junit.xml\">junit.xml</a></p><table><tr><th>#</th><th>workload</th><th>nemesis</th>\
         <th>seed</th><th>verdict</th><th>seconds</th><th>report</th><th>files</th><th>output</th></tr>",
        esc(name),
        worst.to_uppercase(),
        esc(name),
        esc(started),
        records.len()
    );
    for (i, r) in records.iter().enumerate() {
        let status = r.status();
        let class = status.split(' ').next().unwrap_or(status);
        let link = |rel: Option<PathBuf>, text: &str| match rel {
            Some(p) => format!("<a href=\"{}\">{text}</a>", esc(&p.to_string_lossy())),
            None => String::new(),
        };
        let report = link(
            r.folder.as_ref().map(|f| f.join(report::REPORT_FILE)),
            "report.html",
        );
        let files = [
            link(
                r.folder.as_ref().map(|f| f.join(junit::JUNIT_FILE)),
                "junit.xml",
            ),
            link(
                r.folder.as_ref().map(|f| f.join("history.jsonl")),
                "history",
            ),
            link(r.folder.clone(), "folder"),
        ]
        .join(" ");
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><span class=\"v {class}\">{}</span>{}</td>\
             <td>{:.1}</td><td>{report}</td><td>{files}</td><td>{}</td></tr>",
            i + 1,
            esc(&r.run.workload),
            esc(&r.run.nemesis),
            r.run.seed,
            esc(&status.to_uppercase()),
            r.note
                .as_ref()
                .map(|n| format!(" <small>{}</small>", esc(n)))
                .unwrap_or_default(),
            r.seconds,
            link(r.output.clone(), "output"),
        );
    }
    h.push_str("</table></body></html>\n");
    h
}
