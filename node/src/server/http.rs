//! The client HTTP/JSON API. Any node serves it: a follower forwards what
//! only the leader can do to the leader's HTTP address.
//!
//! - `GET /kv/{key}` → `200 {"value": V}` or `404`; `?stale=true` reads local
//!   state without ReadIndex (not linearizable).
//! - `PUT /kv/{key}` `{"value": V}` → `200`.
//! - `POST /kv/{key}/cas` `{"from": A, "to": B}` → `200`, or `409` when the value is not A.
//! - `POST /kv/{key}/append` `{"value": X}` → `200`.
//! - `GET /status` → the node's role, term, leader and indexes.
//!
//! Errors are `{"error": CODE, "definite": BOOL}`: `definite: true` only when
//! the operation certainly did not and will not take effect.

use std::sync::mpsc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::kv::{Applied, Command};

use super::peers::Peers;
use super::{Input, Refusal};

/// Marks a request a follower forwarded, so it is never forwarded twice.
const FORWARDED: &str = "x-faultline-forwarded";
/// How long a request waits for the Raft loop (or the leader) before it is
/// answered with a timeout.
const WAIT: Duration = Duration::from_secs(2);

/// What the handlers share.
#[derive(Clone)]
pub struct Api {
    inputs: mpsc::Sender<Input>,
    peers: Peers,
    names: Vec<String>,
    http: reqwest::Client,
}

impl Api {
    /// Handlers that hand work to the Raft loop through `inputs`.
    pub fn new(inputs: mpsc::Sender<Input>, peers: Peers, names: Vec<String>) -> Api {
        let http = reqwest::Client::builder()
            .timeout(WAIT + Duration::from_millis(500))
            .connect_timeout(Duration::from_millis(300))
            .no_proxy()
            .build()
            .expect("building the HTTP client");
        Api {
            inputs,
            peers,
            names,
            http,
        }
    }
}

/// The routes.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/kv/:key", get(read).put(write))
        .route("/kv/:key/cas", post(cas))
        .route("/kv/:key/append", post(append))
        .route("/status", get(status))
        .with_state(api)
}

/// An error answer.
fn error(status: StatusCode, code: &str, definite: bool, message: Option<String>) -> Response {
    let mut body = json!({ "error": code, "definite": definite });
    if let Some(m) = message {
        body["message"] = Value::String(m);
    }
    (status, Json(body)).into_response()
}

fn bad_request(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, "bad-request", true, Some(message))
}

#[derive(Deserialize)]
struct ReadQuery {
    #[serde(default)]
    stale: bool,
}

async fn read(
    State(api): State<Api>,
    Path(key): Path<String>,
    Query(q): Query<ReadQuery>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (reply, rx) = oneshot::channel();
    let input = Input::Read {
        key,
        local: q.stale,
        reply,
    };
    match ask(&api, input, rx).await {
        Ok(Ok(Some(stored))) => Json(json!({ "value": stored.to_json() })).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "not-found", true, None),
        Ok(Err(refusal)) => refused(&api, refusal, true, method, uri, headers, Bytes::new()).await,
        Err(resp) => resp,
    }
}

/// Sends `input` to the Raft loop and waits (bounded) for its answer.
async fn ask<T>(api: &Api, input: Input, rx: oneshot::Receiver<T>) -> Result<T, Response> {
    if api.inputs.send(input).is_err() {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopped",
            true,
            None,
        ));
    }
    match tokio::time::timeout(WAIT, rx).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "dropped",
            false,
            None,
        )),
        Err(_) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            false,
            None,
        )),
    }
}

