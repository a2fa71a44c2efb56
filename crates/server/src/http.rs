//! The HTTP API: routes, the identity check every route sits behind, and the one
//! error type every handler returns.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use gatehouse_protocol::{
    API_VERSION, API_VERSION_HEADER, ApiError, ErrorCode, REQUEST_ID_HEADER, ServerStatus, WhoAmI,
};
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;
use tower_http::LatencyUnit;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;

use crate::audit::{self, AuditLog};
use crate::db::{self, Db, Officer};
use crate::tls::PeerCertificate;

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
}

impl AppState {
    /// State for a freshly started instance.
    pub fn new(db: Db, audit: AuditLog, deployment: &str, limits: crate::config::Limits) -> Self {
        Self {
            db,
            audit,
            deployment: deployment.to_owned(),
            instance_id: uuid::Uuid::new_v4().to_string(),
            started: Instant::now(),
            limits,
            ledger: None,
        }
    }
}

/// The authenticated caller, set by the identity check for every handler behind it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Registry entry.
    pub officer: Officer,
    /// The certificate they connected with.
    pub certificate: PeerCertificate,
}

/// The application router. Every route requires a registered, enabled identity.
pub fn app(state: Arc<AppState>) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let limits = state.limits.clone();
    let api = Router::new()
        .route("/v1/whoami", get(whoami))
        .route("/v1/status", get(status))
        .route("/v1/ledger", get(ledger_status))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/audit/checkpoint", get(crate::audit_api::checkpoint))
        .route("/v1/audit/entries", get(crate::audit_api::entries))
        .route("/v1/audit/entries/{index}", get(crate::audit_api::entry))
        .route("/v1/audit/consistency", get(crate::audit_api::consistency))
        .route(
            "/v1/audit/search",
            axum::routing::post(crate::audit_api::search),
        )
        .route(
            "/v1/audit/entries/{index}/private",
            get(crate::audit_api::private),
        )
        .route(
            "/v1/audit/erase",
            axum::routing::post(crate::audit_api::erase),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .fallback(not_found)
        .with_state(state);
    api.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
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

/// Resolves the caller from the connection's client certificate and the registry.
/// Every refusal is audited; if it cannot be, the request fails with a 500 (fail closed).
async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, Error> {
    let certificate = request
        .extensions()
        .get::<PeerCertificate>()
        .cloned()
        .ok_or(Error::Identity(IdentityError::NoCertificate))?;
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match identify(&state, &certificate).await {
        Ok(officer) => {
            tracing::Span::current().record("caller", officer.name.as_str());
            request.extensions_mut().insert(Caller {
                officer,
                certificate,
            });
            Ok(next.run(request).await)
        }
        Err(Error::Identity(refusal)) => {
            let entry = audit::Entry {
                actor: audit::Actor {
                    name: refusal.actor_name().to_owned(),
                    fingerprint: certificate.fingerprint,
                },
                action: "identity.refused".to_owned(),
                object: format!("certificate:{}", certificate.fingerprint),
                outcome: gatehouse_audit::leaf::OutcomeKind::Denied,
                code: Some(refusal.code_name().to_owned()),
                request_id,
                details: serde_json::json!({ "path": request.uri().path() }),
                personal: request
                    .extensions()
                    .get::<crate::serve::RemoteAddr>()
                    .map(|addr| vec![("client-ip".to_owned(), addr.0.ip().to_string())])
                    .unwrap_or_default(),
            };
            state.audit.append(entry).await?;
            Err(Error::Identity(refusal))
        }
        Err(other) => Err(other),
    }
}

async fn identify(state: &AppState, certificate: &PeerCertificate) -> Result<Officer, Error> {
    let now = Utc::now();
    if now > certificate.not_after {
        return Err(Error::Identity(IdentityError::Expired(
            certificate.not_after,
        )));
    }
    if now < certificate.not_before {
        return Err(Error::Identity(IdentityError::NotYetValid(
            certificate.not_before,
        )));
    }
    let officer = state
        .db
        .officer(&certificate.fingerprint)
        .await?
        .ok_or_else(|| {
            Error::Identity(IdentityError::NotRegistered(
                certificate.fingerprint.to_hex(),
            ))
        })?;
    if officer.disabled {
        return Err(Error::Identity(IdentityError::Disabled(officer.name)));
    }
    Ok(officer)
}

/// Who the server thinks the caller is.
#[utoipa::path(
    get,
    path = "/v1/whoami",
    responses(
        (status = 200, description = "The caller's registry entry", body = WhoAmI),
        (status = 401, description = "No usable client certificate (expired, not yet valid)", body = ApiError),
        (status = 403, description = "Certificate not registered or access disabled", body = ApiError),
    )
)]
async fn whoami(Extension(caller): Extension<Caller>) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: caller.officer.name,
        roles: caller.officer.roles,
        fingerprint: caller.certificate.fingerprint,
        not_after: caller.certificate.not_after,
    })
}

