//! What a fault kind is: the [`FaultKind`] trait each file under `faults/`
//! implements for its parameters, and what it declares about itself.

use std::future::Future;

use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::event::Reading;
use super::executor::{Executor, Started};
use super::target::Target;

/// What a fault kind says about itself: for `faultline list`, `--nemesis`
/// and what a run must set up before it can inject it.
#[derive(Debug, Clone, Copy)]
pub struct About {
    /// The step's `do` name in scenarios and `test.json`, and the
    /// `--nemesis` name when the kind is drawn on its own.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// A scenario step using it, as TOML (`{ do = "kill", target = "leader" }`).
    pub example: &'static str,
    /// The `--nemesis` kind it counts as when it is part of another kind's
    /// draw (`isolate` is one of `partition`'s); None: its own.
    pub family: Option<&'static str>,
    /// Whether `--nemesis all` draws it.
    pub in_all: bool,
    /// Whether it needs the disk-fault layer mounted over the nodes' data.
    pub disk_layer: bool,
    /// Whether it needs packet-filter rules (impossible with `--net host`).
    pub firewall: bool,
    /// The fewest nodes it can do anything to.
    pub min_nodes: usize,
}

/// What the random schedule draws a fault from.
#[derive(Debug, Clone, Copy)]
pub struct Draw {
    /// Cluster size.
    pub nodes: usize,
    /// The share of packets a drop fault drops, percent (`--drop-percent`).
    pub drop_percent: u8,
}

/// How `--nemesis` draws a kind's faults.
pub enum Drawn<F: 'static> {
    /// Never: a scenario step only.
    Never,
    /// On its own, by its name (and by `all` when [`About::in_all`]).
    Alone(fn(&Draw, &mut ChaCha8Rng) -> F),
    /// As layouts over a node order. The draw of the family (the kind
    /// named by [`About::family`], or this one) shuffles the node order,
    /// then picks uniformly among the layouts of every kind of the family
    /// (in registry order) that fit the cluster.
    Layouts(&'static [Layout<F>]),
}

/// One way to lay a fault over a shuffled node order.
pub struct Layout<F> {
    /// The fewest nodes it needs.
    pub min_nodes: usize,
    /// The fault laid over the order (a permutation of the node indexes).
    pub lay: fn(&[usize]) -> F,
}

/// A fault kind: its parameters (the fields of its scenario step, serde
/// with `deny_unknown_fields`), what it says about itself, how `--nemesis`
/// draws it, how it starts (the [`Active`](super::executor::Active) it
/// returns knows how to undo it), and how the report reads the events it
/// records.
pub trait FaultKind: Sized + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What the kind says about itself.
    const ABOUT: About;
    /// How `--nemesis` draws it.
    const DRAWN: Drawn<Self> = Drawn::Never;

    /// The target the fault names by role, position or history, if any
    /// ([`Target::Previous`] can then refer to the node it hit first).
    fn target(&self) -> Option<&Target> {
        None
    }

    /// Starts the fault: resolves its targets through `ex`, applies it
    /// through the platform, records what it did. None when it had nothing
    /// to hit.
    fn start(&self, ex: &mut Executor) -> impl Future<Output = Started> + Send;

    /// How the report reads a nemesis event recorded as `f` with `value`,
    /// when it is one of the kind's own events; None otherwise.
    fn read(f: &str, value: &Value) -> Option<Reading> {
        let _ = (f, value);
        None
    }
}
