//! The `faultline maelstrom test` command line of a recorded Maelstrom
//! run, for the report of a run whose `test.json` predates the stored
//! command line.

/// The `faultline maelstrom test` command line that replays a Maelstrom
/// run (same seed, faults, latency, topology), from its `test.json`; None
/// for a run of another system.
pub fn reproduce(test: &crate::record::TestRecord) -> Option<String> {
    if test.system.as_deref() != Some(super::SYSTEM_NAME) {
        return None;
    }
    let o = &test.options;
    let other = |name: &str| o.other.get(name).filter(|v| !v.is_null());
    let word = |s: &str| shell_words::quote(s).into_owned();
    let mut parts = vec!["faultline maelstrom test".to_string()];
    let mut flag = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("--{name} {}", word(&v)));
        }
    };
    // test.json records the registry's name; -w takes Maelstrom's.
    flag(
        "workload",
        o.workload
            .as_deref()
            .map(|w| match super::workload::Workload::parse(w) {
                Ok(w) => w.name().to_string(),
                Err(_) => w.to_string(),
            }),
    );
    flag(
        "bin",
        other("node_cmd")
            .and_then(|v| v.as_str())
            .map(str::to_string),
    );
    flag("node-count", o.nodes.map(|n| n.to_string()));
    flag("time-limit", o.time_limit.map(|t| t.to_string()));
    flag("rate", o.rate.map(|r| r.to_string()));
    flag("concurrency", test.concurrency.map(|c| c.to_string()));
    flag(
        "nemesis",
        (!o.nemesis.is_empty()).then(|| o.nemesis.join(",")),
    );
    flag(
        "nemesis-interval",
        o.nemesis_interval.map(|t| t.to_string()),
    );
    flag(
        "latency",
        other("latency")
            .map(|v| v.to_string())
            .filter(|l| l != "0.0"),
    );
    flag(
        "latency-dist",
        other("latency_dist")
            .and_then(|v| v.as_str())
            .map(str::to_string),
    );
    flag(
        "topology",
        other("topology")
            .and_then(|v| v.as_str())
            .map(str::to_string),
    );
    flag(
        "scenarios",
        other("scenarios")
            .and_then(|v| v.as_str())
            .map(str::to_string),
    );
    flag(
        "consistency-models",
        other(super::checkers::txn::OPTION)
            .and_then(|v| v.as_array())
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| m.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
    );
    flag(
        "availability",
        other(super::checkers::availability::OPTION)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)),
    );
    flag("scenario", o.scenario.clone());
    flag("seed", test.seed().map(|s| s.to_string()));
    flag("recovery-time", o.recovery_time.map(|t| t.to_string()));
    flag(
        "request-timeout-ms",
        o.request_timeout_ms.map(|t| t.to_string()),
    );
    if other("one_way_partitions").and_then(|v| v.as_bool()) == Some(true) {
        parts.push("--one-way-partitions".into());
    }
    Some(parts.join(" "))
}
