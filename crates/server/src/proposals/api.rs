//! Proposal endpoints.

use std::sync::Arc;

use axum::extract::State;
use gatehouse_protocol::pause::{
    BreakGlassAccount, BreakGlassRecord, BreakGlassRekey, BreakGlassRekeyed, Breaker,
    NewBreakGlassAccount, NewPause, NewUnpause, PauseRequest, SignedPause,
};
use gatehouse_protocol::policy::{CurrentPolicy, NewRule};
use gatehouse_protocol::proposal::{
    ApprovalRequest, NewMint, NewOffboarding, NewOnboarding, NewResume, NewRotation, NewToken,
    Proposal, ProposalStatus, Reject, RoleKey, SignedApproval,
};
use gatehouse_protocol::{ApiError, ErrorCode, Role};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::engine::{By, Engine};
use crate::http::{AppState, Authorized, Caller, Error, Json, Path, Query, RequestId, Roles};

/// The proposals' routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(propose_mint))
        .routes(routes!(request_mint))
        .routes(routes!(propose_token))
        .routes(routes!(breaker))
        .routes(routes!(pause_request))
        .routes(routes!(pause))
        .routes(routes!(break_glass))
        .routes(routes!(break_glass_account))
        .routes(routes!(break_glass_rekey))
        .routes(routes!(propose_resume))
        .routes(routes!(resume_request))
        .routes(routes!(resume))
        .routes(routes!(policy))
        .routes(routes!(propose_policy))
        .routes(routes!(token_keys))
        .routes(routes!(propose_rotation))
        .routes(routes!(propose_offboarding))
        .routes(routes!(propose_onboarding))
        .routes(routes!(approval_request))
        .routes(routes!(approve))
        .routes(routes!(key_signature_request))
        .routes(routes!(sign_with_new_key))
        .routes(routes!(reject))
        .routes(routes!(cancel))
}

/// Officers: they propose mints and approve.
#[derive(Debug)]
pub struct Officers;

impl Roles for Officers {
    const ALLOWED: &'static [Role] = &[Role::Officer];
    const WHAT: &'static str = "proposing and approving";
}

/// Services: the game or app backend, which requests mints.
#[derive(Debug)]
pub struct Services;

impl Roles for Services {
    const ALLOWED: &'static [Role] = &[Role::Service];
    const WHAT: &'static str = "requesting mints through the service API";
}

/// Responders: any one of them may pause.
#[derive(Debug)]
pub struct Responders;

impl Roles for Responders {
    const ALLOWED: &'static [Role] = &[Role::Responder];
    const WHAT: &'static str = "pausing the deployment";
}

/// Administrators: they propose the token and create responders' break-glass accounts.
#[derive(Debug)]
pub struct Admins;

impl Roles for Admins {
    const ALLOWED: &'static [Role] = &[Role::Admin];
    const WHAT: &'static str =
        "administering the deployment (proposing its token, creating break-glass accounts)";
}

fn engine(state: &AppState) -> Result<&Engine, Error> {
    state.proposals.as_deref().ok_or_else(|| {
        Error::Api(
            ErrorCode::Conflict,
            "this server has no ledger configured, so it takes no proposals ([ledger] in its config)"
                .to_owned(),
        )
    })
}

fn by(caller: &Caller, request_id: String) -> By {
    By {
        actor: caller.actor(),
        name: caller.officer.name.clone(),
        roles: caller.officer.roles.clone(),
        request_id,
    }
}

/// Filters for `GET /v1/proposals`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only proposals with this status (`open`, `executed`, ...).
    pub status: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// Proposals, newest first.
#[utoipa::path(
    get,
    path = "/v1/proposals",
    params(ListQuery),
    responses(
        (status = 200, description = "Proposals with their approvals and rejections", body = Vec<Proposal>),
        (status = 400, body = ApiError),
    )
)]
async fn list(
    State(state): State<Arc<AppState>>,
    _: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<Proposal>>, Error> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(ProposalStatus::from_name(s).ok_or_else(|| {
            Error::Api(
                ErrorCode::BadRequest,
                format!("status: {s:?} is not one of open, executed, failed, expired, cancelled, rejected"),
            )
        })?),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(engine(&state)?.list(status, limit).await?))
}

/// One proposal.
#[utoipa::path(
    get,
    path = "/v1/proposals/{id}",
    params(("id" = String, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "The proposal", body = Proposal),
        (status = 404, body = ApiError),
    )
)]
async fn get(
    State(state): State<Arc<AppState>>,
    _: Caller,
    Path(id): Path<String>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(engine(&state)?.get(&id).await?))
}

