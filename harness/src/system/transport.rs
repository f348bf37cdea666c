//! The HTTP client a system that speaks HTTP holds: one per system, shared
//! by its clients and its status and failpoint requests, built on first
//! use. Requests carry their own timeout (the client's request timeout, or
//! the status probe's), so one client serves every caller.

use std::sync::OnceLock;

/// A system's HTTP client, built on first use.
#[derive(Debug, Clone, Default)]
pub struct HttpTransport {
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl HttpTransport {
    /// A transport whose client is not built yet.
    pub fn new() -> HttpTransport {
        HttpTransport::default()
    }

    /// The client (no proxy, no delay on small writes, keep-alive
    /// connections pooled per node); Err says why it could not be built.
    pub fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .no_proxy()
                    .tcp_nodelay(true)
                    .build()
                    .map_err(|e| format!("building the HTTP client: {}", super::root_cause(&e)))
            })
            .as_ref()
            .map_err(String::clone)
    }
}
