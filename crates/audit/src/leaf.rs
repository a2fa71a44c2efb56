//! The audit log's leaf: one state change, in a versioned canonical binary encoding.
//!
//! # Encoding, version 1
//!
//! Integers are big-endian. `str` is a `u32` byte length then that many bytes of UTF-8. The
//! whole leaf is at most [`MAX_LEAF_LEN`] bytes and a decoder consumes it exactly.
//!
//! | field | encoding |
//! |---|---|
//! | version | `u8` = 1 |
//! | index | `u64`, position in the log |
//! | time | `i64`, milliseconds since 1970-01-01T00:00:00Z |
//! | actor.name | `str` |
//! | actor.cert_fingerprint | 32 bytes, SHA-256 of the client certificate's DER |
//! | action | `str` |
//! | object | `str` |
//! | outcome | `u8`: 0 success, 1 denied, 2 failed |
//! | outcome code | `u8` 0 (absent) or 1 followed by `str` |
//! | request_id | `str` |
//! | details | `str`: a JSON object in canonical form (see [`Details`]) |
//! | commitments | `u32` count, then per commitment `str` tag and 32 bytes; tags strictly ascending |
//!
//! Every value has exactly one encoding, so `decode(bytes)` succeeds only when
//! `encode(decode(bytes)) == bytes`; the leaf hash therefore commits to the values, not to one
//! of several spellings of them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::hash::Hash;

/// Largest encoded leaf, in bytes (64 KiB).
pub const MAX_LEAF_LEN: usize = 64 * 1024;

/// One audited state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Position in the log; equals the Merkle leaf index.
    pub index: u64,
    /// When the change happened, to the millisecond.
    pub time: Timestamp,
    /// Who made the change.
    pub actor: Actor,
    /// What was done, e.g. `mint.approve`.
    pub action: String,
    /// What it was done to, e.g. `proposal/42`.
    pub object: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The request id the server assigned, to find its logs.
    pub request_id: String,
    /// Further non-personal facts.
    pub details: Details,
    /// Commitments to personal data kept outside the log, by tag.
    pub commitments: BTreeMap<Tag, Commitment>,
}

impl Leaf {
    /// The encoding version this type writes and the only one it reads.
    pub const VERSION: u8 = 1;

