//! Software keys for development and the demo only: private keys in an age-encrypted file,
//! protected by a passphrase (age's scrypt recipient: 1 to 3 seconds per open or save).
//!
//! Everything that shows one says "software key: not for production", and
//! [`crate::Policy::production`] refuses it. The keys are generated in this process's memory, so
//! there is no evidence they were born anywhere in particular.
//!
//! File contents, once decrypted: JSON `{"format": "gatehouse-software-keys/1", "keys": [{"id",
//! "label", "algorithm", "secret"}]}` with hex ids and secrets. Decrypted buffers are wiped on
//! drop; age's own internal buffers are not under this crate's control.

use std::fmt;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::device::{self, Device, Locator};
use crate::error::Error;
use crate::evidence::{Attestation, Evidence};
use crate::key::{self, Algorithm, PublicKey, Signature};
use crate::pin::{self, Pin};

/// What every software key file calls itself, wherever it is shown.
pub const LABEL: &str = "software key: not for production";

const FORMAT: &str = "gatehouse-software-keys/1";

/// An opened software key file.
pub struct KeyFile {
    path: PathBuf,
    passphrase: Pin,
    entries: Vec<Entry>,
    info: device::Info,
}

impl KeyFile {
    /// Creates an empty key file at `path`, encrypted with `passphrase`. Refuses to replace an
    /// existing file.
    pub fn create(path: impl AsRef<Path>, passphrase: &Pin) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        if passphrase.expose().is_empty() {
            return Err(file_error(
                &path,
                "an empty passphrase protects nothing; choose one",
            ));
        }
        if path.exists() {
            return Err(file_error(
                &path,
                "the file already exists; open it, or choose another path",
            ));
        }
        let file = Self {
            info: describe(&path),
            path,
            passphrase: passphrase.clone(),
            entries: Vec::new(),
        };
        file.save()?;
        tracing::warn!(file = %file.path.display(), "{LABEL}: created");
        Ok(file)
    }

    /// Opens and decrypts the key file at `path`.
    pub fn open(path: impl AsRef<Path>, passphrase: &Pin) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let file = std::fs::File::open(&path).map_err(|e| {
            file_error(
                &path,
                &format!(
                    "{e}; check the path (software key files are for development and the demo)"
                ),
            )
        })?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let decryptor = age::Decryptor::new_buffered(BufReader::new(file))
            .map_err(|e| file_error(&path, &format!("not an age file ({e})")))?;
        if !decryptor.is_scrypt() {
            return Err(file_error(
                &path,
                "the file is not passphrase-encrypted, so it is not a software key file",
            ));
        }
        let identity = age::scrypt::Identity::new(secret(passphrase));
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::DecryptionFailed
                | age::DecryptError::KeyDecryptionFailed
                | age::DecryptError::NoMatchingKeys => Error::Passphrase {
                    path: path.display().to_string(),
                },
                other => file_error(&path, &format!("cannot decrypt it ({other})")),
            })?;
        // Allocated once, large enough for the whole plaintext, so no unwiped copy is left
        // behind by a reallocation.
        let capacity = usize::try_from(size).unwrap_or(0).saturating_add(1024);
        let mut plain = Zeroizing::new(Vec::with_capacity(capacity));
        reader
            .read_to_end(&mut plain)
            .map_err(|e| file_error(&path, &format!("cannot decrypt it ({e})")))?;
        let stored: Stored = serde_json::from_slice(&plain)
            .map_err(|e| file_error(&path, &format!("unreadable contents ({e})")))?;
        if stored.format != FORMAT {
            return Err(file_error(
                &path,
                &format!(
                    "unknown format \"{}\"; this build reads {FORMAT}",
                    stored.format
                ),
            ));
        }
        let entries = stored
            .keys
            .into_iter()
            .map(|k| Entry::from_stored(k).map_err(|reason| file_error(&path, &reason)))
            .collect::<Result<Vec<_>, _>>()?;
        tracing::warn!(file = %path.display(), keys = entries.len(), "{LABEL}: opened");
        Ok(Self {
            info: describe(&path),
            path,
            passphrase: passphrase.clone(),
            entries,
        })
    }

    /// Describes the key file at `path` without opening it; `None` if there is no file.
    pub fn describe(path: &Path) -> Option<device::Info> {
        path.is_file().then(|| describe(path))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Encrypts the keys to the passphrase and replaces the file atomically (a temporary file in
    /// the same directory, created with mode 0600, renamed over it).
    fn save(&self) -> Result<(), Error> {
        let stored = Stored {
            format: FORMAT.to_owned(),
            keys: self.entries.iter().map(Entry::to_stored).collect(),
        };
        // Allocated once, large enough, so no unwiped copy is left behind by a reallocation.
        // A label character takes at most 6 bytes of JSON (\uXXXX).
        let capacity = self
            .entries
            .iter()
            .map(|e| 512 + 6 * e.label.len())
            .sum::<usize>()
            + 1024;
        let mut plain = Zeroizing::new(Vec::with_capacity(capacity));
        serde_json::to_writer(&mut *plain, &stored)
            .map_err(|e| file_error(&self.path, &format!("cannot encode the keys ({e})")))?;
        drop(stored);
        let recipient = age::scrypt::Recipient::new(secret(&self.passphrase));
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| file_error(&self.path, &format!("cannot encrypt ({e})")))?;
        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let write_error =
            |e: std::io::Error| file_error(&self.path, &format!("cannot write ({e})"));
        let temporary = tempfile::NamedTempFile::new_in(directory).map_err(write_error)?;
        let mut writer = encryptor
            .wrap_output(temporary.as_file())
            .map_err(write_error)?;
        writer.write_all(&plain).map_err(write_error)?;
        writer.finish().map_err(write_error)?;
        temporary.as_file().sync_all().map_err(write_error)?;
        temporary
            .persist(&self.path)
            .map_err(|e| write_error(e.error))?;
        Ok(())
    }

    fn entry(&self, id: &key::Id) -> Result<&Entry, Error> {
        self.entries
            .iter()
            .find(|e| &e.id == id)
            .ok_or_else(|| Error::KeyNotFound {
                device: self.to_string(),
                id: id.to_string(),
            })
    }
}

