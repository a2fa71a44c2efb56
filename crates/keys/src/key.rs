//! Keys as this crate sees them: algorithms, ids, public keys and signatures, checked once when
//! they enter (from a device or a file) so the rest of the code can trust them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sha3::Keccak256;

/// A signature algorithm a device key can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Algorithm {
    /// Ed25519 (PureEdDSA): Hedera keys. Signs the message itself.
    Ed25519,
    /// ECDSA on NIST P-256 with SHA-256: TLS client keys. The message is hashed with SHA-256 on
    /// the host and the digest signed.
    EcdsaP256,
    /// ECDSA on secp256k1 with Keccak-256: Hedera ECDSA keys. The message is hashed with
    /// Keccak-256 on the host (Hedera's rule) and the digest signed; signatures are low-S.
    EcdsaSecp256k1,
}

impl Algorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::Ed25519,
        Algorithm::EcdsaP256,
        Algorithm::EcdsaSecp256k1,
    ];

    /// The digest a device signs for `message`: the message itself for Ed25519, SHA-256 for
    /// P-256, Keccak-256 for secp256k1.
    pub fn prepare(self, message: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Ed25519 => message.to_vec(),
            Algorithm::EcdsaP256 => Sha256::digest(message).to_vec(),
            Algorithm::EcdsaSecp256k1 => Keccak256::digest(message).to_vec(),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::EcdsaP256 => "ECDSA P-256",
            Algorithm::EcdsaSecp256k1 => "ECDSA secp256k1",
        })
    }
}

/// A key's id on its device (PKCS#11 `CKA_ID`); shown and parsed as hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(Vec<u8>);

impl Id {
    /// Wraps raw id bytes.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A fresh random 16-byte id.
    pub fn random() -> Self {
        let mut bytes = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        Self(bytes.to_vec())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key::Id({self})")
    }
}

impl FromStr for Id {
    type Err = hex::FromHexError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        hex::decode(s).map(Self)
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What to generate: an algorithm and a label people will recognise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The label stored with the key (PKCS#11 `CKA_LABEL`).
    pub label: String,
}

impl Request {
    /// A request for a key of `algorithm` labelled `label`.
    pub fn new(algorithm: Algorithm, label: impl Into<String>) -> Self {
        Self {
            algorithm,
            label: label.into(),
        }
    }
}

/// A key a device holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Its id on the device.
    pub id: Id,
    /// Its label.
    pub label: String,
    /// Its public key (which also tells the algorithm).
    pub public_key: PublicKey,
}

impl Info {
    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.public_key.algorithm()
    }
}

/// Why bytes are not a public key or signature of the stated algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(String);

/// A public key, checked to be a valid point of its algorithm's curve.
///
/// Ed25519 keys are the 32-byte encoding; ECDSA keys the 65-byte uncompressed SEC1 point.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey {
    algorithm: Algorithm,
    #[serde(with = "hex_bytes")]
    bytes: Vec<u8>,
}

