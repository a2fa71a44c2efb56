//! Audit endpoints: the latest signed checkpoint, entries, inclusion and consistency proofs
//! (any registered role); personal-data search and reads (compliance, admin; each read is
//! itself audited before the data leaves); erasure (admin).

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::Hash;
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_protocol::audit::{
    CheckpointView, EntryView, EraseRequest, Erased, PrivateView, ProofView, SearchRequest,
    SearchResult,
};
use gatehouse_protocol::{ApiError, ErrorCode, Role};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Action, Entry, Filter, Personal, parse_outcome};
use crate::http::auth::require;
use crate::http::{AppState, Authorized, Caller, Error, Json, Path, Query, RequestId, Roles};

/// Most entries in one page.
pub const MAX_PAGE: u32 = 10_000;
/// Most leaf bytes in one page (a page stops early, with at least one entry, beyond this).
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// The audit log's routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(checkpoint))
        .routes(routes!(entries))
        .routes(routes!(entry))
        .routes(routes!(consistency))
        .routes(routes!(search))
        .routes(routes!(private))
        .routes(routes!(erase))
}

/// Compliance staff and administrators.
#[derive(Debug)]
pub struct PersonalData;

impl Roles for PersonalData {
    const ALLOWED: &'static [Role] = &[Role::Compliance, Role::Admin];
    const WHAT: &'static str = "reading personal data";
}

/// Administrators.
#[derive(Debug)]
struct Erasure;

impl Roles for Erasure {
    const ALLOWED: &'static [Role] = &[Role::Admin];
    const WHAT: &'static str = "erasing personal data";
}

/// Paging and filters for `GET /v1/audit/entries`. Page on with `from` = last index + 1.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// First index (default 0).
    #[serde(default)]
    pub from: u64,
    /// Most entries to return (default 1000, at most 10000). A page also stops once it holds
    /// 4 MiB of leaves.
    pub limit: Option<u32>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this object.
    pub object: Option<String>,
    /// Only this outcome: success, denied or failed.
    pub outcome: Option<String>,
    /// At or after this time (RFC 3339).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Before this time (RFC 3339).
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// Tree size for an inclusion proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AtSize {
    /// The tree size (from a checkpoint) the proof is for.
    pub tree_size: u64,
}

/// Sizes for a consistency proof.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Between {
    /// The older (trusted) size.
    pub old: u64,
    /// The newer size.
    pub new: u64,
}

/// The latest signed checkpoint.
#[utoipa::path(get, path = "/v1/audit/checkpoint", responses((status = 200, body = CheckpointView)))]
async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<Json<CheckpointView>, Error> {
    Ok(Json(CheckpointView {
        note: state.audit.checkpoint().await?,
        verifier: state.audit.verifier(),
    }))
}

/// Entries in index order.
#[utoipa::path(get, path = "/v1/audit/entries", params(Page), responses((status = 200, body = Vec<EntryView>), (status = 400, body = ApiError)))]
async fn entries(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<EntryView>>, Error> {
    let limit = page.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::Api(
            ErrorCode::BadRequest,
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let outcome = match page.outcome.as_deref() {
        None => None,
        Some(name) => Some(parse_outcome(name).ok_or_else(|| {
            Error::Api(
                ErrorCode::BadRequest,
                format!("outcome {name:?} is not one of success, denied, failed"),
            )
        })?),
    };
    let filter = Filter {
        actor: page.actor,
        action: page.action,
        object: page.object,
        outcome,
        since: page.since,
        until: page.until,
    };
    let rows = state
        .audit
        .entries(page.from, limit, MAX_PAGE_BYTES, &filter)
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| EntryView {
                index: r.index,
                leaf: STANDARD.encode(r.leaf),
            })
            .collect(),
    ))
}

/// One entry with its inclusion proof in the tree of `tree_size` leaves.
#[utoipa::path(
    get,
    path = "/v1/audit/entries/{index}",
    params(("index" = u64, Path, description = "Entry index"), AtSize),
    responses((status = 200, body = ProofView), (status = 404, body = ApiError))
)]
async fn entry(
    State(state): State<Arc<AppState>>,
    Path(index): Path<u64>,
    Query(at): Query<AtSize>,
) -> Result<Json<ProofView>, Error> {
    let (stored, proof) = state.audit.entry(index, at.tree_size).await?;
    Ok(Json(ProofView {
        tree_size: at.tree_size,
        from: index,
        hashes: proof.path.iter().map(Hash::to_string).collect(),
        entry: Some(EntryView {
            index: stored.index,
            leaf: STANDARD.encode(stored.leaf),
        }),
    }))
}

