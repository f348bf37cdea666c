//! Maelstrom's checkers: one per workload (as Maelstrom judges each),
//! `availability` (Maelstrom's `--availability`, which every Maelstrom
//! workload names) and `messages`, the network statistics every Maelstrom
//! run gets. Adding one is its file and one line below.

use crate::checkers::Checker;

registry! {
    /// Every Maelstrom checker, in the order `faultline list` shows them.
    pub const CHECKERS: &[&dyn Checker] = {
        workloads => ECHO, UNIQUE_IDS, BROADCAST, G_SET, G_COUNTER, PN_COUNTER, LIN_KV;
        txn => MAELSTROM_TXN_LIST_APPEND, MAELSTROM_TXN_RW_REGISTER;
        availability => AVAILABILITY;
        net => MESSAGES;
    }
}

pub use crate::checkers::recorded;
