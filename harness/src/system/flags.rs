//! The flags that choose and configure the system under test, shared by
//! `faultline run` and `faultline bench`: `--system`, and every registered
//! system's own flags, gathered from each system's clap `Args`
//! ([`Registered::flags`]) rather than listed here.
//!
//! [`SystemArgs`] keeps the system flags as they were typed; a system
//! parses its own `Args` from them ([`SystemOptions::parse`]). A flag two
//! systems take is one clap argument (one system declares it, the other
//! flattens that system's `Args`), so it appears once on the command line.

use std::ffi::{OsStr, OsString};

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::Value;

use super::{faultline_node, names, parse_name, registered, Registered, SystemError, SYSTEMS};

/// A system flag given on the command line: its clap id and its values as
/// typed (none for a switch).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Given {
    id: String,
    values: Vec<OsString>,
}

/// `--system` and the system flags given, for `faultline run` and
/// `faultline bench` (flattened into their arguments).
#[derive(Debug, Clone, Default)]
pub struct SystemArgs {
    /// The system under test (`--system`).
    pub system: String,
    /// The system flags given, in the order systems declare them.
    given: Vec<Given>,
}

/// The flags system `r` takes, as its `Args` declares them.
fn own_flags(r: &Registered) -> Vec<Arg> {
    (r.flags)(Command::new(r.name))
        .get_arguments()
        .cloned()
        .collect()
}

/// Every system flag, each once, in the order of [`SYSTEMS`].
fn all_flags() -> Vec<Arg> {
    let mut flags: Vec<Arg> = Vec::new();
    for r in SYSTEMS {
        for arg in own_flags(r) {
            if flags.iter().all(|f| f.get_id() != arg.get_id()) {
                flags.push(arg);
            }
        }
    }
    flags
}

/// `--system`, its help naming every registered system.
fn system_arg() -> Arg {
    let mut known = names();
    let last = known.pop().unwrap_or_default();
    Arg::new("system")
        .long("system")
        .value_name("SYSTEM")
        .default_value(faultline_node::NAME)
        .value_parser(parse_name)
        .help(format!(
            "The system under test (see `faultline list`): {} or {last}",
            known.join(", ")
        ))
}

impl clap::Args for SystemArgs {
    fn augment_args(cmd: Command) -> Command {
        // Each flag takes its place in the help after the ones before it,
        // not the place it had in its own system's command.
        all_flags()
            .into_iter()
            .map(|a| a.display_order(None))
            .fold(cmd.arg(system_arg()), Command::arg)
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for SystemArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = SystemArgs::default();
        args.update_from_arg_matches(m)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        if let Some(name) = m.get_one::<String>("system") {
            self.system = name.clone();
        }
        for arg in all_flags() {
            let id = arg.get_id().as_str();
            let typed = matches!(m.try_contains_id(id), Ok(true))
                && m.value_source(id) == Some(ValueSource::CommandLine);
            if !typed {
                continue;
            }
            let values = if arg.get_action().takes_values() {
                m.get_raw(id)
                    .into_iter()
                    .flatten()
                    .map(OsStr::to_os_string)
                    .collect()
            } else {
                Vec::new()
            };
            self.given.retain(|g| g.id != id);
            self.given.push(Given {
                id: id.to_string(),
                values,
            });
        }
        Ok(())
    }
}

/// As `test.json` and `bench.json` hold them: `system`, then every system
/// flag by its id (a switch as a boolean, a repeatable flag as a list,
/// any other as its text or null), given or not.
impl Serialize for SystemArgs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let flags = all_flags();
        let mut map = s.serialize_map(Some(flags.len() + 1))?;
        map.serialize_entry("system", &self.system)?;
        for arg in &flags {
            map.serialize_entry(arg.get_id().as_str(), &self.value_of(arg))?;
        }
        map.end()
    }
}

impl SystemArgs {
    /// The options that build the system `--system` names.
    pub fn selected(&self) -> SystemOptions {
        self.options(&self.system)
    }

    /// The options that build the system named `name` with these flags.
    pub fn options(&self, name: &str) -> SystemOptions {
        SystemOptions {
            name: name.to_string(),
            given: self.given.clone(),
        }
    }

    /// Puts `values` before those given to the flag `id` (a scenario's
    /// node arguments come before the user's, so a user's repeated flag
    /// wins); nothing when `values` is empty.
    pub fn prepend(&mut self, id: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let mut all: Vec<OsString> = values.iter().map(OsString::from).collect();
        match self.given.iter_mut().find(|g| g.id == id) {
            Some(g) => {
                all.append(&mut g.values);
                g.values = all;
            }
            None => self.given.push(Given {
                id: id.to_string(),
                values: all,
            }),
        }
    }

