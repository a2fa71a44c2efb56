//! Signed tree heads: C2SP checkpoints (<https://c2sp.org/tlog-checkpoint>) carried in C2SP
//! signed notes (<https://c2sp.org/signed-note>) with an Ed25519 log key.
//!
//! The note grammar, signature lines and key ids come from `signed_note`, the checkpoint body
//! grammar from `tlog_tiles` (both cloudflare/azul ports of Go's `golang.org/x/mod/sumdb`); this
//! module adds Gatehouse's rules on top: the key name is the origin, origins are plain log names,
//! a size-0 checkpoint carries the empty-tree root, and the private key never leaves `LogKey`
//! except as a zeroized seed.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::hash::Hash;

/// Signed-note signature type of Ed25519 keys.
const ED25519_TYPE: u8 = 0x01;

/// Longest origin (and key name) accepted, in bytes.
pub const MAX_ORIGIN_LEN: usize = 255;

/// A tree head: which log, how many leaves, and the root over them.
///
/// Always well formed: the origin is a valid log name, extension lines are non-empty single
/// lines, and a size-0 checkpoint has [`Hash::EMPTY`] as its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint for `origin` at `size` leaves with root `root`.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if !is_valid_name(origin) {
            return Err(CheckpointError::InvalidOrigin(origin.to_owned()));
        }
        if size == 0 && root != Hash::EMPTY {
            return Err(CheckpointError::EmptyTreeRoot { root });
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line after the root (C2SP calls these NOT RECOMMENDED but allowed).
    pub fn with_extension(mut self, line: &str) -> Result<Self, CheckpointError> {
        if line.is_empty() || line.chars().any(char::is_control) {
            return Err(CheckpointError::InvalidExtension(line.to_owned()));
        }
        self.extensions.push(line.to_owned());
        Ok(self)
    }

    /// The log's name, e.g. `gatehouse.example.com/audit`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash over the first [`Checkpoint::size`] leaves.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Extension lines, in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text that gets signed: origin, size, base64 root and extensions, one per line.
    pub fn to_body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// Parses a note text. Strict: decimal size without leading zeros, canonical base64 root of
    /// 32 bytes, every line newline-terminated, no blank or trailing lines.
    pub fn from_body(text: &str) -> Result<Self, CheckpointError> {
        let parsed = tlog_tiles::Checkpoint::from_bytes(text.as_bytes())
            .map_err(|_| CheckpointError::MalformedBody)?;
        let mut checkpoint =
            Self::new(parsed.origin(), parsed.size(), Hash::from(parsed.hash().0))?;
        for line in parsed.extension().lines() {
            checkpoint = checkpoint.with_extension(line)?;
        }
        // tlog_tiles accepts what this type can represent and nothing else, but compare the
        // re-encoding anyway: the signed bytes and the parsed value must never disagree.
        if checkpoint.to_body() != text {
            return Err(CheckpointError::MalformedBody);
        }
        Ok(checkpoint)
    }
}

/// A checkpoint together with the signed note it came in, verified against the log's key.
///
/// Only [`LogKey::sign`] and [`LogVerifier::verify`] make one, so holding one means the log's
/// signature was checked. The note keeps any other signatures (witness cosignatures) unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: String,
}

impl SignedCheckpoint {
    /// The verified tree head.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note exactly as signed or received, for storage and forwarding.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The tree head, dropping the note.
    pub fn into_checkpoint(self) -> Checkpoint {
        self.checkpoint
    }
}

impl fmt::Display for SignedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.note)
    }
}

/// The log's Ed25519 signing key, named by the log's origin.
///
/// The secret is zeroized on drop (ed25519-dalek's `SigningKey` does it) and never printed.
pub struct LogKey {
    name: String,
    key_id: u32,
    signing_key: SigningKey,
}

impl LogKey {
    /// A fresh key for the log named `name` (its origin).
    pub fn generate<R: CryptoRngCore + ?Sized>(name: &str, rng: &mut R) -> Result<Self, KeyError> {
        Self::from_signing_key(name, SigningKey::generate(rng))
    }

    /// Rebuilds the key from its 32-byte Ed25519 seed (as stored encrypted by the server).
    pub fn from_secret_bytes(name: &str, secret: &[u8; 32]) -> Result<Self, KeyError> {
        Self::from_signing_key(name, SigningKey::from_bytes(secret))
    }

