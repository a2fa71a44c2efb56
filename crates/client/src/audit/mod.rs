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
use rusqlite::{Connection as Db, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

pub use bundle::{
    Bundle, BundleEntry, BundleError, Encryption, ExportFormat, Opener, VerifiedBundle,
    decrypt_bundle, leaf_json, open_bundle, verify_bundle,
};
pub use query::{Bucket, EntryDetail, Facets, Filter, Page, ProofStatus, Row, TimelineBar};

use crate::connection::{self, Connection};

/// Entries fetched per request while syncing (the server's maximum page).
pub const PAGE: u32 = 10_000;

/// The cache layout this code writes. An older layout is rebuilt by the next sync (the pinned
/// key is kept), since everything in it can be fetched and verified again.
const SCHEMA_VERSION: &str = "4";

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
    /// Opens (creating if needed) the cache file. Its directory is its owner's alone (0700),
    /// and so are the database and its WAL and shared-memory files (0600).
    pub async fn open(path: &Path) -> Result<Self, Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::private::create_dir(dir)
                .map_err(|e| Error::Cache(format!("{}: {e}", dir.display())))?;
        }
        let path = path.to_owned();
        let db = tokio::task::spawn_blocking(move || open_db(&path))
            .await
            .map_err(|e| Error::Cache(format!("opening the cache stopped: {e}")))??;
        Ok(Self {
            db: Arc::new(std::sync::Mutex::new(db)),
            verified: Arc::default(),
            index: query::IndexCell::default(),
            page_size: PAGE,
        })
    }

    /// Fetches `entries` per request instead of [`PAGE`] (for slow links, and tests).
    pub fn with_page_size(mut self, entries: u32) -> Self {
        self.page_size = entries.clamp(1, PAGE);
        self
    }

    /// Runs `f` on the database on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Db) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut db = db
                .lock()
                .map_err(|_| Error::Cache("an earlier cache operation crashed".into()))?;
            f(&mut db)
        })
        .await
        .map_err(|e| Error::Cache(format!("a cache operation stopped: {e}")))?
    }

    /// Number of verified entries held.
    pub async fn size(&self) -> Result<u64, Error> {
        self.run(|db| {
            Ok(db.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    /// The pinned verifier key, if any.
    pub async fn pinned(&self) -> Result<Option<String>, Error> {
        self.run(|db| meta(db, "verifier")).await
    }

    /// The standing alarm, if any.
    pub async fn alarm(&self) -> Result<Option<Alarm>, Error> {
        self.run(|db| alarm(db)).await
    }

    /// Size, checkpoint, key, staged entries, alarm and last sync, without verifying.
    pub async fn status(&self) -> Result<Status, Error> {
        self.run(|db| {
            let count = |sql: &str| -> Result<u64, Error> {
                Ok(db.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
            };
            Ok(Status {
                size: count("SELECT COUNT(*) FROM entries")?,
                checkpoint: db
                    .query_row(
                        "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
                        [],
                        |r| r.get(0),
                    )
                    .optional()?,
                verifier: meta(db, "verifier")?,
                staged: count("SELECT COUNT(*) FROM pending")?,
                alarm: alarm(db)?,
                synced_at: meta(db, "synced_at")?,
            })
        })
        .await
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
        match self.load().await {
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
        self.run(|db| {
            let tx = db.transaction()?;
            // An external-content FTS table is emptied with its own command, before its content.
            tx.execute(
                "INSERT INTO entries_fts (entries_fts) VALUES ('delete-all')",
                [],
            )?;
            for table in ["entries", "pending", "checkpoints", "meta"] {
                tx.execute(&format!("DELETE FROM {table}"), [])?;
            }
            set_meta(&tx, "schema", SCHEMA_VERSION)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
        *verified = None;
        self.index.clear();
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
                let verifier = view.verifier.clone();
                self.run(move |db| set_meta(db, "verifier", &verifier))
                    .await?;
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
        let staged: Vec<(u64, Hash)> = self
            .run(move |db| {
                let mut select = db.prepare(
                    "SELECT idx, leaf FROM pending WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                )?;
                let rows = select.query_map(params![from as i64, target as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        Hash::leaf(r.get_ref(1)?.as_blob()?),
                    ))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        for (idx, hash) in staged {
            if idx != tree.size() {
                break; // a gap: fetch again from here
            }
            tree.push(hash);
        }
        let (kept, from_) = (tree.size(), from);
        self.run(move |db| {
            db.execute(
                "DELETE FROM pending WHERE idx >= ?1 OR idx < ?2",
                params![kept as i64, from_ as i64],
            )?;
            Ok(())
        })
        .await?;
        progress(Progress {
            fetched: tree.size() - from,
            total: target - from,
        });
        let mut staging: Option<tokio::task::JoinHandle<Result<u64, Error>>> = None;
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
                let hash = Hash::leaf(&leaf);
                tree.push(hash);
                batch.push((entry.index, leaf, hash));
            }
            // Stage this page while the next one is fetched; one write in flight at a time.
            // Progress counts what is durably staged, so an interruption keeps all it reported.
            if let Some(previous) = staging.take() {
                let staged = join_staging(previous).await?;
                progress(Progress {
                    fetched: staged - from,
                    total: target - from,
                });
            }
            let cache = self.clone();
            let upto = tree.size();
            staging = Some(tokio::spawn(async move {
                cache.run(move |db| stage(db, &batch)).await.map(|()| upto)
            }));
        }
        if let Some(previous) = staging.take() {
            let staged = join_staging(previous).await?;
            progress(Progress {
                fetched: staged - from,
                total: target - from,
            });
        }
        if target > 0 {
            let root = tree.current_root();
            if root != checkpoint.root() {
                // Staged entries may be what is wrong: drop them so a retry fetches afresh.
                self.run(|db| {
                    db.execute("DELETE FROM pending", [])?;
                    Ok(())
                })
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
        let pin = pinned.is_none().then(|| view.verifier.clone());
        self.run(move |db| promote(db, from, target, &note, pin.as_deref()))
            .await?;
        if target > from {
            self.index.clear();
        }
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

    /// Loads the cached entries into a tree and checks them against the stored checkpoint.
    async fn load(&self) -> Result<Verified, Error> {
        let (hashes, reread, checkpoints, verifier) = self
            .run(|db| {
                let (hashes, reread) = hash_entries(db)?;
                let mut select =
                    db.prepare("SELECT size, note FROM checkpoints ORDER BY size DESC")?;
                let checkpoints = select
                    .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((hashes, reread, checkpoints, meta(db, "verifier")?))
            })
            .await?;
        let mut tree = Tree::with_capacity(hashes.len());
        for hash in hashes {
            tree.push(hash);
        }
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
        let verifier = verifier.ok_or_else(|| Error::CacheTampered {
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
            let entry = reread
                .changed
                .or_else(|| locate_offline(&tree, &verifier, &checkpoints));
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
        // The leaves verify; what the explorer shows of them must be what they say.
        if let Some((entry, columns)) = reread.columns {
            return Err(Error::CacheTampered {
                entry: Some(entry),
                reason: format!(
                    "entry {entry}'s stored {} differ from its verified leaf",
                    columns.join(", ")
                ),
            });
        }
        Ok(Verified {
            tree,
            checkpoint: Some(checkpoint),
        })
    }

    async fn raise(&self, error: &Error) -> Result<(), Error> {
        if let Some(alarm) = error.alarm() {
            let text = serde_json::to_string(&alarm).map_err(|e| Error::Cache(e.to_string()))?;
            self.run(move |db| set_meta(db, "alarm", &text)).await?;
        }
        Ok(())
    }

    /// Clears the standing alarm if it is of `source` (any when `None`).
    async fn clear_alarm(&self, source: Option<AlarmSource>) -> Result<(), Error> {
        self.run(move |db| {
            if let Some(alarm) = alarm(db)?
                && source.is_none_or(|s| s == alarm.source)
            {
                db.execute("DELETE FROM meta WHERE key = 'alarm'", [])?;
            }
            Ok(())
        })
        .await
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

fn open_db(path: &Path) -> Result<Db, Error> {
    crate::private::restrict_database(path)
        .map_err(|e| Error::Cache(format!("{}: {e}", path.display())))?;
    let mut db = Db::open(path).map_err(|e| Error::Cache(format!("{}: {e}", path.display())))?;
    db.busy_timeout(std::time::Duration::from_secs(5))?;
    db.pragma_update(None, "journal_mode", "wal")?;
    db.pragma_update(None, "synchronous", "normal")?;
    let tx = db.transaction()?;
    tx.execute(SCHEMA[0], [])?;
    let version = meta(&tx, "schema")?;
    if version.as_deref() != Some(SCHEMA_VERSION) {
        // An older layout (or none): rebuild; the pinned key and alarm in `meta` stay.
        for table in ["entries_fts", "entries", "pending", "checkpoints"] {
            tx.execute(&format!("DROP TABLE IF EXISTS {table}"), [])?;
        }
    }
    for statement in SCHEMA {
        tx.execute(statement, [])?;
    }
    set_meta(&tx, "schema", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(db)
}

fn meta(db: &Db, key: &str) -> Result<Option<String>, Error> {
    Ok(db
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn set_meta(db: &Db, key: &str, value: &str) -> Result<(), Error> {
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        [key, value],
    )?;
    Ok(())
}

fn alarm(db: &Db) -> Result<Option<Alarm>, Error> {
    Ok(meta(db, "alarm")?.and_then(|text| serde_json::from_str(&text).ok()))
}

/// What re-reading the cache found, besides the leaf hashes.
#[derive(Debug, Default)]
struct Reread {
    /// The first entry whose hash differs from the one recorded when it was verified.
    changed: Option<u64>,
    /// The first entry whose stored columns differ from its leaf, and which columns.
    columns: Option<(u64, Vec<&'static str>)>,
}

/// Reads every cached leaf in order and hashes it, on two threads: this one reads while the
/// other hashes and decodes, so re-verification costs about the larger of the two. Returns the
/// hashes, the first entry whose hash differs from the one recorded when it was verified, and
/// the first whose decoded columns (what the explorer filters and shows) differ from its leaf.
fn hash_entries(db: &Db) -> Result<(Vec<Hash>, Reread), Error> {
    const CHUNK: usize = 8192;
    type Row = (i64, Vec<u8>, [u8; 32], Columns);
    let mut select = db.prepare(
        "SELECT idx, leaf, hash, time, actor, action, object, outcome, details FROM entries ORDER BY idx",
    )?;
    let mut rows = select.query([])?;
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Row>>(4);
    std::thread::scope(|scope| {
        let hasher = scope.spawn(move || {
            let mut hashes = Vec::new();
            let mut found = Reread::default();
            let mut missing = None;
            for chunk in receive {
                for (idx, leaf, recorded, stored) in chunk {
                    let position = hashes.len() as u64;
                    if missing.is_none() && idx as u64 != position {
                        missing = Some(position);
                    }
                    let hash = Hash::leaf(&leaf);
                    if found.changed.is_none() && recorded != *hash.as_bytes() {
                        found.changed = Some(idx as u64);
                    }
                    if found.columns.is_none() {
                        let differing = stored.differing(&Columns::of(&leaf));
                        if !differing.is_empty() {
                            found.columns = Some((idx as u64, differing));
                        }
                    }
                    hashes.push(hash);
                }
            }
            (hashes, found, missing)
        });
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut read = || -> Result<(), Error> {
            while let Some(row) = rows.next()? {
                let recorded: [u8; 32] = row.get_ref(2)?.as_blob()?.try_into().unwrap_or([0; 32]);
                chunk.push((row.get(0)?, row.get(1)?, recorded, Columns::read(row, 3)?));
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if send.send(full).is_err() {
                        break;
                    }
                }
            }
            Ok(())
        };
        let result = read();
        if !chunk.is_empty() {
            let _ = send.send(chunk);
        }
        drop(send);
        let (hashes, found, missing) = hasher
            .join()
            .map_err(|_| Error::Cache("hashing the cache failed".into()))?;
        result?;
        if let Some(position) = missing {
            return Err(Error::CacheTampered {
                entry: Some(position),
                reason: format!("entry {position} is missing"),
            });
        }
        Ok((hashes, found))
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

async fn join_staging(task: tokio::task::JoinHandle<Result<u64, Error>>) -> Result<u64, Error> {
    task.await
        .map_err(|e| Error::Cache(format!("staging fetched entries stopped: {e}")))?
}

/// The decoded columns stored beside a leaf, which the explorer filters and shows. Entries that
/// verify but do not decode are kept (they are in the log) without columns.
#[derive(Debug, Default, PartialEq, Eq)]
struct Columns {
    time: Option<i64>,
    actor: Option<String>,
    action: Option<String>,
    object: Option<String>,
    outcome: Option<String>,
    details: Option<String>,
}

impl Columns {
    /// What the columns of `leaf` must hold.
    fn of(leaf: &[u8]) -> Self {
        match Leaf::decode(leaf) {
            Ok(l) => Self {
                time: Some(l.time.unix_millis()),
                actor: Some(l.actor.name),
                action: Some(l.action),
                object: Some(l.object),
                outcome: Some(l.outcome.kind.as_str().to_owned()),
                details: Some(l.details.as_str().to_owned()),
            },
            Err(_) => Self::default(),
        }
    }

    /// The stored columns of `row`, from its column `first` on, in the order of the schema.
    fn read(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            time: row.get(first)?,
            actor: row.get(first + 1)?,
            action: row.get(first + 2)?,
            object: row.get(first + 3)?,
            outcome: row.get(first + 4)?,
            details: row.get(first + 5)?,
        })
    }

    /// The names of the columns that differ from `other`'s.
    fn differing(&self, other: &Self) -> Vec<&'static str> {
        [
            ("time", self.time != other.time),
            ("actor", self.actor != other.actor),
            ("action", self.action != other.action),
            ("object", self.object != other.object),
            ("outcome", self.outcome != other.outcome),
            ("details", self.details != other.details),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }
}

/// Writes fetched entries to staging with their decoded columns.
fn stage(db: &mut Db, batch: &[(u64, Vec<u8>, Hash)]) -> Result<(), Error> {
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR REPLACE INTO pending (idx, leaf, hash, time, actor, action, object, outcome, details) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (idx, leaf, hash) in batch {
            let c = Columns::of(leaf);
            insert.execute(params![
                *idx as i64,
                leaf,
                hash.as_bytes().as_slice(),
                c.time,
                c.actor,
                c.action,
                c.object,
                c.outcome,
                c.details,
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Moves verified staged entries `from..to` into the explorer's tables with their full-text
/// index, and stores the checkpoint (and the key at first use); one transaction.
fn promote(db: &mut Db, from: u64, to: u64, note: &str, pin: Option<&str>) -> Result<(), Error> {
    let tx = db.transaction()?;
    let range = params![from as i64, to as i64];
    let moved = tx.execute(
        "INSERT INTO entries SELECT * FROM pending WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        range,
    )? as u64;
    if moved != to - from {
        return Err(Error::Cache(format!(
            "{} staged entries disappeared during the sync",
            (to - from).saturating_sub(moved)
        )));
    }
    tx.execute(
        "INSERT INTO entries_fts (rowid, actor, action, object, outcome, details) \
         SELECT idx, actor, action, object, outcome, details FROM pending \
         WHERE idx >= ?1 AND idx < ?2 AND action IS NOT NULL",
        range,
    )?;
    tx.execute("DELETE FROM pending WHERE idx < ?1", [to as i64])?;
    tx.execute(
        "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?1, ?2)",
        params![to as i64, note],
    )?;
    if let Some(verifier) = pin {
        set_meta(&tx, "verifier", verifier)?;
    }
    set_meta(
        &tx,
        "synced_at",
        &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )?;
    tx.commit()?;
    Ok(())
}

/// The cache's tables; the first is `meta`, which holds the layout version.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    // Verified entries. `hash` is the leaf hash when it was verified, so an offline check can
    // name an entry edited afterwards; the decoded columns are NULL for a leaf that does not
    // decode. Filters run on an in-memory index built from these columns (see `query`).
    "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY NOT NULL, leaf BLOB NOT NULL, \
     hash BLOB NOT NULL, time INTEGER, actor TEXT, action TEXT, object TEXT, outcome TEXT, details TEXT)",
    // Full-text index over the verified entries' decoded fields; rowid = entry index.
    "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(actor, action, object, outcome, details, \
     content='entries', content_rowid='idx')",
    // Fetched but not yet verified, same columns as `entries`: what lets an interrupted sync
    // resume, and what a verified sync moves into `entries` in one statement.
    "CREATE TABLE IF NOT EXISTS pending (idx INTEGER PRIMARY KEY NOT NULL, leaf BLOB NOT NULL, \
     hash BLOB NOT NULL, time INTEGER, actor TEXT, action TEXT, object TEXT, outcome TEXT, details TEXT)",
    "CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY NOT NULL, note TEXT NOT NULL)",
];

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::private::{mode, sibling};

    #[tokio::test]
    async fn the_cache_directory_database_and_wal_files_are_the_owners_alone() {
        let root = tempfile::tempdir().expect("temp dir");
        let path = root.path().join("config/audit/alice.db");
        let cache = Cache::open(&path).await.expect("opened");
        cache.status().await.expect("read");
        assert_eq!(mode(path.parent().expect("dir")).expect("mode"), 0o700);
        for file in [path.clone(), sibling(&path, "-wal"), sibling(&path, "-shm")] {
            assert_eq!(
                mode(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
                0o600,
                "{} is readable by its owner only",
                file.display()
            );
        }
    }
}
