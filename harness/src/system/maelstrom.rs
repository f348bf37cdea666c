//! `--system maelstrom`: any node speaking Maelstrom's protocol (JSON lines
//! on stdin and stdout), started with `--node-cmd`. The system itself is
//! [`crate::maelstrom::system`] (its clients talk through the router a
//! run sets up); this entry makes the name known to `--system` and
//! `faultline list`.

use super::http::HttpArgs;
use super::{DiskProfile, Registered, UNKNOWN_DISK};

/// The registry entry.
pub const SYSTEM: Registered = Registered {
    name: crate::maelstrom::SYSTEM_NAME,
    help: "any Maelstrom node (JSON lines on stdin/stdout) given by --node-cmd, through faultline's router; workloads echo, unique-ids, broadcast, g-set, g-counter, pn-counter, lin-kv",
    // `--node-cmd`, as the http system declares it.
    flags: <HttpArgs as clap::Args>::augment_args,
    disk: DiskProfile { ..UNKNOWN_DISK },
    build: crate::maelstrom::system::build,
};
