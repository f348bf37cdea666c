//! The summary `faultline run` prints at the end: operations, faults,
//! each checker's verdict with its findings, the overall verdict.

use std::collections::BTreeMap;

use faultline_checker::history::{Event, Process};

use crate::checkers::stats::stats;
use crate::record::ResultsRecord;

use super::Plan;

/// Lines of a checker's findings shown below its verdict.
const DETAIL_LINES: usize = 40;

/// Prints the summary of a finished run.
pub fn print(plan: &Plan, events: &[Event], results: &ResultsRecord) {
    let s = stats(events);
    println!("run: {}", plan.dir.path.display());
    let by_f: Vec<String> = s
        .by_f
        .iter()
        .map(|(f, c)| format!("{f} {}/{}/{}", c.ok, c.fail, c.info))
        .collect();
    println!(
        "operations: {} ok, {} fail, {} info  (ok/fail/info: {})",
        s.total.ok,
        s.total.fail,
        s.total.info,
        by_f.join(", ")
    );
    let mut faults: BTreeMap<&str, usize> = BTreeMap::new();
    for ev in events.iter().filter(|e| e.process == Process::Nemesis) {
        *faults.entry(ev.f.as_str()).or_default() += 1;
    }
    let faults: Vec<String> = faults.iter().map(|(f, n)| format!("{f} ×{n}")).collect();
    println!(
        "nemesis: {}",
        if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join(", ")
        }
    );
    for c in &results.checkers {
        let mut lines = c.text.lines();
        println!("{}: {}", c.name, lines.next().unwrap_or_default());
        for line in lines.take(DETAIL_LINES) {
            println!("  {line}");
        }
    }
    if let Some(d) = &results.online {
        let at = |t: Option<f64>| t.map(|t| format!("{t:.2} s")).unwrap_or_else(|| "-".into());
        println!(
            "online check: first anomaly {} (completed at {}), found at {:.2} s, workload stopped at {}",
            d.operation,
            at(d.anomaly_s),
            d.detected_s,
            at(d.stopped_s)
        );
    } else if plan.args.online() {
        println!("online check: no anomaly while the run went");
    }
    println!("verdict: {}", results.verdict.to_string().to_uppercase());
}
