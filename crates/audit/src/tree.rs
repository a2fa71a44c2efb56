//! The Merkle tree: where hashes come from ([`HashSource`]), the in-memory [`Tree`], the
//! [`Frontier`] that appends without reading old leaves, and proof generation.
//!
//! Every proof hash is the root of an aligned subtree. A subtree of `2^level` leaves starting at
//! leaf `index << level` is *perfect*; any other range that a proof needs is the right-to-left
//! fold of at most 64 perfect subtrees (RFC 6962's MTH splits at the largest power of two).
//! A source that stores perfect-subtree hashes (the in-memory [`Tree`] stores all of them) answers
//! any root or proof in O(log n) lookups; a source with leaf hashes only is still correct but
//! recomputes each missing subtree from its leaves.

use std::fmt;

use crate::hash::Hash;
use crate::proof::{ConsistencyProof, InclusionProof};

/// Where a tree's hashes are stored: the server's database, the console's cache, memory.
///
/// Implementors provide leaf hashes and may provide stored perfect-subtree hashes; roots and
/// proofs of any tree size up to [`HashSource::size`] come from the provided methods.
pub trait HashSource {
    /// What a storage failure looks like.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Number of leaves stored; roots and proofs can be made for any size up to this.
    fn size(&self) -> u64;

    /// Hash of leaf `index` (`index < size()`).
    fn leaf_hash(&self, index: u64) -> Result<Hash, Self::Error>;

    /// Hash of the perfect subtree of `2^level` leaves starting at leaf `index << level`, if the
    /// source stores it (`level >= 1`). The default stores none: subtrees are recomputed from
    /// leaves, which costs `2^level` hashes per missing subtree.
    fn subtree_hash(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error> {
        let _ = (level, index);
        Ok(None)
    }

    /// Root of the tree made of the first `size` leaves (RFC 6962 MTH).
    fn root(&self, size: u64) -> Result<Hash, TreeError<Self::Error>> {
        check_size(self, size)?;
        range_hash(self, 0, size).map_err(TreeError::Source)
    }

    /// Inclusion proof for leaf `index` in the tree of the first `size` leaves (RFC 9162 §2.1.3.1).
    fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<InclusionProof, TreeError<Self::Error>> {
        check_size(self, size)?;
        if index >= size {
            return Err(TreeError::IndexOutOfRange { index, size });
        }
        let mut siblings = Vec::new();
        let (mut lo, mut hi) = (0, size);
        while hi - lo > 1 {
            let k = split(hi - lo);
            if index < lo + k {
                siblings.push(range_hash(self, lo + k, hi).map_err(TreeError::Source)?);
                hi = lo + k;
            } else {
                siblings.push(range_hash(self, lo, lo + k).map_err(TreeError::Source)?);
                lo += k;
            }
        }
        siblings.reverse();
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: size,
            path: siblings,
        })
    }

    /// Consistency proof that the first `old_size` leaves are a prefix of the first `new_size`
    /// (RFC 9162 §2.1.4.1). Equal sizes give an empty proof; `old_size` 0 is refused because
    /// such a proof proves nothing.
    fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, TreeError<Self::Error>> {
        check_size(self, new_size)?;
        if old_size > new_size {
            return Err(TreeError::OldSizeAfterNew {
                old: old_size,
                new: new_size,
            });
        }
        if old_size == 0 {
            return Err(TreeError::EmptyOldTree);
        }
        // SUBPROOF(m, D[lo:hi], complete), walked top-down; reversed at the end because the
        // RFC lists the deepest hash first.
        let mut hashes = Vec::new();
        let (mut lo, mut hi) = (0, new_size);
        let mut complete = true;
        while old_size < hi {
            let k = split(hi - lo);
            if old_size - lo <= k {
                hashes.push(range_hash(self, lo + k, hi).map_err(TreeError::Source)?);
                hi = lo + k;
            } else {
                hashes.push(range_hash(self, lo, lo + k).map_err(TreeError::Source)?);
                lo += k;
                complete = false;
            }
        }
        if !complete {
            hashes.push(range_hash(self, lo, hi).map_err(TreeError::Source)?);
        }
        hashes.reverse();
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path: hashes,
        })
    }
}