    /// The canonical encoding. Fails only when it would exceed [`MAX_LEAF_LEN`].
    pub fn encode(&self) -> Result<Vec<u8>, LeafError> {
        let mut out = Vec::with_capacity(256);
        out.push(Self::VERSION);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.time.unix_millis().to_be_bytes());
        put_str(&mut out, &self.actor.name)?;
        out.extend_from_slice(&self.actor.cert_fingerprint);
        put_str(&mut out, &self.action)?;
        put_str(&mut out, &self.object)?;
        out.push(self.outcome.kind as u8);
        match &self.outcome.code {
            None => out.push(0),
            Some(code) => {
                out.push(1);
                put_str(&mut out, code)?;
            }
        }
        put_str(&mut out, &self.request_id)?;
        put_str(&mut out, self.details.as_str())?;
        put_len(&mut out, self.commitments.len())?;
        for (tag, commitment) in &self.commitments {
            put_str(&mut out, tag.as_str())?;
            out.extend_from_slice(&commitment.0);
        }
        if out.len() > MAX_LEAF_LEN {
            return Err(LeafError::TooLarge { len: out.len() });
        }
        Ok(out)
    }

    /// Reads a canonical encoding; anything else (other version, trailing bytes, unsorted tags,
    /// non-canonical details, oversize) is an error.
    pub fn decode(bytes: &[u8]) -> Result<Self, LeafError> {
        if bytes.len() > MAX_LEAF_LEN {
            return Err(LeafError::TooLarge { len: bytes.len() });
        }
        let mut r = Reader { rest: bytes };
        let version = r.u8("version")?;
        if version != Self::VERSION {
            return Err(LeafError::UnsupportedVersion(version));
        }
        let index = r.u64("index")?;
        let millis = i64::from_be_bytes(r.array("time")?);
        let time = Timestamp::from_unix_millis(millis).ok_or(LeafError::TimeOutOfRange(millis))?;
        let name = r.string("actor.name")?;
        let cert_fingerprint = r.array("actor.cert_fingerprint")?;
        let action = r.string("action")?;
        let object = r.string("object")?;
        let kind = match r.u8("outcome")? {
            0 => OutcomeKind::Success,
            1 => OutcomeKind::Denied,
            2 => OutcomeKind::Failed,
            other => return Err(LeafError::UnknownOutcome(other)),
        };
        let code = match r.u8("outcome code flag")? {
            0 => None,
            1 => Some(r.string("outcome code")?),
            other => return Err(LeafError::BadFlag(other)),
        };
        let request_id = r.string("request_id")?;
        let details = Details::from_canonical(&r.string("details")?)?;
        let count = r.u32("commitment count")?;
        let mut commitments = BTreeMap::new();
        let mut previous: Option<Tag> = None;
        for _ in 0..count {
            let tag = Tag::new(&r.string("commitment tag")?)?;
            let commitment = Commitment(r.array("commitment")?);
            if previous.as_ref().is_some_and(|p| *p >= tag) {
                return Err(LeafError::UnsortedCommitments);
            }
            previous = Some(tag.clone());
            commitments.insert(tag, commitment);
        }
        if !r.rest.is_empty() {
            return Err(LeafError::TrailingBytes(r.rest.len()));
        }
        Ok(Self {
            index,
            time,
            actor: Actor {
                name,
                cert_fingerprint,
            },
            action,
            object,
            outcome: Outcome { kind, code },
            request_id,
            details,
            commitments,
        })
    }

    /// The Merkle leaf hash of the canonical encoding.
    pub fn leaf_hash(&self) -> Result<Hash, LeafError> {
        Ok(Hash::leaf(&self.encode()?))
    }
}

/// Who acted: the registry name and the certificate they connected with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The officer registry's name for the person.
    pub name: String,
    /// SHA-256 of the client certificate's DER encoding.
    pub cert_fingerprint: [u8; 32],
}

/// How a state change ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Success, denied or failed.
    pub kind: OutcomeKind,
    /// A machine-readable reason, e.g. a Hedera status like `TOKEN_IS_PAUSED`.
    pub code: Option<String>,
}

/// The three ends of a state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OutcomeKind {
    /// It happened.
    Success = 0,
    /// Policy refused it (role, quorum, breaker).
    Denied = 1,
    /// It was allowed but did not complete (ledger error, timeout).
    Failed = 2,
}

impl OutcomeKind {
    /// Lowercase name: `success`, `denied` or `failed` (the server's query filters use it).
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Success => "success",
            OutcomeKind::Denied => "denied",
            OutcomeKind::Failed => "failed",
        }
    }
}

