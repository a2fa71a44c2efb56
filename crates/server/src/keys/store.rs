//! Ledger keys' SQL.

use chrono::{DateTime, Utc};
use gatehouse_keys::key::{Algorithm, PublicKey};

use super::{Accepted, Enrolled};
use crate::store::{Db, Error, Tx, on_pool, on_tx};

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
);

const COLUMNS: &str = "officer, algorithm, public_key, evidence, device, enrolled_at";

fn algorithm_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::EcdsaSecp256k1 => "ecdsa-secp256k1",
        Algorithm::EcdsaP256 => "ecdsa-p256",
        _ => "ed25519",
    }
}

fn from_row(
    (officer, algorithm, key, judged, device, enrolled_at): Row,
) -> Result<Enrolled, Error> {
    let corrupt = |reason: String| Error::Corrupt {
        fingerprint: format!("ledger key of {officer}"),
        reason,
    };
    let algorithm = Algorithm::ALL
        .into_iter()
        .find(|a| algorithm_name(*a) == algorithm)
        .ok_or_else(|| corrupt(format!("unknown algorithm {algorithm:?}")))?;
    let bytes = hex::decode(&key).map_err(|_| corrupt("key is not hex".into()))?;
    let key = PublicKey::from_bytes(algorithm, &bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(Enrolled {
        officer,
        key,
        judged,
        device,
        enrolled_at,
    })
}

/// Every enrolled key, by officer name.
pub async fn all(db: &Db) -> Result<Vec<Enrolled>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM ledger_keys ORDER BY officer");
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
    rows.into_iter().map(from_row).collect()
}

/// The key of `officer`.
pub async fn of_officer(db: &Db, officer: &str) -> Result<Option<Enrolled>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM ledger_keys WHERE officer = $1");
    let row: Option<Row> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(officer).fetch_optional(pool).await?);
    row.map(from_row).transpose()
}

/// The key of `officer`, read in the transaction.
pub async fn of(tx: &mut Tx, officer: &str) -> Result<Option<Enrolled>, Error> {
    let sql = format!("SELECT {COLUMNS} FROM ledger_keys WHERE officer = $1");
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(officer).fetch_optional(&mut *conn).await?
    });
    row.map(from_row).transpose()
}

/// Records `officer`'s key; a second key for the officer, or one key for two officers, is
/// [`Error::Duplicate`].
pub async fn insert(
    tx: &mut Tx,
    officer: &str,
    accepted: &Accepted,
    device: Option<&str>,
) -> Result<Enrolled, Error> {
    insert_into(
        tx,
        "ledger_keys (officer, algorithm, public_key, evidence, details, device, enrolled_at)",
        officer,
        accepted,
        device,
    )
    .await
}

/// Every key staged for the next rotation, by officer name.
pub async fn staged(db: &Db) -> Result<Vec<Enrolled>, Error> {
    let sql = format!("SELECT {STAGED_COLUMNS} FROM staged_keys ORDER BY officer");
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
    rows.into_iter().map(from_row).collect()
}

/// The key `officer` staged, read in the transaction.
pub async fn staged_of(tx: &mut Tx, officer: &str) -> Result<Option<Enrolled>, Error> {
    let sql = format!("SELECT {STAGED_COLUMNS} FROM staged_keys WHERE officer = $1");
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(officer).fetch_optional(&mut *conn).await?
    });
    row.map(from_row).transpose()
}

/// Whose key `public_key` (hex, as stored) is, and whether it is only staged (else enrolled).
pub async fn holder_of(tx: &mut Tx, public_key: &str) -> Result<Option<(String, bool)>, Error> {
    const SQL: &str = "SELECT officer, 0 FROM ledger_keys WHERE public_key = $1 \
                       UNION ALL SELECT officer, 1 FROM staged_keys WHERE public_key = $1";
    let found: Option<(String, i32)> = on_tx!(tx, conn => {
        sqlx::query_as(SQL).bind(public_key).fetch_optional(&mut *conn).await?
    });
    Ok(found.map(|(officer, staged)| (officer, staged == 1)))
}

/// Stages `officer`'s next key, replacing the one they staged before (returned). A key someone
/// else staged is [`Error::Duplicate`].
pub async fn stage(
    tx: &mut Tx,
    officer: &str,
    accepted: &Accepted,
    device: Option<&str>,
) -> Result<(Enrolled, Option<Enrolled>), Error> {
    let before = staged_of(tx, officer).await?;
    if before.is_some() {
        const SQL: &str = "DELETE FROM staged_keys WHERE officer = $1";
        on_tx!(tx, conn => sqlx::query(SQL).bind(officer).execute(&mut *conn).await?.rows_affected());
    }
    let staged = insert_into(
        tx,
        "staged_keys (officer, algorithm, public_key, evidence, details, device, staged_at)",
        officer,
        accepted,
        device,
    )
    .await?;
    Ok((staged, before))
}

/// The staged keys' columns, in the order [`COLUMNS`] reads enrolled ones.
const STAGED_COLUMNS: &str = "officer, algorithm, public_key, evidence, device, staged_at";

async fn insert_into(
    tx: &mut Tx,
    into: &str,
    officer: &str,
    accepted: &Accepted,
    device: Option<&str>,
) -> Result<Enrolled, Error> {
    let sql = format!("INSERT INTO {into} VALUES ($1, $2, $3, $4, $5, $6, $7)");
    let enrolled_at = Utc::now();
    let result = on_tx!(tx, conn => {
        sqlx::query(&sql)
            .bind(officer)
            .bind(algorithm_name(accepted.key.algorithm()))
            .bind(hex::encode(accepted.key.as_bytes()))
            .bind(accepted.judged.as_str())
            .bind(accepted.details.to_string())
            .bind(device)
            .bind(enrolled_at)
            .execute(&mut *conn)
            .await
            .map(drop)
    });
    result.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            Error::Duplicate("this officer's ledger key, or this key,")
        }
        _ => Error::Sqlx(e),
    })?;
    Ok(Enrolled {
        officer: officer.to_owned(),
        key: accepted.key.clone(),
        judged: accepted.judged.as_str().to_owned(),
        device: device.map(str::to_owned),
        enrolled_at,
    })
}