/// Proposes a mint.
#[utoipa::path(
    post,
    path = "/v1/proposals/mint",
    request_body = NewMint,
    responses(
        (status = 200, description = "The proposal, scheduled on the ledger", body = Proposal),
        (status = 400, description = "Bad metadata (the message names the field)", body = ApiError),
        (status = 409, description = "No token yet, or the ledger refused", body = ApiError),
    )
)]
async fn propose_mint(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewMint>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .propose_mint(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// A service (the game or app backend) requests a mint: it becomes a mint proposal officers
/// approve like any other. Every item needs its HIP-412 document; requests are rate limited per
/// service (`[proposals] service_requests_per_minute`).
#[utoipa::path(
    post,
    path = "/v1/mint-requests",
    request_body = NewMint,
    responses(
        (status = 200, description = "The proposal, scheduled on the ledger", body = Proposal),
        (status = 400, description = "Bad metadata or document (the message names the field)", body = ApiError),
        (status = 403, description = "Not a service", body = ApiError),
        (status = 409, description = "No token yet, or the ledger refused", body = ApiError),
        (status = 429, description = "Over the service's rate; the message says when to send again", body = ApiError),
    )
)]
async fn request_mint(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Services>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewMint>,
) -> Result<Json<Proposal>, Error> {
    let engine = engine(&state)?;
    let by = by(&caller, request_id);
    if let Err(limited) = state.service_rate.check(&state.db, &by.name).await? {
        return Err(engine.rate_limited(&by, limited).await);
    }
    Ok(Json(engine.request_mint(&by, &new).await?))
}

/// Proposes creating the deployment's token, keyed by the officers' and responders' ledger keys.
#[utoipa::path(
    post,
    path = "/v1/proposals/token-create",
    request_body = NewToken,
    responses(
        (status = 200, description = "The proposal, scheduled on the ledger", body = Proposal),
        (status = 400, body = ApiError),
        (status = 409, description = "The token exists, or a creation is open", body = ApiError),
    )
)]
async fn propose_token(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Admins>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewToken>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .propose_token(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// The emergency breaker, and what the ledger answered to the pause.
#[utoipa::path(
    get,
    path = "/v1/breaker",
    responses((status = 200, description = "The breaker", body = Breaker))
)]
async fn breaker(State(state): State<Arc<AppState>>, _: Caller) -> Result<Json<Breaker>, Error> {
    Ok(Json(engine(&state)?.breaker().await?))
}

/// The TokenPause body a responder's device signs to pause (allowed while paused: pausing twice is
/// harmless).
#[utoipa::path(
    post,
    path = "/v1/pause/request",
    request_body = NewPause,
    responses(
        (status = 200, description = "The body to sign, valid for 3 minutes", body = PauseRequest),
        (status = 403, description = "Not a responder", body = ApiError),
        (status = 409, description = "No ledger key, or no token yet", body = ApiError),
    )
)]
async fn pause_request(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Responders>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewPause>,
) -> Result<Json<PauseRequest>, Error> {
    Ok(Json(
        engine(&state)?
            .pause_request(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// Pauses: the responder's signature over a pause request's body trips the breaker on every
/// instance and pauses the token on the ledger. No quorum.
#[utoipa::path(
    post,
    path = "/v1/pause",
    request_body = SignedPause,
    responses(
        (status = 200, description = "The breaker, tripped, with the ledger's answer", body = Breaker),
        (status = 400, description = "The signature does not verify", body = ApiError),
        (status = 403, description = "Not a responder", body = ApiError),
        (status = 409, description = "Unknown, used (replayed) or expired request", body = ApiError),
    )
)]
async fn pause(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Responders>,
    RequestId(request_id): RequestId,
    Json(signed): Json<SignedPause>,
) -> Result<Json<Breaker>, Error> {
    Ok(Json(
        engine(&state)?
            .pause(&by(&caller, request_id), &signed)
            .await?,
    ))
}

/// Records a break-glass pause: a TokenPause the responder sent straight to the ledger, paid by
/// their own account and signed by their device, while the server could not be reached. It trips
/// the breaker too. Delivering a record twice changes nothing.
#[utoipa::path(
    post,
    path = "/v1/pause/break-glass",
    request_body = BreakGlassRecord,
    responses(
        (status = 200, description = "The breaker, tripped", body = Breaker),
        (status = 400, description = "The signature does not verify, or it pauses another token", body = ApiError),
        (status = 403, description = "Not a responder", body = ApiError),
    )
)]
async fn break_glass(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Responders>,
    RequestId(request_id): RequestId,
    Json(record): Json<BreakGlassRecord>,
) -> Result<Json<Breaker>, Error> {
    Ok(Json(
        engine(&state)?
            .break_glass(&by(&caller, request_id), &record)
            .await?,
    ))
}

