//! The client's copy of the audit log: synced incrementally into a local SQLite
//! cache and verified, so a reader trusts the trail without trusting the server.
//!
//! * The log's verifier key is pinned per profile at first use; a different key
//!   later is an alarm, never a prompt.
//! * Every new checkpoint must be signed by the pinned key and be consistent
//!   (RFC 6962 consistency proof) with the last one stored.
//! * Every synced entry is hashed into a Merkle tree whose root must equal the
//!   checkpoint's: an edited, missing or reordered entry is an alarm, and the
//!   sync bisects with consistency proofs to name the first bad entry.
//! * Entries fetched but not yet verified wait in a staging table, so an
//!   interrupted sync resumes where it stopped; only a verified prefix of the
//!   log ever reaches the explorer's tables.
//! * An alarm is stored in the cache and stays until a later verification
//!   succeeds (or the person discards the cache after checking out of band).
//!
//! Its parts: `store` is the SQLite cache (schema, reads, writes); `sync` fetches checkpoints
//! and entries from the server and catches up; `verify` holds the checks (the cache re-read
//! against its signed checkpoint, each leaf against its decoded columns, the bisection with
//! consistency proofs that names a bad entry); `query` serves the explorer and `bundle` the
//! exports. The server's answers are read as the wire types of `gatehouse_protocol::audit`.

mod bundle;
mod query;
mod store;
mod sync;
mod verify;

use std::str::FromStr;
use std::sync::Arc;

use gatehouse_audit::checkpoint::{Checkpoint, LogVerifier};
use rusqlite::Connection as Db;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

pub use bundle::{
    Bundle, BundleEntry, BundleError, Encryption, ExportFormat, Opener, VerifiedBundle,
    decrypt_bundle, leaf_json, open_bundle, verify_bundle,
};
pub use query::{Bucket, EntryDetail, Facets, Filter, Page, ProofStatus, Row, TimelineBar};

use crate::connection;
use verify::Verified;

/// Entries fetched per request while syncing (the server's maximum page).
pub const PAGE: u32 = 10_000;

/// Why a sync or verification failed. The `Alarm` variants mean the log cannot be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server now signs with a different key than the one pinned at first use.
    #[error(
        "ALARM: the audit log key changed (pinned {pinned}, server now presents {presented}); do not trust this server's audit trail and tell your security team"
    )]
    KeyChanged {
        /// The pinned verifier key.
        pinned: String,
        /// What the server presented.
        presented: String,
    },
    /// A checkpoint is badly signed or does not extend the last trusted one.
    #[error(
        "ALARM: checkpoint for size {size} rejected: {reason}; the server may have rewritten history"
    )]
    Checkpoint {
        /// The size the server claimed.
        size: u64,
        /// Why it was rejected.
        reason: String,
    },
    /// The entries do not hash to the checkpoint's root.
    #[error(
        "ALARM: the entries up to {size} do not match the signed checkpoint ({reason}); an entry was altered, removed or reordered"
    )]
    EntriesMismatch {
        /// The tree size checked.
        size: u64,
        /// The first entry found not to match, when it could be located.
        entry: Option<u64>,
        /// What did not match.
        reason: String,
    },
    /// The local cache itself fails verification.
    #[error(
        "ALARM: the local audit cache does not match its checkpoint ({reason}); it was modified on this computer"
    )]
    CacheTampered {
        /// The first entry found not to match, when it could be located.
        entry: Option<u64>,
        /// What did not match.
        reason: String,
    },
    /// Talking to the server failed.
    #[error(transparent)]
    Connection(#[from] connection::Error),
    /// The local cache could not be read or written.
    #[error("the local audit cache failed: {0}")]
    Cache(String),
    /// A query the person typed cannot be run.
    #[error("{0}")]
    Query(String),
    /// The export's file could not be created.
    #[error(
        "cannot create the export file {}: {reason}; choose a new file name in a folder you can write to (exports never overwrite)",
        path.display()
    )]
    ExportFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Whether this is a verification alarm rather than an operational failure.
    pub fn is_alarm(&self) -> bool {
        self.alarm().is_some()
    }

    /// The alarm this error raises, if it is one.
    pub fn alarm(&self) -> Option<Alarm> {
        let (source, entry, checkpoint) = match self {
            Error::KeyChanged { .. } => (AlarmSource::Server, None, None),
            Error::Checkpoint { size, .. } => (AlarmSource::Server, None, Some(*size)),
            Error::EntriesMismatch { size, entry, .. } => {
                (AlarmSource::Server, *entry, Some(*size))
            }
            Error::CacheTampered { entry, .. } => (AlarmSource::Cache, *entry, None),
            _ => return None,
        };
        Some(Alarm {
            source,
            message: self.to_string(),
            entry,
            checkpoint,
            raised_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Cache(e.to_string())
    }
}

impl From<rusqlite::types::FromSqlError> for Error {
    fn from(e: rusqlite::types::FromSqlError) -> Self {
        Error::Cache(format!("a cached value has the wrong type: {e}"))
    }
}

/// Where a verification failure was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmSource {
    /// What the server served does not verify.
    Server,
    /// The cache on this computer was changed after it was verified.
    Cache,
}

