//! Hedera keys: structure checks, signature-map checks, signature verification and key evaluation.
//!
//! Signatures cover the exact `bodyBytes` of a `SignedTransaction`: Ed25519 over the raw bytes, ECDSA
//! secp256k1 over keccak256 of them (64-byte r||s). A signature pair names its key by a prefix of the
//! public key's bytes; a map where one prefix is a prefix of another is refused (KEY_PREFIX_MISMATCH).

use std::collections::{HashMap, HashSet};

use ed25519_dalek::Verifier as _;
use hiero_sdk_proto::services::{self as pb, key::Key as K, signature_pair::Signature as S};
use k256::ecdsa::signature::hazmat::PrehashVerifier as _;
use prost::Message as _;
use sha3::Digest as _;

use crate::Code;

/// Hedera's limit on key nesting (KeyList / ThresholdKey inside each other).
pub const MAX_KEY_DEPTH: usize = 15;

/// A single public key: what a signature pair can activate.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Primitive {
    Ed25519([u8; 32]),
    /// Compressed SEC1 point, 33 bytes.
    Secp256k1(Vec<u8>),
}

impl Primitive {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Ed25519(b) => b,
            Self::Secp256k1(b) => b,
        }
    }

    pub fn to_key(&self) -> pb::Key {
        pb::Key {
            key: Some(match self {
                Self::Ed25519(b) => K::Ed25519(b.to_vec()),
                Self::Secp256k1(b) => K::EcdsaSecp256k1(b.clone()),
            }),
        }
    }

    /// The mirror node's `_type` for this key.
    pub fn mirror_type(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "ED25519",
            Self::Secp256k1(_) => "ECDSA_SECP256K1",
        }
    }
}

/// Checks a key's structure: Ed25519 keys of 32 bytes, secp256k1 keys as valid compressed points,
/// thresholds between 1 and the number of keys, lists not empty, nesting at most 15 deep. Keys the
/// simulator cannot evaluate (contract ids, RSA, ECDSA P-384) are refused rather than accepted and
/// never satisfiable.
pub fn is_valid(key: &pb::Key) -> bool {
    fn check(key: &pb::Key, depth: usize) -> bool {
        if depth > MAX_KEY_DEPTH {
            return false;
        }
        match &key.key {
            Some(K::Ed25519(b)) => {
                b.len() == 32 && ed25519_dalek::VerifyingKey::try_from(b.as_slice()).is_ok()
            }
            Some(K::EcdsaSecp256k1(b)) => {
                b.len() == 33 && k256::ecdsa::VerifyingKey::from_sec1_bytes(b).is_ok()
            }
            Some(K::KeyList(list)) => {
                !list.keys.is_empty() && list.keys.iter().all(|k| check(k, depth + 1))
            }
            Some(K::ThresholdKey(t)) => {
                let keys = t
                    .keys
                    .as_ref()
                    .map(|l| l.keys.as_slice())
                    .unwrap_or_default();
                !keys.is_empty()
                    && t.threshold >= 1
                    && t.threshold as usize <= keys.len()
                    && keys.iter().all(|k| check(k, depth + 1))
            }
            _ => false,
        }
    }
    check(key, 1)
}

/// An empty KeyList: HIP-540's way to remove a key in a TokenUpdate.
pub fn is_empty_list(key: &pb::Key) -> bool {
    matches!(&key.key, Some(K::KeyList(l)) if l.keys.is_empty())
}

pub fn primitive(key: &pb::Key) -> Option<Primitive> {
    match &key.key {
        Some(K::Ed25519(b)) => Some(Primitive::Ed25519(b.as_slice().try_into().ok()?)),
        Some(K::EcdsaSecp256k1(b)) if b.len() == 33 => Some(Primitive::Secp256k1(b.clone())),
        _ => None,
    }
}

/// Every primitive key inside `key`, each once.
pub fn primitives(key: &pb::Key, out: &mut Vec<Primitive>) {
    match &key.key {
        Some(K::KeyList(l)) => l.keys.iter().for_each(|k| primitives(k, out)),
        Some(K::ThresholdKey(t)) => t
            .keys
            .iter()
            .flat_map(|l| &l.keys)
            .for_each(|k| primitives(k, out)),
        _ => {
            if let Some(p) = primitive(key)
                && !out.contains(&p)
            {
                out.push(p);
            }
        }
    }
}

