//! The registries of every layer, joined: what the `faultline` binary
//! wires. Workloads, checkers and report sections are each defined in the
//! layer they belong to (faultline's, Maelstrom's) and found here by name.

use anyhow::Context;
use faultline_workloads::Workload;

use crate::checkers::{Checker, EVERY_RUN};
use crate::record::TestRecord;
use crate::report::{Extensions, Section};

/// Every checker, in the order `faultline list` shows them.
pub fn checkers() -> impl Iterator<Item = &'static dyn Checker> {
    crate::checkers::CHECKERS
        .iter()
        .chain(crate::maelstrom::checkers::CHECKERS)
        .copied()
}

/// The checker named `name`.
pub fn checker(name: &str) -> Option<&'static dyn Checker> {
    checkers().find(|c| c.name() == name)
}

/// A checker name nobody registered.
#[derive(Debug, thiserror::Error)]
#[error("no checker is named {0:?} (faultline list checkers)")]
pub struct UnknownChecker(pub String);

/// The checkers of a run of `workload`: the ones it names, then the ones
/// every run gets.
pub fn run_checkers(workload: &dyn Workload) -> Result<Vec<&'static dyn Checker>, UnknownChecker> {
    workload
        .checkers()
        .iter()
        .copied()
        .chain(EVERY_RUN)
        .map(|name| checker(name).ok_or_else(|| UnknownChecker(name.to_string())))
        .collect()
}

/// The checkers of the run `test.json` describes (to check it again).
pub fn test_checkers(test: &TestRecord) -> anyhow::Result<Vec<&'static dyn Checker>> {
    let name = test
        .options
        .workload
        .as_deref()
        .context("test.json names no workload: cannot tell which checkers judge it")?;
    let workload = faultline_workloads::by_name(name)
        .with_context(|| format!("the workload of test.json, {name}"))?;
    Ok(run_checkers(workload.as_ref())?)
}

/// What report pages are drawn with: every section, every system's
/// reproduce line.
pub fn report() -> Extensions {
    Extensions {
        sections: sections(),
        reproduce,
    }
}

/// The command line that replays the run `test.json` describes.
pub fn reproduce(test: &TestRecord) -> String {
    crate::maelstrom::cli::reproduce(test).unwrap_or_else(|| crate::report::reproduce_command(test))
}

/// Every report section, in the order a page shows what they draw.
pub fn sections() -> Vec<&'static dyn Section> {
    crate::report::SECTIONS
        .iter()
        .chain(crate::maelstrom::SECTIONS)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_names_registered_checkers_and_names_are_unique() {
        for w in faultline_workloads::all() {
            let found = run_checkers(w.as_ref()).unwrap();
            assert_eq!(found.len(), w.checkers().len() + EVERY_RUN.len());
        }
        let mut names: Vec<&str> = checkers().map(|c| c.name()).collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all, "two checkers share a name");
        assert!(checker("nothing").is_none());
    }

    #[test]
    fn every_checker_kind_a_section_draws_is_written_by_some_checker() {
        for s in sections() {
            assert!(
                checkers().any(|c| c.kind() == s.kind()),
                "no checker writes {}",
                s.kind()
            );
        }
    }
}
