//! The HTTP side: the application router each domain contributes routes to, the identity
//! check every route sits behind, the one error shape, the accept loop and TLS.

pub mod auth;
pub mod error;
pub mod events;
pub mod serve;
pub mod tls;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware;
use axum::response::Response;
use gatehouse_protocol::{
    API_VERSION, API_VERSION_HEADER, ErrorCode, REQUEST_ID_HEADER, ServerStatus,
};
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;
use tower_http::LatencyUnit;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use self::auth::{Authorized, Caller, RequestId, Roles};
pub use self::error::{Error, IdentityError, Json, Path, Query};
use crate::audit::AuditLog;
use crate::store::Db;

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState {
    /// Storage.
    pub db: Db,
    /// The audit log.
    pub audit: AuditLog,
    /// The deployment's name.
    pub deployment: String,
    /// Random per-process id.
    pub instance_id: String,
    /// When this instance started.
    pub started: Instant,
    /// Request limits.
    pub limits: crate::config::Limits,
    /// The ledger adapter, when a ledger is configured.
    pub ledger: Option<Arc<crate::ledger::LedgerAdapter>>,
    /// Refused identities, aggregated per window.
    pub refusals: auth::Refusals,
    /// What ledger keys officers may enrol.
    pub keys: KeyRules,
    /// Proposals and approvals, when a ledger is configured.
    pub proposals: Option<Arc<crate::proposals::Engine>>,
    /// Reconciliation of the token's NFTs against the ledger, when a ledger is configured.
    pub reconciler: Option<Arc<crate::mints::Reconciler>>,
    /// Where changes are announced to connected consoles.
    pub events: events::Events,
    /// Each service's mint-request budget.
    pub service_rate: crate::proposals::service::ServiceRate,
}

/// The ledger-key enrolment rules in effect.
#[derive(Debug, Clone)]
pub struct KeyRules {
    /// What evidence a key needs.
    pub policy: crate::config::KeyPolicy,
    /// Roots attestations must chain to.
    pub anchors: gatehouse_keys::attestation::TrustAnchors,
}

impl Default for KeyRules {
    fn default() -> Self {
        Self {
            policy: crate::config::KeyPolicy::Production,
            anchors: gatehouse_keys::attestation::TrustAnchors::yubico(),
        }
    }
}

impl AppState {
    /// State for a freshly started instance.
    pub fn new(db: Db, audit: AuditLog, deployment: &str, limits: crate::config::Limits) -> Self {
        let window = limits.refusal_window();
        Self {
            db,
            audit,
            deployment: deployment.to_owned(),
            instance_id: uuid::Uuid::new_v4().to_string(),
            started: Instant::now(),
            limits,
            ledger: None,
            refusals: auth::Refusals::new(window),
            keys: KeyRules::default(),
            proposals: None,
            reconciler: None,
            events: events::Events::default(),
            service_rate: crate::proposals::service::ServiceRate::new(
                crate::config::Proposals::default().service_requests_per_minute,
            ),
        }
    }
}

/// The OpenAPI document's header; the paths come from the routers.
#[derive(Debug, OpenApi)]
#[openapi(info(
    title = "gatehouse-server",
    description = "Gatehouse custody backend API. Every request requires a client certificate from the deployment CA (mutual TLS 1.3)."
))]
struct ApiDoc;

/// Every route of every domain, with its OpenAPI description.
fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(status))
        .routes(routes!(openapi_json))
        .merge(crate::registry::api::router())
        .merge(crate::audit::api::router())
        .merge(crate::ledger::api::router())
        .merge(crate::keys::api::router())
        .merge(crate::proposals::api::router())
        .merge(crate::mints::api::router())
        .merge(events::router())
}

/// This API's OpenAPI 3.1 document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().split_for_parts().1
}

/// While the emergency breaker is tripped, every state-changing request (but pausing again) is
/// answered 423 with who paused, when and why. The breaker is read from the database on each such
/// request, so an instance that missed a notification, or restarted, cannot stay open.
async fn breaker_guard(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if held_by_breaker(request.method(), request.uri().path()) {
        match crate::proposals::pause::breaker(&state.db).await {
            Ok(b) if b.tripped && !resuming(&state, request.uri().path()).await => {
                return Error::Api(
                    gatehouse_protocol::ErrorCode::Paused,
                    crate::proposals::pause::paused_message(&b),
                )
                .into_response();
            }
            Ok(_) => {}
            // Fail closed: a breaker that cannot be read is not known to be open.
            Err(e) => return Error::Db(e).into_response(),
        }
    }
    next.run(request).await
}

/// Whether the breaker stops this request: every change but pausing again, resuming, rotating
/// keys (a compromised key is replaced while the backend stays stopped), and cancelling or
/// rejecting a proposal (which only takes away what could happen). Reads, the audit search
/// (a POST that changes nothing, which compliance needs most during an incident), and staging a
/// new ledger key (it changes nothing until a rotation the quorum approves, and an incident is
/// when officers prepare replacement keys) pass.
fn held_by_breaker(method: &axum::http::Method, path: &str) -> bool {
    use axum::http::Method;
    let reads = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let withdrawn = path.starts_with("/v1/proposals/")
        && (path.ends_with("/cancel") || path.ends_with("/reject"));
    !(reads
        || withdrawn
        || path.starts_with("/v1/pause")
        || path.starts_with("/v1/resume")
        || path == "/v1/proposals/resume"
        || path == "/v1/proposals/rotation"
        || path == "/v1/proposals/offboarding"
        || path == "/v1/audit/search"
        || path == "/v1/ledger-keys/staged")
}

