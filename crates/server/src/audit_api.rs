//! Read-only audit endpoints: the latest signed checkpoint, entries, inclusion and
//! consistency proofs. Any registered role may read; nothing here changes state.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_protocol::ErrorCode;
use serde::{Deserialize, Serialize};

use crate::http::{AppState, Error};

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
    /// The proof's hashes, hex, in RFC 9162 order.
    pub hashes: Vec<String>,
    /// The entry, for inclusion proofs.
    pub entry: Option<EntryView>,
}

/// Paging for `GET /v1/audit/entries`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// First index (default 0).
    #[serde(default)]
    pub from: u64,
    /// Most entries to return (default 1000, at most 10000).
    pub limit: Option<u32>,
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
    let rows = state.audit.entries(page.from, limit).await?;
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
        hashes: proof.path.iter().map(|h| h.to_hex()).collect(),
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
        hashes: proof.path.iter().map(|h| h.to_hex()).collect(),
        entry: None,
    }))
}
