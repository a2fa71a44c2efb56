//! The client's copy of the audit log: synced incrementally into a local SQLite
//! cache and verified, so a reader trusts the trail without trusting the server.
//!
//! * The log's verifier key is pinned per profile at first use; a different key
//!   later is an alarm, never a prompt.
//! * Every new checkpoint must be signed by the pinned key and be consistent
//!   (RFC 6962 consistency proof) with the last one stored.
//! * Every synced entry is hashed into a Merkle tree whose root must equal the
//!   checkpoint's: an edited, missing or reordered entry is an alarm.
//! * Nothing is stored unless all of that holds, so the cache only ever holds a
//!   verified prefix of the log.

use std::path::Path;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::{Checkpoint, LogVerifier};
use gatehouse_audit::leaf::Leaf;
use gatehouse_audit::tree::{HashSource, Tree};
use serde::Deserialize;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::connection::{self, Connection};

/// Entries fetched per request while syncing.
pub const PAGE: u32 = 1000;

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
        /// What did not match.
        reason: String,
    },
    /// The local cache itself fails verification.
    #[error(
        "ALARM: the local audit cache does not match its checkpoint ({0}); it was modified on this computer"
    )]
    CacheTampered(String),
    /// Talking to the server failed.
    #[error(transparent)]
    Connection(#[from] connection::Error),
    /// The local cache could not be read or written.
    #[error("the local audit cache failed: {0}")]
    Cache(String),
}

