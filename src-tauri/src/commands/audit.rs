//! Audit explorer commands: sync and verify a profile's local cache, read it (filtered pages,
//! timeline, facets, one entry with its proof), export, and discard after an alarm.
//!
//! Verification failures are not command errors: they come back as the status's `alarm`, which
//! the cache stores, so the UI shows the same red banner until a verification succeeds.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use gatehouse_client::audit::{
    self, Alarm, AlarmSource, Bucket, Cache, Encryption, ExportFormat, Filter, ProofStatus,
};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, State};
use zeroize::Zeroize;

use super::files::{self, Dialog, Purpose};
use super::profile::store;
use super::{ErrorCode, IpcError};
use crate::Console;

/// The open caches, one per profile, so the verified tree stays in memory between commands.
#[derive(Debug, Default)]
pub struct Caches(Mutex<HashMap<String, Cache>>);

async fn cache(console: &State<'_, Console>, profile: &str) -> Result<Cache, IpcError> {
    if let Some(cache) = console
        .caches
        .0
        .lock()
        .map_err(|_| internal("the cache registry is poisoned"))?
        .get(profile)
    {
        return Ok(cache.clone());
    }
    let store = store(console)?;
    let profile = store.get(profile)?;
    let path = store.audit_cache(&profile);
    let cache = Cache::open(&path).await.map_err(IpcError::from)?;
    console
        .caches
        .0
        .lock()
        .map_err(|_| internal("the cache registry is poisoned"))?
        .entry(profile.name)
        .or_insert_with(|| cache.clone());
    Ok(cache)
}

fn internal(message: &str) -> IpcError {
    IpcError::new(
        ErrorCode::Internal,
        message,
        "Restart the console; if it keeps happening, report it.",
    )
}

/// The explorer's filter. Empty fields do not filter.
#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditFilter {
    /// Words that must all appear.
    pub text: Option<String>,
    /// From this instant, ms since the epoch.
    pub since_ms: Option<f64>,
    /// Before this instant, ms since the epoch.
    pub until_ms: Option<f64>,
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this action.
    pub action: Option<String>,
    /// Exactly this outcome.
    pub outcome: Option<String>,
    /// Objects starting with this.
    pub object: Option<String>,
}

impl From<AuditFilter> for Filter {
    fn from(f: AuditFilter) -> Self {
        Filter {
            text: f.text,
            since_ms: f.since_ms.map(|t| t as i64),
            until_ms: f.until_ms.map(|t| t as i64),
            actor: f.actor,
            action: f.action,
            outcome: f.outcome,
            object: f.object,
        }
    }
}

/// A standing verification alarm.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditAlarm {
    /// `server` (what the server served) or `cache` (this computer's copy).
    pub source: String,
    /// The full message.
    pub message: String,
    /// The entry that failed, when known.
    #[specta(type = Option<f64>)]
    pub entry: Option<u64>,
    /// The checkpoint size involved, when known.
    #[specta(type = Option<f64>)]
    pub checkpoint: Option<u64>,
    /// When, RFC 3339.
    pub raised_at: String,
}

impl From<Alarm> for AuditAlarm {
    fn from(a: Alarm) -> Self {
        Self {
            source: match a.source {
                AlarmSource::Server => "server",
                AlarmSource::Cache => "cache",
            }
            .into(),
            message: a.message,
            entry: a.entry,
            checkpoint: a.checkpoint,
            raised_at: a.raised_at,
        }
    }
}

/// The cache at a glance.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditStatus {
    /// Verified entries held.
    #[specta(type = f64)]
    pub size: u64,
    /// The log's origin (deployment) from the latest checkpoint.
    pub origin: Option<String>,
    /// The latest checkpoint's root, base64.
    pub root: Option<String>,
    /// The pinned log key.
    pub verifier: Option<String>,
    /// Entries an interrupted sync fetched, waiting for verification.
    #[specta(type = f64)]
    pub staged: u64,
    /// The standing alarm.
    pub alarm: Option<AuditAlarm>,
    /// When the last successful sync finished.
    pub synced_at: Option<String>,
}

/// Progress of a sync.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SyncProgress {
    /// Entries fetched so far.
    #[specta(type = f64)]
    pub fetched: u64,
    /// Entries to fetch.
    #[specta(type = f64)]
    pub total: u64,
}

