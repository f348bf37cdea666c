//! Maelstrom's checkers: one per workload (as Maelstrom judges each),
//! `availability` (Maelstrom's `--availability`, which every Maelstrom
//! workload names) and `messages`, the network statistics every Maelstrom
//! run gets. Adding one is its file and one line below.

use serde_json::Value;

use crate::checkers::{CheckContext, Checker, CheckerError};

registry! {
    /// Every Maelstrom checker, in the order `faultline list` shows them.
    pub const CHECKERS: &[&dyn Checker] = {
        workloads => ECHO, UNIQUE_IDS, BROADCAST, G_SET, G_COUNTER, PN_COUNTER, LIN_KV;
        txn => MAELSTROM_TXN_LIST_APPEND, MAELSTROM_TXN_RW_REGISTER;
        availability => AVAILABILITY;
        net => MESSAGES;
    }
}

/// The Maelstrom option `option` (a `faultline maelstrom test` flag that
/// `test.json` records among the run's options) of the run whose folder the
/// check looks at; None when it was not given, the check has no run folder
/// (a history checked alone) or the folder has no `test.json`. A
/// `test.json` that cannot be read is an error: a checker must not judge
/// by options the run was not given.
pub fn recorded(ctx: &CheckContext<'_>, option: &str) -> Result<Option<Value>, CheckerError> {
    let Some(dir) = &ctx.run.dir else {
        return Ok(None);
    };
    let test = crate::stored::read_test(dir)
        .map_err(|e| CheckerError::History(format!("the run's {option}: {e:#}")))?;
    Ok(test
        .and_then(|t| t.options.other.get(option).cloned())
        .filter(|v| !v.is_null()))
}
