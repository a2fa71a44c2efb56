//! The server's audit log: every state change and every refusal is appended to an
//! RFC 6962 Merkle log (invariant 4), and the action fails if its entry cannot be
//! written (fail closed).
//!
//! One sequencer task per process takes entries from a queue and commits them in
//! batches (group commit: whatever queued while the previous batch was committing).
//! Each batch holds the writer lock on the `audit_tree` row (`BEGIN IMMEDIATE` on
//! SQLite, `SELECT ... FOR UPDATE` on PostgreSQL), takes its indices from the
//! stored tree size (never a sequence: no gaps), catches up with entries other
//! instances appended, checks the stored root against its own, writes the
//! entries, signs a checkpoint that extends the last one, and commits. The
//! in-memory tree only learns the new leaves after the commit succeeded.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::{Checkpoint, LogKey};
use gatehouse_audit::leaf::{self, Details, Leaf, Outcome, OutcomeKind, Timestamp};
use gatehouse_audit::proof::{ConsistencyProof, InclusionProof};
use gatehouse_audit::tree::{HashSource, Tree};
use gatehouse_protocol::Fingerprint;
use tokio::sync::{Mutex, mpsc, oneshot};
use zeroize::Zeroizing;

use crate::db::{Db, on_pool};

/// Most entries committed in one batch.
pub const MAX_BATCH: usize = 256;

/// Audit failure. Any of these makes the audited action fail.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed.
    #[error("the audit log could not be written: {0}")]
    Storage(String),
    /// The stored tree does not match the entries: someone edited or truncated the log.
    #[error(
        "the audit log is inconsistent: {0}; the server refuses to append until an administrator investigates"
    )]
    Inconsistent(String),
    /// The entry is malformed (too large, bad details).
    #[error("the audit entry is invalid: {0}")]
    Invalid(String),
    /// The sequencer is gone (the server is shutting down).
    #[error("the audit log is closed")]
    Closed,
    /// A requested index or size is outside the log.
    #[error("{0}")]
    OutOfRange(String),
    /// The log key file is missing or unreadable.
    #[error("the audit log key cannot be used: {0}")]
    Key(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

/// Who did (or tried) something.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Registered name, or `"unregistered"` for a refused stranger.
    pub name: String,
    /// Their client certificate's fingerprint.
    pub fingerprint: Fingerprint,
}

/// What to record.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Who.
    pub actor: Actor,
    /// What kind of action, e.g. `identity.refused`, `registry.disable`.
    pub action: String,
    /// What it acted on.
    pub object: String,
    /// How it ended.
    pub outcome: OutcomeKind,
    /// A machine-readable reason.
    pub code: Option<String>,
    /// The request id.
    pub request_id: String,
    /// Structured details. No personal data here: that goes in `personal`.
    pub details: serde_json::Value,
    /// Personal data (tag, value), e.g. ("client-ip", "192.0.2.7"): the leaf holds only a salted
    /// commitment; salt and value stay in the database, erasable without breaking proofs.
    pub personal: Vec<(String, String)>,
}

/// Which entries a query wants; every unset field matches everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Actor name.
    pub actor: Option<String>,
    /// Action, e.g. `identity.refused`.
    pub action: Option<String>,
    /// Object, e.g. `certificate:<hex>`.
    pub object: Option<String>,
    /// Outcome.
    pub outcome: Option<OutcomeKind>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
}

/// The personal data behind one commitment, as stored.
#[derive(Debug, Clone)]
pub struct Private {
    /// The commitment's tag.
    pub tag: String,
    /// The salt, unless erased.
    pub salt: Option<[u8; 32]>,
    /// The value, unless erased.
    pub value: Option<String>,
    /// When it was erased.
    pub erased_at: Option<DateTime<Utc>>,
}

/// A stored entry with its canonical leaf.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Index in the log.
    pub index: u64,
    /// The canonical leaf bytes.
    pub leaf: Vec<u8>,
}

/// The audit log of this deployment.
#[derive(Debug, Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    db: Db,
    tree: Mutex<Tree>,
    key: LogKey,
    /// HMAC key of the search index, derived from the log key with its own label.
    index_key: Zeroizing<[u8; 32]>,
}

struct Pending {
    entry: Entry,
    done: oneshot::Sender<Result<u64, Error>>,
}

