//! Ledger endpoints.

use std::sync::Arc;

use axum::extract::State;
use gatehouse_protocol::{ApiError, LedgerStatus};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{AppState, Json};

/// The ledger's routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(ledger_status))
}

/// The Hedera network this server uses, and whether it answers right now.
#[utoipa::path(
    get,
    path = "/v1/ledger",
    responses(
        (status = 200, description = "The ledger adapter's network and a live balance check of its fee payer", body = LedgerStatus),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError),
    )
)]
async fn ledger_status(State(state): State<Arc<AppState>>) -> Json<LedgerStatus> {
    Json(match &state.ledger {
        Some(ledger) => ledger.status().await,
        None => LedgerStatus::not_configured(),
    })
}
