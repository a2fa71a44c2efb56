//! Fetching from the server: the checkpoint, the catch-up of new entries through staging, and
//! the consistency proofs that tie each checkpoint to the last trusted one.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::Hash;
use gatehouse_audit::checkpoint::LogVerifier;
use gatehouse_protocol::audit::{CheckpointView, EntryView, ProofView};
use rusqlite::params;

use super::store::{promote, set_meta, stage};
use super::verify::{Verified, bisect};
use super::{Cache, Error, Progress, Synced};
use crate::connection::Connection;

impl Cache {
    /// Syncs new entries from the server, verifying everything before it reaches the explorer.
    /// `progress` is called after each page. A failure that is an alarm is also stored.
    pub async fn sync(
        &self,
        connection: &Connection,
        progress: impl FnMut(Progress),
    ) -> Result<Synced, Error> {
        let result = self.sync_inner(connection, progress).await;
        match &result {
            Ok(_) => self.clear_alarm(None).await?,
            Err(e) => self.raise(e).await?,
        }
        result
    }

    async fn sync_inner(
        &self,
        connection: &Connection,
        mut progress: impl FnMut(Progress),
    ) -> Result<Synced, Error> {
        let view: CheckpointView = connection.get("/v1/audit/checkpoint").await?;
        let pinned = self.pinned().await?;
        if let Some(pinned) = &pinned
            && pinned != &view.verifier
        {
            return Err(Error::KeyChanged {
                pinned: pinned.clone(),
                presented: view.verifier,
            });
        }
        let verifier = LogVerifier::from_str(&view.verifier).map_err(|e| Error::Checkpoint {
            size: 0,
            reason: format!("unusable verifier key: {e}"),
        })?;
        let mut guard = self.verified.lock().await;
        if guard.is_none() {
            *guard = Some(self.load().await?);
        }
        let Some(state) = guard.as_mut() else {
            return Err(Error::Cache("verified state vanished".into()));
        };
        let from = state.tree.size();
        let Some(note) = view.note else {
            if from > 0 {
                return Err(Error::Checkpoint {
                    size: 0,
                    reason: "the server no longer has a checkpoint".into(),
                });
            }
            if pinned.is_none() {
                let verifier = view.verifier.clone();
                self.run(move |db| set_meta(db, "verifier", &verifier))
                    .await?;
            }
            return Ok(Synced {
                from,
                to: 0,
                pinned_now: pinned.is_none(),
            });
        };
        let checkpoint = verifier
            .verify(&note)
            .map_err(|e| Error::Checkpoint {
                size: 0,
                reason: e.to_string(),
            })?
            .into_checkpoint();
        if let Some(trusted) = &state.checkpoint {
            let proof = if checkpoint.size() > trusted.size() {
                fetch_consistency(connection, trusted.size(), checkpoint.size()).await?
            } else {
                Vec::new()
            };
            gatehouse_audit::trust::check(trusted, &checkpoint, &proof).map_err(|e| {
                Error::Checkpoint {
                    size: checkpoint.size(),
                    reason: e.to_string(),
                }
            })?;
        }
        let target = checkpoint.size();
        // Hash onto a copy so a failure leaves the verified tree untouched.
        let mut tree = state.tree.clone();
        let staged: Vec<(u64, Hash)> = self
            .run(move |db| {
                let mut select = db.prepare(
                    "SELECT idx, leaf FROM pending WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
                )?;
                let rows = select.query_map(params![from as i64, target as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)? as u64,
                        Hash::leaf(r.get_ref(1)?.as_blob()?),
                    ))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        for (idx, hash) in staged {
            if idx != tree.size() {
                break; // a gap: fetch again from here
            }
            tree.push(hash);
        }
        let (kept, from_) = (tree.size(), from);
        self.run(move |db| {
            db.execute(
                "DELETE FROM pending WHERE idx >= ?1 OR idx < ?2",
                params![kept as i64, from_ as i64],
            )?;
            Ok(())
        })
        .await?;
        progress(Progress {
            fetched: tree.size() - from,
            total: target - from,
        });
        let mut staging: Option<tokio::task::JoinHandle<Result<u64, Error>>> = None;
        while tree.size() < target {
            let page: Vec<EntryView> = connection
                .get(&format!(
                    "/v1/audit/entries?from={}&limit={}",
                    tree.size(),
                    self.page_size
                ))
                .await?;
            if page.is_empty() {
                return Err(Error::EntriesMismatch {
                    size: target,
                    entry: Some(tree.size()),
                    reason: format!(
                        "the server has no entry {} but its checkpoint covers it",
                        tree.size()
                    ),
                });
            }
            let mut batch = Vec::with_capacity(page.len());
            for entry in page {
                if tree.size() == target {
                    break;
                }
                if entry.index != tree.size() {
                    return Err(Error::EntriesMismatch {
                        size: target,
                        entry: Some(tree.size()),
                        reason: format!("expected entry {}, got {}", tree.size(), entry.index),
                    });
                }
                let leaf = STANDARD
                    .decode(&entry.leaf)
                    .map_err(|e| Error::EntriesMismatch {
                        size: target,
                        entry: Some(entry.index),
                        reason: format!("entry {} is not base64: {e}", entry.index),
                    })?;
                let hash = Hash::leaf(&leaf);
                tree.push(hash);
                batch.push((entry.index, leaf, hash));
            }
            // Stage this page while the next one is fetched; one write in flight at a time.
            // Progress counts what is durably staged, so an interruption keeps all it reported.
            if let Some(previous) = staging.take() {
                let staged = join_staging(previous).await?;
                progress(Progress {
                    fetched: staged - from,
                    total: target - from,
                });
            }
            let cache = self.clone();
            let upto = tree.size();
            staging = Some(tokio::spawn(async move {
                cache.run(move |db| stage(db, &batch)).await.map(|()| upto)
            }));
        }
        if let Some(previous) = staging.take() {
            let staged = join_staging(previous).await?;
            progress(Progress {
                fetched: staged - from,
                total: target - from,
            });
        }
        if target > 0 {
            let root = tree.current_root();
            if root != checkpoint.root() {
                // Staged entries may be what is wrong: drop them so a retry fetches afresh.
                self.run(|db| {
                    db.execute("DELETE FROM pending", [])?;
                    Ok(())
                })
                .await?;
                let entry = bisect(connection, &tree, from, &checkpoint).await;
                return Err(Error::EntriesMismatch {
                    size: target,
                    entry,
                    reason: match entry {
                        Some(i) => format!("entry {i} is not the entry the checkpoint signed"),
                        None => format!(
                            "computed root {} but the checkpoint says {}",
                            root.to_hex(),
                            checkpoint.root().to_hex()
                        ),
                    },
                });
            }
        }
        let pin = pinned.is_none().then(|| view.verifier.clone());
        self.run(move |db| promote(db, from, target, &note, pin.as_deref()))
            .await?;
        if target > from {
            self.index.clear();
        }
        *state = Verified {
            tree,
            checkpoint: Some(checkpoint),
        };
        Ok(Synced {
            from,
            to: target,
            pinned_now: pinned.is_none(),
        })
    }
}

pub(super) async fn fetch_consistency(
    connection: &Connection,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, Error> {
    let view: ProofView = connection
        .get(&format!("/v1/audit/consistency?old={old}&new={new}"))
        .await?;
    view.hashes
        .iter()
        .map(|h| {
            h.parse().map_err(|e| Error::Checkpoint {
                size: new,
                reason: format!("malformed proof hash: {e}"),
            })
        })
        .collect()
}

async fn join_staging(task: tokio::task::JoinHandle<Result<u64, Error>>) -> Result<u64, Error> {
    task.await
        .map_err(|e| Error::Cache(format!("staging fetched entries stopped: {e}")))?
}
