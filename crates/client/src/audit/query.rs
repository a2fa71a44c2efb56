//! Reading the verified cache for the explorer: filtered pages for a virtualised table, an
//! activity timeline, the values to filter by, and one entry with its inclusion proof.
//! Everything here works offline.
//!
//! Filters run on an in-memory column index of the verified entries (time, actor, action,
//! object, outcome; about 20 bytes an entry with strings interned), built from the cache on
//! first use and dropped when a sync adds entries. A filter's matches are kept as a list of
//! indices, so every page of a virtualised table, at any depth, is a slice of that list and the
//! total is exact. SQL `COUNT` over an indexed table took 70 ms for a common word at 200,000
//! entries, which does not scale to the explorer's million; full text still goes to FTS5.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use gatehouse_audit::Hash;
use gatehouse_audit::leaf::Leaf;
use gatehouse_audit::proof::InclusionProof;
use gatehouse_audit::tree::HashSource;
use rusqlite::OptionalExtension;

use super::{Cache, Db, Error};

/// Most rows one page request returns.
pub const MAX_PAGE: u32 = 1000;

/// Which entries to show. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Words that must all appear (as word prefixes) in actor, action, object, outcome or
    /// details. Plain words, not FTS5 syntax: quotes and operators are taken literally.
    pub text: Option<String>,
    /// Entries at or after this instant (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Entries before this instant (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this action.
    pub action: Option<String>,
    /// Exactly this outcome: `success`, `denied` or `failed`.
    pub outcome: Option<String>,
    /// Objects starting with this.
    pub object: Option<String>,
}

impl Filter {
    /// The FTS5 query for `text`: each word quoted (so nothing is an operator) and prefixed.
    fn fts(&self) -> Option<String> {
        let words: Vec<String> = self
            .text
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(|w| format!("\"{}\"*", w.replace('"', "\"\"")))
            .collect();
        (!words.is_empty()).then(|| words.join(" "))
    }
}

/// One row of the explorer's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Position in the log.
    pub index: u64,
    /// When, ms since the epoch (`None` for a leaf that does not decode).
    pub time_ms: Option<i64>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub object: String,
    /// How it ended.
    pub outcome: String,
}

/// A window of matching rows, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// How many entries match in all.
    pub total: u64,
    /// Position of the first row in the newest-first list of matches.
    pub offset: u64,
    /// The rows.
    pub rows: Vec<Row>,
}

/// Timeline granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// One bar per hour.
    Hour,
    /// One bar per day (UTC).
    Day,
}

impl Bucket {
    fn millis(self) -> i64 {
        match self {
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }
}

/// Entries of one action in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineBar {
    /// Bucket start, ms since the epoch.
    pub start_ms: i64,
    /// The action.
    pub action: String,
    /// Entries.
    pub count: u64,
}

/// The values present in the cache, for filter menus.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facets {
    /// Distinct actors.
    pub actors: Vec<String>,
    /// Distinct actions.
    pub actions: Vec<String>,
    /// Distinct outcomes.
    pub outcomes: Vec<String>,
    /// Earliest entry time, ms.
    pub first_ms: Option<i64>,
    /// Latest entry time, ms.
    pub last_ms: Option<i64>,
}

/// Whether an entry is proven to be in the signed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofStatus {
    /// Its inclusion proof verifies against the signed checkpoint.
    Included {
        /// The checkpoint's size.
        tree_size: u64,
        /// The checkpoint's root.
        root: Hash,
        /// The audit path, leaf to root.
        path: Vec<Hash>,
    },
    /// It does not verify; the cache's alarm has been raised.
    Failed {
        /// Why.
        reason: String,
    },
}

/// One entry, decoded, with its proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDetail {
    /// Position in the log.
    pub index: u64,
    /// The decoded leaf, or why it does not decode.
    pub leaf: Result<Leaf, String>,
    /// The canonical bytes.
    pub bytes: Vec<u8>,
    /// Their Merkle leaf hash.
    pub leaf_hash: Hash,
    /// The proof status.
    pub proof: ProofStatus,
}

const NONE: u32 = u32::MAX;

