//! The console's commands, one module per domain, and the one error type they
//! all return across IPC.

pub mod audit;
pub mod breaker;
pub mod breakglass;
pub mod connection;
pub mod device;
pub mod files;
pub mod policy;
pub mod profile;
pub mod proposals;
pub mod rotation;
pub mod watch;

use gatehouse_client::{
    OpenError, connection::Error as ConnectionError, identity, profile::Error as ProfileError,
};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

/// What was shown to a person and waits for their device, by key: signing takes it out, so it
/// is used once, and a newer one replaces it. `Debug` tells only how many are held.
pub struct Waiting<K, V>(Mutex<HashMap<K, V>>);

impl<K, V> Default for Waiting<K, V> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<K, V> std::fmt::Debug for Waiting<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("Waiting").field("held", &held).finish()
    }
}

impl<K: Eq + Hash, V> Waiting<K, V> {
    pub(crate) fn put(&self, key: K, value: V) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, value);
    }

    pub(crate) fn take(&self, key: &K) -> Option<V> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
    }
}

/// What the UI branches on. Add a code only when the UI needs to tell it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Nothing answered at the server address.
    Unreachable,
    /// The server's certificate does not chain to the profile's CA.
    ServerNotTrusted,
    /// The server refused our client certificate in the handshake.
    ClientCertRejected,
    /// Our certificate is not in the registry.
    NotRegistered,
    /// Our registry entry is disabled.
    Disabled,
    /// Our certificate expired.
    CertExpired,
    /// Our certificate is not valid yet.
    CertNotYetValid,
    /// The server's API is older than we support.
    ServerTooOld,
    /// The server's API is newer than we know.
    ServerTooNew,
    /// No such profile.
    ProfileNotFound,
    /// The profile (or its files) is unusable.
    ProfileInvalid,
    /// The OS keyring is unavailable.
    SecretStore,
    /// A local file could not be read or written.
    Io,
    /// The audit trail failed verification (the alarm).
    AuditAlarm,
    /// The local audit cache could not be read or written.
    AuditCache,
    /// An audit request cannot be carried out as asked (bad input, nothing synced yet).
    AuditQuery,
    /// A device refused the PIN; `triesLeft` says how many tries remain, where it counts.
    DevicePinIncorrect,
    /// A device's PIN is blocked.
    DevicePinBlocked,
    /// The device was removed (or reset) while in use.
    DeviceGone,
    /// No such device, no PC/SC service, or a PKCS#11 module missing.
    DeviceNotFound,
    /// The device or policy refuses what was asked (an algorithm, a software key in production).
    DeviceRefused,
    /// The profile's key is on a device: connect again with its PIN.
    DevicePinRequired,
    /// A YubiKey key that signs only after a touch was not touched in time.
    DeviceTouchTimeout,
    /// Any other device failure.
    Device,
    /// The server refused the request (a rule, a role, a state): the message says why.
    Refused,
    /// What the officer would sign does not match what the server shows, the ledger holds, or
    /// the documents say: nothing is signed.
    DoNotSign,
    /// The mirror node pinned in the profile could not be read: nothing is signed.
    MirrorUnreachable,
    /// The profile pins no mirror node, so what is signed cannot be checked against the ledger.
    MirrorNotPinned,
    /// Signing needs a fresh review of the proposal.
    ReviewRequired,
    /// Anything else.
    Internal,
}

/// The error every command returns: what happened, and what to do next.
#[derive(Debug, Clone, Serialize, specta::Type, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct IpcError {
    /// Stable code the UI branches on.
    pub code: ErrorCode,
    /// What happened, for a person.
    pub message: String,
    /// What to do next.
    pub hint: String,
    /// Technical detail, shown collapsed.
    pub detail: Option<String>,
    /// SHA-256 fingerprint (colon hex) of a certificate the person should compare.
    pub fingerprint: Option<String>,
    /// Tries left before a device's PIN blocks, where the device counts them.
    pub tries_left: Option<u8>,
}

impl IpcError {
    pub(crate) fn new(
        code: ErrorCode,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.into(),
            detail: None,
            fingerprint: None,
            tries_left: None,
        }
    }
}

impl From<ProfileError> for IpcError {
    fn from(e: ProfileError) -> Self {
        let (code, hint) = match &e {
            ProfileError::NotFound(_) => (
                ErrorCode::ProfileNotFound,
                "Choose another profile or add this one.",
            ),
            ProfileError::Duplicate(_) | ProfileError::Invalid(_) => (
                ErrorCode::ProfileInvalid,
                "Correct the profile and try again.",
            ),
            ProfileError::Corrupt { .. } => (
                ErrorCode::ProfileInvalid,
                "Move the damaged profiles file aside, then add your profiles again.",
            ),
            ProfileError::Secret(_) => (
                ErrorCode::SecretStore,
                "Unlock your desktop keyring (or log in to a desktop session) and try again.",
            ),
            ProfileError::Io { .. } => (
                ErrorCode::Io,
                "Check the file exists and that you may read and write it.",
            ),
            _ => (
                ErrorCode::Internal,
                "Try again; if it keeps happening, report it.",
            ),
        };
        IpcError::new(code, e.to_string(), hint)
    }
}

