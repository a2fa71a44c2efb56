//! The running audit log: recording entries in the caller's transaction, the sequencer that
//! moves them from the outbox into the Merkle log, and reads.
//!
//! One sequencer task per process drains the outbox in batches (group commit: whatever was
//! queued while the previous batch was committing). Each batch holds the writer lock on the
//! `audit_tree` row (`BEGIN IMMEDIATE` on SQLite, `SELECT ... FOR UPDATE` on PostgreSQL), takes
//! its indices from the stored tree size (never a sequence: no gaps), catches up with entries
//! other instances appended and checks them against the log's signature, writes the entries,
//! signs a checkpoint that extends the last one, and commits. The in-memory tree only learns the
//! new leaves after the commit succeeded. Several instances on one PostgreSQL each run a
//! sequencer; whichever holds the lock drains every instance's rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};
use std::time::Duration;

use gatehouse_audit::checkpoint::{Checkpoint, LogKey};
use gatehouse_audit::proof::{ConsistencyProof, InclusionProof};
use gatehouse_audit::tree::{HashSource as _, Tree};
use tokio::sync::{Mutex, Notify, oneshot, watch};
use tokio::task::JoinSet;

use super::{
    Actor, Entry, Error, Filter, HighWater, IndexKey, MAX_BATCH, Private, Stored, prepare, store,
};
use crate::store::{Db, Tx};

/// How long [`AuditLog::sequenced`] waits before saying the entry is still queued.
const SEQUENCE_WAIT: Duration = Duration::from_secs(15);
/// How often a waiter looks in the database (rows another instance sequenced) and the
/// sequencer looks for rows nobody woke it for (queued before a crash, or by another instance
/// that stopped).
const POLL: Duration = Duration::from_millis(250);
/// The PostgreSQL channel a sequencer notifies after each batch, so the other instances' waiters
/// look for their rows at once instead of at the next poll.
pub const SEQUENCED_CHANNEL: &str = "gatehouse_audit_sequenced";

/// The audit log of this deployment.
#[derive(Debug, Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    db: Db,
    tree: Mutex<Tree>,
    key: LogKey,
    index_key: IndexKey,
    high_water: HighWater,
    /// Wakes the sequencer.
    wake: Notify,
    /// Waiting recorders by outbox id.
    waiters: SyncMutex<HashMap<i64, oneshot::Sender<u64>>>,
    /// Bumped after every sequencer attempt, so waiters look again.
    attempts: watch::Sender<u64>,
    /// Another instance's sequencer committed a batch: waiters look in the database.
    elsewhere: Notify,
    /// Set when the log was found inconsistent: nothing more is recorded until an
    /// administrator investigates and restarts the server.
    broken: SyncMutex<Option<Error>>,
    /// Set to stop the sequencer.
    closed: watch::Sender<bool>,
}

/// An entry queued in a transaction that has not been sequenced yet. Pass it to
/// [`AuditLog::sequenced`] after the transaction commits.
#[derive(Debug)]
pub struct Recorded {
    outbox_id: i64,
    done: Option<oneshot::Receiver<u64>>,
    shared: Arc<Shared>,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        self.shared
            .waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.outbox_id);
    }
}

impl AuditLog {
    /// Loads the stored log, checking it against its signed checkpoints and the high-water
    /// mark (refusing to start if it does not match), and starts the sequencer in `tasks`.
    pub async fn open(
        db: Db,
        key: LogKey,
        high_water: HighWater,
        tasks: &mut JoinSet<()>,
    ) -> Result<Self, Error> {
        let mut tree = Tree::new();
        // A different key would make one log signed by two keys, which every reader rejects.
        if let Some(note) = store::latest_checkpoint(&db).await?
            && key.verifier().verify(&note).is_err()
        {
            return Err(Error::Key(
                "this log's checkpoints were signed by another key: restore the original log key \
                 (a new key needs a new log)"
                    .to_owned(),
            ));
        }
        let size = store::load(&db, &mut tree, &key.verifier()).await?;
        high_water.check(size)?;
        high_water.raise(size)?;
        let index_key = IndexKey::derive(&key.secret_bytes());
        let shared = Arc::new(Shared {
            db,
            tree: Mutex::new(tree),
            key,
            index_key,
            high_water,
            wake: Notify::new(),
            waiters: SyncMutex::new(HashMap::new()),
            attempts: watch::Sender::new(0),
            elsewhere: Notify::new(),
            broken: SyncMutex::new(None),
            closed: watch::Sender::new(false),
        });
        tasks.spawn(sequence(shared.clone()));
        Ok(Self { shared })
    }

