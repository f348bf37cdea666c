//! `report.html`: one self-contained page per run (or per history checked
//! alone) that a person opens without a network: the verdict and how to
//! reproduce the run, a timeline of every operation with the faults as
//! bands, latency and throughput plots, the counterexample drawn, every
//! checker's result and links to the run's files.
//!
//! The page carries its script and style inline and the history as compact
//! columns ([`timeline`]); the timeline and plots are drawn on canvases, so
//! a million operations stay responsive. Once drawn, the page sets
//! `data-rendered="ok"` on its body (or `"error"` with the message in
//! `#status`), which is what the browser test reads.
//!
//! - [`results`]: `results.json` read back;
//! - [`timeline`]: the history as the page's columns;
//! - [`faults`]: fault intervals from the nemesis events;
//! - [`counterexample`]: the counterexample as an inline SVG;
//! - [`html`]: the page.

pub mod counterexample;
pub mod faults;
pub mod html;
pub mod results;
pub mod timeline;

use std::path::{Path, PathBuf};

use anyhow::Context;
use faultline_checker::history::Event;
use faultline_checker::import::{read_history_file_with, Format, ImportOptions};
use serde_json::Value;

pub use html::{render, Page};
pub use results::RunResults;

/// The page's file name in a run folder.
pub const REPORT_FILE: &str = "report.html";

/// HTML-escapes text (also safe inside attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A stored run read back: what its report and its `junit.xml` are made of.
#[derive(Debug, Clone)]
pub struct StoredRun {
    /// The run folder.
    pub dir: PathBuf,
    /// `test.json` (Null when missing).
    pub test: Value,
    /// `results.json`.
    pub results: RunResults,
    /// `history.jsonl`.
    pub events: Vec<Event>,
    /// Node log files, relative to the folder (`nodes/n1.log`, ...).
    pub logs: Vec<String>,
}

