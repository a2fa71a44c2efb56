//! Break-glass in the console (invariant 3, the server down): when the server cannot be reached, a
//! responder whose profile has break-glass set up (`gatehouse profile break-glass`) pauses the
//! token straight on the ledger. The TokenPause is built and decoded here, paid by the responder's
//! own account, shown, and signed on their device with the key that account is keyed by; it goes
//! to the node named in the profile and the mirror confirms it. The signed record waits beside the
//! profile and is delivered to the server's audit log when the console next connects (see
//! `watch`).

use chrono::{DateTime, Utc};
use gatehouse_client::breakglass::{self, BreakGlass, Error as BreakGlassError, Ledger};
use serde::Serialize;
use tauri::State;

use super::breaker::BreakerBody;
use super::profile::store;
use super::proposals::{fields, sign_on_device, still_valid, time};
use super::{ErrorCode, IpcError};
use crate::Console;

/// A break-glass pause built and shown, waiting for the device.
#[derive(Debug)]
pub struct Body {
    ledger: Ledger,
    bytes: Vec<u8>,
    expires_at: DateTime<Utc>,
}

/// Break-glass bodies waiting for the device, one per profile.
pub type Bodies = super::Waiting<String, Body>;

/// Where a profile's break-glass pause goes.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassSetup {
    /// The token it pauses.
    pub token: String,
    /// The consensus node it goes to, `host:port`, and that node's account.
    pub node: String,
    /// The node's account.
    pub node_account: String,
    /// The mirror that confirms it.
    pub mirror: String,
    /// The responder's own account, which pays.
    pub payer: String,
    /// That account's key (the device key that signs), as the mirror showed it at set-up.
    pub payer_key: Option<String>,
}

/// Whether this profile can break the glass, and what waits for the server.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassView {
    /// The addresses, when set up.
    pub setup: Option<BreakGlassSetup>,
    /// Why it cannot be used, and what to do; `None` when it can.
    pub problem: Option<String>,
    /// Signed records waiting to reach the server's audit log.
    pub waiting: u32,
}

/// What happened to a break-glass pause.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassOutcome {
    /// The token.
    pub token: String,
    /// The ledger transaction.
    pub transaction_id: String,
    /// What the node answered: `SUCCESS`, or why the outcome is not known yet.
    pub ledger_status: String,
    /// Whether the mirror showed the token paused within 20 s.
    pub mirror_paused: bool,
    /// The mirror asked.
    pub mirror: String,
    /// Where the signed record waits for the server.
    pub queued: Option<String>,
    /// Why it could not be kept (the pause stands; the audit log will not hear of it from here).
    pub queue_error: Option<String>,
    /// The signed record, to hand to the security team when it could not be kept.
    pub record: String,
}

impl From<BreakGlassError> for IpcError {
    fn from(e: BreakGlassError) -> Self {
        let (code, hint) = match &e {
            BreakGlassError::NotSetUp { .. } => (
                ErrorCode::ProfileInvalid,
                "Set break-glass up with your security team: gatehouse profile break-glass NAME --node HOST:PORT --mirror URL --payer 0.0.N --token 0.0.N.",
            ),
            BreakGlassError::Ledger(_) => (
                ErrorCode::Refused,
                "Nothing was paused. Check your account's balance and the node address, or reach another responder.",
            ),
            BreakGlassError::WrongKey { .. } => (
                ErrorCode::DeviceRefused,
                "Nothing was signed. Choose the device that holds your break-glass account's key.",
            ),
            _ => (
                ErrorCode::Io,
                "Check the file's permissions and free space, then try again.",
            ),
        };
        IpcError::new(code, e.to_string(), hint)
    }
}

fn files(console: &State<'_, Console>, profile: &str) -> Result<BreakGlass, IpcError> {
    let store = store(console)?;
    let profile = store.get(profile)?;
    Ok(BreakGlass::of(store.dir(), &profile.name))
}

