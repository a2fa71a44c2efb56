//! The audit log's wire types: what `gatehouse-server` sends and the clients read, defined once.

use serde::{Deserialize, Serialize};

/// `GET /v1/audit/checkpoint`: the latest checkpoint and the key that signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointView {
    /// The C2SP signed note, or null before the first entry.
    pub note: Option<String>,
    /// The log's verifier key (`name+keyid+base64key`), to pin at first use.
    pub verifier: String,
}

/// One canonical leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryView {
    /// Index in the log.
    pub index: u64,
    /// The canonical leaf bytes, base64.
    pub leaf: String,
}

/// A Merkle proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProofView {
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The leaf index (inclusion) or the older size (consistency).
    pub from: u64,
    /// The proof's hashes, base64 (as checkpoint roots are), in RFC 9162 order.
    pub hashes: Vec<String>,
    /// The entry, for inclusion proofs.
    pub entry: Option<EntryView>,
}

/// `POST /v1/audit/search`: a personal value to look up (in a body, so it never appears in a
/// URL or an access log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchRequest {
    /// The commitment tag, e.g. `client-ip`.
    pub tag: String,
    /// The value to find.
    pub value: String,
}

/// Entries whose personal data matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResult {
    /// Matching entry indices, ascending.
    pub indices: Vec<u64>,
}

/// The personal data behind one commitment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrivateView {
    /// The commitment's tag.
    pub tag: String,
    /// The salt, hex; null once erased.
    pub salt: Option<String>,
    /// The value; null once erased.
    pub value: Option<String>,
    /// When it was erased (RFC 3339).
    pub erased_at: Option<String>,
}

/// `POST /v1/audit/erase`: what to erase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EraseRequest {
    /// The entry.
    pub index: u64,
    /// The commitment tag whose value and salt are erased.
    pub tag: String,
}

/// The entry that records an erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Erased {
    /// Index of the `audit.erase` entry.
    pub erasure_index: u64,
}