impl From<identity::Error> for IpcError {
    fn from(e: identity::Error) -> Self {
        IpcError::new(
            ErrorCode::ProfileInvalid,
            e.to_string(),
            "Check the profile's certificate and key files (and the key's passphrase).",
        )
    }
}

impl From<ConnectionError> for IpcError {
    fn from(e: ConnectionError) -> Self {
        let code = match &e {
            ConnectionError::Unreachable { .. } => ErrorCode::Unreachable,
            ConnectionError::ServerNotTrusted { .. } => ErrorCode::ServerNotTrusted,
            ConnectionError::ClientCertRejected { .. } => ErrorCode::ClientCertRejected,
            ConnectionError::NotRegistered { .. } => ErrorCode::NotRegistered,
            ConnectionError::Disabled { .. } => ErrorCode::Disabled,
            ConnectionError::CertificateExpired { .. } => ErrorCode::CertExpired,
            ConnectionError::CertificateNotYetValid { .. } => ErrorCode::CertNotYetValid,
            ConnectionError::ServerTooOld { .. } => ErrorCode::ServerTooOld,
            ConnectionError::ServerTooNew { .. } => ErrorCode::ServerTooNew,
            ConnectionError::CaCertificate { .. } | ConnectionError::NotHttps { .. } => {
                ErrorCode::ProfileInvalid
            }
            ConnectionError::ClientKeyUnavailable { .. } => ErrorCode::DeviceGone,
            ConnectionError::ClientKeyNotTouched { .. } => ErrorCode::DeviceTouchTimeout,
            ConnectionError::Refused { .. } => ErrorCode::Refused,
            _ => ErrorCode::Internal,
        };
        let fingerprint = match &e {
            ConnectionError::ServerNotTrusted { fingerprint, .. } => {
                fingerprint.map(|f| f.to_colon_hex())
            }
            ConnectionError::NotRegistered { fingerprint, .. } => Some(fingerprint.to_colon_hex()),
            _ => None,
        };
        let detail = match &e {
            ConnectionError::ServerNotTrusted { reason, .. } => Some(reason.clone()),
            ConnectionError::Unreachable { reason, .. } => Some(reason.clone()),
            ConnectionError::ClientCertRejected { reason } => Some(reason.clone()),
            ConnectionError::Protocol(text) => Some(text.clone()),
            _ => None,
        };
        IpcError {
            code,
            message: e.to_string(),
            hint: e.hint().to_owned(),
            detail,
            fingerprint,
            tries_left: None,
        }
    }
}

impl From<gatehouse_client::audit::Error> for IpcError {
    fn from(e: gatehouse_client::audit::Error) -> Self {
        use gatehouse_client::audit::Error as AuditError;
        match e {
            AuditError::Connection(e) => e.into(),
            e if e.is_alarm() => IpcError::new(
                ErrorCode::AuditAlarm,
                e.to_string(),
                "Do not rely on this audit trail; report it to your security team.",
            ),
            e @ AuditError::ExportFile { .. } => IpcError::new(
                ErrorCode::Io,
                e.to_string(),
                "Choose a new file name in a folder you can write to; exports never overwrite.",
            ),
            AuditError::Query(message) => IpcError::new(
                ErrorCode::AuditQuery,
                message,
                "Change the request and try again.",
            ),
            e => IpcError::new(
                ErrorCode::AuditCache,
                e.to_string(),
                "Check the disk has space and the cache file is writable; discarding the cache and syncing again rebuilds it.",
            ),
        }
    }
}