/// The proposal a `/v1/proposals/{id}/...` request acts on.
fn proposal_in(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/proposals/")?;
    let (id, action) = rest.split_once('/')?;
    (!id.is_empty() && !action.is_empty()).then_some(id)
}

/// Whether a request the breaker holds acts on a resume proposal (approving, rejecting or
/// cancelling it), which is what a tripped breaker waits for, or on a key rotation.
async fn resuming(state: &AppState, path: &str) -> bool {
    let Some(id) = proposal_in(path) else {
        return false;
    };
    matches!(
        crate::proposals::store::get(&state.db, id).await,
        Ok(Some(p)) if p.kind == gatehouse_protocol::proposal::ProposalKind::Resume
            || p.kind.changes_keys()
    )
}

/// The application router. Every route requires a registered, enabled identity.
pub fn app(state: Arc<AppState>) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let limits = state.limits.clone();
    let (api, _) = routes().split_for_parts();
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), breaker_guard))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    api.layer(
        ServiceBuilder::new()
            .layer(middleware::map_request(auth::fresh_request_id))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(|req: &Request| {
                        let id = req
                            .headers()
                            .get(REQUEST_ID_HEADER)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!(
                            "request",
                            request_id = %id,
                            method = %req.method(),
                            path = %req.uri().path(),
                            caller = tracing::field::Empty,
                        )
                    })
                    .on_response(
                        DefaultOnResponse::new()
                            .level(tracing::Level::INFO)
                            .latency_unit(LatencyUnit::Micros),
                    ),
            )
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(middleware::map_response(stamp_api_version))
            .layer(axum::error_handling::HandleErrorLayer::new(
                |_: axum::BoxError| async {
                    Error::Api(
                        ErrorCode::Timeout,
                        "the request took too long; try again".to_owned(),
                    )
                },
            ))
            .layer(TimeoutLayer::new(limits.request_timeout()))
            .layer(axum::extract::DefaultBodyLimit::max(limits.max_body_bytes)),
    )
}

async fn stamp_api_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(API_VERSION_HEADER, HeaderValue::from(API_VERSION));
    response
}

/// What this server is and how long it has been up.
#[utoipa::path(
    get,
    path = "/v1/status",
    responses(
        (status = 200, description = "Server version, instance and storage", body = ServerStatus),
        (status = 401, body = gatehouse_protocol::ApiError),
        (status = 403, body = gatehouse_protocol::ApiError),
    )
)]
async fn status(State(state): State<Arc<AppState>>) -> Json<ServerStatus> {
    Json(ServerStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        api_version: API_VERSION,
        deployment: state.deployment.clone(),
        instance_id: state.instance_id.clone(),
        database: state.db.backend(),
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

async fn not_found() -> Error {
    Error::Api(
        ErrorCode::NotFound,
        "no such endpoint; see /v1/openapi.json".to_owned(),
    )
}

async fn method_not_allowed() -> Error {
    Error::Api(
        ErrorCode::BadRequest,
        "this endpoint does not take that method; see /v1/openapi.json".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn the_breaker_holds_every_change_but_pausing_again_the_audit_search_and_staging_keys() {
        assert!(held_by_breaker(&Method::POST, "/v1/proposals/mint"));
        assert!(held_by_breaker(&Method::POST, "/v1/mint-requests"));
        assert!(held_by_breaker(&Method::POST, "/v1/audit/erase"));
        assert!(held_by_breaker(&Method::DELETE, "/v1/anything"));
        assert!(!held_by_breaker(&Method::GET, "/v1/proposals"));
        assert!(!held_by_breaker(&Method::POST, "/v1/pause"));
        assert!(!held_by_breaker(&Method::POST, "/v1/pause/request"));
        assert!(!held_by_breaker(&Method::POST, "/v1/audit/search"));
        assert!(!held_by_breaker(&Method::POST, "/v1/proposals/resume"));
        assert!(!held_by_breaker(&Method::POST, "/v1/proposals/rotation"));
        assert!(!held_by_breaker(&Method::POST, "/v1/proposals/offboarding"));
        assert!(!held_by_breaker(&Method::POST, "/v1/resume/request"));
        assert!(!held_by_breaker(&Method::POST, "/v1/ledger-keys/staged"));
        assert!(held_by_breaker(&Method::POST, "/v1/ledger-keys"));
        assert!(held_by_breaker(&Method::POST, "/v1/proposals/p1/approvals"));
        assert!(!held_by_breaker(&Method::POST, "/v1/proposals/p1/cancel"));
        assert!(!held_by_breaker(&Method::POST, "/v1/proposals/p1/reject"));
        assert!(held_by_breaker(&Method::POST, "/v1/proposals/policy"));
        assert_eq!(proposal_in("/v1/proposals/p1/approvals"), Some("p1"));
        assert_eq!(proposal_in("/v1/proposals/resume"), None);
        assert_eq!(proposal_in("/v1/proposals//x"), None);
    }
}
