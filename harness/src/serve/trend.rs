//! The trend: per (system, workload, scenario or faults), every run's
//! verdict in time order with the faultline commit and the system version
//! it ran at; the first failure after a passing streak (the onset) and
//! the rows that both passed and failed at one commit and version (flaky)
//! marked. [`page`] draws it as one self-contained HTML page, the one
//! `faultline serve` shows at `/trend` and `faultline trend --out DIR`
//! writes; `trend.json` beside that page keeps its cells, so a later
//! `faultline trend` into the same folder adds the next night to them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::listing::{RunRow, Status};
use super::ServeError;
use crate::report::esc;

/// The cells file `faultline trend --out DIR` keeps in DIR.
pub const TREND_JSON: &str = "trend.json";

/// One run in the trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The system under test.
    pub system: String,
    /// The workload.
    pub workload: String,
    /// The scenario's name, or the faults.
    pub faults: String,
    /// When the run started, `YYYYMMDDTHHMMSS` UTC.
    pub started: String,
    /// The seed.
    pub seed: Option<u64>,
    /// Its verdict (running runs are not cells).
    pub status: Status,
    /// The faultline commit that ran it.
    pub commit: Option<String>,
    /// The version of the system under test.
    pub version: Option<String>,
    /// Its report, relative to the page (None when the run is no longer at hand).
    #[serde(default)]
    pub href: Option<String>,
}

impl Cell {
    /// The cell of a listed run whose report is at `href`; None for a
    /// run without a verdict yet.
    pub fn of(run: &RunRow, href: Option<String>) -> Option<Cell> {
        run.status.is_checked().then(|| Cell {
            system: run.system.clone(),
            workload: run.workload.clone(),
            faults: run.faults.clone(),
            started: run.started.clone(),
            seed: run.seed,
            status: run.status,
            commit: run.commit.clone(),
            version: run.version.clone(),
            href,
        })
    }

    /// What identifies the run: two cells with one identity are one run.
    fn identity(&self) -> (&str, &str, &str, &str, Option<u64>) {
        (
            &self.system,
            &self.workload,
            &self.faults,
            &self.started,
            self.seed,
        )
    }

    /// `commit · version`, or `?` when neither was recorded.
    pub fn build(&self) -> String {
        match (&self.commit, &self.version) {
            (Some(c), Some(v)) => format!("{c} · {v}"),
            (Some(c), None) => c.clone(),
            (None, Some(v)) => v.clone(),
            (None, None) => "?".to_string(),
        }
    }
}

/// One row of the trend: a (system, workload, scenario or faults) and its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The system under test.
    pub system: String,
    /// The workload.
    pub workload: String,
    /// The scenario's name, or the faults.
    pub faults: String,
    /// Its runs, oldest first.
    pub cells: Vec<Cell>,
    /// Indices of the cells that failed right after a pass (ignoring unknowns).
    pub onsets: Vec<usize>,
    /// The builds (`commit · version`) it both passed and failed at.
    pub flaky: Vec<String>,
}

impl Row {
    /// Whether its latest definite verdict is a failure.
    pub fn failing(&self) -> bool {
        self.cells
            .iter()
            .rev()
            .find(|c| c.status != Status::Unknown)
            .is_some_and(|c| c.status == Status::Invalid)
    }
}

/// The rows of `cells`: failing rows first, then flaky ones, then the
/// rest, each by name.
pub fn rows(mut cells: Vec<Cell>) -> Vec<Row> {
    cells.sort_by(|a, b| (&a.started, a.seed).cmp(&(&b.started, b.seed)));
    let mut groups: BTreeMap<(String, String, String), Vec<Cell>> = BTreeMap::new();
    for c in cells {
        let key = (c.system.clone(), c.workload.clone(), c.faults.clone());
        groups.entry(key).or_default().push(c);
    }
    let mut rows: Vec<Row> = groups
        .into_iter()
        .map(|((system, workload, faults), cells)| {
            let mut onsets = Vec::new();
            let mut last = None;
            for (i, c) in cells.iter().enumerate() {
                if c.status == Status::Unknown {
                    continue;
                }
                if c.status == Status::Invalid && last == Some(Status::Valid) {
                    onsets.push(i);
                }
                last = Some(c.status);
            }
            let mut seen: BTreeMap<String, BTreeSet<Status>> = BTreeMap::new();
            for c in &cells {
                seen.entry(c.build()).or_default().insert(c.status);
            }
            let flaky = seen
                .into_iter()
                .filter(|(_, s)| s.contains(&Status::Valid) && s.contains(&Status::Invalid))
                .map(|(b, _)| b)
                .collect();
            Row {
                system,
                workload,
                faults,
                cells,
                onsets,
                flaky,
            }
        })
        .collect();
    rows.sort_by_key(|r| (!r.failing(), r.flaky.is_empty()));
    rows
}

