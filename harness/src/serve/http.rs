//! The server: `/` the index of every run, `/trend` the trend, `/api/runs`
//! the listing as JSON, `/store/...` the store's files (a folder's
//! `index.html`, or its listing). Read-only, and nothing outside the store
//! is ever served: a path with a `..` (written out or percent-encoded) is
//! refused, and a path whose canonical form (symbolic links followed)
//! leaves the store is refused too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::listing::{self, Listing};
use super::{page, trend, ServeError};

/// The server's state: the store's canonical path.
#[derive(Clone)]
struct App {
    root: Arc<PathBuf>,
    cache: Arc<listing::Cache>,
}

/// The routes over the store at `root` (canonical). The store is listed
/// right away on a thread of its own, so that the first page finds its
/// rows read (listings wait for one another; finished runs are cached).
pub fn router(root: PathBuf) -> Router {
    let cache = Arc::new(listing::Cache::default());
    let warm = (root.clone(), cache.clone());
    std::thread::spawn(move || listing::list_with(&warm.0, &warm.1));
    Router::new()
        .route("/", get(index))
        .route("/api/runs", get(api))
        .route("/trend", get(trend_page))
        .fallback(file)
        .with_state(App {
            root: Arc::new(root),
            cache,
        })
}

/// Runs `f` off the async threads; a failure is a 500 with its text.
async fn blocking(f: impl FnOnce() -> Result<Response, ServeError> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn respond(kind: &'static str, body: impl Into<Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body.into(),
    )
        .into_response()
}

const HTML: &str = "text/html; charset=utf-8";

async fn index(State(app): State<App>) -> Response {
    blocking(move || {
        let l = listing::list_with(&app.root, &app.cache)?;
        Ok(respond(HTML, page::index(&l, &app.root)))
    })
    .await
}

async fn api(State(app): State<App>) -> Response {
    blocking(move || {
        let l: Listing = listing::list_with(&app.root, &app.cache)?;
        let text = serde_json::to_string(&l).unwrap_or_default();
        Ok(respond("application/json", text))
    })
    .await
}

async fn trend_page(State(app): State<App>) -> Response {
    blocking(move || {
        let l = listing::list_with(&app.root, &app.cache)?;
        let cells = l
            .runs
            .iter()
            .filter_map(|r| {
                let href = format!("/store/{}/report.html", page::url_path(&r.path));
                trend::Cell::of(r, Some(href))
            })
            .collect();
        let rows = trend::rows(cells);
        Ok(respond(
            HTML,
            trend::page(&rows, "<a href=\"/\">runs</a> · "),
        ))
    })
    .await
}

async fn file(State(app): State<App>, uri: Uri) -> Response {
    let path = uri.path().to_string();
    blocking(move || Ok(store_file(&app.root, &path))).await
}

/// The response to `GET url_path` for a file of the store at `root`.
fn store_file(root: &Path, url_path: &str) -> Response {
    let Some(rel) = url_path
        .strip_prefix("/store")
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let target = match resolve(root, rel) {
        Ok(t) => t,
        Err(code) => return (code, code.canonical_reason().unwrap_or("")).into_response(),
    };
    if target.is_dir() {
        if !url_path.ends_with('/') {
            let to = format!("{url_path}/");
            return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response();
        }
        let index = target.join("index.html");
        if index.is_file() {
            return match std::fs::read(&index) {
                Ok(bytes) => respond(HTML, bytes),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            };
        }
        return respond(HTML, page::folder(&target, url_path));
    }
    match std::fs::read(&target) {
        Ok(bytes) => respond(content_type(&target), bytes),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The file of the store at `root` that `rel` (a URL path, percent-encoded)
/// names: 403 for a `..` or a path whose canonical form is outside the
/// store, 400 for one that does not decode, 404 for one that is not there.
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, StatusCode> {
    let decoded = percent_decode(rel).ok_or(StatusCode::BAD_REQUEST)?;
    if decoded.contains('\0') || decoded.split('/').any(|c| c == "..") {
        return Err(StatusCode::FORBIDDEN);
    }
    let canon = root
        .join(decoded.trim_start_matches('/'))
        .canonicalize()
        .map_err(|_| StatusCode::NOT_FOUND)?;
    if canon.starts_with(root) {
        Ok(canon)
    } else {
        Err(StatusCode::FORBIDDEN)
    }
}

/// `%XX` sequences decoded; None when one is malformed or the result is
/// not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => HTML,
        "json" => "application/json",
        "xml" => "application/xml",
        "css" => "text/css",
        "js" => "text/javascript",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jsonl" | "log" | "txt" | "edn" | "toml" | "md" | "out" | "err" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_outside_the_store_resolves() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("store");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::write(root.join("a/report.html"), "x").unwrap();
        std::fs::write(base.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(base.path().join("secret"), root.join("out")).unwrap();
        let root = root.canonicalize().unwrap();
        assert!(resolve(&root, "/a/report.html").is_ok());
        assert!(resolve(&root, "/a%2Freport.html").is_ok());
        for bad in [
            "/../secret",
            "/a/../../secret",
            "/%2e%2e/secret",
            "/a/%2E%2E%2F..%2Fsecret",
        ] {
            assert_eq!(resolve(&root, bad), Err(StatusCode::FORBIDDEN), "{bad}");
        }
        assert_eq!(resolve(&root, "/out"), Err(StatusCode::FORBIDDEN));
        assert_eq!(resolve(&root, "/nope"), Err(StatusCode::NOT_FOUND));
        assert_eq!(resolve(&root, "/%zz"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(resolve(&root, "/a%00"), Err(StatusCode::FORBIDDEN));
    }
}