/// Why a root or proof could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError<E> {
    /// The hash store failed.
    #[error("reading the log's hashes failed: {0}")]
    Source(#[source] E),
    /// The requested tree is larger than what the store holds.
    #[error("a tree of {size} leaves was asked for but only {available} are stored")]
    SizeBeyondLog {
        /// Requested tree size.
        size: u64,
        /// Leaves stored.
        available: u64,
    },
    /// The leaf is not in the requested tree.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    IndexOutOfRange {
        /// Requested leaf.
        index: u64,
        /// Requested tree size.
        size: u64,
    },
    /// The old size is larger than the new one.
    #[error("cannot prove a tree of {old} leaves is a prefix of a smaller one ({new})")]
    OldSizeAfterNew {
        /// Old size.
        old: u64,
        /// New size.
        new: u64,
    },
    /// A consistency proof from the empty tree was asked for.
    #[error("a consistency proof from the empty tree proves nothing and is not produced")]
    EmptyOldTree,
}

/// An in-memory store has no hash where one was asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no stored hash at level {level}, index {index}: the store is smaller than it claims")]
pub struct MissingHash {
    /// Tree level (0 = leaves).
    pub level: u8,
    /// Index within the level.
    pub index: u64,
}

/// An append-only tree held in memory, storing every perfect subtree hash.
///
/// About 2 × 32 bytes per leaf (64 MiB for a million leaves); roots and proofs of any prefix
/// cost O(log n) lookups plus at most 64 hashes per non-perfect subtree.
#[derive(Clone, Default)]
pub struct Tree {
    /// `levels[l][i]` is the perfect subtree of `2^l` leaves starting at leaf `i << l`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tree with room for `leaves` leaves before reallocating.
    pub fn with_capacity(leaves: usize) -> Self {
        Self {
            levels: vec![Vec::with_capacity(leaves)],
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |leaves| leaves.len() as u64)
    }

    /// Appends a leaf by its hash; returns its index.
    pub fn push(&mut self, leaf_hash: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        let mut level = 0;
        let mut hash = leaf_hash;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(hash);
            let len = nodes.len();
            if len % 2 == 1 {
                break;
            }
            // The node just pushed completes a pair: its parent is now a perfect subtree.
            hash = Hash::node(&nodes[len - 2], &nodes[len - 1]);
            level += 1;
        }
        self.size() - 1
    }

    /// Appends a leaf by its data (hashed as SHA-256(0x00 || data)); returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.push(Hash::leaf(data))
    }

    /// Root of the whole tree.
    pub fn current_root(&self) -> Hash {
        self.frontier().root()
    }

    /// The compact form of the whole tree, for appending elsewhere without the leaves.
    pub fn frontier(&self) -> Frontier {
        let size = self.size();
        let mut hashes = Vec::new();
        let mut start = 0;
        for level in (0..u64::BITS).rev() {
            if size & (1 << level) != 0 {
                let index = (start >> level) as usize;
                // `levels[level]` holds every perfect subtree of that size, and this one ends at
                // or before `size`, so it is stored.
                hashes.push(self.levels[level as usize][index]);
                start += 1 << level;
            }
        }
        Frontier { size, hashes }
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree").field("size", &self.size()).finish()
    }
}

impl HashSource for Tree {
    type Error = MissingHash;

    fn size(&self) -> u64 {
        Tree::size(self)
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash, MissingHash> {
        self.subtree_hash(0, index)?
            .ok_or(MissingHash { level: 0, index })
    }

    fn subtree_hash(&self, level: u8, index: u64) -> Result<Option<Hash>, MissingHash> {
        Ok(self
            .levels
            .get(usize::from(level))
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied())
    }
}

/// Leaf hashes alone, e.g. a cache being re-verified; subtrees are recomputed.
impl HashSource for [Hash] {
    type Error = MissingHash;

    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash, MissingHash> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.get(i))
            .copied()
            .ok_or(MissingHash { level: 0, index })
    }
}

impl HashSource for Vec<Hash> {
    type Error = MissingHash;