impl Error {
    /// Whether this is a verification alarm rather than an operational failure.
    pub fn is_alarm(&self) -> bool {
        matches!(
            self,
            Error::KeyChanged { .. }
                | Error::Checkpoint { .. }
                | Error::EntriesMismatch { .. }
                | Error::CacheTampered(_)
        )
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Cache(e.to_string())
    }
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

/// A profile's local audit cache.
#[derive(Debug, Clone)]
pub struct Cache {
    pool: SqlitePool,
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
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Self { pool })
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
        let row: Option<(String,)> =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'verifier'")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(v,)| v))
    }

    /// Syncs new entries from the server, verifying everything before storing anything.
    /// `progress(done, total)` is called after each page.
    pub async fn sync(
        &self,
        connection: &Connection,
        mut progress: impl FnMut(u64, u64),
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
        let (mut tree, trusted) = self.load().await?;
        let from = tree.size();
        let Some(note) = view.note else {
            if from > 0 {
                return Err(Error::Checkpoint {
                    size: 0,
                    reason: "the server no longer has a checkpoint".into(),
                });
            }
            self.pin(pinned.is_none(), &view.verifier).await?;
            return Ok(Synced {
                from,
                to: 0,
                pinned_now: pinned.is_none(),
            });
        };
        let signed = verifier.verify(&note).map_err(|e| Error::Checkpoint {
            size: 0,
            reason: e.to_string(),
        })?;
        let checkpoint = signed.checkpoint().clone();
        if let Some(trusted) = &trusted {
            let proof = if checkpoint.size() > trusted.size() {
                let view: ProofView = connection
                    .get(&format!(
                        "/v1/audit/consistency?old={}&new={}",
                        trusted.size(),
                        checkpoint.size()
                    ))
                    .await?;
                parse_hashes(&view.hashes, checkpoint.size())?
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
        let mut fetched: Vec<(u64, Vec<u8>)> = Vec::new();
        while tree.size() < checkpoint.size() {
            let page: Vec<EntryView> = connection
                .get(&format!(
                    "/v1/audit/entries?from={}&limit={PAGE}",
                    tree.size()
                ))
                .await?;
            if page.is_empty() {
                return Err(Error::EntriesMismatch {
                    size: checkpoint.size(),
                    reason: format!(
                        "the server has no entry {} but its checkpoint covers it",
                        tree.size()
                    ),
                });
            }
            for entry in page {
                if tree.size() == checkpoint.size() {
                    break;
                }
                if entry.index != tree.size() {
                    return Err(Error::EntriesMismatch {
                        size: checkpoint.size(),
                        reason: format!("expected entry {}, got {}", tree.size(), entry.index),
                    });
                }
                let leaf = STANDARD
                    .decode(&entry.leaf)
                    .map_err(|e| Error::EntriesMismatch {
                        size: checkpoint.size(),
                        reason: format!("entry {} is not base64: {e}", entry.index),
                    })?;
                tree.append(&leaf);
                fetched.push((entry.index, leaf));
            }
            progress(tree.size() - from, checkpoint.size() - from);
        }
        let root = tree
            .root(checkpoint.size())
            .map_err(|e| Error::Cache(e.to_string()))?;
        if root != checkpoint.root() {
            return Err(Error::EntriesMismatch {
                size: checkpoint.size(),
                reason: format!(
                    "computed root {} but the checkpoint says {}",
                    root.to_hex(),
                    checkpoint.root().to_hex()
                ),
            });
        }
        let mut tx = self.pool.begin().await?;
        for (index, leaf) in &fetched {
            sqlx::query("INSERT INTO entries (idx, leaf) VALUES ($1, $2)")
                .bind(*index as i64)
                .bind(leaf)
                .execute(&mut *tx)
                .await?;
            // Entries that verified but do not decode are kept (they are in the log) and not indexed.
            if let Ok(decoded) = Leaf::decode(leaf) {
                sqlx::query(
                    "INSERT INTO entries_fts (rowid, actor, action, object, outcome, details) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(*index as i64)
                .bind(&decoded.actor.name)
                .bind(&decoded.action)
                .bind(&decoded.object)
                .bind(decoded.outcome.kind.as_str())
                .bind(decoded.details.as_str())
                .execute(&mut *tx)
                .await?;
            }
        }
        sqlx::query("INSERT OR REPLACE INTO checkpoints (size, note) VALUES ($1, $2)")
            .bind(checkpoint.size() as i64)
            .bind(&note)
            .execute(&mut *tx)
            .await?;
        if pinned.is_none() {
            sqlx::query("INSERT INTO meta (key, value) VALUES ('verifier', $1)")
                .bind(&view.verifier)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Synced {
            from,
            to: checkpoint.size(),
            pinned_now: pinned.is_none(),
        })
    }

    /// Verified entries matching a full-text `query` (FTS5 syntax; all entries when `None`),
    /// newest first, at most `limit`.
    pub async fn search(&self, query: Option<&str>, limit: u32) -> Result<Vec<(u64, Leaf)>, Error> {
        let rows: Vec<(i64, Vec<u8>)> = match query {
            Some(query) => sqlx::query_as(
                "SELECT e.idx, e.leaf FROM entries_fts f JOIN entries e ON e.idx = f.rowid \
                     WHERE entries_fts MATCH $1 ORDER BY e.idx DESC LIMIT $2",
            )
            .bind(query)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| Error::Cache(format!("search {query:?}: {e}")))?,
            None => {
                sqlx::query_as("SELECT idx, leaf FROM entries ORDER BY idx DESC LIMIT $1")
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.into_iter()
            .map(|(idx, leaf)| {
                Leaf::decode(&leaf)
                    .map(|l| (idx as u64, l))
                    .map_err(|e| Error::Cache(format!("entry {idx} does not decode: {e}")))
            })
            .collect()
    }

    /// Re-verifies the whole cache against its latest stored checkpoint, offline.
    pub async fn verify(&self) -> Result<u64, Error> {
        self.load().await.map(|(tree, _)| tree.size())
    }

    async fn pin(&self, first_use: bool, verifier: &str) -> Result<(), Error> {
        if first_use {
            sqlx::query("INSERT INTO meta (key, value) VALUES ('verifier', $1)")
                .bind(verifier)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Loads the cached entries into a tree and checks them against the stored checkpoint.
    async fn load(&self) -> Result<(Tree, Option<Checkpoint>), Error> {
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT idx, leaf FROM entries ORDER BY idx")
                .fetch_all(&self.pool)
                .await?;
        let mut tree = Tree::with_capacity(rows.len());
        for (idx, leaf) in rows {
            if idx as u64 != tree.size() {
                return Err(Error::CacheTampered(format!(
                    "entry {} is missing",
                    tree.size()
                )));
            }
            tree.append(&leaf);
        }
        let latest: Option<(String,)> =
            sqlx::query_as("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        let Some((note,)) = latest else {
            return if tree.size() == 0 {
                Ok((tree, None))
            } else {
                Err(Error::CacheTampered("entries without a checkpoint".into()))
            };
        };
        let verifier = self
            .pinned()
            .await?
            .ok_or_else(|| Error::CacheTampered("a checkpoint without a pinned key".into()))?;
        let verifier =
            LogVerifier::from_str(&verifier).map_err(|e| Error::CacheTampered(e.to_string()))?;
        let checkpoint = verifier
            .verify(&note)
            .map_err(|e| Error::CacheTampered(e.to_string()))?
            .into_checkpoint();
        if checkpoint.size() != tree.size() || tree.current_root() != checkpoint.root() {
            return Err(Error::CacheTampered(format!(
                "{} entries do not hash to the stored checkpoint of size {}",
                tree.size(),
                checkpoint.size()
            )));
        }
        Ok((tree, Some(checkpoint)))
    }
}

fn parse_hashes(text: &[String], size: u64) -> Result<Vec<Hash>, Error> {
    text.iter()
        .map(|h| {
            h.parse().map_err(|e| Error::Checkpoint {
                size,
                reason: format!("malformed proof hash: {e}"),
            })
        })
        .collect()
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY NOT NULL, leaf BLOB NOT NULL)",
    // Full-text index over the verified entries' decoded fields; rowid = entry index.
    "CREATE VIRTUAL TABLE IF NOT EXISTS entries_fts USING fts5(actor, action, object, outcome, details)",
    "CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY NOT NULL, note TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
];
