//! `faultline check`: check histories recorded by faultline or other tools.

use clap::Args;

/// Arguments of `faultline check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// History files to check.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

/// Runs the check and returns the process exit code.
pub fn run(args: &CheckArgs) -> anyhow::Result<i32> {
    anyhow::bail!("checking {} files: the checker is being built", args.files.len())
}