/// A UTC instant with millisecond precision, the log's unit of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Now, truncated to the millisecond.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Truncates to the millisecond (the log stores nothing finer).
    pub fn from_datetime(time: DateTime<Utc>) -> Self {
        let millis = time.timestamp_millis();
        // Every DateTime<Utc> has a millisecond count that maps back to a DateTime<Utc>.
        Self(DateTime::from_timestamp_millis(millis).unwrap_or(time))
    }

    /// The instant `millis` milliseconds after the Unix epoch, if chrono can represent it.
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(millis).map(Self)
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// As a chrono value.
    pub fn to_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC with milliseconds, e.g. `2026-03-01T12:00:00.250Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    }
}

/// Further facts about a change: a JSON object in canonical form.
///
/// Canonical means: no whitespace, object keys sorted by their UTF-8 bytes and unique, strings
/// escaped as `serde_json` writes them, and numbers only as integers (floating point has no
/// spelling every language agrees on, so it is refused; write amounts as integers or strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Details(String);

impl Details {
    /// `{}`.
    pub fn empty() -> Self {
        Self("{}".to_owned())
    }

    /// Canonicalises a JSON object.
    pub fn new(value: &serde_json::Value) -> Result<Self, LeafError> {
        if !value.is_object() {
            return Err(LeafError::DetailsNotObject);
        }
        let mut out = String::new();
        write_canonical(value, &mut out)?;
        Ok(Self(out))
    }

    /// Accepts text only if it already is the canonical form of a JSON object.
    pub fn from_canonical(text: &str) -> Result<Self, LeafError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| LeafError::NonCanonicalDetails)?;
        let details = Self::new(&value)?;
        if details.0 != text {
            return Err(LeafError::NonCanonicalDetails);
        }
        Ok(details)
    }

    /// The canonical JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        // The text was produced by `write_canonical`, which writes valid JSON.
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

impl Default for Details {
    fn default() -> Self {
        Self::empty()
    }
}

/// Names a kind of personal data behind a commitment, e.g. `client_ip` or `comment`.
///
/// 1 to 64 characters from `a-z`, `0-9`, `_`, `-`, `.`: never a 0x00 byte, so
/// `tag || 0x00 || salt || value` splits one way only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Checks and wraps a tag.
    pub fn new(tag: &str) -> Result<Self, LeafError> {
        let valid = (1..=64).contains(&tag.len())
            && tag
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.'));
        if !valid {
            return Err(LeafError::InvalidTag(tag.to_owned()));
        }
        Ok(Self(tag.to_owned()))
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = LeafError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SHA-256(tag || 0x00 || salt || value): binds the leaf to personal data without revealing it.
///
/// The salt and value live outside the log; erasing them leaves the commitment (and every
/// proof) intact while making the data unrecoverable, since a 32-byte random salt defeats
/// guessing even for small value spaces such as IP addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Commitment([u8; 32]);

impl Commitment {
    /// Commits to `value` under `tag` with a fresh random salt; keep the salt with the value.
    pub fn new<R: CryptoRngCore + ?Sized>(tag: &Tag, value: &[u8], rng: &mut R) -> (Self, Salt) {
        let mut salt = Salt([0; 32]);
        rng.fill_bytes(&mut salt.0);
        (Self::with_salt(tag, &salt, value), salt)
    }

    /// The commitment for a known salt.
    pub fn with_salt(tag: &Tag, salt: &Salt, value: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(tag.0.as_bytes());
        hasher.update([0x00]);
        hasher.update(salt.0);
        hasher.update(value);
        Self(hasher.finalize().into())
    }

    /// Whether `value` with `salt` under `tag` is what was committed to.
    pub fn verify(&self, tag: &Tag, salt: &Salt, value: &[u8]) -> bool {
        Self::with_salt(tag, salt, value) == *self
    }

    /// Wraps stored commitment bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The random salt of a [`Commitment`]; with the value it reveals the personal data, so it is
/// wiped on drop and not printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Salt([u8; 32]);

impl Salt {
    /// Wraps stored salt bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes, for storage next to the value.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt([redacted])")
    }
}

/// Why a leaf could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeafError {
    /// The encoding is, or would be, larger than 64 KiB.
    #[error(
        "the leaf is {len} bytes, over the 65536-byte limit: move bulky data out of details and commit to it"
    )]
    TooLarge {
        /// Encoded length.
        len: usize,
    },
    /// The first byte names an encoding this build does not know.
    #[error(
        "leaf encoding version {0} is not supported (this build reads version 1): update the console"
    )]
    UnsupportedVersion(u8),
    /// The bytes end inside a field.
    #[error("the leaf ends in the middle of its {0} field: it is truncated")]
    Truncated(&'static str),
    /// Bytes follow the last field.
    #[error("{0} bytes follow the end of the leaf: it is not in canonical form")]
    TrailingBytes(usize),
    /// A text field is not UTF-8.
    #[error("the leaf's {0} field is not valid UTF-8")]
    InvalidUtf8(&'static str),
    /// The time does not fit a calendar date.
    #[error("the leaf's time ({0} ms since 1970) is outside the representable range")]
    TimeOutOfRange(i64),
    /// The outcome byte is not 0, 1 or 2.
    #[error("outcome byte {0} is not success (0), denied (1) or failed (2)")]
    UnknownOutcome(u8),
    /// A presence flag is not 0 or 1.
    #[error("presence flag {0} must be 0 or 1")]
    BadFlag(u8),
    /// Details are not a JSON object.
    #[error("details must be a JSON object")]
    DetailsNotObject,
    /// Details contain a non-integer number.
    #[error("details may only contain integer numbers: write fractional amounts as strings")]
    DetailsFloat,
    /// Details are JSON but not in canonical form.
    #[error("details are not canonical JSON (sorted unique keys, no whitespace)")]
    NonCanonicalDetails,
    /// A commitment tag breaks the tag rules.
    #[error("commitment tag {0:?} must be 1-64 characters of a-z, 0-9, '_', '-', '.'")]
    InvalidTag(String),
    /// Commitment tags are not strictly ascending.
    #[error("commitment tags must be unique and in ascending order")]
    UnsortedCommitments,
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<(), LeafError> {
    let len32 = u32::try_from(len).map_err(|_| LeafError::TooLarge { len })?;
    out.extend_from_slice(&len32.to_be_bytes());
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) -> Result<(), LeafError> {
    if s.len() > MAX_LEAF_LEN {
        // Stop early instead of copying megabytes only to refuse them.
        return Err(LeafError::TooLarge {
            len: out.len() + s.len(),
        });
    }
    put_len(out, s.len())?;
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], LeafError> {
        if self.rest.len() < n {
            return Err(LeafError::Truncated(field));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], LeafError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, LeafError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, LeafError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, LeafError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    fn string(&mut self, field: &'static str) -> Result<String, LeafError> {
        let len = self.u32(field)? as usize;
        let bytes = self.take(len, field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| LeafError::InvalidUtf8(field))
    }
}

fn write_canonical(value: &serde_json::Value, out: &mut String) -> Result<(), LeafError> {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else {
                return Err(LeafError::DetailsFloat);
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's map order depends on a feature another crate in the
            // build may switch on.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's string escaping is deterministic: `"`, `\` and control characters only.
    out.push_str(&serde_json::Value::String(s.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Leaf {
        let tag = Tag::new("client_ip").expect("valid tag");
        let (commitment, _salt) = Commitment::new(&tag, b"192.0.2.7", &mut rand_core::OsRng);
        Leaf {
            index: 41,
            time: Timestamp::from_unix_millis(1_767_225_600_250).expect("in range"),
            actor: Actor {
                name: "alice".to_owned(),
                cert_fingerprint: [0xab; 32],
            },
            action: "mint.approve".to_owned(),
            object: "proposal/42".to_owned(),
            outcome: Outcome {
                kind: OutcomeKind::Denied,
                code: Some("QUORUM_NOT_MET".to_owned()),
            },
            request_id: "req-9f2c".to_owned(),
            details: Details::new(&serde_json::json!({"serials": [1, 2], "token": "0.0.1234"}))
                .expect("an integer-only object"),
            commitments: BTreeMap::from([(tag, commitment)]),
        }
    }

    #[test]
    fn encoding_round_trips_exactly() {
        let leaf = sample();
        let bytes = leaf.encode().expect("small leaf");
        assert_eq!(bytes[0], 1, "version byte first");
        let decoded = Leaf::decode(&bytes).expect("own encoding decodes");
        assert_eq!(decoded, leaf, "decode inverts encode");
        assert_eq!(
            decoded.encode().expect("encodes"),
            bytes,
            "and encode inverts decode"
        );
        assert_eq!(
            leaf.time.to_string(),
            "2026-01-01T00:00:00.250Z",
            "RFC 3339 UTC with milliseconds"
        );
    }

    #[test]
    fn decoding_rejects_anything_not_canonical() {
        let bytes = sample().encode().expect("small leaf");
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            Leaf::decode(&trailing),
            Err(LeafError::TrailingBytes(1)),
            "one extra byte"
        );
        assert!(
            matches!(
                Leaf::decode(&bytes[..bytes.len() - 1]),
                Err(LeafError::Truncated(_))
            ),
            "one byte short"
        );
        let mut version = bytes.clone();
        version[0] = 2;
        assert_eq!(
            Leaf::decode(&version),
            Err(LeafError::UnsupportedVersion(2)),
            "unknown version"
        );
        assert_eq!(
            Leaf::decode(&[]),
            Err(LeafError::Truncated("version")),
            "empty input"
        );
        assert!(
            matches!(
                Leaf::decode(&vec![1; MAX_LEAF_LEN + 1]),
                Err(LeafError::TooLarge { .. })
            ),
            "oversize input is refused before parsing"
        );
    }

    #[test]
    fn oversize_leaves_are_not_encoded() {
        let mut leaf = sample();
        leaf.object = "x".repeat(MAX_LEAF_LEN);
        assert!(
            matches!(leaf.encode(), Err(LeafError::TooLarge { .. })),
            "a 64 KiB field cannot fit"
        );
        leaf.object = "x".repeat(MAX_LEAF_LEN - 400);
        let len = leaf.encode().map(|b| b.len());
        assert!(
            len.as_ref().is_ok_and(|l| *l <= MAX_LEAF_LEN),
            "just under the limit encodes: {len:?}"
        );
    }

    #[test]
    fn details_are_canonical_json_objects() {
        let details =
            Details::new(&serde_json::json!({"b": 1, "a": {"d": [true, null], "c": "é\n"}}))
                .expect("valid");
        assert_eq!(
            details.as_str(),
            r#"{"a":{"c":"é\n","d":[true,null]},"b":1}"#,
            "keys sorted at every depth, no whitespace"
        );
        assert_eq!(
            Details::from_canonical(details.as_str()),
            Ok(details.clone()),
            "canonical text is accepted"
        );
        for bad in [
            r#"{"b":1,"a":2}"#,
            r#"{ "a":1}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a":-0}"#,
            r#"{"a":1.0}"#,
            "[]",
        ] {
            assert!(
                Details::from_canonical(bad).is_err(),
                "{bad} is not canonical and must be refused"
            );
        }
        assert_eq!(
            Details::new(&serde_json::json!({"amount": 1.5})),
            Err(LeafError::DetailsFloat),
            "floats have no canonical spelling"
        );
    }

    #[test]
    fn commitments_verify_only_the_committed_value() {
        let tag = Tag::new("comment").expect("valid");
        let (commitment, salt) = Commitment::new(&tag, b"call me back", &mut rand_core::OsRng);
        assert!(
            commitment.verify(&tag, &salt, b"call me back"),
            "the value and salt open it"
        );
        assert!(
            !commitment.verify(&tag, &salt, b"call me back!"),
            "another value does not"
        );
        let other_tag = Tag::new("client_ip").expect("valid");
        assert!(
            !commitment.verify(&other_tag, &salt, b"call me back"),
            "the tag is bound in"
        );
        let (again, _) = Commitment::new(&tag, b"call me back", &mut rand_core::OsRng);
        assert_ne!(
            again, commitment,
            "a fresh salt hides that two values are equal"
        );
        assert_eq!(
            format!("{salt:?}"),
            "Salt([redacted])",
            "salts are not printed"
        );
        assert!(
            Tag::new("Client IP").is_err(),
            "tags are lowercase identifiers"
        );
        assert!(Tag::new("").is_err(), "tags are non-empty");
    }
}
