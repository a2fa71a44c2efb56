//! NFT and alarm endpoints.

use std::sync::Arc;

use axum::extract::State;
use gatehouse_protocol::ApiError;
use gatehouse_protocol::proposal::{Alarm, Nft};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store;
use crate::http::{AppState, Caller, Error, Json, Query};

/// The routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(nfts))
        .routes(routes!(alarms))
}

/// Paging for `GET /v1/nfts`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NftQuery {
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// The token's NFTs, newest first: each with the proposal and approvers that minted it, or marked
/// unexplained.
#[utoipa::path(
    get,
    path = "/v1/nfts",
    params(NftQuery),
    responses((status = 200, body = Vec<Nft>), (status = 403, body = ApiError))
)]
async fn nfts(
    State(state): State<Arc<AppState>>,
    _: Caller,
    Query(q): Query<NftQuery>,
) -> Result<Json<Vec<Nft>>, Error> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(store::nfts(&state.db, limit).await?))
}

/// Alarms the server raised (unexplained mints, unusual mint volume), newest first.
#[utoipa::path(
    get,
    path = "/v1/alarms",
    responses((status = 200, body = Vec<Alarm>), (status = 403, body = ApiError))
)]
async fn alarms(State(state): State<Arc<AppState>>, _: Caller) -> Result<Json<Vec<Alarm>>, Error> {
    Ok(Json(store::alarms(&state.db).await?))
}
