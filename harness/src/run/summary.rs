//! The summary `faultline run` prints at the end: operations, faults,
//! each checker's verdict, the overall verdict.

use std::collections::BTreeMap;

use faultline_checker::history::{Event, Process};
use serde_json::json;

use crate::checkers::Results;

use super::Plan;

/// Prints the summary of a finished run.
pub fn print(plan: &Plan, events: &[Event], results: &Results) {
    let s = &results.stats;
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
    match (&results.workload.result, &results.workload.error) {
        (Some(r), _) => {
            let text = r.render_text();
            let mut lines = text.lines();
            println!(
                "{} checker: {}",
                plan.workload.model(),
                lines.next().unwrap_or_default()
            );
            for line in lines.take(40) {
                println!("  {line}");
            }
        }
        (None, Some(e)) => println!("{} checker: unknown: {e}", plan.workload.model()),
        (None, None) => {}
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
    println!("stats: {}", s.verdict);
    let logs = &results.logs;
    println!("node logs: {}", logs.verdict);
    for p in logs.panics.iter().chain(&logs.crashes) {
        println!("  {p}");
    }
    let verdict = json!(results.verdict);
    println!(
        "verdict: {}",
        verdict.as_str().unwrap_or_default().to_uppercase()
    );
}
