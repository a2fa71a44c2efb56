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

mod bundle;
mod query;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::{Checkpoint, LogVerifier};
use gatehouse_audit::leaf::Leaf;
use gatehouse_audit::tree::{HashSource, Tree};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Sqlite, Transaction};
use tokio::sync::Mutex;

pub use bundle::{
    Bundle, BundleEntry, BundleError, Encryption, ExportFormat, Opener, VerifiedBundle, leaf_json,
    open_bundle, verify_bundle,
};
pub use query::{Bucket, EntryDetail, Facets, Filter, Page, ProofStatus, Row, TimelineBar};

use crate::connection::{self, Connection};

/// Entries fetched per request while syncing (the server's maximum page).
pub const PAGE: u32 = 10_000;

/// The cache layout this code writes. An older layout is rebuilt by the next sync (the pinned
/// key is kept), since everything in it can be fetched and verified again.
const SCHEMA_VERSION: &str = "2";

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

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Cache(e.to_string())
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

#[derive(Deserialize)]
struct CheckpointView {
    note: Option<String>,
    verifier: String,
}

#[derive(Deserialize)]
struct EntryView {
    index: u64,
    leaf: String,
}

#[derive(Deserialize)]
struct ProofView {
    hashes: Vec<String>,
}

/// The cache's verified state, kept in memory after the first verification so that later
/// syncs and proofs do not re-read the whole cache.
#[derive(Debug)]
struct Verified {
    tree: Tree,
    checkpoint: Option<Checkpoint>,
}

/// A profile's local audit cache.
#[derive(Debug, Clone)]
pub struct Cache {
    pool: SqlitePool,
    verified: Arc<Mutex<Option<Verified>>>,
    page_size: u32,
}

