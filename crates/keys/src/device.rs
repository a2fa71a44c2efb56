//! The device abstraction: what every key holder (PKCS#11 token, software key file, PIV device)
//! can do, how devices are found and named, and how one is shared between threads.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::evidence::{Attestation, Evidence};
use crate::key::{self, PublicKey, Signature};
use crate::pin::{self, Pin};

/// A device that holds keys, opened and logged in.
///
/// Every method blocks (see the crate docs: async callers use `spawn_blocking`). Methods that
/// talk to the device take `&mut self`: a smart card serves one command at a time, and a PKCS#11
/// session must not be used from two threads at once. To use one device from several threads
/// (the TLS signer runs on rustls's), wrap it in [`Shared`].
pub trait Device: Send + fmt::Debug + fmt::Display {
    /// What the device is and where it was found.
    fn info(&self) -> &Info;

    /// The keys on the device that this crate can use (Ed25519, P-256, secp256k1 key pairs).
    fn keys(&mut self) -> Result<Vec<key::Info>, Error>;

    /// One key, by id.
    fn key(&mut self, id: &key::Id) -> Result<key::Info, Error> {
        let device = self.to_string();
        self.keys()?
            .into_iter()
            .find(|k| &k.id == id)
            .ok_or_else(|| Error::KeyNotFound {
                device,
                id: id.to_string(),
            })
    }

    /// A key's public key.
    fn public_key(&mut self, id: &key::Id) -> Result<PublicKey, Error> {
        Ok(self.key(id)?.public_key)
    }

    /// Generates a key pair on the device. The private key never leaves it (for hardware): it is
    /// marked sensitive and non-extractable at birth. An algorithm the device cannot do gives
    /// [`Error::Unsupported`].
    fn generate(&mut self, request: &key::Request) -> Result<key::Info, Error>;

    /// Signs `message` with the key, hashing on the host as [`key::Algorithm`] describes
    /// (Ed25519 signs the message itself; P-256 signs SHA-256 of it; secp256k1 Keccak-256).
    fn sign(&mut self, id: &key::Id, message: &[u8]) -> Result<Signature, Error>;

    /// Whether signing with the key waits for a person to touch the device (a YubiKey slot whose
    /// touch policy is "always", or "cached"), so a caller can say so before it signs, and allow
    /// for the wait.
    fn needs_touch(&mut self, id: &key::Id) -> Result<bool, Error> {
        let _ = id;
        Ok(false)
    }

    /// What the device can show about where the key was born.
    fn evidence(&mut self, id: &key::Id) -> Result<Evidence, Error>;

    /// A signed attestation for the key. Only PIV devices have one; others answer
    /// [`Error::AttestationUnavailable`] saying what they offer instead.
    fn attestation(&mut self, id: &key::Id) -> Result<Attestation, Error>;

    /// What the device reports about the user PIN's tries left.
    fn pin_status(&mut self) -> Result<pin::Status, Error>;

    /// Changes the user PIN (a software key file's passphrase).
    fn change_pin(&mut self, old: &Pin, new: &Pin) -> Result<(), Error>;
}

/// Where to look for devices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Backend {
    /// Every initialised token of a PKCS#11 module.
    Pkcs11 {
        /// The module (shared library) path.
        module: PathBuf,
    },
    /// One software key file, if it exists.
    Software {
        /// The file.
        file: PathBuf,
    },
    /// Every PIV device (YubiKey) pcscd sees.
    Piv,
}

pub use gatehouse_protocol::{DeviceKind as Kind, DeviceLocator as Locator};

/// A device as found: what people see in a device list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// How to open it again.
    pub locator: Locator,
    /// Its label. For a software key file: "software key: not for production".
    pub label: String,
    /// Its manufacturer.
    pub manufacturer: String,
    /// Its model.
    pub model: String,
    /// Its serial number (empty where it has none).
    pub serial: String,
}

impl Info {
    /// The kind of device.
    pub fn kind(&self) -> Kind {
        self.locator.kind()
    }
}

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.locator {
            Locator::Pkcs11 { .. } => write!(
                f,
                "PKCS#11 token \"{}\" ({} {}, serial {})",
                self.label, self.manufacturer, self.model, self.serial
            ),
            Locator::Software { file } => write!(f, "{} ({})", self.label, file.display()),
            Locator::Piv { serial } => write!(f, "{} {serial} in \"{}\"", self.model, self.label),
        }
    }
}

/// One device used from several threads: a mutex around it, so each call has the device to
/// itself. Clones share the device.
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Box<dyn Device>>>);

impl Shared {
    /// Shares `device`.
    pub fn new(device: Box<dyn Device>) -> Self {
        Self(Arc::new(Mutex::new(device)))
    }

    /// Takes the device for a call. A panic in another holder does not make the device
    /// unusable: its state lives on the device, not in memory this lock guards.
    pub fn lock(&self) -> MutexGuard<'_, Box<dyn Device>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // try_lock: a Debug print while this thread holds the lock must not deadlock.
        match self.0.try_lock() {
            Ok(device) => write!(f, "Shared({device})"),
            Err(TryLockError::Poisoned(device)) => write!(f, "Shared({})", device.into_inner()),
            Err(TryLockError::WouldBlock) => f.write_str("Shared(<in use>)"),
        }
    }
}