/// Interned strings: id -> value, and back.
#[derive(Debug, Default)]
struct Strings {
    values: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Strings {
    fn intern(&mut self, value: Option<String>) -> u32 {
        let Some(value) = value else { return NONE };
        if let Some(id) = self.ids.get(&value) {
            return *id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(value.clone(), id);
        self.values.push(value);
        id
    }

    fn get(&self, id: u32) -> &str {
        self.values.get(id as usize).map_or("", String::as_str)
    }

    fn sorted(&self) -> Vec<String> {
        let mut values = self.values.clone();
        values.sort();
        values
    }
}

/// The verified entries' columns, in log order (position = entry index).
#[derive(Debug, Default)]
pub(super) struct Index {
    time: Vec<Option<i64>>,
    actor: Vec<u32>,
    action: Vec<u32>,
    object: Vec<u32>,
    outcome: Vec<u32>,
    actors: Strings,
    actions: Strings,
    objects: Strings,
    outcomes: Strings,
}

impl Index {
    fn build(db: &Db) -> Result<Self, Error> {
        let mut index = Index::default();
        let mut select = db.prepare(
            "SELECT idx, time, actor, action, object, outcome FROM entries ORDER BY idx",
        )?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let idx: i64 = row.get(0)?;
            if idx as usize != index.time.len() {
                return Err(Error::CacheTampered {
                    entry: Some(index.time.len() as u64),
                    reason: format!("entry {} is missing", index.time.len()),
                });
            }
            index.time.push(row.get(1)?);
            let actor = index.actors.intern(row.get(2)?);
            let action = index.actions.intern(row.get(3)?);
            let object = index.objects.intern(row.get(4)?);
            let outcome = index.outcomes.intern(row.get(5)?);
            index.actor.push(actor);
            index.action.push(action);
            index.object.push(object);
            index.outcome.push(outcome);
        }
        Ok(index)
    }

    fn len(&self) -> usize {
        self.time.len()
    }

    fn row(&self, i: u32) -> Row {
        let i = i as usize;
        Row {
            index: i as u64,
            time_ms: self.time[i],
            actor: self.actors.get(self.actor[i]).to_owned(),
            action: if self.action[i] == NONE {
                "(undecodable entry)".to_owned()
            } else {
                self.actions.get(self.action[i]).to_owned()
            },
            object: self.objects.get(self.object[i]).to_owned(),
            outcome: self.outcomes.get(self.outcome[i]).to_owned(),
        }
    }

    /// Positions matching `filter`, newest first. `text` is the FTS5 match set, if any.
    fn matches(&self, filter: &Filter, text: Option<&[bool]>) -> Vec<u32> {
        // An exact-value filter on a value not present matches nothing.
        let exact = |strings: &Strings, value: &Option<String>| -> Option<Option<u32>> {
            match value.as_deref().filter(|v| !v.is_empty()) {
                None => Some(None),
                Some(v) => strings.ids.get(v).map(|id| Some(*id)),
            }
        };
        let (Some(actor), Some(action), Some(outcome)) = (
            exact(&self.actors, &filter.actor),
            exact(&self.actions, &filter.action),
            exact(&self.outcomes, &filter.outcome),
        ) else {
            return Vec::new();
        };
        let objects: Option<Vec<bool>> =
            filter
                .object
                .as_deref()
                .filter(|p| !p.is_empty())
                .map(|prefix| {
                    self.objects
                        .values
                        .iter()
                        .map(|o| o.starts_with(prefix))
                        .collect()
                });
        let (since, until) = (filter.since_ms, filter.until_ms);
        let timed = since.is_some() || until.is_some();
        let mut out = Vec::new();
        for i in (0..self.len()).rev() {
            if actor.is_some_and(|a| self.actor[i] != a)
                || action.is_some_and(|a| self.action[i] != a)
                || outcome.is_some_and(|o| self.outcome[i] != o)
                || text.is_some_and(|t| !t.get(i).copied().unwrap_or(false))
            {
                continue;
            }
            if let Some(objects) = &objects
                && !objects
                    .get(self.object[i] as usize)
                    .copied()
                    .unwrap_or(false)
            {
                continue;
            }
            if timed {
                let Some(t) = self.time[i] else { continue };
                if since.is_some_and(|s| t < s) || until.is_some_and(|u| t >= u) {
                    continue;
                }
            }
            out.push(i as u32);
        }
        out
    }
}

/// The index and the most recent filters' matches.
#[derive(Debug, Clone, Default)]
pub(super) struct IndexCell(Arc<Mutex<IndexState>>);

#[derive(Debug, Default)]
struct IndexState {
    index: Option<Arc<Index>>,
    recent: Vec<(Filter, Arc<Vec<u32>>)>,
}

/// How many filters' match lists are kept (scrolling, the timeline and export reuse them).
const RECENT_FILTERS: usize = 4;

impl IndexCell {
    /// Forgets the index (the cache's entries changed).
    pub(super) fn clear(&self) {
        if let Ok(mut state) = self.0.lock() {
            *state = IndexState::default();
        }
    }
}

impl Cache {
    /// The index and `filter`'s matches (newest first), computing what is not cached.
    async fn matching_positions(
        &self,
        filter: &Filter,
    ) -> Result<(Arc<Index>, Arc<Vec<u32>>), Error> {
        let cell = self.index.clone();
        let filter = filter.clone();
        self.run(move |db| {
            let mut state = cell
                .0
                .lock()
                .map_err(|_| Error::Cache("an earlier query crashed".into()))?;
            let index = match &state.index {
                Some(index) => index.clone(),
                None => {
                    let index = Arc::new(Index::build(db)?);
                    state.index = Some(index.clone());
                    state.recent.clear();
                    index
                }
            };
            if let Some(position) = state.recent.iter().position(|(f, _)| *f == filter) {
                let hit = state.recent.remove(position);
                let matches = hit.1.clone();
                state.recent.push(hit);
                return Ok((index, matches));
            }
            let text = match filter.fts() {
                None => None,
                Some(query) => {
                    let mut set = vec![false; index.len()];
                    let mut select = db.prepare_cached(
                        "SELECT rowid FROM entries_fts WHERE entries_fts MATCH ?1",
                    )?;
                    let mut rows = select.query([&query]).map_err(query_error)?;
                    while let Some(row) = rows.next().map_err(query_error)? {
                        let rowid: i64 = row.get(0)?;
                        if let Some(slot) = set.get_mut(rowid as usize) {
                            *slot = true;
                        }
                    }
                    Some(set)
                }
            };
            let matches = Arc::new(index.matches(&filter, text.as_deref()));
            if state.recent.len() == RECENT_FILTERS {
                state.recent.remove(0);
            }
            state.recent.push((filter, matches.clone()));
            Ok((index, matches))
        })
        .await
    }

