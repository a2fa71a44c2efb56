//! Read-only audit endpoints: the latest signed checkpoint, entries, inclusion and
//! consistency proofs. Any registered role may read; nothing here changes state.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_protocol::{ErrorCode, Role};
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::http::{AppState, Caller, Error};
use gatehouse_audit::Hash;
use gatehouse_audit::leaf::OutcomeKind;

/// The latest checkpoint and the key that signs it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    /// The C2SP signed note, or null before the first entry.
    pub note: Option<String>,
    /// The log's verifier key (`name+keyid+base64key`), to pin at first use.
    pub verifier: String,
}

/// One canonical leaf.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryView {
    /// Index in the log.
    pub index: u64,
    /// The canonical leaf bytes, base64.
    pub leaf: String,
}

/// A Merkle proof.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProofView {
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf index (inclusion) or the older size (consistency).
    pub from: u64,
    /// The proof's hashes, base64 (as checkpoint roots are), in RFC 9162 order.
    pub hashes: Vec<String>,
    /// The entry, for inclusion proofs.
    pub entry: Option<EntryView>,
}

/// Paging and filters for `GET /v1/audit/entries`. Page on with `from` = last index + 1.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// First index (default 0).
    #[serde(default)]
    pub from: u64,
    /// Most entries to return (default 1000, at most 10000).
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
pub async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<Json<CheckpointView>, Error> {
    Ok(Json(CheckpointView {
        note: state.audit.checkpoint().await?,
        verifier: state.audit.verifier(),
    }))
}

/// Entries in index order.
#[utoipa::path(get, path = "/v1/audit/entries", params(Page), responses((status = 200, body = Vec<EntryView>)))]
pub async fn entries(
    State(state): State<Arc<AppState>>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<EntryView>>, Error> {
    let limit = page.limit.unwrap_or(1000);
    if limit == 0 || limit > 10_000 {
        return Err(Error::Api(
            ErrorCode::BadRequest,
            "limit must be between 1 and 10000".to_owned(),
        ));
    }
    let outcome = match page.outcome.as_deref() {
        None => None,
        Some("success") => Some(OutcomeKind::Success),
        Some("denied") => Some(OutcomeKind::Denied),
        Some("failed") => Some(OutcomeKind::Failed),
        Some(other) => {
            return Err(Error::Api(
                ErrorCode::BadRequest,
                format!("outcome {other:?} is not one of success, denied, failed"),
            ));
        }
    };
    let filter = audit::Filter {
        actor: page.actor,
        action: page.action,
        object: page.object,
        outcome,
        since: page.since,
        until: page.until,
    };
    let rows = state.audit.entries(page.from, limit, &filter).await?;
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
    responses((status = 200, body = ProofView), (status = 404, body = gatehouse_protocol::ApiError))
)]
pub async fn entry(
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
pub async fn consistency(
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

/// A personal value to look up (sent in a body so it never appears in a URL or access log).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SearchRequest {
    /// The commitment tag, e.g. `client-ip`.
    pub tag: String,
    /// The value to find.
    pub value: String,
}

/// Entries whose personal data matched.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchResult {
    /// Matching entry indices, ascending.
    pub indices: Vec<u64>,
}

/// The personal data behind one commitment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrivateView {
    /// The commitment's tag.
    pub tag: String,
    /// The salt, hex; null once erased.
    pub salt: Option<String>,
    /// The value; null once erased.
    pub value: Option<String>,
    /// When it was erased (RFC 3339).
    pub erased_at: Option<String>,
}

/// What to erase.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EraseRequest {
    /// The entry.
    pub index: u64,
    /// The commitment tag whose value and salt are erased.
    pub tag: String,
}

/// The entry that records an erasure.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// Index of the `audit.erase` entry.
    pub erasure_index: u64,
}

fn require(caller: &Caller, roles: &[Role], what: &str) -> Result<(), Error> {
    if caller.officer.roles.iter().any(|r| roles.contains(r)) {
        return Ok(());
    }
    let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
    Err(Error::Api(
        ErrorCode::Forbidden,
        format!("{what} needs the {} role", names.join(" or ")),
    ))
}

fn actor(caller: &Caller) -> audit::Actor {
    audit::Actor {
        name: caller.officer.name.clone(),
        fingerprint: caller.certificate.fingerprint,
    }
}

/// Finds entries by a personal value through the HMAC index (compliance, admin).
#[utoipa::path(post, path = "/v1/audit/search", request_body = SearchRequest, responses((status = 200, body = SearchResult), (status = 403, body = gatehouse_protocol::ApiError)))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Json(request): Json<SearchRequest>,
) -> Result<Json<SearchResult>, Error> {
    require(
        &caller,
        &[Role::Compliance, Role::Admin],
        "searching personal data",
    )?;
    Ok(Json(SearchResult {
        indices: state.audit.search(&request.tag, &request.value).await?,
    }))
}

/// The personal data behind an entry's commitments (compliance, admin).
#[utoipa::path(get, path = "/v1/audit/entries/{index}/private", params(("index" = u64, Path, description = "Entry index")), responses((status = 200, body = Vec<PrivateView>), (status = 403, body = gatehouse_protocol::ApiError)))]
pub async fn private(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(index): Path<u64>,
) -> Result<Json<Vec<PrivateView>>, Error> {
    require(
        &caller,
        &[Role::Compliance, Role::Admin],
        "reading personal data",
    )?;
    let rows = state.audit.private(index).await?;
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
#[utoipa::path(post, path = "/v1/audit/erase", request_body = EraseRequest, responses((status = 200, body = Erased), (status = 403, body = gatehouse_protocol::ApiError), (status = 404, body = gatehouse_protocol::ApiError)))]
pub async fn erase(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    headers: axum::http::HeaderMap,
    Json(request): Json<EraseRequest>,
) -> Result<Json<Erased>, Error> {
    let request_id = headers
        .get(gatehouse_protocol::REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if let Err(refusal) = require(&caller, &[Role::Admin], "erasing personal data") {
        state
            .audit
            .append(audit::Entry {
                actor: actor(&caller),
                action: "audit.erase".to_owned(),
                object: format!("audit-entry:{}", request.index),
                outcome: gatehouse_audit::leaf::OutcomeKind::Denied,
                code: Some("forbidden".to_owned()),
                request_id,
                details: serde_json::json!({ "index": request.index, "tag": request.tag }),
                personal: Vec::new(),
            })
            .await?;
        return Err(refusal);
    }
    let erasure_index = state
        .audit
        .erase(request.index, &request.tag, actor(&caller), request_id)
        .await?;
    Ok(Json(Erased { erasure_index }))
}