impl Cache {
    /// Opens (creating if needed) the cache file.
    pub async fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Cache(format!("{}: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let mut tx = pool.begin().await?;
        sqlx::query(SCHEMA[0]).execute(&mut *tx).await?;
        let version: Option<(String,)> =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'schema'")
                .fetch_optional(&mut *tx)
                .await?;
        if version.as_ref().map(|(v,)| v.as_str()) != Some(SCHEMA_VERSION) {
            for table in ["entries_fts", "entries", "pending", "checkpoints"] {
                sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for statement in SCHEMA {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        set_meta(&mut tx, "schema", SCHEMA_VERSION).await?;
        tx.commit().await?;
        Ok(Self {
            pool,
            verified: Arc::default(),
            page_size: PAGE,
        })
    }

    /// Fetches `entries` per request instead of [`PAGE`] (for slow links, and tests).
    pub fn with_page_size(mut self, entries: u32) -> Self {
        self.page_size = entries.clamp(1, PAGE);
        self
    }

    /// Number of verified entries held.
    pub async fn size(&self) -> Result<u64, Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM entries")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// The pinned verifier key, if any.
    pub async fn pinned(&self) -> Result<Option<String>, Error> {
        self.meta("verifier").await
    }

    /// The standing alarm, if any.
    pub async fn alarm(&self) -> Result<Option<Alarm>, Error> {
        Ok(self
            .meta("alarm")
            .await?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Size, checkpoint, key, staged entries, alarm and last sync, without verifying.
    pub async fn status(&self) -> Result<Status, Error> {
        let checkpoint: Option<(String,)> =
            sqlx::query_as("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        let (staged,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM pending")
            .fetch_one(&self.pool)
            .await?;
        Ok(Status {
            size: self.size().await?,
            checkpoint: checkpoint.map(|(n,)| n),
            verifier: self.pinned().await?,
            staged: staged as u64,
            alarm: self.alarm().await?,
            synced_at: self.meta("synced_at").await?,
        })
    }

    /// Syncs new entries from the server, verifying everything before it reaches the explorer.
    /// `progress` is called after each page. A failure that is an alarm is also stored.
    pub async fn sync(
        &self,
        connection: &Connection,
        progress: impl FnMut(Progress),
    ) -> Result<Synced, Error> {
        let result = self.sync_inner(connection, progress).await;
        match &result {
            Ok(_) => self.clear_alarm(None).await?,
            Err(e) => self.raise(e).await?,
        }
        result
    }

    /// Re-verifies the whole cache against its latest stored checkpoint, offline.
    pub async fn verify(&self) -> Result<u64, Error> {
        let mut verified = self.verified.lock().await;
        *verified = None;
        let result = self.load().await;
        match result {
            Ok(state) => {
                let size = state.tree.size();
                *verified = Some(state);
                self.clear_alarm(Some(AlarmSource::Cache)).await?;
                Ok(size)
            }
            Err(e) => {
                self.raise(&e).await?;
                Err(e)
            }
        }
    }

    /// Forgets everything, including the pinned key: for after an alarm was investigated out
    /// of band and the new key confirmed. The next sync pins the key presented then.
    pub async fn discard(&self) -> Result<(), Error> {
        let mut verified = self.verified.lock().await;
        let mut tx = self.pool.begin().await?;
        // An external-content FTS table is emptied with its own command, before its content.
        sqlx::query("INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')")
            .execute(&mut *tx)
            .await?;
        for table in ["entries", "pending", "checkpoints", "meta"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await?;
        }
        set_meta(&mut tx, "schema", SCHEMA_VERSION).await?;
        tx.commit().await?;
        *verified = None;
        Ok(())
    }

    async fn sync_inner(
        &self,
        connection: &Connection,
        mut progress: impl FnMut(Progress),
    ) -> Result<Synced, Error> {
        let view: CheckpointView = connection.get("/v1/audit/checkpoint").await?;
        let pinned = self.pinned().await?;
        if let Some(pinned) = &pinned
            && pinned != &view.verifier
        {
            return Err(Error::KeyChanged {
                pinned: pinned.clone(),
                presented: view.verifier,
            });
        }
        let verifier = LogVerifier::from_str(&view.verifier).map_err(|e| Error::Checkpoint {
            size: 0,
            reason: format!("unusable verifier key: {e}"),
        })?;
        let mut guard = self.verified.lock().await;
        if guard.is_none() {
            *guard = Some(self.load().await?);
        }
        let Some(state) = guard.as_mut() else {
            return Err(Error::Cache("verified state vanished".into()));
        };
        let from = state.tree.size();
        let Some(note) = view.note else {
            if from > 0 {
                return Err(Error::Checkpoint {
                    size: 0,
                    reason: "the server no longer has a checkpoint".into(),
                });
            }
            if pinned.is_none() {
                let mut tx = self.pool.begin().await?;
                set_meta(&mut tx, "verifier", &view.verifier).await?;
                tx.commit().await?;
            }
            return Ok(Synced {
                from,
                to: 0,
                pinned_now: pinned.is_none(),
            });
        };
        let checkpoint = verifier
            .verify(&note)
            .map_err(|e| Error::Checkpoint {
                size: 0,
                reason: e.to_string(),
            })?
            .into_checkpoint();
        if let Some(trusted) = &state.checkpoint {
            let proof = if checkpoint.size() > trusted.size() {
                fetch_consistency(connection, trusted.size(), checkpoint.size()).await?
            } else {
                Vec::new()
            };
            gatehouse_audit::trust::check(trusted, &checkpoint, &proof).map_err(|e| {
                Error::Checkpoint {
                    size: checkpoint.size(),
                    reason: e.to_string(),
                }
            })?;
        }
        let target = checkpoint.size();
        // Hash onto a copy so a failure leaves the verified tree untouched.
        let mut tree = state.tree.clone();
        let staged: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT idx, leaf FROM pending WHERE idx >= $1 AND idx < $2 ORDER BY idx",
        )
        .bind(from as i64)
        .bind(target as i64)
        .fetch_all(&self.pool)
        .await?;
        for (idx, leaf) in &staged {
            if *idx as u64 != tree.size() {
                break; // a gap: fetch again from here
            }
            tree.append(leaf);
        }
        sqlx::query("DELETE FROM pending WHERE idx >= $1 OR idx < $2")
            .bind(tree.size() as i64)
            .bind(from as i64)
            .execute(&self.pool)
            .await?;
        progress(Progress {
            fetched: tree.size() - from,
            total: target - from,
        });
        while tree.size() < target {
            let page: Vec<EntryView> = connection
                .get(&format!(
                    "/v1/audit/entries?from={}&limit={}",
                    tree.size(),
                    self.page_size
                ))
                .await?;
            if page.is_empty() {
                return Err(Error::EntriesMismatch {
                    size: target,
                    entry: Some(tree.size()),
                    reason: format!(
                        "the server has no entry {} but its checkpoint covers it",
                        tree.size()
                    ),
                });
            }
            let mut batch = Vec::with_capacity(page.len());
            for entry in page {
                if tree.size() == target {
                    break;
                }
                if entry.index != tree.size() {
                    return Err(Error::EntriesMismatch {
                        size: target,
                        entry: Some(tree.size()),
                        reason: format!("expected entry {}, got {}", tree.size(), entry.index),
                    });
                }
                let leaf = STANDARD
                    .decode(&entry.leaf)
                    .map_err(|e| Error::EntriesMismatch {
                        size: target,
                        entry: Some(entry.index),
                        reason: format!("entry {} is not base64: {e}", entry.index),
                    })?;
                tree.append(&leaf);
                batch.push((entry.index, leaf));
            }
            let mut tx = self.pool.begin().await?;
            for (index, leaf) in &batch {
                sqlx::query("INSERT OR REPLACE INTO pending (idx, leaf) VALUES ($1, $2)")
                    .bind(*index as i64)
                    .bind(leaf)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            progress(Progress {
                fetched: tree.size() - from,
                total: target - from,
            });
        }
        if target > 0 {
            let root = tree.current_root();
            if root != checkpoint.root() {
                // Staged entries may be what is wrong: drop them so a retry fetches afresh.
                sqlx::query("DELETE FROM pending")
                    .execute(&self.pool)
                    .await?;
                let entry = bisect(connection, &tree, from, &checkpoint).await;
                return Err(Error::EntriesMismatch {
                    size: target,
                    entry,
                    reason: match entry {
                        Some(i) => format!("entry {i} is not the entry the checkpoint signed"),
                        None => format!(
                            "computed root {} but the checkpoint says {}",
                            root.to_hex(),
                            checkpoint.root().to_hex()
                        ),
                    },
                });
            }
        }
        self.promote(
            from,
            target,
            &note,
            pinned.is_none().then_some(&view.verifier),
        )
        .await?;
        *state = Verified {
            tree,
            checkpoint: Some(checkpoint),
        };
        Ok(Synced {
            from,
            to: target,
            pinned_now: pinned.is_none(),
        })
    }

    /// Moves verified staged entries `from..to` into the explorer's tables, with their decoded
    /// columns and full-text index, and stores the checkpoint; one transaction.
    async fn promote(
        &self,
        from: u64,
        to: u64,
        note: &str,
        pin: Option<&String>,
    ) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        let mut next = from;
        while next < to {
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT idx, leaf FROM pending WHERE idx >= $1 AND idx < $2 ORDER BY idx LIMIT 5000",
            )
            .bind(next as i64)
            .bind(to as i64)
            .fetch_all(&mut *tx)
            .await?;
            let Some((last, _)) = rows.last() else {
                return Err(Error::Cache(format!(
                    "staged entry {next} disappeared during the sync"
                )));
            };
            next = *last as u64 + 1;
            for (idx, leaf) in rows {
                insert_entry(&mut tx, idx, &leaf).await?;
            }
        }
        sqlx::query("DELETE FROM pending WHERE idx < $1")
            .bind(to as i64)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT OR REPLACE INTO checkpoints (size, note) VALUES ($1, $2)")
            .bind(to as i64)
            .bind(note)
            .execute(&mut *tx)
            .await?;
        if let Some(verifier) = pin {
            set_meta(&mut tx, "verifier", verifier).await?;
        }
        set_meta(
            &mut tx,
            "synced_at",
            &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads the cached entries into a tree and checks them against the stored checkpoint.
    async fn load(&self) -> Result<Verified, Error> {
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT idx, leaf, hash FROM entries ORDER BY idx")
                .fetch_all(&self.pool)
                .await?;
        let hashes = hash_leaves(&rows);
        let mut tree = Tree::with_capacity(rows.len());
        let mut first_changed = None;
        for ((idx, _, recorded), hash) in rows.iter().zip(hashes) {
            if *idx as u64 != tree.size() {
                return Err(Error::CacheTampered {
                    entry: Some(tree.size()),
                    reason: format!("entry {} is missing", tree.size()),
                });
            }
            if first_changed.is_none() && recorded.as_slice() != hash.as_bytes() {
                first_changed = Some(*idx as u64);
            }
            tree.push(hash);
        }
        let checkpoints: Vec<(i64, String)> =
            sqlx::query_as("SELECT size, note FROM checkpoints ORDER BY size DESC")
                .fetch_all(&self.pool)
                .await?;
        let Some((_, note)) = checkpoints.first() else {
            return if tree.size() == 0 {
                Ok(Verified {
                    tree,
                    checkpoint: None,
                })
            } else {
                Err(Error::CacheTampered {
                    entry: None,
                    reason: "entries without a checkpoint".into(),
                })
            };
        };
        let verifier = self.pinned().await?.ok_or_else(|| Error::CacheTampered {
            entry: None,
            reason: "a checkpoint without a pinned key".into(),
        })?;
        let verifier = LogVerifier::from_str(&verifier).map_err(|e| Error::CacheTampered {
            entry: None,
            reason: e.to_string(),
        })?;
        let checkpoint = verifier
            .verify(note)
            .map_err(|e| Error::CacheTampered {
                entry: None,
                reason: format!("the stored checkpoint: {e}"),
            })?
            .into_checkpoint();
        if checkpoint.size() != tree.size() || tree.current_root() != checkpoint.root() {
            let entry = first_changed.or_else(|| locate_offline(&tree, &verifier, &checkpoints));
            return Err(Error::CacheTampered {
                entry,
                reason: match entry {
                    Some(i) => format!(
                        "entry {i} changed since it was verified; {} entries do not hash to the checkpoint of size {}",
                        tree.size(),
                        checkpoint.size()
                    ),
                    None => format!(
                        "{} entries do not hash to the stored checkpoint of size {}",
                        tree.size(),
                        checkpoint.size()
                    ),
                },
            });
        }
        Ok(Verified {
            tree,
            checkpoint: Some(checkpoint),
        })
    }

    async fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(v,)| v))
    }

    async fn raise(&self, error: &Error) -> Result<(), Error> {
        if let Some(alarm) = error.alarm() {
            let text = serde_json::to_string(&alarm).map_err(|e| Error::Cache(e.to_string()))?;
            let mut tx = self.pool.begin().await?;
            set_meta(&mut tx, "alarm", &text).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Clears the standing alarm if it is of `source` (any when `None`).
    async fn clear_alarm(&self, source: Option<AlarmSource>) -> Result<(), Error> {
        if let Some(alarm) = self.alarm().await?
            && source.is_none_or(|s| s == alarm.source)
        {
            sqlx::query("DELETE FROM meta WHERE key = 'alarm'")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// The verified tree and checkpoint, verifying the cache first if this process has not.
    async fn verified<T>(&self, f: impl FnOnce(&Verified) -> T) -> Result<T, Error> {
        let mut guard = self.verified.lock().await;
        if guard.is_none() {
            match self.load().await {
                Ok(state) => *guard = Some(state),
                Err(e) => {
                    self.raise(&e).await?;
                    return Err(e);
                }
            }
        }
        match guard.as_ref() {
            Some(state) => Ok(f(state)),
            None => Err(Error::Cache("verified state vanished".into())),
        }
    }
}

/// Hashes leaves on all cores; re-verifying a large cache is dominated by this.
fn hash_leaves(rows: &[(i64, Vec<u8>, Vec<u8>)]) -> Vec<Hash> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = rows.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(_, leaf, _)| Hash::leaf(leaf))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Narrows a cache mismatch to the first stored checkpoint the entries no longer match:
/// the changed entry lies after the previous (matching) one.
fn locate_offline(
    tree: &Tree,
    verifier: &LogVerifier,
    checkpoints: &[(i64, String)],
) -> Option<u64> {
    let mut matched = 0u64;
    for (_, note) in checkpoints.iter().rev() {
        let checkpoint = verifier.verify(note).ok()?.into_checkpoint();
        match tree.root(checkpoint.size()) {
            Ok(root) if root == checkpoint.root() => matched = checkpoint.size(),
            _ => break,
        }
    }
    // Only a single-entry gap names an entry exactly.
    checkpoints
        .iter()
        .rev()
        .map(|(size, _)| *size as u64)
        .find(|size| *size > matched)
        .filter(|size| *size == matched + 1)
        .map(|_| matched)
}

/// Finds the first entry after `verified` that the signed `checkpoint` does not cover, by
/// bisecting on prefix roots with the server's consistency proofs (about log2(n) requests).
/// A prefix whose root is proven consistent with the signed root is, by collision resistance,
/// exactly the signed prefix.
async fn bisect(
    connection: &Connection,
    tree: &Tree,
    verified: u64,
    checkpoint: &Checkpoint,
) -> Option<u64> {
    let (mut good, mut bad) = (verified, checkpoint.size());
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        let root = tree.root(mid).ok()?;
        let proof = fetch_consistency(connection, mid, checkpoint.size())
            .await
            .ok()?;
        let ok = gatehouse_audit::proof::verify_consistency(
            mid,
            checkpoint.size(),
            &root,
            &checkpoint.root(),
            &proof,
        )
        .is_ok();
        if ok {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Some(good)
}

async fn fetch_consistency(
    connection: &Connection,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, Error> {
    let view: ProofView = connection
        .get(&format!("/v1/audit/consistency?old={old}&new={new}"))
        .await?;
    view.hashes
        .iter()
        .map(|h| {
            h.parse().map_err(|e| Error::Checkpoint {
                size: new,
                reason: format!("malformed proof hash: {e}"),
            })
        })
        .collect()
}

async fn insert_entry(
    tx: &mut Transaction<'_, Sqlite>,
    idx: i64,
    leaf: &[u8],
) -> Result<(), Error> {
    let hash = Hash::leaf(leaf);
    // Entries that verified but do not decode are kept (they are in the log) without columns.
    let decoded = Leaf::decode(leaf).ok();
    let d = decoded.as_ref();
    sqlx::query(
        "INSERT INTO entries (idx, leaf, hash, time, actor, action, object, outcome, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(idx)
    .bind(leaf)
    .bind(hash.as_bytes().as_slice())
    .bind(d.map(|l| l.time.unix_millis()))
    .bind(d.map(|l| l.actor.name.as_str()))
    .bind(d.map(|l| l.action.as_str()))
    .bind(d.map(|l| l.object.as_str()))
    .bind(d.map(|l| l.outcome.kind.as_str()))
    .bind(d.map(|l| l.details.as_str()))
    .execute(&mut **tx)
    .await?;
    if let Some(l) = d {
        sqlx::query(
            "INSERT INTO entries_fts (rowid, actor, action, object, outcome, details) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(idx)
        .bind(&l.actor.name)
        .bind(&l.action)
        .bind(&l.object)
        .bind(l.outcome.kind.as_str())
        .bind(l.details.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn set_meta(tx: &mut Transaction<'_, Sqlite>, key: &str, value: &str) -> Result<(), Error> {
    sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ($1, $2)")
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The cache's tables; the first is `meta`, which holds the layout version.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    // Verified entries. `hash` is the leaf hash when it was verified, so an offline check can
    // name an entry edited afterwards; the decoded columns are NULL for a leaf that does not decode.
    "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY NOT NULL, leaf BLOB NOT NULL, \
     hash BLOB NOT NULL, time INTEGER, actor TEXT, action TEXT, object TEXT, outcome TEXT, details TEXT)",
    "CREATE INDEX IF NOT EXISTS entries_time ON entries (time)",
    "CREATE INDEX IF NOT EXISTS entries_actor ON entries (actor)",
    "CREATE INDEX IF NOT EXISTS entries_action ON entries (action)",
    "CREATE INDEX IF NOT EXISTS entries_outcome ON entries (outcome)",
    // Full-text index over the verified entries' decoded fields; rowid = entry index.
    "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(actor, action, object, outcome, details, \
     content='entries', content_rowid='idx')",
    // Fetched but not yet verified: what lets an interrupted sync resume.
    "CREATE TABLE IF NOT EXISTS pending (idx INTEGER PRIMARY KEY NOT NULL, leaf BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY NOT NULL, note TEXT NOT NULL)",
];
