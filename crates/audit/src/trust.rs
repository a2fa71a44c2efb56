//! The rule for moving trust from one checkpoint to the next: same log, never backwards, never
//! two roots for one size, and a consistency proof between them.
//!
//! The server applies [`check`] before it signs a new checkpoint; the console applies [`accept`]
//! before it stores one it received, and raises the alarm on any [`Rejection`].

use crate::checkpoint::{Checkpoint, CheckpointError, LogVerifier, SignedCheckpoint};
use crate::hash::Hash;
use crate::proof::{self, ProofError};

/// Decides whether `candidate` may follow `trusted`; `proof` is the consistency proof from
/// `trusted.size()` to `candidate.size()` (empty when the sizes are equal or `trusted` is empty).
pub fn check(
    trusted: &Checkpoint,
    candidate: &Checkpoint,
    proof: &[Hash],
) -> Result<(), Rejection> {
    if candidate.origin() != trusted.origin() {
        return Err(Rejection::OriginChanged {
            trusted: trusted.origin().to_owned(),
            candidate: candidate.origin().to_owned(),
        });
    }
    if candidate.size() < trusted.size() {
        return Err(Rejection::SizeWentBackwards {
            trusted: trusted.size(),
            candidate: candidate.size(),
        });
    }
    if candidate.size() == trusted.size() && candidate.root() != trusted.root() {
        return Err(Rejection::SameSizeDifferentRoot {
            size: trusted.size(),
            trusted: trusted.root(),
            candidate: candidate.root(),
        });
    }
    if trusted.size() == 0 {
        // Every tree extends the empty one (whose root `Checkpoint` guarantees); a proof has
        // nothing to show, so anything sent as one is garbage.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(Rejection::ProofInvalid(ProofError::WrongLength {
                expected: 0,
                actual: proof.len(),
            }))
        };
    }
    proof::verify_consistency(
        trusted.size(),
        candidate.size(),
        &trusted.root(),
        &candidate.root(),
        proof,
    )
    .map_err(Rejection::ProofInvalid)
}

/// Verifies a received signed note with the log's key, then applies [`check`] against the last
/// trusted checkpoint. Returns the checkpoint to trust from now on.
pub fn accept(
    verifier: &LogVerifier,
    trusted: &Checkpoint,
    note: &str,
    proof: &[Hash],
) -> Result<SignedCheckpoint, Rejection> {
    let signed = verifier.verify(note).map_err(|err| match err {
        // The verifier only accepts its own origin; report a moved log as such.
        CheckpointError::OriginMismatch { origin, .. } => Rejection::OriginChanged {
            trusted: trusted.origin().to_owned(),
            candidate: origin,
        },
        other => Rejection::SignatureInvalid(other),
    })?;
    check(trusted, signed.checkpoint(), proof)?;
    Ok(signed)
}