    /// Refuses a flag given that none of the systems `names` takes (for
    /// `faultline bench --compare`, where each system takes its own).
    pub fn refuse_flags_of_others(&self, names: &[&str]) -> Result<(), SystemError> {
        refuse_flags_of_others(&self.given, names)
    }

    /// The JSON value of flag `arg` (see the [`Serialize`] impl): its
    /// values as given, else its default ones.
    fn value_of(&self, arg: &Arg) -> Value {
        let given = self.given.iter().find(|g| g.id == arg.get_id().as_str());
        let text = |v: &OsStr| Value::String(v.to_string_lossy().into_owned());
        let values: Vec<Value> = match given {
            Some(g) => g.values.iter().map(|v| text(v)).collect(),
            None => arg.get_default_values().iter().map(|v| text(v)).collect(),
        };
        match arg.get_action() {
            ArgAction::Append => Value::Array(values),
            action if !action.takes_values() => Value::Bool(given.is_some()),
            _ => values.last().cloned().unwrap_or(Value::Null),
        }
    }
}

/// The system flags given, for building the system named `name`.
#[derive(Debug, Clone)]
pub struct SystemOptions {
    /// The `--system` name of the system to build.
    pub name: String,
    given: Vec<Given>,
}

impl SystemOptions {
    /// The system's own `Args` (`A`), from the flags given that it takes.
    pub fn parse<A: FromArgMatches>(&self) -> Result<A, SystemError> {
        let entry = registered(&self.name)?;
        let own = own_flags(entry);
        let mut argv: Vec<OsString> = Vec::new();
        for g in &self.given {
            if let Some(arg) = own.iter().find(|a| a.get_id() == g.id.as_str()) {
                argv.extend(words(arg, &g.values));
            }
        }
        let cmd = (entry.flags)(Command::new(entry.name)).no_binary_name(true);
        let bad = |e: clap::Error| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            SystemError::BadOption(format!("--system {}: {first}", self.name))
        };
        let matches = cmd.try_get_matches_from(argv).map_err(bad)?;
        A::from_arg_matches(&matches).map_err(bad)
    }

    /// These options without the flags the system does not take (for
    /// `faultline bench --compare`, where each flag is meant for one of the
    /// systems compared).
    pub fn only_own(mut self) -> SystemOptions {
        if let Ok(entry) = registered(&self.name) {
            let own = own_flags(entry);
            self.given
                .retain(|g| own.iter().any(|a| a.get_id() == g.id.as_str()));
        }
        self
    }

    /// Refuses a flag given that the system does not take, naming the
    /// systems that take it.
    pub(super) fn refuse_foreign_flags(&self) -> Result<(), SystemError> {
        refuse_flags_of_others(&self.given, &[self.name.as_str()])
    }
}

/// Refuses a flag in `given` that none of the systems `names` takes, naming
/// the systems that take it.
fn refuse_flags_of_others(given: &[Given], names: &[&str]) -> Result<(), SystemError> {
    let takes = |r: &Registered, id: &str| own_flags(r).iter().any(|a| a.get_id() == id);
    let entries = names
        .iter()
        .map(|n| registered(n))
        .collect::<Result<Vec<_>, _>>()?;
    for arg in all_flags() {
        let id = arg.get_id().as_str();
        let foreign = entries.iter().all(|r| !takes(r, id));
        if foreign && given.iter().any(|g| g.id == id) {
            let takers: Vec<&str> = SYSTEMS
                .iter()
                .filter(|r| takes(r, id))
                .map(|r| r.name)
                .collect();
            return Err(SystemError::BadOption(format!(
                "--{} is for --system {}, not --system {}",
                arg.get_long().unwrap_or(id),
                takers.join(" or "),
                names.join(" or ")
            )));
        }
    }
    Ok(())
}