impl PublicKey {
    /// Checks `bytes` as a public key of `algorithm`. ECDSA keys may be compressed (33 bytes);
    /// they are kept uncompressed.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, Invalid> {
        let bytes = match algorithm {
            Algorithm::Ed25519 => {
                let array: [u8; 32] = bytes.try_into().map_err(|_| {
                    Invalid(format!(
                        "an Ed25519 public key is 32 bytes, not {}",
                        bytes.len()
                    ))
                })?;
                ed25519_dalek::VerifyingKey::from_bytes(&array)
                    .map_err(|_| Invalid("not a valid Ed25519 point".to_owned()))?;
                array.to_vec()
            }
            Algorithm::EcdsaP256 => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                p256::PublicKey::from_sec1_bytes(bytes)
                    .map_err(|_| Invalid("not a valid P-256 point".to_owned()))?
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec()
            }
            Algorithm::EcdsaSecp256k1 => {
                use k256::elliptic_curve::sec1::ToEncodedPoint;
                k256::PublicKey::from_sec1_bytes(bytes)
                    .map_err(|_| Invalid("not a valid secp256k1 point".to_owned()))?
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec()
            }
        };
        Ok(Self { algorithm, bytes })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The raw key: 32 bytes (Ed25519) or a 65-byte uncompressed point (ECDSA).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The 33-byte compressed point of an ECDSA key (what Hedera shows for secp256k1 keys);
    /// `None` for Ed25519.
    pub fn compressed(&self) -> Option<Vec<u8>> {
        let (&last_y, x) = match self.algorithm {
            Algorithm::Ed25519 => return None,
            Algorithm::EcdsaP256 | Algorithm::EcdsaSecp256k1 => {
                (self.bytes.last()?, self.bytes.get(1..33)?)
            }
        };
        let mut out = Vec::with_capacity(33);
        out.push(if last_y & 1 == 0 { 0x02 } else { 0x03 });
        out.extend_from_slice(x);
        Some(out)
    }

    /// Checks that `signature` is this key's signature over `message`, by the algorithm's own
    /// rule (Ed25519 over the message; ECDSA over its SHA-256 or Keccak-256 digest, as
    /// [`Algorithm::prepare`] says). A device's answer is never trusted without this.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), Invalid> {
        let bad = |what: &str| Invalid(format!("the {} signature {what}", self.algorithm));
        if signature.algorithm() != self.algorithm {
            return Err(bad("was made by another algorithm"));
        }
        match self.algorithm {
            Algorithm::Ed25519 => {
                let key: [u8; 32] = self
                    .bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| bad("key is malformed"))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
                    .map_err(|_| bad("key is malformed"))?;
                let sig = ed25519_dalek::Signature::from_slice(signature.as_bytes())
                    .map_err(|_| bad("is malformed"))?;
                key.verify_strict(message, &sig)
                    .map_err(|_| bad("does not verify"))
            }
            Algorithm::EcdsaP256 => {
                use p256::ecdsa::signature::hazmat::PrehashVerifier;
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&self.bytes)
                    .map_err(|_| bad("key is malformed"))?;
                let sig = p256::ecdsa::Signature::from_slice(signature.as_bytes())
                    .map_err(|_| bad("is malformed"))?;
                key.verify_prehash(&self.algorithm.prepare(message), &sig)
                    .map_err(|_| bad("does not verify"))
            }
            Algorithm::EcdsaSecp256k1 => {
                use k256::ecdsa::signature::hazmat::PrehashVerifier;
                let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(&self.bytes)
                    .map_err(|_| bad("key is malformed"))?;
                let sig = k256::ecdsa::Signature::from_slice(signature.as_bytes())
                    .map_err(|_| bad("is malformed"))?;
                key.verify_prehash(&self.algorithm.prepare(message), &sig)
                    .map_err(|_| bad("does not verify"))
            }
        }
    }

    /// The X.509 SubjectPublicKeyInfo (DER) for certificates and TLS.
    pub fn spki_der(&self) -> Vec<u8> {
        // Fixed DER prefixes: SEQUENCE { AlgorithmIdentifier, BIT STRING header }; the key follows.
        const ED25519: &[u8] = &[
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        const P256: &[u8] = &[
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ];
        const SECP256K1: &[u8] = &[
            0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
            0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
        ];
        let prefix = match self.algorithm {
            Algorithm::Ed25519 => ED25519,
            Algorithm::EcdsaP256 => P256,
            Algorithm::EcdsaSecp256k1 => SECP256K1,
        };
        [prefix, &self.bytes].concat()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({} {})",
            self.algorithm,
            hex::encode(&self.bytes)
        )
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.algorithm, hex::encode(&self.bytes))
    }
}

/// A signature made by a device key.
///
/// Ed25519: the 64-byte signature. ECDSA: the 64-byte `r || s` (what PKCS#11 `CKM_ECDSA`
/// returns and Hedera expects); [`Signature::to_der`] gives the DER form TLS needs.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    algorithm: Algorithm,
    bytes: Vec<u8>,
}

impl Signature {
    /// Checks the length of a raw signature of `algorithm`. A secp256k1 signature is brought to
    /// low-S form (Hedera, like Ethereum, rejects high-S signatures).
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Result<Self, Invalid> {
        if bytes.len() != 64 {
            return Err(Invalid(format!(
                "a raw {algorithm} signature is 64 bytes, not {}",
                bytes.len()
            )));
        }
        let bytes = match algorithm {
            Algorithm::EcdsaSecp256k1 => {
                let signature = k256::ecdsa::Signature::from_slice(bytes)
                    .map_err(|_| Invalid("r or s is out of range".to_owned()))?;
                signature
                    .normalize_s()
                    .unwrap_or(signature)
                    .to_bytes()
                    .to_vec()
            }
            Algorithm::Ed25519 | Algorithm::EcdsaP256 => bytes.to_vec(),
        };
        Ok(Self { algorithm, bytes })
    }

