//! `faultline list`: the workloads, nemeses, models, systems and scenarios,
//! one line of help each.

use faultline_checker::model::ModelKind;

use crate::nemesis::NemesisKind;
use crate::scenario::Scenario;

/// The parts of the listing, as `faultline list WHAT` names them.
pub const PARTS: [&str; 5] = ["workloads", "nemeses", "models", "systems", "scenarios"];

/// The listing, as printed: every part, or only `what`.
pub fn render(what: Option<&str>, scenarios: &[Scenario]) -> anyhow::Result<String> {
    if let Some(w) = what {
        if !PARTS.contains(&w) {
            anyhow::bail!(
                "faultline list: unknown part {w:?}; one of {}",
                PARTS.join(", ")
            );
        }
    }
    let show = |part: &str| what.is_none_or(|w| w == part);
    let mut out = String::new();
    let mut section = |title: &str, rows: Vec<(String, String)>| {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(title);
        out.push('\n');
        for (name, help) in rows {
            out.push_str(&format!("  {name:<18} {help}\n"));
        }
    };
    if show("workloads") {
        let rows = faultline_workloads::all()
            .iter()
            .map(|w| (w.name().to_string(), w.description().to_string()))
            .collect();
        section("workloads (--workload):", rows);
        let rows = crate::maelstrom::workload::Workload::ALL
            .iter()
            .map(|w| (w.name().to_string(), w.description().to_string()))
            .collect();
        section(
            "Maelstrom workloads (--system maelstrom, faultline maelstrom test -w):",
            rows,
        );
    }
    if show("nemeses") {
        let rows = NemesisKind::ALL
            .iter()
            .map(|k| (k.name().to_string(), k.description().to_string()))
            .collect();
        section(
            "nemeses (--nemesis: a comma list; all = kill,pause,partition,drop; none):",
            rows,
        );
    }
    if show("models") {
        let rows = ModelKind::ALL
            .iter()
            .map(|m| (m.name().to_string(), m.description().to_string()))
            .collect();
        section("models (faultline check --model):", rows);
    }
    if show("systems") {
        let rows = crate::system::SYSTEMS
            .iter()
            .map(|r| (r.name.to_string(), r.help.to_string()))
            .collect();
        section("systems (--system):", rows);
        let rows = crate::system::SYSTEMS
            .iter()
            .map(|r| {
                (
                    r.name.to_string(),
                    format!(
                        "data files: {}\n{:<21}power loss: {}\n{:<21}corruption: {}",
                        r.disk.data_files.join(" "),
                        "",
                        r.disk.power_loss,
                        "",
                        r.disk.corruption
                    ),
                )
            })
            .collect();
        section(
            "disk (what power-loss and corrupt hit, and what each system claims):",
            rows,
        );
    }
    if show("scenarios") {
        let rows = scenarios
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    format!(
                        "{} [{}, {} nodes, {} s]",
                        s.description, s.workload, s.nodes, s.time_limit
                    ),
                )
            })
            .collect();
        section(
            "scenarios (faultline run SCENARIO; faultline scenario show NAME):",
            rows,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listing_names_every_workload_nemesis_and_model() {
        let text = super::render(None, &crate::scenario::builtins()).unwrap();
        for name in [
            "register",
            "set",
            "list-append",
            "kill",
            "pause",
            "partition",
            "drop",
            "power-loss",
            "corrupt",
            "kv",
            "faultline-node",
            "etcd",
            "http",
            "exec",
            "leader-isolation",
            "lagging-follower",
        ] {
            assert!(
                text.contains(&format!("  {name} ")),
                "{name} missing:\n{text}"
            );
        }
    }
}