    /// The 32-byte Ed25519 seed, wiped when the returned value drops. Only for encrypted storage.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing_key.to_bytes())
    }

    /// The key name, which is also the origin of every checkpoint it signs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key id: first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The public half, to publish and to pin in consoles.
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.signing_key.verifying_key(),
        }
    }

    /// Signs a checkpoint of this log. A checkpoint with another origin is refused.
    pub fn sign(&self, checkpoint: &Checkpoint) -> Result<SignedCheckpoint, CheckpointError> {
        if checkpoint.origin != self.name {
            return Err(CheckpointError::OriginMismatch {
                origin: checkpoint.origin.clone(),
                key_name: self.name.clone(),
            });
        }
        let mut note = signed_note::Note::new(checkpoint.to_body().as_bytes(), &[])
            .map_err(|_| CheckpointError::MalformedNote)?;
        note.add_sigs(&[&NoteSigner(self)])
            .map_err(|_| CheckpointError::MalformedNote)?;
        let note =
            String::from_utf8(note.to_bytes()).map_err(|_| CheckpointError::MalformedNote)?;
        Ok(SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            note,
        })
    }

    fn from_signing_key(name: &str, signing_key: SigningKey) -> Result<Self, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        let key_id = key_id(name, signing_key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            signing_key,
        })
    }
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogKey")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .field("secret", &format_args!("[redacted]"))
            .finish()
    }
}

/// The log's public key under its name: what a console pins to verify checkpoints.
///
/// Text form is the standard signed-note verifier key, `<name>+<hex key id>+<base64(0x01 ||
/// 32-byte public key)>`.
#[derive(Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl LogVerifier {
    /// A verifier for the log `name` with the Ed25519 public key `public_key`.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<Self, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName(name.to_owned()));
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::InvalidPublicKey)?;
        Ok(Self {
            name: name.to_owned(),
            key_id: key_id(name, public_key),
            key,
        })
    }

    /// The key name, which must equal the origin of the checkpoints it verifies.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed-note key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Parses a signed note and checks it is a checkpoint of this log signed with this key.
    ///
    /// Other signatures (unknown names or key ids, e.g. witnesses) are kept but not checked;
    /// at least one signature must be this key's, and every signature claiming this key's name
    /// and id must verify.
    pub fn verify(&self, note: &str) -> Result<SignedCheckpoint, CheckpointError> {
        let parsed = signed_note::Note::from_bytes(note.as_bytes())
            .map_err(|_| CheckpointError::MalformedNote)?;
        match parsed.verify(&NoteVerifier(self)) {
            Ok(_) => {}
            Err(signed_note::NoteError::UnverifiedNote) => {
                return Err(CheckpointError::NotSignedByLog {
                    key_name: self.name.clone(),
                    key_id: self.key_id,
                });
            }
            Err(signed_note::NoteError::InvalidSignature { .. }) => {
                return Err(CheckpointError::BadSignature {
                    key_name: self.name.clone(),
                    key_id: self.key_id,
                });
            }
            Err(_) => return Err(CheckpointError::MalformedNote),
        }
        let text =
            std::str::from_utf8(parsed.text()).map_err(|_| CheckpointError::MalformedNote)?;
        let checkpoint = Checkpoint::from_body(text)?;
        if checkpoint.origin != self.name {
            return Err(CheckpointError::OriginMismatch {
                origin: checkpoint.origin,
                key_name: self.name.clone(),
            });
        }
        Ok(SignedCheckpoint {
            checkpoint,
            note: note.to_owned(),
        })
    }
}

impl fmt::Display for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&signed_note::new_ed25519_verifier_key(
            &self.name, &self.key,
        ))
    }
}

impl fmt::Debug for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogVerifier({self})")
    }
}

impl FromStr for LogVerifier {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // signed_note checks the grammar, the algorithm byte, the key and the key id.
        signed_note::StandardVerifier::new(s).map_err(|e| match e {
            signed_note::VerifierError::Format => KeyError::MalformedVerifierKey,
            signed_note::VerifierError::Alg => KeyError::UnsupportedKeyType,
            signed_note::VerifierError::Id => KeyError::KeyIdMismatch,
        })?;
        // It keeps the key private, so take it from the text it has just accepted.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(_id), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::MalformedVerifierKey);
        };
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| KeyError::MalformedVerifierKey)?;
        let public_key: &[u8; 32] = match bytes.split_first() {
            Some((&ED25519_TYPE, key)) => key.try_into().map_err(|_| KeyError::InvalidPublicKey)?,
            _ => return Err(KeyError::UnsupportedKeyType),
        };
        Self::new(name, public_key)
    }
}

