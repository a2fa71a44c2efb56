//! Registry endpoints.

use std::sync::Arc;

use gatehouse_protocol::{ApiError, WhoAmI};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::{AppState, Caller, Json};

/// The registry's routes.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new().routes(routes!(whoami))
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
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: caller.officer.name,
        roles: caller.officer.roles,
        fingerprint: caller.certificate.fingerprint,
        not_after: caller.certificate.not_after,
    })
}