    fn size(&self) -> u64 {
        self.as_slice().size()
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash, MissingHash> {
        self.as_slice().leaf_hash(index)
    }
}

/// The right border of a tree: one perfect-subtree hash per set bit of its size, largest first.
///
/// This is all a writer needs to append leaves and compute the new root (the server can keep it
/// in its tree-state row); at most 64 hashes whatever the size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier from stored parts, checking there is one hash per set bit of `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, FrontierError> {
        if size > MAX_FRONTIER_SIZE {
            return Err(FrontierError::SizeTooLarge(size));
        }
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(FrontierError::WrongHashCount {
                size,
                expected,
                actual: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// The frontier of the first `size` leaves of a source.
    pub fn from_source<S: HashSource + ?Sized>(
        source: &S,
        size: u64,
    ) -> Result<Self, TreeError<S::Error>> {
        check_size(source, size)?;
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..u64::BITS).rev() {
            if size & (1 << level) != 0 {
                // Levels are below 64, so they fit a u8.
                let level = level as u8;
                hashes
                    .push(perfect_hash(source, level, start >> level).map_err(TreeError::Source)?);
                start += 1 << level;
            }
        }
        Ok(Self { size, hashes })
    }

    /// Number of leaves covered.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree hashes, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf by its hash; returns its index.
    pub fn push(&mut self, leaf_hash: Hash) -> u64 {
        let index = self.size;
        let mut hash = leaf_hash;
        let mut carry = index;
        // Each trailing 1 bit of the old size is a perfect subtree that the new leaf completes.
        while carry & 1 == 1 {
            match self.hashes.pop() {
                Some(left) => hash = Hash::node(&left, &hash),
                // One hash per set bit is the type's invariant (checked in `from_parts`).
                None => unreachable!("frontier holds one hash per set bit of its size"),
            }
            carry >>= 1;
        }
        self.hashes.push(hash);
        // Sizes start at or below 2^63 (`from_parts`), and 2^63 more appends at a billion a
        // second take 292 years, so this cannot overflow.
        self.size = index + 1;
        index
    }

    /// Root of the tree this frontier describes.
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes)
    }
}

/// Largest size [`Frontier::from_parts`] accepts: no log gets near 2^63 entries, so a larger
/// stored size means corrupt state.
pub const MAX_FRONTIER_SIZE: u64 = 1 << 63;

/// Stored frontier parts that cannot describe a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrontierError {
    /// The number of hashes does not match the size.
    #[error(
        "a frontier for {size} leaves has {expected} hashes, not {actual}: the stored tree state is corrupt"
    )]
    WrongHashCount {
        /// The claimed size.
        size: u64,
        /// Hashes that size needs.
        expected: usize,
        /// Hashes supplied.
        actual: usize,
    },
    /// The size is beyond any real log.
    #[error("a stored tree size of {0} is beyond 2^63: the stored tree state is corrupt")]
    SizeTooLarge(u64),
}

fn check_size<S: HashSource + ?Sized>(source: &S, size: u64) -> Result<(), TreeError<S::Error>> {
    let available = source.size();
    if size > available {
        return Err(TreeError::SizeBeyondLog { size, available });
    }
    Ok(())
}

