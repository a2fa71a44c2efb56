//! Reading the verified cache for the explorer: filtered pages for a virtualised table, an
//! activity timeline, the values to filter by, and one entry with its inclusion proof.
//! Everything here works offline.

use gatehouse_audit::Hash;
use gatehouse_audit::leaf::Leaf;
use gatehouse_audit::proof::InclusionProof;
use gatehouse_audit::tree::HashSource;
use sqlx::{QueryBuilder, Sqlite};

use super::{Cache, Error};

/// Most rows one page request returns.
pub const MAX_PAGE: u32 = 1000;

/// Which entries to show. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

    fn push_where(&self, qb: &mut QueryBuilder<'_, Sqlite>) {
        qb.push(" WHERE 1 = 1");
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        if let Some(v) = nonempty(&self.actor) {
            qb.push(" AND actor = ").push_bind(v);
        }
        if let Some(v) = nonempty(&self.action) {
            qb.push(" AND action = ").push_bind(v);
        }
        if let Some(v) = nonempty(&self.outcome) {
            qb.push(" AND outcome = ").push_bind(v);
        }
        if let Some(v) = nonempty(&self.object) {
            // substr keeps LIKE's wildcards out of what the person typed.
            let len = v.chars().count() as i64;
            qb.push(" AND substr(object, 1, ")
                .push_bind(len)
                .push(") = ")
                .push_bind(v);
        }
        if let Some(v) = self.since_ms {
            qb.push(" AND time >= ").push_bind(v);
        }
        if let Some(v) = self.until_ms {
            qb.push(" AND time < ").push_bind(v);
        }
        if let Some(m) = self.fts() {
            qb.push(" AND idx IN (SELECT rowid FROM entries_fts WHERE entries_fts MATCH ")
                .push_bind(m)
                .push(")");
        }
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

type RowTuple = (
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl Cache {
    /// Rows `offset..offset + limit` of the entries matching `filter`, newest first, with the
    /// number of matches.
    pub async fn page(&self, filter: &Filter, offset: u64, limit: u32) -> Result<Page, Error> {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM entries");
        filter.push_where(&mut count);
        let (total,): (i64,) = count
            .build_query_as()
            .fetch_one(&self.pool)
            .await
            .map_err(query_error)?;
        let mut select = QueryBuilder::<Sqlite>::new(
            "SELECT idx, time, actor, action, object, outcome FROM entries",
        );
        filter.push_where(&mut select);
        select
            .push(" ORDER BY idx DESC LIMIT ")
            .push_bind(i64::from(limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
        let rows: Vec<RowTuple> = select
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        Ok(Page {
            total: total as u64,
            offset,
            rows: rows
                .into_iter()
                .map(|(idx, time, actor, action, object, outcome)| Row {
                    index: idx as u64,
                    time_ms: time,
                    actor: actor.unwrap_or_default(),
                    action: action.unwrap_or_else(|| "(undecodable entry)".into()),
                    object: object.unwrap_or_default(),
                    outcome: outcome.unwrap_or_default(),
                })
                .collect(),
        })
    }

    /// Indices of all entries matching `filter`, in log order (for export).
    pub async fn matching(&self, filter: &Filter) -> Result<Vec<u64>, Error> {
        let mut select = QueryBuilder::<Sqlite>::new("SELECT idx FROM entries");
        filter.push_where(&mut select);
        select.push(" ORDER BY idx");
        let rows: Vec<(i64,)> = select
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        Ok(rows.into_iter().map(|(i,)| i as u64).collect())
    }

    /// Entries per bucket and action among those matching `filter`, oldest bucket first.
    pub async fn timeline(
        &self,
        filter: &Filter,
        bucket: Bucket,
    ) -> Result<Vec<TimelineBar>, Error> {
        let mut select = QueryBuilder::<Sqlite>::new("SELECT (time / ");
        select
            .push_bind(bucket.millis())
            .push(") * ")
            .push_bind(bucket.millis())
            .push(" AS start, action, COUNT(*) FROM entries");
        filter.push_where(&mut select);
        select.push(" AND time IS NOT NULL GROUP BY start, action ORDER BY start, action");
        let rows: Vec<(i64, String, i64)> = select
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(query_error)?;
        Ok(rows
            .into_iter()
            .map(|(start_ms, action, count)| TimelineBar {
                start_ms,
                action,
                count: count as u64,
            })
            .collect())
    }

    /// The distinct actors, actions and outcomes, and the time span.
    pub async fn facets(&self) -> Result<Facets, Error> {
        let distinct = |column: &'static str| {
            let pool = self.pool.clone();
            async move {
                let rows: Vec<(String,)> = sqlx::query_as(&format!(
                    "SELECT DISTINCT {column} FROM entries WHERE {column} IS NOT NULL ORDER BY {column}"
                ))
                .fetch_all(&pool)
                .await?;
                Ok::<_, Error>(rows.into_iter().map(|(v,)| v).collect::<Vec<_>>())
            }
        };
        let (first_ms, last_ms): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT MIN(time), MAX(time) FROM entries")
                .fetch_one(&self.pool)
                .await?;
        Ok(Facets {
            actors: distinct("actor").await?,
            actions: distinct("action").await?,
            outcomes: distinct("outcome").await?,
            first_ms,
            last_ms,
        })
    }

    /// Entry `index`, decoded, with its inclusion proof checked against the signed checkpoint.
    /// A proof that fails raises the cache's alarm naming the entry.
    pub async fn entry(&self, index: u64) -> Result<EntryDetail, Error> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT leaf FROM entries WHERE idx = $1")
            .bind(i64::try_from(index).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await?;
        let Some((bytes,)) = row else {
            return Err(Error::Query(format!(
                "entry {index} is not in the local cache; sync to fetch newer entries"
            )));
        };
        let leaf_hash = Hash::leaf(&bytes);
        let proven = self
            .verified(|v| {
                let checkpoint = v.checkpoint.as_ref()?;
                let proof = v.tree.inclusion_proof(index, checkpoint.size()).ok()?;
                Some((proof, checkpoint.root()))
            })
            .await?;
        let proof = match proven {
            None => ProofStatus::Failed {
                reason: format!("entry {index} is beyond the verified checkpoint"),
            },
            Some((proof, root)) => check(&proof, &leaf_hash, root),
        };
        if let ProofStatus::Failed { reason } = &proof {
            self.raise(&Error::CacheTampered {
                entry: Some(index),
                reason: reason.clone(),
            })
            .await?;
        }
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
        let note: Option<(String,)> =
            sqlx::query_as("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await?;
        let (Some((note,)), Some(verifier)) = (note, self.pinned().await?) else {
            return Err(Error::Query(
                "the local cache has no verified checkpoint yet; sync first".into(),
            ));
        };
        let mut out = Vec::with_capacity(indices.len());
        for &index in indices {
            let detail = self.entry(index).await?;
            match detail.proof {
                ProofStatus::Included { path, .. } => out.push((index, detail.bytes, path)),
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

fn query_error(e: sqlx::Error) -> Error {
    Error::Query(format!("the search could not run: {e}"))
}
