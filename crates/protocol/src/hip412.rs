//! HIP-412 NFT metadata: the JSON document an NFT's on-chain `ipfs://` URI points at, checked
//! against the HIP-412 JSON Schema (`hip412.schema.json`, with the `jsonschema` crate), and the
//! URI's content identifier recomputed from the document's exact bytes.
//!
//! A CID can be recomputed here when it is a CIDv1 of the raw bytes with SHA-256 (what
//! `ipfs add --cid-version 1 --raw-leaves` makes for a file under one block, and what pinning
//! services make for small JSON). A CIDv0 (`Qm…`) or a dag-pb CID wraps the bytes in UnixFS blocks
//! and cannot be checked without rebuilding them: it is reported as not checkable, never as a match.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Multicodec of raw bytes.
const RAW: u64 = 0x55;
/// Multihash code of SHA-256.
const SHA2_256: u64 = 0x12;

/// Whether the on-chain URI names the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum CidCheck {
    /// The CID, recomputed from the document's bytes, is the one on chain.
    Matches {
        /// The CID.
        cid: String,
    },
    /// The URI is not `ipfs://`: nothing to recompute.
    NotIpfs,
    /// An `ipfs://` CID this code cannot recompute (CIDv0, dag-pb, another hash).
    NotCheckable {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for CidCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CidCheck::Matches { cid } => write!(f, "matches {cid}"),
            CidCheck::NotIpfs => f.write_str("not an ipfs:// URI"),
            CidCheck::NotCheckable { reason } => write!(f, "not checkable: {reason}"),
        }
    }
}

/// A document that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON.
    #[error("the metadata document is not JSON: {0}")]
    NotJson(String),
    /// JSON that breaks the HIP-412 schema.
    #[error("the metadata document breaks HIP-412 at {path}: {message}")]
    Schema {
        /// Where (a JSON pointer; empty for the document).
        path: String,
        /// What.
        message: String,
    },
    /// The URI's CID is not the document's.
    #[error(
        "the on-chain URI names CID {on_chain}, but the document's bytes hash to {computed}: it is not this document"
    )]
    CidMismatch {
        /// The CID in the URI.
        on_chain: String,
        /// The CID of the document.
        computed: String,
    },
    /// The URI's CID does not parse.
    #[error("the on-chain URI's CID does not parse: {0}")]
    BadCid(String),
}

/// A document that passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Checked {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: String,
    /// `type` (the image's MIME type).
    pub mime_type: String,
    /// `description`, when given.
    pub description: Option<String>,
    /// Whether the on-chain URI names this document.
    pub cid: CidCheck,
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(include_str!("hip412.schema.json"))
            .unwrap_or_else(|e| unreachable!("the bundled HIP-412 schema is JSON: {e}"));
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| unreachable!("the bundled HIP-412 schema is valid: {e}"))
    })
}

/// The CIDv1 (raw, SHA-256) of `bytes`, base32 as `ipfs add --cid-version 1 --raw-leaves` prints it.
pub fn raw_cid(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hash = cid::multihash::Multihash::<64>::wrap(SHA2_256, &digest)
        .unwrap_or_else(|_| unreachable!("a SHA-256 digest fits a 64-byte multihash"));
    cid::Cid::new_v1(RAW, hash).to_string()
}

/// Checks `document` (the exact bytes of the JSON file) against HIP-412 and against `on_chain`,
/// the NFT's on-chain metadata URI.
pub fn check(on_chain: &str, document: &[u8]) -> Result<Checked, Error> {
    let json: serde_json::Value =
        serde_json::from_slice(document).map_err(|e| Error::NotJson(e.to_string()))?;
    if let Some(first) = validator().iter_errors(&json).next() {
        return Err(Error::Schema {
            path: first.instance_path().to_string(),
            message: first.to_string(),
        });
    }
    let text = |key: &str| json[key].as_str().map(str::to_owned);
    let cid = match on_chain.strip_prefix("ipfs://") {
        None => CidCheck::NotIpfs,
        Some(rest) => {
            let named = rest.split('/').next().unwrap_or_default();
            let parsed = cid::Cid::try_from(named).map_err(|e| Error::BadCid(e.to_string()))?;
            if parsed.version() == cid::Version::V0 {
                CidCheck::NotCheckable {
                    reason: "a CIDv0 (Qm…) wraps the file in UnixFS blocks; use a CIDv1 of the raw bytes (ipfs add --cid-version 1 --raw-leaves)".to_owned(),
                }
            } else if parsed.codec() != RAW || parsed.hash().code() != SHA2_256 {
                CidCheck::NotCheckable {
                    reason: format!(
                        "the CID's codec 0x{:x} / hash 0x{:x} is not raw SHA-256",
                        parsed.codec(),
                        parsed.hash().code()
                    ),
                }
            } else if rest.contains('/') {
                CidCheck::NotCheckable {
                    reason: "the URI names a file inside a directory CID".to_owned(),
                }
            } else {
                let computed = raw_cid(document);
                let digest = Sha256::digest(document);
                if parsed.hash().digest() != digest.as_slice() {
                    return Err(Error::CidMismatch {
                        on_chain: named.to_owned(),
                        computed,
                    });
                }
                CidCheck::Matches { cid: computed }
            }
        }
    };
    Ok(Checked {
        name: text("name").unwrap_or_default(),
        image: text("image").unwrap_or_default(),
        mime_type: text("type").unwrap_or_default(),
        description: text("description"),
        cid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &[u8] = br#"{"name":"Gate #1","image":"ipfs://bafkreiimage","type":"image/png","description":"the first","attributes":[{"trait_type":"rarity","value":"rare"}]}"#;

    #[test]
    fn a_good_document_under_its_own_cid_matches() {
        let uri = format!("ipfs://{}", raw_cid(DOC));
        assert!(uri.starts_with("ipfs://bafkrei"), "{uri}");
        let checked = check(&uri, DOC).expect("valid");
        assert_eq!(checked.name, "Gate #1");
        assert!(matches!(checked.cid, CidCheck::Matches { .. }));
    }

    #[test]
    fn another_documents_cid_is_a_mismatch() {
        let uri = format!("ipfs://{}", raw_cid(b"something else"));
        assert!(matches!(check(&uri, DOC), Err(Error::CidMismatch { .. })));
    }

    #[test]
    fn schema_violations_name_the_place() {
        let missing = br#"{"name":"x","image":"ipfs://y"}"#;
        let e = check("https://example.com/1.json", missing).expect_err("no type");
        assert!(matches!(e, Error::Schema { .. }), "{e}");
        let bad_attribute =
            br#"{"name":"x","image":"y","type":"image/png","attributes":[{"value":1}]}"#;
        match check("https://e/1", bad_attribute).expect_err("no trait_type") {
            Error::Schema { path, .. } => assert_eq!(path, "/attributes/0"),
            other => panic!("{other}"),
        }
        assert!(matches!(check("x", b"{nope"), Err(Error::NotJson(_))));
    }

    #[test]
    fn cids_that_cannot_be_recomputed_say_so() {
        let v0 = "ipfs://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
        let checked = check(v0, DOC).expect("valid document");
        assert!(matches!(checked.cid, CidCheck::NotCheckable { .. }));
        assert_eq!(
            check("https://e/1.json", DOC).expect("valid").cid,
            CidCheck::NotIpfs
        );
        assert!(matches!(
            check("ipfs://not-a-cid", DOC),
            Err(Error::BadCid(_))
        ));
    }
}
