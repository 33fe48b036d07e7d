//! The enrolment service over HTTP (`tapprove-verifier serve`).
//!
//! `POST /v1/enrolments` with an enrolment request answers `201` with the
//! receipt, or an error status with `{code, message}`; `POST
//! /v1/credentials` (list, rename, revoke, withdraw one's own) answers
//! `200` with the caller's credentials; `GET /healthz` answers `ok`. The Lambda handler routes function-URL events to the same
//! [`EnrolService`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tapprove_proto::limits::MAX_ENROLMENT_BYTES;

use crate::enrol::{EnrolError, EnrolService};

/// The path enrolments are posted to.
pub const ENROLMENTS_PATH: &str = "/v1/enrolments";
/// The path an approver's requests about their own credentials go to.
pub const CREDENTIALS_PATH: &str = "/v1/credentials";

/// The service's routes.
pub fn router(service: Arc<EnrolService>) -> Router {
    Router::new()
        .route(ENROLMENTS_PATH, post(enrol))
        .route(CREDENTIALS_PATH, post(credentials))
        .route("/healthz", get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_ENROLMENT_BYTES))
        .with_state(service)
}

async fn enrol(State(service): State<Arc<EnrolService>>, body: Bytes) -> Response {
    let (status, body) = answer(&service, &body).await;
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

async fn credentials(State(service): State<Arc<EnrolService>>, body: Bytes) -> Response {
    let (status, body) = answer_credentials(&service, &body).await;
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

/// One credentials request as an HTTP status and a JSON body.
pub async fn answer_credentials(service: &EnrolService, body: &[u8]) -> (u16, String) {
    match service.credentials(body, &crate::now()).await {
        Ok(answer) => (200, serde_json::to_string(&answer).unwrap_or_default()),
        Err(e) => (e.status, error_body(&e)),
    }
}

/// Serves `service` on `listener` until `stop` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<EnrolService>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service))
        .with_graceful_shutdown(stop)
        .await
}

/// One enrolment as an HTTP status and a JSON body.
pub async fn answer(service: &EnrolService, body: &[u8]) -> (u16, String) {
    let result = service.enrol(body, &crate::now()).await;
    match result {
        Ok(receipt) => (201, serde_json::to_string(&receipt).unwrap_or_default()),
        Err(e) => (e.status, error_body(&e)),
    }
}

pub(crate) fn error_body(e: &EnrolError) -> String {
    serde_json::to_string(e).unwrap_or_default()
}