/// The command-line words of flag `arg` given `values` (`--flag=value`
/// each; a switch alone).
fn words(arg: &Arg, values: &[OsString]) -> Vec<OsString> {
    let flag = format!("--{}", arg.get_long().unwrap_or(arg.get_id().as_str()));
    if !arg.get_action().takes_values() {
        return vec![OsString::from(flag)];
    }
    values
        .iter()
        .map(|v| {
            let mut word = OsString::from(format!("{flag}="));
            word.push(v);
            word
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        system: SystemArgs,
    }

    fn parse(args: &[&str]) -> SystemArgs {
        Cli::try_parse_from(std::iter::once("faultline").chain(args.iter().copied()))
            .unwrap()
            .system
    }

    #[test]
    fn a_flag_two_systems_take_is_one_argument_declared_alike() {
        let mut seen: Vec<(String, Option<String>, String)> = Vec::new();
        for r in SYSTEMS {
            for arg in own_flags(r) {
                let this = (
                    arg.get_id().to_string(),
                    arg.get_long().map(str::to_string),
                    arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                );
                if let Some(other) = seen.iter().find(|s| s.0 == this.0) {
                    assert_eq!(other, &this, "{} declares {} differently", r.name, this.0);
                }
                seen.push(this);
            }
        }
        let longs: Vec<String> = all_flags()
            .iter()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        assert_eq!(
            longs,
            [
                "node-bin",
                "node-arg",
                "etcd-bin",
                "etcd-version",
                "etcd-arg",
                "etcd-serializable-reads",
                "node-cmd",
                "client-cmd",
                "nats-bin",
                "nats-version",
                "nats-sync-interval",
                "nats-read",
                "postgres-bin",
                "postgres-isolation",
                "postgres-replication",
                "postgres-reads",
                "postgres-set",
                "galera-bin",
                "galera-isolation",
                "galera-durable",
                "galera-arg"
            ]
        );
    }

    #[test]
    fn each_system_parses_its_own_flags_as_typed() {
        let args = parse(&[
            "--system",
            "etcd",
            "--etcd-bin",
            "/opt/etcd",
            "--etcd-serializable-reads",
            "--node-arg=--bug=x",
            "--node-arg",
            "two words",
        ]);
        assert_eq!(args.system, "etcd");
        let etcd: crate::system::etcd::EtcdArgs = args.selected().parse().unwrap();
        assert_eq!(
            etcd.etcd_bin.as_deref(),
            Some(std::path::Path::new("/opt/etcd"))
        );
        assert!(etcd.etcd_serializable_reads);
        let node: crate::system::faultline_node::FaultlineNodeArgs =
            args.options(faultline_node::NAME).parse().unwrap();
        assert_eq!(node.node_args, ["--bug=x", "two words"]);
        assert_eq!(node.node_bin, None);
    }

    #[test]
    fn a_pinned_version_and_a_binary_of_ones_own_exclude_each_other() {
        let args = parse(&["--system", "nats", "--nats-version", "2.12.1"]);
        let nats: crate::system::nats::NatsArgs = args.selected().parse().unwrap();
        assert_eq!(nats.nats_version.as_deref(), Some("2.12.1"));
        let both = Cli::try_parse_from([
            "faultline",
            "--etcd-version",
            "3.5.1",
            "--etcd-bin",
            "/opt/etcd",
        ]);
        assert!(both.is_err(), "--etcd-version with --etcd-bin was accepted");
        let args = parse(&["--system", "etcd", "--etcd-arg=--snapshot-count=100"]);
        let etcd: crate::system::etcd::EtcdArgs = args.selected().parse().unwrap();
        assert_eq!(etcd.etcd_args, ["--snapshot-count=100"]);
    }

    #[test]
    fn a_flag_of_another_system_is_refused_naming_its_systems() {
        let args = parse(&["--etcd-bin", "/opt/etcd"]);
        let err = args.selected().refuse_foreign_flags().unwrap_err();
        assert_eq!(
            err.to_string(),
            "--etcd-bin is for --system etcd, not --system faultline-node"
        );
        let args = parse(&["--system", "etcd", "--node-cmd", "kv {id}"]);
        let err = args.selected().refuse_foreign_flags().unwrap_err();
        assert_eq!(
            err.to_string(),
            "--node-cmd is for --system http or exec or maelstrom, not --system etcd"
        );
        assert!(args.options("exec").refuse_foreign_flags().is_ok());
        let only = args.options("etcd").only_own();
        assert!(only.refuse_foreign_flags().is_ok());
        assert!(args.refuse_flags_of_others(&["etcd", "http"]).is_ok());
        let err = args.refuse_flags_of_others(&["etcd", "nats"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--node-cmd is for --system http or exec or maelstrom, not --system etcd or nats"
        );
    }

    #[test]
    fn the_record_holds_every_flag_given_or_not() {
        let mut args = parse(&["--nats-read", "leader", "--node-arg=--x"]);
        args.prepend(
            faultline_node::NODE_ARGS,
            &["--snapshot-every".into(), "9".into()],
        );
        let json = serde_json::to_value(&args).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "system": "faultline-node",
                "node_bin": null,
                "node_args": ["--snapshot-every", "9", "--x"],
                "etcd_bin": null,
                "etcd_version": null,
                "etcd_args": [],
                "etcd_serializable_reads": false,
                "node_cmd": null,
                "client_cmd": null,
                "nats_bin": null,
                "nats_version": null,
                "nats_sync_interval": null,
                "nats_read": "leader",
                "postgres_bin": null,
                "postgres_isolation": null,
                "postgres_replication": "async",
                "postgres_reads": "primary",
                "postgres_set": [],
                "galera_bin": null,
                "galera_isolation": null,
                "galera_durable": false,
                "galera_args": [],
            })
        );
        let mut none = parse(&[]);
        none.prepend(faultline_node::NODE_ARGS, &[]);
        assert!(none.selected().refuse_foreign_flags().is_ok());
    }
}