    /// The algorithm that made it.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The raw signature (64 bytes; `r || s` for ECDSA).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The DER `SEQUENCE { INTEGER r, INTEGER s }` of an ECDSA signature, as TLS and X.509
    /// carry it; `None` for Ed25519, whose signature has a single encoding.
    pub fn to_der(&self) -> Option<Vec<u8>> {
        if self.algorithm == Algorithm::Ed25519 {
            return None;
        }
        let (r, s) = self.bytes.split_at(self.bytes.len() / 2);
        let mut body = Vec::with_capacity(70);
        der_integer(&mut body, r);
        der_integer(&mut body, s);
        // Two 33-byte INTEGERs with headers are at most 70 bytes: a short-form length suffices.
        let mut out = Vec::with_capacity(body.len() + 2);
        out.push(0x30);
        out.push(body.len() as u8);
        out.extend_from_slice(&body);
        Some(out)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({} {})",
            self.algorithm,
            hex::encode(&self.bytes)
        )
    }
}

/// Appends a DER INTEGER holding the unsigned big-endian `value`.
fn der_integer(out: &mut Vec<u8>, value: &[u8]) {
    let first = value.iter().position(|&b| b != 0).unwrap_or(value.len());
    let trimmed = &value[first..];
    out.push(0x02);
    match trimmed.first() {
        None => {
            out.push(1);
            out.push(0);
        }
        Some(&high) if high & 0x80 != 0 => {
            out.push(trimmed.len() as u8 + 1);
            out.push(0);
            out.extend_from_slice(trimmed);
        }
        Some(_) => {
            out.push(trimmed.len() as u8);
            out.extend_from_slice(trimmed);
        }
    }
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_encoding_matches_an_independent_parser() {
        // r with the high bit set (needs a 0x00 pad), s with leading zero bytes (must be trimmed).
        let mut raw = [0u8; 64];
        raw[0] = 0xff;
        raw[31] = 0x01;
        raw[34] = 0x42;
        raw[63] = 0x07;
        let signature = Signature::from_bytes(Algorithm::EcdsaP256, &raw).expect("64 bytes");
        let der = signature.to_der().expect("ECDSA has a DER form");
        let parsed = p256::ecdsa::Signature::from_der(&der)
            .expect("p256 must accept our DER as a valid ECDSA signature");
        assert_eq!(
            parsed.to_bytes().as_slice(),
            &raw[..],
            "DER must carry exactly r and s"
        );
        assert!(
            Signature::from_bytes(Algorithm::Ed25519, &raw)
                .expect("64 bytes")
                .to_der()
                .is_none(),
            "Ed25519 has no DER form"
        );
    }

    #[test]
    fn secp256k1_signatures_are_low_s() {
        use k256::elliptic_curve::PrimeField;
        // s = n - 1 is as high as s gets; its low form is 1.
        let order_minus_one = k256::Scalar::ZERO - k256::Scalar::ONE;
        let mut raw = [0u8; 64];
        raw[31] = 5;
        raw[32..].copy_from_slice(&order_minus_one.to_repr());
        let signature = Signature::from_bytes(Algorithm::EcdsaSecp256k1, &raw).expect("in range");
        assert_eq!(
            signature.as_bytes()[63],
            1,
            "a high s must be replaced by n - s, which Hedera accepts"
        );
        assert_eq!(signature.as_bytes()[31], 5, "r is left alone");
    }

    #[test]
    fn public_keys_are_checked_and_encoded() {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).expect("a valid scalar");
        let point = {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            secret.public_key().to_encoded_point(true)
        };
        let key = PublicKey::from_bytes(Algorithm::EcdsaP256, point.as_bytes())
            .expect("a compressed point is accepted");
        assert_eq!(key.as_bytes().len(), 65, "points are kept uncompressed");
        assert_eq!(
            key.compressed().as_deref(),
            Some(point.as_bytes()),
            "compressing gives back the original encoding"
        );
        let spki = {
            use p256::pkcs8::EncodePublicKey;
            secret
                .public_key()
                .to_public_key_der()
                .expect("p256 encodes SPKI")
        };
        assert_eq!(
            key.spki_der(),
            spki.as_bytes(),
            "our SPKI must equal p256's byte for byte"
        );
        assert!(
            PublicKey::from_bytes(Algorithm::EcdsaP256, &[4u8; 65]).is_err(),
            "bytes off the curve are refused"
        );
        assert!(
            PublicKey::from_bytes(Algorithm::Ed25519, &[1u8; 31]).is_err(),
            "a short Ed25519 key is refused"
        );
    }

    #[test]
    fn ids_round_trip_as_hex() {
        let id = Id::from_bytes(vec![0xde, 0xad, 0x01]);
        assert_eq!(id.to_string(), "dead01", "ids show as lowercase hex");
        assert_eq!(
            "dead01".parse::<Id>().expect("hex parses"),
            id,
            "and parse back"
        );
        assert_ne!(Id::random(), Id::random(), "random ids differ");
    }
}
