//! NFTs' and alarms' SQL.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use gatehouse_protocol::proposal::{Alarm, Nft};

use super::MirrorNft;
use crate::store::{Db, Error, Tx, on_pool, on_tx};

/// The highest serial the reconciler has judged for `token` (0 before the first round).
pub async fn judged_up_to(db: &Db, token: &str) -> Result<i64, Error> {
    const SQL: &str = "SELECT judged_up_to FROM mint_reconciliation WHERE token = $1";
    let row: Option<(i64,)> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(token).fetch_optional(pool).await?);
    Ok(row.map_or(0, |r| r.0))
}

/// Records how far the reconciler has judged.
pub async fn set_judged_up_to(db: &Db, token: &str, serial: i64) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO mint_reconciliation (token, judged_up_to) VALUES ($1, $2) \
                       ON CONFLICT (token) DO UPDATE SET judged_up_to = excluded.judged_up_to";
    on_pool!(db, pool => sqlx::query(SQL).bind(token).bind(serial).execute(pool).await?.rows_affected());
    Ok(())
}

/// The serials of `token` above `after` that the server knows.
pub async fn serials(db: &Db, token: &str, after: i64) -> Result<HashSet<i64>, Error> {
    const SQL: &str = "SELECT serial FROM nfts WHERE token = $1 AND serial > $2";
    let rows: Vec<(i64,)> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(token).bind(after).fetch_all(pool).await?);
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// How many NFTs of `token` were minted since `since`.
pub async fn minted_since(db: &Db, token: &str, since: DateTime<Utc>) -> Result<u64, Error> {
    const SQL: &str = "SELECT COUNT(*) FROM nfts WHERE token = $1 AND minted_at >= $2";
    let row: (i64,) =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(token).bind(since).fetch_one(pool).await?);
    Ok(u64::try_from(row.0).unwrap_or(0))
}

/// Records NFTs an executed proposal minted, in the transaction that settles it.
#[allow(clippy::too_many_arguments)]
pub async fn insert_minted(
    tx: &mut Tx,
    token: &str,
    serials: &[i64],
    metadata: &[String],
    transaction_id: &str,
    proposal: &str,
    approvers: &[String],
) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO nfts (token, serial, metadata, transaction_id, proposal, approvers, minted_at, explained) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)";
    let approvers = serde_json::to_string(approvers).unwrap_or_else(|_| "[]".to_owned());
    let now = Utc::now();
    for (i, serial) in serials.iter().enumerate() {
        let meta = metadata.get(i).cloned().unwrap_or_default();
        on_tx!(tx, conn => {
            sqlx::query(SQL)
                .bind(token)
                .bind(serial)
                .bind(&meta)
                .bind(transaction_id)
                .bind(proposal)
                .bind(&approvers)
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
    }
    Ok(())
}

/// Records an NFT found on the ledger that no proposal explains.
pub async fn insert_unexplained(tx: &mut Tx, token: &str, nft: &MirrorNft) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO nfts (token, serial, metadata, transaction_id, proposal, approvers, minted_at, explained) \
                       VALUES ($1, $2, $3, '', NULL, '[]', $4, FALSE) ON CONFLICT (token, serial) DO NOTHING";
    let at = nft.created().unwrap_or_else(Utc::now);
    on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(token)
            .bind(nft.serial_number)
            .bind(nft.metadata_text())
            .bind(at)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(())
}

/// Raises an alarm; `Ok(false)` if the same alarm (kind and subject) exists.
pub async fn insert_alarm(
    tx: &mut Tx,
    kind: &str,
    subject: &str,
    message: &str,
) -> Result<bool, Error> {
    const SQL: &str = "INSERT INTO alarms (id, kind, subject, message, raised_at) VALUES ($1, $2, $3, $4, $5) \
                       ON CONFLICT (kind, subject) DO NOTHING";
    let added = on_tx!(tx, conn => {
        sqlx::query(SQL)
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(kind)
            .bind(subject)
            .bind(message)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(added == 1)
}

type NftRow = (
    String,
    i64,
    String,
    String,
    Option<String>,
    String,
    DateTime<Utc>,
    bool,
);

/// NFTs, newest serial first.
pub async fn nfts(db: &Db, limit: u32) -> Result<Vec<Nft>, Error> {
    const SQL: &str = "SELECT token, serial, metadata, transaction_id, proposal, approvers, minted_at, explained \
                       FROM nfts ORDER BY serial DESC LIMIT $1";
    let rows: Vec<NftRow> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(i64::from(limit)).fetch_all(pool).await?);
    Ok(rows
        .into_iter()
        .map(
            |(
                token,
                serial,
                metadata,
                transaction_id,
                proposal,
                approvers,
                minted_at,
                explained,
            )| Nft {
                token,
                serial,
                metadata,
                transaction_id,
                proposal,
                approvers: serde_json::from_str(&approvers).unwrap_or_default(),
                minted_at,
                explained,
            },
        )
        .collect())
}

/// Alarms, newest first.
pub async fn alarms(db: &Db) -> Result<Vec<Alarm>, Error> {
    const SQL: &str =
        "SELECT id, kind, subject, message, raised_at FROM alarms ORDER BY raised_at DESC, id";
    let rows: Vec<(String, String, String, String, DateTime<Utc>)> =
        on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows
        .into_iter()
        .map(|(id, kind, subject, message, raised_at)| Alarm {
            id,
            kind,
            subject,
            message,
            raised_at,
        })
        .collect())
}