    /// Rows `offset..offset + limit` of the entries matching `filter`, newest first, with the
    /// number of matches.
    pub async fn page(&self, filter: &Filter, offset: u64, limit: u32) -> Result<Page, Error> {
        let limit = u64::from(limit.clamp(1, MAX_PAGE));
        let (index, matches) = self.matching_positions(filter).await?;
        let total = matches.len() as u64;
        let start = offset.min(total) as usize;
        let end = offset.saturating_add(limit).min(total) as usize;
        Ok(Page {
            total,
            offset,
            rows: matches[start..end].iter().map(|i| index.row(*i)).collect(),
        })
    }

    /// Indices of all entries matching `filter`, in log order (for export).
    pub async fn matching(&self, filter: &Filter) -> Result<Vec<u64>, Error> {
        let (_, matches) = self.matching_positions(filter).await?;
        Ok(matches.iter().rev().map(|i| u64::from(*i)).collect())
    }

    /// Entries per bucket and action among those matching `filter`, oldest bucket first.
    pub async fn timeline(
        &self,
        filter: &Filter,
        bucket: Bucket,
    ) -> Result<Vec<TimelineBar>, Error> {
        let (index, matches) = self.matching_positions(filter).await?;
        let width = bucket.millis();
        let mut counts: BTreeMap<(i64, u32), u64> = BTreeMap::new();
        for &i in matches.iter() {
            if let Some(t) = index.time[i as usize] {
                *counts
                    .entry((t.div_euclid(width) * width, index.action[i as usize]))
                    .or_default() += 1;
            }
        }
        Ok(counts
            .into_iter()
            .map(|((start_ms, action), count)| TimelineBar {
                start_ms,
                action: index.actions.get(action).to_owned(),
                count,
            })
            .collect())
    }

    /// The distinct actors, actions and outcomes, and the time span.
    pub async fn facets(&self) -> Result<Facets, Error> {
        let (index, _) = self.matching_positions(&Filter::default()).await?;
        let times = index.time.iter().flatten();
        Ok(Facets {
            actors: index.actors.sorted(),
            actions: index.actions.sorted(),
            outcomes: index.outcomes.sorted(),
            first_ms: times.clone().min().copied(),
            last_ms: times.max().copied(),
        })
    }