/// Records a break-glass account re-keyed in place (responders): after a pause-key rotation the
/// responder's device signed a CryptoUpdate of their account with the old key and their key in
/// the new pause key, and sent it straight to the ledger. Delivering a record twice changes
/// nothing.
#[utoipa::path(
    post,
    path = "/v1/pause/break-glass/rekeyed",
    request_body = BreakGlassRekey,
    responses(
        (status = 200, description = "Recorded in the audit log", body = BreakGlassRekeyed),
        (status = 400, description = "A signature does not verify, a key is not yours, or the update changes more than the key", body = ApiError),
        (status = 403, description = "Not a responder", body = ApiError),
        (status = 409, description = "You hold no key in the token's pause key", body = ApiError),
    )
)]
async fn break_glass_rekey(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Responders>,
    RequestId(request_id): RequestId,
    Json(record): Json<BreakGlassRekey>,
) -> Result<Json<BreakGlassRekeyed>, Error> {
    Ok(Json(
        engine(&state)?
            .break_glass_rekey(&by(&caller, request_id), &record)
            .await?,
    ))
}

/// Creates a responder's break-glass account (administrators): keyed by their enrolled ledger key
/// and funded from the operator, so they can pause the token on the ledger while the server is
/// down. The answer carries everything `gatehouse profile break-glass` needs.
#[utoipa::path(
    post,
    path = "/v1/pause/break-glass/accounts",
    request_body = NewBreakGlassAccount,
    responses(
        (status = 200, description = "The account, on the ledger", body = BreakGlassAccount),
        (status = 400, description = "Not a responder, or an amount out of range", body = ApiError),
        (status = 403, description = "Not an administrator", body = ApiError),
        (status = 409, description = "No enrolled ledger key, or the ledger refused", body = ApiError),
    )
)]
async fn break_glass_account(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Admins>,
    RequestId(request_id): RequestId,
    Json(request): Json<NewBreakGlassAccount>,
) -> Result<Json<BreakGlassAccount>, Error> {
    Ok(Json(
        engine(&state)?
            .break_glass_account(&by(&caller, request_id), &request)
            .await?,
    ))
}

/// Proposes resuming after a pause (officers): the quorum of the policy's `resume` rule approves
/// it, then a responder carries it out.
#[utoipa::path(
    post,
    path = "/v1/proposals/resume",
    request_body = NewResume,
    responses(
        (status = 200, description = "The resume proposal", body = Proposal),
        (status = 400, description = "No reason, or the quorum cannot be reached", body = ApiError),
        (status = 403, description = "Not an officer", body = ApiError),
        (status = 409, description = "Not paused, or a resume is open already", body = ApiError),
    )
)]
async fn propose_resume(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewResume>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .propose_resume(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// The TokenUnpause body of an approved resume, for a responder's device to sign.
#[utoipa::path(
    post,
    path = "/v1/resume/request",
    request_body = NewUnpause,
    responses(
        (status = 200, description = "The body to sign, valid for 3 minutes", body = PauseRequest),
        (status = 403, description = "Not a responder", body = ApiError),
        (status = 409, description = "Not an approved open resume, or no ledger key", body = ApiError),
    )
)]
async fn resume_request(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Responders>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewUnpause>,
) -> Result<Json<PauseRequest>, Error> {
    Ok(Json(
        engine(&state)?
            .resume_request(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// Carries out an approved resume: the responder's signed TokenUnpause goes to the ledger, and the
/// breaker closes once the mirror shows the token unpaused.
#[utoipa::path(
    post,
    path = "/v1/resume",
    request_body = SignedPause,
    responses(
        (status = 200, description = "The breaker (closed once the mirror confirmed)", body = Breaker),
        (status = 400, description = "The signature does not verify", body = ApiError),
        (status = 403, description = "Not a responder", body = ApiError),
        (status = 409, description = "Unknown, used or expired request; the resume is no longer approved; the ledger refused", body = ApiError),
    )
)]
async fn resume(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Responders>,
    RequestId(request_id): RequestId,
    Json(signed): Json<SignedPause>,
) -> Result<Json<Breaker>, Error> {
    Ok(Json(
        engine(&state)?
            .resume(&by(&caller, request_id), &signed)
            .await?,
    ))
}

/// The approval policy in force: each kind's threshold and eligible officers, the document the
/// token's memo anchors, and the token's key it is held to.
#[utoipa::path(
    get,
    path = "/v1/policy",
    responses(
        (status = 200, description = "The policy in force", body = CurrentPolicy),
        (status = 409, description = "No token yet", body = ApiError),
    )
)]
async fn policy(
    State(state): State<Arc<AppState>>,
    _: Caller,
) -> Result<Json<CurrentPolicy>, Error> {
    Ok(Json(engine(&state)?.policy().await?))
}

