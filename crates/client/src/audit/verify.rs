//! The checks: the cache re-read and hashed against its signed checkpoint, each leaf against
//! the decoded columns the explorer shows, and the location of a bad entry (offline from the
//! stored checkpoints, or by bisecting with the server's consistency proofs).

use std::str::FromStr;

use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::{Checkpoint, LogVerifier};
use gatehouse_audit::leaf::Leaf;
use gatehouse_audit::tree::{HashSource, Tree};

use super::store::meta;
use super::sync::fetch_consistency;
use super::{AlarmSource, Cache, Db, Error};
use crate::connection::Connection;

/// The cache's verified state, kept in memory after the first verification so that later
/// syncs and proofs do not re-read the whole cache.
#[derive(Debug)]
pub(super) struct Verified {
    pub(super) tree: Tree,
    pub(super) checkpoint: Option<Checkpoint>,
}

impl Cache {
    /// Re-verifies the whole cache against its latest stored checkpoint, offline.
    pub async fn verify(&self) -> Result<u64, Error> {
        let mut verified = self.verified.lock().await;
        *verified = None;
        match self.load().await {
            Ok(state) => {
                let size = state.tree.size();
                *verified = Some(state);
                self.clear_alarm(Some(AlarmSource::Cache)).await?;
                Ok(size)
            }
            Err(e) => {
                self.raise(&e).await?;
                Err(e)
            }
        }
    }

    /// Loads the cached entries into a tree and checks them against the stored checkpoint.
    pub(super) async fn load(&self) -> Result<Verified, Error> {
        let (hashes, reread, checkpoints, verifier) = self
            .run(|db| {
                let (hashes, reread) = hash_entries(db)?;
                let mut select =
                    db.prepare("SELECT size, note FROM checkpoints ORDER BY size DESC")?;
                let checkpoints = select
                    .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((hashes, reread, checkpoints, meta(db, "verifier")?))
            })
            .await?;
        let mut tree = Tree::with_capacity(hashes.len());
        for hash in hashes {
            tree.push(hash);
        }
        let Some((_, note)) = checkpoints.first() else {
            return if tree.size() == 0 {
                Ok(Verified {
                    tree,
                    checkpoint: None,
                })
            } else {
                Err(Error::CacheTampered {
                    entry: None,
                    reason: "entries without a checkpoint".into(),
                })
            };
        };
        let verifier = verifier.ok_or_else(|| Error::CacheTampered {
            entry: None,
            reason: "a checkpoint without a pinned key".into(),
        })?;
        let verifier = LogVerifier::from_str(&verifier).map_err(|e| Error::CacheTampered {
            entry: None,
            reason: e.to_string(),
        })?;
        let checkpoint = verifier
            .verify(note)
            .map_err(|e| Error::CacheTampered {
                entry: None,
                reason: format!("the stored checkpoint: {e}"),
            })?
            .into_checkpoint();
        if checkpoint.size() != tree.size() || tree.current_root() != checkpoint.root() {
            let entry = reread
                .changed
                .or_else(|| locate_offline(&tree, &verifier, &checkpoints));
            return Err(Error::CacheTampered {
                entry,
                reason: match entry {
                    Some(i) => format!(
                        "entry {i} changed since it was verified; {} entries do not hash to the checkpoint of size {}",
                        tree.size(),
                        checkpoint.size()
                    ),
                    None => format!(
                        "{} entries do not hash to the stored checkpoint of size {}",
                        tree.size(),
                        checkpoint.size()
                    ),
                },
            });
        }
        // The leaves verify; what the explorer shows of them must be what they say.
        if let Some((entry, columns)) = reread.columns {
            return Err(Error::CacheTampered {
                entry: Some(entry),
                reason: format!(
                    "entry {entry}'s stored {} differ from its verified leaf",
                    columns.join(", ")
                ),
            });
        }
        Ok(Verified {
            tree,
            checkpoint: Some(checkpoint),
        })
    }

    /// The verified tree and checkpoint, verifying the cache first if this process has not.
    pub(super) async fn verified<T>(&self, f: impl FnOnce(&Verified) -> T) -> Result<T, Error> {
        let mut guard = self.verified.lock().await;
        if guard.is_none() {
            match self.load().await {
                Ok(state) => *guard = Some(state),
                Err(e) => {
                    self.raise(&e).await?;
                    return Err(e);
                }
            }
        }
        match guard.as_ref() {
            Some(state) => Ok(f(state)),
            None => Err(Error::Cache("verified state vanished".into())),
        }
    }
}

