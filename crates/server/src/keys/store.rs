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

/// The key as stored: hex of its bytes as the key type holds them.
pub fn stored_hex(key: &PublicKey) -> String {
    hex::encode(key.as_bytes())
}

/// Every key in use (not retired), by officer name, oldest first.
pub async fn all(db: &Db) -> Result<Vec<Enrolled>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_keys WHERE retired_at IS NULL ORDER BY officer, enrolled_at"
    );
    let rows: Vec<Row> = on_pool!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
    rows.into_iter().map(from_row).collect()
}

/// The newest key of `officer` in use: the one they enrolled, or the last a rotation gave them.
pub async fn of_officer(db: &Db, officer: &str) -> Result<Option<Enrolled>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_keys WHERE officer = $1 AND retired_at IS NULL ORDER BY enrolled_at DESC LIMIT 1"
    );
    let row: Option<Row> =
        on_pool!(db, pool => sqlx::query_as(&sql).bind(officer).fetch_optional(pool).await?);
    row.map(from_row).transpose()
}

/// [`of_officer`], read in the transaction.
pub async fn of(tx: &mut Tx, officer: &str) -> Result<Option<Enrolled>, Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM ledger_keys WHERE officer = $1 AND retired_at IS NULL ORDER BY enrolled_at DESC LIMIT 1"
    );
    let row: Option<Row> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(officer).fetch_optional(&mut *conn).await?
    });
    row.map(from_row).transpose()
}

/// Moves `officer`'s staged key `public_key` (stored hex) into use: a rotation that names it
/// executed. Returns it; `None` when it is not staged (any more).
pub async fn activate_staged(
    tx: &mut Tx,
    officer: &str,
    public_key: &str,
) -> Result<Option<Enrolled>, Error> {
    let Some(staged) = staged_of(tx, officer).await? else {
        return Ok(None);
    };
    if stored_hex(&staged.key) != public_key {
        return Ok(None);
    }
    const MOVE: &str = "INSERT INTO ledger_keys \
        (public_key, officer, algorithm, evidence, details, device, enrolled_at) \
        SELECT public_key, officer, algorithm, evidence, details, device, $2 FROM staged_keys \
        WHERE officer = $1";
    const DELETE: &str = "DELETE FROM staged_keys WHERE officer = $1";
    let now = Utc::now();
    on_tx!(tx, conn => {
        sqlx::query(MOVE).bind(officer).bind(now).execute(&mut *conn).await?;
        sqlx::query(DELETE).bind(officer).execute(&mut *conn).await?;
    });
    Ok(Some(Enrolled {
        enrolled_at: now,
        ..staged
    }))
}

/// Retires the key `public_key` (stored hex): no token key contains it any more.
pub async fn retire(tx: &mut Tx, public_key: &str) -> Result<bool, Error> {
    const SQL: &str =
        "UPDATE ledger_keys SET retired_at = $2 WHERE public_key = $1 AND retired_at IS NULL";
    let changed = on_tx!(tx, conn => {
        sqlx::query(SQL).bind(public_key).bind(Utc::now()).execute(&mut *conn).await?.rows_affected()
    });
    Ok(changed == 1)
}

/// Records `officer`'s key; a key recorded before (for anyone) is [`Error::Duplicate`].
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

/// Every staged key, then every key in use: where a rotation's holder's key is found.
pub async fn staged_and_in_use(db: &Db) -> Result<Vec<Enrolled>, Error> {
    let mut keys = staged(db).await?;
    keys.extend(all(db).await?);
    Ok(keys)
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
