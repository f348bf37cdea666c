//! The fault kinds, one file each, and their registry.
//!
//! A kind's file holds its parameters (the fields of its scenario step),
//! what `faultline list` says about it, how `--nemesis` draws it, how it
//! starts and what undoes it, the events it records and how the report
//! reads them (see [`FaultKind`]). The registry below generates from one
//! line per kind the serde [`Fault`] (the scenario step and `test.json`
//! format: `{ do = "kill", target = "leader" }`), [`NemesisKind`], the
//! dispatch of starts and event readings, and [`FAULT_STEPS`].
//!
//! Adding a kind: write `faults/NAME.rs` with a parameter struct that
//! implements [`FaultKind`] (its type named like the step, in CamelCase)
//! and add its line to the registry, which declares the module.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::{FaultEvent, Reading};
use super::executor::{Executor, Start, Started};
use super::kind::{About, Draw, Drawn, FaultKind};
use super::target::Target;

/// Generates, from `module::Type` per kind: the module's declaration, [`Fault`], [`NemesisKind`],
/// [`FAULT_STEPS`], the registry's table and the dispatch of a fault to
/// its kind.
macro_rules! registry {
    ($($module:ident :: $kind:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// One fault to start. In scenario files a fault is a step whose `do`
        /// is its name (`{ do = "kill", target = "leader" }`); in `test.json`
        /// the random schedule's faults are written the same way.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "do", rename_all = "kebab-case")]
        pub enum Fault {
            $(
                #[doc = concat!("See [`", stringify!($module), "::", stringify!($kind), "`].")]
                $kind($module::$kind),
            )+
        }

        /// A kind of fault: one per file under `faults/`. `--nemesis` names
        /// those drawn on their own or as a family's head (`partition`
        /// draws `isolate` too); the others are scenario steps only.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum NemesisKind {
            $(
                #[doc = concat!("See [`", stringify!($module), "::", stringify!($kind), "`].")]
                $kind,
            )+
        }

        $(
            impl From<$module::$kind> for Fault {
                fn from(f: $module::$kind) -> Fault {
                    Fault::$kind(f)
                }
            }
        )+

        /// The registered kinds, in the order of [`NemesisKind`].
        const ENTRIES: &[Entry] = &[$(Entry::of::<$module::$kind>(NemesisKind::$kind)),+];

        impl Fault {
            /// The kind of the fault (not its family: see [`Fault::kind`]).
            pub fn own_kind(&self) -> NemesisKind {
                match self {
                    $(Fault::$kind(_) => NemesisKind::$kind,)+
                }
            }

            /// The target the fault names by role, position or history.
            pub fn target(&self) -> Option<&Target> {
                match self {
                    $(Fault::$kind(f) => f.target(),)+
                }
            }
        }

        impl Start for Fault {
            fn start<'a>(
                &'a self,
                ex: &'a mut Executor,
            ) -> impl std::future::Future<Output = Started> + Send + 'a {
                async move {
                    match self {
                        $(Fault::$kind(f) => f.start(ex).await,)+
                    }
                }
            }
        }
    };
}

registry! {
    kill::Kill,
    pause::Pause,
    isolate::Isolate,
    partition::Partition,
    star::Star,
    drop::Drop,
    power_loss::PowerLoss,
    corrupt::Corrupt,
    stutter::Stutter,
}

/// The `do` names of every [`Fault`], for telling fault steps from the
/// other steps of a scenario.
pub const FAULT_STEPS: &[&str] = &{
    let mut names = [""; ENTRIES.len()];
    let mut i = 0;
    while i < ENTRIES.len() {
        names[i] = ENTRIES[i].about.name;
        i += 1;
    }
    names
};

/// A fault laid over a node order, by one of a family's layouts.
type Laid = Box<dyn Fn(&[usize]) -> Fault>;

/// One registered kind: what it says about itself, and its draw and
/// reading, instantiated for its type.
struct Entry {
    kind: NemesisKind,
    about: About,
    /// Whether `--nemesis` never draws it.
    only_a_step: bool,
    /// One fault, drawn on its own (None: not drawn alone).
    alone: fn(&Draw, &mut ChaCha8Rng) -> Option<Fault>,
    /// Its layouts that fit `n` nodes.
    layouts: fn(usize) -> Vec<Laid>,
    read: fn(&str, &Value) -> Option<Reading>,
}

impl Entry {
    const fn of<K: FaultKind>(kind: NemesisKind) -> Entry
    where
        Fault: From<K>,
    {
        Entry {
            kind,
            about: K::ABOUT,
            only_a_step: matches!(K::DRAWN, Drawn::Never),
            alone: alone::<K>,
            layouts: layouts::<K>,
            read: K::read,
        }
    }
}

fn alone<K: FaultKind>(draw: &Draw, rng: &mut ChaCha8Rng) -> Option<Fault>
where
    Fault: From<K>,
{
    match K::DRAWN {
        Drawn::Alone(one) => Some(one(draw, rng).into()),
        Drawn::Layouts(_) | Drawn::Never => None,
    }
}

