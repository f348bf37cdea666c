//! The `faultline-node` binary: parses the command line, starts a
//! [`Server`](faultline_node::server::Server) and runs until killed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use faultline_node::bugs::{Bug, Bugs};
use faultline_node::server::{Server, ServerConfig};

/// mimalloc: the node allocates a small buffer per message and request; the
/// system allocator showed up at ~8% of a loaded node's profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Raft key-value node: the system under test that ships with faultline.
#[derive(Debug, Parser)]
#[command(name = "faultline-node", version)]
struct Args {
    /// This node's name, as it appears in --peers.
    #[arg(long)]
    id: String,
    /// Where this node listens for peers.
    #[arg(long)]
    peer_addr: SocketAddr,
    /// Where this node serves clients (HTTP/JSON).
    #[arg(long)]
    http_addr: SocketAddr,
    /// Every node of the cluster, this one included: n1=ADDR,n2=ADDR,...
    #[arg(long)]
    peers: String,
    /// Where the write-ahead log and snapshots live.
    #[arg(long)]
    data_dir: PathBuf,
    /// Randomised election timeout range in milliseconds, LOW-HIGH.
    #[arg(long, default_value = "150-300")]
    election_timeout_ms: String,
    /// How often the leader sends heartbeats, in milliseconds.
    #[arg(long, default_value_t = 50)]
    heartbeat_ms: u64,
    /// Snapshot the state and compact the log every N applied entries.
    #[arg(long, default_value_t = 10_000)]
    snapshot_every: u64,
    /// The most entries one Append message carries; a small number makes a
    /// lagging follower catch up in many small steps.
    #[arg(long, default_value_t = 256)]
    max_append_entries: usize,
    /// Switch on a known bug (repeatable): stale-read, lease-without-checkquorum,
    /// vote-twice, no-log-check, commit-old-term, ack-before-commit, no-fsync, no-truncate,
    /// txn-split, txn-local-read.
    #[arg(long = "bug", value_name = "NAME")]
    bugs: Vec<String>,
    /// Seed of the election-timeout randomness (default: drawn at start).
    #[arg(long)]
    seed: Option<u64>,
    /// Serve /debug/failpoints, where a test harness arms crashes at named
    /// moments (e.g. crash-after-vote). Never on a node that holds real data.
    #[arg(long)]
    failpoints: bool,
    /// The leader makes new entries durable before sending them to the
    /// followers (the default sends first and writes in parallel with them,
    /// Raft thesis 10.2.1).
    #[arg(long)]
    serial_persist: bool,
}

fn parse_peers(list: &str) -> Result<Vec<(String, SocketAddr)>> {
    let mut peers = Vec::new();
    for item in list.split(',').filter(|s| !s.is_empty()) {
        let (name, addr) = item
            .split_once('=')
            .with_context(|| format!("--peers: {item:?} is not NAME=ADDR"))?;
        let addr: SocketAddr = addr
            .parse()
            .with_context(|| format!("--peers: {addr:?} (of {name}) is not an IP:PORT address"))?;
        if peers.iter().any(|(n, _)| n == name) {
            bail!("--peers: {name} appears twice");
        }
        peers.push((name.to_string(), addr));
    }
    if peers.is_empty() {
        bail!("--peers is empty");
    }
    Ok(peers)
}

fn parse_range(text: &str) -> Result<(u64, u64)> {
    let (lo, hi) = text
        .split_once('-')
        .with_context(|| format!("--election-timeout-ms: {text:?} is not LOW-HIGH"))?;
    let lo: u64 = lo
        .trim()
        .parse()
        .context("--election-timeout-ms: LOW is not a number")?;
    let hi: u64 = hi
        .trim()
        .parse()
        .context("--election-timeout-ms: HIGH is not a number")?;
    if lo == 0 || hi <= lo {
        bail!("--election-timeout-ms: need 0 < LOW < HIGH, got {lo}-{hi}");
    }
    Ok((lo, hi))
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let peers = parse_peers(&args.peers)?;
    if !peers.iter().any(|(n, _)| *n == args.id) {
        bail!("--id {} is not in --peers {}", args.id, args.peers);
    }
    let bugs = args
        .bugs
        .iter()
        .map(|b| b.parse::<Bug>())
        .collect::<Result<Vec<Bug>, _>>()
        .context("--bug")?;
    let config = ServerConfig {
        name: args.id.clone(),
        peers,
        http_addr: args.http_addr,
        data_dir: args.data_dir.clone(),
        election_timeout_ms: parse_range(&args.election_timeout_ms)?,
        heartbeat_ms: args.heartbeat_ms.max(1),
        snapshot_every: args.snapshot_every.max(1),
        max_append_entries: args.max_append_entries.max(1),
        bugs: Bugs::of(bugs),
        seed: args.seed.unwrap_or_else(rand::random),
        failpoints: args.failpoints,
        persist_in_parallel: !args.serial_persist,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::start(config)
            .await
            .with_context(|| format!("starting node {}", args.id))?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                    if server.is_finished() {
                        return server.join().context("the Raft loop stopped");
                    }
                }
            }
        }
        tracing::info!("stopping");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_and_ranges_parse_with_clear_errors() {
        let p = parse_peers("n1=127.0.0.1:7001,n2=127.0.0.1:7002").unwrap();
        assert_eq!(p[1].0, "n2");
        assert!(parse_peers("n1=127.0.0.1:7001,n1=127.0.0.1:7002").is_err());
        let e = parse_peers("n1:7001").unwrap_err().to_string();
        assert!(e.contains("NAME=ADDR"), "{e}");
        assert_eq!(parse_range("150-300").unwrap(), (150, 300));
        assert!(parse_range("300-150").is_err());
        assert!(parse_range("300").is_err());
    }
}