/// Whether `profile` has break-glass set up, and how many signed records wait for the server.
#[tauri::command]
#[specta::specta]
pub fn break_glass_status(
    console: State<'_, Console>,
    profile: String,
) -> Result<BreakGlassView, IpcError> {
    let files = files(&console, &profile)?;
    let waiting = u32::try_from(files.pending()?.len()).unwrap_or(u32::MAX);
    Ok(match files.ledger() {
        Ok(ledger) => BreakGlassView {
            problem: ledger.payer_key.is_none().then(|| {
                format!(
                    "break-glass was set up before Gatehouse recorded the paying account's key; run gatehouse profile break-glass {profile} again"
                )
            }),
            setup: Some(BreakGlassSetup {
                payer_key: ledger.payer_key.as_ref().map(ToString::to_string),
                token: ledger.token,
                node: ledger.node,
                node_account: ledger.node_account,
                mirror: ledger.mirror,
                payer: ledger.payer,
            }),
            waiting,
        },
        Err(BreakGlassError::NotSetUp { reason, .. }) => BreakGlassView {
            setup: None,
            problem: Some(reason),
            waiting,
        },
        Err(e) => return Err(e.into()),
    })
}

/// Builds the TokenPause paid by the responder's own account (with an optional reason) and shows
/// it decoded. Nothing is signed or sent.
#[tauri::command]
#[specta::specta]
pub fn break_glass_prepare(
    console: State<'_, Console>,
    profile: String,
    reason: String,
) -> Result<BreakerBody, IpcError> {
    let ledger = files(&console, &profile)?.ledger()?;
    if ledger.payer_key.is_none() {
        return Err(IpcError::new(
            ErrorCode::ProfileInvalid,
            "the paying account's key is not recorded, so the device key that signs cannot be chosen",
            format!("Run gatehouse profile break-glass {profile} again with the same addresses."),
        ));
    }
    let (bytes, view) = breakglass::pause_body(&ledger, &reason)?;
    let expires_at = view.valid_start + chrono::Duration::seconds(view.valid_duration_secs);
    let body = BreakerBody {
        pauses: true,
        fingerprint: view.fingerprint.clone(),
        fields: fields(gatehouse_client::proposals::body_fields(&view)),
        expires_at: time(&expires_at),
        resume: None,
    };
    console.break_glass.put(
        profile,
        Body {
            ledger,
            bytes,
            expires_at,
        },
    );
    Ok(body)
}

/// Signs the prepared break-glass pause on `device` (an id from the last scan) with the key the
/// paying account is keyed by, sends it straight to the node, waits for the mirror, and queues
/// the signed record for the server's audit log.
#[tauri::command]
#[specta::specta]
pub async fn break_glass_sign(
    console: State<'_, Console>,
    profile: String,
    device: String,
    pin: String,
) -> Result<BreakGlassOutcome, IpcError> {
    let pin = gatehouse_keys::Pin::new(pin);
    let Body {
        ledger,
        bytes,
        expires_at,
    } = console.break_glass.take(&profile).ok_or_else(|| {
        IpcError::new(
            ErrorCode::ReviewRequired,
            "nothing is prepared to sign here, or it was used",
            "Start again: the pause is built and shown before anything is signed.",
        )
    })?;
    still_valid(
        expires_at,
        "Start again: a fresh pause is built; sign it within three minutes.",
    )?;
    let files = files(&console, &profile)?;
    let locator = console.devices.locate(&device)?;
    let expected = ledger.payer_key.clone();
    let (payer, shown) = (ledger.payer.clone(), expected.clone());
    let (public_key, signature, label) = sign_on_device(
        locator,
        pin,
        bytes.clone(),
        move |key| expected.as_ref().is_some_and(|e| e.is(key)),
        move |device| {
            IpcError::new(
                ErrorCode::DeviceRefused,
                format!(
                    "{device} does not hold the key of account {payer} ({})",
                    shown.map(|k| k.to_string()).unwrap_or_default()
                ),
                "Nothing was signed. Choose the device that holds your break-glass account's key.",
            )
        },
    )
    .await?;
    let (record, mirror_paused) =
        breakglass::submit(&ledger, bytes, &public_key, signature, Some(label)).await?;
    // The ledger took the pause: a record that cannot be written must not hide that.
    let (queued, queue_error) = match files.enqueue(record.clone()) {
        Ok(path) => (Some(path.display().to_string()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let record_json = serde_json::to_string_pretty(&record).unwrap_or_default();
    tracing::warn!(
        token = %ledger.token,
        transaction = %record.transaction_id,
        status = %record.ledger_status,
        mirror_paused,
        "break-glass pause sent straight to the ledger"
    );
    Ok(BreakGlassOutcome {
        token: ledger.token,
        transaction_id: record.transaction_id,
        ledger_status: record.ledger_status,
        mirror_paused,
        mirror: ledger.mirror,
        queued,
        queue_error,
        record: record_json,
    })
}