/// Proposes a new rule for one kind of action: a scheduled TokenUpdate of the token's memo to the
/// new policy's commitment, which the current quorum approves.
#[utoipa::path(
    post,
    path = "/v1/proposals/policy",
    request_body = NewRule,
    responses(
        (status = 200, description = "The proposal, scheduled on the ledger", body = Proposal),
        (status = 400, description = "A rule the ledger would not carry out (the message names the field)", body = ApiError),
        (status = 409, description = "No token yet, a policy change is open, or the ledger refused", body = ApiError),
    )
)]
async fn propose_policy(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewRule>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .propose_policy(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// The token's keys (admin, supply, pause, treasury) as the registry holds them: threshold,
/// holders and their keys, the proposal that set each, and whether the mirror was seen showing it.
#[utoipa::path(
    get,
    path = "/v1/token-keys",
    responses(
        (status = 200, description = "The token's keys, by role", body = [RoleKey]),
        (status = 409, description = "No token yet", body = ApiError),
    )
)]
async fn token_keys(
    State(state): State<Arc<AppState>>,
    _: Caller,
) -> Result<Json<Vec<RoleKey>>, Error> {
    Ok(Json(engine(&state)?.role_keys().await?))
}

/// Proposes replacing one of the token's keys: a scheduled TokenUpdate setting it to the new
/// holders' keys (each the key they staged, else the one they hold), which the admin key's quorum
/// approves under the policy rule. Allowed while the breaker is tripped.
#[utoipa::path(
    post,
    path = "/v1/proposals/rotation",
    request_body = NewRotation,
    responses(
        (status = 200, description = "The proposal, scheduled on the ledger", body = Proposal),
        (status = 400, description = "Holders or threshold the ledger would not carry out (the message names the field)", body = ApiError),
        (status = 409, description = "No token yet, the token is paused on the ledger, mints or another rotation are open, the mint rule would not fit, a role not built yet, or the ledger refused", body = ApiError),
    )
)]
async fn propose_rotation(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewRotation>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .propose_rotation(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// Proposes removing an officer from every token key they hold and every policy rule, in one
/// scheduled TokenUpdate the remaining holders approve; once it executes, the registry disables
/// them. Allowed while the breaker is tripped.
#[utoipa::path(
    post,
    path = "/v1/proposals/offboarding",
    request_body = NewOffboarding,
    responses(
        (status = 200, description = "The proposal, scheduled on the ledger", body = Proposal),
        (status = 400, description = "No reason, or nothing to remove", body = ApiError),
        (status = 409, description = "A key or rule would be left unable to reach its threshold, the token is paused, mints or another key or policy change are open, or the ledger refused", body = ApiError),
    )
)]
async fn propose_offboarding(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewOffboarding>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .propose_offboarding(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// Proposes adding a registered officer to token keys (their staged key; thresholds kept) and to
/// the policy rules checked against those keys, in one scheduled TokenUpdate the quorum approves;
/// with the officer's own device certificate request, the TLS certificate issued from it (shown
/// in the proposal) replaces theirs once it executes. Allowed while the breaker is tripped.
#[utoipa::path(
    post,
    path = "/v1/proposals/onboarding",
    request_body = NewOnboarding,
    responses(
        (status = 200, description = "The proposal, scheduled on the ledger", body = Proposal),
        (status = 400, description = "No reason, no keys or the treasury, someone not registered or without the role, a key they hold already, no ledger key, someone else's certificate request, or a request that cannot be read or issued", body = ApiError),
        (status = 409, description = "The token is paused, another key or policy change is open, or the ledger refused", body = ApiError),
    )
)]
async fn propose_onboarding(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Json(new): Json<NewOnboarding>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .propose_onboarding(&by(&caller, request_id), &new)
            .await?,
    ))
}

