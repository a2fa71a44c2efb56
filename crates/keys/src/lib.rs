//! `gatehouse-keys`: the devices that hold officers' keys, behind one [`Device`] trait.
//!
//! - [`pkcs11`]: any PKCS#11 module (SoftHSM2, an HSM, a smart card), through `cryptoki`.
//! - [`software`]: keys in an age-encrypted file, for development and the demo only. It says
//!   "software key: not for production" wherever it is shown, and [`Policy::production`] refuses it.
//! - [`tls`]: a rustls client-certificate signer over any device key, and the device identity
//!   `gatehouse-client` connects with (the client depends on this crate, not the reverse).
//!
//! - [`piv`]: YubiKeys (PIV) over PC/SC, through the `yubikey` crate. Attestation, which only PIV
//!   provides, comes back as [`evidence::Evidence::Attested`], and [`attestation::verify`] checks
//!   the chain against Yubico's pinned roots (or configured ones).
//!
//! # Blocking
//!
//! Every device call blocks the calling thread: a PKCS#11 call can take from microseconds
//! (SoftHSM2) to seconds (a card waiting for a touch), and opening a software key file runs scrypt
//! for 1 to 3 seconds. The API is synchronous on purpose. Async callers must move device work off
//! the runtime with `tokio::task::spawn_blocking`. The one exception is the TLS signer: rustls
//! calls it inside the handshake, so a handshake with a device key blocks its task for one
//! signature.
//!
//! # Secrets
//!
//! PINs and passphrases travel as [`Pin`], which is wiped on drop and prints `[redacted]`. No
//! error, log line or `Debug` output of this crate contains a PIN or private key material.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attestation;
pub mod device;
pub mod error;
pub mod evidence;
pub mod key;
pub mod pin;
#[cfg(feature = "devices")]
pub mod piv;
#[cfg(feature = "devices")]
pub mod pkcs11;
pub mod policy;
#[cfg(feature = "devices")]
pub mod software;
#[cfg(feature = "test-support")]
pub mod testing;
#[cfg(feature = "devices")]
pub mod tls;

pub use device::Device;
pub use error::Error;
pub use pin::Pin;
pub use policy::Policy;

#[cfg(feature = "devices")]
/// Describes the devices a backend can reach, without opening them (no PIN needed).
///
/// For PKCS#11 this loads and initialises the module once per process (see [`pkcs11::Module`]);
/// for a software key file it reads nothing but the file's presence.
pub fn enumerate(backend: &device::Backend) -> Result<Vec<device::Info>, Error> {
    match backend {
        device::Backend::Pkcs11 { module } => pkcs11::Module::load(module)?.tokens(),
        device::Backend::Software { file } => {
            Ok(software::KeyFile::describe(file).into_iter().collect())
        }
        device::Backend::Piv => piv::devices(),
    }
}

#[cfg(feature = "devices")]
/// Opens the device at `locator`, logging in with `pin` (a software key file's passphrase).
pub fn open(locator: &device::Locator, pin: &Pin) -> Result<Box<dyn Device>, Error> {
    match locator {
        device::Locator::Pkcs11 {
            module,
            serial,
            label,
        } => {
            let module = pkcs11::Module::load(module)?;
            let selector = if serial.is_empty() {
                pkcs11::Selector::Label(label.clone())
            } else {
                pkcs11::Selector::Serial(serial.clone())
            };
            Ok(Box::new(module.open(&selector, pin)?))
        }
        device::Locator::Software { file } => Ok(Box::new(software::KeyFile::open(file, pin)?)),
        device::Locator::Piv { serial } => Ok(Box::new(piv::Piv::open(*serial, pin)?)),
    }
}