impl StoredRun {
    /// Reads the run in `dir`. A history cut off mid-line (a crashed
    /// recorder) loses its last line, as `faultline check --allow-truncated` does.
    pub fn load(dir: &Path) -> anyhow::Result<StoredRun> {
        let results_path = dir.join("results.json");
        let text = std::fs::read_to_string(&results_path).with_context(|| {
            format!(
                "reading {} (is {} a run folder whose check finished?)",
                results_path.display(),
                dir.display()
            )
        })?;
        let doc: Value = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", results_path.display()))?;
        let results = RunResults::from_value(doc)
            .with_context(|| format!("reading {}", results_path.display()))?;
        let test = match std::fs::read_to_string(dir.join("test.json")) {
            Ok(t) => serde_json::from_str(&t)
                .with_context(|| format!("parsing {}", dir.join("test.json").display()))?,
            Err(_) => Value::Null,
        };
        let history = dir.join("history.jsonl");
        let events = read_history_file_with(
            &history,
            Format::Jsonl,
            ImportOptions {
                allow_truncated: true,
            },
        )
        .with_context(|| format!("reading {}", history.display()))?
        .events;
        let mut logs: Vec<String> = std::fs::read_dir(dir.join("nodes"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| n.ends_with(".log"))
                    .map(|n| format!("nodes/{n}"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort_by_key(|l| {
            let digits: String = l.chars().filter(char::is_ascii_digit).collect();
            (digits.parse::<u64>().unwrap_or(u64::MAX), l.clone())
        });
        Ok(StoredRun {
            dir: dir.to_path_buf(),
            test,
            results,
            events,
            logs,
        })
    }

    /// The page of this run.
    pub fn page(&self) -> Page<'_> {
        let opts = &self.test["options"];
        let nemesis = nemesis_label(&self.test["nemesis"]);
        let seed = self.test["seed"].as_u64().or_else(|| opts["seed"].as_u64());
        let workload = opts["workload"].as_str().unwrap_or("?").to_string();
        let duration = self.events.iter().map(|e| e.time).max().unwrap_or(0);
        let mut facts = vec![
            ("workload".to_string(), workload.clone()),
            ("nemesis".to_string(), nemesis.clone()),
            (
                "seed".to_string(),
                seed.map(|s| s.to_string()).unwrap_or_else(|| "?".into()),
            ),
            ("nodes".to_string(), json_text(&opts["nodes"])),
            ("clients".to_string(), json_text(&self.test["concurrency"])),
            (
                "duration".to_string(),
                format!(
                    "{:.1} s recorded ({} s under faults)",
                    duration as f64 / 1e9,
                    json_text(&opts["time_limit"])
                ),
            ),
        ];
        if let Some(started) = self.test["started"].as_str() {
            let started = crate::junit::iso_timestamp(started).unwrap_or(started.to_string());
            facts.push(("started".to_string(), format!("{started} UTC")));
        }
        facts.push(("events".to_string(), self.events.len().to_string()));
        let mut links = vec![
            ("history.jsonl".to_string(), "history.jsonl".to_string()),
            ("results.json".to_string(), "results.json".to_string()),
            ("test.json".to_string(), "test.json".to_string()),
            ("junit.xml".to_string(), "junit.xml".to_string()),
        ];
        for l in &self.logs {
            links.push((l.clone(), l.clone()));
        }
        Page {
            title: format!(
                "{workload} · {nemesis} · seed {}",
                seed.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
            ),
            facts,
            command: reproduce_command(&self.test),
            results: &self.results,
            events: &self.events,
            links,
        }
    }

    /// Writes `report.html` into the run folder; returns its path.
    pub fn write_report(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(REPORT_FILE);
        std::fs::write(&path, render(&self.page()))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// Reads the stored run in `dir` and writes its `report.html` and `junit.xml`.
pub fn rebuild(dir: &Path) -> anyhow::Result<StoredRun> {
    let run = StoredRun::load(dir)?;
    run.write_report()?;
    crate::junit::write_run(&run)?;
    Ok(run)
}

fn json_text(v: &Value) -> String {
    match v {
        Value::Null => "?".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `kill,partition`, or `none`.
pub fn nemesis_label(v: &Value) -> String {
    match v.as_array() {
        Some(a) if a.is_empty() => "none".to_string(),
        Some(a) => a.iter().map(json_text).collect::<Vec<_>>().join(","),
        None => json_text(v),
    }
}

/// The `faultline run` command line that replays the run's schedule and
/// choices (same seed, same options), from `test.json`.
pub fn reproduce_command(test: &Value) -> Option<String> {
    let o = test.get("options")?;
    let mut parts = vec!["faultline run".to_string()];
    let mut flag = |name: &str, v: &Value| {
        if !v.is_null() {
            parts.push(format!("--{name} {}", shell_word(&json_text(v))));
        }
    };
    flag("workload", &o["workload"]);
    flag("nemesis", &Value::String(nemesis_label(&o["nemesis"])));
    flag("nodes", &o["nodes"]);
    flag("time-limit", &o["time_limit"]);
    let concurrency = if o["concurrency"].is_null() {
        &test["concurrency"]
    } else {
        &o["concurrency"]
    };
    flag("concurrency", concurrency);
    flag("rate", &o["rate"]);
    flag("seed", test.get("seed").unwrap_or(&o["seed"]));
    flag("nemesis-interval", &o["nemesis_interval"]);
    flag("drop-percent", &o["drop_percent"]);
    flag("recovery-time", &o["recovery_time"]);
    flag("request-timeout-ms", &o["request_timeout_ms"]);
    if o["net"].as_str().is_some_and(|n| n != "private") {
        flag("net", &o["net"]);
    }
    for a in o["node_args"].as_array().into_iter().flatten() {
        parts.push(shell_word(&format!("--node-arg={}", json_text(a))));
    }
    Some(parts.join(" "))
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=.,/:+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_reproduce_command_carries_the_seed_and_node_args() {
        let test = json!({
            "seed": 7,
            "concurrency": 6,
            "options": {
                "workload": "register", "nemesis": ["kill", "partition"], "nodes": 3,
                "time_limit": 12.0, "concurrency": null, "rate": 200.0, "seed": 7,
                "nemesis_interval": 5.0, "drop_percent": 20, "recovery_time": 5.0,
                "request_timeout_ms": 1000, "net": "private",
                "node_args": ["--bug=stale-read", "two words"]
            }
        });
        let cmd = reproduce_command(&test).unwrap();
        assert_eq!(
            cmd,
            "faultline run --workload register --nemesis kill,partition --nodes 3 --time-limit 12.0 \
             --concurrency 6 --rate 200.0 --seed 7 --nemesis-interval 5.0 --drop-percent 20 \
             --recovery-time 5.0 --request-timeout-ms 1000 --node-arg=--bug=stale-read '--node-arg=two words'"
        );
    }

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;"
        );
    }
}