/// Whether `key` is satisfied when exactly the primitive keys for which `active` answers true have
/// signed. A KeyList needs every member; a ThresholdKey needs `threshold` distinct satisfied members:
/// the same key listed twice counts once.
pub fn is_satisfied(key: &pb::Key, active: &mut dyn FnMut(&Primitive) -> bool) -> bool {
    match &key.key {
        Some(K::KeyList(l)) => !l.keys.is_empty() && l.keys.iter().all(|k| is_satisfied(k, active)),
        Some(K::ThresholdKey(t)) => {
            let Some(list) = &t.keys else { return false };
            let mut counted: HashSet<Vec<u8>> = HashSet::new();
            for k in &list.keys {
                if is_satisfied(k, active) {
                    counted.insert(k.encode_to_vec());
                    if counted.len() >= t.threshold as usize {
                        return t.threshold >= 1;
                    }
                }
            }
            false
        }
        _ => primitive(key).is_some_and(|p| active(&p)),
    }
}

/// The signatures of one transaction, checked lazily: a pair is verified the first time a required key
/// asks for it, and the answer is kept.
#[derive(Debug)]
pub struct Signatures<'a> {
    body: &'a [u8],
    pairs: &'a [pb::SignaturePair],
    verified: HashMap<Primitive, bool>,
}

impl<'a> Signatures<'a> {
    /// Refuses a map whose prefixes overlap (one a prefix of another, or repeated).
    pub fn new(body: &'a [u8], map: Option<&'a pb::SignatureMap>) -> Result<Self, Code> {
        let pairs = map.map(|m| m.sig_pair.as_slice()).unwrap_or_default();
        let mut prefixes: Vec<&[u8]> = pairs.iter().map(|p| p.pub_key_prefix.as_slice()).collect();
        prefixes.sort_unstable();
        if prefixes.windows(2).any(|w| w[1].starts_with(w[0])) {
            return Err(Code::KeyPrefixMismatch);
        }
        if pairs.iter().any(|p| p.signature.is_none()) {
            return Err(Code::InvalidSignature);
        }
        Ok(Self {
            body,
            pairs,
            verified: HashMap::new(),
        })
    }

    /// Whether the map holds a valid signature by `key` over the body.
    pub fn is_active(&mut self, key: &Primitive) -> bool {
        if let Some(v) = self.verified.get(key) {
            return *v;
        }
        let ok = self
            .pairs
            .iter()
            .find(|p| key.bytes().starts_with(&p.pub_key_prefix))
            .is_some_and(|p| verify(key, self.body, p.signature.as_ref()));
        self.verified.insert(key.clone(), ok);
        ok
    }

    pub fn satisfies(&mut self, key: &pb::Key) -> bool {
        is_satisfied(key, &mut |p| self.is_active(p))
    }

    /// The primitive keys inside `key` that signed validly.
    #[allow(dead_code, reason = "kept for schedule work; nothing calls it yet")]
    pub fn active_in(&mut self, key: &pb::Key) -> Vec<Primitive> {
        let mut all = Vec::new();
        primitives(key, &mut all);
        all.retain(|p| self.is_active(p));
        all
    }

    pub fn pairs(&self) -> &[pb::SignaturePair] {
        self.pairs
    }
}

