//! The `faultline` command line: wiring only; each subcommand lives in its own module.

mod check;
mod cli;
mod maelstrom_cli;
mod serve_cli;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

fn main() {
    let matches = cli::Cli::command()
        .try_get_matches()
        .unwrap_or_else(|e| usage_error(e));
    let mut cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| usage_error(e));
    // Every run records the command line it was started with (its report's
    // Reproduce line).
    faultline::record::Invocation {
        args: std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        seed_given: seed_given(&matches),
    }
    .remember();
    // A scenario's defaults apply only to options not given explicitly.
    let explicit = |sub: &clap::ArgMatches| -> Vec<String> {
        [
            "workload",
            "nodes",
            "time_limit",
            "rate",
            "request_timeout_ms",
            "concurrency",
        ]
        .into_iter()
        .filter(|id| sub.value_source(id) == Some(ValueSource::CommandLine))
        .map(str::to_string)
        .collect()
    };
    match (&mut cli.command, matches.subcommand()) {
        (cli::Command::Run(args), Some(("run", sub))) => args.explicit = explicit(sub),
        (cli::Command::Explore(args), Some(("explore", sub))) => args.run.explicit = explicit(sub),
        _ => {}
    }
    // `run` enters its network namespace first, while the process has one
    // thread: nothing may start a thread before it.
    let code = match cli.command {
        cli::Command::Run(args) => {
            init_tracing();
            faultline::run::run(args)
        }
        cli::Command::Bench(args) => {
            init_tracing();
            faultline::bench::run(args)
        }
        cli::Command::Explore(args) => faultline::explore::run(args),
        cli::Command::Shrink(args) => faultline::explore::shrink::run(&args),
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Suite(args) => faultline::suite::run(&args),
        cli::Command::Report(args) => report(&args),
        cli::Command::Maelstrom(args) => {
            init_tracing();
            maelstrom_cli::run(args)
        }
        cli::Command::Clean(args) => faultline_platform::hosts::clean::run(&args),
        cli::Command::List(args) => list(&args),
        cli::Command::Install(args) => install(&args),
        cli::Command::Scenario(args) => scenario(&args),
        cli::Command::Serve(args) => serve_cli::serve(&args),
        cli::Command::Trend(args) => serve_cli::trend(&args),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("faultline: error: {err:#}");
            let code = if is_usage(&err) {
                faultline::exit::USAGE
            } else {
                faultline::exit::FAILURE
            };
            std::process::exit(code);
        }
    }
}

/// Whether the innermost subcommand was given `--seed` on the command line.
fn seed_given(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    while let Some((_, sub)) = m.subcommand() {
        m = sub;
    }
    matches!(m.try_contains_id("seed"), Ok(true))
        && m.value_source("seed") == Some(ValueSource::CommandLine)
}

/// Whether `err` says the command line was wrong (an option of another
/// system, values that do not fit, an unknown scenario) rather than that
/// the harness failed.
fn is_usage(err: &anyhow::Error) -> bool {
    use faultline::scenario::ScenarioError;
    use faultline::system::SystemError;
    err.chain().any(|e| {
        e.is::<faultline::run::BadOptions>()
            || matches!(
                e.downcast_ref::<SystemError>(),
                Some(SystemError::BadOption(_) | SystemError::Unknown(_))
            )
            || matches!(
                e.downcast_ref::<ScenarioError>(),
                Some(ScenarioError::Unknown { .. })
            )
    })
}

/// Prints clap's message and exits: 0 for `--help` and `--version`,
/// [`faultline::exit::USAGE`] for a command line that is wrong (never a verdict's code).
fn usage_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => std::process::exit(0),
        _ => std::process::exit(faultline::exit::USAGE),
    }
}

/// `faultline list [WHAT]`: prints the listing, exit 0.
fn list(args: &cli::ListArgs) -> anyhow::Result<i32> {
    let scenarios = faultline::scenario::known(args.scenarios.as_deref())?;
    print!(
        "{}",
        faultline::list::render(args.what.as_deref(), &scenarios)?
    );
    Ok(0)
}

/// `faultline install SYSTEM VERSION...`: each version from the cache or
/// fetched into it; prints where each binary is, exit 0.
fn install(args: &cli::InstallArgs) -> anyhow::Result<i32> {
    use anyhow::Context;
    use faultline::system::pinned;
    let Some(p) = pinned::PINNABLE.iter().find(|p| p.system == args.system) else {
        let known: Vec<&str> = pinned::PINNABLE.iter().map(|p| p.system).collect();
        return Err(faultline::system::SystemError::BadOption(format!(
            "faultline install: {:?} cannot be pinned; systems that can: {}",
            args.system,
            known.join(", ")
        ))
        .into());
    };
    for version in &args.versions {
        let installed = pinned::resolve(p, version, pinned::Progress::Stderr)
            .with_context(|| format!("faultline install {} {version}", p.system))?;
        println!(
            "{} {}: {} (sha256 {})",
            p.system,
            installed.version,
            installed.binary_path().display(),
            installed.sha256
        );
    }
    Ok(0)
}

/// `faultline scenario show NAME`.
fn scenario(args: &cli::ScenarioArgs) -> anyhow::Result<i32> {
    match &args.action {
        cli::ScenarioAction::Show { name, scenarios } => {
            let known = faultline::scenario::known(scenarios.as_deref())?;
            let s = faultline::scenario::find(&known, name)?;
            print!("{}", faultline::scenario::to_toml(&s));
            Ok(0)
        }
    }
}

/// `faultline report DIR`: rebuilds the run's report.html and junit.xml;
/// a run interrupted before its verdict is checked first, and the exit
/// code is then its verdict's.
fn report(args: &cli::ReportArgs) -> anyhow::Result<i32> {
    use faultline::report::interrupted;
    let checked = if interrupted::unchecked(&args.dir) {
        Some(interrupted::check(
            &args.dir,
            faultline::registry::test_checkers,
        )?)
    } else {
        None
    };
    let run = faultline::report::rebuild(&args.dir, &faultline::registry::report())?;
    println!("{}", run.dir.join(faultline::report::REPORT_FILE).display());
    println!("{}", run.dir.join(faultline::junit::JUNIT_FILE).display());
    match checked {
        Some(results) => {
            println!("{}", results.summary());
            Ok(results.verdict.exit_code())
        }
        None => Ok(0),
    }
}

/// Logs to stderr, `RUST_LOG` respected, warnings by default; colour codes
/// only when stderr is a terminal (never into a file or a pipe).
fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,fuser=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