    /// Queues `entry` in the caller's transaction: it becomes part of the log if and only if
    /// the transaction commits. Refused (and so is the change, which must then roll back) while
    /// the log is known to be inconsistent, or when the entry is malformed.
    pub async fn record(&self, tx: &mut Tx, entry: Entry) -> Result<Recorded, Error> {
        if let Some(broken) = self.broken() {
            return Err(broken);
        }
        let entry = entry.checked()?;
        let json =
            serde_json::to_string(&entry.to_queued()).map_err(|e| Error::Invalid(e.to_string()))?;
        let outbox_id = store::enqueue(tx, &json).await?;
        let (done, receiver) = oneshot::channel();
        self.shared
            .waiters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(outbox_id, done);
        Ok(Recorded {
            outbox_id,
            done: Some(receiver),
            shared: self.shared.clone(),
        })
    }

    /// Waits until a recorded (and committed) entry is in the Merkle log; returns its index.
    /// An error here does not undo the change: its entry stays queued and is sequenced when
    /// the log can take it.
    pub async fn sequenced(&self, mut recorded: Recorded) -> Result<u64, Error> {
        self.shared.wake.notify_one();
        let mut attempts = self.shared.attempts.subscribe();
        let mut done = recorded.done.take().ok_or(Error::Closed)?;
        let deadline = tokio::time::Instant::now() + SEQUENCE_WAIT;
        let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + POLL, POLL);
        loop {
            tokio::select! {
                // The sender stays in the waiter map while `recorded` lives: only the sequencer
                // of this process answers it.
                index = &mut done => return index.map_err(|_| Error::Closed),
                _ = attempts.changed() => {
                    if let Some(broken) = self.broken() {
                        return Err(broken);
                    }
                    if *self.shared.closed.borrow() {
                        return Err(Error::Closed);
                    }
                    continue;
                }
                _ = poll.tick() => {}
                () = self.shared.elsewhere.notified() => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(Error::Storage(format!(
                        "entry {} is queued but not in the log yet; it will be logged when the log can take it",
                        recorded.outbox_id
                    )));
                }
            }
            // Only on the poll or a notice: a row another instance's sequencer took.
            if let Some(index) = store::sequenced_index(&self.shared.db, recorded.outbox_id).await?
            {
                return Ok(index);
            }
        }
    }

    /// Another instance's sequencer committed a batch (its PostgreSQL notice): waiting recorders
    /// look whether it took their rows.
    pub fn sequenced_elsewhere(&self) {
        self.shared.elsewhere.notify_waiters();
    }

    /// Appends an entry on its own (a refusal, a read) and waits until it is in the log.
    pub async fn append(&self, entry: Entry) -> Result<u64, Error> {
        let mut tx = self.shared.db.begin().await?;
        let recorded = self.record(&mut tx, entry).await?;
        tx.commit().await?;
        self.sequenced(recorded).await
    }

    /// Appends several entries in one transaction; returns their indices.
    pub async fn append_all(&self, entries: Vec<Entry>) -> Result<Vec<u64>, Error> {
        let mut tx = self.shared.db.begin().await?;
        let mut recorded = Vec::with_capacity(entries.len());
        for entry in entries {
            recorded.push(self.record(&mut tx, entry).await?);
        }
        tx.commit().await?;
        let mut indices = Vec::with_capacity(recorded.len());
        for r in recorded {
            indices.push(self.sequenced(r).await?);
        }
        Ok(indices)
    }

    /// Stops the sequencer after it drains what is queued (the task ends in its `JoinSet`).
    pub fn close(&self) {
        self.shared.closed.send_replace(true);
        self.shared.wake.notify_one();
    }

    /// The latest signed checkpoint (a signed note), if anything was ever logged.
    pub async fn checkpoint(&self) -> Result<Option<String>, Error> {
        store::latest_checkpoint(&self.shared.db).await
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
        let leaf = store::leaf(&self.shared.db, index)
            .await?
            .ok_or_else(|| Error::OutOfRange(format!("no entry {index}")))?;
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

    /// Up to `limit` entries from index `from` on, in index order, that match `filter`, and
    /// no more than about `max_bytes` of leaves. Page with `from` = last index returned + 1.
    pub async fn entries(
        &self,
        from: u64,
        limit: u32,
        max_bytes: usize,
        filter: &Filter,
    ) -> Result<Vec<Stored>, Error> {
        store::entries(&self.shared.db, from, limit, max_bytes, filter).await
    }

    /// Indices of entries with personal data `value` under `tag`, found through the HMAC index.
    pub async fn search(&self, tag: &str, value: &str) -> Result<Vec<u64>, Error> {
        store::search(&self.shared.db, tag, &self.shared.index_key.mac(tag, value)).await
    }

    /// The personal data behind entry `index`'s commitments.
    pub async fn private(&self, index: u64) -> Result<Vec<Private>, Error> {
        store::private(&self.shared.db, index).await
    }

    /// Erases the personal data under `tag` in entry `index`. The erasure and its entry commit
    /// together; if the entry cannot be recorded, nothing is erased (fail closed). The leaf keeps
    /// its commitment, so every proof stays valid.
    pub async fn erase(
        &self,
        index: u64,
        tag: &str,
        actor: Actor,
        request_id: String,
    ) -> Result<u64, Error> {
        let mut tx = self.shared.db.begin().await?;
        if !store::erase(&mut tx, index, tag).await? {
            return Err(Error::OutOfRange(format!(
                "entry {index} holds no unerased personal data tagged {tag:?}"
            )));
        }
        let recorded = self
            .record(
                &mut tx,
                Entry {
                    actor,
                    action: super::Action::AuditErase,
                    object: format!("audit-entry:{index}"),
                    outcome: gatehouse_audit::leaf::OutcomeKind::Success,
                    code: None,
                    request_id,
                    details: serde_json::json!({ "index": index, "tag": tag }),
                    personal: super::Personal::default(),
                },
            )
            .await?;
        tx.commit().await?;
        self.sequenced(recorded).await
    }

    /// The database this log writes to.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    fn broken(&self) -> Option<Error> {
        self.shared
            .broken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Brings the in-memory tree up to what other instances committed, when a request asks
    /// for a size beyond what this instance holds (reads within it touch no database).
    async fn sync_to(&self, size: u64) -> Result<(), Error> {
        let mut tree = self.shared.tree.lock().await;
        if size <= tree.size() {
            return Ok(());
        }
        let stored = store::load(&self.shared.db, &mut tree, &self.shared.key.verifier()).await?;
        self.shared.high_water.raise(stored)
    }
}

