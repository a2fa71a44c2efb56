//! Persistence: the state in SQLite under the data directory. Each handled transaction's changed rows
//! and its record are written in one SQLite transaction before the submitter hears OK. WAL with
//! `synchronous=NORMAL`: a killed process loses nothing; a power cut may lose the last moments.

use std::path::{Path, PathBuf};

use hiero_sdk_proto::services as pb;
use prost::Message as _;
use rusqlite::{Connection, OptionalExtension as _, params};

use crate::ids::{Nanos, TxId};
use crate::state::{Dirty, NftMove, RECENT_WINDOW_NANOS, Record, State};

pub const DB_FILE: &str = "ledger.sqlite3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (num INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (num INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nfts (token INTEGER NOT NULL, serial INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (token, serial));
CREATE TABLE IF NOT EXISTS rels (account INTEGER NOT NULL, token INTEGER NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (account, token));
CREATE TABLE IF NOT EXISTS schedules (num INTEGER PRIMARY KEY, data TEXT NOT NULL);
-- Every handled transaction. consensus_ns is unique and strictly increasing.
CREATE TABLE IF NOT EXISTS transactions (
  consensus_ns TEXT PRIMARY KEY,          -- zero-padded decimal nanoseconds (i128 does not fit SQLite)
  txid TEXT NOT NULL,                     -- mirror form 0.0.P-S-N
  scheduled INTEGER NOT NULL,
  payer INTEGER NOT NULL,
  name TEXT NOT NULL,
  result TEXT NOT NULL,
  entity TEXT,
  record BLOB NOT NULL,                   -- TransactionRecord
  body BLOB,                              -- TransactionBody
  nft_moves TEXT NOT NULL                 -- JSON
);
CREATE INDEX IF NOT EXISTS transactions_txid ON transactions (txid);
CREATE INDEX IF NOT EXISTS transactions_name ON transactions (name, consensus_ns);
CREATE TABLE IF NOT EXISTS transaction_accounts (account INTEGER NOT NULL, consensus_ns TEXT NOT NULL,
  PRIMARY KEY (account, consensus_ns));
";

/// Consensus times as fixed-width text so they sort and compare as numbers.
pub fn ns_key(n: Nanos) -> String {
    format!("{n:020}")
}

/// What went wrong in the ledger database. Opaque: its message (and source) says what failed.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] Failure);

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("cannot open {}: {source}", .path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("a damaged row in the ledger database ({what}): {reason}")]
    Damaged { what: &'static str, reason: String },
    #[error("encoding a row: {0}")]
    Encode(#[source] serde_json::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(Failure::Sqlite(e))
    }
}

/// A row that does not decode: `what` names the row or column, `why` the decoder's complaint.
fn damaged(what: &'static str, why: impl std::fmt::Display) -> StoreError {
    StoreError(Failure::Damaged {
        what,
        reason: why.to_string(),
    })
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(Failure::Encode(e)))
}

#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

