//! Every inclusion and consistency proof for trees of 1 to 64 leaves: generated proofs equal the
//! RFC's recursive definitions and the reference Go port's, verify, and stop verifying when any
//! byte of any hash changes.

use gatehouse_audit::Hash;
use gatehouse_audit::proof::{ProofError, verify_consistency, verify_inclusion};
use gatehouse_audit::tree::{HashSource, Tree};

const MAX_SIZE: u64 = 64;

fn leaves(n: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| Hash::leaf(format!("entry {i}").as_bytes()))
        .collect()
}

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 9162 §2.1.1 MTH.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => Hash::EMPTY,
        1 => d[0],
        n => {
            let k = split(n);
            Hash::node(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]).
fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return Vec::new();
    }
    let k = split(d.len());
    let (mut p, sibling) = if m < k {
        (path(m, &d[..k]), mth(&d[k..]))
    } else {
        (path(m - k, &d[k..]), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b).
fn subproof(m: usize, d: &[Hash], complete: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if complete { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(n);
    let (mut p, sibling) = if m <= k {
        (subproof(m, &d[..k], complete), mth(&d[k..]))
    } else {
        (subproof(m - k, &d[k..], false), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

/// The Go port's stored-hash layout, to ask it for the same proofs.
struct GoStore(Vec<tlog_tiles::Hash>);

impl tlog_tiles::HashReader for GoStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn to_go(path: &[Hash]) -> Vec<tlog_tiles::Hash> {
    path.iter()
        .map(|h| tlog_tiles::Hash(*h.as_bytes()))
        .collect()
}

/// Every single-byte change to every hash of `path`.
fn tampered(path: &[Hash]) -> impl Iterator<Item = Vec<Hash>> + '_ {
    (0..path.len()).flat_map(move |i| {
        (0..32).map(move |byte| {
            let mut copy = path.to_vec();
            let mut bytes = *copy[i].as_bytes();
            bytes[byte] ^= 0x5a;
            copy[i] = Hash::from_bytes(bytes);
            copy
        })
    })
}

fn build() -> (Vec<Hash>, Tree, GoStore) {
    let all = leaves(MAX_SIZE);
    let mut tree = Tree::new();
    let mut go = GoStore(Vec::new());
    for (n, leaf) in all.iter().enumerate() {
        tree.push(*leaf);
        let stored = tlog_tiles::stored_hashes_for_record_hash(
            n as u64,
            tlog_tiles::Hash(*leaf.as_bytes()),
            &go,
        )
        .expect("the Go port reads its own store");
        go.0.extend(stored);
    }
    (all, tree, go)
}

#[test]
fn every_inclusion_proof_up_to_64_leaves() {
    let (all, tree, go) = build();
    let mut proofs = 0;
    let mut tampers = 0;
    for size in 1..=MAX_SIZE {
        let root = tree.root(size).expect("stored");
        assert_eq!(
            root,
            mth(&all[..size as usize]),
            "root of {size} is the RFC's MTH"
        );
        for index in 0..size {
            let leaf = all[index as usize];
            let proof = tree.inclusion_proof(index, size).expect("in range");
            assert_eq!(
                proof.path,
                path(index as usize, &all[..size as usize]),
                "inclusion({index}, {size}) is the RFC's PATH"
            );
            let go_proof = tlog_tiles::prove_record(size, index, &go).expect("Go port proves it");
            assert_eq!(
                to_go(&proof.path),
                go_proof,
                "inclusion({index}, {size}) matches the Go port"
            );
            assert_eq!(
                proof.verify(&leaf, &root),
                Ok(()),
                "inclusion({index}, {size}) verifies"
            );
            proofs += 1;

            for bad in tampered(&proof.path) {
                assert_eq!(
                    verify_inclusion(index, size, &leaf, &bad, &root),
                    Err(ProofError::RootMismatch),
                    "a changed byte in inclusion({index}, {size}) must break it"
                );
                tampers += 1;
            }
            let mut longer = proof.path.clone();
            longer.push(root);
            assert!(
                matches!(
                    verify_inclusion(index, size, &leaf, &longer, &root),
                    Err(ProofError::WrongLength { .. })
                ),
                "a padded proof is refused"
            );
            if let Some((_, shorter)) = proof.path.split_last() {
                assert!(
                    verify_inclusion(index, size, &leaf, shorter, &root).is_err(),
                    "a truncated proof is refused"
                );
            }
            let mut bad_leaf = *leaf.as_bytes();
            bad_leaf[0] ^= 1;
            assert!(
                verify_inclusion(index, size, &Hash::from_bytes(bad_leaf), &proof.path, &root)
                    .is_err(),
                "another leaf is not proven by this path"
            );
            if index + 1 < size {
                assert!(
                    verify_inclusion(index + 1, size, &leaf, &proof.path, &root).is_err(),
                    "the path proves position {index}, not {}",
                    index + 1
                );
            }
            if size < MAX_SIZE {
                // The size alone is not bound by the path (RFC 6962 relies on the signed
                // checkpoint pairing size and root), so pair it with the bigger tree's root.
                let bigger = tree.root(size + 1).expect("stored");
                assert!(
                    verify_inclusion(index, size + 1, &leaf, &proof.path, &bigger).is_err(),
                    "the path is for the tree of {size}, not {}",
                    size + 1
                );
            }
        }
    }
    assert_eq!(proofs, 64 * 65 / 2, "every (index, size) pair was covered");
    assert!(
        tampers > 100_000,
        "every byte of every proof was changed ({tampers})"
    );
}

#[test]
fn every_consistency_proof_up_to_64_leaves() {
    let (all, tree, go) = build();
    let mut proofs = 0;
    let mut tampers = 0;
    for new in 1..=MAX_SIZE {
        let new_root = tree.root(new).expect("stored");
        for old in 1..=new {
            let old_root = tree.root(old).expect("stored");
            let proof = tree.consistency_proof(old, new).expect("in range");
            let want = if old == new {
                Vec::new()
            } else {
                subproof(old as usize, &all[..new as usize], true)
            };
            assert_eq!(
                proof.path, want,
                "consistency({old}, {new}) is the RFC's PROOF"
            );
            let go_proof = tlog_tiles::prove_tree(new, old, &go).expect("Go port proves it");
            assert_eq!(
                to_go(&proof.path),
                go_proof,
                "consistency({old}, {new}) matches the Go port"
            );
            assert_eq!(
                proof.verify(&old_root, &new_root),
                Ok(()),
                "consistency({old}, {new}) verifies"
            );
            proofs += 1;

            for bad in tampered(&proof.path) {
                assert!(
                    verify_consistency(old, new, &old_root, &new_root, &bad).is_err(),
                    "a changed byte in consistency({old}, {new}) must break it"
                );
                tampers += 1;
            }
            let mut longer = proof.path.clone();
            longer.insert(0, old_root);
            assert!(
                matches!(
                    verify_consistency(old, new, &old_root, &new_root, &longer),
                    Err(ProofError::WrongLength { .. })
                ),
                "a proof with a hash in front is refused"
            );
            if let Some((_, shorter)) = proof.path.split_last() {
                assert!(
                    verify_consistency(old, new, &old_root, &new_root, shorter).is_err(),
                    "a truncated proof is refused"
                );
            }
            if old != new {
                assert!(
                    verify_consistency(old, new, &new_root, &old_root, &proof.path).is_err(),
                    "swapped roots are refused"
                );
                assert!(
                    verify_consistency(new, old, &old_root, &new_root, &proof.path).is_err(),
                    "swapped sizes are refused"
                );
            }
            for other in [Hash::leaf(b"forged"), Hash::EMPTY] {
                assert!(
                    verify_consistency(old, new, &other, &new_root, &proof.path).is_err(),
                    "a different old root is not consistent"
                );
                assert!(
                    verify_consistency(old, new, &old_root, &other, &proof.path).is_err(),
                    "a different new root is not consistent"
                );
            }
        }
    }
    assert_eq!(proofs, 64 * 65 / 2, "every (old, new) pair was covered");
    assert!(
        tampers > 100_000,
        "every byte of every proof was changed ({tampers})"
    );
}

#[test]
fn leaf_only_storage_gives_the_same_proofs() {
    let (all, tree, _) = build();
    for size in [1, 2, 3, 31, 32, 33, 63, 64] {
        assert_eq!(
            all.root(size).expect("stored"),
            tree.root(size).expect("stored"),
            "root {size}"
        );
        for index in [0, size / 2, size - 1] {
            assert_eq!(
                all.inclusion_proof(index, size).expect("stored"),
                tree.inclusion_proof(index, size).expect("stored"),
                "inclusion({index}, {size}) does not depend on stored subtrees"
            );
        }
        for old in [1, size / 2 + 1, size] {
            assert_eq!(
                all.consistency_proof(old, size).expect("stored"),
                tree.consistency_proof(old, size).expect("stored"),
                "consistency({old}, {size}) does not depend on stored subtrees"
            );
        }
    }
}

#[test]
fn random_garbage_never_panics() {
    // xorshift64*: deterministic, no dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let h = Hash::leaf(b"x");
    for _ in 0..20_000 {
        let a = next() >> (next() % 64);
        let b = next() >> (next() % 64);
        let path = vec![h; (next() % 70) as usize];
        // Any answer is fine; only a panic fails this test.
        let _ = verify_inclusion(a, b, &h, &path, &h);
        let _ = verify_consistency(a, b, &h, &h, &path);
    }
}
