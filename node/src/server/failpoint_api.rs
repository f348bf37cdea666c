//! `/debug/failpoints`: where a harness arms the node's failpoints (served
//! only when the node runs with `--failpoints`).
//!
//! - `GET /debug/failpoints` lists every failpoint and whether it is armed;
//! - `PUT /debug/failpoints/NAME` arms one, `DELETE` disarms it; an unknown
//!   name is a 404 that lists the known ones.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::failpoints::{Failpoint, Failpoints};

/// The failpoint routes, over `failpoints`.
pub fn routes(failpoints: Failpoints) -> Router {
    Router::new()
        .route("/debug/failpoints", get(list))
        .route(
            "/debug/failpoints/:name",
            axum::routing::put(arm).delete(disarm),
        )
        .with_state(failpoints)
}

async fn list(State(fps): State<Failpoints>) -> Response {
    let all: Vec<_> = Failpoint::ALL
        .into_iter()
        .map(|f| json!({ "name": f.name(), "armed": fps.is_armed(f), "description": f.description() }))
        .collect();
    Json(json!({ "failpoints": all })).into_response()
}

fn parse(name: &str) -> Result<Failpoint, Box<Response>> {
    name.parse()
        .map_err(|e: crate::failpoints::UnknownFailpoint| {
            Box::new(
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({ "error": e.to_string() })),
                )
                    .into_response(),
            )
        })
}

async fn arm(State(fps): State<Failpoints>, Path(name): Path<String>) -> Response {
    match parse(&name) {
        Ok(fp) => {
            fps.arm(fp);
            tracing::info!(failpoint = fp.name(), "failpoint armed");
            Json(json!({ "name": fp.name(), "armed": true })).into_response()
        }
        Err(r) => *r,
    }
}

async fn disarm(State(fps): State<Failpoints>, Path(name): Path<String>) -> Response {
    match parse(&name) {
        Ok(fp) => {
            fps.disarm(fp);
            Json(json!({ "name": fp.name(), "armed": false })).into_response()
        }
        Err(r) => *r,
    }
}
