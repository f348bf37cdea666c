//! The `faultline` command line: wiring only; each subcommand lives in its own module.

mod check;
mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
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
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Suite(args) => faultline::suite::run(&args),
        cli::Command::Report(args) => report(&args),
        cli::Command::List => {
            print!("{}", faultline::list::render());
            Ok(0)
        }
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("faultline: error: {err:#}");
            std::process::exit(3);
        }
    }
}

/// `faultline report DIR`: rebuilds the run's report.html and junit.xml.
fn report(args: &cli::ReportArgs) -> anyhow::Result<i32> {
    let run = faultline::report::rebuild(&args.dir)?;
    println!("{}", run.dir.join(faultline::report::REPORT_FILE).display());
    println!("{}", run.dir.join(faultline::junit::JUNIT_FILE).display());
    Ok(0)
}

/// Logs to stderr, `RUST_LOG` respected, warnings by default.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