/// Answers a refusal: forwards to the leader when this node knows one and the
/// request was not forwarded already. `read_only` requests fail definitely.
async fn refused(
    api: &Api,
    refusal: Refusal,
    read_only: bool,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match refusal {
        Refusal::Lost => error(StatusCode::SERVICE_UNAVAILABLE, "lost", true, None),
        Refusal::Unknown(why) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unknown",
            read_only,
            Some(why.into()),
        ),
        Refusal::NotLeader { leader } => {
            let target = leader.and_then(|l| api.peers.http_addr(l));
            match target {
                Some(addr) if !headers.contains_key(FORWARDED) => {
                    forward(api, &addr, method, uri, body, read_only).await
                }
                _ => {
                    let name = leader.and_then(|l| api.names.get(l as usize - 1).cloned());
                    let code = if name.is_some() {
                        "not-leader"
                    } else {
                        "no-leader"
                    };
                    let mut resp = error(StatusCode::SERVICE_UNAVAILABLE, code, true, None);
                    if let Some(n) = name {
                        resp.headers_mut()
                            .insert("x-faultline-leader", n.parse().expect("ascii name"));
                    }
                    resp
                }
            }
        }
    }
}

/// Sends the request on to the leader and passes its answer back.
async fn forward(
    api: &Api,
    addr: &str,
    method: Method,
    uri: Uri,
    body: Bytes,
    read_only: bool,
) -> Response {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("http://{addr}{path}");
    let sent = api
        .http
        .request(method, &url)
        .header(FORWARDED, "1")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = StatusCode::from_u16(resp.status().as_u16())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match resp.bytes().await {
                Ok(bytes) => {
                    (status, [("content-type", "application/json")], bytes).into_response()
                }
                Err(e) => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "forward-failed",
                    read_only,
                    Some(e.to_string()),
                ),
            }
        }
        // Never reached the leader: nothing happened.
        Err(e) if e.is_connect() => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "leader-unreachable",
            true,
            Some(e.to_string()),
        ),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            if e.is_timeout() {
                "timeout"
            } else {
                "forward-failed"
            },
            read_only,
            Some(e.to_string()),
        ),
    }
}

/// Parses a JSON body and takes the named fields out of it, as JSON texts.
/// The error is the message of a `400`.
fn fields<const N: usize>(body: &Bytes, names: [&str; N]) -> Result<[String; N], String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, name) in out.iter_mut().zip(names) {
        let field = value
            .get(name)
            .ok_or_else(|| format!("the body has no field {name:?}"))?;
        *slot = field.to_string();
    }
    Ok(out)
}

async fn propose(
    api: &Api,
    cmd: Command,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (reply, rx) = oneshot::channel();
    match ask(api, Input::Write { cmd, reply }, rx).await {
        Ok(Ok(Applied::Done)) => Json(json!({})).into_response(),
        Ok(Ok(Applied::CasMismatch)) => error(StatusCode::CONFLICT, "cas-mismatch", true, None),
        Ok(Ok(Applied::NotAList)) => error(StatusCode::CONFLICT, "not-a-list", true, None),
        Ok(Err(refusal)) => refused(api, refusal, false, method, uri, headers, body).await,
        Err(resp) => resp,
    }
}

async fn write(
    State(api): State<Api>,
    Path(key): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let [value] = match fields(&body, ["value"]) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    propose(
        &api,
        Command::Put { key, value },
        method,
        uri,
        headers,
        body,
    )
    .await
}

async fn cas(
    State(api): State<Api>,
    Path(key): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let [from, to] = match fields(&body, ["from", "to"]) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    propose(
        &api,
        Command::Cas { key, from, to },
        method,
        uri,
        headers,
        body,
    )
    .await
}

async fn append(
    State(api): State<Api>,
    Path(key): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let [value] = match fields(&body, ["value"]) {
        Ok(f) => f,
        Err(message) => return bad_request(message),
    };
    propose(
        &api,
        Command::Append { key, value },
        method,
        uri,
        headers,
        body,
    )
    .await
}

async fn status(State(api): State<Api>) -> Response {
    let (reply, rx) = oneshot::channel();
    match ask(&api, Input::Status { reply }, rx).await {
        Ok(s) => Json(s).into_response(),
        Err(resp) => resp,
    }
}