/// `cells` and those of `earlier` (a previous `trend.json`) that they do
/// not hold again.
pub fn merge(mut cells: Vec<Cell>, earlier: Vec<Cell>) -> Vec<Cell> {
    let have: BTreeSet<_> = cells.iter().map(Cell::identity).collect();
    let kept: Vec<Cell> = earlier
        .into_iter()
        .filter(|c| !have.contains(&c.identity()))
        .collect();
    cells.extend(kept);
    cells
}

/// Reads the cells of `dir/trend.json` (none when there is no such file).
pub fn read_cells(dir: &Path) -> Result<Vec<Cell>, ServeError> {
    let path = dir.join(TREND_JSON);
    match std::fs::read(&path) {
        Ok(text) => {
            serde_json::from_slice(&text).map_err(|e| ServeError::Parse { path, source: e })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ServeError::Io { path, source: e }),
    }
}

/// `YYYYMMDDTHHMMSS` as `YYYY-MM-DD HH:MM`.
pub fn human(stamp: &str) -> String {
    match (stamp.get(0..4), stamp.get(4..6), stamp.get(6..8)) {
        (Some(y), Some(m), Some(d)) => format!(
            "{y}-{m}-{d} {}:{}",
            stamp.get(9..11).unwrap_or("00"),
            stamp.get(11..13).unwrap_or("00")
        ),
        _ => stamp.to_string(),
    }
}