/// A proof that the tree of `old` leaves is a prefix of the tree of `new` leaves.
#[utoipa::path(get, path = "/v1/audit/consistency", params(Between), responses((status = 200, body = ProofView)))]
async fn consistency(
    State(state): State<Arc<AppState>>,
    Query(sizes): Query<Between>,
) -> Result<Json<ProofView>, Error> {
    let proof = state.audit.consistency(sizes.old, sizes.new).await?;
    Ok(Json(ProofView {
        tree_size: sizes.new,
        from: sizes.old,
        hashes: proof.path.iter().map(Hash::to_string).collect(),
        entry: None,
    }))
}

/// A read of personal data, recorded before the data is sent (no entry, no data).
fn read_entry(
    caller: &Caller,
    request_id: RequestId,
    action: Action,
    object: String,
    details: serde_json::Value,
) -> Entry {
    Entry {
        actor: caller.actor(),
        action,
        object,
        outcome: OutcomeKind::Success,
        code: None,
        request_id: request_id.0,
        details,
        personal: Personal::default(),
    }
}

/// Finds entries by a personal value through the HMAC index (compliance, admin). The search is
/// audited (by tag; the value searched for is not written anywhere).
#[utoipa::path(post, path = "/v1/audit/search", request_body = SearchRequest, responses((status = 200, body = SearchResult), (status = 403, body = ApiError)))]
async fn search(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<PersonalData>,
    request_id: RequestId,
    Json(request): Json<SearchRequest>,
) -> Result<Json<SearchResult>, Error> {
    let mut tag = request.tag.clone();
    super::cap(&mut tag);
    let indices = state.audit.search(&request.tag, &request.value).await?;
    state
        .audit
        .append(read_entry(
            &caller,
            request_id,
            Action::AuditSearch,
            format!("audit-search:{tag}"),
            serde_json::json!({ "tag": tag, "matches": indices.len() }),
        ))
        .await?;
    Ok(Json(SearchResult { indices }))
}

/// The personal data behind an entry's commitments (compliance, admin). Audited.
#[utoipa::path(get, path = "/v1/audit/entries/{index}/private", params(("index" = u64, Path, description = "Entry index")), responses((status = 200, body = Vec<PrivateView>), (status = 403, body = ApiError)))]
async fn private(
    State(state): State<Arc<AppState>>,
    Authorized(caller, _): Authorized<PersonalData>,
    request_id: RequestId,
    Path(index): Path<u64>,
) -> Result<Json<Vec<PrivateView>>, Error> {
    let rows = state.audit.private(index).await?;
    let tags: Vec<&str> = rows.iter().map(|p| p.tag.as_str()).collect();
    state
        .audit
        .append(read_entry(
            &caller,
            request_id,
            Action::AuditReadPrivate,
            format!("audit-entry:{index}"),
            serde_json::json!({ "index": index, "tags": tags }),
        ))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|p| PrivateView {
                tag: p.tag,
                salt: p.salt.map(hex::encode),
                value: p.value,
                erased_at: p.erased_at.map(|t| t.to_rfc3339()),
            })
            .collect(),
    ))
}

/// Erases personal data (admin). The erasure is itself an entry; a refused attempt is too.
#[utoipa::path(post, path = "/v1/audit/erase", request_body = EraseRequest, responses((status = 200, body = Erased), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn erase(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    request_id: RequestId,
    Json(request): Json<EraseRequest>,
) -> Result<Json<Erased>, Error> {
    let mut tag = request.tag.clone();
    super::cap(&mut tag);
    if let Err(refusal) = require::<Erasure>(&caller) {
        state
            .audit
            .append(Entry {
                actor: caller.actor(),
                action: Action::AuditErase,
                object: format!("audit-entry:{}", request.index),
                outcome: OutcomeKind::Denied,
                code: Some(Cow::Borrowed("forbidden")),
                request_id: request_id.0,
                details: serde_json::json!({ "index": request.index, "tag": tag }),
                personal: Personal::default(),
            })
            .await?;
        return Err(refusal);
    }
    let erasure_index = state
        .audit
        .erase(request.index, &request.tag, caller.actor(), request_id.0)
        .await?;
    Ok(Json(Erased { erasure_index }))
}
