//! Where a run's nodes run: the plan's own platform (local processes in
//! the run's namespace, or remote hosts), or the platform a system brings
//! along in its place (`crate::registry::OWN_PLATFORMS`): Maelstrom's nodes
//! talk only to the harness's router, which makes the network faults
//! itself. Everything else of the run (plan, session, final reads,
//! records, report) is the same for all.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::maelstrom::system::{self as maelstrom, NetOptions};
use crate::nemesis::SharedPlatform;

use super::{BadOptions, Plan, RunArgs};

/// The platform of a run, and what it must be told when the test starts.
pub struct Wired {
    /// Where the nodes run.
    pub platform: SharedPlatform,
    /// Told the test's time zero (a platform's own clock), if it has one.
    pub zero: Option<Box<dyn Fn(Instant) + Send + Sync>>,
}

/// Refuses, before anything is prepared, the options the platform of the
/// system `args` names cannot honour.
pub fn check(args: &RunArgs) -> Result<(), BadOptions> {
    if args.system.system != crate::maelstrom::SYSTEM_NAME {
        return match args.platform.keys().next() {
            Some(key) => Err(BadOptions(format!(
                "{key} is an option of --system maelstrom, not --system {}",
                args.system.system
            ))),
            None => Ok(()),
        };
    }
    if args.hosts.remote() {
        return Err(BadOptions(
            "--hosts and --ssh are not available with --system maelstrom: its nodes talk \
             through the harness's router, on this machine"
                .into(),
        ));
    }
    let disk = args
        .nemesis
        .0
        .iter()
        .find(|k| k.needs_disk_layer() || k.name() == "corrupt");
    if let Some(k) = disk {
        return Err(BadOptions(format!(
            "--nemesis {}: not available with --system maelstrom (kill, pause, partition and drop are)",
            k.name()
        )));
    }
    if args.disk_faults {
        return Err(BadOptions(
            "--disk-faults: not available with --system maelstrom".into(),
        ));
    }
    Ok(())
}

/// The platform `plan`'s nodes run on, started: for a system with a
/// platform of its own, that one, the plan's nodes and system wired to it.
pub fn start(plan: &mut Plan) -> anyhow::Result<Wired> {
    if plan.system.name() != crate::maelstrom::SYSTEM_NAME {
        return Ok(Wired {
            platform: plan.platform()?,
            zero: None,
        });
    }
    if plan.disk_layer {
        return Err(BadOptions(
            "the scenario damages disks: not available with --system maelstrom".into(),
        )
        .into());
    }
    let net: NetOptions = serde_json::to_value(&plan.args.platform)
        .and_then(serde_json::from_value)
        .map_err(|e| BadOptions(format!("the Maelstrom network options: {e}")))?;
    plan.specs = maelstrom::layout(plan.specs.len(), &plan.dir.path);
    let command = plan.system.command(0, &plan.specs);
    let started = maelstrom::start(
        command,
        &plan.args.workload,
        plan.specs.clone(),
        &plan.dir.path,
        plan.seed,
        &net,
    )?;
    plan.system = started.system;
    Ok(Wired {
        platform: Arc::new(Mutex::new(started.platform)),
        zero: Some(started.zero),
    })
}
