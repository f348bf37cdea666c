//! The client HTTP/JSON API. Any node serves it: a follower forwards what
//! only the leader can do to the leader's HTTP address.
//!
//! - `GET /kv/{key}` → `200 {"value": V}` or `404`; `?stale=true` reads local
//!   state without ReadIndex (not linearizable).
//! - `PUT /kv/{key}` `{"value": V}` → `200`.
//! - `POST /kv/{key}/cas` `{"from": A, "to": B}` → `200`, or `409` when the value is not A.
//! - `POST /kv/{key}/append` `{"value": X}` → `200`.
//! - `POST /txn` `{"txn": [[F, KEY, V], ...]}` → `200 {"txn": [...]}`: the
//!   micro-operations (`append`, `w`, `r`; see [`txn_json`](super::txn_json))
//!   applied atomically as one log entry, each read with what it saw; `409`
//!   `type-mismatch` (nothing applied) when one acts on a key of the other
//!   kind (an append to a register, a write to a list). `?stale=true`
//!   answers a read-only transaction from local state (not linearizable).
//! - `GET /status` → the node's role, term, leader and indexes, and the
//!   digest of its state machine at its applied index.
//! - `GET /state` → `200 {"id": N, "applied_index": I, "kv": {KEY: V, ...}}`:
//!   this replica's whole state machine as applied up to `I`, read locally
//!   (never forwarded); what the harness compares between replicas after a
//!   run.
//!
//! Errors are `{"error": CODE, "definite": BOOL}`: `definite: true` only when
//! the operation certainly did not and will not take effect.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::kv::{Applied, Command, MicroOp, Stored};
use crate::raft::NodeId;

use super::peers::{Forwarded, ForwardedReply, Peers};
use super::{Input, LeaderHint, Refusal, Reply};

/// How long a request waits for the Raft loop (or the leader) before it is
/// answered with a timeout.
const WAIT: Duration = Duration::from_secs(2);

/// What the handlers share.
#[derive(Clone)]
pub struct Api {
    inputs: mpsc::Sender<Input>,
    peers: Peers,
    /// Shared: every request clones the handlers' state.
    names: Arc<[String]>,
    leader: LeaderHint,
}

impl Api {
    /// Handlers that hand work to the Raft loop through `inputs`, or
    /// writes straight to the leader `leader` names.
    pub fn new(
        inputs: mpsc::Sender<Input>,
        peers: Peers,
        names: Vec<String>,
        leader: LeaderHint,
    ) -> Api {
        Api {
            inputs,
            peers,
            names: names.into(),
            leader,
        }
    }
}

/// The client API's routes (`/kv/...`, `/txn`, `/status`, `/state`;
/// failpoints are served apart).
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/kv/:key", get(read).put(write))
        .route("/kv/:key/cas", post(cas))
        .route("/kv/:key/append", post(append))
        .route("/txn", post(txn))
        .route("/status", get(status))
        .route("/state", get(state))
        .with_state(api)
}

/// A `status` response with body `{"error": code, "definite": definite}`, plus `message` if given.
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
) -> Response {
    let (reply, rx) = oneshot::channel();
    let input = Input::Read {
        key: key.clone(),
        local: q.stale,
        reply: Reply::Local(reply),
    };
    match ask(&api, input, rx).await {
        Ok(Ok(found)) => read_answer(found),
        Ok(Err(refusal)) => refused(&api, refusal, Forwarded::Read { key }).await,
        Err(resp) => resp,
    }
}

fn read_answer(found: Option<Stored>) -> Response {
    match found {
        Some(stored) => Json(json!({ "value": stored.to_json() })).into_response(),
        None => error(StatusCode::NOT_FOUND, "not-found", true, None),
    }
}

