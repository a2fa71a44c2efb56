//! The emergency breaker in the console (invariant 3): the banner every connected screen shows
//! (tripped or not, who, when, why, the ledger's answer and the mirror's pause status), the
//! responder's pause, and the way back: officers propose a resume, approve it in the queue, and a
//! responder's device signs the TokenUnpause.
//!
//! Signing goes in two steps, like an approval: `breaker_prepare_*` asks the server for the body,
//! decodes and checks it here and shows it; `breaker_sign` signs exactly those bytes on the
//! person's device with their enrolled ledger key. A prepared body is used once.

use chrono::SecondsFormat;
use gatehouse_client::breaker::{self, Prepared};
use gatehouse_protocol::Role;
use gatehouse_protocol::pause::Breaker;
use gatehouse_protocol::proposal::{NewResume, Payload, Proposal, ProposalKind};
use serde::Serialize;
use tauri::State;

use super::connection::connection_for;
use super::proposals::{FieldView, ProposalSummary, Signer, fields, me, time};
use super::{ErrorCode, IpcError};
use crate::Console;

/// The open resume proposal, as far as it got.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ResumeProgress {
    /// The proposal.
    pub id: String,
    /// Why the officer proposed it.
    pub reason: String,
    /// Approvals so far.
    pub approvals: u32,
    /// Approvals it needs.
    pub threshold: u32,
    /// Whether a responder can now unpause the token.
    pub ready: bool,
}

/// The breaker, for the banner and the pause control.
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
    /// Whether the mirror shows the token paused now; `None` when it could not be read.
    pub ledger_paused: Option<bool>,
    /// The resume whose TokenUnpause the ledger accepted: the breaker closes once the mirror shows
    /// the token unpaused.
    pub unpaused_by_resume: Option<String>,
    /// The open resume proposal, if any.
    pub resume: Option<ResumeProgress>,
    /// Whether I am a responder (I can pause, and unpause an approved resume).
    pub responder: bool,
    /// Whether I am an officer (I can propose a resume).
    pub officer: bool,
}

impl BreakerView {
    fn new(b: Breaker, roles: &[Role], open_resume: Option<&Proposal>) -> Self {
        let resume = open_resume.map(|p| {
            let approvals = u32::try_from(p.approvals.len()).unwrap_or(u32::MAX);
            ResumeProgress {
                id: p.id.clone(),
                reason: match &p.payload {
                    Payload::Resume { reason, .. } => reason.clone(),
                    _ => String::new(),
                },
                approvals,
                threshold: p.threshold,
                ready: approvals >= p.threshold,
            }
        });
        Self {
            tripped: b.tripped,
            by: b.by,
            at: b.at.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            reason: b.reason,
            ledger_status: b.ledger_status,
            ledger_paused: b.ledger_paused,
            unpaused_by_resume: b.resume,
            resume,
            responder: roles.contains(&Role::Responder),
            officer: roles.contains(&Role::Officer),
        }
    }
}

/// A TokenPause or TokenUnpause body, decoded here, waiting for the device.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct BreakerBody {
    /// Whether it pauses (else unpauses) the token.
    pub pauses: bool,
    /// Short fingerprint of the bytes the device signs.
    pub fingerprint: String,
    /// What the device signs, decoded.
    pub fields: Vec<FieldView>,
    /// The ledger refuses the signature after this.
    pub expires_at: String,
    /// For an unpause, the resume proposal it carries out.
    pub resume: Option<String>,
}

/// Bodies prepared and waiting for the device, one per profile.
pub type Bodies = super::Waiting<String, (String, Prepared)>;

/// Holds `prepared` for `profile` until it is signed, and shows it.
fn hold(console: &Console, profile: &str, me: String, prepared: Prepared) -> BreakerBody {
    let body = BreakerBody {
        pauses: prepared.pauses(),
        fingerprint: prepared.body.fingerprint.clone(),
        fields: fields(gatehouse_client::proposals::body_fields(&prepared.body)),
        expires_at: time(&prepared.request.expires_at),
        resume: prepared.resume.as_ref().map(|p| p.id.clone()),
    };
    console.bodies.put(profile.to_owned(), (me, prepared));
    body
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
    let who = connection.whoami().await?;
    let breaker: Breaker = connection.get("/v1/breaker").await?;
    let open_resume = if breaker.tripped {
        let open: Vec<Proposal> = connection
            .get("/v1/proposals?status=open&limit=200")
            .await?;
        open.into_iter().find(|p| p.kind == ProposalKind::Resume)
    } else {
        None
    };
    Ok(Some(BreakerView::new(
        breaker,
        &who.roles,
        open_resume.as_ref(),
    )))
}

/// Asks the server for the TokenPause body (with an optional reason, which never blocks the
/// pause), checks it is one and shows it decoded. Nothing is signed.
#[tauri::command]
#[specta::specta]
pub async fn breaker_prepare_pause(
    console: State<'_, Console>,
    profile: String,
    reason: String,
) -> Result<BreakerBody, IpcError> {
    let connection = connection_for(&console, &profile)?;
    let me = me(&connection).await?;
    let prepared = breaker::prepare_pause(&connection, &reason).await?;
    Ok(hold(&console, &profile, me, prepared))
}

/// Asks the server for the TokenUnpause body that carries out the approved resume `proposal`,
/// checks it unpauses that resume's token and can execute, and shows it decoded.
#[tauri::command]
#[specta::specta]
pub async fn breaker_prepare_unpause(
    console: State<'_, Console>,
    profile: String,
    proposal: String,
) -> Result<BreakerBody, IpcError> {
    let connection = connection_for(&console, &profile)?;
    let me = me(&connection).await?;
    let prepared = breaker::prepare_unpause(&connection, &proposal).await?;
    Ok(hold(&console, &profile, me, prepared))
}

/// Signs the prepared body on `device` (an id from the last scan) with my enrolled ledger key
/// and sends it: the breaker after it.
#[tauri::command]
#[specta::specta]
pub async fn breaker_sign(
    console: State<'_, Console>,
    profile: String,
    device: String,
    pin: String,
) -> Result<BreakerView, IpcError> {
    let pin = gatehouse_keys::Pin::new(pin);
    let (me, prepared) = console.bodies.take(&profile).ok_or_else(|| {
        IpcError::new(
            ErrorCode::ReviewRequired,
            "nothing is prepared to sign here, or it was used",
            "Start again: the body is prepared and shown before anything is signed.",
        )
    })?;
    let connection = connection_for(&console, &profile)?;
    let signer = Signer {
        console: &console,
        connection: &connection,
        me: &me,
        device: &device,
        wanted: None,
    };
    let (signature, label) = signer
        .sign(
            pin,
            prepared.bytes.clone(),
            prepared.request.expires_at,
            "Start again: a fresh body is prepared; sign it within three minutes.",
        )
        .await?;
    let after = breaker::send(&connection, prepared, &signature, Some(label)).await?;
    let who = connection.whoami().await?;
    Ok(BreakerView::new(after, &who.roles, None))
}

/// Proposes resuming (officers, while the breaker is tripped): the quorum approves it in the
/// queue, then a responder unpauses the token.
#[tauri::command]
#[specta::specta]
pub async fn resume_propose(
    console: State<'_, Console>,
    profile: String,
    reason: String,
) -> Result<ProposalSummary, IpcError> {
    let resume = NewResume {
        reason,
        ledger_only: false,
    };
    super::proposals::post_proposal(&console, &profile, "/v1/proposals/resume", &resume).await
}