impl Device for KeyFile {
    fn info(&self) -> &device::Info {
        &self.info
    }

    fn keys(&mut self) -> Result<Vec<key::Info>, Error> {
        Ok(self.entries.iter().map(Entry::info).collect())
    }

    fn generate(&mut self, request: &key::Request) -> Result<key::Info, Error> {
        let secret = SecretKey::generate(request.algorithm);
        let entry = Entry {
            id: key::Id::random(),
            label: request.label.clone(),
            public_key: secret.public_key(),
            secret,
        };
        let info = entry.info();
        self.entries.push(entry);
        if let Err(error) = self.save() {
            self.entries.pop();
            return Err(error);
        }
        tracing::warn!(file = %self.path.display(), key = %info.id, algorithm = %request.algorithm, "{LABEL}: key generated");
        Ok(info)
    }

    fn sign(&mut self, id: &key::Id, message: &[u8]) -> Result<Signature, Error> {
        let entry = self.entry(id)?;
        let raw = entry.secret.sign(message);
        Signature::from_bytes(entry.public_key.algorithm(), &raw).map_err(|e| Error::Malformed {
            device: self.to_string(),
            what: "signature",
            reason: e.to_string(),
        })
    }

    fn evidence(&mut self, id: &key::Id) -> Result<Evidence, Error> {
        self.entry(id)?;
        Ok(Evidence::Software)
    }

    fn attestation(&mut self, _id: &key::Id) -> Result<Attestation, Error> {
        Err(Error::AttestationUnavailable {
            device: self.to_string(),
            reason: "a software key has no attestation and no evidence of where it was born"
                .to_owned(),
        })
    }

    fn pin_status(&mut self) -> Result<pin::Status, Error> {
        Ok(pin::Status::NoLockout)
    }

    fn change_pin(&mut self, old: &Pin, new: &Pin) -> Result<(), Error> {
        if old.expose() != self.passphrase.expose() {
            return Err(Error::Passphrase {
                path: self.path.display().to_string(),
            });
        }
        if new.expose().is_empty() {
            return Err(file_error(
                &self.path,
                "an empty passphrase protects nothing; choose one",
            ));
        }
        let previous = std::mem::replace(&mut self.passphrase, new.clone());
        if let Err(error) = self.save() {
            self.passphrase = previous;
            return Err(error);
        }
        Ok(())
    }
}

impl fmt::Display for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{LABEL} ({})", self.path.display())
    }
}

impl fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyFile")
            .field("label", &LABEL)
            .field("path", &self.path)
            .field("keys", &self.entries.len())
            .finish_non_exhaustive()
    }
}

fn describe(path: &Path) -> device::Info {
    device::Info {
        locator: Locator::Software {
            file: path.to_path_buf(),
        },
        label: LABEL.to_owned(),
        manufacturer: "Gatehouse".to_owned(),
        model: "age-encrypted key file (development and demo only)".to_owned(),
        serial: String::new(),
    }
}

fn file_error(path: &Path, reason: &str) -> Error {
    Error::KeyFile {
        path: path.display().to_string(),
        reason: reason.to_owned(),
    }
}

fn secret(passphrase: &Pin) -> SecretString {
    SecretString::from(passphrase.expose().to_owned())
}

/// One key of the file.
struct Entry {
    id: key::Id,
    label: String,
    public_key: PublicKey,
    secret: SecretKey,
}

impl Entry {
    fn info(&self) -> key::Info {
        key::Info {
            id: self.id.clone(),
            label: self.label.clone(),
            public_key: self.public_key.clone(),
        }
    }

    fn to_stored(&self) -> StoredKey {
        StoredKey {
            id: self.id.clone(),
            label: self.label.clone(),
            algorithm: self.public_key.algorithm(),
            secret: Zeroizing::new(hex::encode(self.secret.to_bytes().as_slice())),
        }
    }