fn write_answer(applied: Applied) -> Response {
    match applied {
        Applied::Done => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response(),
        Applied::CasMismatch => error(StatusCode::CONFLICT, "cas-mismatch", true, None),
        Applied::NotAList => error(StatusCode::CONFLICT, "not-a-list", true, None),
        Applied::Txn(done) => {
            Json(json!({ "txn": super::txn_json::render(&done) })).into_response()
        }
        Applied::TypeMismatch { key } => error(
            StatusCode::CONFLICT,
            "type-mismatch",
            true,
            Some(format!("the key {key:?} holds the other kind of value")),
        ),
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

/// The answer to a refusal: `lost` and `unknown` as they are; `not-leader`
/// hands the request to the leader over the peer link when this node knows
/// one. A read has no effect, so its failures are always definite.
async fn refused(api: &Api, refusal: Refusal, req: Forwarded) -> Response {
    let read_only = matches!(req, Forwarded::Read { .. });
    match refusal {
        Refusal::Lost => error(StatusCode::SERVICE_UNAVAILABLE, "lost", true, None),
        Refusal::Unknown(why) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unknown",
            read_only,
            Some(why),
        ),
        Refusal::NotLeader { leader: Some(l) } => match api.peers.forward(l, req) {
            Some((id, rx)) => forwarded(api, l, id, rx, read_only).await,
            None => not_leader(api, Some(l)),
        },
        Refusal::NotLeader { leader: None } => not_leader(api, None),
    }
}

fn not_leader(api: &Api, leader: Option<NodeId>) -> Response {
    let name = leader.and_then(|l| api.names.get(l as usize - 1).cloned());
    let code = if name.is_some() {
        "not-leader"
    } else {
        "no-leader"
    };
    let mut resp = error(StatusCode::SERVICE_UNAVAILABLE, code, true, None);
    if let Some(n) = name {
        if let Ok(v) = n.parse() {
            resp.headers_mut().insert("x-faultline-leader", v);
        }
    }
    resp
}

/// Waits (bounded) for the leader's outcome of a forwarded request. The
/// leader's own refusals are answered here, never forwarded again.
async fn forwarded(
    api: &Api,
    leader: NodeId,
    id: u64,
    rx: oneshot::Receiver<ForwardedReply>,
    read_only: bool,
) -> Response {
    let outcome = match tokio::time::timeout(WAIT, rx).await {
        Ok(Ok(outcome)) => outcome,
        _ => {
            api.peers.forgotten(id);
            return error(StatusCode::SERVICE_UNAVAILABLE, "timeout", read_only, None);
        }
    };
    let refusal = match outcome {
        ForwardedReply::Write(Ok(applied)) => return write_answer(applied),
        ForwardedReply::Read(Ok(found)) => return read_answer(found),
        ForwardedReply::Write(Err(r)) | ForwardedReply::Read(Err(r)) => r,
    };
    match refusal {
        Refusal::Lost => error(StatusCode::SERVICE_UNAVAILABLE, "lost", true, None),
        Refusal::Unknown(why) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unknown",
            read_only,
            Some(why),
        ),
        Refusal::NotLeader { .. } => not_leader(api, Some(leader)),
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

/// A follower that knows the leader hands the write straight to it; the
/// leader (or a node that knows none) asks its Raft loop.
async fn propose(api: &Api, cmd: Command) -> Response {
    if let Some(leader) = api.leader.remote() {
        let not_here = Refusal::NotLeader {
            leader: Some(leader),
        };
        return refused(api, not_here, Forwarded::Write(cmd)).await;
    }
    let (reply, rx) = oneshot::channel();
    let input = Input::Write {
        cmd: cmd.clone(),
        reply: Reply::Local(reply),
    };
    match ask(api, input, rx).await {
        Ok(Ok(applied)) => write_answer(applied),
        Ok(Err(refusal)) => refused(api, refusal, Forwarded::Write(cmd)).await,
        Err(resp) => resp,
    }
}

async fn write(State(api): State<Api>, Path(key): Path<String>, body: Bytes) -> Response {
    match fields(&body, ["value"]) {
        Ok([value]) => propose(&api, Command::Put { key, value }).await,
        Err(message) => bad_request(message),
    }
}

async fn cas(State(api): State<Api>, Path(key): Path<String>, body: Bytes) -> Response {
    match fields(&body, ["from", "to"]) {
        Ok([from, to]) => propose(&api, Command::Cas { key, from, to }).await,
        Err(message) => bad_request(message),
    }
}

async fn append(State(api): State<Api>, Path(key): Path<String>, body: Bytes) -> Response {
    match fields(&body, ["value"]) {
        Ok([value]) => propose(&api, Command::Append { key, value }).await,
        Err(message) => bad_request(message),
    }
}

/// A transaction. One that writes goes the way of any write; a read-only
/// one asks this node's Raft loop first (which may serve it locally, with
/// `?stale=true`), and a follower's loop refuses it, naming the leader it
/// is then forwarded to.
async fn txn(State(api): State<Api>, Query(q): Query<ReadQuery>, body: Bytes) -> Response {
    let ops = match super::txn_json::parse(&body) {
        Ok(ops) => ops,
        Err(message) => return bad_request(message),
    };
    if !ops.iter().all(MicroOp::is_read) {
        return propose(&api, Command::Txn { ops }).await;
    }
    let (reply, rx) = oneshot::channel();
    let input = Input::Txn {
        ops: ops.clone(),
        local: q.stale,
        reply: Reply::Local(reply),
    };
    match ask(&api, input, rx).await {
        Ok(Ok(applied)) => write_answer(applied),
        Ok(Err(refusal)) => refused(&api, refusal, Forwarded::Write(Command::Txn { ops })).await,
        Err(resp) => resp,
    }
}

async fn status(State(api): State<Api>) -> Response {
    let (reply, rx) = oneshot::channel();
    match ask(&api, Input::Status { reply }, rx).await {
        Ok(s) => Json(s).into_response(),
        Err(resp) => resp,
    }
}

async fn state(State(api): State<Api>) -> Response {
    let (reply, rx) = oneshot::channel();
    match ask(&api, Input::State { reply }, rx).await {
        Ok(local) => {
            let kv: serde_json::Map<String, Value> = local
                .kv
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            Json(json!({
                "id": local.id,
                "applied_index": local.applied_index,
                "kv": kv,
            }))
            .into_response()
        }
        Err(resp) => resp,
    }
}