/// The exact ScheduleSign body the caller's device must sign to approve.
#[utoipa::path(
    post,
    path = "/v1/proposals/{id}/approval-request",
    params(("id" = String, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "The body to sign, valid for 3 minutes", body = ApprovalRequest),
        (status = 403, description = "Not eligible, or the caller's own proposal", body = ApiError),
        (status = 409, description = "Not open, past its deadline, or approved already", body = ApiError),
    )
)]
async fn approval_request(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRequest>, Error> {
    Ok(Json(
        engine(&state)?
            .approval_request(&by(&caller, request_id), &id)
            .await?,
    ))
}

/// Submits the device's signature over an approval request's body.
#[utoipa::path(
    post,
    path = "/v1/proposals/{id}/approvals",
    params(("id" = String, Path, description = "Proposal id")),
    request_body = SignedApproval,
    responses(
        (status = 200, description = "Accepted and sent to the ledger; the proposal as it stands", body = Proposal),
        (status = 400, description = "The signature does not verify", body = ApiError),
        (status = 403, body = ApiError),
        (status = 409, description = "Replayed, expired, unknown request, or the ledger refused", body = ApiError),
    )
)]
async fn approve(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(signed): Json<SignedApproval>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .approve(&by(&caller, request_id), &id, &signed)
            .await?,
    ))
}

/// The ScheduleSign body a holder of an admin or treasury rotation's new key signs with that new
/// key (Hedera asks the new key itself to sign those changes). Not an approval.
#[utoipa::path(
    post,
    path = "/v1/proposals/{id}/key-signature-request",
    params(("id" = String, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "The body to sign with the new key named, valid for 3 minutes", body = ApprovalRequest),
        (status = 403, description = "The caller holds no key in the rotation's new key", body = ApiError),
        (status = 409, description = "No new key to sign for, not open, past its deadline, or signed already", body = ApiError),
    )
)]
async fn key_signature_request(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRequest>, Error> {
    Ok(Json(
        engine(&state)?
            .key_signature_request(&by(&caller, request_id), &id)
            .await?,
    ))
}

/// Submits the new key's signature over a key-signature request's body; the server sends it to
/// the ledger's schedule.
#[utoipa::path(
    post,
    path = "/v1/proposals/{id}/key-signatures",
    params(("id" = String, Path, description = "Proposal id")),
    request_body = SignedApproval,
    responses(
        (status = 200, description = "Accepted and sent to the ledger; the proposal as it stands", body = Proposal),
        (status = 400, description = "The signature does not verify against the new key", body = ApiError),
        (status = 403, body = ApiError),
        (status = 409, description = "Replayed, expired, unknown request, signed already, or the ledger refused", body = ApiError),
    )
)]
async fn sign_with_new_key(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(signed): Json<SignedApproval>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .sign_with_new_key(&by(&caller, request_id), &id, &signed)
            .await?,
    ))
}

/// Rejects a proposal, with a reason.
#[utoipa::path(
    post,
    path = "/v1/proposals/{id}/reject",
    params(("id" = String, Path, description = "Proposal id")),
    request_body = Reject,
    responses(
        (status = 200, description = "The proposal as it stands", body = Proposal),
        (status = 400, body = ApiError),
        (status = 403, body = ApiError),
        (status = 409, body = ApiError),
    )
)]
async fn reject(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<Officers>,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
    Json(body): Json<Reject>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .reject(&by(&caller, request_id), &id, &body.reason)
            .await?,
    ))
}

/// Cancels an open proposal (its proposer or an administrator).
#[utoipa::path(
    post,
    path = "/v1/proposals/{id}/cancel",
    params(("id" = String, Path, description = "Proposal id")),
    responses(
        (status = 200, description = "The proposal, cancelled", body = Proposal),
        (status = 403, body = ApiError),
        (status = 409, body = ApiError),
    )
)]
async fn cancel(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RequestId(request_id): RequestId,
    Path(id): Path<String>,
) -> Result<Json<Proposal>, Error> {
    Ok(Json(
        engine(&state)?
            .cancel(&by(&caller, request_id), &id)
            .await?,
    ))
}