/// Largest power of two strictly below `n` (`n >= 2`): where RFC 6962 splits a tree.
fn split(n: u64) -> u64 {
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// MTH of leaves `[lo, hi)`, where `lo` is a multiple of the smallest power of two >= `hi - lo`
/// (true of every range a root or an RFC proof asks for).
fn range_hash<S: HashSource + ?Sized>(source: &S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    let mut parts = Vec::with_capacity((hi - lo).count_ones() as usize);
    let mut start = lo;
    let width = hi - lo;
    for level in (0..u64::BITS).rev() {
        if width & (1 << level) != 0 {
            debug_assert!(
                start.is_multiple_of(1 << level),
                "range [{lo}, {hi}) is not aligned"
            );
            // Levels are below 64, so they fit a u8.
            let level = level as u8;
            parts.push(perfect_hash(source, level, start >> level)?);
            start += 1 << level;
        }
    }
    Ok(fold_right(&parts))
}

/// Hash of a perfect subtree: stored if the source has it, else computed from its children.
fn perfect_hash<S: HashSource + ?Sized>(
    source: &S,
    level: u8,
    index: u64,
) -> Result<Hash, S::Error> {
    if level == 0 {
        return source.leaf_hash(index);
    }
    if let Some(hash) = source.subtree_hash(level, index)? {
        return Ok(hash);
    }
    let left = perfect_hash(source, level - 1, 2 * index)?;
    let right = perfect_hash(source, level - 1, 2 * index + 1)?;
    Ok(Hash::node(&left, &right))
}

/// MTH of consecutive perfect subtrees, largest first: `node(p0, node(p1, ... pk))`.
fn fold_right(parts: &[Hash]) -> Hash {
    match parts.split_last() {
        None => Hash::EMPTY,
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |acc, left| Hash::node(left, &acc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 §2.1 MTH, written as literally as possible.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => Hash::EMPTY,
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                Hash::node(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| Hash::leaf(&i.to_be_bytes())).collect()
    }

    #[test]
    fn every_prefix_root_matches_the_rfc_definition() {
        let all = leaves(130);
        let mut tree = Tree::new();
        let mut frontier = Frontier::new();
        for (i, leaf) in all.iter().enumerate() {
            assert_eq!(tree.push(*leaf), i as u64, "push returns the leaf's index");
            assert_eq!(
                frontier.push(*leaf),
                i as u64,
                "push returns the leaf's index"
            );
            let want = reference_root(&all[..=i]);
            assert_eq!(
                tree.current_root(),
                want,
                "tree root after {} leaves",
                i + 1
            );
            assert_eq!(
                frontier.root(),
                want,
                "frontier root after {} leaves",
                i + 1
            );
            assert_eq!(
                tree.frontier(),
                frontier,
                "tree and frontier agree at {}",
                i + 1
            );
        }
        for size in 0..=130u64 {
            let want = reference_root(&all[..size as usize]);
            assert_eq!(
                tree.root(size).expect("size is stored"),
                want,
                "root of prefix {size} from stored subtrees"
            );
            assert_eq!(
                all.root(size).expect("size is stored"),
                want,
                "root of prefix {size} from leaves only"
            );
            assert_eq!(
                Frontier::from_source(&tree, size)
                    .expect("size is stored")
                    .root(),
                want,
                "frontier rebuilt from the tree at {size}"
            );
        }
    }

    #[test]
    fn requests_beyond_the_store_are_errors() {
        let tree = {
            let mut t = Tree::new();
            for leaf in leaves(5) {
                t.push(leaf);
            }
            t
        };
        assert!(
            matches!(
                tree.root(6),
                Err(TreeError::SizeBeyondLog {
                    size: 6,
                    available: 5
                })
            ),
            "a root for leaves not stored must not be invented"
        );
        assert!(
            matches!(
                tree.inclusion_proof(5, 5),
                Err(TreeError::IndexOutOfRange { .. })
            ),
            "leaf 5 is not in a tree of 5"
        );
        assert!(
            matches!(
                tree.consistency_proof(4, 3),
                Err(TreeError::OldSizeAfterNew { .. })
            ),
            "trees only grow"
        );
        assert!(
            matches!(tree.consistency_proof(0, 3), Err(TreeError::EmptyOldTree)),
            "no proof from the empty tree"
        );
        assert_eq!(
            tree.consistency_proof(5, 5)
                .expect("equal sizes are fine")
                .path,
            Vec::<Hash>::new(),
            "equal sizes need an empty proof"
        );
        assert_eq!(
            Tree::new().current_root(),
            Hash::EMPTY,
            "an empty tree has the empty root"
        );
    }

    #[test]
    fn frontier_parts_are_checked() {
        assert!(
            matches!(
                Frontier::from_parts(3, vec![Hash::EMPTY]),
                Err(FrontierError::WrongHashCount { expected: 2, .. })
            ),
            "size 3 needs two hashes (2 + 1)"
        );
        assert_eq!(
            Frontier::from_parts(u64::MAX, vec![Hash::EMPTY; 64]),
            Err(FrontierError::SizeTooLarge(u64::MAX)),
            "a size no log reaches is corrupt state, refused before it can overflow"
        );
        let mut tree = Tree::new();
        for leaf in leaves(11) {
            tree.push(leaf);
        }
        let stored = tree.frontier();
        let mut restored =
            Frontier::from_parts(stored.size(), stored.hashes().to_vec()).expect("consistent");
        restored.push(Hash::leaf(b"next"));
        tree.push(Hash::leaf(b"next"));
        assert_eq!(
            restored.root(),
            tree.current_root(),
            "a restored frontier keeps appending like the full tree"
        );
    }
}
