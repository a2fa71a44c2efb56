//! Ledger key endpoints.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::State;
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::proposal::{LedgerKey, LedgerKeyEnrolment};
use gatehouse_protocol::{ApiError, ErrorCode, Role};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Accepted, Refused, judge, store};
use crate::audit::{self, Action, Personal};
use crate::http::{AppState, Authorized, Caller, Error, Json, RequestId, Roles};

/// The keys' routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(list, enrol))
        .routes(routes!(staged, stage))
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
    views(store::all(&state.db).await?)
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
    let handing = Handing {
        state: &state,
        caller: &caller,
        request_id,
        action: Action::LedgerKeyEnrol,
    };
    let accepted = handing.judged(&request).await?;
    let mut tx = state.db.begin().await.map_err(crate::store::Error::from)?;
    if store::of(&mut tx, &caller.officer.name).await?.is_some() {
        drop(tx);
        return Err(Error::Api(
            ErrorCode::Conflict,
            "you have a ledger key enrolled already; replacing it is a key rotation: stage the new key (gatehouse ledger-key stage)".to_owned(),
        ));
    }
    let enrolled = store::insert(
        &mut tx,
        &caller.officer.name,
        &accepted,
        request.device.as_deref(),
    )
    .await?;
    handing
        .record(tx, &enrolled, &accepted, &request, serde_json::Value::Null)
        .await?;
    Ok(Json(enrolled.view()))
}

/// Keys staged for the next rotation.
#[utoipa::path(
    get,
    path = "/v1/ledger-keys/staged",
    responses(
        (status = 200, description = "Staged ledger keys, by officer", body = Vec<LedgerKey>),
        (status = 403, body = ApiError),
    )
)]
async fn staged(
    State(state): State<Arc<AppState>>,
    _: Caller,
) -> Result<Json<Vec<LedgerKey>>, Error> {
    views(store::staged(&state.db).await?)
}

/// Stages the caller's next ledger key for a rotation: generated on their own device, handed in
/// with the device's evidence and judged by the same policy as an enrolment. It takes effect only
/// through a rotation the quorum approves; a newer staged key replaces this one.
#[utoipa::path(
    post,
    path = "/v1/ledger-keys/staged",
    request_body = LedgerKeyEnrolment,
    responses(
        (status = 200, description = "The key as staged", body = LedgerKey),
        (status = 400, description = "Malformed key or evidence, or evidence the policy refuses", body = ApiError),
        (status = 403, body = ApiError),
        (status = 409, description = "The key is enrolled or staged already", body = ApiError),
    )
)]
async fn stage(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<KeyHolders>,
    RequestId(request_id): RequestId,
    Json(request): Json<LedgerKeyEnrolment>,
) -> Result<Json<LedgerKey>, Error> {
    let handing = Handing {
        state: &state,
        caller: &caller,
        request_id,
        action: Action::LedgerKeyStage,
    };
    let accepted = handing.judged(&request).await?;
    let mut tx = state.db.begin().await.map_err(crate::store::Error::from)?;
    let holder = store::holder_of(&mut tx, &hex::encode(accepted.key.as_bytes())).await?;
    if let Some((holder, staged)) = holder {
        drop(tx);
        let whose = match (holder == caller.officer.name, staged) {
            (true, true) => "staged by you already".to_owned(),
            (true, false) => {
                "your current ledger key: a rotation needs a new key, generated on the device"
                    .to_owned()
            }
            (false, true) => format!("staged by {holder}"),
            (false, false) => format!("{holder}'s ledger key"),
        };
        return Err(Error::Api(
            ErrorCode::Conflict,
            format!("this key is {whose}"),
        ));
    }
    // A staged key an open rotation names is what the ledger will hold once it executes: it
    // cannot be swapped under the officers approving it.
    if let Some(current) = store::staged_of(&mut tx, &caller.officer.name).await? {
        let shown = current.view().public_key;
        let open = crate::proposals::store::list(
            &state.db,
            Some(gatehouse_protocol::proposal::ProposalStatus::Open),
            1000,
        )
        .await?;
        let naming = open.iter().find(|p| p.payload.uses_staged(&shown));
        if let Some(p) = naming {
            drop(tx);
            return Err(Error::Api(
                ErrorCode::Conflict,
                format!(
                    "your staged key is in open {} {}: it cannot be replaced while officers approve it; cancel the {} first (gatehouse proposal cancel {})",
                    p.kind.as_str(),
                    p.id,
                    p.kind.as_str(),
                    p.id
                ),
            ));
        }
    }
    let (staged, replaced) = store::stage(
        &mut tx,
        &caller.officer.name,
        &accepted,
        request.device.as_deref(),
    )
    .await?;
    let replaced = replaced.map_or(serde_json::Value::Null, |r| {
        serde_json::Value::String(r.view().public_key)
    });
    handing
        .record(tx, &staged, &accepted, &request, replaced)
        .await?;
    Ok(Json(staged.view()))
}

fn views(keys: Vec<super::Enrolled>) -> Result<Json<Vec<LedgerKey>>, Error> {
    Ok(Json(keys.iter().map(super::Enrolled::view).collect()))
}

/// A key being handed in (enrolled or staged): who, and what the audit log calls it.
struct Handing<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    request_id: String,
    action: Action,
}

impl Handing<'_> {
    fn entry(
        &self,
        outcome: OutcomeKind,
        code: Option<&'static str>,
        details: serde_json::Value,
    ) -> audit::Entry {
        audit::Entry {
            actor: self.caller.actor(),
            action: self.action.clone(),
            object: format!("ledger-key:{}", self.caller.officer.name),
            outcome,
            code: code.map(Cow::Borrowed),
            request_id: self.request_id.clone(),
            details,
            personal: Personal::default(),
        }
    }

    /// The key, if the policy accepts its evidence; a refusal is audited and says what to do.
    async fn judged(&self, request: &LedgerKeyEnrolment) -> Result<Accepted, Error> {
        let now = chrono::Utc::now().timestamp();
        let state = self.state;
        match judge(request, state.keys.policy, &state.keys.anchors, now) {
            Ok(accepted) => Ok(accepted),
            Err(refused) => {
                let details = serde_json::json!({ "reason": refused.to_string() });
                state
                    .audit
                    .append(self.entry(OutcomeKind::Denied, Some(refused.code()), details))
                    .await?;
                let hint = match refused {
                    Refused::Policy(_) => {
                        " (this deployment accepts only keys generated on a hardware device: generate the key on your YubiKey or token)"
                    }
                    _ => "",
                };
                Err(Error::Api(
                    ErrorCode::BadRequest,
                    format!("the ledger key was not accepted: {refused}{hint}"),
                ))
            }
        }
    }

    /// Audits the key handed in, in its own transaction, and commits.
    async fn record(
        &self,
        mut tx: crate::store::Tx,
        key: &super::Enrolled,
        accepted: &Accepted,
        request: &LedgerKeyEnrolment,
        replaced: serde_json::Value,
    ) -> Result<(), Error> {
        let mut details = serde_json::json!({
            "public_key": key.view().public_key,
            "algorithm": key.view().algorithm,
            "evidence": accepted.judged.as_str(),
            "evidence_details": accepted.details,
            "device": request.device,
        });
        if !replaced.is_null() {
            details["replaces"] = replaced;
        }
        let recorded = self
            .state
            .audit
            .record(&mut tx, self.entry(OutcomeKind::Success, None, details))
            .await?;
        tx.commit().await.map_err(crate::store::Error::from)?;
        self.state.audit.sequenced(recorded).await?;
        Ok(())
    }
}