    /// Entry `index`, decoded, with its inclusion proof checked against the signed checkpoint.
    /// A proof that fails raises the cache's alarm naming the entry.
    pub async fn entry(&self, index: u64) -> Result<EntryDetail, Error> {
        let (_, (bytes, leaf_hash, proof)) = self
            .prove(vec![index])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Cache(format!("entry {index} was read but not proven")))?;
        Ok(EntryDetail {
            index,
            leaf: Leaf::decode(&bytes).map_err(|e| e.to_string()),
            bytes,
            leaf_hash,
            proof,
        })
    }

    /// The inclusion proofs of `indices` against the verified checkpoint, with the checkpoint's
    /// signed note and the pinned key: the makings of an export bundle.
    pub(super) async fn proofs(
        &self,
        indices: &[u64],
    ) -> Result<(String, String, Vec<(u64, Vec<u8>, Vec<Hash>)>), Error> {
        let status = self.status().await?;
        let (Some(note), Some(verifier)) = (status.checkpoint, status.verifier) else {
            return Err(Error::Query(
                "the local cache has no verified checkpoint yet; sync first".into(),
            ));
        };
        let mut out = Vec::with_capacity(indices.len());
        for (index, (bytes, _, proof)) in self.prove(indices.to_vec()).await? {
            match proof {
                ProofStatus::Included { path, .. } => out.push((index, bytes, path)),
                ProofStatus::Failed { reason } => {
                    return Err(Error::CacheTampered {
                        entry: Some(index),
                        reason,
                    });
                }
            }
        }
        Ok((note, verifier, out))
    }

    /// Reads the leaves of `indices` (one trip to the database) and checks each one's inclusion
    /// proof against the verified checkpoint (one look at the verified tree). A proof that fails
    /// raises the cache's alarm naming the first such entry.
    async fn prove(
        &self,
        indices: Vec<u64>,
    ) -> Result<Vec<(u64, (Vec<u8>, Hash, ProofStatus))>, Error> {
        let leaves: Vec<(u64, Vec<u8>)> = self
            .run(move |db| {
                let mut select = db.prepare_cached("SELECT leaf FROM entries WHERE idx = ?1")?;
                indices
                    .into_iter()
                    .map(|index| {
                        let leaf: Option<Vec<u8>> = select
                            .query_row([i64::try_from(index).unwrap_or(i64::MAX)], |r| r.get(0))
                            .optional()?;
                        leaf.map(|leaf| (index, leaf)).ok_or_else(|| {
                            Error::Query(format!(
                                "entry {index} is not in the local cache; sync to fetch newer entries"
                            ))
                        })
                    })
                    .collect()
            })
            .await?;
        let proven = self
            .verified(move |v| {
                leaves
                    .into_iter()
                    .map(|(index, bytes)| {
                        let leaf_hash = Hash::leaf(&bytes);
                        let proof = match &v.checkpoint {
                            Some(checkpoint) => {
                                match v.tree.inclusion_proof(index, checkpoint.size()) {
                                    Ok(proof) => check(&proof, &leaf_hash, checkpoint.root()),
                                    Err(_) => beyond(index),
                                }
                            }
                            None => beyond(index),
                        };
                        (index, (bytes, leaf_hash, proof))
                    })
                    .collect::<Vec<_>>()
            })
            .await?;
        let failed = proven
            .iter()
            .find_map(|(index, (_, _, proof))| match proof {
                ProofStatus::Failed { reason } => Some((*index, reason.clone())),
                ProofStatus::Included { .. } => None,
            });
        if let Some((index, reason)) = failed {
            self.raise(&Error::CacheTampered {
                entry: Some(index),
                reason,
            })
            .await?;
        }
        Ok(proven)
    }
}

fn beyond(index: u64) -> ProofStatus {
    ProofStatus::Failed {
        reason: format!("entry {index} is beyond the verified checkpoint"),
    }
}

fn check(proof: &InclusionProof, leaf_hash: &Hash, root: Hash) -> ProofStatus {
    match proof.verify(leaf_hash, &root) {
        Ok(()) => ProofStatus::Included {
            tree_size: proof.tree_size,
            root,
            path: proof.path.clone(),
        },
        Err(e) => ProofStatus::Failed {
            reason: format!(
                "entry {} does not verify against the checkpoint of size {}: {e}; it changed since it was verified",
                proof.leaf_index, proof.tree_size
            ),
        },
    }
}

fn query_error(e: rusqlite::Error) -> Error {
    Error::Query(format!("the search could not run: {e}"))
}
