//! `faultline list`: the workloads, nemeses, models and systems, one line of
//! help each.

use faultline_checker::model::ModelKind;

use crate::nemesis::NemesisKind;

/// The listing, as printed.
pub fn render() -> String {
    let mut out = String::from("workloads (--workload):\n");
    for w in faultline_workloads::all() {
        out.push_str(&format!("  {:<14} {}\n", w.name(), w.description()));
    }
    out.push_str("\nnemeses (--nemesis, a comma list, or all, or none):\n");
    for k in NemesisKind::ALL {
        out.push_str(&format!("  {:<14} {}\n", k.name(), k.description()));
    }
    out.push_str("\nmodels (faultline check --model):\n");
    for m in ModelKind::ALL {
        out.push_str(&format!("  {:<14} {}\n", m.name(), m.description()));
    }
    out.push_str("\nsystems (--system):\n");
    for (name, help) in crate::system::SYSTEMS {
        out.push_str(&format!("  {name:<14} {help}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_listing_names_every_workload_nemesis_and_model() {
        let text = super::render();
        for name in [
            "register",
            "set",
            "list-append",
            "kill",
            "pause",
            "partition",
            "drop",
            "kv",
            "faultline-node",
            "etcd",
            "http",
        ] {
            assert!(
                text.contains(&format!("  {name} ")),
                "{name} missing:\n{text}"
            );
        }
    }
}