fn layouts<K: FaultKind>(n: usize) -> Vec<Laid>
where
    Fault: From<K>,
{
    let Drawn::Layouts(all) = K::DRAWN else {
        return Vec::new();
    };
    all.iter()
        .filter(|l| l.min_nodes <= n)
        .map(|l| Box::new(move |order: &[usize]| (l.lay)(order).into()) as Laid)
        .collect()
}

/// How the report reads a nemesis event recorded as `f` with `value`: by
/// the kind whose event it is, or as one of the shared [`FaultEvent`]s;
/// None for events no kind knows (other tools' nemeses).
pub fn read_event(f: &str, value: &Value) -> Option<Reading> {
    ENTRIES
        .iter()
        .find_map(|e| (e.read)(f, value))
        .or_else(|| FaultEvent::from_parts(f, value).map(|e| e.reading(f)))
}

/// Draws a family's fault: shuffles the node order, then lays one of the
/// family's layouts (every member's, in registry order) over it, drawn
/// uniformly.
fn draw_layouts(family: NemesisKind, draw: &Draw, rng: &mut ChaCha8Rng) -> Option<Fault> {
    let mut order: Vec<usize> = (0..draw.nodes).collect();
    order.shuffle(rng);
    let all: Vec<Laid> = ENTRIES
        .iter()
        .filter(|e| e.kind.family() == family)
        .flat_map(|e| (e.layouts)(draw.nodes))
        .collect();
    all.choose(rng).map(|lay| lay(&order))
}

impl NemesisKind {
    /// Every kind, in registry order.
    pub const REGISTERED: &'static [NemesisKind] = &{
        let mut kinds = [ENTRIES[0].kind; ENTRIES.len()];
        let mut i = 0;
        while i < ENTRIES.len() {
            kinds[i] = ENTRIES[i].kind;
            i += 1;
        }
        kinds
    };

    fn entry(self) -> &'static Entry {
        &ENTRIES[self as usize]
    }

    /// What the kind says about itself.
    pub fn about(self) -> About {
        self.entry().about
    }

    /// One fault of the kind for the random schedule, drawn from `rng`;
    /// None when `--nemesis` does not draw the kind itself.
    pub fn draw(self, draw: &Draw, rng: &mut ChaCha8Rng) -> Option<Fault> {
        if !self.is_drawn() {
            return None;
        }
        (self.entry().alone)(draw, rng).or_else(|| draw_layouts(self, draw, rng))
    }

    /// The name `--nemesis` and `faultline list` use.
    pub fn name(self) -> &'static str {
        self.about().name
    }

    /// One line of help.
    pub fn description(self) -> &'static str {
        self.about().help
    }

    /// The kind `--nemesis` counts it as: its family's head, or itself.
    pub fn family(self) -> NemesisKind {
        let Some(head) = self.about().family else {
            return self;
        };
        NemesisKind::named(head).unwrap_or(self)
    }

    /// The registered kind called `name`.
    pub fn named(name: &str) -> Option<NemesisKind> {
        NemesisKind::REGISTERED
            .iter()
            .copied()
            .find(|k| k.name() == name)
    }

    /// Whether `--nemesis NAME` draws the kind.
    pub fn is_drawn(self) -> bool {
        self.about().family.is_none() && !self.entry().only_a_step
    }

    /// The kinds `--nemesis` knows, in the order `faultline list` shows
    /// them.
    pub fn drawn() -> Vec<NemesisKind> {
        NemesisKind::REGISTERED
            .iter()
            .copied()
            .filter(|k| k.is_drawn())
            .collect()
    }

    /// What `--nemesis all` means: the process and network faults. Disk
    /// faults are asked for by name (`all,power-loss`): they mount the
    /// disk-fault layer, which costs throughput.
    pub fn classic() -> Vec<NemesisKind> {
        NemesisKind::drawn()
            .into_iter()
            .filter(|k| k.about().in_all)
            .collect()
    }

    /// Whether the kind needs the disk-fault layer mounted over the nodes' data.
    pub fn needs_disk_layer(self) -> bool {
        self.about().disk_layer
    }

    /// Whether the kind needs packet-filter rules (not with `--net host`).
    pub fn needs_firewall(self) -> bool {
        self.about().firewall
    }

    /// Whether the kind can do anything to a cluster of `n` nodes.
    pub fn possible_with(self, n: usize) -> bool {
        n >= self.about().min_nodes
    }
}

impl std::fmt::Display for NemesisKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Fault {
    /// The step's `do` name.
    pub fn name(&self) -> &'static str {
        self.own_kind().name()
    }

    /// The `--nemesis` kind the fault belongs to (an isolation is a
    /// partition).
    pub fn kind(&self) -> NemesisKind {
        self.own_kind().family()
    }

    /// Whether the fault needs the disk-fault layer mounted.
    pub fn needs_disk_layer(&self) -> bool {
        self.kind().needs_disk_layer()
    }

    /// Whether the fault names a node by role, position or history
    /// ([`Target::Previous`] can then refer to it).
    pub fn names_a_target(&self) -> bool {
        self.target().is_some()
    }
}

#[cfg(test)]
mod tests;
