//! What a run leaves on a host, and its removal: the node processes (by
//! the process groups recorded in `<data_dir>/nX.pid`, only when the
//! process still runs faultline's uploaded binary), faultline's nftables
//! table `inet faultline`, and any mount under the data directory.
//! `faultline clean --hosts FILE` runs it after a harness crash (and ends
//! the local SSH masters a killed harness left, see [`super::control`]); a
//! run runs it at its end and on SIGINT.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use futures_util::future::join_all;

use super::ssh::{connect, Conn, Remote};
use super::HostArgs;

/// The nftables table of faultline's own on each host.
pub const TABLE: &str = "inet faultline";

/// The shell script that removes a run's traces from a host whose data
/// directory is `dir`; prints one line per thing removed.
pub fn script(dir: &str) -> String {
    format!(
        "for f in '{dir}'/n*.pid; do [ -e \"$f\" ] || continue; pid=$(cat \"$f\"); \
           if tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -q '{dir}/bin/'; then \
             kill -KILL -\"$pid\" 2>/dev/null && echo \"killed process group $pid\"; \
             i=0; while kill -0 -\"$pid\" 2>/dev/null && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done; \
           fi; rm -f \"$f\"; done\n\
         if nft list table {TABLE} >/dev/null 2>&1; then nft delete table {TABLE} && echo 'deleted table {TABLE}'; fi\n\
         awk '$2 ~ \"^{dir}/\" {{print $2}}' /proc/mounts | while read -r m; do umount -l \"$m\" && echo \"unmounted $m\"; done\n\
         true"
    )
}

/// Cleans every host of `conns`; one line per thing removed, by host.
pub async fn clean_all(conns: &[Conn]) -> Vec<String> {
    let results = join_all(conns.iter().map(|c| async move {
        let out = c.sh(&script(&c.host.data_dir)).await;
        (c.host.label.clone(), out)
    }))
    .await;
    let mut lines = Vec::new();
    for (host, out) in results {
        match out {
            Ok(o) => lines.extend(o.stdout.lines().map(|l| format!("host {host}: {l}"))),
            Err(e) => lines.push(format!("{e}")),
        }
    }
    lines
}

/// Arguments of `faultline clean`.
#[derive(Debug, Clone, Args)]
pub struct CleanArgs {
    /// The hosts (as `faultline run` takes them).
    #[command(flatten)]
    pub hosts: HostArgs,
}

/// Runs `faultline clean`: exit 0 when every host was reached and cleaned.
pub fn run(args: &CleanArgs) -> anyhow::Result<i32> {
    let hosts = args
        .hosts
        .load()?
        .context("faultline clean needs --hosts FILE or --ssh HOST,...")?;
    let remote = Remote::new().context("starting the SSH runtime")?;
    let control = tempfile::tempdir().context("making a folder for SSH control sockets")?;
    let dir: PathBuf = control.path().to_path_buf();
    let (lines, failed) = remote.block(async move {
        let conns = join_all(hosts.iter().map(|h| connect(h, &dir))).await;
        let mut failed = Vec::new();
        let mut ok = Vec::new();
        for c in conns {
            match c {
                Ok(c) => ok.push(c),
                Err(e) => failed.push(e.to_string()),
            }
        }
        (clean_all(&ok).await, failed)
    })?;
    let mut lines = lines;
    lines.extend(super::control::sweep(&std::env::temp_dir()));
    for l in &lines {
        println!("{l}");
    }
    for f in &failed {
        eprintln!("faultline clean: {f}");
    }
    if lines.is_empty() && failed.is_empty() {
        println!("nothing to clean");
    }
    Ok(if failed.is_empty() { 0 } else { 3 })
}
