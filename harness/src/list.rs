//! `faultline list`: the workloads, nemeses, models, systems and scenarios,
//! one line of help each.

use faultline_checker::model::ModelKind;

use crate::nemesis::NemesisKind;
use crate::scenario::Scenario;

/// The parts of the listing, as `faultline list WHAT` names them.
pub const PARTS: [&str; 5] = ["workloads", "nemeses", "models", "systems", "scenarios"];

/// A titled list of `name  help` rows.
type Section = (String, Vec<(String, String)>);

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
    let mut out = String::new();
    for part in PARTS.iter().filter(|&&p| what.is_none_or(|w| w == p)) {
        let sections = match *part {
            "workloads" => workloads(),
            "nemeses" => nemeses(),
            "models" => models(),
            "systems" => systems(),
            _ => scenario_rows(scenarios),
        };
        for (title, rows) in sections {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&title);
            out.push('\n');
            for (name, help) in rows {
                out.push_str(&format!("  {name:<18} {help}\n"));
            }
        }
    }
    Ok(out)
}

fn workloads() -> Vec<Section> {
    let ours = faultline_workloads::all()
        .iter()
        .map(|w| (w.name().to_string(), w.description().to_string()))
        .collect();
    let maelstrom = crate::maelstrom::workload::Workload::ALL
        .iter()
        .map(|w| (w.name().to_string(), w.description().to_string()))
        .collect();
    vec![
        ("workloads (--workload):".into(), ours),
        (
            "Maelstrom workloads (--system maelstrom, faultline maelstrom test -w):".into(),
            maelstrom,
        ),
    ]
}

fn nemeses() -> Vec<Section> {
    let drawn = NemesisKind::drawn()
        .iter()
        .map(|k| (k.name().to_string(), k.description().to_string()))
        .collect();
    let all: Vec<&str> = NemesisKind::classic().iter().map(|k| k.name()).collect();
    let steps = NemesisKind::REGISTERED
        .iter()
        .map(|k| (k.name().to_string(), k.about().example.to_string()))
        .collect();
    vec![
        (
            format!(
                "nemeses (--nemesis: a comma list; all = {}; none):",
                all.join(",")
            ),
            drawn,
        ),
        (
            "fault steps (scenarios; faultline scenario show NAME):".into(),
            steps,
        ),
    ]
}

fn models() -> Vec<Section> {
    let rows = ModelKind::ALL
        .iter()
        .map(|m| (m.name().to_string(), m.description().to_string()))
        .collect();
    vec![("models (faultline check --model):".into(), rows)]
}

fn systems() -> Vec<Section> {
    let help = crate::system::SYSTEMS
        .iter()
        .map(|r| (r.name.to_string(), r.help.to_string()))
        .collect();
    let disk = crate::system::SYSTEMS
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
    vec![
        ("systems (--system):".into(), help),
        (
            "disk (what power-loss and corrupt hit, and what each system claims):".into(),
            disk,
        ),
    ]
}

fn scenario_rows(scenarios: &[Scenario]) -> Vec<Section> {
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
    vec![(
        "scenarios (faultline run SCENARIO; faultline scenario show NAME):".into(),
        rows,
    )]
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