fn verify(key: &Primitive, body: &[u8], sig: Option<&S>) -> bool {
    match (key, sig) {
        (Primitive::Ed25519(pk), Some(S::Ed25519(sig))) => {
            let (Ok(vk), Ok(sig)) = (
                ed25519_dalek::VerifyingKey::from_bytes(pk),
                ed25519_dalek::Signature::from_slice(sig),
            ) else {
                return false;
            };
            vk.verify(body, &sig).is_ok()
        }
        (Primitive::Secp256k1(pk), Some(S::EcdsaSecp256k1(sig))) => {
            let (Ok(vk), Ok(sig)) = (
                k256::ecdsa::VerifyingKey::from_sec1_bytes(pk),
                k256::ecdsa::Signature::from_slice(sig),
            ) else {
                return false;
            };
            let digest = sha3::Keccak256::digest(body);
            vk.verify_prehash(&digest, &sig).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ed25519_dalek::Signer as _;

    use super::*;

    fn ed(seed: u8) -> (ed25519_dalek::SigningKey, pb::Key) {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let key = pb::Key {
            key: Some(K::Ed25519(sk.verifying_key().to_bytes().to_vec())),
        };
        (sk, key)
    }

    fn pair(sk: &ed25519_dalek::SigningKey, body: &[u8]) -> pb::SignaturePair {
        pb::SignaturePair {
            pub_key_prefix: sk.verifying_key().to_bytes().to_vec(),
            signature: Some(S::Ed25519(sk.sign(body).to_bytes().to_vec())),
        }
    }

    fn threshold(t: u32, keys: Vec<pb::Key>) -> pb::Key {
        pb::Key {
            key: Some(K::ThresholdKey(pb::ThresholdKey {
                threshold: t,
                keys: Some(pb::KeyList { keys }),
            })),
        }
    }

    #[test]
    fn threshold_counts_distinct_valid_signatures() {
        let body = b"body bytes";
        let (a, ka) = ed(1);
        let (b, kb) = ed(2);
        let (_c, kc) = ed(3);
        let key = threshold(2, vec![ka.clone(), kb, kc]);
        assert!(is_valid(&key));

        let two = pb::SignatureMap {
            sig_pair: vec![pair(&a, body), pair(&b, body)],
        };
        assert!(Signatures::new(body, Some(&two)).unwrap().satisfies(&key));

        let one = pb::SignatureMap {
            sig_pair: vec![pair(&a, body)],
        };
        assert!(!Signatures::new(body, Some(&one)).unwrap().satisfies(&key));

        // The same key listed twice in a 2-of-n still needs two different signers.
        let doubled = threshold(2, vec![ka.clone(), ka]);
        assert!(
            !Signatures::new(body, Some(&one))
                .unwrap()
                .satisfies(&doubled)
        );

        // A signature over other bytes does not count.
        let wrong = pb::SignatureMap {
            sig_pair: vec![pair(&a, b"other"), pair(&b, body)],
        };
        assert!(!Signatures::new(body, Some(&wrong)).unwrap().satisfies(&key));
    }

    #[test]
    fn overlapping_prefixes_are_refused() {
        let body = b"x";
        let (a, _) = ed(1);
        let mut short = pair(&a, body);
        short.pub_key_prefix.truncate(4);
        let map = pb::SignatureMap {
            sig_pair: vec![short, pair(&a, body)],
        };
        assert_eq!(
            Signatures::new(body, Some(&map)).unwrap_err(),
            Code::KeyPrefixMismatch
        );
        let dup = pb::SignatureMap {
            sig_pair: vec![pair(&a, body), pair(&a, body)],
        };
        assert_eq!(
            Signatures::new(body, Some(&dup)).unwrap_err(),
            Code::KeyPrefixMismatch
        );
    }

    #[test]
    fn secp256k1_signs_keccak_of_the_body() {
        use k256::ecdsa::signature::hazmat::PrehashSigner as _;
        let sk = k256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
        let pk = sk
            .verifying_key()
            .to_encoded_point(true)
            .as_bytes()
            .to_vec();
        let key = pb::Key {
            key: Some(K::EcdsaSecp256k1(pk.clone())),
        };
        assert!(is_valid(&key));
        let body = b"hedera body";
        let (sig, _): (k256::ecdsa::Signature, _) =
            sk.sign_prehash(&sha3::Keccak256::digest(body)).unwrap();
        let map = pb::SignatureMap {
            sig_pair: vec![pb::SignaturePair {
                pub_key_prefix: pk,
                signature: Some(S::EcdsaSecp256k1(sig.to_bytes().to_vec())),
            }],
        };
        assert!(Signatures::new(body, Some(&map)).unwrap().satisfies(&key));
        assert!(
            !Signatures::new(b"other", Some(&map))
                .unwrap()
                .satisfies(&key)
        );
    }

    #[test]
    fn malformed_keys_are_invalid() {
        assert!(!is_valid(&pb::Key {
            key: Some(K::Ed25519(vec![1; 31]))
        }));
        assert!(!is_valid(&pb::Key {
            key: Some(K::KeyList(pb::KeyList { keys: vec![] }))
        }));
        assert!(!is_valid(&threshold(0, vec![ed(1).1])));
        assert!(!is_valid(&threshold(2, vec![ed(1).1])));
        assert!(!is_valid(&pb::Key { key: None }));
        let mut deep = ed(1).1;
        for _ in 0..MAX_KEY_DEPTH {
            deep = pb::Key {
                key: Some(K::KeyList(pb::KeyList { keys: vec![deep] })),
            };
        }
        assert!(!is_valid(&deep));
    }
}
