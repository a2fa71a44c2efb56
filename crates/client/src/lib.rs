//! The Gatehouse client library: connection profiles, the OS keyring for their
//! secrets, the client's TLS identity, and a mutually authenticated connection
//! to `gatehouse-server` whose failures are classified for people.
//!
//! The console and the `gatehouse` CLI are thin layers over this crate.
#![deny(missing_docs)]

pub mod audit;
pub mod connection;
pub mod identity;
pub mod private;
pub mod profile;
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
    /// The profile's key is on a device: the caller opens the device (with its PIN) and
    /// connects with [`Connection::new`] and a device identity from `gatehouse-keys`.
    #[error(
        "profile {profile:?} keeps its key on a device ({device}); the device must be opened with its PIN to connect"
    )]
    DeviceKey {
        /// The profile.
        profile: String,
        /// The device, for people.
        device: String,
    },
}

/// Loads a profile's identity (its passphrase from the keyring if needed) and prepares a connection.
pub fn open(store: &ProfileStore, profile: &Profile) -> Result<Connection, OpenError> {
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
