//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4) and their strict verification.
//!
//! Verification checks the request (index < size, 0 < old <= new) and the exact proof length
//! here, so a bad proof gets a precise reason, then recomputes the roots with `tlog_tiles`
//! (a port of Go's `sumdb/tlog`, the ecosystem's reference). Nothing here panics on any input.

use crate::hash::Hash;

/// Proof that the leaf at `leaf_index` is in the tree of `tree_size` leaves (an RFC 6962 audit path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Position of the leaf, from 0.
    pub leaf_index: u64,
    /// Number of leaves in the tree the proof is for.
    pub tree_size: u64,
    /// Sibling hashes from the leaf's level up to the root.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf_hash` sits at `leaf_index` in the tree whose root is `root`.
    pub fn verify(&self, leaf_hash: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(self.leaf_index, self.tree_size, leaf_hash, &self.path, root)
    }
}

/// Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// Size of the earlier tree.
    pub old_size: u64,
    /// Size of the later tree.
    pub new_size: u64,
    /// Subtree hashes in RFC 9162 §2.1.4 order.
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that the tree with root `old_root` is a prefix of the tree with root `new_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        verify_consistency(self.old_size, self.new_size, old_root, new_root, &self.path)
    }
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
///
/// Fails for `leaf_index >= tree_size` (so always for an empty tree), for a path that is one
/// hash too long or too short, and when the recomputed root differs from `root`.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    let expected = inclusion_path_len(leaf_index, tree_size);
    if path.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            actual: path.len(),
        });
    }
    let path: Vec<tlog_tiles::Hash> = path.iter().map(|h| h.to_tlog()).collect();
    tlog_tiles::check_record(
        &path,
        tree_size,
        root.to_tlog(),
        leaf_index,
        leaf_hash.to_tlog(),
    )
    .map_err(|_| ProofError::RootMismatch)
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2).
///
/// Fails when `old_size > new_size`, when `old_size` is 0 (every tree extends the empty one, so
/// such a proof proves nothing: callers handle the empty tree themselves, as
/// [`crate::trust::check`] does), when equal sizes come with a non-empty path or different
/// roots, for a path of the wrong length, and when either recomputed root differs.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeAfterNew {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 {
        return Err(ProofError::EmptyOldTree);
    }
    let expected = consistency_path_len(old_size, new_size);
    if path.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            actual: path.len(),
        });
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let path: Vec<tlog_tiles::Hash> = path.iter().map(|h| h.to_tlog()).collect();
    tlog_tiles::check_tree(
        &path,
        new_size,
        new_root.to_tlog(),
        old_size,
        old_root.to_tlog(),
    )
    .map_err(|_| ProofError::RootMismatch)
}

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree (this includes every index of an empty tree).
    #[error(
        "leaf {index} is not in a tree of {size} leaves: the proof was requested for the wrong tree size"
    )]
    IndexOutOfRange {
        /// The leaf index asked about.
        index: u64,
        /// The tree size asked about.
        size: u64,
    },
    /// The "old" tree is larger than the "new" one.
    #[error("the old tree ({old} leaves) is larger than the new one ({new}): sizes are swapped")]
    OldSizeAfterNew {
        /// Old tree size.
        old: u64,
        /// New tree size.
        new: u64,
    },
    /// A consistency proof from the empty tree was asked for; it cannot prove anything.
    #[error(
        "a consistency proof from the empty tree proves nothing: trust starts at the first non-empty checkpoint"
    )]
    EmptyOldTree,
    /// The proof has more or fewer hashes than the tree shape requires (garbage added or removed).
    #[error(
        "the proof has {actual} hashes but this tree shape needs exactly {expected}: it is truncated or padded"
    )]
    WrongLength {
        /// Hashes the tree shape requires.
        expected: usize,
        /// Hashes received.
        actual: usize,
    },
    /// The hashes do not lead to the expected root(s): the log's history differs from what was shown.
    #[error("the proof does not lead to the expected root: the log or the proof has been altered")]
    RootMismatch,
}

/// Hashes in an inclusion path: one per level below the point where the paths to `index` and to
/// the last leaf diverge, plus one per left sibling on the right border above it.
/// Requires `index < size`.
pub(crate) fn inclusion_path_len(index: u64, size: u64) -> usize {
    let inner = bit_len(index ^ (size - 1));
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Hashes in a consistency path for `0 < old <= new` (transparency-dev/merkle's decomposition).
pub(crate) fn consistency_path_len(old: u64, new: u64) -> usize {
    if old == new {
        return 0;
    }
    let fork = bit_len((old - 1) ^ (new - 1));
    let border = (old - 1).checked_shr(fork).unwrap_or(0).count_ones();
    let shift = old.trailing_zeros();
    let inner = fork.saturating_sub(shift);
    // A perfect old tree is the verifier's own root; otherwise the proof starts with the root of
    // the old tree's rightmost perfect subtree.
    let seed = u32::from(!old.is_power_of_two());
    (seed + inner + border) as usize
}

fn bit_len(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lengths_match_the_rfc_examples() {
        // RFC 9162 §2.1.5: tree of 7 leaves.
        assert_eq!(
            inclusion_path_len(0, 7),
            3,
            "leaf a in 7 leaves needs b, h, l"
        );
        assert_eq!(inclusion_path_len(3, 7), 3, "leaf d needs c, g, l");
        assert_eq!(inclusion_path_len(4, 7), 3, "leaf e needs f, j, k");
        assert_eq!(inclusion_path_len(6, 7), 2, "leaf j needs i, k");
        assert_eq!(
            consistency_path_len(3, 7),
            4,
            "PROOF(3, D[7]) = [c, d, g, l]"
        );
        assert_eq!(consistency_path_len(4, 7), 1, "PROOF(4, D[7]) = [l]");
        assert_eq!(consistency_path_len(6, 7), 3, "PROOF(6, D[7]) = [i, j, k]");
        assert_eq!(inclusion_path_len(0, 1), 0, "a single leaf is its own root");
        assert_eq!(consistency_path_len(5, 5), 0, "equal trees need no proof");
    }

    #[test]
    fn extreme_sizes_do_not_panic() {
        let h = Hash::leaf(b"x");
        assert!(
            verify_inclusion(u64::MAX - 1, u64::MAX, &h, &[], &h).is_err(),
            "a huge tree with an empty path is rejected, not a panic"
        );
        assert!(
            verify_consistency(1, u64::MAX, &h, &h, &[h; 64]).is_err(),
            "wrong proof for a huge tree is rejected, not a panic"
        );
        assert_eq!(
            verify_inclusion(0, 0, &h, &[], &h),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 }),
            "nothing is included in the empty tree"
        );
        assert_eq!(
            verify_consistency(2, 1, &h, &h, &[]),
            Err(ProofError::OldSizeAfterNew { old: 2, new: 1 }),
            "a tree cannot shrink"
        );
        assert_eq!(
            verify_consistency(0, 5, &Hash::EMPTY, &h, &[]),
            Err(ProofError::EmptyOldTree),
            "a proof from size 0 proves nothing and is refused"
        );
    }
}
