//! The server's storage: SQLite (embedded default) or PostgreSQL, through sqlx.
//!
//! Queries are written once with `$n` placeholders, which both backends accept,
//! and run against whichever pool is configured; migrations live in one folder
//! per backend because their DDL differs.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use gatehouse_protocol::{DatabaseBackend, Fingerprint, Role};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

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
    /// Inserting would duplicate a name or fingerprint.
    #[error("an officer with this {0} is already registered")]
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

/// One officer registry entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    /// SHA-256 of the officer's client certificate.
    pub fingerprint: Fingerprint,
    /// Registered name.
    pub name: String,
    /// Granted roles, sorted and without duplicates.
    pub roles: Vec<Role>,
    /// An administrator switched access off.
    pub disabled: bool,
    /// When the entry was created.
    pub created_at: DateTime<Utc>,
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

type Row = (String, String, String, bool, DateTime<Utc>);

impl Db {
    /// Connects to `url` (`sqlite://PATH` or `postgres://...`) and applies pending migrations.
    ///
    /// A SQLite file is created if missing and runs in WAL mode with a busy timeout,
    /// so a second process waits instead of failing.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let db = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(std::time::Duration::from_secs(5));
            // sqlx does not lock SQLite migrations: processes starting together on a new file
            // would race. An OS file lock next to the database serialises them.
            let lock_path =
                PathBuf::from(format!("{}.migrate-lock", options.get_filename().display()));
            let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock_path)?;
                file.lock()?;
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

    /// The registry entry for a certificate, if any.
    pub async fn officer(&self, fingerprint: &Fingerprint) -> Result<Option<Officer>, Error> {
        const SQL: &str = "SELECT fingerprint, name, roles, disabled, created_at \
                           FROM officers WHERE fingerprint = $1";
        let row: Option<Row> = on_pool!(self, pool => {
            sqlx::query_as(SQL).bind(fingerprint.to_hex()).fetch_optional(pool).await?
        });
        row.map(officer_from_row).transpose()
    }

    /// Every registry entry, by name.
    pub async fn officers(&self) -> Result<Vec<Officer>, Error> {
        const SQL: &str =
            "SELECT fingerprint, name, roles, disabled, created_at FROM officers ORDER BY name";
        let rows: Vec<Row> = on_pool!(self, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
        rows.into_iter().map(officer_from_row).collect()
    }

    /// Adds an entry; a duplicate name or fingerprint is [`Error::Duplicate`].
    pub async fn register(
        &self,
        fingerprint: &Fingerprint,
        name: &str,
        roles: &[Role],
    ) -> Result<Officer, Error> {
        const SQL: &str = "INSERT INTO officers (fingerprint, name, roles, disabled, created_at) \
                           VALUES ($1, $2, $3, FALSE, $4)";
        let mut roles = roles.to_vec();
        roles.sort();
        roles.dedup();
        let created_at = Utc::now();
        let role_text = roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let result = on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(fingerprint.to_hex())
                .bind(name)
                .bind(&role_text)
                .bind(created_at)
                .execute(pool)
                .await
                .map(|_| ())
        });
        match result {
            Ok(()) => Ok(Officer {
                fingerprint: *fingerprint,
                name: name.to_owned(),
                roles,
                disabled: false,
                created_at,
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let what = if e.message().contains("name") {
                    "name"
                } else {
                    "certificate"
                };
                Err(Error::Duplicate(what))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every registry entry (only `init --force` does this).
    pub async fn clear_registry(&self) -> Result<(), Error> {
        on_pool!(self, pool => sqlx::query("DELETE FROM officers").execute(pool).await.map(drop)?);
        Ok(())
    }

    /// Gives an entry a new certificate (a new key, e.g. moved onto a YubiKey): the old
    /// certificate stops working at once. Returns false when no such entry exists.
    pub async fn replace_certificate(
        &self,
        name: &str,
        fingerprint: &Fingerprint,
    ) -> Result<bool, Error> {
        const SQL: &str = "UPDATE officers SET fingerprint = $1 WHERE name = $2";
        let affected = on_pool!(self, pool => {
            sqlx::query(SQL).bind(fingerprint.to_hex()).bind(name).execute(pool).await?.rows_affected()
        });
        Ok(affected == 1)
    }

    /// Switches an entry's access off or back on. Returns false when no such entry exists.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool, Error> {
        const SQL: &str = "UPDATE officers SET disabled = $1 WHERE name = $2";
        let affected = on_pool!(self, pool => {
            sqlx::query(SQL).bind(disabled).bind(name).execute(pool).await?.rows_affected()
        });
        Ok(affected == 1)
    }
}

fn officer_from_row(
    (fingerprint, name, roles, disabled, created_at): Row,
) -> Result<Officer, Error> {
    let corrupt = |reason: String| Error::Corrupt {
        fingerprint: fingerprint.clone(),
        reason,
    };
    let parsed = fingerprint
        .parse::<Fingerprint>()
        .map_err(|e| corrupt(e.to_string()))?;
    let roles = roles
        .split(',')
        .filter(|r| !r.is_empty())
        .map(Role::from_str)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(Officer {
        fingerprint: parsed,
        name,
        roles,
        disabled,
        created_at,
    })
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

    #[tokio::test]
    async fn registry_round_trips_and_refuses_duplicates_on_sqlite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .expect("SQLite opens and migrates");
        let fp = Fingerprint::from_digest([7; 32]);
        let added = db
            .register(&fp, "alice", &[Role::Officer, Role::Admin, Role::Officer])
            .await;
        let added = added.expect("first registration succeeds");
        assert_eq!(
            added.roles,
            vec![Role::Officer, Role::Admin],
            "roles sorted and deduplicated"
        );
        let found = db.officer(&fp).await.expect("query").expect("entry exists");
        assert_eq!(found.name, "alice");
        assert_eq!(found.roles, added.roles, "roles survive the round trip");
        let dup = db
            .register(&Fingerprint::from_digest([8; 32]), "alice", &[])
            .await;
        assert!(
            matches!(dup, Err(Error::Duplicate("name"))),
            "same name twice is refused: {dup:?}"
        );
        assert!(
            db.set_disabled("alice", true).await.expect("update"),
            "alice exists"
        );
        assert!(
            db.officer(&fp).await.expect("q").expect("row").disabled,
            "disable sticks"
        );
        assert!(
            !db.set_disabled("nobody", true).await.expect("update"),
            "unknown name reports false"
        );
    }
}