/// Why a checkpoint or signed note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The origin is not a log name.
    #[error(
        "origin {0:?} is not a log name: use 1-255 bytes without spaces, '+' or control characters, e.g. gatehouse.example.com/audit"
    )]
    InvalidOrigin(String),
    /// An extension line is empty or contains a control character.
    #[error("checkpoint extension line {0:?} must be non-empty and on one line")]
    InvalidExtension(String),
    /// A size-0 checkpoint claims a root other than the empty-tree hash.
    #[error("a checkpoint of size 0 must carry the empty-tree root, not {root}")]
    EmptyTreeRoot {
        /// The root it claimed.
        root: Hash,
    },
    /// The note text is not origin, decimal size and base64 root, each on its own line.
    #[error(
        "the checkpoint text is malformed: it must be the origin, the size in decimal without leading zeros, and the base64 root, one per line"
    )]
    MalformedBody,
    /// The signed note's framing is broken.
    #[error(
        "not a signed note: expected the text, a blank line, then lines '— <key name> <base64 signature>'"
    )]
    MalformedNote,
    /// No signature by the log's key: unknown key name, or another key under the log's name.
    #[error(
        "the checkpoint is not signed by {key_name} (key id {key_id:08x}): it comes from another log or another key"
    )]
    NotSignedByLog {
        /// The expected key name.
        key_name: String,
        /// The expected key id.
        key_id: u32,
    },
    /// A signature claims to be the log key's but does not verify.
    #[error(
        "the signature of {key_name} (key id {key_id:08x}) does not match the checkpoint: the note was altered after signing"
    )]
    BadSignature {
        /// The key name.
        key_name: String,
        /// The key id.
        key_id: u32,
    },
    /// The checkpoint's origin is not the key's name.
    #[error(
        "the checkpoint is for log {origin:?} but the key is for {key_name:?}: a log only signs and accepts its own checkpoints"
    )]
    OriginMismatch {
        /// The checkpoint's origin.
        origin: String,
        /// The key's name.
        key_name: String,
    },
}

/// Why a log key or verifier key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key name is not a log name.
    #[error(
        "key name {0:?} is not a log name: use 1-255 bytes without spaces, '+' or control characters"
    )]
    InvalidName(String),
    /// The verifier key text does not have the `<name>+<id>+<key>` shape.
    #[error(
        "not a verifier key: expected <name>+<8 hex digit key id>+<base64 of 0x01 and a 32-byte Ed25519 key>"
    )]
    MalformedVerifierKey,
    /// The verifier key is not an Ed25519 (type 0x01) key.
    #[error("only Ed25519 verifier keys (type 0x01) are supported")]
    UnsupportedKeyType,
    /// The key id does not match the name and key: a copy-paste error or tampering.
    #[error("the verifier key's id does not match its name and public key: the text was altered")]
    KeyIdMismatch,
    /// The bytes are not an Ed25519 public key.
    #[error("the public key is not a valid Ed25519 point")]
    InvalidPublicKey,
}

/// A log name: what signed-note allows for key names (non-empty, no spaces, no '+'), minus
/// control characters, at most [`MAX_ORIGIN_LEN`] bytes.
fn is_valid_name(name: &str) -> bool {
    name.len() <= MAX_ORIGIN_LEN
        && signed_note::is_key_name_valid(name)
        && !name.chars().any(char::is_control)
}

fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut typed = [0u8; 33];
    typed[0] = ED25519_TYPE;
    typed[1..].copy_from_slice(public_key);
    signed_note::key_id(name, &typed)
}

/// Lends a `LogKey` to `signed_note` without handing it the secret.
struct NoteSigner<'a>(&'a LogKey);

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn key_id(&self) -> u32 {
        self.0.key_id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.0.signing_key.try_sign(msg)?.to_vec())
    }
}

/// The one verifier `signed_note` may use: every other key is "unknown".
struct NoteVerifier<'a>(&'a LogVerifier);

impl signed_note::Verifier for NoteVerifier<'_> {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn key_id(&self) -> u32 {
        self.0.key_id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        // Strict: rejects small-order keys and non-canonical signatures that plain verify allows.
        self.0.key.verify_strict(msg, &sig).is_ok()
    }
}