    fn from_stored(stored: StoredKey) -> Result<Self, String> {
        let bytes = Zeroizing::new(
            hex::decode(stored.secret.as_bytes())
                .map_err(|_| format!("key {} has an unreadable secret", stored.id))?,
        );
        let secret = SecretKey::from_bytes(stored.algorithm, &bytes)
            .ok_or_else(|| format!("key {} is not a valid {} key", stored.id, stored.algorithm))?;
        Ok(Self {
            public_key: secret.public_key(),
            id: stored.id,
            label: stored.label,
            secret,
        })
    }
}

/// A private key in memory; each variant wipes itself on drop.
enum SecretKey {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Secp256k1(k256::ecdsa::SigningKey),
}

impl SecretKey {
    fn generate(algorithm: Algorithm) -> Self {
        let mut rng = rand_core::OsRng;
        match algorithm {
            Algorithm::Ed25519 => Self::Ed25519(ed25519_dalek::SigningKey::generate(&mut rng)),
            Algorithm::EcdsaP256 => Self::P256(p256::ecdsa::SigningKey::random(&mut rng)),
            Algorithm::EcdsaSecp256k1 => Self::Secp256k1(k256::ecdsa::SigningKey::random(&mut rng)),
        }
    }

    fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Option<Self> {
        match algorithm {
            Algorithm::Ed25519 => {
                let array: &[u8; 32] = bytes.try_into().ok()?;
                Some(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(array)))
            }
            Algorithm::EcdsaP256 => p256::ecdsa::SigningKey::from_slice(bytes)
                .ok()
                .map(Self::P256),
            Algorithm::EcdsaSecp256k1 => k256::ecdsa::SigningKey::from_slice(bytes)
                .ok()
                .map(Self::Secp256k1),
        }
    }

    fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Self::Ed25519(key) => key.to_bytes().to_vec(),
            Self::P256(key) => key.to_bytes().to_vec(),
            Self::Secp256k1(key) => key.to_bytes().to_vec(),
        })
    }

    fn public_key(&self) -> PublicKey {
        let (algorithm, bytes) = match self {
            Self::Ed25519(key) => (Algorithm::Ed25519, key.verifying_key().to_bytes().to_vec()),
            Self::P256(key) => (
                Algorithm::EcdsaP256,
                key.verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            ),
            Self::Secp256k1(key) => (
                Algorithm::EcdsaSecp256k1,
                key.verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
            ),
        };
        // Invariant: the libraries derive valid points of their own curves.
        PublicKey::from_bytes(algorithm, &bytes).expect("a library-derived public key is valid")
    }

    /// Signs as [`Algorithm`] describes: the message itself for Ed25519, its SHA-256 or
    /// Keccak-256 digest for ECDSA. Returns the raw 64-byte signature.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        use p256::ecdsa::signature::hazmat::PrehashSigner;
        match self {
            Self::Ed25519(key) => key.sign(message).to_bytes().to_vec(),
            Self::P256(key) => {
                let digest = Algorithm::EcdsaP256.prepare(message);
                // Invariant: a 32-byte digest is always accepted by sign_prehash.
                let signature: p256::ecdsa::Signature =
                    key.sign_prehash(&digest).expect("a 32-byte digest signs");
                signature.to_bytes().to_vec()
            }
            Self::Secp256k1(key) => {
                let digest = Algorithm::EcdsaSecp256k1.prepare(message);
                // Invariant: a 32-byte digest is always accepted by sign_prehash.
                let signature: k256::ecdsa::Signature =
                    key.sign_prehash(&digest).expect("a 32-byte digest signs");
                signature.to_bytes().to_vec()
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    format: String,
    keys: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    id: key::Id,
    label: String,
    algorithm: Algorithm,
    secret: Zeroizing<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_round_trip_through_their_bytes() {
        for algorithm in Algorithm::ALL {
            let key = SecretKey::generate(algorithm);
            let again = SecretKey::from_bytes(algorithm, &key.to_bytes())
                .expect("a key's own bytes read back");
            assert_eq!(
                again.public_key(),
                key.public_key(),
                "{algorithm}: the stored secret must give back the same key"
            );
        }
    }

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        for algorithm in Algorithm::ALL {
            let key = SecretKey::generate(algorithm);
            let other = SecretKey::generate(algorithm);
            let signature =
                Signature::from_bytes(algorithm, &key.sign(b"message")).expect("64 bytes");
            let public = key.public_key();
            public
                .verify(b"message", &signature)
                .unwrap_or_else(|e| panic!("{algorithm}: its own signature verifies: {e}"));
            assert!(
                public.verify(b"massage", &signature).is_err(),
                "{algorithm}: another message does not"
            );
            assert!(
                other.public_key().verify(b"message", &signature).is_err(),
                "{algorithm}: another key does not"
            );
        }
    }

    #[test]
    fn software_files_call_themselves_not_for_production() {
        let info = describe(Path::new("keys.age"));
        assert_eq!(info.label, LABEL, "the device label says what it is");
        assert!(
            info.to_string()
                .starts_with("software key: not for production"),
            "so does its display: {info}"
        );
    }
}