/// A stored verification failure: it stays until a verification of the same kind succeeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarm {
    /// Server or local cache.
    pub source: AlarmSource,
    /// The full message, naming what failed.
    pub message: String,
    /// The entry that failed, when known.
    pub entry: Option<u64>,
    /// The checkpoint size involved, when known.
    pub checkpoint: Option<u64>,
    /// When it was raised, RFC 3339 UTC.
    pub raised_at: String,
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    /// Entries in the cache before.
    pub from: u64,
    /// Entries in the cache now (= the verified checkpoint's size).
    pub to: u64,
    /// Whether the log key was pinned by this sync (first use).
    pub pinned_now: bool,
}

/// Where a sync is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Entries fetched (or resumed from staging) towards the checkpoint.
    pub fetched: u64,
    /// Entries to fetch in all.
    pub total: u64,
}

/// A summary of the cache for a status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Verified entries held.
    pub size: u64,
    /// The latest stored checkpoint's signed note, if any.
    pub checkpoint: Option<String>,
    /// The pinned log key, if any.
    pub verifier: Option<String>,
    /// Entries fetched by an interrupted sync, waiting for verification.
    pub staged: u64,
    /// The standing alarm, if any.
    pub alarm: Option<Alarm>,
    /// When the last successful sync finished, RFC 3339 UTC.
    pub synced_at: Option<String>,
}

impl Status {
    /// The stored checkpoint, its signature checked with the pinned key (`None` without one,
    /// or when it does not verify: a full verification then raises the alarm).
    pub fn signed_checkpoint(&self) -> Option<Checkpoint> {
        let verifier = LogVerifier::from_str(self.verifier.as_deref()?).ok()?;
        Some(
            verifier
                .verify(self.checkpoint.as_deref()?)
                .ok()?
                .into_checkpoint(),
        )
    }
}

/// A profile's local audit cache.
///
/// The cache is SQLite through `rusqlite`: every call runs on a blocking thread. It was first
/// written with sqlx, whose per-row cost (rows travel through a worker thread and a channel)
/// made a 200,000-entry sync take 2.2 s and a re-verification 0.5 s; bulk reads and writes are
/// this cache's whole job, and a direct binding does them several times faster.
#[derive(Clone)]
pub struct Cache {
    db: Arc<std::sync::Mutex<Db>>,
    verified: Arc<Mutex<Option<Verified>>>,
    index: query::IndexCell,
    page_size: u32,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl Cache {
    /// Fetches `entries` per request instead of [`PAGE`] (for slow links, and tests).
    pub fn with_page_size(mut self, entries: u32) -> Self {
        self.page_size = entries.clamp(1, PAGE);
        self
    }
}