impl signed_note::Verifiers for NoteVerifier<'_> {
    fn verifier(
        &self,
        name: &str,
        id: u32,
    ) -> Result<&dyn signed_note::Verifier, signed_note::VerificationError> {
        if name == self.0.name && id == self.0.key_id {
            Ok(self)
        } else {
            Err(signed_note::VerificationError::UnknownKey {
                name: name.to_owned(),
                id,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "gatehouse.example/audit";

    fn key() -> LogKey {
        LogKey::from_secret_bytes(ORIGIN, &[7; 32]).expect("a valid name")
    }

    fn checkpoint(size: u64) -> Checkpoint {
        Checkpoint::new(ORIGIN, size, Hash::leaf(&size.to_be_bytes())).expect("valid")
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let key = key();
        let cp = checkpoint(42).with_extension("ext line").expect("valid");
        let signed = key.sign(&cp).expect("own origin");
        let verified = key
            .verifier()
            .verify(signed.note())
            .expect("own signature verifies");
        assert_eq!(
            verified.checkpoint(),
            &cp,
            "verification returns what was signed"
        );
        assert_eq!(verified, signed, "note text is kept byte for byte");
        assert!(
            signed.note().starts_with(&format!(
                "{ORIGIN}\n42\n{}\next line\n\n— {ORIGIN} ",
                cp.root()
            )),
            "C2SP layout: body, blank line, em-dash signature line"
        );
    }

    #[test]
    fn key_id_follows_signed_note() {
        use sha2::{Digest, Sha256};
        let key = key();
        let mut hasher = Sha256::new();
        hasher.update(ORIGIN.as_bytes());
        hasher.update([0x0a, 0x01]);
        hasher.update(key.verifier().public_key());
        let digest = hasher.finalize();
        assert_eq!(
            key.key_id().to_be_bytes(),
            [digest[0], digest[1], digest[2], digest[3]],
            "key id = SHA-256(name || 0x0A || 0x01 || public key)[..4]"
        );
    }

    #[test]
    fn verifier_key_text_round_trips() {
        let verifier = key().verifier();
        let text = verifier.to_string();
        assert!(
            text.starts_with(&format!("{ORIGIN}+{:08x}+", verifier.key_id())),
            "name+id+key"
        );
        assert_eq!(
            text.parse::<LogVerifier>(),
            Ok(verifier),
            "text parses back"
        );
        let other = LogKey::from_secret_bytes(ORIGIN, &[8; 32])
            .expect("valid")
            .verifier();
        let (head, _) = text.rsplit_once('+').expect("three parts");
        let (_, other_key) = other
            .to_string()
            .rsplit_once('+')
            .map(|(h, k)| (h.to_owned(), k.to_owned()))
            .expect("three parts");
        assert_eq!(
            format!("{head}+{other_key}").parse::<LogVerifier>(),
            Err(KeyError::KeyIdMismatch),
            "a key id that does not match the key is refused"
        );
        assert_eq!(
            "no-plus-signs".parse::<LogVerifier>(),
            Err(KeyError::MalformedVerifierKey),
            "the shape is checked"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = key();
        let debug = format!("{key:?}");
        assert!(
            debug.contains("[redacted]"),
            "the secret is marked redacted: {debug}"
        );
        let seed_hex: String = key
            .secret_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            !debug.contains(&seed_hex),
            "the seed must not appear in Debug output"
        );
    }

    #[test]
    fn size_zero_must_have_the_empty_root() {
        assert!(
            Checkpoint::new(ORIGIN, 0, Hash::EMPTY).is_ok(),
            "the empty tree's checkpoint is valid"
        );
        assert_eq!(
            Checkpoint::new(ORIGIN, 0, Hash::leaf(b"x")),
            Err(CheckpointError::EmptyTreeRoot {
                root: Hash::leaf(b"x")
            }),
            "an empty tree has exactly one root"
        );
    }

    #[test]
    fn log_key_refuses_foreign_origins() {
        let other = Checkpoint::new("other.example/log", 1, Hash::leaf(b"a")).expect("valid");
        assert!(
            matches!(
                key().sign(&other),
                Err(CheckpointError::OriginMismatch { .. })
            ),
            "a log key signs only its own origin"
        );
    }
}
