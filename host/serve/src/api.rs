//! The HTTP API: routes, request and response bodies, the bearer token.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use portcullis::{Client, Context, Event};
use portcullis_hooks::Runtime;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{DecisionServer, MAX_BODY_BYTES};

/// The API's routes over `server`. With a `token`, every route but
/// `/healthz` wants `Authorization: Bearer <token>`.
pub fn router(server: Arc<DecisionServer>, token: Option<String>) -> Router {
    let api = Router::new()
        .route("/v1/hooks/{runtime}", post(hook))
        .route("/v1/decide", post(decide))
        .route("/v1/policies", get(policies))
        .with_state(server);
    let api = match token {
        Some(token) => api.layer(middleware::from_fn_with_state(Arc::new(token), bearer)),
        None => api,
    };
    api.route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Refuses a request without the token, comparing in constant time.
async fn bearer(State(token): State<Arc<String>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let equal = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0;
    if equal {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "this server wants `Authorization: Bearer <token>`, with the token from its token file",
        )
    }
}

async fn hook(
    State(server): State<Arc<DecisionServer>>,
    Path(runtime): Path<String>,
    body: Bytes,
) -> Response {
    let Some(runtime) = Runtime::from_name(&runtime) else {
        let known: Vec<&str> = Runtime::ALL.iter().map(|runtime| runtime.name()).collect();
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "no runtime {runtime:?}: expected one of {}",
                known.join(", ")
            ),
        );
    };
    let answer = blocking(move || match serde_json::from_slice::<Value>(&body) {
        Ok(payload) => server.hook(runtime, &payload),
        Err(parse) => portcullis_hooks::failure(
            runtime,
            &format!("the hook payload is not JSON: {parse}"),
            portcullis::Verdict::Deny,
        ),
    })
    .await;
    match answer {
        Ok(answer) => Json(answer).into_response(),
        Err(response) => response,
    }
}

/// A `POST /v1/decide` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideRequest {
    session: String,
    server: String,
    tenant: Option<String>,
    client: Option<ClientInfo>,
    event: Option<Value>,
    events: Option<Vec<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientInfo {
    name: String,
    #[serde(default)]
    version: String,
}

async fn decide(State(server): State<Arc<DecisionServer>>, body: Bytes) -> Response {
    let request: DecideRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(parse) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("not a decide request: {parse}"),
            );
        }
    };
    let records = match (request.event, request.events) {
        (Some(event), None) => vec![event],
        (None, Some(events)) => events,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "a decide request has either `event` or `events`",
            );
        }
    };
    let mut events = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        match Event::from_record(record) {
            Ok(event) => events.push(event),
            Err(invalid) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("event {index}: {invalid}"),
                );
            }
        }
    }
    let mut context = Context::new(request.session, request.server);
    if let Some(tenant) = request.tenant {
        context = context.with_tenant(tenant);
    }
    if let Some(client) = request.client {
        context = context.with_client(Client::new(client.name, client.version));
    }
    match blocking(move || server.decide(&context, &events)).await {
        Ok(decisions) => Json(json!({ "decisions": decisions })).into_response(),
        Err(response) => response,
    }
}

async fn policies(State(server): State<Arc<DecisionServer>>) -> Json<Value> {
    let current = server.policies().current();
    let policies: Vec<Value> = current
        .policies()
        .map(|policy| {
            json!({
                "name": policy.name,
                "version": policy.version,
                "digest": policy.digest,
            })
        })
        .collect();
    Json(json!({ "generation": current.generation(), "policies": policies }))
}

/// Runs a decision off the server's I/O threads: policies are CPU work.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(work).await.map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the decision failed; nothing was allowed",
        )
    })
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