async fn sequence(shared: Arc<Shared>) {
    let mut closed = shared.closed.subscribe();
    loop {
        // Drain until the outbox is empty (or the log broke), then wait.
        loop {
            let result = drain(&shared).await;
            shared.attempts.send_modify(|n| *n += 1);
            match result {
                Ok(n) if n == MAX_BATCH => continue,
                Ok(_) => break,
                Err(error @ Error::Inconsistent(_)) => {
                    tracing::error!(%error, "the audit log is inconsistent: every audited action is refused until an administrator investigates");
                    *shared.broken.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, "an audit batch failed; it stays queued and is retried");
                    break;
                }
            }
        }
        if *closed.borrow() {
            return;
        }
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(POLL * 4) => {}
            _ = closed.changed() => {}
        }
    }
}

/// Sequences one batch from the outbox; returns how many entries it logged.
async fn drain(shared: &Shared) -> Result<usize, Error> {
    // An idle poll takes no write lock: look for queued rows first.
    if !store::anything_queued(&shared.db).await? {
        return Ok(0);
    }
    let mut tree = shared.tree.lock().await;
    let mut tx = shared.db.begin().await?;
    let verifier = shared.key.verifier();
    store::lock_and_catch_up(&mut tx, &mut tree, &verifier).await?;
    let queued = store::queued(&mut tx, MAX_BATCH).await?;
    if queued.is_empty() {
        return Ok(0);
    }
    let entries = queued
        .into_iter()
        .map(|(id, json)| {
            let entry = Entry::from_queued(&json).unwrap_or_else(|e| Entry::invalid(id, &e));
            (id, entry)
        })
        .collect();
    let batch = prepare(&shared.index_key, &tree, entries)?;
    // The new checkpoint extends the last signed one by construction: `tree` was checked
    // against the signed checkpoint at its size before any leaf was added on top.
    let checkpoint = Checkpoint::new(shared.key.name(), batch.size, batch.root)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let note = shared
        .key
        .sign(&checkpoint)
        .map_err(|e| Error::Key(e.to_string()))?
        .note()
        .to_owned();
    store::write(&mut tx, &batch, &note).await?;
    if let Tx::Postgres(pg) = &mut tx {
        // Delivered on commit: the other instances' waiters stop waiting for their poll.
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(SEQUENCED_CHANNEL)
            .execute(&mut **pg)
            .await?;
    }
    tx.commit().await?;
    for hash in &batch.hashes {
        tree.push(*hash);
    }
    drop(tree);
    shared.high_water.raise(batch.size)?;
    let mut waiters = shared
        .waiters
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    for (offset, row) in batch.rows.iter().enumerate() {
        if let Some(done) = waiters.remove(&row.outbox_id) {
            let _ = done.send(batch.first + offset as u64);
        }
    }
    Ok(batch.rows.len())
}
