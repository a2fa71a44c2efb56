//! The local SQLite cache: its schema, and the reads and writes the other parts build on.

use std::path::Path;
use std::sync::Arc;

use gatehouse_audit::Hash;
use rusqlite::{OptionalExtension, params};

use super::verify::Columns;
use super::{Alarm, AlarmSource, Cache, Db, Error, PAGE, Status, query};

/// The cache layout this code writes. An older layout is rebuilt by the next sync (the pinned
/// key is kept), since everything in it can be fetched and verified again.
const SCHEMA_VERSION: &str = "4";

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

    /// Runs `f` on the database on a blocking thread.
    pub(super) async fn run<T: Send + 'static>(
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

    pub(super) async fn raise(&self, error: &Error) -> Result<(), Error> {
        if let Some(alarm) = error.alarm() {
            let text = serde_json::to_string(&alarm).map_err(|e| Error::Cache(e.to_string()))?;
            self.run(move |db| set_meta(db, "alarm", &text)).await?;
        }
        Ok(())
    }

    /// Clears the standing alarm if it is of `source` (any when `None`).
    pub(super) async fn clear_alarm(&self, source: Option<AlarmSource>) -> Result<(), Error> {
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

pub(super) fn meta(db: &Db, key: &str) -> Result<Option<String>, Error> {
    Ok(db
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

pub(super) fn set_meta(db: &Db, key: &str, value: &str) -> Result<(), Error> {
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        [key, value],
    )?;
    Ok(())
}

fn alarm(db: &Db) -> Result<Option<Alarm>, Error> {
    Ok(meta(db, "alarm")?.and_then(|text| serde_json::from_str(&text).ok()))
}

/// Writes fetched entries to staging with their decoded columns.
pub(super) fn stage(db: &mut Db, batch: &[(u64, Vec<u8>, Hash)]) -> Result<(), Error> {
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
pub(super) fn promote(
    db: &mut Db,
    from: u64,
    to: u64,
    note: &str,
    pin: Option<&str>,
) -> Result<(), Error> {
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
