//! The Gatehouse client library: connection profiles, the OS keyring for their
//! secrets, the client's TLS identity, and a mutually authenticated connection
//! to `gatehouse-server` whose failures are classified for people.
//!
//! The console and the `gatehouse` CLI are thin layers over this crate.
#![deny(missing_docs)]

pub mod audit;
pub mod breaker;
pub mod breakglass;
pub mod connection;
pub mod device;
pub mod identity;
pub mod ledger;
pub mod private;
pub mod profile;
pub mod proposals;
pub mod secret;

use std::sync::Arc;

pub use connection::{Connection, Error};
use identity::{ClientIdentity, FileIdentity};
use profile::{KeySource, Profile, ProfileStore};

/// Failure to open a profile's connection before any byte is sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The profile is missing or invalid.
    #[error(transparent)]
    Profile(#[from] profile::Error),
    /// The client identity could not be loaded.
    #[error(transparent)]
    Identity(#[from] identity::Error),
    /// The connection could not be prepared.
    #[error(transparent)]
    Connection(#[from] connection::Error),
    /// The profile's key is on a device and no PIN was given: [`open`] with the PIN opens it.
    #[error(
        "profile {profile:?} keeps its key on a device ({device}); the device must be opened with its PIN to connect"
    )]
    DeviceKey {
        /// The profile.
        profile: String,
        /// The device, for people.
        device: String,
    },
    /// The device holding the profile's key could not be opened or refused (wrong PIN, gone,
    /// a software key in production).
    #[error(transparent)]
    Device(#[from] gatehouse_keys::Error),
}

/// A profile's prepared connection and, for a key on a device, the device identity signing its
/// handshakes (to ask whether the device is still there).
#[derive(Debug)]
pub struct Opened {
    /// The connection.
    pub connection: Connection,
    /// The device identity, for a key on a device.
    pub device: Option<Arc<gatehouse_keys::tls::DeviceIdentity>>,
}

/// Prepares a profile's connection, for the CLI and the console alike: a key file with its
/// passphrase from the keyring; a key on a device opened with `pin` (without one:
/// [`OpenError::DeviceKey`], naming the device). Blocks (device work, scrypt): async callers
/// use `spawn_blocking`.
pub fn open(
    store: &ProfileStore,
    profile: &Profile,
    pin: Option<&gatehouse_keys::Pin>,
) -> Result<Opened, OpenError> {
    match (&profile.key, pin) {
        (KeySource::Device { .. }, Some(pin)) => {
            let identity = Arc::new(device::identity(profile, pin)?);
            Ok(Opened {
                connection: Connection::new(profile, identity.clone())?,
                device: Some(identity),
            })
        }
        _ => Ok(Opened {
            connection: open_file_key(store, profile)?,
            device: None,
        }),
    }
}

/// Loads a key file's identity (its passphrase from the keyring if needed) and prepares a
/// connection; a key on a device is [`OpenError::DeviceKey`].
fn open_file_key(store: &ProfileStore, profile: &Profile) -> Result<Connection, OpenError> {
    let identity: Arc<dyn ClientIdentity> = match &profile.key {
        KeySource::File { path, encrypted } => {
            let passphrase = if *encrypted {
                store.key_passphrase(profile)?
            } else {
                None
            };
            Arc::new(FileIdentity::load(
                &profile.client_cert,
                path,
                passphrase.as_ref(),
            )?)
        }
        KeySource::Device { device, .. } => {
            return Err(OpenError::DeviceKey {
                profile: profile.name.clone(),
                device: device.to_string(),
            });
        }
    };
    Ok(Connection::new(profile, identity)?)
}
