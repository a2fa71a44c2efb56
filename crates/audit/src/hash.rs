//! SHA-256 hashes and the RFC 6962 §2.1 domain-separated leaf and node hashing.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

/// Bytes in a [`struct@Hash`].
pub const HASH_LEN: usize = 32;

/// A SHA-256 value: a leaf hash, an interior node hash or a tree root.
///
/// Text form (checkpoints, JSON, the UI) is standard padded base64, as in RFC 6962 APIs and
/// C2SP checkpoints. Parsing accepts exactly 32 bytes in canonical base64 and nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash([u8; HASH_LEN]);

impl Hash {
    /// Root of the empty tree: SHA-256 of no bytes (RFC 6962 §2.1, MTH({}) = SHA-256()).
    pub const EMPTY: Hash = Hash([
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9,
        0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
        0xb8, 0x55,
    ]);

    /// Wraps 32 bytes that already are a hash (read from storage or the wire).
    pub const fn from_bytes(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Leaf hash: SHA-256(0x00 || data).
    pub fn leaf(data: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update([0x00]);
        hasher.update(data);
        Self(hasher.finalize().into())
    }

    /// Interior node hash: SHA-256(0x01 || left || right).
    pub fn node(left: &Hash, right: &Hash) -> Self {
        let mut hasher = Sha256::new();
        hasher.update([0x01]);
        hasher.update(left.0);
        hasher.update(right.0);
        Self(hasher.finalize().into())
    }

    /// Lowercase hex, for logs and database debugging.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn to_tlog(self) -> tlog_tiles::Hash {
        tlog_tiles::Hash(self.0)
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        let array: [u8; HASH_LEN] = bytes.try_into().map_err(|_| HashError::WrongLength {
            actual: bytes.len(),
        })?;
        Ok(Self(array))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE64.encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

impl FromStr for Hash {
    type Err = HashError;

    /// Standard padded base64 of exactly 32 bytes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = BASE64.decode(s).map_err(|_| HashError::NotBase64)?;
        Self::try_from(bytes.as_slice())
    }
}

/// Bytes or text that are not a 32-byte hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The value has the wrong number of bytes.
    #[error(
        "a SHA-256 hash has 32 bytes, this one has {actual}: the data is truncated or is not a hash"
    )]
    WrongLength {
        /// How many bytes there were.
        actual: usize,
    },
    /// The text is not canonical standard base64.
    #[error("a hash must be written in standard padded base64 (44 characters ending in '=')")]
    NotBase64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_constant_is_sha256_of_nothing() {
        let computed: [u8; 32] = Sha256::digest([]).into();
        assert_eq!(
            Hash::EMPTY.as_bytes(),
            &computed,
            "RFC 6962 defines the empty tree's root as SHA-256 of the empty string"
        );
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        // RFC 6962 test data: the leaf hash of the empty string.
        assert_eq!(
            Hash::leaf(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "leaf hash is SHA-256(0x00 || data)"
        );
        let a = Hash::leaf(b"a");
        let b = Hash::leaf(b"b");
        let mut concatenated = Vec::new();
        concatenated.extend_from_slice(a.as_bytes());
        concatenated.extend_from_slice(b.as_bytes());
        assert_ne!(
            Hash::node(&a, &b),
            Hash::leaf(&concatenated),
            "a node must never equal a leaf over the same bytes (second-preimage defence)"
        );
    }

    #[test]
    fn text_form_round_trips_and_is_strict() {
        let h = Hash::leaf(b"x");
        assert_eq!(
            h.to_string().parse::<Hash>(),
            Ok(h),
            "base64 text must parse back to the same hash"
        );
        assert_eq!(
            "ZG9uJ3QgY2FyZSAx".parse::<Hash>(),
            Err(HashError::WrongLength { actual: 12 }),
            "12 bytes of valid base64 are not a hash"
        );
        let unpadded = h.to_string().trim_end_matches('=').to_owned();
        assert_eq!(
            unpadded.parse::<Hash>(),
            Err(HashError::NotBase64),
            "unpadded base64 is not the canonical form"
        );
        assert!(
            format!(" {h}").parse::<Hash>().is_err(),
            "surrounding whitespace is refused"
        );
    }
}
