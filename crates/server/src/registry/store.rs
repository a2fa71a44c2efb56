//! The officer registry's SQL.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use gatehouse_protocol::{Fingerprint, Role};

use super::{Certificate, Officer};
use crate::store::{Db, Error, Tx, on_pool, on_tx};

type Row = (String, String, String, bool, DateTime<Utc>, Option<String>);

const COLUMNS: &str = "fingerprint, name, roles, disabled, created_at, public_key";

/// The registry entry for a certificate, if any.
pub async fn officer(db: &Db, fingerprint: &Fingerprint) -> Result<Option<Officer>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM officers WHERE fingerprint = $1");
    let row: Option<Row> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(fingerprint.to_hex()).fetch_optional(pool).await?
    });
    row.map(from_row).transpose()
}

/// Every registry entry, by name.
pub async fn officers(db: &Db) -> Result<Vec<Officer>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM officers ORDER BY name");
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
    rows.into_iter().map(from_row).collect()
}

/// The entry named `name`, read in the transaction.
pub async fn by_name(tx: &mut Tx, name: &str) -> Result<Option<Officer>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM officers WHERE name = $1");
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(name).fetch_optional(&mut *conn).await?
    });
    row.map(from_row).transpose()
}

/// Adds an entry in the transaction; a duplicate name, certificate or public key is
/// [`Error::Duplicate`].
pub async fn insert(
    tx: &mut Tx,
    certificate: &Certificate,
    name: &str,
    roles: &[Role],
) -> Result<Officer, Error> {
    const SQL: &str = "INSERT INTO officers (fingerprint, name, roles, disabled, created_at, public_key) \
                       VALUES ($1, $2, $3, FALSE, $4, $5)";
    let roles = normalise(roles);
    let created_at = Utc::now();
    let result = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(certificate.fingerprint.to_hex())
            .bind(name)
            .bind(role_text(&roles))
            .bind(created_at)
            .bind(certificate.public_key.to_hex())
            .execute(&mut *conn)
            .await
            .map(drop)
    });
    result.map_err(duplicate)?;
    Ok(Officer {
        fingerprint: certificate.fingerprint,
        name: name.to_owned(),
        roles,
        disabled: false,
        created_at,
        public_key: Some(certificate.public_key),
    })
}

/// Adds an entry outside any audited change (bootstrap: `init` and tests).
pub async fn insert_unaudited(
    db: &Db,
    certificate: &Certificate,
    name: &str,
    roles: &[Role],
) -> Result<Officer, Error> {
    let mut tx = db.begin().await?;
    let officer = insert(&mut tx, certificate, name, roles).await?;
    tx.commit().await?;
    Ok(officer)
}

/// Gives the entry `name` a new certificate, and revokes the old one.
pub async fn replace_certificate(
    tx: &mut Tx,
    old: &Officer,
    certificate: &Certificate,
) -> Result<(), Error> {
    const SQL: &str = "UPDATE officers SET fingerprint = $1, public_key = $2 WHERE name = $3";
    let result = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(certificate.fingerprint.to_hex())
            .bind(certificate.public_key.to_hex())
            .bind(&old.name)
            .execute(&mut *conn)
            .await
            .map(drop)
    });
    result.map_err(duplicate)?;
    revoke(tx, &old.fingerprint, &old.name, "replaced").await
}

/// Adds a certificate to the revocation list.
pub async fn revoke(
    tx: &mut Tx,
    fingerprint: &Fingerprint,
    name: &str,
    reason: &str,
) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO revoked_certificates (fingerprint, name, revoked_at, reason) \
                       VALUES ($1, $2, $3, $4) ON CONFLICT (fingerprint) DO NOTHING";
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(fingerprint.to_hex())
            .bind(name)
            .bind(Utc::now())
            .bind(reason)
            .execute(&mut *conn)
            .await
            .map(drop)?
    });
    Ok(())
}

/// Every revoked certificate's fingerprint.
pub async fn revoked(db: &Db) -> Result<Vec<Fingerprint>, Error> {
    const SQL: &str = "SELECT fingerprint FROM revoked_certificates";
    let rows: Vec<(String,)> = on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(hex,)| {
            hex.parse()
                .map_err(|e: gatehouse_protocol::InvalidFingerprint| Error::Corrupt {
                    fingerprint: hex.clone(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// Switches an entry's access off or back on.
pub async fn set_disabled(tx: &mut Tx, name: &str, disabled: bool) -> Result<(), Error> {
    const SQL: &str = "UPDATE officers SET disabled = $1 WHERE name = $2";
    on_tx!(tx, conn => sqlx::query(SQL).bind(disabled).bind(name).execute(&mut *conn).await.map(drop)?);
    Ok(())
}

/// Deletes every registry entry (only `init --force` does this).
pub async fn clear(db: &Db) -> Result<(), Error> {
    on_pool!(db, pool => sqlx::query("DELETE FROM officers").execute(pool).await.map(drop)?);
    Ok(())
}

fn duplicate(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            let message = db.message();
            Error::Duplicate(if message.contains("public_key") {
                "this public key"
            } else if message.contains("name") {
                "this name"
            } else {
                "this certificate"
            })
        }
        other => Error::Sqlx(other),
    }
}

fn normalise(roles: &[Role]) -> Vec<Role> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
}

fn role_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn from_row(
    (fingerprint, name, roles, disabled, created_at, public_key): Row,
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
    let public_key = public_key
        .map(|k| k.parse::<Fingerprint>())
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(Officer {
        fingerprint: parsed,
        name,
        roles,
        disabled,
        created_at,
        public_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(n: u8, k: u8) -> Certificate {
        Certificate {
            fingerprint: Fingerprint::from_digest([n; 32]),
            public_key: Fingerprint::from_digest([k; 32]),
        }
    }

    #[tokio::test]
    async fn registry_round_trips_and_refuses_duplicates_on_sqlite() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&format!("sqlite://{}/t.db", dir.path().display()))
            .await
            .expect("SQLite opens and migrates");
        let added = insert_unaudited(
            &db,
            &cert(7, 7),
            "alice",
            &[Role::Officer, Role::Admin, Role::Officer],
        )
        .await
        .expect("first registration succeeds");
        assert_eq!(
            added.roles,
            vec![Role::Officer, Role::Admin],
            "roles sorted and deduplicated"
        );
        let found = officer(&db, &cert(7, 7).fingerprint)
            .await
            .expect("query")
            .expect("entry exists");
        assert_eq!(found.name, "alice");
        assert_eq!(found.roles, added.roles, "roles survive the round trip");
        assert_eq!(found.public_key, Some(cert(7, 7).public_key));
        let dup = insert_unaudited(&db, &cert(8, 8), "alice", &[]).await;
        assert!(
            matches!(dup, Err(Error::Duplicate("this name"))),
            "same name twice: {dup:?}"
        );
        let same_key = insert_unaudited(&db, &cert(9, 7), "mallory", &[]).await;
        assert!(
            matches!(same_key, Err(Error::Duplicate("this public key"))),
            "one public key under two names is refused: {same_key:?}"
        );
    }
}