impl AuditLog {
    /// Loads the stored tree (refusing to start if it does not match its recorded root) and
    /// starts the sequencer.
    pub async fn open(db: Db, key: LogKey) -> Result<Self, Error> {
        let mut tree = Tree::new();
        load_tree(&db, &mut tree).await?;
        // A different key would make one log signed by two keys, which every reader rejects.
        const LATEST: &str = "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1";
        let latest: Option<(String,)> =
            on_pool!(&db, pool => sqlx::query_as(LATEST).fetch_optional(pool).await?);
        if let Some((note,)) = latest
            && key.verifier().verify(&note).is_err()
        {
            return Err(Error::Key(
                "this log's checkpoints were signed by another key: restore the original log key \
                 (a new key needs a new log)"
                    .to_owned(),
            ));
        }
        let index_key = {
            use sha2::{Digest, Sha256};
            let mut hasher = Sha256::new();
            hasher.update(b"gatehouse/audit-index/v1\0");
            hasher.update(key.secret_bytes().as_slice());
            Zeroizing::new(<[u8; 32]>::from(hasher.finalize()))
        };
        let shared = Arc::new(Shared {
            db,
            tree: Mutex::new(tree),
            key,
            index_key,
        });
        let (queue, incoming) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(sequence(shared.clone(), incoming));
        Ok(Self { queue, shared })
    }

