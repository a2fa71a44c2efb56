//! The audit log's SQL. Every statement is written once with `$n` placeholders and runs on
//! either backend through [`on_pool!`] / [`on_tx!`].

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt as _;
use gatehouse_audit::checkpoint::LogVerifier;
use gatehouse_audit::leaf::OutcomeKind;
use gatehouse_audit::tree::Tree;

use super::{Error, Filter, Prepared, Private, PrivateRow, Row, Stored, check_signed, to_i64};
use crate::store::{Db, Tx, on_pool, on_tx};

const STATE: &str = "SELECT size, root FROM audit_tree WHERE id = 1";
const LOCK_STATE_PG: &str = "SELECT size, root FROM audit_tree WHERE id = 1 FOR UPDATE";
const LEAVES: &str =
    "SELECT idx, leaf FROM audit_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx";
const CHECKPOINT_AT: &str = "SELECT note FROM audit_checkpoints WHERE size = $1";
const LATEST: &str = "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1";

/// Streams the stored leaves beyond what `tree` holds (below `size`) into it, one row at a
/// time, and checks the result against the signed checkpoint at `size`.
macro_rules! catch_up_on {
    ($conn:expr, $tree:expr, $size:expr, $verifier:expr) => {{
        let size: u64 = $size;
        {
            let mut rows = sqlx::query_as::<_, (i64, Vec<u8>)>(LEAVES)
                .bind(to_i64($tree.size())?)
                .bind(to_i64(size)?)
                .fetch(&mut *$conn);
            while let Some((idx, leaf)) = rows.try_next().await? {
                if idx as u64 != $tree.size() {
                    return Err(Error::Inconsistent(format!(
                        "entry {} is missing",
                        $tree.size()
                    )));
                }
                $tree.append(&leaf);
            }
        }
        let note: Option<(String,)> = sqlx::query_as(CHECKPOINT_AT)
            .bind(to_i64(size)?)
            .fetch_optional(&mut *$conn)
            .await?;
        check_signed($tree, size, note.as_ref().map(|(n,)| n.as_str()), $verifier)
    }};
}

/// Brings `tree` up to the stored log outside any write lock (at start, and when a reader asks
/// for a size beyond what this instance holds). Returns the stored size.
pub(super) async fn load(db: &Db, tree: &mut Tree, verifier: &LogVerifier) -> Result<u64, Error> {
    on_pool!(db, pool => {
        let mut conn = pool.acquire().await?;
        let (size, _root): (i64, Vec<u8>) = sqlx::query_as(STATE).fetch_one(&mut *conn).await?;
        let size = size as u64;
        if size < tree.size() {
            return Err(Error::Inconsistent(format!(
                "the log shrank from {} to {size} entries",
                tree.size()
            )));
        }
        catch_up_on!(conn, tree, size, verifier)?;
        Ok(size)
    })
}

/// Inside the writer's transaction: takes the writer lock (the transaction's `BEGIN IMMEDIATE`
/// on SQLite, `FOR UPDATE` on the tree row on PostgreSQL), then catches `tree` up with what other
/// writers committed and checks it against its signature.
pub(super) async fn lock_and_catch_up(
    tx: &mut Tx,
    tree: &mut Tree,
    verifier: &LogVerifier,
) -> Result<(), Error> {
    let lock = match tx {
        Tx::Sqlite(_) => STATE,
        Tx::Postgres(_) => LOCK_STATE_PG,
    };
    on_tx!(tx, conn => {
        let (size, _root): (i64, Vec<u8>) = sqlx::query_as(lock).fetch_one(&mut *conn).await?;
        let size = size as u64;
        if size < tree.size() {
            return Err(Error::Inconsistent(format!(
                "the log shrank from {} to {size} entries",
                tree.size()
            )));
        }
        catch_up_on!(conn, tree, size, verifier)
    })
}