async fn status_of(cache: &Cache) -> Result<AuditStatus, IpcError> {
    let status = cache.status().await?;
    let checkpoint = status.signed_checkpoint();
    Ok(AuditStatus {
        size: status.size,
        origin: checkpoint.as_ref().map(|c| c.origin().to_owned()),
        root: checkpoint.as_ref().map(|c| c.root().to_string()),
        verifier: status.verifier,
        staged: status.staged,
        alarm: status.alarm.map(Into::into),
        synced_at: status.synced_at,
    })
}

/// Turns a verification alarm into the status that carries it; other errors stay errors.
async fn settle<T>(
    cache: &Cache,
    result: Result<T, audit::Error>,
) -> Result<AuditStatus, IpcError> {
    match result {
        Ok(_) => status_of(cache).await,
        Err(e) if e.is_alarm() => status_of(cache).await,
        Err(e) => Err(e.into()),
    }
}

/// The profile's cache status, without network and without re-verifying.
#[tauri::command]
#[specta::specta]
pub async fn audit_status(
    console: State<'_, Console>,
    profile: String,
) -> Result<AuditStatus, IpcError> {
    let cache = cache(&console, &profile).await?;
    status_of(&cache).await
}

/// Fetches and verifies new entries, reporting progress on `progress`.
#[tauri::command]
#[specta::specta]
pub async fn audit_sync(
    console: State<'_, Console>,
    profile: String,
    progress: Channel<SyncProgress>,
) -> Result<AuditStatus, IpcError> {
    let cache = cache(&console, &profile).await?;
    let connection = super::connection::connection_for(&console, &profile)?;
    let result = cache
        .sync(&connection, |p| {
            // A closed window only loses the progress bar.
            let _ = progress.send(SyncProgress {
                fetched: p.fetched,
                total: p.total,
            });
        })
        .await;
    settle(&cache, result).await
}

/// Re-verifies the whole cache offline.
#[tauri::command]
#[specta::specta]
pub async fn audit_verify(
    console: State<'_, Console>,
    profile: String,
) -> Result<AuditStatus, IpcError> {
    let cache = cache(&console, &profile).await?;
    let result = cache.verify().await;
    settle(&cache, result).await
}

/// One row of the table.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    /// Position in the log.
    #[specta(type = f64)]
    pub index: u64,
    /// When, RFC 3339 with milliseconds (empty for an undecodable entry).
    pub time: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub object: String,
    /// How it ended.
    pub outcome: String,
}

/// A window of rows, newest first.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// Matches in all.
    #[specta(type = f64)]
    pub total: u64,
    /// Position of the first row.
    #[specta(type = f64)]
    pub offset: u64,
    /// The rows.
    pub rows: Vec<AuditRow>,
}

fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Rows `offset..offset + limit` of the matching entries, newest first. Offline.
#[tauri::command]
#[specta::specta]
pub async fn audit_page(
    console: State<'_, Console>,
    profile: String,
    filter: AuditFilter,
    offset: u32,
    limit: u32,
) -> Result<AuditPage, IpcError> {
    let cache = cache(&console, &profile).await?;
    let page = cache.page(&filter.into(), u64::from(offset), limit).await?;
    Ok(AuditPage {
        total: page.total,
        offset: page.offset,
        rows: page
            .rows
            .into_iter()
            .map(|r| AuditRow {
                index: r.index,
                time: r.time_ms.map(rfc3339_ms).unwrap_or_default(),
                actor: r.actor,
                action: r.action,
                object: r.object,
                outcome: r.outcome,
            })
            .collect(),
    })
}

/// Entries of one action in one bucket.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TimelineBar {
    /// Bucket start, ms since the epoch.
    #[specta(type = f64)]
    pub start_ms: i64,
    /// The action.
    pub action: String,
    /// Entries.
    #[specta(type = f64)]
    pub count: u64,
}

/// Timeline granularity.
#[derive(Debug, Clone, Copy, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum TimelineBucket {
    /// Per hour.
    Hour,
    /// Per day (UTC).
    Day,
}

/// Entries per bucket and action among the matches, oldest first. Offline.
#[tauri::command]
#[specta::specta]
pub async fn audit_timeline(
    console: State<'_, Console>,
    profile: String,
    filter: AuditFilter,
    bucket: TimelineBucket,
) -> Result<Vec<TimelineBar>, IpcError> {
    let cache = cache(&console, &profile).await?;
    let bucket = match bucket {
        TimelineBucket::Hour => Bucket::Hour,
        TimelineBucket::Day => Bucket::Day,
    };
    Ok(cache
        .timeline(&filter.into(), bucket)
        .await?
        .into_iter()
        .map(|b| TimelineBar {
            start_ms: b.start_ms,
            action: b.action,
            count: b.count,
        })
        .collect())
}