/// The trend page: every row's strip, its onsets and flaky builds, and a
/// line saying since when a failing row fails. `nav` is extra HTML for
/// the top line (the server's link back to its index).
pub fn page(rows: &[Row], nav: &str) -> String {
    let failing = rows.iter().filter(|r| r.failing()).count();
    let flaky = rows.iter().filter(|r| !r.flaky.is_empty()).count();
    let runs: usize = rows.iter().map(|r| r.cells.len()).sum();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>trend — faultline</title>\
         <style>{CSS}</style></head><body><h1>Trend</h1><p>{nav}{} rows · {runs} runs · \
         <b>{failing}</b> failing · <b>{flaky}</b> flaky. A cell per run, oldest first: \
         <span class=\"c valid\"></span> pass <span class=\"c invalid\"></span> fail \
         <span class=\"c unknown\"></span> unknown; <span class=\"c invalid onset\"></span> \
         first failure after a pass; below a cell, the build (faultline commit · system version) \
         where it changes.</p><table id=\"trend\"><tr><th>system</th><th>workload</th>\
         <th>scenario / faults</th><th>runs</th><th>since</th></tr>",
        rows.len()
    );
    for r in rows {
        let class = match (r.failing(), r.flaky.is_empty()) {
            (true, true) => "failing",
            (true, false) => "failing flaky",
            (false, false) => "flaky",
            (false, true) => "passing",
        };
        let _ = write!(
            h,
            "<tr class=\"{class}\" data-key=\"{}/{}/{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"strip\">",
            esc(&r.system),
            esc(&r.workload),
            esc(&r.faults),
            esc(&r.system),
            esc(&r.workload),
            esc(&r.faults)
        );
        let mut prev = None;
        for (i, c) in r.cells.iter().enumerate() {
            let build = c.build();
            let onset = if r.onsets.contains(&i) { " onset" } else { "" };
            let title = format!(
                "{} seed {} · {} · {build}",
                human(&c.started),
                c.seed.map(|s| s.to_string()).unwrap_or("?".into()),
                c.status.name()
            );
            let cell = match &c.href {
                Some(href) => format!(
                    "<a class=\"c {}{onset}\" href=\"{}\" title=\"{}\"></a>",
                    c.status.name(),
                    esc(href),
                    esc(&title)
                ),
                None => format!(
                    "<span class=\"c {}{onset}\" title=\"{}\"></span>",
                    c.status.name(),
                    esc(&title)
                ),
            };
            let label = if prev.as_ref() != Some(&build) {
                format!("<i>{}</i>", esc(&build))
            } else {
                String::new()
            };
            let _ = write!(
                h,
                "<span class=\"col\" data-build=\"{}\">{cell}{label}</span>",
                esc(&build)
            );
            prev = Some(build);
        }
        h.push_str("</td><td>");
        if let Some(&i) = r.onsets.last().filter(|_| r.failing()) {
            let c = &r.cells[i];
            let _ = write!(
                h,
                "<span class=\"since\">failing since {} (seed {}) at {}</span>",
                esc(&human(&c.started)),
                c.seed.map(|s| s.to_string()).unwrap_or("?".into()),
                esc(&c.build())
            );
        } else if r.failing() {
            h.push_str("<span class=\"since\">failing in every run shown</span>");
        }
        for b in &r.flaky {
            let _ = write!(h, " <span class=\"flaky-mark\">flaky at {}</span>", esc(b));
        }
        let count = |s: Status| r.cells.iter().filter(|c| c.status == s).count();
        let _ = write!(
            h,
            "<br><small>{} pass · {} fail · {} unknown</small></td></tr>",
            count(Status::Valid),
            count(Status::Invalid),
            count(Status::Unknown)
        );
    }
    h.push_str("</table></body></html>\n");
    h
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1d2430}\
table{border-collapse:collapse}td,th{border-top:1px solid #dde1e7;padding:4px 10px;text-align:left;vertical-align:top}\
.strip{white-space:nowrap;max-width:60vw;overflow-x:auto}\
.col{display:inline-flex;flex-direction:column;align-items:center;vertical-align:top;margin-right:2px}\
.col i{font:10px monospace;color:#5a6270;writing-mode:vertical-rl;margin-top:2px}\
.c{display:inline-block;width:12px;height:18px;border-radius:2px;vertical-align:middle}\
.valid{background:#2f8f4e}.invalid{background:#c9302c}.unknown{background:#c88a12}\
.onset{outline:3px solid #1d2430;outline-offset:1px}\
.since{color:#c9302c;font-weight:600}.flaky-mark{background:#f3e3b5;padding:0 6px;border-radius:4px}\
tr.failing td:first-child{border-left:4px solid #c9302c}tr.flaky td:first-child{border-left:4px solid #c88a12}";

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(started: &str, status: Status, commit: &str) -> Cell {
        Cell {
            system: "nats".into(),
            workload: "set".into(),
            faults: "kill".into(),
            started: started.into(),
            seed: Some(1),
            status,
            commit: Some(commit.into()),
            version: Some("2.10.1".into()),
            href: None,
        }
    }

    #[test]
    fn the_onset_is_the_first_failure_after_a_pass_and_flaky_builds_are_named() {
        use Status::*;
        let cells = vec![
            cell("20240105", Invalid, "c5"),
            cell("20240101", Valid, "c1"),
            cell("20240102", Unknown, "c2"),
            cell("20240103", Valid, "c3"),
            cell("20240104", Invalid, "c3"),
            cell("20240106", Invalid, "c6"),
        ];
        let r = &rows(cells)[0];
        assert!(r.failing());
        assert_eq!(r.onsets, [3]);
        assert_eq!(r.cells[3].started, "20240104");
        assert_eq!(r.flaky, ["c3 · 2.10.1"]);
        let html = page(&rows(r.cells.clone()), "");
        assert!(html.contains("failing since 2024-01-04 00:00"), "{html}");
        assert!(html.contains("flaky at c3 · 2.10.1"));
    }

    #[test]
    fn earlier_cells_are_kept_unless_held_again() {
        let now = vec![cell("2", Status::Valid, "b")];
        let before = vec![
            cell("1", Status::Invalid, "a"),
            cell("2", Status::Unknown, "b"),
        ];
        let all = merge(now, before);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].status, Status::Valid);
    }
}