pub fn open_connection(dir: &Path) -> Result<Connection, StoreError> {
    let path = dir.join(DB_FILE);
    let conn = Connection::open(&path).map_err(|source| Failure::Open { path, source })?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

impl Store {
    /// Opens (creating if need be) the database in `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let conn = open_connection(dir)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))?;
        Ok(n == 0)
    }

    /// Reads the whole state, plus the records of the last three minutes (receipts, duplicates).
    pub fn load(&self, now: Nanos) -> Result<State, StoreError> {
        let mut state = State::default();
        for a in self.rows::<crate::state::Account>("SELECT data FROM accounts")? {
            state.accounts.insert(a.num, a);
        }
        for t in self.rows::<crate::state::Token>("SELECT data FROM tokens")? {
            state.tokens.insert(t.num, t);
        }
        for n in self.rows::<crate::state::Nft>("SELECT data FROM nfts")? {
            state.nfts.insert((n.token, n.serial), n);
        }
        for r in self.rows::<crate::state::Rel>("SELECT data FROM rels")? {
            state.rels.insert((r.account, r.token), r);
        }
        for s in self.rows::<crate::state::Schedule>("SELECT data FROM schedules")? {
            state.schedules.insert(s.num, s);
        }
        state.next_num = self
            .meta("next_num")?
            .map_or(Ok(1001), |v| v.parse())
            .map_err(|e| damaged("meta next_num", e))?;
        state.last_consensus = self
            .meta("last_consensus")?
            .map_or(Ok(0), |v| v.parse())
            .map_err(|e| damaged("meta last_consensus", e))?;
        let since = ns_key(now - RECENT_WINDOW_NANOS);
        let mut stmt = self.conn.prepare(
            "SELECT consensus_ns, record, body, name, entity, nft_moves FROM transactions WHERE consensus_ns >= ?1 ORDER BY consensus_ns",
        )?;
        let rows = stmt.query_map([since], row_to_record)?;
        for r in rows {
            state.restore_recent(r??);
        }
        Ok(state)
    }

    fn rows<T: serde::de::DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|r| serde_json::from_str(&r?).map_err(|e| damaged("state row", e)))
            .collect()
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes the changed rows and new records in one transaction.
    pub fn write(&mut self, state: &State, dirty: Dirty) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut put =
                tx.prepare_cached("INSERT OR REPLACE INTO accounts (num, data) VALUES (?1, ?2)")?;
            for n in &dirty.accounts {
                if let Some(a) = state.accounts.get(n) {
                    put.execute(params![*n as i64, json(a)?])?;
                }
            }
            let mut put =
                tx.prepare_cached("INSERT OR REPLACE INTO tokens (num, data) VALUES (?1, ?2)")?;
            for n in &dirty.tokens {
                if let Some(t) = state.tokens.get(n) {
                    put.execute(params![*n as i64, json(t)?])?;
                }
            }
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO nfts (token, serial, data) VALUES (?1, ?2, ?3)",
            )?;
            for k in &dirty.nfts {
                if let Some(n) = state.nfts.get(k) {
                    put.execute(params![k.0 as i64, k.1, json(n)?])?;
                }
            }
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO rels (account, token, data) VALUES (?1, ?2, ?3)",
            )?;
            for k in &dirty.rels {
                if let Some(r) = state.rels.get(k) {
                    put.execute(params![k.0 as i64, k.1 as i64, json(r)?])?;
                }
            }
            let mut put =
                tx.prepare_cached("INSERT OR REPLACE INTO schedules (num, data) VALUES (?1, ?2)")?;
            for n in &dirty.schedules {
                if let Some(s) = state.schedules.get(n) {
                    put.execute(params![*n as i64, json(s)?])?;
                }
            }
            let mut put = tx.prepare_cached(
                "INSERT INTO transactions (consensus_ns, txid, scheduled, payer, name, result, entity, record, body, nft_moves)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut touch = tx.prepare_cached("INSERT OR IGNORE INTO transaction_accounts (account, consensus_ns) VALUES (?1, ?2)")?;
            for r in &dirty.records {
                let key = ns_key(r.consensus);
                put.execute(params![
                    key,
                    r.txid.mirror(),
                    r.txid.scheduled,
                    r.txid.payer as i64,
                    r.name,
                    result_name(r.status()),
                    r.entity,
                    r.record.encode_to_vec(),
                    r.body.as_ref().map(prost::Message::encode_to_vec),
                    json(&r.nft_transfers)?,
                ])?;
                for a in r.accounts() {
                    touch.execute(params![a as i64, key])?;
                }
            }
            let mut meta =
                tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
            meta.execute(params!["next_num", state.next_num.to_string()])?;
            meta.execute(params!["last_consensus", state.last_consensus.to_string()])?;
        }
        tx.commit()?;
        Ok(())
    }
}

pub fn result_name(code: i32) -> &'static str {
    pb::ResponseCodeEnum::try_from(code).map_or("UNKNOWN", |c| c.as_str_name())
}

/// Reads a `transactions` row selected as (consensus_ns, record, body, name, entity, nft_moves).
pub fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Record, StoreError>> {
    let consensus: String = row.get(0)?;
    let record: Vec<u8> = row.get(1)?;
    let body: Option<Vec<u8>> = row.get(2)?;
    let name: String = row.get(3)?;
    let entity: Option<String> = row.get(4)?;
    let moves: String = row.get(5)?;
    Ok((|| {
        let record = pb::TransactionRecord::decode(record.as_slice())
            .map_err(|e| damaged("transaction record", e))?;
        let txid = record
            .transaction_id
            .as_ref()
            .and_then(TxId::from_proto)
            .ok_or_else(|| damaged("transaction record", "no transaction id"))?;
        let nft_transfers: Vec<NftMove> =
            serde_json::from_str(&moves).map_err(|e| damaged("transaction nft_moves", e))?;
        Ok(Record {
            txid,
            consensus: consensus
                .parse()
                .map_err(|e| damaged("transaction consensus_ns", e))?,
            record,
            name: crate::handlers::MIRROR_NAMES
                .iter()
                .find(|n| **n == name)
                .copied()
                .unwrap_or("UNKNOWN"),
            entity,
            body: body
                .map(|b| pb::TransactionBody::decode(b.as_slice()))
                .transpose()
                .map_err(|e| damaged("transaction body", e))?,
            nft_transfers,
        })
    })())
}