/// Why a new checkpoint cannot follow the trusted one. Every variant is an alarm: the log, its
/// key or the network path to it is not behaving as an append-only log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The note is not validly signed by the log's key (or is not a checkpoint at all).
    #[error("the new checkpoint's signature is not valid: {0}")]
    SignatureInvalid(#[source] CheckpointError),
    /// The checkpoint belongs to a different log.
    #[error(
        "the checkpoint is for log {candidate:?}, not {trusted:?}: the console is talking to another log"
    )]
    OriginChanged {
        /// The trusted origin.
        trusted: String,
        /// The new checkpoint's origin.
        candidate: String,
    },
    /// The log got smaller: entries were removed.
    #[error(
        "the log shrank from {trusted} to {candidate} entries: history was removed or rolled back"
    )]
    SizeWentBackwards {
        /// Trusted size.
        trusted: u64,
        /// New size.
        candidate: u64,
    },
    /// Two different roots for the same size: a fork (split view) of the log.
    #[error(
        "two different roots for size {size} ({trusted} then {candidate}): the log presented a forked history"
    )]
    SameSizeDifferentRoot {
        /// The size both claim.
        size: u64,
        /// Trusted root.
        trusted: Hash,
        /// New root.
        candidate: Hash,
    },
    /// The consistency proof does not show the old tree is a prefix of the new one.
    #[error("the consistency proof does not hold: {0}")]
    ProofInvalid(#[source] ProofError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::LogKey;
    use crate::tree::{HashSource, Tree};

    const ORIGIN: &str = "gatehouse.example/audit";

    fn tree(n: u64) -> Tree {
        let mut tree = Tree::new();
        for i in 0..n {
            tree.append(&i.to_be_bytes());
        }
        tree
    }

    fn checkpoint(tree: &Tree, size: u64) -> Checkpoint {
        Checkpoint::new(ORIGIN, size, tree.root(size).expect("stored")).expect("valid")
    }

    #[test]
    fn growth_with_a_valid_proof_is_accepted() {
        let t = tree(20);
        let key = LogKey::from_secret_bytes(ORIGIN, &[1; 32]).expect("valid");
        let old = checkpoint(&t, 7);
        let new = key.sign(&checkpoint(&t, 20)).expect("signs");
        let proof = t.consistency_proof(7, 20).expect("stored").path;
        assert_eq!(
            accept(&key.verifier(), &old, new.note(), &proof),
            Ok(new),
            "a signed, consistent, larger checkpoint is the new trusted one"
        );
        assert_eq!(
            check(&old, &old, &[]),
            Ok(()),
            "seeing the same checkpoint again is fine"
        );
        let empty = checkpoint(&t, 0);
        assert_eq!(
            check(&empty, &checkpoint(&t, 5), &[]),
            Ok(()),
            "any tree extends the empty tree"
        );
    }

    #[test]
    fn each_violation_has_its_own_reason() {
        let t = tree(20);
        let other = tree(21);
        let old = checkpoint(&t, 10);
        let proof = t.consistency_proof(10, 20).expect("stored").path;
        assert!(
            matches!(
                check(&old, &checkpoint(&t, 9), &[]),
                Err(Rejection::SizeWentBackwards {
                    trusted: 10,
                    candidate: 9
                })
            ),
            "shrinking is its own alarm"
        );
        let mut forked = Tree::new();
        for i in 0..10u64 {
            forked.append(&(i + 100).to_be_bytes());
        }
        assert!(
            matches!(
                check(&old, &checkpoint(&forked, 10), &[]),
                Err(Rejection::SameSizeDifferentRoot { size: 10, .. })
            ),
            "a second root for one size is a fork"
        );
        let moved = Checkpoint::new("elsewhere.example/log", 20, t.current_root()).expect("valid");
        assert!(
            matches!(
                check(&old, &moved, &proof),
                Err(Rejection::OriginChanged { .. })
            ),
            "another log's checkpoint never follows ours"
        );
        let mut rewritten = Tree::new();
        for i in 0..20u64 {
            rewritten.append(&(i * 3).to_be_bytes());
        }
        assert!(
            matches!(
                check(&old, &checkpoint(&rewritten, 20), &proof),
                Err(Rejection::ProofInvalid(_))
            ),
            "a new root that does not extend the old tree fails the proof"
        );
        assert!(
            matches!(
                check(&old, &checkpoint(&other, 20), &[]),
                Err(Rejection::ProofInvalid(_))
            ),
            "growth without a proof is refused"
        );
        assert!(
            matches!(
                check(&checkpoint(&t, 0), &old, &proof),
                Err(Rejection::ProofInvalid(ProofError::WrongLength {
                    expected: 0,
                    ..
                }))
            ),
            "garbage sent as a proof from the empty tree is refused"
        );
    }

    #[test]
    fn signature_problems_are_reported_as_such() {
        let t = tree(20);
        let key = LogKey::from_secret_bytes(ORIGIN, &[1; 32]).expect("valid");
        let wrong_key = LogKey::from_secret_bytes(ORIGIN, &[2; 32]).expect("valid");
        let old = checkpoint(&t, 10);
        let new = wrong_key.sign(&checkpoint(&t, 20)).expect("signs");
        let proof = t.consistency_proof(10, 20).expect("stored").path;
        assert!(
            matches!(
                accept(&key.verifier(), &old, new.note(), &proof),
                Err(Rejection::SignatureInvalid(
                    CheckpointError::NotSignedByLog { .. }
                ))
            ),
            "a checkpoint signed by another key is not trusted however consistent it is"
        );
        let foreign_key =
            LogKey::from_secret_bytes("elsewhere.example/log", &[1; 32]).expect("valid");
        let foreign = foreign_key
            .sign(&Checkpoint::new("elsewhere.example/log", 20, t.current_root()).expect("valid"))
            .expect("signs");
        assert!(
            matches!(
                accept(&key.verifier(), &old, foreign.note(), &proof),
                Err(Rejection::SignatureInvalid(
                    CheckpointError::NotSignedByLog { .. }
                ))
            ),
            "another log's key name is unknown to this verifier"
        );
    }
}
