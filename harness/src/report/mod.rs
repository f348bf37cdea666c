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
//! - [`interrupted`]: the check of a run stopped before its verdict;
//! - [`timeline`]: the history as the page's columns;
//! - [`faults`]: fault intervals from the nemesis events;
//! - [`html`]: the page;
//! - the [`Section`]s that draw checkers' details, one kind each
//!   ([`SECTIONS`]: [`counterexample`], the counterexample as an inline
//!   SVG; [`lost`], a set's lost elements; [`replicas`], the replicas'
//!   states and the keys they disagree on). Other layers register their
//!   own (Maelstrom's messages); `crate::registry` joins them.

pub mod faults;
pub mod html;
pub mod interrupted;
pub mod timeline;

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::record::{CheckerResult, TestRecord};
use crate::stored::StoredRun;

pub use html::{render, Page};

registry! {
    /// The sections of this layer. Adding a section is its file (a
    /// `const SECTION`) and one line here.
    pub const SECTIONS: &[&dyn Section] = {
        counterexample => SECTION;
        lost => SECTION;
        cycles => SECTION;
        replicas => SECTION;
        states => SECTION;
    }
}

/// A part of the page that draws the detail of one kind of checker result.
pub trait Section: Sync {
    /// The kind of detail it draws (a checker's `kind`).
    fn kind(&self) -> &'static str;
    /// Its HTML for `result` (of its kind) on `page`; empty when there is
    /// nothing to show.
    fn render(&self, result: &CheckerResult, page: &Page<'_>) -> String;
}

/// What pages are drawn with beyond this layer: every layer's sections,
/// and the command line that replays a run of each system.
#[derive(Clone)]
pub struct Extensions {
    /// Every section, in the order a page shows what they draw.
    pub sections: Vec<&'static dyn Section>,
    /// The command line that replays the run `test.json` describes.
    pub reproduce: fn(&TestRecord) -> String,
}

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

impl StoredRun {
    /// The page of this run, drawn with `ext`.
    pub fn page<'a>(&'a self, ext: &'a Extensions) -> Page<'a> {
        let test = &self.test;
        let opts = &test.options;
        let nemesis = match test.scenario_name() {
            Some(name) => format!("scenario {name}"),
            None => test.nemesis_label(),
        };
        let seed = test.seed();
        let workload = test.workload().to_string();
        let duration = self.events.iter().map(|e| e.time).max().unwrap_or(0);
        let mut facts = vec![(
            "system".to_string(),
            test.system
                .clone()
                .unwrap_or_else(|| "faultline-node".into()),
        )];
        if let Some(binary) = &test.system_binary {
            facts.push((
                "version".to_string(),
                format!(
                    "{} · sha256 {} · {}",
                    binary.version, binary.sha256, binary.source
                ),
            ));
        }
        facts.extend([
            ("workload".to_string(), workload.clone()),
            ("nemesis".to_string(), nemesis.clone()),
            ("seed".to_string(), or_unknown(seed)),
            ("nodes".to_string(), or_unknown(opts.nodes)),
            ("clients".to_string(), or_unknown(test.concurrency)),
            (
                "duration".to_string(),
                format!(
                    "{:.1} s recorded ({} s under faults)",
                    duration as f64 / 1e9,
                    opts.time_limit.map(number).unwrap_or_else(|| "?".into())
                ),
            ),
        ]);
        if let Some(started) = &test.started {
            let started = crate::junit::iso_timestamp(started).unwrap_or(started.to_string());
            facts.push(("started".to_string(), format!("{started} UTC")));
        }
        facts.push(("events".to_string(), self.events.len().to_string()));
        let links = run_files(&self.dir)
            .into_iter()
            .chain(self.logs.iter().cloned())
            .map(|f| (f.clone(), f))
            .collect();
        Page {
            title: format!("{workload} · {nemesis} · seed {}", or_unknown(seed)),
            facts,
            command: self
                .test
                .options
                .workload
                .is_some()
                .then(|| (ext.reproduce)(&self.test)),
            results: &self.results,
            events: &self.events,
            links,
            dir: Some(&self.dir),
            sections: &ext.sections,
        }
    }

