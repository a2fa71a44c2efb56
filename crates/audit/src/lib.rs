//! The audit log's core, shared by `gatehouse-server` (which writes the log) and the console
//! (which checks it): an RFC 6962 Merkle tree, inclusion and consistency proofs, C2SP signed
//! checkpoints, the rule for trusting a new checkpoint, and the canonical leaf format.
//!
//! No I/O happens here. Storage plugs in through [`tree::HashSource`]; keys come in as bytes.
//!
//! ```
//! use gatehouse_audit::checkpoint::{Checkpoint, LogKey};
//! use gatehouse_audit::tree::{HashSource, Tree};
//! use gatehouse_audit::trust;
//!
//! let key = LogKey::generate("gatehouse.example/audit", &mut rand_core::OsRng)?;
//! let mut tree = Tree::new();
//! for entry in [b"first".as_slice(), b"second", b"third"] {
//!     tree.append(entry);
//! }
//! let first = Checkpoint::new("gatehouse.example/audit", 1, tree.root(1)?)?;
//! let latest = key.sign(&Checkpoint::new("gatehouse.example/audit", 3, tree.current_root())?)?;
//!
//! // The console: verify the note, then that size 3 extends the size 1 it already trusted.
//! let proof = tree.consistency_proof(1, 3)?;
//! let trusted = trust::accept(&key.verifier(), &first, latest.note(), &proof.path)?;
//!
//! // And that entry 2 is in it.
//! let inclusion = tree.inclusion_proof(2, 3)?;
//! inclusion.verify(&gatehouse_audit::Hash::leaf(b"third"), &trusted.checkpoint().root())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod checkpoint;
pub mod hash;
pub mod leaf;
pub mod proof;
pub mod tree;
pub mod trust;

pub use hash::Hash;