/// What the filter menus offer.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditFacets {
    /// Actors present.
    pub actors: Vec<String>,
    /// Actions present.
    pub actions: Vec<String>,
    /// Outcomes present.
    pub outcomes: Vec<String>,
    /// Earliest entry, ms.
    #[specta(type = Option<f64>)]
    pub first_ms: Option<i64>,
    /// Latest entry, ms.
    #[specta(type = Option<f64>)]
    pub last_ms: Option<i64>,
}

/// The distinct actors, actions and outcomes, and the time span. Offline.
#[tauri::command]
#[specta::specta]
pub async fn audit_facets(
    console: State<'_, Console>,
    profile: String,
) -> Result<AuditFacets, IpcError> {
    let cache = cache(&console, &profile).await?;
    let f = cache.facets().await?;
    Ok(AuditFacets {
        actors: f.actors,
        actions: f.actions,
        outcomes: f.outcomes,
        first_ms: f.first_ms,
        last_ms: f.last_ms,
    })
}

/// An entry's proof status.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum AuditProof {
    /// Proven in the signed checkpoint.
    Included {
        /// Checkpoint size.
        #[specta(type = f64)]
        tree_size: u64,
        /// Checkpoint root, base64.
        root: String,
        /// Audit path, base64, leaf to root.
        path: Vec<String>,
    },
    /// Not proven: the alarm is raised.
    Failed {
        /// Why.
        reason: String,
    },
}

/// One entry in full.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Position in the log.
    #[specta(type = f64)]
    pub index: u64,
    /// When, RFC 3339 with milliseconds.
    pub time: Option<String>,
    /// Actor name.
    pub actor: Option<String>,
    /// Actor's certificate SHA-256, colon hex.
    pub actor_cert: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// Object.
    pub object: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// Outcome code.
    pub outcome_code: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Details, pretty JSON.
    pub details: Option<String>,
    /// Tags of personal data held outside the log as commitments.
    pub commitments: Vec<String>,
    /// Why the leaf does not decode, if it does not.
    pub decode_error: Option<String>,
    /// Leaf hash, base64.
    pub leaf_hash: String,
    /// Canonical leaf size in bytes.
    pub leaf_bytes: u32,
    /// The proof status.
    pub proof: AuditProof,
}

