//! The emergency breaker as every connected screen shows it: tripped or not, who, when, why, and
//! what the ledger answered to the pause.

use chrono::SecondsFormat;
use gatehouse_protocol::pause::Breaker;
use serde::Serialize;
use tauri::State;

use super::IpcError;
use super::connection::connection_for;
use crate::Console;

/// The breaker, for the banner.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BreakerView {
    /// Whether every instance refuses changes.
    pub tripped: bool,
    /// Who paused.
    pub by: Option<String>,
    /// When, RFC 3339 UTC.
    pub at: Option<String>,
    /// Why, in their words.
    pub reason: Option<String>,
    /// What the ledger answered to the TokenPause (`SUCCESS`, or why it failed).
    pub ledger_status: Option<String>,
}

impl From<Breaker> for BreakerView {
    fn from(b: Breaker) -> Self {
        Self {
            tripped: b.tripped,
            by: b.by,
            at: b.at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            reason: b.reason,
            ledger_status: b.ledger_status,
        }
    }
}

/// The breaker of the profile's server; `None` when the server runs no ledger (nothing to pause).
#[tauri::command]
#[specta::specta]
pub async fn breaker_status(
    console: State<'_, Console>,
    profile: String,
) -> Result<Option<BreakerView>, IpcError> {
    let connection = connection_for(&console, &profile)?;
    if !connection.ledger().await?.configured {
        return Ok(None);
    }
    let breaker: Breaker = connection.get("/v1/breaker").await?;
    Ok(Some(breaker.into()))
}
