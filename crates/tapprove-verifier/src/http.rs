//! The enrolment service and the decision endpoint over HTTP
//! (`tapprove-verifier serve`).
//!
//! `POST /v1/enrolments` with an enrolment request answers `201` with the
//! receipt, or an error status with `{code, message}`; `POST
//! /v1/credentials` (list, rename, revoke, withdraw one's own) answers
//! `200` with the caller's credentials; `POST /v1/decisions` delivers a
//! signed decision ([`crate::decisions`]); `POST /v1/requests` starts a
//! gate for a proven requester ([`crate::requests`]); `GET /healthz`
//! answers `ok`.
//! The Lambda handler routes function URL and API Gateway events to the
//! same services.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tapprove_proto::limits::{MAX_ENROLMENT_BYTES, MAX_REQUEST_BYTES};

use crate::decisions::{DECISIONS_PATH, DecisionService};
use crate::enrol::EnrolService;
use crate::requests::RequestService;
use crate::service_error::ServiceError;

pub use tapprove_proto::enrolment::{CREDENTIALS_PATH, ENROLMENTS_PATH};
pub use tapprove_proto::submission::REQUESTS_PATH;

/// What the server answers with.
#[derive(Debug, Clone)]
pub struct Services {
    pub enrolment: Arc<EnrolService>,
    pub decisions: Arc<DecisionService>,
    pub requests: Arc<RequestService>,
}

/// The service's routes.
pub fn router(services: Services) -> Router {
    Router::new()
        .route(ENROLMENTS_PATH, post(enrol))
        .route(CREDENTIALS_PATH, post(credentials))
        .layer(DefaultBodyLimit::max(MAX_ENROLMENT_BYTES))
        // A submission carries the request's details.
        .route(
            REQUESTS_PATH,
            post(request).layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES)),
        )
        // A delivery carries the request it decides.
        .route(
            DECISIONS_PATH,
            post(decide).layer(DefaultBodyLimit::max(crate::decisions::MAX_BODY_BYTES)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(services)
}

fn json_response((status, body): (u16, String)) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

async fn enrol(State(services): State<Services>, body: Bytes) -> Response {
    json_response(answer(&services.enrolment, &body).await)
}

async fn request(State(services): State<Services>, body: Bytes) -> Response {
    json_response(answer_request(&services.requests, &body).await)
}

/// One request submission as an HTTP status and a JSON body.
pub async fn answer_request(service: &RequestService, body: &[u8]) -> (u16, String) {
    match service.submit(body, &crate::now()).await {
        Ok(receipt) => (201, serde_json::to_string(&receipt).unwrap_or_default()),
        Err(e) => (e.status, error_body(&e)),
    }
}

async fn credentials(State(services): State<Services>, body: Bytes) -> Response {
    json_response(answer_credentials(&services.enrolment, &body).await)
}

async fn decide(State(services): State<Services>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    json_response(services.decisions.deliver(authorization, &body).await)
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
    services: Services,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(services))
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

pub(crate) fn error_body(e: &ServiceError) -> String {
    serde_json::to_string(e).unwrap_or_default()
}
