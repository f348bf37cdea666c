//! The `faultline` command line: wiring only; each subcommand lives in its own module.

mod check;
mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Check(args) => check::run(&args),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("faultline: error: {err:#}");
            std::process::exit(3);
        }
    }
}