/// One entry with its inclusion proof checked against the signed checkpoint. Offline.
#[tauri::command]
#[specta::specta]
pub async fn audit_entry(
    console: State<'_, Console>,
    profile: String,
    index: u32,
) -> Result<AuditEntry, IpcError> {
    let cache = cache(&console, &profile).await?;
    let detail = match cache.entry(u64::from(index)).await {
        Ok(detail) => detail,
        Err(e) => return Err(e.into()),
    };
    let leaf = detail.leaf.as_ref().ok();
    Ok(AuditEntry {
        index: detail.index,
        time: leaf.map(|l| l.time.to_string()),
        actor: leaf.map(|l| l.actor.name.clone()),
        actor_cert: leaf.map(|l| {
            gatehouse_protocol::Fingerprint::from_digest(l.actor.cert_fingerprint).to_colon_hex()
        }),
        action: leaf.map(|l| l.action.clone()),
        object: leaf.map(|l| l.object.clone()),
        outcome: leaf.map(|l| l.outcome.kind.as_str().to_owned()),
        outcome_code: leaf.and_then(|l| l.outcome.code.clone()),
        request_id: leaf.map(|l| l.request_id.clone()),
        details: leaf.map(|l| {
            serde_json::to_string_pretty(&l.details.to_value())
                .unwrap_or_else(|_| l.details.as_str().to_owned())
        }),
        commitments: leaf
            .map(|l| {
                l.commitments
                    .keys()
                    .map(|t| t.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        decode_error: detail.leaf.as_ref().err().cloned(),
        leaf_hash: detail.leaf_hash.to_string(),
        leaf_bytes: u32::try_from(detail.bytes.len()).unwrap_or(u32::MAX),
        proof: match detail.proof {
            ProofStatus::Included {
                tree_size,
                root,
                path,
            } => AuditProof::Included {
                tree_size,
                root: root.to_string(),
                path: path.iter().map(ToString::to_string).collect(),
            },
            ProofStatus::Failed { reason } => AuditProof::Failed { reason },
        },
    })
}

/// What kind of export.
#[derive(Debug, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum ExportRequest {
    /// An encrypted bundle to age X25519 recipients.
    BundleRecipients {
        /// `age1…` keys.
        recipients: Vec<String>,
    },
    /// An encrypted bundle to a passphrase.
    BundlePassphrase {
        /// The passphrase; wiped after use.
        passphrase: String,
    },
    /// Plain CSV (the UI has shown its warning).
    Csv,
    /// Plain JSON (the UI has shown its warning).
    Json,
}

/// A finished export.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ExportDone {
    /// Entries written.
    pub count: u32,
    /// The file's name (not its folder), for people.
    pub file: String,
}

impl ExportRequest {
    /// The save dialog's file type, and the extension of the name it suggests.
    fn file_type(&self) -> ((&'static str, &'static [&'static str]), &'static str) {
        match self {
            ExportRequest::BundleRecipients { .. } | ExportRequest::BundlePassphrase { .. } => {
                (("Encrypted audit bundle (age)", &["age"]), "age")
            }
            ExportRequest::Csv => (("CSV (unencrypted)", &["csv"]), "csv"),
            ExportRequest::Json => (("JSON (unencrypted)", &["json"]), "json"),
        }
    }
}

/// "gatehouse-audit-alice-2026-05-01.age": the profile made file-name safe, the local date.
fn export_file_name(profile: &str, extension: &str, today: chrono::NaiveDate) -> String {
    let mut safe = String::with_capacity(profile.len());
    for c in profile.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            safe.push(c);
        } else if !safe.ends_with('-') {
            // A run of other characters becomes one dash.
            safe.push('-');
        }
    }
    let safe = safe.trim_start_matches(['.', '-']);
    let safe = if safe.is_empty() { "profile" } else { safe };
    format!(
        "gatehouse-audit-{safe}-{}.{extension}",
        today.format("%Y-%m-%d")
    )
}

/// Asks where to save (a Rust-side save dialog), then exports the matching entries to that new
/// file. `null` when the person cancelled the dialog.
#[tauri::command]
#[specta::specta]
pub async fn audit_export(
    app: AppHandle,
    console: State<'_, Console>,
    profile: String,
    filter: AuditFilter,
    selection: String,
    request: ExportRequest,
) -> Result<Option<ExportDone>, IpcError> {
    let cache = cache(&console, &profile).await?;
    let (filter_type, extension) = request.file_type();
    let format = match request {
        ExportRequest::BundleRecipients { recipients } => {
            ExportFormat::Bundle(Encryption::Recipients(recipients))
        }
        ExportRequest::BundlePassphrase { mut passphrase } => {
            let secret = age::secrecy::SecretString::from(passphrase.clone());
            passphrase.zeroize();
            ExportFormat::Bundle(Encryption::passphrase(secret)?)
        }
        ExportRequest::Csv => ExportFormat::Csv,
        ExportRequest::Json => ExportFormat::Json,
    };
    let dialog = Dialog {
        purpose: Purpose::AuditExport,
        title: "Save the audit export",
        filter: filter_type,
        save_as: Some(export_file_name(
            &profile,
            extension,
            chrono::Local::now().date_naive(),
        )),
    };
    let Some(path) = files::choose(&app, dialog).await? else {
        return Ok(None);
    };
    let count = cache
        .export_file(&filter.into(), &selection, format, &path)
        .await?;
    Ok(Some(ExportDone {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        file: files::display_name(&path),
    }))
}

/// Forgets the cache and its pinned key. `confirm` must be the profile's name.
#[tauri::command]
#[specta::specta]
pub async fn audit_discard(
    console: State<'_, Console>,
    profile: String,
    confirm: String,
) -> Result<AuditStatus, IpcError> {
    if confirm != profile {
        return Err(IpcError::new(
            ErrorCode::AuditQuery,
            "The confirmation does not match the profile name.",
            "Type the profile's name exactly to discard its audit cache.",
        ));
    }
    let cache = cache(&console, &profile).await?;
    cache.discard().await?;
    status_of(&cache).await
}

#[cfg(test)]
mod tests {
    use super::export_file_name;

    #[test]
    fn the_suggested_export_name_is_file_name_safe() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        assert_eq!(
            export_file_name("alice", "age", day),
            "gatehouse-audit-alice-2026-05-01.age"
        );
        assert_eq!(
            export_file_name("../evil/name  x", "csv", day),
            "gatehouse-audit-evil-name-x-2026-05-01.csv",
            "no folder can be named through the profile"
        );
        assert_eq!(
            export_file_name("..", "json", day),
            "gatehouse-audit-profile-2026-05-01.json"
        );
    }
}
