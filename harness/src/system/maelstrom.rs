//! `--system maelstrom`: any node speaking Maelstrom's protocol (JSON lines
//! on stdin and stdout), started with `--node-cmd`. Its nodes have no
//! network of their own and no client API, so a run goes through
//! [`crate::maelstrom`] (the router, its services, workloads and checkers)
//! rather than through a [`super::System`]; this entry makes the name
//! known to `--system` and `faultline list`.

use super::http::HttpArgs;
use super::{DiskProfile, Registered, SystemError, SystemOptions, UNKNOWN_DISK};
use std::sync::Arc;

/// The registry entry.
pub const SYSTEM: Registered = Registered {
    name: crate::maelstrom::SYSTEM_NAME,
    help: "any Maelstrom node (JSON lines on stdin/stdout) given by --node-cmd, through faultline's router; workloads echo, unique-ids, broadcast, g-set, g-counter, pn-counter, lin-kv",
    // `--node-cmd`, as the http system declares it.
    flags: <HttpArgs as clap::Args>::augment_args,
    disk: DiskProfile { ..UNKNOWN_DISK },
    build,
};

fn build(_opts: &SystemOptions) -> Result<Arc<dyn super::System>, SystemError> {
    Err(SystemError::BadOption(
        "--system maelstrom runs only under `faultline run` and `faultline maelstrom test`".into(),
    ))
}
