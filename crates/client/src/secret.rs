//! Profile secrets (a key file's passphrase) in the OS keyring, never on disk.
//!
//! Uses `keyring-core` with the Secret Service store on desktops and the kernel
//! keyutils store where no Secret Service answers (a server, a bare session).
//! The `keyring` crate's own documentation steers applications that choose their
//! stores to link `keyring-core` and the store crates directly, which is what this does.

use std::sync::{Arc, OnceLock};

use keyring_core::{CredentialStore, Error as KeyringError};
use zeroize::Zeroizing;

/// The keyring service name every Gatehouse secret is filed under.
pub const SERVICE: &str = "gatehouse";

/// Keyring failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No store could be opened.
    #[error(
        "no OS keyring is available ({0}); unlock your desktop keyring or run inside a login session"
    )]
    Unavailable(String),
    /// The store refused or failed an operation.
    #[error("the OS keyring failed: {0}")]
    Store(String),
}

/// A secret string: wiped on drop, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret itself; keep the borrow short.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where profile secrets live.
///
/// The native store opens on first use, so a profile without secrets never
/// touches D-Bus or the kernel keyring.
#[derive(Clone)]
pub struct SecretStore {
    opened: Arc<OnceLock<Result<Opened, String>>>,
    open: fn() -> Result<Opened, Error>,
}

#[derive(Clone)]
struct Opened {
    store: Arc<CredentialStore>,
    name: &'static str,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.opened.get() {
            None => "not opened yet",
            Some(Ok(opened)) => opened.name,
            Some(Err(_)) => "unavailable",
        };
        f.debug_struct("SecretStore")
            .field("store", &state)
            .finish()
    }
}

impl SecretStore {
    /// The desktop's Secret Service if one answers, else the kernel keyutils session keyring.
    pub fn native() -> Self {
        Self {
            opened: Arc::default(),
            open: open_native,
        }
    }

    /// An in-memory store for tests.
    pub fn mock() -> Self {
        fn open_mock() -> Result<Opened, Error> {
            let store =
                keyring_core::mock::Store::new().map_err(|e| Error::Unavailable(e.to_string()))?;
            Ok(Opened {
                store,
                name: "mock",
            })
        }
        Self {
            opened: Arc::default(),
            open: open_mock,
        }
    }

    /// Which store is in use, opening it if needed (for diagnostics).
    pub fn kind(&self) -> Result<&'static str, Error> {
        Ok(self.opened()?.name)
    }

    fn opened(&self) -> Result<&Opened, Error> {
        self.opened
            .get_or_init(|| (self.open)().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Unavailable(e.clone()))
    }

    /// Stores `secret` under `account`, replacing any previous value.
    pub fn set(&self, account: &str, secret: &Secret) -> Result<(), Error> {
        self.entry(account)?
            .set_password(secret.expose())
            .map_err(store_error)
    }

    /// The secret under `account`, if any.
    pub fn get(&self, account: &str) -> Result<Option<Secret>, Error> {
        match self.entry(account)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Deletes the secret under `account`; deleting nothing is fine.
    pub fn delete(&self, account: &str) -> Result<(), Error> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    fn entry(&self, account: &str) -> Result<keyring_core::Entry, Error> {
        self.opened()?
            .store
            .build(SERVICE, account, None)
            .map_err(store_error)
    }
}

fn open_native() -> Result<Opened, Error> {
    if let Ok(store) = zbus_secret_service_keyring_store::Store::new() {
        let store: Arc<CredentialStore> = store;
        // The store connects lazily: probe with a lookup that is allowed to find nothing.
        let probe = store
            .build(SERVICE, "probe", None)
            .and_then(|e| e.get_password());
        if matches!(probe, Ok(_) | Err(KeyringError::NoEntry)) {
            return Ok(Opened {
                store,
                name: "secret-service",
            });
        }
    }
    let store = linux_keyutils_keyring_store::Store::new()
        .map_err(|e| Error::Unavailable(e.to_string()))?;
    Ok(Opened {
        store,
        name: "keyutils",
    })
}

fn store_error(e: KeyringError) -> Error {
    match e {
        KeyringError::NoStorageAccess(_) | KeyringError::PlatformFailure(_) => {
            Error::Unavailable(e.to_string())
        }
        other => Error::Store(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real OS store: Secret Service inside a desktop session (`scripts/test` runs the tests in a
    /// private D-Bus session with an unlocked gnome-keyring), the kernel keyutils keyring elsewhere.
    #[test]
    fn native_store_round_trips_a_secret() {
        let store = SecretStore::native();
        let kind = store
            .kind()
            .expect("an OS keyring is reachable (Secret Service or keyutils)");
        let account = format!("test:{}:{}", std::process::id(), kind);
        store
            .set(&account, &Secret::new("native secret".to_owned()))
            .expect("the OS store accepts a secret");
        let back = store
            .get(&account)
            .expect("lookup works")
            .expect("the secret is there");
        assert_eq!(
            back.expose(),
            "native secret",
            "{kind} returns what was stored"
        );
        store.delete(&account).expect("delete works");
        assert!(
            store.get(&account).expect("lookup works").is_none(),
            "{kind} forgets deleted secrets"
        );
    }

    #[test]
    fn secrets_round_trip_and_never_print() {
        let store = SecretStore::mock();
        assert_eq!(
            store.kind().expect("mock opens"),
            "mock",
            "the mock store is in use"
        );
        let secret = Secret::new("correct horse".to_owned());
        assert_eq!(
            format!("{secret:?}"),
            "[redacted]",
            "Debug must not reveal a secret"
        );
        assert!(
            store.get("a").expect("lookup works").is_none(),
            "nothing stored yet"
        );
        store.set("a", &secret).expect("store accepts the secret");
        let back = store
            .get("a")
            .expect("lookup works")
            .expect("secret present");
        assert_eq!(back.expose(), "correct horse", "the same secret comes back");
        store.delete("a").expect("delete works");
        store.delete("a").expect("deleting twice is not an error");
        assert!(
            store.get("a").expect("lookup works").is_none(),
            "deleted secrets are gone"
        );
    }
}