    /// Writes `report.html` into the run folder; returns its path.
    pub fn write_report(&self, ext: &Extensions) -> anyhow::Result<PathBuf> {
        let path = self.dir.join(REPORT_FILE);
        let html = render(&self.page(ext));
        std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// The files of a run folder a page links to: the records first, then
/// whatever else its platform left there (a message journal), by name.
fn run_files(dir: &Path) -> Vec<String> {
    const RECORDS: [&str; 4] = ["history.jsonl", "results.json", "test.json", "junit.xml"];
    let mut others: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n != REPORT_FILE && !RECORDS.contains(&n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    others.sort();
    RECORDS
        .iter()
        .map(|r| r.to_string())
        .chain(others)
        .collect()
}

/// Reads the stored run in `dir` and writes its `report.html` and `junit.xml`.
pub fn rebuild(dir: &Path, ext: &Extensions) -> anyhow::Result<StoredRun> {
    let run = StoredRun::load(dir)?;
    run.write_report(ext)?;
    crate::junit::write_run(&run)?;
    Ok(run)
}

/// A value, or `?` when unknown.
fn or_unknown<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
}

/// A number as `test.json` writes it (`12.0`, `0.5`).
fn number(x: f64) -> String {
    serde_json::Value::from(x).to_string()
}

/// The command line that replays the run's schedule and choices (same
/// seed, same options, the same scenario and system): the one `test.json`
/// stored as the run started; for a record of an older version without
/// one, rebuilt from its options.
pub fn reproduce_command(test: &TestRecord) -> String {
    if !test.command_line.is_empty() {
        let words: Vec<String> = test.command_line.iter().map(|w| shell_word(w)).collect();
        return words.join(" ");
    }
    rebuilt_command(test)
}

/// The reproduce line of a `test.json` written before the line was
/// stored, rebuilt from its options (it lacks the flags those records did
/// not name).
fn rebuilt_command(test: &TestRecord) -> String {
    let o = &test.options;
    let mut parts = vec!["faultline run".to_string()];
    if let Some(s) = &o.scenario {
        parts.push(shell_word(s));
    }
    let other = |name: &str| o.other.get(name).filter(|v| !v.is_null());
    let text = |name: &str| other(name).and_then(|v| v.as_str()).map(str::to_string);
    let on = |name: &str| other(name).and_then(|v| v.as_bool()) == Some(true);
    let mut flag = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("--{name} {}", shell_word(&v)));
        }
    };
    flag("scenarios", text("scenarios"));
    flag("system", text("system").filter(|s| s != "faultline-node"));
    for name in ["etcd_bin", "node_cmd", "client_cmd"] {
        flag(&name.replace('_', "-"), text(name));
    }
    flag("workload", o.workload.clone());
    if o.scenario.is_none() {
        flag("nemesis", Some(crate::record::nemesis_label(&o.nemesis)));
    }
    flag("nodes", o.nodes.map(|n| n.to_string()));
    flag("time-limit", o.time_limit.map(number));
    flag(
        "concurrency",
        o.concurrency.or(test.concurrency).map(|c| c.to_string()),
    );
    flag("rate", o.rate.map(number));
    flag("seed", test.seed().map(|s| s.to_string()));
    flag("nemesis-interval", o.nemesis_interval.map(number));
    flag("drop-percent", o.drop_percent.map(|p| p.to_string()));
    flag("recovery-time", o.recovery_time.map(number));
    flag(
        "request-timeout-ms",
        o.request_timeout_ms.map(|t| t.to_string()),
    );
    if o.net.as_deref().is_some_and(|n| n != "private") {
        flag("net", o.net.clone());
    }
    flag(
        "disk-metadata",
        text("disk_metadata").filter(|m| m != "lazyfs"),
    );
    for name in ["etcd_serializable_reads", "disk_faults"] {
        if on(name) {
            parts.push(format!("--{}", name.replace('_', "-")));
        }
    }
    for a in &o.node_args {
        parts.push(shell_word(&format!("--node-arg={a}")));
    }
    parts.join(" ")
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
        let test: TestRecord = serde_json::from_value(json!({
            "seed": 7,
            "concurrency": 6,
            "options": {
                "workload": "register", "nemesis": ["kill", "partition"], "nodes": 3,
                "time_limit": 12.0, "concurrency": null, "rate": 200.0, "seed": 7,
                "nemesis_interval": 5.0, "drop_percent": 20, "recovery_time": 5.0,
                "request_timeout_ms": 1000, "net": "private",
                "node_args": ["--bug=stale-read", "two words"]
            }
        }))
        .unwrap();
        let cmd = reproduce_command(&test);
        assert_eq!(
            cmd,
            "faultline run --workload register --nemesis kill,partition --nodes 3 --time-limit 12.0 \
             --concurrency 6 --rate 200.0 --seed 7 --nemesis-interval 5.0 --drop-percent 20 \
             --recovery-time 5.0 --request-timeout-ms 1000 --node-arg=--bug=stale-read '--node-arg=two words'"
        );
    }

    #[test]
    fn the_reproduce_command_names_the_scenario_system_and_disk_options() {
        let test: TestRecord = serde_json::from_value(json!({
            "seed": 2,
            "options": {
                "scenario": "power-loss-all", "workload": "set", "nemesis": ["kill"],
                "nodes": 3, "seed": 2, "system": "etcd", "etcd_bin": "/opt/etcd",
                "etcd_serializable_reads": false, "disk_faults": true,
                "disk_metadata": "posix", "node_args": []
            }
        }))
        .unwrap();
        let cmd = reproduce_command(&test);
        assert_eq!(
            cmd,
            "faultline run power-loss-all --system etcd --etcd-bin /opt/etcd --workload set \
             --nodes 3 --seed 2 --disk-metadata posix --disk-faults"
        );
    }

    #[test]
    fn the_stored_command_line_is_the_reproduce_line_when_there_is_one() {
        let test: TestRecord = serde_json::from_value(json!({
            "seed": 3,
            "system": "nats",
            "options": {"workload": "register", "system": "nats", "nats_read": "leader"},
            "command_line": [
                "faultline", "run", "--system", "nats", "--nats-read", "leader",
                "--node-cmd", "kv {id}", "--seed", "3"
            ]
        }))
        .unwrap();
        assert_eq!(
            reproduce_command(&test),
            "faultline run --system nats --nats-read leader --node-cmd 'kv {id}' --seed 3"
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