impl From<OpenError> for IpcError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Profile(e) => e.into(),
            OpenError::Identity(e) => e.into(),
            OpenError::Connection(e) => e.into(),
            OpenError::Device(e) => e.into(),
            // The device, as people call it, travels in `detail` so the PIN dialog can name it.
            OpenError::DeviceKey { ref device, .. } => {
                let mut error = IpcError::new(
                    ErrorCode::DevicePinRequired,
                    e.to_string(),
                    "Connect with this profile: the console asks for the device's PIN.",
                );
                error.detail = Some(device.clone());
                error
            }
            other => IpcError::new(
                ErrorCode::Internal,
                other.to_string(),
                "Try again; if it keeps happening, report it.",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_protocol::Fingerprint;

    use super::*;

    #[test]
    fn a_device_profile_opened_without_its_pin_asks_for_it_naming_the_device() {
        let ipc = IpcError::from(OpenError::DeviceKey {
            profile: "frank".into(),
            device: "YubiKey (PIV) serial 31000001".into(),
        });
        assert_eq!(ipc.code, ErrorCode::DevicePinRequired);
        assert_eq!(
            ipc.detail.as_deref(),
            Some("YubiKey (PIV) serial 31000001"),
            "the PIN dialog names the device from the detail"
        );
        assert!(ipc.message.contains("frank"), "{}", ipc.message);
    }

    #[test]
    fn every_connection_failure_reaches_the_ui_with_its_own_code_and_a_next_step() {
        let fp = Fingerprint::from_digest([0xab; 32]);
        let cases = [
            (
                ConnectionError::Unreachable {
                    url: "https://x".into(),
                    reason: "refused".into(),
                },
                ErrorCode::Unreachable,
            ),
            (
                ConnectionError::ServerNotTrusted {
                    fingerprint: Some(fp),
                    reason: "unknown issuer".into(),
                },
                ErrorCode::ServerNotTrusted,
            ),
            (
                ConnectionError::ClientCertRejected {
                    reason: "alert".into(),
                },
                ErrorCode::ClientCertRejected,
            ),
            (
                ConnectionError::NotRegistered {
                    message: "not registered".into(),
                    fingerprint: fp,
                },
                ErrorCode::NotRegistered,
            ),
            (
                ConnectionError::Disabled {
                    message: "disabled".into(),
                },
                ErrorCode::Disabled,
            ),
            (
                ConnectionError::CertificateExpired {
                    not_after: chrono::Utc::now(),
                },
                ErrorCode::CertExpired,
            ),
            (
                ConnectionError::CertificateNotYetValid {
                    not_before: chrono::Utc::now(),
                },
                ErrorCode::CertNotYetValid,
            ),
            (
                ConnectionError::ServerTooOld { server: 0, min: 1 },
                ErrorCode::ServerTooOld,
            ),
            (
                ConnectionError::ServerTooNew { server: 9, max: 1 },
                ErrorCode::ServerTooNew,
            ),
            (
                ConnectionError::ClientKeyUnavailable {
                    reason: "the client key could not sign: removed".into(),
                },
                ErrorCode::DeviceGone,
            ),
            (
                ConnectionError::NotHttps {
                    url: "http://x".into(),
                },
                ErrorCode::ProfileInvalid,
            ),
            (
                ConnectionError::ClientKeyNotTouched {
                    reason: "the client key was not touched: not touched in time".into(),
                },
                ErrorCode::DeviceTouchTimeout,
            ),
        ];
        let mut seen = std::collections::HashSet::new();
        for (error, code) in cases {
            let ipc = IpcError::from(error);
            assert_eq!(ipc.code, code, "{} maps to {code:?}", ipc.message);
            assert!(
                !ipc.hint.is_empty(),
                "{code:?} tells the person what to do next"
            );
            assert!(
                seen.insert(code),
                "{code:?} is not shared with another failure"
            );
        }
    }

    #[test]
    fn fingerprints_travel_in_their_own_field_in_colon_form() {
        let fp = Fingerprint::from_digest([0x0f; 32]);
        let untrusted = IpcError::from(ConnectionError::ServerNotTrusted {
            fingerprint: Some(fp),
            reason: "r".into(),
        });
        assert_eq!(
            untrusted.fingerprint.as_deref(),
            Some(fp.to_colon_hex().as_str()),
            "server fingerprint shown for comparison"
        );
        assert_eq!(
            untrusted.detail.as_deref(),
            Some("r"),
            "the technical reason goes to detail"
        );
        let unregistered = IpcError::from(ConnectionError::NotRegistered {
            message: "m".into(),
            fingerprint: fp,
        });
        assert!(
            unregistered.fingerprint.is_some(),
            "our own fingerprint is shown to send to an admin"
        );
    }

    #[test]
    fn profile_problems_are_told_apart_from_connection_problems() {
        assert_eq!(
            IpcError::from(ProfileError::NotFound("x".into())).code,
            ErrorCode::ProfileNotFound
        );
        assert_eq!(
            IpcError::from(ProfileError::Invalid("bad".into())).code,
            ErrorCode::ProfileInvalid
        );
        let keyring = ProfileError::Secret(gatehouse_client::secret::Error::Unavailable(
            "no bus".into(),
        ));
        assert_eq!(
            IpcError::from(keyring).code,
            ErrorCode::SecretStore,
            "a locked keyring has its own screen"
        );
    }
}