/// What re-reading the cache found, besides the leaf hashes.
#[derive(Debug, Default)]
struct Reread {
    /// The first entry whose hash differs from the one recorded when it was verified.
    changed: Option<u64>,
    /// The first entry whose stored columns differ from its leaf, and which columns.
    columns: Option<(u64, Vec<&'static str>)>,
}

/// Reads every cached leaf in order and hashes it, on two threads: this one reads while the
/// other hashes and decodes, so re-verification costs about the larger of the two. Returns the
/// hashes, the first entry whose hash differs from the one recorded when it was verified, and
/// the first whose decoded columns (what the explorer filters and shows) differ from its leaf.
fn hash_entries(db: &Db) -> Result<(Vec<Hash>, Reread), Error> {
    const CHUNK: usize = 8192;
    type Row = (i64, Vec<u8>, [u8; 32], Columns);
    let mut select = db.prepare(
        "SELECT idx, leaf, hash, time, actor, action, object, outcome, details FROM entries ORDER BY idx",
    )?;
    let mut rows = select.query([])?;
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Row>>(4);
    std::thread::scope(|scope| {
        let hasher = scope.spawn(move || {
            let mut hashes = Vec::new();
            let mut found = Reread::default();
            let mut missing = None;
            for chunk in receive {
                for (idx, leaf, recorded, stored) in chunk {
                    let position = hashes.len() as u64;
                    if missing.is_none() && idx as u64 != position {
                        missing = Some(position);
                    }
                    let hash = Hash::leaf(&leaf);
                    if found.changed.is_none() && recorded != *hash.as_bytes() {
                        found.changed = Some(idx as u64);
                    }
                    if found.columns.is_none() {
                        let differing = stored.differing(&Columns::of(&leaf));
                        if !differing.is_empty() {
                            found.columns = Some((idx as u64, differing));
                        }
                    }
                    hashes.push(hash);
                }
            }
            (hashes, found, missing)
        });
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut read = || -> Result<(), Error> {
            while let Some(row) = rows.next()? {
                let recorded: [u8; 32] = row.get_ref(2)?.as_blob()?.try_into().unwrap_or([0; 32]);
                chunk.push((row.get(0)?, row.get(1)?, recorded, Columns::read(row, 3)?));
                if chunk.len() == CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                    if send.send(full).is_err() {
                        break;
                    }
                }
            }
            Ok(())
        };
        let result = read();
        if !chunk.is_empty() {
            let _ = send.send(chunk);
        }
        drop(send);
        let (hashes, found, missing) = hasher
            .join()
            .map_err(|_| Error::Cache("hashing the cache failed".into()))?;
        result?;
        if let Some(position) = missing {
            return Err(Error::CacheTampered {
                entry: Some(position),
                reason: format!("entry {position} is missing"),
            });
        }
        Ok((hashes, found))
    })
}

/// Narrows a cache mismatch to the first stored checkpoint the entries no longer match:
/// the changed entry lies after the previous (matching) one.
fn locate_offline(
    tree: &Tree,
    verifier: &LogVerifier,
    checkpoints: &[(i64, String)],
) -> Option<u64> {
    let mut matched = 0u64;
    for (_, note) in checkpoints.iter().rev() {
        let checkpoint = verifier.verify(note).ok()?.into_checkpoint();
        match tree.root(checkpoint.size()) {
            Ok(root) if root == checkpoint.root() => matched = checkpoint.size(),
            _ => break,
        }
    }
    // Only a single-entry gap names an entry exactly.
    checkpoints
        .iter()
        .rev()
        .map(|(size, _)| *size as u64)
        .find(|size| *size > matched)
        .filter(|size| *size == matched + 1)
        .map(|_| matched)
}

/// Finds the first entry after `verified` that the signed `checkpoint` does not cover, by
/// bisecting on prefix roots with the server's consistency proofs (about log2(n) requests).
/// A prefix whose root is proven consistent with the signed root is, by collision resistance,
/// exactly the signed prefix.
pub(super) async fn bisect(
    connection: &Connection,
    tree: &Tree,
    verified: u64,
    checkpoint: &Checkpoint,
) -> Option<u64> {
    let (mut good, mut bad) = (verified, checkpoint.size());
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        let root = tree.root(mid).ok()?;
        let proof = fetch_consistency(connection, mid, checkpoint.size())
            .await
            .ok()?;
        let ok = gatehouse_audit::proof::verify_consistency(
            mid,
            checkpoint.size(),
            &root,
            &checkpoint.root(),
            &proof,
        )
        .is_ok();
        if ok {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Some(good)
}

/// The decoded columns stored beside a leaf, which the explorer filters and shows. Entries that
/// verify but do not decode are kept (they are in the log) without columns.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Columns {
    pub(super) time: Option<i64>,
    pub(super) actor: Option<String>,
    pub(super) action: Option<String>,
    pub(super) object: Option<String>,
    pub(super) outcome: Option<String>,
    pub(super) details: Option<String>,
}

impl Columns {
    /// What the columns of `leaf` must hold.
    pub(super) fn of(leaf: &[u8]) -> Self {
        match Leaf::decode(leaf) {
            Ok(l) => Self {
                time: Some(l.time.unix_millis()),
                actor: Some(l.actor.name),
                action: Some(l.action),
                object: Some(l.object),
                outcome: Some(l.outcome.kind.as_str().to_owned()),
                details: Some(l.details.as_str().to_owned()),
            },
            Err(_) => Self::default(),
        }
    }

    /// The stored columns of `row`, from its column `first` on, in the order of the schema.
    fn read(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            time: row.get(first)?,
            actor: row.get(first + 1)?,
            action: row.get(first + 2)?,
            object: row.get(first + 3)?,
            outcome: row.get(first + 4)?,
            details: row.get(first + 5)?,
        })
    }

    /// The names of the columns that differ from `other`'s.
    fn differing(&self, other: &Self) -> Vec<&'static str> {
        [
            ("time", self.time != other.time),
            ("actor", self.actor != other.actor),
            ("action", self.action != other.action),
            ("object", self.object != other.object),
            ("outcome", self.outcome != other.outcome),
            ("details", self.details != other.details),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }
}