/// What this server is and how long it has been up.
#[utoipa::path(
    get,
    path = "/v1/status",
    responses(
        (status = 200, description = "Server version, instance and storage", body = ServerStatus),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError),
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

/// The Hedera network this server uses, and whether it answers right now.
#[utoipa::path(
    get,
    path = "/v1/ledger",
    responses(
        (status = 200, description = "The ledger adapter's network and a live balance check of its fee payer", body = crate::ledger::LedgerStatus),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError),
    )
)]
async fn ledger_status(State(state): State<Arc<AppState>>) -> Json<crate::ledger::LedgerStatus> {
    Json(match &state.ledger {
        Some(ledger) => ledger.status().await,
        None => crate::ledger::LedgerStatus::not_configured(),
    })
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    responses((status = 200, description = "OpenAPI document", content_type = "application/json"))
)]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn not_found() -> Error {
    Error::Api(
        ErrorCode::NotFound,
        "no such endpoint; see /v1/openapi.json".to_owned(),
    )
}

/// The OpenAPI description generated from the handlers above.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "gatehouse-server",
        description = "Gatehouse custody backend API. Every request requires a client certificate from the deployment CA (mutual TLS 1.3)."
    ),
    paths(
        whoami,
        status,
        ledger_status,
        openapi,
        crate::audit_api::checkpoint,
        crate::audit_api::entries,
        crate::audit_api::entry,
        crate::audit_api::consistency,
        crate::audit_api::search,
        crate::audit_api::private,
        crate::audit_api::erase
    ),
    components(schemas(
        WhoAmI,
        ServerStatus,
        ApiError,
        ErrorCode,
        gatehouse_protocol::Role,
        gatehouse_protocol::DatabaseBackend,
        crate::audit_api::CheckpointView,
        crate::audit_api::EntryView,
        crate::audit_api::ProofView,
        crate::audit_api::SearchRequest,
        crate::audit_api::SearchResult,
        crate::audit_api::PrivateView,
        crate::audit_api::EraseRequest,
        crate::audit_api::Erased
    ))
)]
pub struct ApiDoc;

/// Why an identity was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// No client certificate reached the HTTP layer.
    #[error("no client certificate was presented; connect with your Gatehouse client certificate")]
    NoCertificate,
    /// The certificate expired.
    #[error("your client certificate expired at {0}; ask an administrator to issue a new one")]
    Expired(DateTime<Utc>),
    /// The certificate is not valid yet.
    #[error("your client certificate is not valid until {0}; check this computer's clock or wait")]
    NotYetValid(DateTime<Utc>),
    /// Not in the registry.
    #[error(
        "certificate {0} is not registered with this deployment; ask an administrator to register it"
    )]
    NotRegistered(String),
    /// Disabled in the registry.
    #[error("access for {0} has been disabled by an administrator")]
    Disabled(String),
}

impl IdentityError {
    fn actor_name(&self) -> &str {
        match self {
            IdentityError::Disabled(name) => name,
            _ => "unidentified",
        }
    }

    fn code_name(&self) -> &'static str {
        match self {
            IdentityError::NoCertificate => "certificate_required",
            IdentityError::Expired(_) => "certificate_expired",
            IdentityError::NotYetValid(_) => "certificate_not_yet_valid",
            IdentityError::NotRegistered(_) => "not_registered",
            IdentityError::Disabled(_) => "disabled",
        }
    }
}

/// Every error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller could not be identified or is not allowed in.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A client-visible error with its code.
    #[error("{1}")]
    Api(ErrorCode, String),
    /// Storage failed: logged, never shown to the client.
    #[error(transparent)]
    Db(#[from] db::Error),
    /// The audit log failed: the action is refused (fail closed).
    #[error(transparent)]
    Audit(#[from] audit::Error),
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (code, message) = match &self {
            Error::Identity(e) => {
                let code = match e {
                    IdentityError::NoCertificate => ErrorCode::CertificateRequired,
                    IdentityError::Expired(_) => ErrorCode::CertificateExpired,
                    IdentityError::NotYetValid(_) => ErrorCode::CertificateNotYetValid,
                    IdentityError::NotRegistered(_) => ErrorCode::NotRegistered,
                    IdentityError::Disabled(_) => ErrorCode::Disabled,
                };
                tracing::warn!(reason = %e, "identity refused");
                (code, e.to_string())
            }
            Error::Api(code, message) => (*code, message.clone()),
            Error::Audit(audit::Error::OutOfRange(message)) => {
                (ErrorCode::NotFound, message.clone())
            }
            Error::Audit(e) => {
                tracing::error!(error = %e, "audit failure: request refused");
                (
                    ErrorCode::Internal,
                    "the server could not record this in its audit log, so it did nothing; quote the x-request-id to an administrator"
                        .to_owned(),
                )
            }
            Error::Db(e) => {
                tracing::error!(error = %e, "storage failure");
                (
                    ErrorCode::Internal,
                    "the server could not complete the request; quote the x-request-id to an administrator"
                        .to_owned(),
                )
            }
        };
        let status =
            StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ApiError { code, message })).into_response()
    }
}