    /// Appends an entry and waits until it is committed; returns its index.
    pub async fn append(&self, entry: Entry) -> Result<u64, Error> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending { entry, done })
            .await
            .map_err(|_| Error::Closed)?;
        committed.await.map_err(|_| Error::Closed)?
    }

    /// The latest signed checkpoint (a signed note), if anything was ever logged.
    pub async fn checkpoint(&self) -> Result<Option<String>, Error> {
        const SQL: &str = "SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1";
        let note: Option<(String,)> =
            on_pool!(&self.shared.db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?);
        Ok(note.map(|(n,)| n))
    }

    /// The log's verifier key in the standard `name+id+key` form.
    pub fn verifier(&self) -> String {
        self.shared.key.verifier().to_string()
    }

    /// Entry `index` and its inclusion proof in the tree of `tree_size` leaves.
    pub async fn entry(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<(Stored, InclusionProof), Error> {
        self.sync_to(tree_size).await?;
        let proof = {
            let tree = self.shared.tree.lock().await;
            tree.inclusion_proof(index, tree_size)
                .map_err(|e| Error::OutOfRange(e.to_string()))?
        };
        const SQL: &str = "SELECT leaf FROM audit_entries WHERE idx = $1";
        let row: Option<(Vec<u8>,)> = on_pool!(&self.shared.db, pool => sqlx::query_as(SQL).bind(to_i64(index)?).fetch_optional(pool).await?);
        let (leaf,) = row.ok_or_else(|| Error::OutOfRange(format!("no entry {index}")))?;
        Ok((Stored { index, leaf }, proof))
    }

    /// A proof that the tree of `old_size` leaves is a prefix of the tree of `new_size`.
    pub async fn consistency(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, Error> {
        self.sync_to(new_size).await?;
        let tree = self.shared.tree.lock().await;
        tree.consistency_proof(old_size, new_size)
            .map_err(|e| Error::OutOfRange(e.to_string()))
    }

    /// Up to `limit` entries from index `from` on, in index order, that match `filter`.
    /// Page with `from` = last index returned + 1.
    pub async fn entries(
        &self,
        from: u64,
        limit: u32,
        filter: &Filter,
    ) -> Result<Vec<Stored>, Error> {
        const SQL: &str = "SELECT idx, leaf FROM audit_entries WHERE idx >= $1 \
             AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) \
             AND ($4 IS NULL OR object = $4) AND ($5 IS NULL OR outcome = $5) \
             AND ($6 IS NULL OR time >= $6) AND ($7 IS NULL OR time < $7) \
             ORDER BY idx LIMIT $8";
        let outcome = filter.outcome.map(OutcomeKind::as_str);
        let rows: Vec<(i64, Vec<u8>)> = on_pool!(&self.shared.db, pool => {
            sqlx::query_as(SQL)
                .bind(to_i64(from)?)
                .bind(filter.actor.as_deref())
                .bind(filter.action.as_deref())
                .bind(filter.object.as_deref())
                .bind(outcome)
                .bind(filter.since)
                .bind(filter.until)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(i, leaf)| Stored {
                index: i as u64,
                leaf,
            })
            .collect())
    }

    /// Indices of entries with personal data `value` under `tag`, found through the HMAC index.
    pub async fn search(&self, tag: &str, value: &str) -> Result<Vec<u64>, Error> {
        const SQL: &str = "SELECT idx FROM audit_search WHERE mac = $1 AND tag = $2 ORDER BY idx";
        let mac = search_mac(&self.shared.index_key, tag, value);
        let rows: Vec<(i64,)> = on_pool!(&self.shared.db, pool => sqlx::query_as(SQL).bind(mac).bind(tag).fetch_all(pool).await?);
        Ok(rows.into_iter().map(|(i,)| i as u64).collect())
    }

    /// The personal data behind entry `index`'s commitments.
    pub async fn private(&self, index: u64) -> Result<Vec<Private>, Error> {
        const SQL: &str =
            "SELECT tag, salt, value, erased_at FROM audit_private WHERE idx = $1 ORDER BY tag";
        type Row = (
            String,
            Option<Vec<u8>>,
            Option<String>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = on_pool!(&self.shared.db, pool => sqlx::query_as(SQL).bind(to_i64(index)?).fetch_all(pool).await?);
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

    /// Erases the personal data under `tag` in entry `index`. The erasure is itself an entry,
    /// appended first: if it cannot be logged, nothing is erased (fail closed). The leaf keeps
    /// its commitment, so every proof stays valid.
    pub async fn erase(
        &self,
        index: u64,
        tag: &str,
        actor: Actor,
        request_id: String,
    ) -> Result<u64, Error> {
        let existing = self.private(index).await?;
        if !existing.iter().any(|p| p.tag == tag && p.value.is_some()) {
            return Err(Error::OutOfRange(format!(
                "entry {index} holds no unerased personal data tagged {tag:?}"
            )));
        }
        let logged = self
            .append(Entry {
                actor,
                action: "audit.erase".to_owned(),
                object: format!("audit-entry:{index}"),
                outcome: OutcomeKind::Success,
                code: None,
                request_id,
                details: serde_json::json!({ "index": index, "tag": tag }),
                personal: Vec::new(),
            })
            .await?;
        const ERASE: &str = "UPDATE audit_private SET salt = NULL, value = NULL, erased_at = $1 WHERE idx = $2 AND tag = $3";
        const UNINDEX: &str = "DELETE FROM audit_search WHERE idx = $1 AND tag = $2";
        let idx = to_i64(index)?;
        on_pool!(&self.shared.db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(ERASE).bind(Utc::now()).bind(idx).bind(tag).execute(&mut *tx).await?;
            sqlx::query(UNINDEX).bind(idx).bind(tag).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(logged)
    }

    /// The database this log writes to.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// Brings the in-memory tree up to what other instances committed, when a request asks
    /// for a size beyond what this instance holds (reads within it touch no database).
    async fn sync_to(&self, size: u64) -> Result<(), Error> {
        let mut tree = self.shared.tree.lock().await;
        if size <= tree.size() {
            return Ok(());
        }
        load_tree(&self.shared.db, &mut tree).await.map(drop)
    }
}

/// Reads every stored leaf hash beyond what `tree` holds; returns the stored (size, root).
async fn load_tree(db: &Db, tree: &mut Tree) -> Result<(u64, Hash), Error> {
    const STATE: &str = "SELECT size, root FROM audit_tree WHERE id = 1";
    const LEAVES: &str = "SELECT idx, leaf FROM audit_entries WHERE idx >= $1 ORDER BY idx";
    let (size, root): (i64, Vec<u8>) =
        on_pool!(db, pool => sqlx::query_as(STATE).fetch_one(pool).await?);
    let rows: Vec<(i64, Vec<u8>)> = on_pool!(db, pool => sqlx::query_as(LEAVES).bind(to_i64(tree.size())?).fetch_all(pool).await?);
    // Another instance may append between the two reads: only check what both reads cover.
    let rows = rows.into_iter().filter(|(idx, _)| *idx < size).collect();
    catch_up(tree, rows, size as u64, &root)?;
    let root = Hash::try_from(root.as_slice()).map_err(|e| Error::Inconsistent(e.to_string()))?;
    Ok((size as u64, root))
}

async fn sequence(shared: Arc<Shared>, mut incoming: mpsc::Receiver<Pending>) {
    while let Some(first) = incoming.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match incoming.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let entries: Vec<&Entry> = batch.iter().map(|p| &p.entry).collect();
        match commit(&shared, &entries).await {
            Ok(first_index) => {
                for (offset, pending) in batch.into_iter().enumerate() {
                    let _ = pending.done.send(Ok(first_index + offset as u64));
                }
            }
            Err(error) => {
                tracing::error!(%error, entries = batch.len(), "audit batch failed: its actions are refused");
                for pending in batch {
                    let _ = pending.done.send(Err(error.clone()));
                }
            }
        }
    }
}

/// One `audit_entries` row: the canonical leaf and the query columns it repeats.
struct Row {
    idx: i64,
    leaf: Vec<u8>,
    time: DateTime<Utc>,
    actor: String,
    action: String,
    object: String,
    outcome: &'static str,
}

/// One `audit_private` row and its search-index MAC.
struct PrivateRow {
    idx: i64,
    tag: String,
    salt: [u8; 32],
    value: String,
    mac: Vec<u8>,
}

/// A batch ready to write: canonical leaves, their hashes and the checkpoint that covers them.
struct Prepared {
    first: u64,
    rows: Vec<Row>,
    private: Vec<PrivateRow>,
    hashes: Vec<Hash>,
    size: u64,
    root: Hash,
    note: String,
}

/// Builds the batch's leaves on top of `tree`, which must equal the stored tree.
fn prepare(shared: &Shared, tree: &Tree, entries: &[&Entry]) -> Result<Prepared, Error> {
    let key = &shared.key;
    let first = tree.size();
    let mut frontier = tree.frontier();
    let mut private = Vec::new();
    let mut rows = Vec::with_capacity(entries.len());
    let mut hashes = Vec::with_capacity(entries.len());
    for (offset, entry) in entries.iter().enumerate() {
        let index = first + offset as u64;
        let time = Timestamp::now();
        let mut commitments = std::collections::BTreeMap::new();
        for (tag, value) in &entry.personal {
            let parsed = leaf::Tag::new(tag).map_err(|e| Error::Invalid(e.to_string()))?;
            let (commitment, salt) =
                leaf::Commitment::new(&parsed, value.as_bytes(), &mut rand_core::OsRng);
            commitments.insert(parsed, commitment);
            let mac = search_mac(&shared.index_key, tag, value);
            private.push(PrivateRow {
                idx: to_i64(index)?,
                tag: tag.clone(),
                salt: *salt.as_bytes(),
                value: value.clone(),
                mac,
            });
        }
        let leaf = Leaf {
            index,
            time,
            actor: leaf::Actor {
                name: entry.actor.name.clone(),
                cert_fingerprint: *entry.actor.fingerprint.as_bytes(),
            },
            action: entry.action.clone(),
            object: entry.object.clone(),
            outcome: Outcome {
                kind: entry.outcome,
                code: entry.code.clone(),
            },
            request_id: entry.request_id.clone(),
            details: Details::new(&entry.details).map_err(|e| Error::Invalid(e.to_string()))?,
            commitments,
        };
        let bytes = leaf.encode().map_err(|e| Error::Invalid(e.to_string()))?;
        let hash = Hash::leaf(&bytes);
        frontier.push(hash);
        hashes.push(hash);
        rows.push(Row {
            idx: to_i64(index)?,
            leaf: bytes,
            time: time.to_datetime(),
            actor: entry.actor.name.clone(),
            action: entry.action.clone(),
            object: entry.object.clone(),
            outcome: entry.outcome.as_str(),
        });
    }
    let size = frontier.size();
    let root = frontier.root();
    // The new checkpoint extends the last signed one by construction: `tree` was checked
    // against the stored root of the last checkpoint before any leaf was added on top.
    let checkpoint =
        Checkpoint::new(key.name(), size, root).map_err(|e| Error::Invalid(e.to_string()))?;
    let note = key
        .sign(&checkpoint)
        .map_err(|e| Error::Key(e.to_string()))?
        .note()
        .to_owned();
    Ok(Prepared {
        first,
        rows,
        private,
        hashes,
        size,
        root,
        note,
    })
}

/// Hashes stored leaves beyond what `tree` holds into it and checks the stored root, so an
/// edited, removed or reordered row is caught before anything is appended on top of it.
fn catch_up(
    tree: &mut Tree,
    rows: Vec<(i64, Vec<u8>)>,
    size: u64,
    root: &[u8],
) -> Result<(), Error> {
    for (idx, leaf) in rows {
        if idx as u64 != tree.size() {
            return Err(Error::Inconsistent(format!(
                "entry {} is missing",
                tree.size()
            )));
        }
        tree.append(&leaf);
    }
    if tree.size() != size {
        return Err(Error::Inconsistent(format!(
            "the log says it holds {size} entries but {} were seen (truncated or rewritten)",
            tree.size()
        )));
    }
    let stored = Hash::try_from(root).map_err(|e| Error::Inconsistent(e.to_string()))?;
    if tree.current_root() != stored {
        return Err(Error::Inconsistent(format!(
            "the stored root for size {size} does not match its entries"
        )));
    }
    Ok(())
}

/// The body of a batch commit, identical on both backends but for the lock statement.
macro_rules! commit_in {
    ($tx:ident, $lock:expr, $shared:expr, $tree:expr, $entries:expr) => {{
        let (size, root): (i64, Vec<u8>) = sqlx::query_as($lock).fetch_one(&mut *$tx).await?;
        let size = size as u64;
        if $tree.size() > size {
            return Err(Error::Inconsistent(format!(
                "the log shrank from {} to {size} entries",
                $tree.size()
            )));
        }
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT idx, leaf FROM audit_entries WHERE idx >= $1 ORDER BY idx")
                .bind(to_i64($tree.size())?)
                .fetch_all(&mut *$tx)
                .await?;
        catch_up(&mut $tree, rows, size, &root)?;
        let batch = prepare($shared, &$tree, $entries)?;
        for Row {
            idx,
            leaf,
            time,
            actor,
            action,
            object,
            outcome,
        } in &batch.rows
        {
            sqlx::query(
                "INSERT INTO audit_entries (idx, leaf, time, actor, action, object, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(idx)
            .bind(leaf)
            .bind(time)
            .bind(actor)
            .bind(action)
            .bind(object)
            .bind(*outcome)
            .execute(&mut *$tx)
            .await?;
        }
        for PrivateRow {
            idx,
            tag,
            salt,
            value,
            mac,
        } in &batch.private
        {
            sqlx::query(
                "INSERT INTO audit_private (idx, tag, salt, value) VALUES ($1, $2, $3, $4)",
            )
            .bind(idx)
            .bind(tag)
            .bind(salt.as_slice())
            .bind(value)
            .execute(&mut *$tx)
            .await?;
            sqlx::query("INSERT INTO audit_search (mac, idx, tag) VALUES ($1, $2, $3)")
                .bind(mac)
                .bind(idx)
                .bind(tag)
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO audit_checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(to_i64(batch.size)?)
        .bind(batch.root.as_bytes().to_vec())
        .bind(&batch.note)
        .bind(Utc::now())
        .execute(&mut *$tx)
        .await?;
        sqlx::query("UPDATE audit_tree SET size = $1, root = $2 WHERE id = 1")
            .bind(to_i64(batch.size)?)
            .bind(batch.root.as_bytes().to_vec())
            .execute(&mut *$tx)
            .await?;
        $tx.commit().await?;
        for hash in batch.hashes {
            $tree.push(hash);
        }
        Ok(batch.first)
    }};
}

/// One batch, all or nothing. Returns the index of the first entry.
async fn commit(shared: &Shared, entries: &[&Entry]) -> Result<u64, Error> {
    let mut tree = shared.tree.lock().await;
    match &shared.db {
        Db::Sqlite(pool) => {
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            commit_in!(
                tx,
                "SELECT size, root FROM audit_tree WHERE id = 1",
                shared,
                tree,
                entries
            )
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            commit_in!(
                tx,
                "SELECT size, root FROM audit_tree WHERE id = 1 FOR UPDATE",
                shared,
                tree,
                entries
            )
        }
    }
}

/// Reads the log key from `path` (hex of the 32-byte Ed25519 secret), named `origin`.
pub fn load_key(path: &Path, origin: &str) -> Result<LogKey, Error> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?,
    );
    let mut secret = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), secret.as_mut_slice())
        .map_err(|e| Error::Key(format!("{}: not a 32-byte hex key ({e})", path.display())))?;
    LogKey::from_secret_bytes(origin, &secret).map_err(|e| Error::Key(e.to_string()))
}

/// A new log key's secret, hex (for writing a 0600 key file).
pub fn generate_key_hex() -> Zeroizing<String> {
    let mut secret = Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, secret.as_mut_slice());
    Zeroizing::new(hex::encode(secret.as_slice()))
}

/// HMAC-SHA-256(index key, tag || 0x00 || value): finds entries by a personal value
/// without storing the value anywhere it cannot be erased from.
fn search_mac(key: &[u8; 32], tag: &str, value: &str) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(tag.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn to_i64(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::OutOfRange(format!("{n} is beyond the log's range")))
}
