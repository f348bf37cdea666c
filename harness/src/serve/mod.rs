//! `faultline serve` and `faultline trend`: the store seen across runs.
//!
//! - [`listing`]: every run folder of a store (what its `test.json` says,
//!   the verdict of its `results.json`, or that it is still running) and
//!   every suite folder, newest first;
//! - [`trend`]: per (system, workload, scenario or faults), the verdicts in
//!   time order with the commit and version of each, onsets and flaky
//!   builds marked, drawn as one self-contained page;
//! - [`page`]: the index page (rows as JSON, drawn and filtered in the
//!   browser) and folder listings;
//! - [`http`]: the read-only server over the store (axum), which serves no
//!   file outside it.

use std::path::{Path, PathBuf};

pub mod http;
pub mod listing;
pub mod page;
pub mod trend;

/// What can go wrong listing a store, writing a trend or serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store folder cannot be read.
    #[error("cannot read the store {}: {source}", path.display())]
    Store {
        /// The store as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file cannot be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the JSON it should be.
    #[error("parsing {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The server stopped on an error.
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Serves the store at `store` on `listener` until Ctrl-C (or SIGINT).
pub async fn serve(store: &Path, listener: tokio::net::TcpListener) -> Result<(), ServeError> {
    let root = store.canonicalize().map_err(|e| ServeError::Store {
        path: store.to_path_buf(),
        source: e,
    })?;
    axum::serve(listener, http::router(root))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(ServeError::Serve)
}

/// What [`write_trend`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendWritten {
    /// The page, `OUT/index.html`.
    pub page: PathBuf,
    /// Rows of the trend.
    pub rows: usize,
    /// Runs in it, this store's and those kept from `OUT/trend.json`.
    pub runs: usize,
    /// Rows whose latest verdict is a failure.
    pub failing: usize,
    /// Rows that passed and failed at one build.
    pub flaky: usize,
}

/// Writes the trend of the store at `store` into `out` (made if missing):
/// `index.html` (self-contained, linking each run's report by a relative
/// path) and `trend.json` (its cells). Cells of an earlier `trend.json`
/// in `out` that this store does not hold again are kept, so a CI job that
/// keeps `out` between nights accumulates the nights.
pub fn write_trend(store: &Path, out: &Path) -> Result<TrendWritten, ServeError> {
    let listing = listing::list(store)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ServeError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let out_c = out.canonicalize().map_err(io(out))?;
    let root = store.canonicalize().map_err(io(store))?;
    let cells = listing
        .runs
        .iter()
        .filter_map(|r| {
            let report = root.join(&r.path).join(crate::report::REPORT_FILE);
            let href = report.is_file().then(|| {
                page::url_path(&crate::store::relative(&out_c, &report).to_string_lossy())
            });
            trend::Cell::of(r, href)
        })
        .collect();
    let earlier = trend::read_cells(out)?
        .into_iter()
        .map(|mut c| {
            // A run of an earlier night whose folder is gone loses its link.
            if c.href.as_ref().is_some_and(|h| !out.join(h).exists()) {
                c.href = None;
            }
            c
        })
        .collect();
    let cells = trend::merge(cells, earlier);
    let json = out.join(trend::TREND_JSON);
    let text = serde_json::to_string(&cells).map_err(|e| ServeError::Parse {
        path: json.clone(),
        source: e,
    })?;
    std::fs::write(&json, text + "\n").map_err(io(&json))?;
    let rows = trend::rows(cells);
    let page = out.join("index.html");
    std::fs::write(&page, trend::page(&rows, "")).map_err(io(&page))?;
    Ok(TrendWritten {
        page,
        rows: rows.len(),
        runs: rows.iter().map(|r| r.cells.len()).sum(),
        failing: rows.iter().filter(|r| r.failing()).count(),
        flaky: rows.iter().filter(|r| !r.flaky.is_empty()).count(),
    })
}
