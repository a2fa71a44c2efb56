//! Ledger key endpoints.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::State;
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::proposal::{LedgerKey, LedgerKeyEnrolment};
use gatehouse_protocol::{ApiError, ErrorCode, Role};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Refused, judge, store};
use crate::audit::{self, Action, Personal};
use crate::http::{AppState, Authorized, Caller, Error, Json, RequestId, Roles};

/// The keys' routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(list, enrol))
}

/// People whose ledger keys make up the token's keys: officers (admin and supply keys) and
/// responders (pause key).
#[derive(Debug)]
pub struct KeyHolders;

impl Roles for KeyHolders {
    const ALLOWED: &'static [Role] = &[Role::Officer, Role::Responder];
    const WHAT: &'static str = "enrolling a ledger key";
}

/// Every enrolled ledger key.
#[utoipa::path(
    get,
    path = "/v1/ledger-keys",
    responses(
        (status = 200, description = "Enrolled ledger keys, by officer", body = Vec<LedgerKey>),
        (status = 403, body = ApiError),
    )
)]
async fn list(
    State(state): State<Arc<AppState>>,
    _: Caller,
) -> Result<Json<Vec<LedgerKey>>, Error> {
    let keys = store::all(&state.db).await?;
    Ok(Json(keys.iter().map(super::Enrolled::view).collect()))
}

/// Enrols the caller's ledger key, with the device's evidence that it was born there. Once only:
/// replacing a key is a rotation.
#[utoipa::path(
    post,
    path = "/v1/ledger-keys",
    request_body = LedgerKeyEnrolment,
    responses(
        (status = 200, description = "The key as enrolled", body = LedgerKey),
        (status = 400, description = "Malformed key or evidence, or evidence the policy refuses", body = ApiError),
        (status = 403, body = ApiError),
        (status = 409, description = "The caller has a key already, or the key belongs to someone else", body = ApiError),
    )
)]
async fn enrol(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<KeyHolders>,
    RequestId(request_id): RequestId,
    Json(request): Json<LedgerKeyEnrolment>,
) -> Result<Json<LedgerKey>, Error> {
    let entry = |outcome, code: Option<&'static str>, details| audit::Entry {
        actor: caller.actor(),
        action: Action::LedgerKeyEnrol,
        object: format!("ledger-key:{}", caller.officer.name),
        outcome,
        code: code.map(Cow::Borrowed),
        request_id: request_id.clone(),
        details,
        personal: Personal::default(),
    };
    let now = chrono::Utc::now().timestamp();
    let accepted = match judge(&request, state.keys.policy, &state.keys.anchors, now) {
        Ok(accepted) => accepted,
        Err(refused) => {
            let details = serde_json::json!({ "reason": refused.to_string() });
            state
                .audit
                .append(entry(OutcomeKind::Denied, Some(refused.code()), details))
                .await?;
            let hint = match refused {
                Refused::Policy(_) => {
                    " (this deployment accepts only keys generated on a hardware device: generate the key on your YubiKey or token)"
                }
                _ => "",
            };
            return Err(Error::Api(
                ErrorCode::BadRequest,
                format!("the ledger key was not enrolled: {refused}{hint}"),
            ));
        }
    };
    let mut tx = state.db.begin().await.map_err(crate::store::Error::from)?;
    if store::of(&mut tx, &caller.officer.name).await?.is_some() {
        drop(tx);
        return Err(Error::Api(
            ErrorCode::Conflict,
            "you have a ledger key enrolled already; replacing it is a key rotation".to_owned(),
        ));
    }
    let enrolled = store::insert(
        &mut tx,
        &caller.officer.name,
        &accepted,
        request.device.as_deref(),
    )
    .await?;
    let details = serde_json::json!({
        "public_key": enrolled.view().public_key,
        "algorithm": enrolled.view().algorithm,
        "evidence": accepted.judged.as_str(),
        "evidence_details": accepted.details,
        "device": request.device,
    });
    let recorded = state
        .audit
        .record(&mut tx, entry(OutcomeKind::Success, None, details))
        .await?;
    tx.commit().await.map_err(crate::store::Error::from)?;
    state.audit.sequenced(recorded).await?;
    Ok(Json(enrolled.view()))
}
