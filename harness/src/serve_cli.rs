//! `faultline serve` and `faultline trend`: the command lines of
//! [`faultline::serve`].

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `faultline serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The store to show (every run folder under it, suites' included).
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Where to listen (port 0: any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
}

/// Arguments of `faultline trend`.
#[derive(Debug, clap::Args)]
pub struct TrendArgs {
    /// The store whose runs make the trend (every run folder under it).
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The folder of the page (index.html) and its cells (trend.json); the
    /// cells of an earlier trend.json there are kept.
    #[arg(long)]
    pub out: PathBuf,
}

/// `faultline serve`: prints the URL, serves until Ctrl-C, exit 0.
pub fn serve(args: &ServeArgs) -> anyhow::Result<i32> {
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "faultline serve: warning: {} is reachable from other machines; the store is readable by all of them",
            args.addr
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        println!(
            "faultline serve: http://{addr}/ (store {}; Ctrl-C stops)",
            args.store.display()
        );
        let _ = std::io::stdout().flush();
        faultline::serve::serve(&args.store, listener)
            .await
            .with_context(|| format!("serving {}", args.store.display()))
    })?;
    Ok(0)
}

/// `faultline trend`: writes the page, prints where and what it holds, exit 0.
pub fn trend(args: &TrendArgs) -> anyhow::Result<i32> {
    let w = faultline::serve::write_trend(&args.store, &args.out).with_context(|| {
        format!(
            "writing the trend of {} into {}",
            args.store.display(),
            args.out.display()
        )
    })?;
    println!("trend: {}", w.page.display());
    println!(
        "{} rows, {} runs: {} failing, {} flaky",
        w.rows, w.runs, w.failing, w.flaky
    );
    Ok(0)
}