/// Queues an entry (JSON) in the outbox, in the caller's transaction. Returns its id.
pub(super) async fn enqueue(tx: &mut Tx, entry: &str) -> Result<i64, Error> {
    const SQL: &str = "INSERT INTO audit_outbox (entry, queued_at) VALUES ($1, $2) RETURNING id";
    let (id,): (i64,) = on_tx!(tx, conn => {
        sqlx::query_as(SQL).bind(entry).bind(Utc::now()).fetch_one(&mut *conn).await?
    });
    Ok(id)
}

/// Whether any entry waits in the outbox (read without the writer lock).
pub(super) async fn anything_queued(db: &Db) -> Result<bool, Error> {
    const SQL: &str = "SELECT id FROM audit_outbox LIMIT 1";
    let row: Option<(i64,)> = on_pool!(db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?);
    Ok(row.is_some())
}

/// The oldest queued entries, at most `limit`.
pub(super) async fn queued(tx: &mut Tx, limit: usize) -> Result<Vec<(i64, String)>, Error> {
    const SQL: &str = "SELECT id, entry FROM audit_outbox ORDER BY id LIMIT $1";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(on_tx!(tx, conn => sqlx::query_as(SQL).bind(limit).fetch_all(&mut *conn).await?))
}

/// Writes a prepared batch, its signed checkpoint and the new tree state, and removes the
/// outbox rows it sequenced.
pub(super) async fn write(tx: &mut Tx, batch: &Prepared, note: &str) -> Result<(), Error> {
    const ENTRY: &str = "INSERT INTO audit_entries (idx, leaf, time, actor, action, object, outcome, outbox_id) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    const DEQUEUE: &str = "DELETE FROM audit_outbox WHERE id = $1";
    const PRIVATE: &str =
        "INSERT INTO audit_private (idx, tag, salt, value) VALUES ($1, $2, $3, $4)";
    const SEARCH: &str = "INSERT INTO audit_search (mac, idx, tag) VALUES ($1, $2, $3)";
    const CHECKPOINT: &str =
        "INSERT INTO audit_checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4)";
    const TREE: &str = "UPDATE audit_tree SET size = $1, root = $2 WHERE id = 1";
    on_tx!(tx, conn => {
        for Row { idx, outbox_id, leaf, time, actor, action, object, outcome } in &batch.rows {
            sqlx::query(ENTRY)
                .bind(idx)
                .bind(leaf)
                .bind(time)
                .bind(actor)
                .bind(action)
                .bind(object)
                .bind(*outcome)
                .bind(outbox_id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(DEQUEUE).bind(outbox_id).execute(&mut *conn).await?;
        }
        for PrivateRow { idx, tag, salt, value, mac } in &batch.private {
            sqlx::query(PRIVATE)
                .bind(idx)
                .bind(tag)
                .bind(salt.as_slice())
                .bind(value)
                .execute(&mut *conn)
                .await?;
            sqlx::query(SEARCH).bind(mac).bind(idx).bind(tag).execute(&mut *conn).await?;
        }
        let size = to_i64(batch.size)?;
        let root = batch.root.as_bytes().to_vec();
        sqlx::query(CHECKPOINT)
            .bind(size)
            .bind(&root)
            .bind(note)
            .bind(Utc::now())
            .execute(&mut *conn)
            .await?;
        sqlx::query(TREE).bind(size).bind(&root).execute(&mut *conn).await?;
    });
    Ok(())
}

/// The index an outbox row was sequenced at, once it was (by any instance).
pub(super) async fn sequenced_index(db: &Db, outbox_id: i64) -> Result<Option<u64>, Error> {
    const SQL: &str = "SELECT idx FROM audit_entries WHERE outbox_id = $1";
    let row: Option<(i64,)> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(outbox_id).fetch_optional(pool).await?);
    Ok(row.map(|(i,)| i as u64))
}

/// The latest signed checkpoint, if any.
pub(super) async fn latest_checkpoint(db: &Db) -> Result<Option<String>, Error> {
    let note: Option<(String,)> =
        on_pool!(db, pool => sqlx::query_as(LATEST).fetch_optional(pool).await?);
    Ok(note.map(|(n,)| n))
}

