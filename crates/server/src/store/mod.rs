//! The server's storage: SQLite (embedded default) or PostgreSQL, through sqlx.
//!
//! Queries are written once with `$n` placeholders, which both backends accept,
//! and run against whichever pool is configured; migrations live in one folder
//! per backend because their DDL differs.

use std::path::PathBuf;
use std::str::FromStr;

use gatehouse_protocol::DatabaseBackend;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};

/// Storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL names no supported database.
    #[error("unsupported database URL scheme in {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// Connecting or querying failed.
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row breaks an invariant (a role name that no longer exists, a bad fingerprint).
    #[error("corrupt registry row for {fingerprint}: {reason}")]
    Corrupt {
        /// The row's key.
        fingerprint: String,
        /// What is wrong.
        reason: String,
    },
    /// The migration lock next to a SQLite file could not be taken.
    #[error("cannot lock the database for migration: {0}")]
    Lock(String),
    /// Inserting would duplicate a unique value (a name, a certificate, a public key).
    #[error("{0} is already registered")]
    Duplicate(&'static str),
}

/// A connection pool to the configured database.
#[derive(Debug, Clone)]
pub enum Db {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// Shared by several instances.
    Postgres(PgPool),
}

/// Runs the same body against whichever pool is configured.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

pub(crate) use on_pool;

/// A write transaction on either backend: a change and the audit entry that records it commit
/// together or not at all (see [`crate::audit::AuditLog::record`]).
///
/// On SQLite it starts with `BEGIN IMMEDIATE`, taking the write lock at once, so two writers
/// queue instead of failing when both try to upgrade a read lock.
#[derive(Debug)]
pub enum Tx {
    /// SQLite.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// Runs the same body against whichever transaction is open; `$conn` is the connection.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

pub(crate) use on_tx;

impl Tx {
    /// Makes every change in the transaction durable.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// How long a SQLite writer waits for the write lock before failing with "database is locked".
const SQLITE_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl Db {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`) and applies pending migrations.
    ///
    /// A SQLite file is created if missing and runs in WAL mode with a busy timeout, so a
    /// second writer (another process, or another connection of this pool) waits instead of
    /// failing. SQLite's busy handler is not fair: under many writers on a loaded machine one can
    /// wait several seconds (the audit e2e test's 100 000 demo entries from 8 writers failed once
    /// with 5 s), so the wait is 30 s.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            // sqlx does not lock SQLite migrations: processes starting together on a new file
            // would race. An OS file lock next to the database serialises them.
            let path = options.get_filename().to_owned();
            let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                let lock_path = PathBuf::from(format!("{}.migrate-lock", path.display()));
                let file = private_file(&lock_path)?;
                file.lock()?;
                restrict_sqlite_files(&path)?;
                Ok(file)
            })
            .await
            .map_err(|e| Error::Lock(e.to_string()))?
            .map_err(|e| Error::Lock(e.to_string()))?;
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            let db = Db::Sqlite(pool);
            db.migrate().await?;
            drop(lock);
            return Ok(db);
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .connect_with(options)
                    .await?,
            )
        } else {
            return Err(Error::UnsupportedUrl(redact_url(url)));
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn migrate(&self) -> Result<(), Error> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Which backend this is.
    pub fn backend(&self) -> DatabaseBackend {
        match self {
            Db::Sqlite(_) => DatabaseBackend::Sqlite,
            Db::Postgres(_) => DatabaseBackend::Postgres,
        }
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// Opens (creating if missing) a file only its owner may read or write.
pub(crate) fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
}

/// Makes the SQLite database and its WAL and shared-memory files owner-only (0600). The
/// database is created here, empty, so SQLite never creates it with the umask's mode; SQLite
/// gives the WAL and shared-memory files the database's mode. Files that exist already are
/// tightened, so a database made by an older version does not stay readable by others.
fn restrict_sqlite_files(db: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    private_file(db)?;
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// The URL with any password replaced, for error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:[redacted]{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_the_password_but_keeps_the_rest() {
        assert_eq!(
            redact_url("postgres://gh:hunter2@db:5432/x"),
            "postgres://gh:[redacted]@db:5432/x"
        );
        assert_eq!(
            redact_url("sqlite:///tmp/a.db"),
            "sqlite:///tmp/a.db",
            "no userinfo, no change"
        );
    }
}