/// The leaf at `index`.
pub(super) async fn leaf(db: &Db, index: u64) -> Result<Option<Vec<u8>>, Error> {
    const SQL: &str = "SELECT leaf FROM audit_entries WHERE idx = $1";
    let row: Option<(Vec<u8>,)> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(to_i64(index)?).fetch_optional(pool).await?);
    Ok(row.map(|(l,)| l))
}

/// Up to `limit` entries from `from` on that match `filter`, stopping early once `max_bytes`
/// of leaves were read (at least one entry is always returned, so paging always moves on).
pub(super) async fn entries(
    db: &Db,
    from: u64,
    limit: u32,
    max_bytes: usize,
    filter: &Filter,
) -> Result<Vec<Stored>, Error> {
    const SQL: &str = "SELECT idx, leaf FROM audit_entries WHERE idx >= $1 \
         AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
         AND ($4 IS NULL OR object = $4) AND ($5 IS NULL OR outcome = $5) \
         AND ($6 IS NULL OR time >= $6) AND ($7 IS NULL OR time < $7) \
         ORDER BY idx LIMIT $8";
    let outcome = filter.outcome.map(OutcomeKind::as_str);
    let mut out = Vec::new();
    let mut bytes = 0usize;
    on_pool!(db, pool => {
        let mut rows = sqlx::query_as::<_, (i64, Vec<u8>)>(SQL)
            .bind(to_i64(from)?)
            .bind(filter.actor.as_deref())
            .bind(filter.action.as_deref())
            .bind(filter.object.as_deref())
            .bind(outcome)
            .bind(filter.since)
            .bind(filter.until)
            .bind(i64::from(limit))
            .fetch(pool);
        while let Some((index, leaf)) = rows.try_next().await? {
            bytes += leaf.len();
            out.push(Stored { index: index as u64, leaf });
            if bytes >= max_bytes {
                break;
            }
        }
    });
    Ok(out)
}

/// Indices whose personal data under `tag` has this search MAC.
pub(super) async fn search(db: &Db, tag: &str, mac: &[u8]) -> Result<Vec<u64>, Error> {
    const SQL: &str = "SELECT idx FROM audit_search WHERE mac = $1 AND tag = $2 ORDER BY idx";
    let rows: Vec<(i64,)> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(mac).bind(tag).fetch_all(pool).await?);
    Ok(rows.into_iter().map(|(i,)| i as u64).collect())
}

/// The personal data behind entry `index`'s commitments.
pub(super) async fn private(db: &Db, index: u64) -> Result<Vec<Private>, Error> {
    const SQL: &str =
        "SELECT tag, salt, value, erased_at FROM audit_private WHERE idx = $1 ORDER BY tag";
    type PrivateRow = (
        String,
        Option<Vec<u8>>,
        Option<String>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<PrivateRow> =
        on_pool!(db, pool => sqlx::query_as(SQL).bind(to_i64(index)?).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(tag, salt, value, erased_at)| {
            let salt = salt
                .map(|s| <[u8; 32]>::try_from(s.as_slice()))
                .transpose()
                .map_err(|_| {
                    Error::Inconsistent(format!("entry {index}: a stored salt is not 32 bytes"))
                })?;
            Ok(Private {
                tag,
                salt,
                value,
                erased_at,
            })
        })
        .collect()
}

/// Erases the salt and value under `tag` in entry `index`, and its search-index row, in the
/// caller's transaction. Returns false when there was nothing left to erase.
pub(super) async fn erase(tx: &mut Tx, index: u64, tag: &str) -> Result<bool, Error> {
    const ERASE: &str = "UPDATE audit_private SET salt = NULL, value = NULL, erased_at = $1 \
                         WHERE idx = $2 AND tag = $3 AND value IS NOT NULL";
    const UNINDEX: &str = "DELETE FROM audit_search WHERE idx = $1 AND tag = $2";
    let idx = to_i64(index)?;
    let erased = on_tx!(tx, conn => {
        let n = sqlx::query(ERASE).bind(Utc::now()).bind(idx).bind(tag).execute(&mut *conn).await?.rows_affected();
        sqlx::query(UNINDEX).bind(idx).bind(tag).execute(&mut *conn).await?;
        n
    });
    Ok(erased == 1)
}
